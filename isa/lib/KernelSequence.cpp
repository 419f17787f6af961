#include "fractal/isa/KernelSequence.h"

#include "MovedCode.h"

#include <algorithm>
#include <array>
#include <map>
#include <string_view>

namespace fractal::isa {
namespace {

constexpr size_t kDataAlignment = 512; // the loader's alignment of a kernel's data (Simulator)
constexpr uint64_t kMaxArgumentLines = 4; // argument cache lines touched before a part

Instruction instruction(Opcode op, std::initializer_list<std::pair<const char *, int64_t>> operands) {
  Instruction inst = makeInstruction(op);
  for (const auto &[name, value] : operands) inst.values[inst.operandIndex(name)] = value;
  return inst;
}

// The cross-core barrier numbered `number` (KernelSequence.h): x1 flags, x2 block_idx, x5 block_dim,
// x4 the number, x6 the distance d, x9 the round's first flag (round * block_dim), x7 this block's
// flag of the round, x8 the partner's. Branch labels count instructions from the branch.
std::vector<Instruction> crossCoreBarrier(const SequenceBarrier &b, int64_t number) {
  if (b.hardware) return {makeInstruction(Opcode::SyncAll)};
  const int64_t stride = int64_t(kBarrierFlagStride);
  return {
      instruction(Opcode::Mfsr, {{"xd", 1}, {"sr", int64_t(SpecialReg::Args)}}),
      instruction(Opcode::Addi, {{"xd", 1}, {"xa", 1}, {"imm", int64_t(b.flagsOffsetBytes)}}),
      instruction(Opcode::Mfsr, {{"xd", 2}, {"sr", int64_t(SpecialReg::BlockIdx)}}),
      instruction(Opcode::Mfsr, {{"xd", 5}, {"sr", int64_t(SpecialReg::BlockDim)}}),
      instruction(Opcode::Li, {{"xd", 4}, {"imm", number}}),
      instruction(Opcode::Li, {{"xd", 6}, {"imm", 1}}),
      instruction(Opcode::Li, {{"xd", 9}, {"imm", 0}}),
      // round: while d < block_dim
      instruction(Opcode::Bge, {{"xa", 6}, {"xb", 5}, {"target", 17}}),
      instruction(Opcode::Add, {{"xd", 7}, {"xa", 9}, {"xb", 2}}),
      instruction(Opcode::Muli, {{"xd", 7}, {"xa", 7}, {"imm", stride}}),
      instruction(Opcode::Add, {{"xd", 7}, {"xa", 1}, {"xb", 7}}),
      instruction(Opcode::St, {{"xs", 4}, {"dst", 7}}),
      instruction(Opcode::Add, {{"xd", 8}, {"xa", 2}, {"xb", 5}}), // partner (i - d) mod block_dim
      instruction(Opcode::Sub, {{"xd", 8}, {"xa", 8}, {"xb", 6}}),
      instruction(Opcode::Rem, {{"xd", 8}, {"xa", 8}, {"xb", 5}}),
      instruction(Opcode::Add, {{"xd", 8}, {"xa", 9}, {"xb", 8}}),
      instruction(Opcode::Muli, {{"xd", 8}, {"xa", 8}, {"imm", stride}}),
      instruction(Opcode::Add, {{"xd", 8}, {"xa", 1}, {"xb", 8}}),
      // spin until the partner's flag reaches the number
      instruction(Opcode::Dcci, {{"addr", 8}}),
      instruction(Opcode::Ld, {{"xd", 10}, {"src", 8}}),
      instruction(Opcode::Blt, {{"xa", 10}, {"xb", 4}, {"target", -2}}),
      instruction(Opcode::Add, {{"xd", 9}, {"xa", 9}, {"xb", 5}}),
      instruction(Opcode::Add, {{"xd", 6}, {"xa", 6}, {"xb", 6}}),
      instruction(Opcode::Jmp, {{"target", -16}}),
  };
}

// What the straight-line start of a part knows a register holds: the part's argument base or
// data base plus `offset`, argument word `word`'s value plus `offset`, or the constant `offset`.
struct KnownValue {
  enum Kind { Unknown, Args, ArgWord, Data, Constant } kind = Unknown;
  int64_t word = 0, offset = 0;
};

// A copy of read-only data at `pc` of a part, its GM source and on-chip destination known.
struct EarlyLoad {
  size_t pc;
  KnownValue src;
  int64_t dst;
};

// The part's copies that may be issued before the cross-core barrier (KernelSequence.h): GM ->
// L1/UB copies of read-only arguments or the data section, with immediate operands, in the
// straight-line start that no branch re-enters. Register writes are followed; anything that
// could order, feed or clobber such a copy (a branch, wait, barrier, store, cache operation or
// another pipe's instruction) ends the search.
std::vector<EarlyLoad> earlyLoads(const KernelBinary &k, const std::vector<bool> &readOnlyArgs) {
  std::vector<EarlyLoad> out;
  if (readOnlyArgs.empty()) return out;
  size_t firstTarget = k.code.size(); // no branch lands at or before a hoisted copy
  for (size_t pc = 0; pc < k.code.size(); ++pc) {
    const Instruction &inst = k.code[pc];
    const std::vector<OperandSpec> &ops = inst.info().operands;
    for (size_t o = 0; o < ops.size(); ++o)
      if (ops[o].kind == OperandKind::Label) firstTarget = std::min<size_t>(firstTarget, size_t(int64_t(pc) + inst.values[o]));
  }
  std::array<KnownValue, kNumRegisters> regs{};
  regs[0] = {KnownValue::Constant, 0, 0};
  auto set = [&](int64_t reg, KnownValue v) {
    if (reg > 0 && reg < kNumRegisters) regs[size_t(reg)] = v;
  };
  for (size_t pc = 0; pc < firstTarget && out.size() < kMaxEarlyLoads; ++pc) {
    const Instruction &inst = k.code[pc];
    switch (inst.opcode) {
    case Opcode::Nop:
    case Opcode::SetFlag:
      continue;
    case Opcode::Li:
      set(inst.operand("xd"), {KnownValue::Constant, 0, inst.operand("imm")});
      continue;
    case Opcode::Mfsr: {
      const auto sr = SpecialReg(inst.operand("sr"));
      set(inst.operand("xd"), sr == SpecialReg::Args       ? KnownValue{KnownValue::Args, 0, 0}
                              : sr == SpecialReg::DataBase ? KnownValue{KnownValue::Data, 0, 0}
                                                           : KnownValue{});
      continue;
    }
    case Opcode::Addi: {
      KnownValue v = regs[size_t(inst.operand("xa"))];
      if (v.kind != KnownValue::Unknown) v.offset += inst.operand("imm");
      set(inst.operand("xd"), v);
      continue;
    }
    case Opcode::Ld: {
      const KnownValue base = regs[size_t(inst.operand("src"))];
      const int64_t at = base.offset + inst.operand("offset");
      set(inst.operand("xd"), base.kind == KnownValue::Args && at >= 0 && at % 8 == 0 ? KnownValue{KnownValue::ArgWord, at / 8, 0}
                                                                                      : KnownValue{});
      continue;
    }
    case Opcode::Gm2L1:
    case Opcode::Gm2Ub: {
      const KnownValue src = regs[size_t(inst.operand("src"))], dst = regs[size_t(inst.operand("dst"))];
      const bool readOnly = src.kind == KnownValue::Data ||
                            (src.kind == KnownValue::ArgWord && size_t(src.word) < readOnlyArgs.size() && readOnlyArgs[size_t(src.word)]);
      if (!readOnly || dst.kind != KnownValue::Constant) return out;
      out.push_back({pc, src, dst.offset});
      continue;
    }
    default:
      break;
    }
    // Other scalar arithmetic only changes its destination; anything else ends the start.
    const InstructionSpec &spec = inst.info();
    if (spec.pipe != Pipe::S || spec.pipeOperand >= 0 || inst.opcode == Opcode::St || inst.opcode == Opcode::Stw ||
        inst.opcode == Opcode::Dcci || inst.opcode == Opcode::End)
      return out;
    bool branch = false;
    for (const OperandSpec &o : spec.operands) branch |= o.kind == OperandKind::Label;
    if (branch) return out;
    for (size_t o = 0; o < spec.operands.size(); ++o)
      if (spec.operands[o].kind == OperandKind::Reg && std::string_view(spec.operands[o].name) == "xd") set(inst.values[o], {});
  }
  return out;
}

} // namespace

int barrierRounds(int64_t blockDim) {
  int rounds = 0;
  for (int64_t d = 1; d < blockDim; d *= 2) ++rounds;
  return rounds;
}

uint64_t barrierFlagBytes(int64_t blockDim) {
  return blockDim > 1 ? uint64_t(barrierRounds(blockDim)) * uint64_t(blockDim) * kBarrierFlagStride : 0;
}

Expected<KernelBinary> sequenceKernels(const std::vector<SequencePart> &parts, const std::string &source,
                                       std::vector<SequenceRange> *ranges, const SequenceBarrier *barrier) {
  if (barrier && barrier->flagsOffsetBytes > uint64_t(INT32_MAX))
    return Error::badInput(source + ": barrier flags at argument byte " + std::to_string(barrier->flagsOffsetBytes) +
                           " do not fit addi");
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

  std::map<std::vector<uint8_t>, uint64_t> dataOffsets; // a part's data section -> where it lies
  for (size_t i = 0; i < parts.size(); ++i) {
    const KernelBinary &k = *parts[i].kernel;
    current = &k;
    if (k.target != out.target)
      return Error::badInput(source + ": part " + std::to_string(i) + " (" + k.source + ") is for target '" +
                             k.target + "', the first for '" + out.target + "'");
    if (k.code.empty()) return Error::badInput(source + ": part " + std::to_string(i) + " (" + k.source + ") has no instructions");
    const auto partName = [&] { return "part " + std::to_string(i) + " (" + k.source + ")"; };
    // A part made for fewer blocks than the launch has: the others branch straight to its end
    // (the next barrier) before the registers are cleared; the branch is patched below.
    const int64_t partBlocks = parts[i].blockDim;
    const bool narrower = barrier && partBlocks > 0 && partBlocks < barrier->blockDim;
    size_t skipBranch = 0;
    // A part whose data section another part already brought (the same bytes: the constant
    // tables of kernels of one kind, e.g. the identity matrix of a residual step) reads that copy:
    // data sections are read-only, and one copy is less device memory and warmer L2 lines.
    auto sameData = k.data.empty() ? dataOffsets.end() : dataOffsets.find(k.data);
    const bool dataShared = sameData != dataOffsets.end();
    if (!dataShared)
      while (out.data.size() % kDataAlignment) out.data.push_back(0);
    const uint64_t dataOffset = dataShared ? sameData->second : out.data.size();
    // Copies issued before the cross-core barrier (not for a narrower part: the blocks that skip
    // it would load for nothing).
    const std::vector<EarlyLoad> early = i > 0 && barrier && !narrower ? earlyLoads(k, parts[i].readOnlyArgs)
                                                                     : std::vector<EarlyLoad>{};
    size_t entry = 0; // where the part's range starts: its early loads, else its code
    auto emitSkip = [&] {
      emit(instruction(Opcode::Mfsr, {{"xd", 1}, {"sr", int64_t(SpecialReg::BlockIdx)}}), nullptr);
      emit(instruction(Opcode::Li, {{"xd", 2}, {"imm", partBlocks}}), nullptr);
      emit(instruction(Opcode::Bge, {{"xa", 1}, {"xb", 2}, {"target", 0}}), nullptr);
      return out.code.size() - 1;
    };
    if (i > 0) {
      // The part's argument words into the scalar data cache while the pipes drain: its first
      // loads (early or its own) then read them without a GM round trip. (A blocking load here
      // overlaps the drain that `barrier all` waits for anyway; the lines stay valid, nothing in
      // a launch writes arguments.)
      if (!parts[i].readOnlyArgs.empty()) {
        const uint64_t first = parts[i].argsOffsetBytes / kBarrierFlagStride * kBarrierFlagStride;
        const uint64_t end = parts[i].argsOffsetBytes + 8 * parts[i].readOnlyArgs.size();
        emit(instruction(Opcode::Mfsr, {{"xd", 2}, {"sr", int64_t(SpecialReg::Args)}}), nullptr);
        for (uint64_t at = first, n = 0; at < end && n < kMaxArgumentLines && at <= uint64_t(INT32_MAX);
             at += kBarrierFlagStride, ++n)
          emit(instruction(Opcode::Ld, {{"xd", 3}, {"src", 2}, {"offset", int64_t(at)}}), nullptr);
      }
      // What a launch gives the next part: every pipe drained (its GM writes landed; with a
      // barrier, every block's), registers zero, the vector mask all ones, the feature-map
      // register zero.
      emit(instruction(Opcode::Barrier, {{"pipe", int64_t(Pipe::ALL)}}), nullptr);
      size_t skipBarrier = 0;
      if (!early.empty()) {
        emit(instruction(Opcode::Li, {{"xd", 1}, {"imm", 1}}), nullptr); // came from the previous part
        entry = out.code.size();                                         // a part started alone has x1 = 0
        for (const EarlyLoad &e : early) {
          const DebugEntry debugEntry = k.debug.empty() ? DebugEntry() : k.debug[e.pc];
          const DebugEntry *d = k.debug.empty() ? nullptr : &debugEntry;
          if (e.src.kind == KnownValue::Data) {
            emit(instruction(Opcode::Mfsr, {{"xd", 3}, {"sr", int64_t(SpecialReg::DataBase)}}), d);
            const uint64_t at = dataOffset + uint64_t(e.src.offset);
            if (at > uint64_t(INT32_MAX))
              return Error::badInput(source + ": " + partName() + ": data offset " + std::to_string(at) + " does not fit addi");
            emit(instruction(Opcode::Addi, {{"xd", 3}, {"xa", 3}, {"imm", int64_t(at)}}), d);
          } else {
            const uint64_t at = parts[i].argsOffsetBytes + 8 * uint64_t(e.src.word);
            if (at > uint64_t(INT32_MAX))
              return Error::badInput(source + ": " + partName() + ": argument byte " + std::to_string(at) + " does not fit ld");
            emit(instruction(Opcode::Mfsr, {{"xd", 2}, {"sr", int64_t(SpecialReg::Args)}}), d);
            emit(instruction(Opcode::Ld, {{"xd", 3}, {"src", 2}, {"offset", int64_t(at)}}), d);
            if (e.src.offset != 0) emit(instruction(Opcode::Addi, {{"xd", 3}, {"xa", 3}, {"imm", e.src.offset}}), d);
          }
          emit(instruction(Opcode::Li, {{"xd", 4}, {"imm", e.dst}}), d);
          Instruction copy = k.code[e.pc];
          copy.values[copy.operandIndex("dst")] = 4;
          copy.values[copy.operandIndex("src")] = 3;
          emit(copy, d);
        }
        emit(instruction(Opcode::Beq, {{"xa", 1}, {"xb", 0}, {"target", 0}}), nullptr);
        skipBarrier = out.code.size() - 1;
      }
      // Two parts made for one block run on block 0 alone, in order: no other block wrote what
      // the second reads since the first began (the barrier before the first saw to that), so
      // none is needed between them (the other blocks skip both and wait at the next one).
      const bool bothOnBlockZero = parts[i].blockDim == 1 && parts[i - 1].blockDim == 1;
      if (barrier && !bothOnBlockZero)
        for (const Instruction &inst : crossCoreBarrier(*barrier, int64_t(i))) emit(inst, nullptr);
      if (!early.empty())
        out.code[skipBarrier].values[out.code[skipBarrier].operandIndex("target")] = int64_t(out.code.size() - skipBarrier);
      if (narrower) skipBranch = emitSkip();
      emit(instruction(Opcode::Li, {{"xd", 1}, {"imm", -1}}), nullptr);
      emit(instruction(Opcode::SetMask, {{"xhi", 1}, {"xlo", 1}}), nullptr);
      emit(instruction(Opcode::SetFmap, {{"xa", 0}}), nullptr);
      for (int r = 1; r < kNumRegisters; ++r) emit(instruction(Opcode::Li, {{"xd", r}, {"imm", 0}}), nullptr);
    }
    if (i == 0 && narrower) {
      skipBranch = emitSkip();
      for (int r : {1, 2}) emit(instruction(Opcode::Li, {{"xd", r}, {"imm", 0}}), nullptr);
    }
    if (!dataShared && !k.data.empty()) {
      dataOffsets.emplace(k.data, dataOffset);
      out.data.insert(out.data.end(), k.data.begin(), k.data.end());
    }

    const size_t base = out.code.size();
    if (early.empty()) entry = base;
    // newPc[p]: where the part's instruction p lands; newPc[size]: the part's end.
    std::vector<size_t> newPc(k.code.size() + 1);
    std::vector<size_t> origin; // the part's pc of each instruction emitted for it
    for (size_t pc = 0; pc < k.code.size(); ++pc) {
      newPc[pc] = out.code.size();
      const Instruction &inst = k.code[pc];
      const DebugEntry debugEntry = k.debug.empty() ? DebugEntry() : k.debug[pc];
      const DebugEntry *d = k.debug.empty() ? nullptr : &debugEntry;
      if (inst.opcode == Opcode::End) {
        if (pc + 1 == k.code.size()) continue; // the last instruction: fall through to the end
        emit(instruction(Opcode::Jmp, {{"target", int64_t(k.code.size() - pc)}}), d); // to the part's end
        origin.push_back(pc);
        continue;
      }
      if (inst.opcode != Opcode::Mfsr) {
        const bool issued = std::any_of(early.begin(), early.end(), [&](const EarlyLoad &e) { return e.pc == pc; });
        emit(issued ? makeInstruction(Opcode::Nop) : inst, d);
        origin.push_back(pc);
        continue;
      }
      const auto sr = SpecialReg(inst.operand("sr"));
      if (narrower && sr == SpecialReg::BlockDim)
        emit(instruction(Opcode::Li, {{"xd", inst.operand("xd")}, {"imm", partBlocks}}), d); // its own block_dim
      else
        emit(inst, d);
      origin.push_back(pc);
      const uint64_t add = sr == SpecialReg::Args ? parts[i].argsOffsetBytes : sr == SpecialReg::DataBase ? dataOffset : 0;
      if (add == 0) continue;
      if (add > uint64_t(INT32_MAX))
        return Error::badInput(source + ": " + partName() + ": offset " + std::to_string(add) + " does not fit addi");
      const int64_t xd = inst.operand("xd");
      emit(instruction(Opcode::Addi, {{"xd", xd}, {"xa", xd}, {"imm", int64_t(add)}}), d);
      origin.push_back(pc);
    }
    newPc[k.code.size()] = out.code.size();
    if (narrower)
      out.code[skipBranch].values[out.code[skipBranch].operandIndex("target")] = int64_t(newPc[k.code.size()] - skipBranch);
    if (ranges) ranges->push_back({uint32_t(entry), uint32_t(out.code.size())});
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
