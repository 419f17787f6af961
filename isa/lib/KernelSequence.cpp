#include "fractal/isa/KernelSequence.h"

#include "fractal/isa/Disassembler.h"

#include <algorithm>

namespace fractal::isa {
namespace {

constexpr size_t kDataAlignment = 512; // the loader's alignment of a kernel's data (Simulator)

Instruction instruction(Opcode op, std::initializer_list<std::pair<const char *, int64_t>> operands) {
  Instruction inst = makeInstruction(op);
  for (const auto &[name, value] : operands) inst.values[inst.operandIndex(name)] = value;
  return inst;
}

} // namespace

Expected<KernelBinary> sequenceKernels(const std::vector<SequencePart> &parts, const std::string &source,
                                       std::vector<SequenceRange> *ranges) {
  if (parts.empty()) return Error::badInput(source + ": a kernel sequence needs at least one kernel");
  KernelBinary out;
  out.target = parts.front().kernel->target;
  out.source = source;
  const bool debug = std::any_of(parts.begin(), parts.end(), [](const SequencePart &p) { return !p.kernel->debug.empty(); });
  // Appends an instruction with the debug entry of `note` (a part's note index, or none).
  const KernelBinary *current = nullptr;
  auto emit = [&](const Instruction &inst, const DebugEntry *from) {
    out.code.push_back(inst);
    if (!debug) return;
    if (from && from->note != DebugEntry::kNoNote)
      out.addDebug(from->line, current->notes.at(from->note));
    else
      out.addDebug(from ? from->line : 0, "");
  };

  for (size_t i = 0; i < parts.size(); ++i) {
    const KernelBinary &k = *parts[i].kernel;
    current = &k;
    if (k.target != out.target)
      return Error::badInput(source + ": part " + std::to_string(i) + " (" + k.source + ") is for target '" +
                             k.target + "', the first for '" + out.target + "'");
    if (k.code.empty()) return Error::badInput(source + ": part " + std::to_string(i) + " (" + k.source + ") has no instructions");
    const auto partName = [&] { return "part " + std::to_string(i) + " (" + k.source + ")"; };
    if (i > 0) {
      // What a launch gives the next part: every pipe drained (its GM writes landed), registers
      // zero, the vector mask all ones, the feature-map register zero.
      emit(instruction(Opcode::Barrier, {{"pipe", int64_t(Pipe::ALL)}}), nullptr);
      emit(instruction(Opcode::Li, {{"xd", 1}, {"imm", -1}}), nullptr);
      emit(instruction(Opcode::SetMask, {{"xhi", 1}, {"xlo", 1}}), nullptr);
      emit(instruction(Opcode::SetFmap, {{"xa", 0}}), nullptr);
      for (int r = 1; r < kNumRegisters; ++r) emit(instruction(Opcode::Li, {{"xd", r}, {"imm", 0}}), nullptr);
    }
    while (out.data.size() % kDataAlignment) out.data.push_back(0);
    const uint64_t dataOffset = out.data.size();
    out.data.insert(out.data.end(), k.data.begin(), k.data.end());

    const size_t base = out.code.size();
    // newPc[p]: where the part's instruction p lands; newPc[size]: the part's end.
    std::vector<size_t> newPc(k.code.size() + 1);
    std::vector<size_t> origin; // the part's pc of each instruction emitted for it
    for (size_t pc = 0; pc < k.code.size(); ++pc) {
      newPc[pc] = out.code.size();
      const Instruction &inst = k.code[pc];
      const DebugEntry *d = k.debug.empty() ? nullptr : &k.debug[pc];
      if (inst.opcode == Opcode::End) {
        if (pc + 1 == k.code.size()) continue; // the last instruction: fall through to the end
        emit(instruction(Opcode::Jmp, {}), d); // the target is set below
        origin.push_back(pc);
        continue;
      }
      emit(inst, d);
      origin.push_back(pc);
      if (inst.opcode != Opcode::Mfsr) continue;
      const auto sr = SpecialReg(inst.operand("sr"));
      const uint64_t add = sr == SpecialReg::Args ? parts[i].argsOffsetBytes : sr == SpecialReg::DataBase ? dataOffset : 0;
      if (add == 0) continue;
      if (add > uint64_t(INT32_MAX))
        return Error::badInput(source + ": " + partName() + ": offset " + std::to_string(add) + " does not fit addi");
      const int64_t xd = inst.operand("xd");
      emit(instruction(Opcode::Addi, {{"xd", xd}, {"xa", xd}, {"imm", int64_t(add)}}), d);
      origin.push_back(pc);
    }
    newPc[k.code.size()] = out.code.size();
    if (ranges) ranges->push_back({uint32_t(base), uint32_t(out.code.size())});
    for (size_t n = base; n < out.code.size(); ++n) {
      Instruction &inst = out.code[n];
      const size_t from = origin[n - base];
      const bool wasEnd = k.code[from].opcode == Opcode::End;
      const InstructionSpec &spec = inst.info();
      for (size_t o = 0; o < spec.operands.size(); ++o) {
        if (spec.operands[o].kind != OperandKind::Label) continue;
        const int64_t target = wasEnd ? int64_t(k.code.size()) : int64_t(from) + k.code[from].values[o];
        if (target < 0 || target > int64_t(k.code.size()))
          return Error::badInput(source + ": " + partName() + ": pc " + std::to_string(from) + " `" +
                                 formatInstruction(k.code[from]) + "` branches outside the kernel");
        const int64_t offset = int64_t(newPc[size_t(target)]) - int64_t(n);
        if (offset < spec.operands[o].min || offset > spec.operands[o].max)
          return Error::badInput(source + ": " + partName() + ": pc " + std::to_string(from) +
                                 ": the branch offset " + std::to_string(offset) + " no longer fits the instruction");
        inst.values[o] = offset;
      }
    }
    for (const Symbol &s : k.symbols) {
      Symbol moved = s;
      moved.name = "p" + std::to_string(i) + "." + s.name;
      moved.value = uint32_t(s.section == Symbol::Section::Code ? newPc[std::min<size_t>(s.value, k.code.size())]
                                                                : s.value + dataOffset);
      out.symbols.push_back(std::move(moved));
    }
  }
  current = nullptr;
  emit(makeInstruction(Opcode::End), nullptr);
  return out;
}

} // namespace fractal::isa
