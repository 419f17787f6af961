// The npu dialect's registration and verifiers. Vector ops are checked against the ISA's own
// instruction table (isa/Instructions.def): mnemonic, operand count and kinds, keyed parameters,
// so that what reaches the emitter assembles.
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"

#include "fractal/isa/Isa.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace fractal::npu;

#include "fractal/compiler/Dialect/Npu/NpuEnums.cpp.inc"
#include "fractal/compiler/Dialect/Npu/NpuDialect.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "fractal/compiler/Dialect/Npu/NpuAttrs.cpp.inc"
#define GET_OP_CLASSES
#include "fractal/compiler/Dialect/Npu/NpuOps.cpp.inc"

void NpuDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "fractal/compiler/Dialect/Npu/NpuAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "fractal/compiler/Dialect/Npu/NpuOps.cpp.inc"
      >();
}

namespace fractal::npu {

std::optional<Space> spaceOf(Type type) {
  auto memref = llvm::dyn_cast<MemRefType>(type);
  if (!memref) return std::nullopt;
  if (auto space = llvm::dyn_cast_if_present<SpaceAttr>(memref.getMemorySpace())) return space.getValue();
  return std::nullopt;
}

int64_t bytesOf(MemRefType type) {
  return type.getNumElements() * int64_t(type.getElementTypeBitWidth()) / 8;
}

std::optional<Pipe> pipeOf(Operation *op) {
  if (auto dma = llvm::dyn_cast<DmaOp>(op)) return dma.getPipe();
  if (llvm::isa<VectorOp>(op)) return Pipe::v;
  return std::nullopt;
}

ProgramOrder::ProgramOrder(Operation *root) : root(root) {
  int64_t next = 0;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) { position[op] = next++; });
  root->walk<WalkOrder::PostOrder>([&](Operation *op) {
    int64_t last = position[op];
    for (Region &region : op->getRegions())
      for (Block &block : region)
        if (!block.empty()) last = std::max(last, end[&block.back()]);
    end[op] = last;
  });
}

int64_t ProgramOrder::lastUse(Value v) const {
  Operation *def = v.getDefiningOp() ? v.getDefiningOp() : v.getParentBlock()->getParentOp();
  int64_t last = -1;
  for (Operation *user : v.getUsers()) {
    int64_t at = llvm::isa<scf::ForOp>(user) ? end.lookup(user) : position.lookup(user);
    for (Operation *p = user->getParentOp(); p && p != root; p = p->getParentOp())
      if (llvm::isa<scf::ForOp, scf::WhileOp>(p) && !p->isAncestor(def)) at = std::max(at, end.lookup(p));
    last = std::max(last, at);
  }
  return last;
}

} // namespace fractal::npu

namespace {

// Element types the NPU moves and computes: f16, f32, 8/32-bit integers.
bool npuElementType(Type t) {
  return t.isF16() || t.isF32() || t.isInteger(8) || t.isInteger(32);
}

} // namespace

LogicalResult AllocOp::verify() {
  MemRefType type = getBuffer().getType();
  std::optional<Space> space = spaceOf(type);
  if (!space) return emitOpError("buffer needs an #npu.space memory space");
  if (*space == Space::gm) return emitOpError("allocates on-chip buffers only; GM comes in as kernel arguments");
  if (!npuElementType(type.getElementType())) return emitOpError("element type must be f16, f32, i8 or i32");
  if (!type.getLayout().isIdentity()) return emitOpError("buffer must have the identity layout");
  if (std::optional<int64_t> offset = getOffset(); offset && *offset < 0)
    return emitOpError("offset must not be negative");
  return success();
}

int64_t AllocOp::getSizeInBytes() { return bytesOf(getBuffer().getType()); }

Pipe DmaOp::getPipe() {
  return spaceOf(getSource().getType()) == Space::gm ? Pipe::mte2 : Pipe::mte3;
}

LogicalResult DmaOp::verify() {
  auto source = llvm::cast<MemRefType>(getSource().getType());
  auto target = llvm::cast<MemRefType>(getTarget().getType());
  std::optional<Space> from = spaceOf(source), to = spaceOf(target);
  if (!from || !to) return emitOpError("source and target need #npu.space memory spaces");
  const bool legal = (*from == Space::gm && (*to == Space::ub || *to == Space::l1)) ||
                     (*from == Space::ub && *to == Space::gm);
  if (!legal)
    return emitOpError("no DMA from ") << stringifySpace(*from) << " to " << stringifySpace(*to)
                                       << " (gm -> ub/l1 on mte2, ub -> gm on mte3)";
  if (source.getElementType() != target.getElementType())
    return emitOpError("source and target element types differ");
  const int64_t elements = int64_t(getElements());
  const int64_t bytes = elements * int64_t(source.getElementTypeBitWidth()) / 8;
  if (bytes % 32 != 0) return emitOpError("copies ") << bytes << " bytes, not whole 32-byte blocks";
  // Constant offsets are checked against the buffers here; dynamic ones by the simulator.
  auto check = [&](Value offset, MemRefType type, StringRef which) -> LogicalResult {
    APInt value;
    if (!matchPattern(offset, m_ConstantInt(&value))) return success();
    if (value.isNegative() || value.getSExtValue() + elements > type.getNumElements())
      return emitOpError() << which << " range [" << value.getSExtValue() << ", "
                           << value.getSExtValue() + elements << ") is outside its "
                           << type.getNumElements() << " elements";
    return success();
  };
  return failure(failed(check(getSourceOffset(), source, "source")) ||
                 failed(check(getTargetOffset(), target, "target")));
}

void VectorOp::getEffects(SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  bool first = true;
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (!llvm::isa<MemRefType>(operand.get().getType())) continue;
    if (first) effects.emplace_back(MemoryEffects::Write::get(), &operand);
    else effects.emplace_back(MemoryEffects::Read::get(), &operand);
    first = false;
  }
}

LogicalResult VectorOp::verify() {
  const std::string text = getInstruction().str();
  const std::string mnemonic = text.substr(0, text.find('.'));
  const fractal::isa::InstructionSpec *spec = fractal::isa::findByMnemonic(mnemonic);
  if (!spec || spec->pipe != fractal::isa::Pipe::V)
    return emitOpError("'") << mnemonic << "' is not a vector instruction of the ISA";
  // Positional register/memory operands of the instruction, in order, against ours.
  std::vector<bool> wantsBuffer;
  bool hasRepeat = false;
  for (const fractal::isa::OperandSpec &o : spec->operands) {
    if (o.keyed) {
      hasRepeat |= std::string(o.name) == "repeat";
      continue;
    }
    if (o.kind == fractal::isa::OperandKind::Mem) wantsBuffer.push_back(true);
    else if (o.kind == fractal::isa::OperandKind::Reg) wantsBuffer.push_back(false);
  }
  if (!hasRepeat) return emitOpError("'") << mnemonic << "' takes no repeat count";
  if (wantsBuffer.size() != getOperands().size())
    return emitOpError("'") << mnemonic << "' takes " << wantsBuffer.size() << " operands, got "
                            << getOperands().size();
  for (auto [i, operand] : llvm::enumerate(getOperands())) {
    const bool isBuffer = llvm::isa<MemRefType>(operand.getType());
    if (isBuffer != wantsBuffer[i])
      return emitOpError("operand ") << i << " must be " << (wantsBuffer[i] ? "a UB buffer" : "a scalar");
    if (isBuffer && spaceOf(operand.getType()) != Space::ub)
      return emitOpError("operand ") << i << " must be in #npu.space<ub>";
    if (!isBuffer && !operand.getType().isIntOrFloat())
      return emitOpError("scalar operand ") << i << " must be an integer or float";
  }
  if (std::optional<DictionaryAttr> params = getParams()) {
    for (NamedAttribute param : *params) {
      const auto known = llvm::find_if(spec->operands, [&](const fractal::isa::OperandSpec &o) {
        return o.keyed && param.getName().strref() == o.name && param.getName().strref() != "repeat";
      });
      if (known == spec->operands.end())
        return emitOpError("'") << mnemonic << "' has no parameter '" << param.getName().strref() << "'";
      if (!llvm::isa<IntegerAttr>(param.getValue()))
        return emitOpError("parameter '") << param.getName().strref() << "' must be an integer";
    }
  }
  return success();
}

namespace {
template <typename FlagOp> LogicalResult verifyFlag(FlagOp op) {
  if (op.getFrom() == op.getTo()) return op.emitOpError("flag from a pipe to itself (a barrier orders one pipe)");
  if (op.getFrom() == Pipe::all || op.getTo() == Pipe::all) return op.emitOpError("'all' is valid only for barriers");
  return success();
}
} // namespace

LogicalResult SetFlagOp::verify() { return verifyFlag(*this); }
LogicalResult WaitFlagOp::verify() { return verifyFlag(*this); }
