// The npu dialect's registration and verifiers. Vector ops are checked against the ISA's own
// instruction table (isa/Instructions.def): mnemonic, operand count and kinds, keyed parameters,
// so that what reaches the emitter assembles.
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"

#include "fractal/isa/Isa.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace fractal::npu;

// The instruction ops' effects and verifier, used by the generated op definitions (NpuOps.td).
namespace fractal::npu::detail {
void instructionEffects(Operation *op, SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects);
LogicalResult verifyInstruction(Operation *op, llvm::StringRef instruction, ValueRange operands,
                                std::optional<DictionaryAttr> params, ArrayRef<fractal::isa::Pipe> pipes,
                                llvm::StringRef unit, bool hasRepeatAttr,
                                std::optional<ArrayAttr> named = std::nullopt);
} // namespace fractal::npu::detail

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

namespace {

const fractal::isa::InstructionSpec *specOf(llvm::StringRef instruction) {
  return fractal::isa::findByMnemonic(instruction.substr(0, instruction.find('.')).str());
}

// The instruction string of an instruction op ("" for other ops).
llvm::StringRef instructionOf(Operation *op) {
  if (auto x = llvm::dyn_cast<VectorOp>(op)) return x.getInstruction();
  if (auto x = llvm::dyn_cast<CopyOp>(op)) return x.getInstruction();
  if (auto x = llvm::dyn_cast<LoadOp>(op)) return x.getInstruction();
  if (auto x = llvm::dyn_cast<CubeOp>(op)) return x.getInstruction();
  if (auto x = llvm::dyn_cast<FixpipeOp>(op)) return x.getInstruction();
  return "";
}

// The positional (register or memory) operands of an instruction, in order.
std::vector<const fractal::isa::OperandSpec *> positional(const fractal::isa::InstructionSpec &spec) {
  std::vector<const fractal::isa::OperandSpec *> out;
  for (const fractal::isa::OperandSpec &o : spec.operands)
    if (!o.keyed && (o.kind == fractal::isa::OperandKind::Mem || o.kind == fractal::isa::OperandKind::Reg))
      out.push_back(&o);
  return out;
}

} // namespace

std::optional<Pipe> pipeOf(Operation *op) {
  if (auto dma = llvm::dyn_cast<DmaOp>(op)) return dma.getPipe();
  llvm::StringRef instruction = instructionOf(op);
  if (instruction.empty()) return std::nullopt;
  const fractal::isa::InstructionSpec *spec = specOf(instruction);
  if (!spec) return std::nullopt;
  return static_cast<Pipe>(static_cast<int>(spec->pipe));
}

Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewOp>()) v = view.getSource();
  return v;
}

std::vector<BufferAccess> bufferAccesses(Operation *op) {
  std::vector<BufferAccess> out;
  if (auto dma = llvm::dyn_cast<DmaOp>(op)) {
    out.push_back({&dma->getOpOperand(0), false});
    out.push_back({&dma->getOpOperand(2), true});
    return out;
  }
  llvm::StringRef instruction = instructionOf(op);
  const fractal::isa::InstructionSpec *spec = instruction.empty() ? nullptr : specOf(instruction);
  if (!spec) return out;
  const std::vector<const fractal::isa::OperandSpec *> slots = positional(*spec);
  for (OpOperand &operand : op->getOpOperands()) {
    if (!llvm::isa<MemRefType>(operand.get().getType())) continue;
    const size_t i = operand.getOperandNumber();
    out.push_back({&operand, i < slots.size() && std::string(slots[i]->name) == "dst"});
  }
  return out;
}

std::optional<InstructionText> instructionText(Operation *op) {
  llvm::StringRef instruction = instructionOf(op);
  if (instruction.empty()) return std::nullopt;
  InstructionText text{instruction.str(), {}, {}};
  if (auto named = op->getAttrOfType<ArrayAttr>("named"))
    for (Attribute name : named) text.named.push_back(llvm::cast<StringAttr>(name).str());
  if (auto vector = llvm::dyn_cast<VectorOp>(op)) text.params.push_back({"repeat", int64_t(vector.getRepeat())});
  if (auto params = op->getAttrOfType<DictionaryAttr>("params"))
    for (NamedAttribute p : params)
      text.params.push_back({p.getName().str(), llvm::cast<IntegerAttr>(p.getValue()).getValue().getSExtValue()});
  return text;
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
    if (auto view = llvm::dyn_cast<ViewOp>(user); view && view.getSource() == v) // the buffer lives as long as its views
      last = std::max(last, lastUse(view.getResult()));
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

LogicalResult ViewOp::verify() {
  auto source = llvm::cast<MemRefType>(getSource().getType()), result = llvm::cast<MemRefType>(getResult().getType());
  if (spaceOf(source) != spaceOf(result) || source.getElementType() != result.getElementType())
    return emitOpError("a view keeps its buffer's memory space and element type");
  if (!result.getLayout().isIdentity()) return emitOpError("a view must have the identity layout");
  APInt offset;
  if (matchPattern(getOffset(), m_ConstantInt(&offset)) &&
      (offset.isNegative() || offset.getSExtValue() + result.getNumElements() > source.getNumElements()))
    return emitOpError("view [") << offset.getSExtValue() << ", " << offset.getSExtValue() + result.getNumElements()
                                 << ") is outside the buffer's " << source.getNumElements() << " elements";
  return success();
}

LogicalResult KernelDataOp::verify() {
  MemRefType type = getData().getType();
  if (spaceOf(type) != Space::gm) return emitOpError("kernel data lives in GM");
  auto func = (*this)->getParentOfType<func::FuncOp>();
  auto data = func ? func->getAttrOfType<DictionaryAttr>("npu.data") : nullptr;
  auto values = data ? llvm::dyn_cast_if_present<DenseElementsAttr>(data.get(getName())) : nullptr;
  if (!values) return emitOpError("the kernel has no data named '") << getName() << "' (npu.data)";
  if (values.getElementType() != type.getElementType() || values.getNumElements() != type.getNumElements())
    return emitOpError("data '") << getName() << "' holds " << values.getNumElements() << " elements of "
                                 << values.getElementType() << ", not " << type;
  return success();
}

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

namespace fractal::npu::detail {

void instructionEffects(Operation *op, SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  for (const BufferAccess &access : bufferAccesses(op)) {
    effects.emplace_back(MemoryEffects::Read::get(), access.operand);
    if (access.write) effects.emplace_back(MemoryEffects::Write::get(), access.operand);
  }
}

// An instruction op against the ISA's table: a mnemonic of one of `pipes`, the positional
// operands (buffers in allowed spaces, scalars) in kind and number, the keyed parameters by name.
LogicalResult verifyInstruction(Operation *op, llvm::StringRef instruction, ValueRange operands,
                                std::optional<DictionaryAttr> params, ArrayRef<fractal::isa::Pipe> pipes,
                                llvm::StringRef unit, bool hasRepeatAttr, std::optional<ArrayAttr> named) {
  const std::string mnemonic = instruction.substr(0, instruction.find('.')).str();
  const fractal::isa::InstructionSpec *spec = specOf(instruction);
  if (!spec) return op->emitOpError("'") << mnemonic << "' is not an instruction of the ISA";
  if (!llvm::is_contained(pipes, spec->pipe))
    return op->emitOpError("'") << mnemonic << "' is not a " << unit << " instruction (it runs on "
                                << fractal::isa::pipeName(spec->pipe) << ")";
  bool takesRepeat = false;
  for (const fractal::isa::OperandSpec &o : spec->operands) takesRepeat |= o.keyed && std::string(o.name) == "repeat";
  if (hasRepeatAttr && !takesRepeat) return op->emitOpError("'") << mnemonic << "' takes no repeat count";
  const std::vector<const fractal::isa::OperandSpec *> slots = positional(*spec);
  const size_t extra = named ? named->size() : 0;
  if (slots.size() + extra != operands.size())
    return op->emitOpError("'") << mnemonic << "' takes " << slots.size() << " operands"
                                << (extra ? " and the " + std::to_string(extra) + " named" : std::string()) << ", got "
                                << operands.size();
  // Named operands: keyed register operands of the instruction, each once; a buffer gives its
  // address, anything else its value.
  for (size_t i = 0; i < extra; ++i) {
    const llvm::StringRef name = llvm::cast<StringAttr>((*named)[i]).getValue();
    const auto known = llvm::find_if(spec->operands, [&](const fractal::isa::OperandSpec &o) {
      return o.keyed && o.kind == fractal::isa::OperandKind::Reg && name == o.name;
    });
    if (known == spec->operands.end())
      return op->emitOpError("'") << mnemonic << "' has no register operand '" << name << "'";
    for (size_t j = 0; j < i; ++j)
      if (llvm::cast<StringAttr>((*named)[j]).getValue() == name)
        return op->emitOpError("named operand '") << name << "' given twice";
    const Value operand = operands[slots.size() + i];
    if (!llvm::isa<MemRefType>(operand.getType()) && !operand.getType().isIntOrIndexOrFloat())
      return op->emitOpError("named operand '") << name << "' must be a buffer or a scalar";
  }
  for (auto [i, operand] : llvm::enumerate(operands.take_front(slots.size()))) {
    const bool wantsBuffer = slots[i]->kind == fractal::isa::OperandKind::Mem;
    const bool isBuffer = llvm::isa<MemRefType>(operand.getType());
    if (isBuffer != wantsBuffer)
      return op->emitOpError("operand ") << i << " (" << slots[i]->name << ") must be "
                                         << (wantsBuffer ? "a buffer" : "a scalar");
    if (isBuffer) {
      std::optional<Space> space = spaceOf(operand.getType());
      if (!space || !(slots[i]->allowed & (1u << static_cast<int>(*space)))) {
        std::string allowed;
        for (int s = 0; s <= static_cast<int>(Space::ub); ++s)
          if (slots[i]->allowed & (1u << s))
            allowed += std::string(allowed.empty() ? "" : "|") + stringifySpace(static_cast<Space>(s)).str();
        return op->emitOpError("operand ") << i << " (" << slots[i]->name << ") must be in #npu.space<" << allowed
                                           << ">";
      }
    } else if (!operand.getType().isIntOrIndexOrFloat()) {
      return op->emitOpError("scalar operand ") << i << " must be an integer, index or float";
    }
  }
  if (params) {
    for (NamedAttribute param : *params) {
      const auto known = llvm::find_if(spec->operands, [&](const fractal::isa::OperandSpec &o) {
        return o.keyed && o.kind != fractal::isa::OperandKind::Reg && param.getName().strref() == o.name &&
               !(hasRepeatAttr && param.getName().strref() == "repeat");
      });
      if (known == spec->operands.end())
        return op->emitOpError("'") << mnemonic << "' has no parameter '" << param.getName().strref() << "'";
      auto value = llvm::dyn_cast<IntegerAttr>(param.getValue());
      if (!value) return op->emitOpError("parameter '") << param.getName().strref() << "' must be an integer";
      const int64_t v = value.getValue().getSExtValue();
      if (v < known->min || v > known->max)
        return op->emitOpError("parameter '") << param.getName().strref() << "' = " << v << " is outside ["
                                             << known->min << ", " << known->max << "]";
    }
  }
  return success();
}

} // namespace fractal::npu::detail

using IsaPipe = fractal::isa::Pipe;

void VectorOp::getEffects(SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>> &effects) {
  detail::instructionEffects(*this, effects);
}
LogicalResult VectorOp::verify() {
  return detail::verifyInstruction(*this, getInstruction(), getOperands(), getParams(), {IsaPipe::V}, "vector", true);
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
