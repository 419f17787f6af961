// The compiler's passes, declared once: summary, description, options and statistics here; the
// implementations in lib/Transforms/, one file per pass.
#ifndef FRACTAL_PASSES
#define FRACTAL_PASSES

include "mlir/Pass/PassBase.td"

def Placement : Pass<"fractal-placement", "::mlir::func::FuncOp"> {
  let summary = "Record where each graph op runs on the NPU, and why";
  let description = [{
    Attaches `fractal.placement` (`cube`, `vector`, `scalar`, `dma` or `host`) and
    `fractal.placement_reason` to every graph op, from the op's own definition
    (`PlacedOpInterface` in GraphOps.td): matrix products on the cube, element-wise math,
    activations, pooling, normalisation and resizing on the vector unit (but int64 arithmetic,
    comparisons and Where: element by element on the scalar unit, which has 64-bit registers),
    pure data movement by DMA, shape bookkeeping and constants on the host. Later phases lower each op for its unit;
    compile reports and the debug map show the decision. An op without a placement is an error.
    (The statistics count ops per unit; Debian's LLVM, built without assertions, does not
    collect pass statistics.)
  }];
  let statistics = [
    Statistic<"numCube", "cube", "Graph ops placed on the cube">,
    Statistic<"numVector", "vector", "Graph ops placed on the vector unit">,
    Statistic<"numScalar", "scalar", "Graph ops placed on the scalar unit (int64 element-wise)">,
    Statistic<"numDma", "dma", "Graph ops placed on DMA">,
    Statistic<"numHost", "host", "Graph ops placed on the host">,
  ];
}

def FoldBatchNorm : Pass<"fractal-fold-batchnorm", "::mlir::func::FuncOp"> {
  let summary = "Fold inference BatchNormalization into the convolution that feeds it";
  let description = [{
    `batch_norm(conv(x, W, b), scale, B, mean, var)` becomes `conv(x, W', b')` with, per output
    channel c, `s = scale[c] / sqrt(var[c] + epsilon)`, `W'[c] = W[c] * s` and
    `b'[c] = (b[c] - mean[c]) * s + B[c]` (b = 0 without a bias). The arithmetic is done in
    double and rounded once to f32. This removes a whole vector pass over the activation.
    Applies only when the convolution has no other user and W, b and all four statistics are
    f32 constants; otherwise the batch_norm stays and runs on the vector unit. In the same way
    `mul(conv, k)` and `add(conv, k)` with k a constant of one value or one per output channel
    ([..1, C, 1, 1]) fold into W and b (PP-OCRv4 scales and shifts every convolution's output).
    A transposed convolution (group 1) folds likewise; its output channel is its weights'
    second dimension ([Cin, Cout, kh, kw]).
  }];
}

def FuseEpilogue : Pass<"fractal-fuse-epilogue", "::mlir::func::FuncOp"> {
  let summary = "Fuse residual and bias Adds, Relu and Clip into the matrix product that feeds them (cube epilogue)";
  let description = [{
    `add(conv(...), r)` with `r` of the convolution's type (a skip connection) becomes the
    convolution with `r` as its residual operand: the cube adds it as one more K step (r times an
    identity), so the sum never makes a separate trip through the vector unit, and it is rounded
    to fp16 once instead of twice. `relu(conv|matmul|gemm(...))` and `clip(...)` then become the
    matrix product with `clamp_min` / `clamp_max` attributes, applied by FixPipe as the result
    leaves L0C; a `conv_transpose` takes only a resulting range of [0, inf) (ReLU), the one its
    kernel applies. Clamps compose (the range narrows: a Relu after a Clip(-1, 6) gives [0, 6]); an Add
    after a clamp is not fused (the clamp comes first). Applies only when the matrix product has
    no other user: its unclamped result must not be needed elsewhere. Likewise
    `add(matmul(a, b), c)` with b a [K, N] matrix and c a constant of N values along the last
    axis (a Linear layer as PyTorch exports it) becomes `gemm(a, b, c)`: the bias is the cube's,
    added as the result leaves L0C, instead of broadcast by DMA and added on the vector unit (a
    batched a is viewed as [M', K] and the result viewed back).
  }];
}

def FactorScale : Pass<"fractal-factor-scale", "::mlir::func::FuncOp"> {
  let summary = "x + x * s becomes x * (1 + s) when s is much smaller than x; scalar scale chains merge";
  let description = [{
    The residual squeeze-excitation of PP-OCRv4 (`x + x * hardsigmoid(se(x))`, s of shape
    [1, C, 1, 1]) makes two passes over the whole feature map, an element-wise Mul and an Add.
    Factored, the big tensor is read once by one Mul, and `1 + s` is a tiny op that joins the
    kernel computing s. Applies when s broadcasts to x with fewer elements than x (so the rewrite
    saves work); the result rounds once less (x * (1 + s) instead of x + x * s).

    Also `(y * c) * d`, `(y / c) * d`, `(y * c) / d` and `(y / c) / d` with one-element constants
    c and d (the inner op read only there) become `y * k`, k computed in double and rounded once:
    hardswish's `/ 6` followed by a learnable scale (PP-OCRv4's LCNet) is then one vector
    multiplication in the convolution's epilogue instead of a division, a slow vector op, and a
    multiplication.
  }];
}

def FoldConstants : Pass<"fractal-fold-constants", "::mlir::func::FuncOp"> {
  let summary = "Evaluate graph ops whose inputs are all f32 constants, within a budget";
  let description = [{
    Replaces add, sub, mul, div (numpy broadcasting), relu, sigmoid, clip, reshape, transpose and slice
    of f32 constants by their result, computed in f32 with ONNX semantics.
    Bounded: an op whose result exceeds `max-elements` stays (it would bloat the package more
    than it saves), and the pass stops folding once `budget` element operations are spent in a
    function, so a pathological model cannot stall the compiler.
  }];
  let options = [
    Option<"maxElements", "max-elements", "int64_t", "1 << 20",
           "largest result (in elements) that is folded">,
    Option<"budget", "budget", "int64_t", "64 << 20",
           "element operations spent per function before folding stops">,
  ];
}

def StrideToChannels : Pass<"fractal-stride-to-channels", "::mlir::func::FuncOp"> {
  let summary = "Fold a convolution's horizontal stride into input channels when it has few of them";
  let description = [{
    `conv(x, W)` with group 1, fewer than 16 input channels C, a horizontal stride S > 1 that
    divides the kernel width KW, and no horizontal padding or dilation becomes a stride-1
    convolution of `x'[n, c * S + r, h, j] = x[n, c, h, j * S + r]` (a reshape, a transpose and a
    reshape, after a slice to the columns the convolution reads) with weights
    `W'[o, c * S + r, y, k] = W[o, c, y, k * S + r]` of width KW / S. Same sums, in another order.
    The cube pads input channels to 16 per K step, so a 1-channel convolution does 16 times the
    work it needs; folded, the padding becomes useful channels and the kernel S times narrower
    (Silero VAD's STFT, a 1-channel 1-D convolution of width 256 at stride 64, becomes 64 channels
    of width 4; img2col's kernel width field holds at most 255 anyway).
  }];
}
def ShortRowSoftmax : Pass<"fractal-short-row-softmax", "::mlir::func::FuncOp"> {
  let summary = "A softmax over short rows runs across the rows: transposed, normalised over the first axis, transposed back";
  let description = [{
    A softmax (or log-softmax) over a last axis of at most 64 elements, with at least 64 rows
    and at most 16K values (transposed, the kernel holds the whole tensor in UB as one slice):
    one vector repeat holds a whole row, so the kernel's max, subtract, exp, sum and divide each
    wait out their latency once per row (PP-OCRv4 rec's attention, 320 rows of 40: 88k cycles).
    Transposed so that the normalised axis comes first, the same kernel combines rows element-wise
    with every row in its own lane (4.9k), and the two transposes run on the vector unit (7k each).
    Rows of whole 32-byte blocks (a multiple of 8 values) are left as they are: the row kernel
    applies each row's max and sum to chunks of rows at once (PP-OCRv4 rec's rows of 40: 11.4k
    cycles in three kernels became one).
  }];
}
def FuseLayerNorm : Pass<"fractal-fuse-layer-norm", "::mlir::func::FuncOp"> {
  let summary = "Layer normalisation written out as arithmetic becomes one graph.layer_norm";
  let description = [{
    `(x - mean(x)) / sqrt(mean((x - mean(x))^2) + epsilon) * scale [+ bias]`, the means over the
    same trailing axes with keepdims, epsilon a one-element constant, scale and bias one value per
    normalised element, and every intermediate read only inside the pattern: how exporters write
    a layer norm without ONNX's LayerNormalization (opset 17), PP-OCRv4 rec's five among them.
    Nine kernels (two reductions, seven element-wise) become one layer-norm kernel that keeps each
    chunk of rows in UB. x * (1 / std) rather than x / std: the result may differ by an ulp.
  }];
}
def CancelDataMovement : Pass<"fractal-cancel-data-movement", "::mlir::func::FuncOp"> {
  let summary = "Compose chained transposes and reshapes; drop the ones that do nothing";
  let description = [{
    `transpose(transpose(x, p), q)` becomes one transpose by the composed permutation, and
    disappears when that is the identity; `reshape(reshape(x))` becomes one reshape, and a
    reshape or transpose that does not change its input disappears. A transpose whose one user is
    an element-wise unary op (not a cast) moves below it when it then meets another transpose or
    feeds only convolutions as an NHWC -> NCHW input, both of which absorb it. Each removed op is
    a DMA pass over the tensor that no longer runs. The surviving op's location fuses the ONNX nodes.
  }];
}

//===--- npu dialect (kernel level) ----------------------------------------------------------===//

def NpuPlanMemory : Pass<"fractal-npu-plan-memory", "::mlir::func::FuncOp"> {
  let summary = "Give every npu.alloc a byte offset in its buffer, sharing bytes when short of room";
  let description = [{
    For each kernel (a function with npu.alloc ops), every buffer gets an `offset` in its
    memory space, aligned as the ISA wants (32 bytes in L1/UB, 512 in L0A/L0B/L0C). A buffer
    lives from its first to its last use; a use inside a loop that the buffer was allocated
    outside of keeps it alive for the whole loop. Largest first, a buffer gets bytes of its own
    while the space has room, else shares those of buffers whose lives do not overlap its own
    (first fit); if that runs out of room, the plan starts over sharing wherever lives allow.
    (Sharing makes the new owner's writer wait for the old owner's last reader.) The capacities come from the function's `npu.buffer_bytes`
    dictionary (`{ub = 196608, l1 = 1048576}`, the target's sizes, written by the kernel
    lowering). A buffer that does not fit is an error naming the buffer (its location is the
    ONNX node), the space, the bytes needed and the bytes the space has.
  }];
  let dependentDialects = ["::fractal::npu::NpuDialect"];
}

def NpuInjectSync : Pass<"fractal-npu-inject-sync", "::mlir::func::FuncOp"> {
  let summary = "Order the pipes with set/wait flags derived from memory dependences";
  let description = [{
    Pipes run in parallel and in order; two ops on different pipes that touch the same bytes
    (one of them writing; planned buffers conflict by byte range) need a flag:
    `npu.set_flag P -> Q` after the producer on pipe P and `npu.wait_flag P -> Q` before the
    consumer on pipe Q. Per block, each op waits only for the nearest conflicting op of each other
    pipe (pipes are in order, so earlier ones are covered), and a dependence already implied by
    another flag (between the same pipes, or by the items' own flags: a producer ending with the
    set of an event the consumer waits on first) is dropped. In a `scf.for` body the analysis
    wraps around: a dependence on the previous iteration is a chain, primed once at the kernel's
    start and drained once at its end, so that a nested loop's next run waits for its last run's
    set (double buffering falls out of this). An `scf.if` or `scf.for` counts as one op with the
    accesses of everything inside it; dependences inside it are handled in its own blocks. An
    `scf.if` that depends on itself across loop turns gets that flag's wait at the start and its
    set at the end of its branches, so that a turn skipping the branch neither waits nor sets.
    Event ids per pipe pair: chains from 7 down (loops not nested in each other share them),
    flags within a turn from 0 up, one per guarded buffers and direction (not shared with a set
    of the same id inside the flag's own producer); more than 8 live at once is an error.
    GM arguments are assumed not to overlap each other.
    `mode=barrier-all` instead puts `npu.barrier all` after every pipe op: slow, but obviously
    ordered (the debug fallback, as `fractal compile --sync=barrier-all`).
  }];
  let options = [
    Option<"mode", "mode", "std::string", "\"flags\"", "flags (from dependences) or barrier-all">,
  ];
  let dependentDialects = ["::fractal::npu::NpuDialect"];
}

def NpuSinkFlags : Pass<"fractal-npu-sink-flags", "::mlir::func::FuncOp"> {
  let summary = "Move a DMA pipe's set_flag down to its next one, so one drain covers both";
  let description = [{
    A set_flag takes effect once every earlier op of its pipe has completed; on the GM pipes
    (mte2, mte3) that is the whole memory latency (hundreds of cycles), during which the pipe
    starts nothing else. So a set_flag of mte2 or mte3 right after its producer (where
    fractal-npu-inject-sync puts it) moves down, in its block, to right before the next
    set_flag of the same pipe, when the copies it passes move at most `max-bytes` bytes: its
    consumer also waits for those, and the later copies no longer wait for a drain of their
    own. It moves past other pipes' ops and flags, and past waits of its pipe on its
    consumer's pipe (the consumer sets those before it waits for this flag); never past its
    own wait, another wait of its pipe, a barrier, a region op or the block's end. Every wait
    still follows its set in program order, so no deadlock is introduced. Sets move last
    first, so a run of them can gather after the last copy.
  }];
  let options = [
    Option<"maxBytes", "max-bytes", "int64_t", "65536", "at most this many bytes of copies passed (64 KiB: ~750 cycles of the edge DMA port, about two drains)">,
  ];
  let dependentDialects = ["::fractal::npu::NpuDialect"];
}

#endif // FRACTAL_PASSES
