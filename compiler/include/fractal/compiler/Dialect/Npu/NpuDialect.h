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

namespace fractal::npu {

// The memory space of a memref of this dialect, if it carries one.
std::optional<Space> spaceOf(mlir::Type type);

// A memref's size in bytes (static shape, integer or float elements).
int64_t bytesOf(mlir::MemRefType type);

// The pipe an op of this dialect runs on (dma: by its spaces; vector: v), if it runs on one.
std::optional<Pipe> pipeOf(mlir::Operation *op);

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
