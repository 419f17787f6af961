// Kernel generators: one function per kernel family, turning the shapes and attributes of one graph
// op into Fractal assembly (docs/isa.md) sized for the chip config's buffers. The text goes through
// the isa/ assembler, so every kernel in a package can be read, disassembled and re-assembled, and
// carries `.node` notes mapping its instructions to ONNX nodes.
//
// No MLIR here: the generators are plain C++ over shapes, so they can be unit-tested and reused.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal::codegen {

// An element-wise vector kernel over n elements streamed through UB in chunks, split across
// blockDim cores chunk by chunk. Inputs and output are contiguous (ND) in GM and padded by the
// memory plan to whole 256-byte repeats, so the kernel computes whole repeats only.
struct ElementwiseKernel {
  std::string name;                 // kernel name (diagnostics, symbols)
  std::string node;                 // ONNX node(s) for the debug map
  int numInputs = 1;                // 1 or 2 GM inputs; argument order: inputs..., output
  int64_t elements = 0;
  int inBytes = 4, outBytes = 4;    // element sizes (differ for conversions)
  std::vector<float> scalars;       // fp32 constants, available to the body as {s0}, {s1}, ...
  // Vector instructions applied to each chunk; placeholders: {in0} {in1} {out} (UB operands),
  // {rep} (repeats in this chunk), {s0}.. (scalar registers). Run in order on the V pipe.
  std::vector<std::string> body;
  // Vector instructions run once before the loop (e.g. vdup of a broadcast scalar into {in1}).
  std::vector<std::string> prologue;
};

// A generated kernel: its assembly and how many blocks to launch it with.
struct GeneratedKernel {
  std::string assembly;
  int blockDim = 1;
};

// Returns the assembly, or an error when the op cannot be laid out in the config's UB. The kernel
// is launched on min(cores, chunks) blocks.
Expected<GeneratedKernel> generateElementwise(const ChipConfig &config, const ElementwiseKernel &k);

// Elements covered by one vector repeat for a kernel with these element sizes.
int64_t elementsPerRepeat(int inBytes, int outBytes);

// C[M,N] (f32 or f16, ND) = alpha * op(A)[M,K] x op(B)[K,N] + bias[N] (f32, optional), then ReLU
// when relu; A and B are f16 in GM. op(A) = A ([M,K] row-major) or, with transA, A stored as
// [K,M]; op(B) = B ([K,N]) or, with transB, B stored as [N,K]. `batch` independent products, the
// operands `stride*` elements apart (stride 0: shared by every product). Work items (product, M
// tile) are split across min(cores, items) blocks; each item runs its N tiles and K steps with the
// tile in L0C accumulating over K, and leaves through FixPipe.
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
};

Expected<GeneratedKernel> generateMatMul(const ChipConfig &config, const MatMulKernel &k);

} // namespace fractal::codegen
