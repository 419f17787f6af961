// Fractal's NPU instruction set: enums and the instruction table. Every instruction is defined
// once, in Instructions.def; the opcode enum (the simulator's dispatch), the encoder, decoder,
// assembler, disassembler, docs/isa.md and the RTL's SystemVerilog package all derive from it.
#pragma once

#include "fractal/config/ChipConfig.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fractal::isa {

constexpr int kInstructionBytes = 16; // fixed 128-bit instructions
constexpr int kInstructionBits = 128;
constexpr int kOpcodeBits = 8;
constexpr int kNumRegisters = 32;     // x0 reads as zero, writes to it are ignored
// The most operands any instruction has (load3d and vsel: 12); every decoded Instruction and
// every queued pipe op holds this many slots, and a compiled model holds thousands of them.
constexpr int kMaxOperands = 12;
constexpr int kNumEventIds = 8;

enum class Opcode : uint8_t {
#define FRACTAL_INSTR(id, ...) id,
#include "fractal/isa/Instructions.def"
#undef FRACTAL_INSTR
};
int numOpcodes();

// Pipes, numbered as in AscendNPU-IR's HIVM (npu-facts.md).
enum class Pipe : uint8_t { S = 0, V = 1, M = 2, MTE1 = 3, MTE2 = 4, MTE3 = 5, ALL = 6, FIX = 10 };
const char *pipeName(Pipe pipe); // "s", "v", "m", "mte1", ...
std::optional<Pipe> pipeFromName(const std::string &name);
bool isValidPipeEncoding(int64_t value);

// Memory spaces a memory operand can name.
enum class Space : uint8_t { GM = 0, L1 = 1, L0A = 2, L0B = 3, L0C = 4, UB = 5 };
constexpr int kNumSpaces = 6;
const char *spaceName(Space space); // "gm", "l1", ...
std::optional<Space> spaceFromName(const std::string &name);
constexpr uint32_t spaceBit(Space s) { return 1u << static_cast<int>(s); }

enum class DataType : uint8_t { F16 = 0, F32 = 1, S8 = 2, S32 = 3 };
constexpr int kNumDataTypes = 4;
const char *dataTypeName(DataType t); // "f16", ...
std::optional<DataType> dataTypeFromName(const std::string &name);
int dataTypeBytes(DataType t);
constexpr uint32_t typeBit(DataType t) { return 1u << static_cast<int>(t); }

enum class CompareMode : uint8_t { EQ = 0, NE = 1, LT = 2, LE = 3, GT = 4, GE = 5 };
const char *compareModeName(CompareMode m);
std::optional<CompareMode> compareModeFromName(const std::string &name);

// Registers a kernel reads with `mfsr`.
enum class SpecialReg : uint8_t { BlockIdx = 0, BlockDim = 1, CoreId = 2, Cycle = 3, DataBase = 4, Args = 5 };
const char *specialRegName(SpecialReg r);
std::optional<SpecialReg> specialRegFromName(const std::string &name);

enum class OperandKind : uint8_t {
  Reg,        // x0..x31
  Mem,        // space[xN]: a 3-bit space field and a 5-bit register holding the byte address
  Imm,        // integer immediate (signed when min < 0)
  Label,      // branch target: signed offset in instructions relative to this instruction
  PipeSel,    // a pipe name (sync instructions)
  SReg,       // a special register name
  Type,       // data type, written as a mnemonic suffix (.f16)
  Cmp,        // compare mode, written as a mnemonic suffix (.lt)
};

struct OperandSpec {
  const char *name;
  OperandKind kind;
  int bits;
  int64_t min, max;     // legal values (Imm/Label); for Reg 0..31
  int64_t defaultValue; // used when a keyed operand is omitted
  uint32_t allowed;     // Mem: allowed spaces; Type: allowed data types; 0 = any
  bool keyed;           // written `name=value`, optional
  int64_t alignment;    // Imm: value must be a multiple of this (1 = any)
  const char *doc;
  int lsb = 0;          // bit position, assigned from the operand order
};

struct InstructionSpec {
  Opcode opcode;
  const char *mnemonic;
  Pipe pipe;            // the pipe that executes it (sync instructions: see pipeOperand)
  int pipeOperand;      // >= 0: the pipe comes from this PipeSel operand instead
  std::optional<VectorTimingClass> vectorTiming;
  const char *semantics;
  std::vector<OperandSpec> operands;
  int usedBits = 0;     // opcode + operand bits; the rest are reserved and must be zero
};

const InstructionSpec &spec(Opcode op);
const std::vector<InstructionSpec> &instructionTable();
// Looks up by base mnemonic (without suffixes).
const InstructionSpec *findByMnemonic(const std::string &mnemonic);

// The operand values of a decoded instruction, read and written as 64-bit integers. Every
// operand field is at most 32 bits wide except li's 64-bit immediate, so each slot holds 32 bits
// and one operand of an instruction may keep its upper half aside: a compiled model holds tens of
// thousands of decoded instructions, a simulated core's fetch cache 2,048 and every queued pipe
// op one, 72 bytes each rather than 120.
// An out-of-range value (an assembler's input, before its check) is kept whole like any other,
// but only one per instruction: a second throws std::overflow_error.
class OperandValues {
public:
  int64_t operator[](size_t i) const {
    return i == wide_ ? static_cast<int64_t>((uint64_t(uint32_t(high_)) << 32) | uint32_t(low_[i])) : low_[i];
  }
  void set(size_t i, int64_t value) {
    if (value >= INT32_MIN && value <= INT32_MAX) {
      low_[i] = static_cast<int32_t>(value);
      if (i == wide_) wide_ = kNone;
      return;
    }
    if (wide_ != kNone && wide_ != i) throw std::overflow_error("an instruction with two operands wider than 32 bits");
    wide_ = static_cast<uint8_t>(i);
    low_[i] = static_cast<int32_t>(static_cast<uint32_t>(uint64_t(value)));
    high_ = static_cast<int32_t>(uint64_t(value) >> 32);
  }
  // `values[i] = v` and `int64_t x = values[i]` as with an array.
  class Slot {
  public:
    Slot(OperandValues &values, size_t i) : values_(values), i_(i) {}
    operator int64_t() const { return static_cast<const OperandValues &>(values_)[i_]; }
    Slot &operator=(int64_t value) {
      values_.set(i_, value);
      return *this;
    }
    Slot &operator=(const Slot &other) { return *this = static_cast<int64_t>(other); }

  private:
    OperandValues &values_;
    size_t i_;
  };
  Slot operator[](size_t i) { return {*this, i}; }
  static constexpr size_t size() { return kMaxOperands; }
  bool operator==(const OperandValues &other) const {
    for (size_t i = 0; i < kMaxOperands; ++i)
      if ((*this)[i] != other[i]) return false;
    return true;
  }
  bool operator!=(const OperandValues &other) const { return !(*this == other); }

private:
  static constexpr uint8_t kNone = 0xff;
  std::array<int32_t, kMaxOperands> low_{};
  int32_t high_ = 0;    // upper 32 bits of operand wide_
  uint8_t wide_ = kNone; // the operand whose value needs more than 32 bits, if any
};

// A decoded instruction: one value per operand in table order. Mem operands keep the register in
// `values` and the space in `spaces`.
struct Instruction {
  Opcode opcode = Opcode::Nop;
  std::array<Space, kMaxOperands> spaces{};
  OperandValues values;

  const InstructionSpec &info() const { return spec(opcode); }
  // Position of the operand called `name`; throws std::out_of_range if there is none.
  size_t operandIndex(const char *name) const;
  int64_t operand(const char *name) const;
  Space space(const char *name) const;
  // Pipe that executes this instruction (resolves sync instructions' pipe operand).
  Pipe pipe() const;
};

// Builds an instruction with every operand at its default (positional ones zero).
Instruction makeInstruction(Opcode op);

// An operand read by name, its position looked up once per opcode rather than at every read: the
// simulator reads several operands of every instruction it executes, and a lookup by name walks
// the opcode's operand table. Define slots at namespace scope (constant-initialised); reads from
// several threads are safe (each fills the same position in).
class OperandSlot {
public:
  explicit constexpr OperandSlot(const char *name) : name_(name) {}
  const char *name() const { return name_; }
  // Whether the instruction's opcode has this operand.
  bool in(const Instruction &inst) const { return position(inst) != kAbsent; }
  // Throws std::out_of_range, as Instruction::operandIndex does, if the opcode has no such operand.
  size_t index(const Instruction &inst) const {
    const uint8_t p = position(inst);
    return p != kAbsent ? p : inst.operandIndex(name_); // the lookup throws with the message
  }
  int64_t value(const Instruction &inst) const { return inst.values[index(inst)]; }
  Space space(const Instruction &inst) const { return inst.spaces[index(inst)]; }

private:
  static constexpr uint8_t kAbsent = 0xff;
  uint8_t position(const Instruction &inst) const {
    std::atomic<uint8_t> &cached = positions_[static_cast<size_t>(inst.opcode)];
    const uint8_t known = cached.load(std::memory_order_relaxed);
    if (known != 0)
      return known == kAbsent ? kAbsent : uint8_t(known - 1);
    uint8_t p = kAbsent;
    const std::vector<OperandSpec> &operands = inst.info().operands;
    for (size_t i = 0; i < operands.size() && p == kAbsent; ++i)
      if (std::string_view(operands[i].name) == name_)
        p = static_cast<uint8_t>(i);
    cached.store(p == kAbsent ? kAbsent : uint8_t(p + 1), std::memory_order_relaxed);
    return p;
  }

  const char *name_;
  // Per opcode: index + 1, kAbsent when the opcode has no such operand, 0 = not looked up yet.
  mutable std::array<std::atomic<uint8_t>, 256> positions_{};
};

} // namespace fractal::isa
