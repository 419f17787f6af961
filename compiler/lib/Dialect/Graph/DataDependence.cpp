// DataDependence.h: which values depend on an extent known only at run time, and along which axis.
#include "fractal/compiler/Dialect/Graph/DataDependence.h"

using namespace mlir;

namespace fractal::graph {
namespace {

llvm::ArrayRef<int64_t> shapeOf(Value v) { return llvm::cast<RankedTensorType>(v.getType()).getShape(); }

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;
  return p;
}

bool isRoot(Operation *op) { return llvm::isa<NonZeroOp, CompressOp, UniqueOp, NmsSelectOp>(op); }

// Ops that compute each result element from the operand elements at the same (broadcast) position.
bool isElementwise(Operation *op) {
  return llvm::isa<ReluOp, SigmoidOp, NegOp, AbsOp, SqrtOp, ReciprocalOp, ExpOp, LogOp, ActivationOp, ErfOp, SignOp,
                   RoundingOp, TrigonometricOp, ClipOp, HardSigmoidOp, CastOp, FakeQuantOp, NotOp, AddOp, SubOp, MulOp,
                   DivOp, MaxOp, MinOp, PowOp, ModOp, BitShiftOp, CompareOp, LogicalOp, WhereOp>(op);
}

// The axis of `op`'s single result that operand `operand`'s data-dependent axis `axis` becomes,
// or why there is none. Only called for operands that depend on a root.
struct Mapped {
  std::optional<unsigned> axis;
  std::string why;
};

Mapped mapAxis(Operation *op, unsigned operand, unsigned axis,
               const llvm::DenseMap<Value, DataDependence> &known) {
  const Value in = op->getOperand(operand), out = op->getResult(0);
  const llvm::ArrayRef<int64_t> inShape = shapeOf(in), outShape = shapeOf(out);
  if (isElementwise(op)) {
    const unsigned at = axis + unsigned(outShape.size() - inShape.size());
    if (outShape[at] != inShape[axis]) return {std::nullopt, "broadcasts the data-dependent axis"};
    for (Value other : op->getOperands()) {
      if (known.count(other)) continue;
      const llvm::ArrayRef<int64_t> s = shapeOf(other);
      const int64_t offset = int64_t(outShape.size()) - int64_t(s.size());
      if (int64_t(at) >= offset && s[size_t(int64_t(at) - offset)] != 1)
        return {std::nullopt, "takes an operand with a static extent along the data-dependent axis, which would "
                              "not match the run-time one"};
    }
    return {at, ""};
  }
  if (auto t = llvm::dyn_cast<TransposeOp>(op)) {
    llvm::ArrayRef<int64_t> perm = t.getPerm();
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] == int64_t(axis)) return {unsigned(i), ""};
    return {std::nullopt, "has a malformed permutation"};
  }
  if (llvm::isa<ReshapeOp>(op)) {
    // The axis survives when some result axis has the same bound and the same elements before it.
    const int64_t before = product(inShape.take_front(axis));
    int64_t running = 1;
    for (size_t i = 0; i < outShape.size(); ++i) {
      if (running == before && outShape[i] == inShape[axis]) return {unsigned(i), ""};
      running *= outShape[i];
    }
    return {std::nullopt, "merges the data-dependent axis with another or splits it"};
  }
  if (auto s = llvm::dyn_cast<SliceOp>(op)) {
    if (s.getStarts()[axis] != 0 || s.getSteps()[axis] != 1 || outShape[axis] != inShape[axis])
      return {std::nullopt, "slices along the data-dependent axis"};
    return {axis, ""};
  }
  if (auto c = llvm::dyn_cast<ConcatOp>(op)) {
    if (uint64_t(c.getAxis()) == axis) return {std::nullopt, "concatenates along the data-dependent axis"};
    for (Value other : op->getOperands())
      if (!known.count(other))
        return {std::nullopt, "concatenates it with a tensor of a static extent along the data-dependent axis"};
    return {axis, ""};
  }
  if (auto g = llvm::dyn_cast<GatherOp>(op)) {
    if (g.getElements()) return {std::nullopt, "(GatherElements) pairs the indices with the data element by element"};
    const unsigned along = unsigned(g.getAxis());
    if (operand == 1) {
      if (known.count(g.getData())) return {std::nullopt, "takes both its data and its indices with run-time extents"};
      return {along + axis, ""};
    }
    if (axis == along) return {std::nullopt, "gathers along the data-dependent axis"};
    return {axis < along ? axis : axis - 1 + unsigned(shapeOf(g.getIndices()).size()), ""};
  }
  if (auto g = llvm::dyn_cast<GatherNdOp>(op)) {
    if (operand == 0) return {std::nullopt, "(GatherND) takes data with a run-time extent"};
    if (axis + 1 == inShape.size()) return {std::nullopt, "(GatherND) takes index tuples of a run-time length"};
    if (axis < uint64_t(g.getBatchDims())) return {std::nullopt, "(GatherND) takes it along a batch axis"};
    return {axis, ""};
  }
  // Reductions, normalisations and matrix products along other axes: each slice along the
  // data-dependent axis on its own.
  if (auto r = llvm::dyn_cast<ReduceOp>(op)) {
    unsigned before = 0;
    for (int64_t a : r.getAxes()) {
      if (a == int64_t(axis)) return {std::nullopt, "reduces along the data-dependent axis"};
      before += a < int64_t(axis);
    }
    return {r.getKeepdims() ? axis : axis - before, ""};
  }
  if (auto r = llvm::dyn_cast<ArgReduceOp>(op)) {
    const uint64_t along = r.getAxis();
    if (along == axis) return {std::nullopt, "reduces along the data-dependent axis"};
    return {r.getKeepdims() || axis < along ? axis : axis - 1, ""};
  }
  if (auto n = llvm::dyn_cast<SoftmaxOp>(op)) {
    for (int64_t a : n.getAxes())
      if (a == int64_t(axis)) return {std::nullopt, "normalises along the data-dependent axis"};
    return {axis, ""};
  }
  if (llvm::isa<MatMulOp>(op)) {
    // The left operand's rows (or a batch axis the right one does not span); never the right one.
    if (operand != 0) return {std::nullopt, "(MatMul) takes a right-hand operand with a run-time extent"};
    if (inShape.size() < 2 || axis + 1 == inShape.size())
      return {std::nullopt, "(MatMul) contracts along the data-dependent axis"};
    const llvm::ArrayRef<int64_t> rhs = shapeOf(op->getOperand(1));
    if (rhs.size() == 1) return {axis, ""}; // a matrix-vector product drops the last axis only
    const unsigned at = axis + unsigned(outShape.size() - inShape.size());
    const int64_t rhsAt = int64_t(at) - int64_t(outShape.size() - std::max<size_t>(rhs.size(), 2));
    if (axis + 2 < inShape.size() && rhsAt >= 0 && rhsAt + 2 < int64_t(rhs.size()) && rhs[size_t(rhsAt)] != 1)
      return {std::nullopt, "(MatMul) pairs the data-dependent axis with the right operand's static batch axis"};
    return {at, ""};
  }
  if (auto gemm = llvm::dyn_cast<GemmOp>(op)) {
    if (operand == 1) return {std::nullopt, "(Gemm) takes a B operand with a run-time extent"};
    if (operand == 0) {
      if (axis != (gemm.getTransA() ? 1u : 0u)) return {std::nullopt, "(Gemm) contracts along the data-dependent axis"};
    } else if (inShape.size() != 2 || axis != 0) {
      return {std::nullopt, "(Gemm) takes a C whose run-time extent is not along the rows"};
    }
    if (Value c = gemm.getC(); c && !known.count(c) && shapeOf(c).size() == 2 && shapeOf(c)[0] != 1)
      return {std::nullopt, "takes an operand with a static extent along the data-dependent axis, which would not "
                            "match the run-time one"};
    return {0u, ""};
  }
  return {std::nullopt, "cannot take a value whose extent is known only at run time"};
}

} // namespace

llvm::DenseMap<Value, DataDependence> dataDependences(Block &block) {
  llvm::DenseMap<Value, DataDependence> known;
  for (Operation &op : block) {
    const DataDependence *from = nullptr; // the first dependent operand
    for (Value v : op.getOperands())
      if (auto it = known.find(v); it != known.end()) {
        from = &it->second;
        break;
      }
    if (!from) {
      if (isRoot(&op))
        for (Value r : op.getResults())
          if (std::optional<unsigned> axis = dataDependentAxis(r)) known[r] = DataDependence{&op, *axis, "", false};
      continue;
    }
    DataDependence d{from->root, 0, "", false};
    for (Value v : op.getOperands())
      if (auto it = known.find(v); it != known.end() && !it->second.unsupported.empty()) {
        d.unsupported = it->second.unsupported, d.inherited = true;
        break;
      }
    if (d.unsupported.empty()) {
      if (isRoot(&op)) {
        d.unsupported = "counts over a value whose extent is known only at run time (its bound's slices past the "
                        "extent would count too)";
      } else if (op.getNumResults() != 1) {
        d.unsupported = "cannot take a value whose extent is known only at run time";
      } else {
        // Every dependent operand must come from the same root and land on the same axis.
        std::optional<unsigned> axis;
        for (unsigned i = 0; i < op.getNumOperands() && d.unsupported.empty(); ++i) {
          auto it = known.find(op.getOperand(i));
          if (it == known.end()) continue;
          if (it->second.root != from->root) {
            d.unsupported = "takes values whose extents two different ops write at run time";
            break;
          }
          Mapped m = mapAxis(&op, i, it->second.axis, known);
          if (!m.axis) d.unsupported = m.why;
          else if (axis && *axis != *m.axis) d.unsupported = "takes its run-time extent along two different axes";
          else axis = m.axis;
        }
        if (d.unsupported.empty()) d.axis = *axis;
      }
    }
    for (Value r : op.getResults()) known[r] = d;
  }
  return known;
}

} // namespace fractal::graph
