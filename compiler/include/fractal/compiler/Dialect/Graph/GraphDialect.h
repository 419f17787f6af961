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

// The operand whose integer type sends an element-wise op to the scalar unit, whose 64-bit
// registers hold any integer: every integer type but int32 (the vector unit's only integer
// lanes; int32 division too, the vector unit divides floats only) and booleans. Arithmetic's and
// comparisons' first operand, Where's values, a cast's input or result; null when `op` is not
// such an op or stays on the vector unit. Placement and code generation both ask this.
inline mlir::Value scalarIntegerOperand(mlir::Operation *op) {
  auto scalarInteger = [](mlir::Value v) {
    mlir::Type t = llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType();
    return t.isInteger() && !t.isInteger(1) && !t.isSignlessInteger(32);
  };
  mlir::Value decides;
  if (llvm::isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, ModOp, CompareOp, BitShiftOp>(op))
    decides = op->getOperand(0);
  else if (llvm::isa<WhereOp>(op))
    decides = op->getOperand(1);
  else if (llvm::isa<CastOp>(op)) { // between integers (booleans too); a float side keeps it on the vector unit
    mlir::Value in = op->getOperand(0), out = op->getResult(0);
    auto integer = [](mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isInteger(); };
    return integer(in) && integer(out) && (scalarInteger(in) || scalarInteger(out)) ? in : mlir::Value();
  }
  if (!decides) return {};
  if (scalarInteger(decides)) return decides;
  if (llvm::isa<DivOp>(op) && llvm::cast<mlir::RankedTensorType>(decides.getType()).getElementType().isSignlessInteger(32))
    return decides;
  return {};
}

} // namespace fractal::graph
