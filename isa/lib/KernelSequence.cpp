#include "fractal/isa/KernelSequence.h"

#include "MovedCode.h"

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
        emit(instruction(Opcode::Jmp, {{"target", int64_t(k.code.size() - pc)}}), d); // to the part's end
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
    if (Status s = retargetBranches(k.code, out.code, base, origin, newPc, source + ": " + partName(), ""); !s)
      return s.error();
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
