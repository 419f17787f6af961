// Expands Instructions.def into the instruction table and assigns bit fields. Names of pipes,
// spaces, types and special registers live here too, so the assembler and disassembler agree.
#include "fractal/isa/Isa.h"

#include <climits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace fractal::isa {

namespace {

constexpr uint32_t GM = spaceBit(Space::GM), L1 = spaceBit(Space::L1), L0A = spaceBit(Space::L0A),
                   L0B = spaceBit(Space::L0B), L0C = spaceBit(Space::L0C), UB = spaceBit(Space::UB);
constexpr uint32_t F16 = typeBit(DataType::F16), F32 = typeBit(DataType::F32),
                   S8 = typeBit(DataType::S8), S32 = typeBit(DataType::S32);

OperandSpec reg(const char *name) {
  return {name, OperandKind::Reg, 5, 0, kNumRegisters - 1, 0, 0, false, 1, "register"};
}
OperandSpec keyReg(const char *name) {
  return {name, OperandKind::Reg, 5, 0, kNumRegisters - 1, 0, 0, true, 1,
          "optional register (x0 = none)"};
}
OperandSpec mem(const char *name, uint32_t spaces) {
  return {name, OperandKind::Mem, 8, 0, kNumRegisters - 1, 0, spaces, false, 1,
          "space[xN]: byte address in xN"};
}
OperandSpec imm(const char *name, int bits, int64_t min, int64_t max) {
  return {name, OperandKind::Imm, bits, min, max, 0, 0, false, 1, "immediate"};
}
OperandSpec key(const char *name, int bits, int64_t min, int64_t max, int64_t def,
                int64_t alignment = 1) {
  return {name, OperandKind::Imm, bits, min, max, def, 0, true, alignment, "optional immediate"};
}
OperandSpec label(const char *name) {
  return {name, OperandKind::Label, 32, INT32_MIN, INT32_MAX, 0, 0, false, 1,
          "branch target (label)"};
}
OperandSpec pipeSel(const char *name) {
  return {name, OperandKind::PipeSel, 4, 0, 15, 0, 0, false, 1, "pipe name"};
}
OperandSpec sreg(const char *name) {
  return {name, OperandKind::SReg, 3, 0, 5, 0, 0, false, 1, "special register name"};
}
OperandSpec type(uint32_t allowed, const char *name = "type") {
  return {name, OperandKind::Type, 3, 0, kNumDataTypes - 1, 0, allowed, false, 1,
          "data type suffix"};
}
OperandSpec cmp() {
  return {"cmp", OperandKind::Cmp, 3, 0, 5, 0, 0, false, 1, "compare mode suffix"};
}

// Vector operand groups. Strides count 32-byte blocks; a repeat stride of 8 is contiguous.
#define VREPEAT key("repeat", 8, 0, 255, 1)
#define VSTRIDE(blk, rep) key(blk, 8, 0, 255, 1), key(rep, 8, 0, 255, 8)
#define VDST VSTRIDE("dst_blk", "dst_rep")
#define VBINARY                                                                                    \
  mem("dst", UB), mem("src0", UB), mem("src1", UB), VREPEAT, VDST, VSTRIDE("src0_blk", "src0_rep"), \
      VSTRIDE("src1_blk", "src1_rep")
#define VUNARY mem("dst", UB), mem("src", UB), VREPEAT, VDST, VSTRIDE("src_blk", "src_rep")
#define VSCALAR                                                                                    \
  mem("dst", UB), mem("src", UB), reg("xs"), VREPEAT, VDST, VSTRIDE("src_blk", "src_rep")
#define VCOMPARE                                                                                   \
  mem("dst", UB), mem("src0", UB), mem("src1", UB), VREPEAT, VSTRIDE("src0_blk", "src0_rep"),      \
      VSTRIDE("src1_blk", "src1_rep")
#define VREDUCE mem("dst", UB), mem("src", UB), VREPEAT, VSTRIDE("src_blk", "src_rep")
#define NOVT std::nullopt
#define VT(cls) std::optional<VectorTimingClass>(VectorTimingClass::cls)

template <typename... Ops>
InstructionSpec row(Opcode op, const char *mnemonic, Pipe pipe,
                    std::optional<VectorTimingClass> timing, const char *semantics, Ops... ops) {
  InstructionSpec s{op, mnemonic, pipe, -1, timing, semantics, {ops...}};
  return s;
}

std::vector<InstructionSpec> buildTable() {
  std::vector<InstructionSpec> table = {
#define FRACTAL_INSTR(id, mnemonic, pipe, timing, ...)                                             \
  row(Opcode::id, mnemonic, Pipe::pipe, timing, __VA_ARGS__),
#include "fractal/isa/Instructions.def"
#undef FRACTAL_INSTR
  };
  for (InstructionSpec &s : table) {
    if (s.operands.size() > kMaxOperands)
      throw std::logic_error(std::string("instruction table: too many operands in ") + s.mnemonic);
    int bit = kOpcodeBits, wide = 0;
    for (size_t i = 0; i < s.operands.size(); ++i) {
      OperandSpec &o = s.operands[i];
      o.lsb = bit;
      bit += o.bits;
      wide += o.bits > 32 || (o.bits == 32 && o.min >= 0); // an unsigned 32-bit field decodes past INT32_MAX
      // Sync instructions run on a pipe named by an operand: set_flag on src, wait_flag on dst.
      if (o.kind == OperandKind::PipeSel) {
        if (s.opcode == Opcode::WaitFlag && std::string(o.name) == "dst")
          s.pipeOperand = static_cast<int>(i);
        if (s.opcode == Opcode::SetFlag && std::string(o.name) == "src")
          s.pipeOperand = static_cast<int>(i);
        if (s.opcode == Opcode::Barrier)
          s.pipeOperand = static_cast<int>(i);
      }
    }
    if (wide > 1) // a decoded instruction keeps one operand's upper 32 bits (OperandValues)
      throw std::logic_error(std::string("instruction table: ") + s.mnemonic +
                             " has more than one operand whose values need more than 32 bits");
    if (bit > kInstructionBits)
      throw std::logic_error(std::string("instruction table: ") + s.mnemonic + " needs " +
                             std::to_string(bit) + " bits");
    s.usedBits = bit;
  }
  return table;
}

#undef VREPEAT
#undef VSTRIDE
#undef VDST
#undef VBINARY
#undef VUNARY
#undef VSCALAR
#undef VCOMPARE
#undef VREDUCE
#undef NOVT
#undef VT

template <typename Enum, size_t N>
std::optional<Enum> lookup(const std::pair<const char *, Enum> (&names)[N], const std::string &s) {
  for (const auto &[n, v] : names)
    if (s == n)
      return v;
  return std::nullopt;
}
template <typename Enum, size_t N>
const char *nameOf(const std::pair<const char *, Enum> (&names)[N], Enum e) {
  for (const auto &[n, v] : names)
    if (v == e)
      return n;
  return "?";
}

const std::pair<const char *, Pipe> kPipeNames[] = {
    {"s", Pipe::S},       {"v", Pipe::V},       {"m", Pipe::M},     {"mte1", Pipe::MTE1},
    {"mte2", Pipe::MTE2}, {"mte3", Pipe::MTE3}, {"all", Pipe::ALL}, {"fix", Pipe::FIX}};
const std::pair<const char *, Space> kSpaceNames[] = {{"gm", Space::GM},   {"l1", Space::L1},
                                                      {"l0a", Space::L0A}, {"l0b", Space::L0B},
                                                      {"l0c", Space::L0C}, {"ub", Space::UB}};
const std::pair<const char *, DataType> kTypeNames[] = {
    {"f16", DataType::F16}, {"f32", DataType::F32}, {"s8", DataType::S8}, {"s32", DataType::S32}};
const std::pair<const char *, CompareMode> kCompareNames[] = {
    {"eq", CompareMode::EQ}, {"ne", CompareMode::NE}, {"lt", CompareMode::LT},
    {"le", CompareMode::LE}, {"gt", CompareMode::GT}, {"ge", CompareMode::GE}};
const std::pair<const char *, SpecialReg> kSpecialRegNames[] = {
    {"block_idx", SpecialReg::BlockIdx}, {"block_dim", SpecialReg::BlockDim},
    {"core_id", SpecialReg::CoreId},     {"cycle", SpecialReg::Cycle},
    {"data_base", SpecialReg::DataBase}, {"args", SpecialReg::Args}};

} // namespace

const std::vector<InstructionSpec> &instructionTable() {
  static const std::vector<InstructionSpec> table = buildTable();
  return table;
}

int numOpcodes() { return static_cast<int>(instructionTable().size()); }

const InstructionSpec &spec(Opcode op) { return instructionTable().at(static_cast<size_t>(op)); }

const InstructionSpec *findByMnemonic(const std::string &mnemonic) {
  static const std::unordered_map<std::string, const InstructionSpec *> index = [] {
    std::unordered_map<std::string, const InstructionSpec *> m;
    for (const InstructionSpec &s : instructionTable())
      m[s.mnemonic] = &s;
    return m;
  }();
  auto it = index.find(mnemonic);
  return it == index.end() ? nullptr : it->second;
}

const char *pipeName(Pipe p) { return nameOf(kPipeNames, p); }
std::optional<Pipe> pipeFromName(const std::string &n) { return lookup(kPipeNames, n); }
bool isValidPipeEncoding(int64_t v) {
  for (const auto &entry : kPipeNames)
    if (static_cast<int64_t>(entry.second) == v)
      return true;
  return false;
}
const char *spaceName(Space s) { return nameOf(kSpaceNames, s); }
std::optional<Space> spaceFromName(const std::string &n) { return lookup(kSpaceNames, n); }
const char *dataTypeName(DataType t) { return nameOf(kTypeNames, t); }
std::optional<DataType> dataTypeFromName(const std::string &n) { return lookup(kTypeNames, n); }
int dataTypeBytes(DataType t) {
  switch (t) {
  case DataType::F16: return 2;
  case DataType::F32: return 4;
  case DataType::S8: return 1;
  case DataType::S32: return 4;
  }
  return 0;
}
const char *compareModeName(CompareMode m) { return nameOf(kCompareNames, m); }
std::optional<CompareMode> compareModeFromName(const std::string &n) {
  return lookup(kCompareNames, n);
}
const char *specialRegName(SpecialReg r) { return nameOf(kSpecialRegNames, r); }
std::optional<SpecialReg> specialRegFromName(const std::string &n) {
  return lookup(kSpecialRegNames, n);
}

size_t Instruction::operandIndex(const char *name) const {
  const InstructionSpec &s = info();
  // Callers pass string literals, which the linker merges with the table's own within one binary:
  // pointers first (the simulator looks operands up for every instruction it executes), then text.
  for (size_t i = 0; i < s.operands.size(); ++i)
    if (s.operands[i].name == name)
      return i;
  for (size_t i = 0; i < s.operands.size(); ++i)
    if (std::strcmp(s.operands[i].name, name) == 0)
      return i;
  throw std::out_of_range(std::string(s.mnemonic) + " has no operand '" + name + "'");
}

int64_t Instruction::operand(const char *name) const { return values[operandIndex(name)]; }

Space Instruction::space(const char *name) const { return spaces[operandIndex(name)]; }

Pipe Instruction::pipe() const {
  const InstructionSpec &s = info();
  if (s.pipeOperand >= 0)
    return static_cast<Pipe>(values[s.pipeOperand]);
  return s.pipe;
}

Instruction makeInstruction(Opcode op) {
  Instruction inst;
  inst.opcode = op;
  const InstructionSpec &s = spec(op);
  for (size_t i = 0; i < s.operands.size(); ++i) {
    inst.values[i] = s.operands[i].keyed ? s.operands[i].defaultValue : 0;
    // A type defaults to the lowest allowed one, as does a Mem operand's space.
    if (s.operands[i].kind == OperandKind::Type)
      for (int t = 0; t < kNumDataTypes; ++t)
        if (s.operands[i].allowed & (1u << t)) {
          inst.values[i] = t;
          break;
        }
    if (s.operands[i].kind == OperandKind::Mem)
      for (int sp = 0; sp < kNumSpaces; ++sp)
        if (s.operands[i].allowed & (1u << sp)) {
          inst.spaces[i] = static_cast<Space>(sp);
          break;
        }
  }
  return inst;
}

} // namespace fractal::isa
