// The `graph` dialect (GraphOps.td): ONNX-level tensor operations, the compiler's first IR.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h" // must precede the generated op headers
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h.inc"
#include "fractal/compiler/Dialect/Graph/GraphOpInterfaces.h.inc"

#define GET_OP_CLASSES
#include "fractal/compiler/Dialect/Graph/GraphOps.h.inc"

#include <vector>

namespace fractal::graph {

// Numpy broadcasting as strides: the row-major element strides of `shape`, right-aligned to
// `rank` dims, 0 along broadcast (size-1 or missing) dims. For constant folding and the expand
// kernel alike.
inline std::vector<int64_t> broadcastStrides(llvm::ArrayRef<int64_t> shape, size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (size_t i = 0; i < shape.size() && i < rank; ++i) {
    const size_t dim = shape.size() - 1 - i, out = rank - 1 - i;
    strides[out] = shape[dim] == 1 ? 0 : stride;
    stride *= shape[dim];
  }
  return strides;
}

// The operand whose int64 type sends an element-wise op to the scalar unit (the vector unit has
// no 64-bit integer lanes): arithmetic's and comparisons' first, Where's values; null when `op`
// is not such an op or that operand is not int64. Placement and code generation both ask this.
inline mlir::Value int64ElementWiseOperand(mlir::Operation *op) {
  mlir::Value decides;
  if (llvm::isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, ModOp, CompareOp>(op))
    decides = op->getOperand(0);
  else if (llvm::isa<WhereOp>(op))
    decides = op->getOperand(1);
  if (decides && llvm::cast<mlir::RankedTensorType>(decides.getType()).getElementType().isInteger(64))
    return decides;
  return {};
}

} // namespace fractal::graph
