// NHWC16 feature-map kernels lowered through the npu dialect (NpuBuilder.h): each work item's
// data passes through one of two UB buffer sets, so that sync injection overlaps one item's
// loads with the previous item's compute and stores.
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <functional>
#include <limits>

namespace fractal::codegen {

using emit::roundUp;

namespace {

// An f16 constant for vector instructions.
mlir::Value halfConstant(NpuKernelBuilder &kb, float value) {
  mlir::OpBuilder &b = kb.builder();
  const llvm::APFloat bits(llvm::APFloat::IEEEhalf(), llvm::APInt(16, isa::floatToHalf(value)));
  return b.create<mlir::arith::ConstantOp>(kb.loc(), kb.f16(), b.getFloatAttr(kb.f16(), bits));
}

// Fills `elements` f16 elements of `buffer` from `offset` with `value` (vdup, 255 repeats at most).
void fill(NpuKernelBuilder &kb, mlir::Value buffer, int64_t offset, int64_t elements, mlir::Value value) {
  for (int64_t off = 0; off < elements; off += 255 * 128)
    kb.vector("vdup.f16", {kb.from(buffer, offset + off), value}, std::min<int64_t>(255, emit::ceilDiv(elements - off, 128)), {});
}

// `instr` between NHWC16 pixels (cb 16-channel blocks each) and a per-channel vector, over
// `groups` groups of 8 pixels: dst = x op vec (vec op x when vectorFirst), from element `offset`
// of dst and x, one strided instruction per channel block (a repeat: 8 pixels of one block), the
// vector's block read at stride 0 (from element `vecOffset` of vec).
void perChannel(NpuKernelBuilder &kb, const std::string &instr, mlir::Value dst, mlir::Value x, mlir::Value vec,
                int64_t offset, int64_t groups, int64_t cb, bool vectorFirst = false, int64_t vecOffset = 0) {
  const std::string xs = vectorFirst ? "src1" : "src0", vs = vectorFirst ? "src0" : "src1";
  for (int64_t blk = 0; blk < cb; ++blk)
    for (int64_t g = 0; g < groups; g += 255) {
      const int64_t at = offset + (g * 8 * cb + blk) * 16;
      mlir::Value d = kb.from(dst, at), src = kb.from(x, at), v = kb.from(vec, vecOffset + blk * 16);
      kb.vector(instr, vectorFirst ? std::vector<mlir::Value>{d, v, src} : std::vector<mlir::Value>{d, src, v},
                std::min<int64_t>(255, groups - g),
                {{"dst_blk", cb}, {"dst_rep", 8 * cb}, {xs + "_blk", cb}, {xs + "_rep", 8 * cb}, {vs + "_blk", 0}, {vs + "_rep", 0}});
    }
}

} // namespace

// The fewest equal groups of a pixel's `blocks` channel blocks whose size `fits` (one group when
// all fit; `blocks` groups of one block when no larger group does).
static int64_t fewestEqualGroups(int64_t blocks, const std::function<bool(int64_t groupBlocks)> &fits) {
  int64_t groups = 1;
  while (groups < blocks && (blocks % groups != 0 || !fits(blocks / groups))) ++groups;
  return groups;
}

// Max or average pooling, one output row per item: the window's input rows (padding filled with
// -inf or 0, rows outside the map skipped) into the item's UB rows buffer, one vector op per tap
// and channel block with strided addressing into its output row buffer, then one store. When a
// row of all channels does not fit UB (PP-OCRv4 rec: 3 rows x 80 pixels x 480 channels), the
// channels split into the fewest equal groups of blocks that fit, a group per item, its pixels'
// blocks gathered and scattered by strided DMA. When not even one block's row fits (a long 1-D
// signal: 22,000 samples pooled 200 wide), the row splits into chunks of output columns too, an
// item each; a chunk's window is the input columns its outputs read.
Expected<GeneratedKernel> generatePool(const ChipConfig &config, const PoolKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  const int64_t blocks = k.cp / 16;                   // blocks per pixel in GM
  const int64_t wo8 = roundUp(k.wo, 8);               // whole repeats of 8 pixels
  const int64_t wp = std::max(k.w + k.pl + k.pr, (wo8 - 1) * k.sw + k.kw); // padded row, with overrun
  // The window buffer in whole vector repeats, so that the padding fill (vdup) stays inside it.
  auto bytesFor = [&](int64_t groupBlocks, int64_t rowPixels, int64_t outPixels) {
    return (roundUp(k.kh * rowPixels * groupBlocks * 16, 128) + outPixels * groupBlocks * 16) * 2;
  };
  const int64_t groups = fewestEqualGroups(blocks, [&](int64_t gb) { return bytesFor(gb, wp, wo8) <= ub; });
  // Output columns per item (whole repeats of 8) and the window's pixels per row for them.
  int64_t columns = wo8, windowPixels = wp;
  if (bytesFor(blocks / groups, wp, wo8) > ub) {
    // The most columns whose window fits twice (two buffer sets), else once.
    auto fits = [&](int64_t cols, int64_t sets) { return sets * bytesFor(blocks / groups, (cols - 1) * k.sw + k.kw, cols) <= ub; };
    for (int64_t sets : {2, 1}) {
      for (columns = wo8 - 8; columns >= 8 && !fits(columns, sets); columns -= 8) {}
      if (columns >= 8) break;
    }
    windowPixels = std::max<int64_t>(0, columns - 1) * k.sw + k.kw;
  }
  const int64_t chunks = columns >= 8 ? emit::ceilDiv(k.wo, columns) : 1;
  const int64_t cb = blocks / groups, gcp = cb * 16; // blocks and channels of one item's group
  const int64_t rowElements = windowPixels * gcp, windowElements = roundUp(k.kh * rowElements, 128),
                outElements = columns * gcp;
  const int64_t need = (windowElements + outElements) * 2;
  if (columns < 8 || need > ub)
    return Error::badInput(k.name + ": UB overflow: a pooling row needs " + std::to_string(bytesFor(cb, wp, wo8)) +
                           " bytes (window rows " + std::to_string(k.kh) + " x " + std::to_string(wp) +
                           " pixels x " + std::to_string(gcp) + " channels), and 8 of its output pixels " +
                           std::to_string(bytesFor(cb, 7 * k.sw + k.kw, 8)) + ", UB has " + std::to_string(ub));
  // The input columns each chunk loads: its first window column (may be left of the map), where
  // the map's part starts in the window and how many columns are inside. Chunks with the whole
  // window inside the map share one code path (the start computed from the item); the others
  // (at the edges) get their own.
  struct ChunkColumns {
    int64_t first, skip, count;
  };
  auto chunkColumns = [&](int64_t c) {
    const int64_t first = chunks == 1 ? -k.pl : c * columns * k.sw - k.pl;
    const int64_t from = std::max<int64_t>(first, 0), to = std::min(k.w, first + windowPixels);
    return ChunkColumns{first, from - first, std::max<int64_t>(0, to - from)};
  };
  std::vector<int64_t> edgeChunks;
  for (int64_t c = 0; c < chunks; ++c)
    if (ChunkColumns cc = chunkColumns(c); chunks == 1 || cc.skip != 0 || cc.count != windowPixels) edgeChunks.push_back(c);
  if (edgeChunks.size() > 8)
    return Error::badInput(k.name + ": a pooling row in " + std::to_string(chunks) + " chunks has " +
                           std::to_string(edgeChunks.size()) + " chunks at the map's edges; no kernel for that yet");
  const int64_t lastColumns = k.wo - (chunks - 1) * columns; // outputs of the last chunk
  // Windows reaching past the map (pads, or ceil_mode's extra outputs) read the fill value.
  const bool padded = k.pt || k.pl || k.pb || k.pr || (k.ho - 1) * k.sh + k.kh > k.h + k.pt ||
                      (k.wo - 1) * k.sw + k.kw > k.w + k.pl;
  const int64_t items = k.n * k.ho * groups * chunks;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f16(), k.n * k.h * k.w * k.cp}, {kb.f16(), k.n * k.ho * k.wo * k.cp}}, blockDim);
  // Two buffer sets when they fit, else one shared by both (items then wait for each other).
  mlir::Value window[2], out[2];
  window[0] = kb.alloc(npu::Space::ub, kb.f16(), windowElements);
  out[0] = kb.alloc(npu::Space::ub, kb.f16(), outElements);
  const bool twoSets = 2 * need <= ub;
  window[1] = twoSets ? kb.alloc(npu::Space::ub, kb.f16(), windowElements) : window[0];
  out[1] = twoSets ? kb.alloc(npu::Space::ub, kb.f16(), outElements) : out[0];
  mlir::Value padValue = halfConstant(kb, k.max ? -std::numeric_limits<float>::infinity() : 0.0f);
  mlir::Value zero = halfConstant(kb, 0.0f), scale = halfConstant(kb, 1.0f / float(k.kh * k.kw));
  mlir::OpBuilder &b = kb.builder();
  // Strided operands: 8 output pixels per repeat; if a repeat's stride does not fit 8 bits, one
  // instruction per 8-pixel group.
  const bool wide = 8 * k.sw * cb > 255 || 8 * cb > 255;
  auto equals = [&](mlir::Value v, int64_t c) {
    return b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::eq, v, kb.index(c)).getResult();
  };
  // `emit(c)` for the chunk c in `special` that `chunk` is, else `emit(-1)`: a chain of ifs.
  std::function<void(mlir::Value, const std::vector<int64_t> &, size_t, const std::function<void(int64_t)> &)> byChunk =
      [&](mlir::Value chunk, const std::vector<int64_t> &special, size_t at, const std::function<void(int64_t)> &emit) {
        if (at == special.size()) return emit(-1);
        if (chunks == 1) return emit(special[at]);
        const bool rest = at + 1 < special.size() || special.size() < size_t(chunks);
        auto branch = b.create<mlir::scf::IfOp>(kb.loc(), equals(chunk, special[at]), /*withElseRegion=*/rest);
        mlir::OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(branch.thenBlock()->getTerminator());
        emit(special[at]);
        if (!rest) return;
        b.setInsertionPoint(branch.elseBlock()->getTerminator());
        byChunk(chunk, special, at + 1, emit);
      };
  auto row = [&](mlir::Value item, int set, bool) -> Status {
    mlir::Value chunk = chunks > 1 ? b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(chunks)).getResult() : kb.index(0);
    mlir::Value groupItem = chunks > 1 ? b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(chunks)).getResult() : item;
    mlir::Value rowItem = groups > 1 ? b.create<mlir::arith::DivSIOp>(kb.loc(), groupItem, kb.index(groups)).getResult() : groupItem;
    mlir::Value group = groups > 1 ? b.create<mlir::arith::RemSIOp>(kb.loc(), groupItem, kb.index(groups)).getResult() : kb.index(0);
    mlir::Value image = b.create<mlir::arith::DivSIOp>(kb.loc(), rowItem, kb.index(k.ho));
    mlir::Value outRow = b.create<mlir::arith::RemSIOp>(kb.loc(), rowItem, kb.index(k.ho));
    if (padded) fill(kb, window[set], 0, windowElements, padValue);
    for (int64_t y = 0; y < k.kh; ++y) {
      // Input row ih = oh * sh - pt + y, loaded only when inside the map.
      mlir::Value ih = kb.add(kb.mul(outRow, k.sh), y - k.pt);
      mlir::Value inside = b.create<mlir::arith::AndIOp>(
          kb.loc(), b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::sge, ih, kb.index(0)),
          b.create<mlir::arith::CmpIOp>(kb.loc(), mlir::arith::CmpIPredicate::slt, ih, kb.index(k.h)));
      auto load = b.create<mlir::scf::IfOp>(kb.loc(), inside, /*withElseRegion=*/false);
      mlir::OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(load.thenBlock()->getTerminator());
      mlir::Value rowStart = kb.mul(kb.add(kb.mul(image, k.h), ih), k.w * k.cp);
      byChunk(chunk, edgeChunks, 0, [&](int64_t c) {
        // Input columns [from, from + count) into the window from column skip.
        const ChunkColumns cc = c >= 0 ? chunkColumns(c) : ChunkColumns{0, 0, windowPixels};
        if (cc.count == 0) return;
        mlir::Value start = c >= 0 ? kb.index(cc.first + cc.skip) : kb.add(kb.mul(chunk, columns * k.sw), -k.pl);
        mlir::Value pixels = kb.add(rowStart, kb.mul(start, k.cp));
        const int64_t at = y * rowElements + cc.skip * gcp;
        if (groups == 1) {
          kb.dma(kb.arg(0), pixels, window[set], kb.index(at), cc.count * gcp);
        } else { // the group's blocks of each pixel
          mlir::Value src = kb.view(kb.arg(0), kb.add(pixels, kb.mul(group, gcp)), ((cc.count - 1) * blocks + cb) * 16);
          kb.instruction<npu::CopyOp>("gm2ub", {kb.from(window[set], at), src},
                                      {{"nburst", cc.count}, {"len", cb}, {"src_gap", blocks - cb}});
        }
      });
    }
    for (int64_t c = 0; c < cb; ++c)
      for (int64_t y = 0; y < k.kh; ++y)
        for (int64_t x = 0; x < k.kw; ++x) {
          const bool first = y == 0 && x == 0;
          const int64_t src = y * rowElements + (x * cb + c) * 16, dst = c * 16;
          auto emit = [&](int64_t srcAt, int64_t dstAt, int64_t repeats, bool strided) {
            std::vector<std::pair<std::string, int64_t>> strides = {{"dst_blk", cb}};
            if (strided) strides.push_back({"dst_rep", 8 * cb});
            if (first) {
              strides.push_back({"src_blk", k.sw * cb});
              if (strided) strides.push_back({"src_rep", 8 * k.sw * cb});
              kb.vector("vadds.f16", {kb.from(out[set], dstAt), kb.from(window[set], srcAt), zero}, repeats, strides);
              return;
            }
            strides.push_back({"src0_blk", cb});
            if (strided) strides.push_back({"src0_rep", 8 * cb});
            strides.push_back({"src1_blk", k.sw * cb});
            if (strided) strides.push_back({"src1_rep", 8 * k.sw * cb});
            mlir::Value acc = kb.from(out[set], dstAt);
            kb.vector(k.max ? "vmax.f16" : "vadd.f16", {acc, acc, kb.from(window[set], srcAt)}, repeats, strides);
          };
          if (!wide) {
            for (int64_t g = 0; g < columns / 8; g += 255)
              emit(src + g * 8 * k.sw * cb * 16, dst + g * 8 * cb * 16, std::min<int64_t>(255, columns / 8 - g), true);
          } else {
            for (int64_t g = 0; g < columns / 8; ++g) emit(src + g * 8 * k.sw * cb * 16, dst + g * 8 * cb * 16, 1, false);
          }
        }
    if (!k.max)
      for (int64_t c = 0; c < cb; ++c)
        for (int64_t g = 0; g < columns / 8; ++g) {
          mlir::Value acc = kb.from(out[set], (g * 8 * cb + c) * 16);
          kb.vector("vmuls.f16", {acc, acc, scale}, 1, {{"dst_blk", cb}, {"src_blk", cb}});
        }
    // The chunk's outputs: all its columns, but those of the last chunk past the row.
    const std::vector<int64_t> last = lastColumns == columns ? std::vector<int64_t>{} : std::vector<int64_t>{chunks - 1};
    byChunk(chunk, last, 0, [&](int64_t c) {
      const int64_t count = chunks == 1 ? k.wo : c >= 0 ? lastColumns : columns;
      mlir::Value first = kb.add(kb.mul(rowItem, k.wo * k.cp), kb.mul(chunk, columns * k.cp));
      if (groups == 1) {
        kb.dma(out[set], kb.index(0), kb.arg(1), first, count * k.cp);
      } else {
        mlir::Value dst = kb.view(kb.arg(1), kb.add(first, kb.mul(group, gcp)), ((count - 1) * blocks + cb) * 16);
        kb.instruction<npu::CopyOp>("ub2gm", {dst, out[set]}, {{"nburst", count}, {"len", cb}, {"dst_gap", blocks - cb}});
      }
    });
    return Status::success();
  };
  if (Status s = kb.itemLoop(items, false, row); !s) return s.error();
  return kb.finish(k.name + ": " + (k.max ? "max" : "average") + " pool " + std::to_string(k.kh) + "x" +
                   std::to_string(k.kw) + " s" + std::to_string(k.sh) + "x" + std::to_string(k.sw) + " on NHWC16 " +
                   std::to_string(k.n) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w) + "x" +
                   std::to_string(k.cp) + " -> " + std::to_string(k.ho) + "x" + std::to_string(k.wo) +
                   ", one output row" + (groups > 1 ? " of " + std::to_string(gcp) + " channels" : "") +
                   (chunks > 1 ? " in " + std::to_string(chunks) + " chunks of " + std::to_string(columns) + " pixels" : "") + " per item" +
                   (twoSets ? "" : " (one buffer set)"));
}

// Channel concatenation by DMA, items = chunks of pixels: each source piece's chunk into its own
// UB buffer, out with a strided DMA into its blocks of every output pixel; zero pieces from a
// UB buffer of zeros filled once.
Expected<GeneratedKernel> generateChannelConcat(const ChipConfig &config, const ChannelConcatKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes;
  int64_t srcBlocks = 0, maxSrc = 1, maxZero = 0;
  std::vector<int64_t> argBlocks(size_t(k.numInputs), 1);
  for (const auto &p : k.pieces) {
    if (p.arg >= 0) {
      srcBlocks += p.srcBlocks;
      maxSrc = std::max(maxSrc, p.srcBlocks);
      argBlocks[size_t(p.arg)] = std::max(argBlocks[size_t(p.arg)], p.srcBlocks);
    } else {
      maxZero = std::max(maxZero, p.blocks);
    }
  }
  // Two sets of one chunk per source piece, and the zeros; a DMA moves at most 65535 blocks.
  const int64_t perPixel = (2 * srcBlocks + maxZero) * 32;
  const int64_t chunk = std::min<int64_t>({k.pixels, (ub - 256) / perPixel, 65535 / maxSrc, 65535});
  if (chunk < 1)
    return Error::badInput(k.name + ": UB overflow: one pixel of the concatenation needs " + std::to_string(perPixel) +
                           " bytes, UB has " + std::to_string(ub));
  const int64_t items = emit::ceilDiv(k.pixels, chunk), tail = k.pixels - (items - 1) * chunk;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  std::vector<std::pair<mlir::Type, int64_t>> args;
  for (int64_t blocks : argBlocks) args.push_back({kb.f16(), k.pixels * blocks * 16});
  args.push_back({kb.f16(), k.pixels * k.outBlocks * 16});
  kb.begin(args, blockDim);
  std::vector<mlir::Value> buffers[2];
  for (int set = 0; set < 2; ++set)
    for (const auto &p : k.pieces)
      buffers[set].push_back(p.arg >= 0 ? kb.alloc(npu::Space::ub, kb.f16(), chunk * p.srcBlocks * 16) : mlir::Value());
  mlir::Value zeros;
  if (maxZero) {
    zeros = kb.alloc(npu::Space::ub, kb.f16(), roundUp(chunk * maxZero * 16, 128));
    fill(kb, zeros, 0, roundUp(chunk * maxZero * 16, 128), halfConstant(kb, 0.0f));
  }
  mlir::Value output = kb.arg(size_t(k.numInputs));
  auto pixels = [&](mlir::Value item, int set, bool last) -> Status {
    const int64_t pc = last ? tail : chunk;
    mlir::Value first = kb.mul(item, chunk); // first pixel
    for (size_t i = 0; i < k.pieces.size(); ++i) {
      const auto &p = k.pieces[i];
      mlir::Value dst = kb.view(output, kb.add(kb.mul(first, k.outBlocks * 16), p.dstBlock * 16),
                                ((pc - 1) * k.outBlocks + p.blocks) * 16);
      if (p.arg < 0) {
        kb.instruction<npu::CopyOp>("ub2gm", {dst, zeros},
                                    {{"nburst", pc}, {"len", p.blocks}, {"dst_gap", k.outBlocks - p.blocks}});
        continue;
      }
      kb.dma(kb.arg(size_t(p.arg)), kb.mul(first, p.srcBlocks * 16), buffers[set][i], kb.index(0), pc * p.srcBlocks * 16);
      kb.instruction<npu::CopyOp>("ub2gm", {dst, buffers[set][i]},
                                  {{"nburst", pc}, {"len", p.blocks}, {"src_gap", p.srcBlocks - p.blocks},
                                   {"dst_gap", k.outBlocks - p.blocks}});
    }
    return Status::success();
  };
  if (Status s = kb.itemLoop(items, tail != chunk, pixels); !s) return s.error();
  return kb.finish(k.name + ": channel concat of " + std::to_string(k.pieces.size()) + " piece(s) over " +
                   std::to_string(k.pixels) + " pixels, " + std::to_string(items) + " chunk(s)");
}

// Global average pooling, items = (image, group of channel blocks) so that every core has
// channels to sum: chunks of the group's pixels (a strided DMA skips the other groups' channels),
// alternating between two buffer sets, are widened to f32 and halved pairwise (a tree) into
// the item's accumulator, which is scaled, narrowed and stored.
Expected<GeneratedKernel> generateGlobalAvgPool(const ChipConfig &config, const GlobalAvgPoolKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  // Channel groups: the largest divisor of the blocks that does not exceed the cores per image.
  int64_t groups = 1;
  for (int64_t g = std::max<int64_t>(1, config.chip.cores / std::max<int64_t>(k.n, 1)); g >= 1; --g)
    if (cb % g == 0) {
      groups = g;
      break;
    }
  const int64_t gb = cb / groups, gcp = gb * 16;
  const int64_t accElements = roundUp(gcp, 64), outElements = roundUp(gcp, 128);
  const int64_t fixed = accElements * 4 + outElements * 2;
  // Pixels per chunk: a power of two (the tree halves it), two sets of f16 + f32 chunks.
  int64_t p = 1;
  while (2 * (2 * p) * gcp * 6 + fixed <= ub && 2 * p <= std::max<int64_t>(k.pixels, 1) * 2 && 2 * p <= 4096) p *= 2;
  if (2 * p * gcp * 6 + fixed > ub)
    return Error::badInput(k.name + ": UB overflow: global pooling of " + std::to_string(gcp) + " channels needs " +
                           std::to_string(2 * gcp * 6 + fixed) + " bytes, UB has " + std::to_string(ub));
  const int64_t chunks = emit::ceilDiv(k.pixels, p), tail = k.pixels - (chunks - 1) * p;
  const int64_t items = k.n * groups;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  kb.begin({{kb.f16(), k.n * k.pixels * k.cp}, {kb.f16(), k.n * k.cp}}, blockDim);
  mlir::OpBuilder &b = kb.builder();
  mlir::Value halves[2], floats[2];
  for (int set = 0; set < 2; ++set) {
    halves[set] = kb.alloc(npu::Space::ub, kb.f16(), roundUp(p * gcp, 128));
    floats[set] = kb.alloc(npu::Space::ub, kb.f32(), roundUp(p * gcp, 64));
  }
  mlir::Value acc = kb.alloc(npu::Space::ub, kb.f32(), accElements);
  mlir::Value out = kb.alloc(npu::Space::ub, kb.f16(), outElements);
  mlir::Value zero = kb.f32Value(0.0f);
  mlir::Value scale = kb.f32Value(1.0f / float(k.pixels));
  // `f32 elements` of `buffer` from `offset` through `mnemonic` in steps of 255 repeats of 64.
  auto over = [&](int64_t elements, const std::function<void(int64_t offset, int64_t repeats)> &emitOne) {
    for (int64_t off = 0; off < elements; off += 255 * 64) emitOne(off, std::min<int64_t>(255, emit::ceilDiv(elements - off, 64)));
  };
  auto item = [&](mlir::Value it) -> Status {
    mlir::Value image = b.create<mlir::arith::DivSIOp>(kb.loc(), it, kb.index(groups));
    mlir::Value group = b.create<mlir::arith::RemSIOp>(kb.loc(), it, kb.index(groups));
    mlir::Value first = kb.add(kb.mul(image, k.pixels * k.cp), kb.mul(group, gcp)); // element of pixel 0
    over(accElements, [&](int64_t off, int64_t r) { kb.vector("vdup.f32", {kb.from(acc, off), zero}, r, {}); });
    auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
      const int64_t pc = last ? tail : p;
      mlir::Value src = kb.view(kb.arg(0), kb.add(first, kb.mul(c, p * k.cp)), ((pc - 1) * cb + gb) * 16);
      kb.instruction<npu::CopyOp>("gm2ub", {halves[set], src}, {{"nburst", pc}, {"len", gb}, {"src_gap", cb - gb}});
      for (int64_t off = 0; off < pc * gcp; off += 255 * 64)
        kb.vector("vconv.f16.f32", {kb.from(floats[set], off), kb.from(halves[set], off)},
                  std::min<int64_t>(255, emit::ceilDiv(pc * gcp - off, 64)), {{"src_rep", 4}});
      if (pc < p)
        over((p - pc) * gcp, [&](int64_t off, int64_t r) {
          kb.vector("vdup.f32", {kb.from(floats[set], pc * gcp + off), zero}, r, {});
        });
      for (int64_t half = p / 2; half >= 1; half /= 2)
        over(half * gcp, [&](int64_t off, int64_t r) {
          mlir::Value sum = kb.from(floats[set], off);
          kb.vector("vadd.f32", {sum, sum, kb.from(floats[set], half * gcp + off)}, r, {});
        });
      over(gcp, [&](int64_t off, int64_t r) {
        mlir::Value total = kb.from(acc, off);
        kb.vector("vadd.f32", {total, total, kb.from(floats[set], off)}, r, {});
      });
      return Status::success();
    };
    if (Status s = kb.pairLoop(kb.index(0), chunks, kb.index(1), tail != p, chunk); !s) return s;
    over(gcp, [&](int64_t off, int64_t r) {
      mlir::Value total = kb.from(acc, off);
      kb.vector("vmuls.f32", {total, total, scale}, r, {});
    });
    over(gcp, [&](int64_t off, int64_t r) {
      kb.vector("vconv.f32.f16", {kb.from(out, off), kb.from(acc, off)}, r, {{"dst_rep", 4}});
    });
    kb.dma(out, kb.index(0), kb.arg(1), kb.add(kb.mul(image, k.cp), kb.mul(group, gcp)), gcp);
    return Status::success();
  };
  if (Status s = kb.forEachItem(items, item); !s) return s.error();
  return kb.finish(k.name + ": global average pool of " + std::to_string(k.n) + " x " + std::to_string(k.pixels) +
                   " pixels x " + std::to_string(k.cp) + " channels in " + std::to_string(groups) +
                   " channel group(s), chunks of " + std::to_string(p));
}

namespace {
// A result of cp channels per pixel written into channels [outOffset, outOffset + cp) of an
// output with outCp per pixel (a slot of a channel concatenation): whole 16-channel blocks inside.
Status checkOutputSlot(const std::string &name, int64_t cp, int64_t outCp, int64_t outOffset) {
  if (outCp % 16 || outOffset % 16 || outOffset + cp > outCp)
    return Error::internal(name + ": output slot [" + std::to_string(outOffset) + ", +" + std::to_string(cp) +
                           ") outside " + std::to_string(outCp) + " channels or off 16-channel blocks");
  return Status::success();
}
} // namespace

// Per-channel operations, items = (image, chunk of pixels): the chunk into UB, each step one
// strided vector op per channel block with the step's vector read at stride 0, the result out.
// Vectors shared by all images are loaded once; per-image ones with each item.
Expected<GeneratedKernel> generateChannelOp(const ChipConfig &config, const ChannelOpKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  if (8 * cb > 255)
    return Error::badInput(k.name + ": " + std::to_string(k.cp) + " channels exceed the vector unit's repeat stride "
                           "(at most 496 channels for a per-channel operation)");
  const int64_t vecElements = roundUp(k.cp, 16);
  int64_t shared = 0, perImage = 0;
  for (const ChannelOpKernel::Step &step : k.steps) (step.perImage ? perImage : shared) += 1;
  // Two sets of (per-image vectors, chunk in, chunk out); chunks of whole 8-pixel repeats. Where 8
  // pixels do not fit so (a small UB: PP-OCRv4's 384-channel squeeze-excitation scales at 16 KiB),
  // the steps run in place on the chunk, one buffer a set: the next load into a set then also
  // waits for its store; where not even that fits (8 KiB), each chunk goes through in the fewest
  // equal groups of channel blocks that do, one after the other, gathered and scattered by
  // strided DMA.
  const int64_t free = ub - (shared + 2 * perImage) * vecElements * 2;
  auto pixelsWith = [&](int64_t buffersPerSet, int64_t channels) {
    return std::min<int64_t>({k.pixels, free / (2 * buffersPerSet * channels * 2) / 8 * 8, 65535 / cb, 255 * 8 * 255});
  };
  const bool inPlace = pixelsWith(2, k.cp) < 1;
  const int64_t groups = inPlace ? fewestEqualGroups(cb, [&](int64_t gb) { return pixelsWith(1, gb * 16) >= 1; }) : 1;
  const int64_t gb = cb / groups, gcp = gb * 16; // channel blocks and channels per group
  const int64_t p = pixelsWith(inPlace ? 1 : 2, gcp);
  if (p < 1)
    return Error::badInput(k.name + ": UB overflow: a per-channel operation on " + std::to_string(k.cp) +
                           " channels needs " + std::to_string((shared + 2 * perImage) * vecElements * 2 + 32 * 16) +
                           " bytes (8 pixels of one channel block, in place), UB has " + std::to_string(ub));
  const int64_t outCp = k.outCp ? k.outCp : k.cp;
  if (Status slot = checkOutputSlot(k.name, k.cp, outCp, k.outOffset); !slot) return slot.error();
  const int64_t chunks = emit::ceilDiv(k.pixels, p), tail = k.pixels - (chunks - 1) * p;
  const int64_t items = k.n * chunks, chunkElements = roundUp(p, 8) * gcp;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  std::vector<std::pair<mlir::Type, int64_t>> args = {{kb.f16(), k.n * k.pixels * k.cp}};
  for (const ChannelOpKernel::Step &step : k.steps) args.push_back({kb.f16(), (step.perImage ? k.n : 1) * k.cp});
  args.push_back({kb.f16(), k.n * k.pixels * outCp});
  kb.begin(args, blockDim);
  mlir::OpBuilder &b = kb.builder();
  // The vectors: shared ones now, per-image ones in each set's buffer.
  std::vector<mlir::Value> vectors[2];
  for (size_t i = 0; i < k.steps.size(); ++i) {
    if (k.steps[i].perImage) {
      for (int set = 0; set < 2; ++set) vectors[set].push_back(kb.alloc(npu::Space::ub, kb.f16(), vecElements));
      continue;
    }
    mlir::Value v = kb.alloc(npu::Space::ub, kb.f16(), vecElements);
    kb.dma(kb.arg(1 + i), kb.index(0), v, kb.index(0), k.cp);
    vectors[0].push_back(v);
    vectors[1].push_back(v);
  }
  mlir::Value x[2], out[2];
  for (int set = 0; set < 2; ++set) {
    x[set] = kb.alloc(npu::Space::ub, kb.f16(), chunkElements);
    out[set] = inPlace ? x[set] : kb.alloc(npu::Space::ub, kb.f16(), chunkElements);
  }
  mlir::Value output = kb.arg(1 + k.steps.size());
  auto chunk = [&](mlir::Value item, int set, bool) -> Status {
    // The last chunk of every image may be short: the body has a copy for it.
    mlir::Value image = b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(chunks));
    mlir::Value c = b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(chunks));
    auto body = [&](bool last) {
      const int64_t pc = last ? tail : p, p8 = roundUp(pc, 8);
      for (size_t i = 0; i < k.steps.size(); ++i)
        if (k.steps[i].perImage) kb.dma(kb.arg(1 + i), kb.mul(image, k.cp), vectors[set][i], kb.index(0), k.cp);
      mlir::Value at = kb.add(kb.mul(image, k.pixels * k.cp), kb.mul(c, p * k.cp));
      for (int64_t g = 0; g < groups; ++g) {
        if (groups == 1)
          kb.dma(kb.arg(0), at, x[set], kb.index(0), pc * k.cp);
        else // the group's blocks of each pixel: one burst per pixel
          kb.instruction<npu::CopyOp>("gm2ub", {x[set], kb.view(kb.arg(0), kb.add(at, g * gcp), (pc - 1) * k.cp + gcp)},
                                      {{"nburst", pc}, {"len", gb}, {"src_gap", cb - gb}});
        for (size_t i = 0; i < k.steps.size(); ++i)
          perChannel(kb, k.steps[i].instr, out[set], i == 0 ? x[set] : out[set], vectors[set][i], 0, p8 / 8, gb,
                     k.steps[i].vectorFirst, g * gcp);
        if (outCp == gcp) {
          kb.dma(out[set], kb.index(0), output, at, pc * k.cp);
        } else { // each pixel's channels into its slot (and group): one burst per pixel
          mlir::Value slot = kb.add(kb.add(kb.mul(image, k.pixels * outCp), kb.mul(c, p * outCp)), k.outOffset + g * gcp);
          kb.instruction<npu::CopyOp>("ub2gm", {kb.view(output, slot, (pc - 1) * outCp + gcp), out[set]},
                                      {{"nburst", pc}, {"len", gb}, {"dst_gap", (outCp - gcp) / 16}});
        }
      }
      return Status::success();
    };
    return tail == p ? body(false) : kb.splitLast(c, chunks - 1, body);
  };
  if (Status s = kb.itemLoop(items, false, chunk); !s) return s.error();
  return kb.finish(k.name + ": per-channel ops on " + std::to_string(k.n) + " x " + std::to_string(k.pixels) +
                   " pixels x " + std::to_string(k.cp) + " channels, chunks of " + std::to_string(p) +
                   (inPlace ? " (in place)" : "") +
                   (groups > 1 ? " in " + std::to_string(groups) + " groups of " + std::to_string(gcp) + " channels" : "") +
                   (k.outCp ? ", into channels " + std::to_string(k.outOffset) + ".. of " + std::to_string(outCp) : ""));
}

// Nearest upsampling by integer factors: an input row is loaded whole and leaves fy * fx times,
// each a strided DMA writing every fx-th pixel of one output row.
Expected<GeneratedKernel> generateResizeNearest(const ChipConfig &config, const ResizeNearestKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  const int64_t rowElements = k.w * k.cp;
  // A row too long for UB goes in chunks of whole pixels, an item each (PP-OCRv4 det's 80-pixel
  // rows of 96 channels at an 8 KiB UB).
  const int64_t chunkPixels = std::min(k.w, ub / (k.cp * 2));
  if (chunkPixels < 1)
    return Error::badInput(k.name + ": UB overflow: one pixel's " + std::to_string(k.cp) + " channels need " +
                           std::to_string(k.cp * 2) + " bytes, UB has " + std::to_string(ub));
  const int64_t chunks = emit::ceilDiv(k.w, chunkPixels), lastPixels = k.w - (chunks - 1) * chunkPixels;
  const int64_t chunkElements = chunkPixels * k.cp;
  const int64_t items = k.n * k.h * chunks, wo = k.w * k.fx, outCp = k.outCp ? k.outCp : k.cp;
  if (Status slot = checkOutputSlot(k.name, k.cp, outCp, k.outOffset); !slot) return slot.error();
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  mlir::OpBuilder &b = kb.builder();
  kb.begin({{kb.f16(), k.n * k.h * rowElements}, {kb.f16(), k.n * k.h * k.fy * wo * outCp}}, blockDim);
  mlir::Value rows[2];
  rows[0] = kb.alloc(npu::Space::ub, kb.f16(), chunkElements);
  rows[1] = 2 * chunkElements * 2 <= ub ? kb.alloc(npu::Space::ub, kb.f16(), chunkElements) : rows[0];
  const int64_t pixelBlocks = outCp / 16; // 32-byte blocks per output pixel
  // Item = (image, input row[, chunk]); output row ih * fy + dy.
  auto row = [&](mlir::Value item, int set, bool) -> Status {
    mlir::Value r = item, c;
    if (chunks > 1) {
      r = b.create<mlir::arith::DivSIOp>(kb.loc(), item, kb.index(chunks));
      c = b.create<mlir::arith::RemSIOp>(kb.loc(), item, kb.index(chunks));
    }
    auto body = [&](bool last) -> Status {
      const int64_t pixels = last ? lastPixels : chunkPixels;
      const int64_t storeSpan = ((pixels - 1) * k.fx * pixelBlocks + cb) * 16; // elements a strided store writes
      mlir::Value in = kb.mul(r, rowElements);
      if (chunks > 1) in = kb.add(in, kb.mul(c, chunkElements));
      kb.dma(kb.arg(0), in, rows[set], kb.index(0), pixels * k.cp);
      mlir::Value outRows = kb.mul(r, k.fy * wo * outCp);
      if (chunks > 1) outRows = kb.add(outRows, kb.mul(c, chunkPixels * k.fx * outCp));
      for (int64_t dy = 0; dy < k.fy; ++dy)
        for (int64_t dx = 0; dx < k.fx; ++dx)
          kb.instruction<npu::CopyOp>(
              "ub2gm", {kb.view(kb.arg(1), kb.add(outRows, (dy * wo + dx) * outCp + k.outOffset), storeSpan), rows[set]},
              {{"nburst", pixels}, {"len", cb}, {"dst_gap", k.fx * pixelBlocks - cb}});
      return Status::success();
    };
    return chunks == 1 || lastPixels == chunkPixels ? body(false) : kb.splitLast(c, chunks - 1, body);
  };
  if (Status s = kb.itemLoop(items, false, row); !s) return s.error();
  return kb.finish(k.name + ": nearest upsampling x" + std::to_string(k.fy) + " x" + std::to_string(k.fx) +
                   " of NHWC16 " + std::to_string(k.n) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w) + "x" +
                   std::to_string(k.cp) +
                   (chunks > 1 ? " in chunks of " + std::to_string(chunkPixels) + " pixels" : "") +
                   (k.outCp ? " into channels " + std::to_string(k.outOffset) + ".. of " + std::to_string(outCp) : ""));
}

// Items = (image, row of y): y's row goes to UB fx times, each a strided DMA into every fx-th
// pixel of an output-wide row; the fy rows of x it meets come in one DMA (rows padded to whole
// vector repeats and to whole 8-pixel repeats of one channel block), get scaled per channel in
// place (strided vmul per channel block, the vector read at stride 0) when `scaled`, get the
// upsampled row added in place, and leave in one DMA.
Expected<GeneratedKernel> generateUpsampleAdd(const ChipConfig &config, const UpsampleAddKernel &k) {
  const int64_t ub = config.buffer(BufferKind::UB).sizeBytes, cb = k.cp / 16;
  const int64_t wo = k.w * k.fx, rowElements = wo * k.cp, yRowElements = k.w * k.cp;
  const int64_t stride = roundUp(roundUp(wo, 8) * k.cp, 128); // a row in UB
  const int64_t vecElements = k.scaled ? k.cp : 0;
  const int64_t setBytes = ((1 + k.fy) * stride + vecElements) * 2; // the upsampled row, x's rows, s
  if (k.cp % 16 || k.fy < 1 || k.fx < 1 || 8 * cb > 255)
    return Error::internal(k.name + ": upsample-add needs NHWC16 channels (at most 496) and positive factors");
  if (setBytes > ub)
    return Error::badInput(k.name + ": UB overflow: " + std::to_string(k.fy) + " output rows and an upsampled row of " +
                           std::to_string(wo) + " pixels x " + std::to_string(k.cp) + " channels need " +
                           std::to_string(setBytes) + " bytes, UB has " + std::to_string(ub));
  const int64_t items = k.n * k.h, gapBlocks = (stride - rowElements) / 16;
  const int blockDim = int(std::min<int64_t>(config.chip.cores, items));
  NpuKernelBuilder kb(config, k.name, k.node);
  std::vector<std::pair<mlir::Type, int64_t>> args = {{kb.f16(), items * k.fy * rowElements}};
  if (k.scaled) args.push_back({kb.f16(), (k.scalePerImage ? k.n : 1) * k.cp});
  args.push_back({kb.f16(), items * yRowElements});
  args.push_back({kb.f16(), items * k.fy * rowElements});
  kb.begin(args, blockDim);
  mlir::Value x = kb.arg(0), scale = k.scaled ? kb.arg(1) : nullptr, y = kb.arg(k.scaled ? 2 : 1);
  mlir::Value output = kb.arg(k.scaled ? 3 : 2);
  // Two buffer sets when they fit, else one (consecutive items then wait for each other).
  mlir::Value up[2], rows[2], vec[2];
  for (int set = 0; set < 2; ++set) {
    const bool own = set == 0 || 2 * setBytes <= ub;
    up[set] = own ? kb.alloc(npu::Space::ub, kb.f16(), stride) : up[0];
    rows[set] = own ? kb.alloc(npu::Space::ub, kb.f16(), k.fy * stride) : rows[0];
    if (k.scaled) vec[set] = own ? kb.alloc(npu::Space::ub, kb.f16(), k.cp) : vec[0];
  }
  mlir::OpBuilder &b = kb.builder();
  const int64_t upSpan = ((k.w - 1) * k.fx + 1) * k.cp; // elements one strided load writes
  auto item = [&](mlir::Value index, int set, bool) -> Status {
    mlir::Value at = kb.mul(index, k.fy * rowElements);
    for (int64_t dx = 0; dx < k.fx; ++dx)
      kb.instruction<npu::CopyOp>("gm2ub", {kb.view(up[set], kb.index(dx * k.cp), upSpan),
                                            kb.view(y, kb.mul(index, yRowElements), yRowElements)},
                                  {{"nburst", k.w}, {"len", cb}, {"dst_gap", (k.fx - 1) * cb}});
    kb.instruction<npu::CopyOp>("gm2ub", {rows[set], kb.view(x, at, k.fy * rowElements)},
                                {{"nburst", k.fy}, {"len", rowElements / 16}, {"dst_gap", gapBlocks}});
    if (k.scaled) {
      mlir::Value image = k.scalePerImage ? b.create<mlir::arith::DivSIOp>(kb.loc(), index, kb.index(k.h)).getResult()
                                          : kb.index(0);
      kb.dma(scale, kb.mul(image, k.cp), vec[set], kb.index(0), k.cp);
    }
    for (int64_t dy = 0; dy < k.fy; ++dy) {
      if (k.scaled) perChannel(kb, "vmul.f16", rows[set], rows[set], vec[set], dy * stride, roundUp(wo, 8) / 8, cb);
      for (int64_t r = 0; r < stride / 128; r += 255) {
        mlir::Value row = kb.from(rows[set], dy * stride + r * 128);
        kb.vector("vadd.f16", {row, row, kb.from(up[set], r * 128)}, std::min<int64_t>(255, stride / 128 - r), {});
      }
    }
    kb.instruction<npu::CopyOp>("ub2gm", {kb.view(output, at, k.fy * rowElements), rows[set]},
                                {{"nburst", k.fy}, {"len", rowElements / 16}, {"src_gap", gapBlocks}});
    return Status::success();
  };
  if (Status s = kb.itemLoop(items, false, item); !s) return s.error();
  return kb.finish(k.name + ": NHWC16 " + std::to_string(k.n) + "x" + std::to_string(k.h * k.fy) + "x" +
                   std::to_string(wo) + "x" + std::to_string(k.cp) + (k.scaled ? " scaled per channel" : "") +
                   " plus a x" + std::to_string(k.fy) + " x" + std::to_string(k.fx) + " nearest upsampling");
}

} // namespace fractal::codegen
