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

#include <optional>
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
// lanes; int32 division and powers too, the vector unit divides floats only) and booleans. Arithmetic's and
// comparisons' first operand, Where's values, a cast's input; null when `op` is not
// such an op or stays on the vector unit. Placement and code generation both ask this.
inline mlir::Value scalarIntegerOperand(mlir::Operation *op) {
  auto scalarInteger = [](mlir::Value v) {
    mlir::Type t = llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType();
    return t.isInteger() && !t.isInteger(1) && !t.isSignlessInteger(32);
  };
  mlir::Value decides;
  if (llvm::isa<AddOp, SubOp, MulOp, DivOp, MaxOp, MinOp, ModOp, CompareOp, BitShiftOp, PowOp>(op))
    decides = op->getOperand(0);
  else if (llvm::isa<WhereOp>(op))
    decides = op->getOperand(1);
  else if (llvm::isa<CastOp>(op)) {
    // Between integers (booleans too) with a scalar-unit integer side, and between float32 and the
    // integers wider than 16 bits other than int32 (int64, uint32, uint64: the vector unit
    // converts float32 to and from int32 only, narrower integers going through int32).
    mlir::Value in = op->getOperand(0), out = op->getResult(0);
    auto type = [](mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType(); };
    auto wide = [&](mlir::Value v) { return type(v).isInteger() && type(v).getIntOrFloatBitWidth() >= 32 && scalarInteger(v); };
    if ((type(in).isF32() && wide(out)) || (wide(in) && type(out).isF32())) return in;
    // Float64 and float32, converted bit by bit in the 64-bit registers (the NPU has no float64
    // arithmetic; a float64 model is computed in float32, converted at its inputs and outputs).
    if ((type(in).isF64() && type(out).isF32()) || (type(in).isF32() && type(out).isF64())) return in;
    return type(in).isInteger() && type(out).isInteger() && (scalarInteger(in) || scalarInteger(out)) ? in : mlir::Value();
  }
  if (!decides) return {};
  if (scalarInteger(decides)) return decides;
  if (llvm::isa<DivOp, PowOp>(op) && llvm::cast<mlir::RankedTensorType>(decides.getType()).getElementType().isSignlessInteger(32))
    return decides;
  return {};
}

// Whether a TopK selects along the last axis (trailing dimensions of 1 count as none): those run
// on the vector unit, others on the host. Placement and code generation both ask this.
inline bool topKAlongLastAxis(TopKOp op) {
  llvm::ArrayRef<int64_t> shape = llvm::cast<mlir::RankedTensorType>(op.getInput().getType()).getShape();
  for (size_t d = size_t(op.getAxis()) + 1; d < shape.size(); ++d)
    if (shape[d] != 1) return false;
  return true;
}

// The axis whose extent value `v` holds only at run time (NonZero's, Compress's, NmsSelect's
// result, Unique's but inverse_indices: the type holds the bound), if any; the ops after such a
// root: DataDependence.h.
std::optional<unsigned> dataDependentAxis(mlir::Value v);

} // namespace fractal::graph
