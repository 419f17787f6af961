#include "fractal/isa/Encoding.h"

#include <array>
#include <cstring>

namespace fractal::isa {

namespace {

__extension__ typedef unsigned __int128 u128; // GCC/Clang builtin 128-bit integer

u128 load128(const uint8_t *bytes) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  u128 v;
  std::memcpy(&v, bytes, sizeof v);
  return v;
#else
  u128 v = 0;
  for (int i = kInstructionBytes - 1; i >= 0; --i)
    v = (v << 8) | bytes[i];
  return v;
#endif
}

void store128(u128 v, uint8_t *bytes) {
  for (int i = 0; i < kInstructionBytes; ++i) {
    bytes[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

u128 fieldMask(int bits) { return bits >= 128 ? ~u128(0) : ((u128(1) << bits) - 1); }

// Raw field bits of an operand value: two's complement for signed fields, space in the top 3
// bits of a Mem field.
uint64_t fieldBits(const OperandSpec &o, int64_t value, Space space) {
  if (o.kind == OperandKind::Mem)
    return (static_cast<uint64_t>(space) << 5) | (static_cast<uint64_t>(value) & 31);
  return static_cast<uint64_t>(value) & static_cast<uint64_t>(fieldMask(o.bits));
}

} // namespace

std::string operandProblem(const OperandSpec &o, int64_t value, Space space) {
  auto range = [&]() {
    return "operand '" + std::string(o.name) + "' = " + std::to_string(value) +
           " is out of range [" + std::to_string(o.min) + ", " + std::to_string(o.max) + "]";
  };
  switch (o.kind) {
  case OperandKind::Reg:
    if (value < 0 || value >= kNumRegisters)
      return "operand '" + std::string(o.name) + "': no register x" + std::to_string(value);
    return "";
  case OperandKind::Mem:
    if (value < 0 || value >= kNumRegisters)
      return "operand '" + std::string(o.name) + "': no register x" + std::to_string(value);
    if (static_cast<int>(space) >= kNumSpaces || !(o.allowed & spaceBit(space))) {
      std::string allowed;
      for (int s = 0; s < kNumSpaces; ++s)
        if (o.allowed & (1u << s))
          allowed += (allowed.empty() ? "" : ", ") + std::string(spaceName(static_cast<Space>(s)));
      return "operand '" + std::string(o.name) + "': wrong buffer kind " +
             (static_cast<int>(space) < kNumSpaces ? std::string(spaceName(space))
                                                   : "#" + std::to_string(int(space))) +
             " (allowed: " + allowed + ")";
    }
    return "";
  case OperandKind::Imm:
  case OperandKind::Label:
    if (value < o.min || value > o.max)
      return range();
    if (o.alignment > 1 && value % o.alignment != 0)
      return "operand '" + std::string(o.name) + "' = " + std::to_string(value) +
             " is not a multiple of " + std::to_string(o.alignment);
    return "";
  case OperandKind::PipeSel:
    if (!isValidPipeEncoding(value))
      return "operand '" + std::string(o.name) + "': invalid pipe #" + std::to_string(value);
    return "";
  case OperandKind::SReg:
    if (value < o.min || value > o.max)
      return "operand '" + std::string(o.name) + "': invalid special register #" +
             std::to_string(value);
    return "";
  case OperandKind::Type:
    if (value < 0 || value >= kNumDataTypes || !(o.allowed & (1u << value))) {
      std::string allowed;
      for (int t = 0; t < kNumDataTypes; ++t)
        if (o.allowed & (1u << t))
          allowed +=
              (allowed.empty() ? "." : ", .") + std::string(dataTypeName(static_cast<DataType>(t)));
      return "operand '" + std::string(o.name) + "': type " +
             (value >= 0 && value < kNumDataTypes
                  ? std::string(dataTypeName(static_cast<DataType>(value)))
                  : "#" + std::to_string(value)) +
             " not allowed (allowed: " + allowed + ")";
    }
    return "";
  case OperandKind::Cmp:
    if (value < o.min || value > o.max)
      return "operand 'cmp': invalid compare mode #" + std::to_string(value);
    return "";
  }
  return "";
}

namespace {

// Rules that involve more than one operand.
std::string checkInstructionRules(const Instruction &inst) {
  switch (inst.opcode) {
  case Opcode::Vconv: {
    auto from = static_cast<DataType>(inst.operand("from"));
    auto to = static_cast<DataType>(inst.operand("to"));
    auto pair = [&](DataType a, DataType b) {
      return (from == a && to == b) || (from == b && to == a);
    };
    if (pair(DataType::F32, DataType::F16) || pair(DataType::F16, DataType::S8) ||
        pair(DataType::F32, DataType::S32) || pair(DataType::F16, DataType::S32))
      return "";
    return std::string("unsupported conversion .") + dataTypeName(from) + " -> ." +
           dataTypeName(to);
  }
  case Opcode::SetFlag:
  case Opcode::WaitFlag: {
    auto src = static_cast<Pipe>(inst.operand("src"));
    auto dst = static_cast<Pipe>(inst.operand("dst"));
    if (src == Pipe::ALL || dst == Pipe::ALL)
      return "flags connect two pipes; 'all' is only valid for barrier";
    if (src == dst)
      return "flag source and destination are the same pipe (use barrier)";
    return "";
  }
  case Opcode::Gm2L1Nz:
    if (inst.operand("dst_rows") < inst.operand("rows"))
      return "dst_rows (" + std::to_string(inst.operand("dst_rows")) + ") is smaller than rows (" +
             std::to_string(inst.operand("rows")) + ")";
    // Rows (ND) or planes (planar) must not overlap: the stride spans a row's cols or a plane's rows.
    if (const char *spanned = inst.operand("planar") ? "rows" : "cols"; inst.operand("src_stride") < inst.operand(spanned))
      return "src_stride (" + std::to_string(inst.operand("src_stride")) + ") is smaller than " + spanned + " (" +
             std::to_string(inst.operand(spanned)) + ")" + (inst.operand("planar") ? ", the plane's length" : "");
    if (inst.operand("from_f32") && static_cast<DataType>(inst.operand("type")) != DataType::F16)
      return "from_f32=1 converts float32 to f16: the type must be .f16";
    return "";
  case Opcode::Fixp:
    if (inst.operand("src_rows") < inst.operand("m"))
      return "src_rows (" + std::to_string(inst.operand("src_rows")) + ") is smaller than m (" +
             std::to_string(inst.operand("m")) + ")";
    return "";
  default: return "";
  }
}

} // namespace

Status validateInstruction(const Instruction &inst) {
  if (static_cast<int>(inst.opcode) >= numOpcodes())
    return Error::badInput("illegal opcode " + std::to_string(int(inst.opcode)));
  const InstructionSpec &s = inst.info();
  for (size_t i = 0; i < s.operands.size(); ++i) {
    std::string why = operandProblem(s.operands[i], inst.values[i], inst.spaces[i]);
    if (!why.empty())
      return Error::badInput(std::string(s.mnemonic) + ": " + why);
  }
  std::string why = checkInstructionRules(inst);
  if (!why.empty())
    return Error::badInput(std::string(s.mnemonic) + ": " + why);
  return Status::success();
}

void encodeInstruction(const Instruction &inst, uint8_t out[kInstructionBytes]) {
  const InstructionSpec &s = inst.info();
  u128 word = static_cast<uint8_t>(inst.opcode);
  for (size_t i = 0; i < s.operands.size(); ++i) {
    const OperandSpec &o = s.operands[i];
    u128 bits = fieldBits(o, inst.values[i], inst.spaces[i]) & fieldMask(o.bits);
    word |= bits << o.lsb;
  }
  store128(word, out);
}

namespace {
// How to unpack one opcode's operand fields, flattened out of its InstructionSpec: a simulator
// decodes every instruction it fetches from encoded code (a runtime keeps a model's code encoded),
// and walking the spec's OperandSpecs cost ~55 ns an instruction against ~10 ns for this.
struct FieldLayout {
  // Without branches on the operand kind: value = sign-extended (raw & valueMask) by signShift,
  // space = raw >> 5 for a Mem operand (spaceMask 7), 0 otherwise (spaceMask 0).
  struct Field {
    uint64_t mask; // of the field's bits (at most 64), once shifted down
    uint64_t valueMask;
    uint8_t lsb, signShift, spaceMask;
  };
  uint8_t count = 0;
  std::array<Field, kMaxOperands> fields{};
};

const std::vector<FieldLayout> &fieldLayouts() {
  static const std::vector<FieldLayout> layouts = [] {
    std::vector<FieldLayout> all;
    for (const InstructionSpec &s : instructionTable()) {
      FieldLayout l;
      l.count = static_cast<uint8_t>(s.operands.size());
      for (size_t i = 0; i < s.operands.size(); ++i) {
        const OperandSpec &o = s.operands[i];
        const bool mem = o.kind == OperandKind::Mem, isSigned = !mem && o.min < 0 && o.bits < 64;
        l.fields[i] = {static_cast<uint64_t>(fieldMask(o.bits)), mem ? 31 : ~uint64_t(0), static_cast<uint8_t>(o.lsb),
                       static_cast<uint8_t>(isSigned ? 64 - o.bits : 0), static_cast<uint8_t>(mem ? 7 : 0)};
      }
      all.push_back(l);
    }
    return all;
  }();
  return layouts;
}

// The operand fields of a word whose opcode is known to be in range.
Instruction decodeFields(u128 word) {
  Instruction inst;
  inst.opcode = static_cast<Opcode>(static_cast<int>(word & 0xff));
  const FieldLayout &l = fieldLayouts()[static_cast<size_t>(inst.opcode)];
  for (size_t i = 0; i < l.count; ++i) {
    const FieldLayout::Field &f = l.fields[i];
    const uint64_t raw = static_cast<uint64_t>(word >> f.lsb) & f.mask;
    inst.values.set(i, static_cast<int64_t>((raw & f.valueMask) << f.signShift) >> f.signShift);
    inst.spaces[i] = static_cast<Space>((raw >> 5) & f.spaceMask);
  }
  return inst;
}
} // namespace

Expected<Instruction> decodeInstruction(const uint8_t *bytes, uint64_t byteOffset) {
  auto at = [&]() { return " at byte offset " + std::to_string(byteOffset); };
  u128 word = load128(bytes);
  int opcode = static_cast<int>(word & 0xff);
  if (opcode >= numOpcodes()) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", opcode);
    return Error::badInput(std::string("illegal opcode ") + hex + at());
  }
  const InstructionSpec &s = spec(static_cast<Opcode>(opcode));
  if (s.usedBits < kInstructionBits && (word >> s.usedBits) != 0)
    return Error::badInput(std::string(s.mnemonic) + ": reserved bits " +
                           std::to_string(s.usedBits) + "..127 are set" + at());
  Instruction inst = decodeFields(word);
  if (Status st = validateInstruction(inst); !st)
    return Error::badInput(st.error().message + at());
  return inst;
}

Instruction decodeValidInstruction(const uint8_t *bytes) { return decodeFields(load128(bytes)); }

} // namespace fractal::isa
