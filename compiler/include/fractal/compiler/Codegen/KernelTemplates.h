// Kernel generators: one function per kernel family, turning the shapes and attributes of one graph
// op into Fractal assembly (docs/isa.md) sized for the chip config's buffers. The text goes through
// the isa/ assembler, so every kernel in a package can be read, disassembled and re-assembled, and
// carries `.node` notes mapping its instructions to ONNX nodes.
//
// No MLIR here: the generators are plain C++ over shapes, so they can be unit-tested and reused.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/package/WeightLayouts.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fractal::codegen {

// An element-wise vector kernel over n elements streamed through UB in chunks, split across
// blockDim cores chunk by chunk. Inputs and output are contiguous (ND) in GM and padded by the
// memory plan to whole 256-byte repeats, so the kernel computes whole repeats only.
struct ElementwiseKernel {
  std::string name;                 // kernel name (diagnostics, symbols)
  std::string node;                 // ONNX node(s) for the debug map
  int numInputs = 1;                // 1 to 3 GM inputs; argument order: inputs..., output
  int64_t elements = 0;
  int inBytes = 4, outBytes = 4;    // element sizes (differ for conversions)
  std::vector<int> inputBytes;      // per input when they differ (a boolean condition beside floats)
  // Elements per {rep}: 0 for one vector repeat of the widest element (256 bytes). Kernels that
  // mix widths (f32 compares into f16/s8 booleans) use 128, with {rep2} = 2 x {rep} for the
  // 4-byte instructions.
  int64_t repeatElements = 0;
  // UB scratch buffers per chunk, beside the inputs and the output: placeholder ("{mask}") and
  // bytes per {rep}.
  std::vector<std::pair<std::string, int64_t>> scratch;
  std::vector<float> scalars;       // constants, available to the body as {s0}, {s1}, ...
  bool halfScalars = false;         // pass the scalars as fp16 bits (for .f16 instructions)
  // Vector instructions applied to each chunk; placeholders: {in0} {in1} {in2} {out} and the
  // scratch buffers (UB operands), {rep} / {rep2} (repeats in this chunk), {s0}.. (scalar
  // registers). Run in order on the V pipe.
  std::vector<std::string> body;
  // Vector instructions run once before the loop (e.g. vdup of a broadcast scalar into {c0}; {c0}
  // to {c3} are one-repeat UB buffers for such constants, apart from the chunk buffers).
  std::vector<std::string> prologue;
};

// A generated kernel: its assembly and how many blocks to launch it with; for kernels lowered
// through the npu dialect, also that IR (after memory planning and sync injection).
struct GeneratedKernel {
  std::string assembly;
  int blockDim = 1;
  // The kernel's npu dialect IR (after memory planning and sync injection), printed on demand
  // (--compile-to=npu): empty for kernels generated directly as assembly.
  std::function<std::string()> printNpu{};
  std::string npu() const { return printNpu ? printNpu() : std::string(); }
};

// Returns the assembly, or an error when the op cannot be laid out in the config's UB. The kernel
// is launched on min(cores, chunks) blocks. Lowered through the npu dialect (NpuElementwise.cpp):
// its flags come from fractal-npu-inject-sync, its buffers from fractal-npu-plan-memory.
Expected<GeneratedKernel> generateElementwise(const ChipConfig &config, const ElementwiseKernel &k);

// Elements covered by one vector repeat for a kernel with these element sizes.
int64_t elementsPerRepeat(int inBytes, int outBytes);

// C[M,N] (f32 or f16, ND) = alpha * op(A)[M,K] x op(B)[K,N] + bias[N] (f32, optional), then ReLU
// when relu; A and B are f16 in GM. op(A) = A ([M,K] row-major) or, with transA, A stored as
// [K,M]; op(B) = B ([K,N]) or, with transB, B stored as [N,K]. `batch` independent products, the
// operands `stride*` elements apart (stride 0: shared by every product). Work items (product, M
// tile, and a chunk of N tiles when there are fewer (product, M tile) pairs than cores) are split
// across min(cores, items) blocks; each item runs its N tiles and K steps with the tile in L0C
// accumulating over K, and leaves through FixPipe. The A panel of the next item is prefetched.
struct MatMulKernel {
  std::string name, node;
  int64_t m = 0, k = 0, n = 0;
  bool transA = false, transB = false;
  int64_t batch = 1, strideA = 0, strideB = 0, strideC = 0;
  int64_t ldc = 0;      // C's row stride in elements (0: n)
  bool hasBias = false; // argument order: A, B, [bias], C
  float alpha = 1.0f;
  bool relu = false;
  bool outHalf = false; // C as f16 instead of f32
  // A or B stored as float32 in GM: its loads convert to f16 on the way into L1 (`gm2l1_nz
  // from_f32=1`, round to nearest even like the vector unit's vconv), so no Cast kernel runs first.
  bool aF32 = false, bF32 = false;
  // Output row phases (a transposed convolution's, kernel == stride): the n columns are `phases`
  // groups of n / phases (a multiple of 16); group g's first phaseCols columns go to
  // C + g * phaseOffset (elements) + column - g * n / phases, its other columns nowhere.
  int64_t phases = 1, phaseCols = 0, phaseOffset = 0;
};

Expected<GeneratedKernel> generateMatMul(const ChipConfig &config, const MatMulKernel &k);

// A convolution (groups = 1) on the cube through img2col (load3d). Input and output are NHWC16:
// NHWC f16 with channels padded to a multiple of 16 (cip, cop), so one pixel's 16-channel slice is
// one 32-byte block and a DMA with a gap gathers an NC1HWC0 slice into L1. The output is cut into
// bands of output rows; each band loads its input rows (halo included, padding via the feature-map
// register), and accumulates every K step in L0C before FixPipe writes f16 NHWC16 rows. Items are
// (image, band), and chunks of N tiles when there are fewer of those than cores.
// Arguments: input, packed weights (packConvWeights), bias (f32, cop values), [residual], output.
struct ConvKernel {
  std::string name, node;
  int64_t n = 1, h = 0, w = 0, cip = 0, cop = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t ho = 0, wo = 0;
  bool relu = false;
  // One filter per channel (groups == channels): N tiles of 16 channels, each reading only its
  // own 16 input channels, so the cube multiplies 16x fewer zeros than a dense block-diagonal
  // kernel of all channels would.
  bool depthwise = false;
  // A residual (skip connection) added before the ReLU: an NHWC16 f16 tensor of the output's
  // shape, added by the cube as one more K step per N tile (the residual's channels times an
  // identity from the kernel's data section). Arguments then: input, weights, bias, residual,
  // output.
  bool residual = false;
  int64_t residualChannels = 0; // the residual's NHWC16 channels (a multiple of 16, <= cop; 0 = cop):
                                // channels beyond them read as zero
  // The output as NHWC f32 instead of NHWC16 f16 (FixPipe converts): the NHWC tensor a model
  // hands out, with `outChannels` channels per pixel (0: cop): cop itself, or fewer than 16 (one
  // N tile, of which FixPipe writes only those).
  // The input as NHWC f16 with only its `inputChannels` (< 16, cip = 16) channels per pixel, as a
  // model's NHWC image arrives: each band's load pads them to 16 on the way into L1 (gm2l1_nz,
  // ND -> NZ), so no layout kernel pads the whole image first. 0: NHWC16.
  int64_t inputChannels = 0;
  // That input as the model hands it in: f32 (the band's load converts it to f16, `from_f32=1`),
  // and NCHW planes rather than NHWC pixels (the load gathers the band's rows from each channel's
  // plane, `planar=1`; an NCHW image needs no layout kernel first). AIPP does both on Ascend.
  bool inputF32 = false, inputPlanar = false;
  // The planes of a planar input are at most this many elements apart (gm2l1_nz's src_stride).
  static constexpr int64_t kMaxPlaneStride = 16777215;
  // With inputChannels <= 4: the small-channel (C04) form. The band's load writes 4 channels a
  // pixel into L1 (gm2l1_nz c04=1) and img2col (load3d_c04) packs K as taps x 4, padded to 16,
  // instead of taps x 16 with 12 or more zeros each: a fourth of the L0A traffic and cube steps
  // (Ascend's C04 format, ATC's --enable_small_channel).
  bool c04 = false;
  bool outF32 = false;
  int64_t outChannels = 0;
  // A second NHWC f32 output: output channels [secondFrom, secondFrom + secondChannels) (secondFrom
  // a multiple of 16, 0 = none) go there instead, the first output keeping those below
  // secondFrom. Two detection heads on the same input run as one convolution (one N tile). The
  // second output is the last argument.
  int64_t secondFrom = 0, secondChannels = 0;
  // Also the output's 2x2 stride-2 max pooling (NHWC16 f16, the last argument): each output tile
  // passes through UB, where the vector unit pools whole pairs of rows (BlazeFace's MaxPool after
  // a block, which then never reads the block's output back from GM).
  bool maxPool2x2 = false;
  // Element-wise ops applied to each output tile on its way out (NHWC16 f16 only): FixPipe writes
  // the tile into UB, the vector unit runs the body ({in0} and {in1} are the tile), MTE3 stores
  // {out}. The fused element-wise chain after a convolution (PP-OCRv4's hardswish and affine),
  // which then never makes a trip through GM of its own.
  std::optional<ElementwiseKernel> epilogue;
  // A depthwise convolution whose output is this convolution's input (this one then 1x1, stride
  // 1, no pads), run band by band in the same kernel: its tiles go from L0C into L1 through
  // FixPipe, where this convolution's img2col reads them, so its feature map never goes through
  // GM and the pair is one kernel launch (BlazeFace's depthwise + pointwise blocks). Same bits as
  // the two kernels. Arguments then: the depthwise's input, weights and bias, then this one's
  // weights, bias, [residual], output.
  std::shared_ptr<const ConvKernel> depthwiseFirst;
};

// How a convolution is cut to the buffers (chosen from the config).
struct ConvTiling {
  int64_t nt = 0;   // output channels per N tile
  int64_t kc1 = 0;  // input-channel slices (16 channels) per K step
  int64_t mt = 0;   // pixels per mmad (multiple of 16); the kernel may take fewer (L0C)
  // M tiles in L0A at once: 2 (img2col of the next while the cube reads this one), or 1 when 16
  // pixels of a K step need more than half of L0A (a 5x5 depthwise's 400-deep K step at a 16 KiB
  // L0A): img2col then waits for the cube, but the convolution still has a kernel.
  int64_t l0aTiles = 2;
  // Items whose input bands are in L1 at once: 2 (one loads while the other computes), or 1 when
  // two bands of one output row do not fit (PP-OCRv4 det's 3x3 convolutions on 320-pixel rows at
  // a 64 KiB L1): each item's loads then wait for the previous item's compute.
  int64_t itemSets = 2;
};

// The tiling from the config's buffers: N tiles and K steps that fit L0A, L0B and L0C, narrowed
// further (fewer input slices per K step, then fewer channels per N tile, then one item set) when
// a band of one output row would not fit L1 with them.
Expected<ConvTiling> planConv(const ChipConfig &config, const ConvKernel &k);

// How a convolution's bands hold their input in L1 (NpuConv.cpp's layout): `resident` weights
// stay in L1 for the whole kernel (else a K step's are staged, two at once); a band holds
// `bandSlices` 16-channel input slices: every slice (`allSlices`) when that fits with a one-row
// band, so each is loaded once per band; else a K step's.
struct ConvL1Use {
  bool resident = false;
  int64_t bandSlices = 0;
  bool allSlices = false;
};
ConvL1Use convL1Use(const ChipConfig &config, const ConvKernel &k, const ConvTiling &t);
// L1 bytes for bands of `rows` output rows: the weights, a band of input per item set (and of the
// residual, of a depthwise convolution run first), the bias and the residual's identities.
int64_t convL1Bytes(const ConvKernel &k, const ConvTiling &t, int64_t rows, const ConvL1Use &use);
// Input rows a band of `rows` output rows reads (its halo included, padding not excluded).
int64_t convInputRows(const ConvKernel &k, int64_t rows);
// K of a small-channel (C04) convolution: its taps x 4 channels, in whole 16-element fractals.
int64_t convC04Depth(const ConvKernel &k);

// The weights (f32 [cout][cin][kh][kw]) as the kernel reads them: for each N tile, for each K step,
// a ZN block of (kc1 * kh * kw * 16) x (tile channels) f16 values; missing channels are zero.
std::vector<uint16_t> packConvWeights(const ConvKernel &k, const ConvTiling &t, const std::vector<float> &w,
                                      int64_t cout, int64_t cin);
// The same layout as numbers, for a host-side packing task when the weights arrive at run time.
pkg::ConvWeightLayout convWeightLayout(const ConvKernel &k, const ConvTiling &t, int64_t cout, int64_t cin);

Expected<GeneratedKernel> generateConv(const ChipConfig &config, const ConvKernel &k);

// ---- NHWC16 feature-map kernels (NpuFeatureMapKernels.cpp, through the npu dialect) ----

// Channel concatenation of NHWC16 tensors by DMA: each piece copies `blocks` 16-channel blocks
// per pixel from an input with `srcBlocks` blocks per pixel (arg >= 0) or writes zeros (arg < 0)
// into output blocks [dstBlock, dstBlock + blocks) of `outBlocks`. Arguments: the inputs, output.
struct ChannelConcatKernel {
  std::string name, node;
  int64_t pixels = 0, outBlocks = 0;
  int numInputs = 0;
  struct Piece {
    int arg;
    int64_t srcBlocks, blocks, dstBlock;
  };
  std::vector<Piece> pieces;
};
Expected<GeneratedKernel> generateChannelConcat(const ChipConfig &config, const ChannelConcatKernel &k);

// Max or average pooling over NHWC16 f16, one output row per work item: the window's input rows
// go to UB (padding filled with -inf or 0), then one vector op per tap and channel block with
// strided addressing; through the npu dialect, two buffer sets overlap consecutive rows.
// Arguments: input, output.
struct PoolKernel {
  std::string name, node;
  int64_t n = 1, h = 0, w = 0, cp = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t ho = 0, wo = 0;
  bool max = true; // else average over kh * kw (padding counted)
};
Expected<GeneratedKernel> generatePool(const ChipConfig &config, const PoolKernel &k);

// Global average pooling of NHWC16 f16 to [n, 1, 1, cp] f16, summing in f32: work items are
// (image, group of channels), so one image's channels spread over the cores; chunks of pixels
// are converted to f32 and halved pairwise (a tree) into the item's accumulator. Arguments:
// input, output.
struct GlobalAvgPoolKernel {
  std::string name, node;
  int64_t n = 1, pixels = 0, cp = 0;
};
Expected<GeneratedKernel> generateGlobalAvgPool(const ChipConfig &config, const GlobalAvgPoolKernel &k);

// Per-channel operations on NHWC16 f16: out = x op1 v1 op2 v2 ..., each v a [cp] f16 vector
// broadcast over the pixels (one per image when perImage, else shared). `vectorFirst` puts the
// vector on the left (for sub/div). Arguments: x, the vectors, output.
struct ChannelOpKernel {
  std::string name, node;
  int64_t n = 1, pixels = 0, cp = 0;
  struct Step {
    std::string instr; // "vadd.f16", "vmul.f16", ...
    bool perImage = false;
    bool vectorFirst = false;
  };
  std::vector<Step> steps;
  // The output's channels per pixel (0: cp) and where in them the result's cp channels go: a slot
  // of a wider tensor (a channel concatenation the operation writes its part of directly).
  int64_t outCp = 0, outOffset = 0;
};
Expected<GeneratedKernel> generateChannelOp(const ChipConfig &config, const ChannelOpKernel &k);

// Nearest-neighbour upsampling of NHWC16 by integer factors (asymmetric, floor): each input row
// goes to UB once and out by DMA fy x fx times with a pixel gap. Arguments: input, output.
struct ResizeNearestKernel {
  std::string name, node;
  int64_t n = 1, h = 0, w = 0, cp = 0, fy = 1, fx = 1;
  // The output's channels per pixel (0: cp) and where in them this one's cp channels go: a slot
  // of a wider tensor (a channel concatenation the upsampling writes its part of directly).
  int64_t outCp = 0, outOffset = 0;
};
Expected<GeneratedKernel> generateResizeNearest(const ChipConfig &config, const ResizeNearestKernel &k);

// x (* s) + nearest-upsampled y on NHWC16 (a feature pyramid's top-down path): y [n, h, w, cp]
// is upsampled by integer factors fy, fx (asymmetric, floor) on the way into UB, so the
// upsampled map never passes through GM; with `scaled`, x is first multiplied by a per-channel
// vector s (cp f16 values per image, or one for all images). Arguments: x [n, h*fy, w*fx, cp],
// [s], y, output (x's shape).
struct UpsampleAddKernel {
  std::string name, node;
  int64_t n = 1, h = 0, w = 0, cp = 0, fy = 1, fx = 1; // y's shape and the factors
  bool scaled = false, scalePerImage = false;
};
Expected<GeneratedKernel> generateUpsampleAdd(const ChipConfig &config, const UpsampleAddKernel &k);

// ---- reductions over an axis group of ND f32 tensors (ReduceKernels.cpp) ----

// A reduction or softmax over one contiguous group of axes: the input is viewed as
// [outer, r, inner] (ND f32) and reduced over r. Each of the `outer` slices goes to UB (r rows of
// `inner` values, each row padded to whole repeats), is combined by a pairwise tree of vector
// instructions (rows, then - when inner == 1 - the lanes of one repeat by vcadd/vcmax/vcmin), and
// leaves by DMA: [outer, inner] for reductions, [outer, r, inner] for softmax. Rows need not be
// 32-byte aligned in GM: a DMA writes whole 32-byte blocks, so each store spills up to 28 bytes of
// scratch past its row, which the next (ascending) store overwrites; the kernel therefore runs on
// one core, and the memory plan gives its input and output `kTailSlackBytes` beyond their end.
// Arguments: input, output. (Sums, means, maxima, minima and norms of rows, inner == 1, and the
// softmax of long rows go through the npu dialect instead, on every core: generateRowReduction and
// generateSoftmaxRows below.)
//
// LayerNorm (inner == 1): y = (x - mean) / sqrt(var + epsilon) * scale + bias per row of r values,
// scale and bias [r] f32 read once; the row's mean and 1/sqrt(var + epsilon) are written too when
// asked. Arguments: input, [scale], [bias], output, [mean], [inv_std_dev].
//
// ArgMax / ArgMin: the index of the first (or, with selectLast, the last) extreme value, as int64;
// Hardmax: 1.0 at that index of the first maximum, 0.0 elsewhere (the input's shape). Lane
// reductions compare against an index row (a constant [r] f32 0, 1, ... argument); row reductions
// keep a running best value and index per column. ArgMax/ArgMin write int32 indices to a scratch
// argument, then widen them to int64 with the scalar unit. Arguments: input, index row, output,
// [int32 scratch of outer * inner] (arg kinds).
struct ReduceKernel {
  enum class Kind { Sum, Mean, Max, Min, L1, L2, SumSquare, LogSum, LogSumExp, Softmax, LogSoftmax, LayerNorm,
                    ArgMax, ArgMin, Hardmax };
  std::string name, node;
  Kind kind = Kind::Sum;
  int64_t outer = 1, r = 1, inner = 1;
  // LayerNorm only.
  float epsilon = 1e-5f;
  bool hasScale = false, hasBias = false, meanOut = false, invStdOut = false;
  // ArgMax / ArgMin only.
  bool selectLast = false;
};
constexpr int64_t kTailSlackBytes = 32;
Expected<GeneratedKernel> generateReduce(const ChipConfig &config, const ReduceKernel &k);
// Sums, means, maxima, minima and norms of rows (inner == 1, rows of up to 1,984 values, 8 of
// them in each of two UB buffer sets) go through the npu dialect (NpuReduceRows.cpp): chunks of
// rows, double-buffered, over the cores. generateReduce hands them over itself.
bool reducesRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateRowReduction(const ChipConfig &config, const ReduceKernel &k);
// So do Softmax and LogSoftmax of rows of 256 values and more (a row per item, over the cores).
bool softmaxRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateSoftmaxRows(const ChipConfig &config, const ReduceKernel &k);
// And LayerNorm of rows of whole 32-byte blocks (chunks of rows over the cores).
bool layerNormRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateLayerNormRows(const ChipConfig &config, const ReduceKernel &k);
// And Softmax/LogSoftmax of short rows of whole blocks (under 256 values, a multiple of 8).
bool shortSoftmaxRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateShortSoftmaxRows(const ChipConfig &config, const ReduceKernel &k);
// And rows longer than those kernels hold in UB, read in pieces: sums, means, extremes, norms and
// log-sum-exps of rows of more than 1,984 values, or of 8 rows too wide for UB (8 rows per item),
// Softmax/LogSoftmax of rows of more than UB's ~16k values (a row per item, three passes).
bool reducesLongRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateLongRowReduction(const ChipConfig &config, const ReduceKernel &k);
bool softmaxLongRowsThroughNpu(const ChipConfig &config, const ReduceKernel &k);
Expected<GeneratedKernel> generateLongSoftmaxRows(const ChipConfig &config, const ReduceKernel &k);

// TopK along the last axis: the input viewed as [outer, r] (ND f32); for each row, the k largest
// (or smallest) values in sorted order and their indices, equal values keeping their order (the
// lower index first) and NaN counting as larger than any number, as the host kernel and numpy
// sort. The vector unit has no sort instruction, so the row stays in UB and k rounds select:
// the extreme key (NaN keys read as +inf), the candidate lanes equal to it (their index from a
// live-index row, +inf once taken, NaN lanes moved 2^23 ahead when largest or behind when
// smallest so they rank against +inf as NaN should), the smallest candidate, whose value and index
// are picked out by a one-lane mask and written to lane j of the output rows; the lane is then
// taken. Each round is a fixed sequence of vector instructions over the row (a scalar loop of k),
// so the time is k rounds of ~20 row passes: meant for the k of detection and search heads, not
// full sorts of long rows. Indices leave as int32 in a scratch argument and are widened to int64
// by the scalar unit. Stores spill as ReduceKernel's (one core). Arguments: input, index row (the
// constant 0, 1, ... of whole repeats), values, indices (int64), int32 scratch of outer * k.
struct TopKKernel {
  std::string name, node;
  int64_t outer = 1, r = 1, k = 1;
  bool largest = true;
};
Expected<GeneratedKernel> generateTopK(const ChipConfig &config, const TopKKernel &k);

// Numpy broadcasting by DMA, through the npu dialect (NpuExpand.cpp): out (ND f32, `shape`)
// receives, at every index, the source element at sum(index[d] * strides[d]) (strides in
// elements, 0 along broadcast axes). Work items are pieces of the output's contiguous runs, the
// source offset of each computed at run time; a piece of a contiguous source run is copied
// GM -> UB -> GM, a run that repeats one element is built in UB (the element picked by a
// one-lane vcmax, then read with stride 0); short runs of whole blocks go in chunks of runs per
// item, each run's source by its own DMA and the chunk stored at once. Items alternate between two UB buffer sets; when
// runs are not whole 32-byte blocks, stores spill up to 28 bytes (see ReduceKernel) and the
// items run in ascending order on one core. Arguments: source, output.
struct ExpandKernel {
  std::string name, node;
  std::vector<int64_t> shape, strides;
};
Expected<GeneratedKernel> generateExpand(const ChipConfig &config, const ExpandKernel &k);

// Data movement as a list of byte segments (Slice, Pad, Split, Trilu): the output [0, totalBytes)
// is tiled, in ascending order, by segments that either copy `bytes` from source offset `src` or
// fill them with `fillWord` (a 32-bit pattern repeated; src < 0). Each piece goes GM -> UB -> GM
// (fills from a UB buffer set once); stores spill up to 28 bytes past their end, which the next
// segment overwrites, so the segments must cover the output and the kernel runs on one core.
// Unrolled; more than kMaxSegmentPieces pieces is an error. Segments copy from source argument
// `source` (Concat has one per input). Arguments: the sources, output.
struct SegmentCopyKernel {
  std::string name, node;
  struct Segment {
    int64_t src = -1, dst = 0, bytes = 0;
    int source = 0;
  };
  std::vector<Segment> segments;
  int64_t totalBytes = 0;
  uint32_t fillWord = 0;
  int numSources = 1;
};
constexpr int64_t kMaxSegmentPieces = 2048;
Expected<GeneratedKernel> generateSegmentCopy(const ChipConfig &config, const SegmentCopyKernel &k);

// The gather of NegativeLogLikelihoodLoss on the scalar unit: for each of the m = n * d targets
// t = target[i] (int64; input is [n, c, d] f32), x[i] = input[i / d, t, i % d] and w[i] =
// weight[t] (1.0 without weights); both 0 when t == ignoreIndex, and x NaN when t is outside
// [0, c) (ONNX leaves it undefined; NaN keeps it visible). The vector unit then forms
// -x * w and the reductions. Arguments: input, target, [weight], x, w.
struct NllGatherKernel {
  std::string name, node;
  int64_t n = 1, c = 1, d = 1;
  bool hasWeight = false, hasIgnore = false;
  int64_t ignoreIndex = -100;
};
Expected<GeneratedKernel> generateNllGather(const ChipConfig &config, const NllGatherKernel &k);

// Gather with run-time indices, addresses computed by the scalar unit (LossKernels.cpp).
// Gather: data viewed as [outer, axisDim, inner]; for each outer slice and each of the `count`
// indices (int64 or int32; negative counts from the end) the row of `inner` elements moves by DMA
// (rows in ascending order, one core). GatherElements (`elements`): for each of the `count` output
// elements, its index replaces the axis coordinate of its own position (`shape` = the indices'
// shape, `dataShape`, `axis`), and the element moves by scalar loads and stores. An index outside
// [-axisDim, axisDim) stops the kernel with a GM access fault at address 0 (ONNX: an error).
// Arguments: data, indices, output.
struct GatherKernel {
  std::string name, node;
  bool elements = false;
  int64_t outer = 1, axisDim = 1, inner = 1, count = 1;
  std::vector<int64_t> shape, dataShape; // GatherElements
  int64_t axis = 0;                       // GatherElements
  int elementBytes = 4, indexBytes = 8;
};
Expected<GeneratedKernel> generateGather(const ChipConfig &config, const GatherKernel &k);

// A permutation element by element on the scalar unit, one block: a loop per result axis, the
// source address stepping by that axis's input stride (for permutations of more separate runs
// than the DMA segment kernel unrolls). 4- or 8-byte elements, rank 1 to 6.
struct ScalarPermuteKernel {
  std::string name, node;
  std::vector<int64_t> inShape, perm;
  int elementBytes = 4;
};
Expected<GeneratedKernel> generateScalarPermute(const ScalarPermuteKernel &k);

// A float32 [batch, rows, cols] -> [batch, cols, rows] transpose on the vector unit (through the npu dialect):
// tiles of rows x (up to 248) columns loaded into UB; each result row is one `vcgmax` that takes,
// under a mask enabling one lane per 32-byte block, one element from each of 8 rows per repeat
// (the block stride stepping a row): max with the disabled lanes' -inf is the element itself,
// -0 and infinities included. Rows need one tile (rows <= 2040 and the tile fits UB) unless they
// are whole 32-byte blocks. Result rows that are not whole blocks are stored in ascending order
// on one core, each spilling up to 28 bytes past its end (overwritten by the next; the plan's tail
// slack after the last); whole-block ones leave in one strided DMA a tile, tiles over the cores.
struct VectorTransposeKernel {
  std::string name, node;
  int64_t batch = 1, rows = 0, cols = 0;
};
Expected<GeneratedKernel> generateVectorTranspose(const ChipConfig &config, const VectorTransposeKernel &k);

// An integer element-wise op element by element on the scalar unit, one block (the vector unit's
// integer lanes are int32 only): `kind` is add, sub, mul, div (truncating), max, min, mod (floor,
// the divisor's sign), fmod (the dividend's), a comparison eq, lt, le, gt, ge (booleans out),
// where (a boolean condition, then the two values), shl, shr (logical), cast (the value in the
// result's width: wrapping, as C casts integers), nonzero (a cast to booleans), to_f32 (an integer
// to the float32 bits of its nearest-even value) or from_f32 (float32 bits in, as a 4-byte unsigned
// input, toward zero into the result's integer type, saturating; NaN gives 0), pow (wrapping
// products by squaring; a negative exponent truncates the fraction, as C's pow cast back), or
// between float64 and float32 by their bits (8- and 4-byte unsigned elements): f64_to_f32
// (rounded to nearest even, to a subnormal or an infinity where the value needs; NaN stays a
// quiet NaN) and f32_to_f64 (exact). Each input is
// read at its element strides per result axis (0 along a broadcast axis:
// graph::broadcastStrides), in its own width and signedness, into a 64-bit register; the result
// is stored in its width (wrapping). `isUnsigned`: div, mod, max, min and the comparisons treat
// the values as unsigned (a uint64 above 2^63 too). Up to 2^20 result elements.
struct IntegerElement {
  int bytes = 8;        // 1 (booleans too), 2, 4 or 8
  bool isSigned = true; // sign- or zero-extended into the 64-bit register
};
struct ScalarElementwiseKernel {
  std::string name, node, kind;
  std::vector<int64_t> shape;
  std::vector<std::vector<int64_t>> inputStrides; // per input, one per result axis
  std::vector<IntegerElement> inputs;
  IntegerElement out;
  bool isUnsigned = false;
};
Expected<GeneratedKernel> generateScalarElementwise(const ScalarElementwiseKernel &k);

// Data-dependent compaction on the scalar unit, one block, in two passes: the first counts what
// is selected and writes the count (an int64) to the extent tensor, the second stores the
// selection in the layout of the result's bound (package Tensor::dynamicAxis: slices past the
// extent are left out; the runtime copies an output's actual shape out). With `fillRemainder`
// (ops read the result over its bound) those slices are zeroed, so that they are valid indices.
// - NonZero (`nonZero`): arguments input, result, extent. The result is int64 [rank, bound]
//   holding the coordinates of the input's non-zero elements in row-major order. `floatBits`
//   (16, 32, 64) compares a float's magnitude bits (-0 is zero, NaN is not); 0 for integers and
//   booleans.
// - Compress: arguments input, condition (booleans), result, extent. Of each of `outer` blocks
//   [axisDim, inner], the slices i < `bound` whose condition is true, in order; `bound` =
//   min(condition length, axisDim).
// Elements of 1, 2, 4 or 8 bytes, up to 2^24 of them.
struct CompactionKernel {
  std::string name, node;
  bool nonZero = false;
  std::vector<int64_t> shape; // NonZero: the input's
  int floatBits = 0;          // NonZero
  int64_t outer = 1, axisDim = 1, inner = 1, bound = 1; // Compress
  int elementBytes = 4;
  bool fillRemainder = false;
};
Expected<GeneratedKernel> generateCompaction(const CompactionKernel &k);

// Unique on the scalar unit, one block: `slices` slices of `outer` x `inner` elements (slice k's
// element (o, i) at (o * slices + k) * inner + i), compared element by element in (o, i) order;
// float32 by value (-0 equals +0; the bits ordered as the values are), integers signed or
// zero-extended. Arguments: input, unique slices, indices, inverse_indices, counts, the extent
// (the unique count, int64), and two int64 [slices] scratch tensors (each slice's first equal
// slice; each first one's rank). O(slices^2) comparisons: up to 2^12 slices of up to 2^20 elements.
// The results are in their bounds' layout (`slices` unique slots); `fillRemainder` zeroes the
// slots past the unique count.
struct UniqueKernel {
  std::string name, node;
  int64_t outer = 1, slices = 1, inner = 1;
  bool sorted = true, isFloat = false, isSigned = true;
  int elementBytes = 4;
  bool fillRemainder = false;
};
Expected<GeneratedKernel> generateUnique(const UniqueKernel &k);

// NonMaxSuppression's greedy selection (graph.nms_select) on the scalar unit, one block: per batch
// and class, the candidates (score above the threshold, if any; never NaN) taken by descending
// score (float32 bits ordered as the values; the lower index first among equal ones), each
// selected unless suppress[batch][selected][it] for a box already selected in its class, until
// `maxPerClass` are (and no more than a run-time limit says, when `runtimeLimit`). Arguments:
// scores [batches, classes, boxes] float32, suppress [batches, boxes, boxes] booleans, the
// run-time limit (one int64) if any, the run-time score threshold (one float32) if any, the
// selected rows int64 [bound, 3], the extent (their count), two int64 [boxes] scratch tensors.
// Up to 4096 boxes and 2^26 box visits. `fillRemainder` zeroes the rows past the count, up to `bound`.
struct NmsSelectKernel {
  std::string name, node;
  int64_t batches = 1, classes = 1, boxes = 1, maxPerClass = 0;
  bool fillRemainder = false;
  int64_t bound = 0; // the result's rows
  bool hasScoreThreshold = false;
  float scoreThreshold = 0.0f;
  bool runtimeLimit = false, runtimeScoreThreshold = false;
};
Expected<GeneratedKernel> generateNmsSelect(const NmsSelectKernel &k);

// ScatterElements / ScatterND (reduction none) with run-time indices, one block: the data copied
// to the result through UB by DMA, `barrier all`, then the scalar unit stores each update
// (ScatterND: each tuple's slice, element by element) where its index says. GatherND (`gatherNd`)
// copies the slices its tuples name, after `batchDims` batch axes, into the result in order.
struct ScatterKernel {
  std::string name, node;
  bool nd = false, gatherNd = false;
  int64_t batchDims = 0; // GatherND
  std::vector<int64_t> dataShape, indicesShape;
  int64_t axis = 0; // ScatterElements
  int elementBytes = 4, indexBytes = 8;
  bool floats = false; // float32 data (else integers)
  // none: updates overwrite; add, mul, max, min: each update combined with the value at its
  // position, in the updates' order. Integers on the scalar unit (its ALU ops, 64-bit); float32
  // on the vector unit, the data held in UB, one masked scalar-variant op (vadds, vmuls, vmaxs,
  // vmins) per update element, since the scalar unit has no float arithmetic.
  std::string reduction = "none";
};
Expected<GeneratedKernel> generateScatter(const ChipConfig &config, const ScatterKernel &k);

} // namespace fractal::codegen
