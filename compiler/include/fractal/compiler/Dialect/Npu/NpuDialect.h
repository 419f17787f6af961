// The `npu` dialect (NpuOps.td): AI-core buffers, DMA, vector and sync operations on memrefs.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h" // must precede the generated op headers
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"

#include "fractal/compiler/Dialect/Npu/NpuEnums.h.inc"
#include "fractal/compiler/Dialect/Npu/NpuDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "fractal/compiler/Dialect/Npu/NpuAttrs.h.inc"

#define GET_OP_CLASSES
#include "fractal/compiler/Dialect/Npu/NpuOps.h.inc"

#include <optional>
#include <string>
#include <vector>

namespace fractal::npu {

// The memory space of a memref of this dialect, if it carries one.
std::optional<Space> spaceOf(mlir::Type type);

// A memref's size in bytes (static shape, integer or float elements).
int64_t bytesOf(mlir::MemRefType type);

// The pipe an op of this dialect runs on (dma: by its spaces; instructions: the ISA's), if it
// runs on one.
std::optional<Pipe> pipeOf(mlir::Operation *op);

// The buffer (an npu.alloc result or a kernel argument) a value is a view of, or the value itself.
mlir::Value rootBuffer(mlir::Value v);

// The buffers an op of this dialect reads and writes, in operand order.
struct BufferAccess {
  mlir::OpOperand *operand;
  bool write;
};
std::vector<BufferAccess> bufferAccesses(mlir::Operation *op);

// For the instruction ops (vector, copy, load, cube, fixpipe): the mnemonic and its keyed
// parameters as written in assembly, without the operands.
struct InstructionText {
  std::string mnemonic;                             // with type suffixes: "mmad.f16"
  std::vector<std::pair<std::string, int64_t>> params; // repeat first for vector ops
  std::vector<std::string> named;                   // keyed register operands after the positional ones
};
std::optional<InstructionText> instructionText(mlir::Operation *op);

// Program order of the ops in a kernel, in which buffer and register lifetimes are measured:
// pre-order positions, and for each op the last position inside it.
struct ProgramOrder {
  explicit ProgramOrder(mlir::Operation *root);
  // Where `v` is last needed: its last user, where a use inside a loop that does not contain v's
  // definition counts as that loop's end, and so does being a loop's bound.
  int64_t lastUse(mlir::Value v) const;

  llvm::DenseMap<mlir::Operation *, int64_t> position, end;
  mlir::Operation *root;
};

} // namespace fractal::npu
