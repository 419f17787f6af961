// Helpers shared by the ISA tests: a valid instance of every instruction and its edge variants.
#pragma once

#include "fractal/isa/Encoding.h"
#include "fractal/isa/Isa.h"

#include <vector>

namespace fractal::isa::testing {

// makeInstruction() with the few multi-operand rules satisfied (valid for every opcode).
inline Instruction validInstruction(Opcode op) {
  Instruction inst = makeInstruction(op);
  auto set = [&](const char *name, int64_t v) {
    const InstructionSpec &s = spec(op);
    for (size_t i = 0; i < s.operands.size(); ++i)
      if (std::string(s.operands[i].name) == name)
        inst.values[i] = v;
  };
  if (op == Opcode::SetFlag || op == Opcode::WaitFlag) {
    set("src", static_cast<int64_t>(Pipe::MTE2));
    set("dst", static_cast<int64_t>(Pipe::MTE1));
  }
  if (op == Opcode::Vconv) {
    set("from", static_cast<int64_t>(DataType::F32));
    set("to", static_cast<int64_t>(DataType::F16));
  }
  return inst;
}

// The interesting values of one operand: range ends, default, every name, every space.
struct EdgeValue {
  int64_t value;
  Space space;
};
inline std::vector<EdgeValue> edgeValues(const OperandSpec &o, Space defaultSpace) {
  std::vector<EdgeValue> out;
  switch (o.kind) {
  case OperandKind::Reg:
    for (int64_t r : {0, 1, 30, 31})
      out.push_back({r, defaultSpace});
    break;
  case OperandKind::Mem:
    for (int s = 0; s < kNumSpaces; ++s)
      if (o.allowed & (1u << s))
        for (int64_t r : {0, 31})
          out.push_back({r, static_cast<Space>(s)});
    break;
  case OperandKind::Imm:
  case OperandKind::Label: {
    int64_t a = o.alignment;
    int64_t lo = (o.min + a - 1) / a * a, hi = o.max / a * a;
    for (int64_t v : {lo, hi, o.defaultValue, lo + a, hi - a})
      if (v >= o.min && v <= o.max)
        out.push_back({v, defaultSpace});
    if (o.min <= 0 && o.max >= 0)
      out.push_back({0, defaultSpace});
    break;
  }
  case OperandKind::PipeSel:
    for (int64_t p : {0, 1, 2, 3, 4, 5, 6, 10})
      out.push_back({p, defaultSpace});
    break;
  case OperandKind::SReg:
  case OperandKind::Cmp:
    for (int64_t v = o.min; v <= o.max; ++v)
      out.push_back({v, defaultSpace});
    break;
  case OperandKind::Type:
    for (int t = 0; t < kNumDataTypes; ++t)
      if (o.allowed & (1u << t))
        out.push_back({t, defaultSpace});
    break;
  }
  return out;
}

// Every valid single-operand variation of every instruction.
inline std::vector<Instruction> edgeInstructions() {
  std::vector<Instruction> all;
  for (const InstructionSpec &s : instructionTable()) {
    Instruction base = validInstruction(s.opcode);
    all.push_back(base);
    for (size_t i = 0; i < s.operands.size(); ++i)
      for (const EdgeValue &e : edgeValues(s.operands[i], base.spaces[i])) {
        Instruction v = base;
        v.values[i] = e.value;
        v.spaces[i] = e.space;
        if (validateInstruction(v))
          all.push_back(v);
      }
  }
  return all;
}

} // namespace fractal::isa::testing
