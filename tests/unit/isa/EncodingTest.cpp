// Encoding: every instruction and operand edge value survives encode -> decode and
// text -> binary -> text; the decoder rejects garbage with a byte offset and never crashes.
#include "IsaTestUtil.h"

#include "fractal/isa/Assembler.h"
#include "fractal/isa/Disassembler.h"
#include "fractal/isa/Encoding.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace fractal;
using namespace fractal::isa;
using fractal::isa::testing::edgeInstructions;
using fractal::isa::testing::validInstruction;

namespace {

bool sameInstruction(const Instruction &a, const Instruction &b) {
  uint8_t wa[kInstructionBytes], wb[kInstructionBytes];
  encodeInstruction(a, wa);
  encodeInstruction(b, wb);
  return std::memcmp(wa, wb, kInstructionBytes) == 0;
}

std::string hex(const uint8_t *w) {
  std::string s = "0x";
  char b[3];
  for (int i = kInstructionBytes - 1; i >= 0; --i) {
    std::snprintf(b, sizeof b, "%02x", w[i]);
    s += b;
  }
  return s;
}

} // namespace

TEST(InstructionTable, EveryRowFitsAndIsUnique) {
  std::set<std::string> names;
  ASSERT_GT(numOpcodes(), 80);
  for (const InstructionSpec &s : instructionTable()) {
    EXPECT_TRUE(names.insert(s.mnemonic).second) << s.mnemonic;
    EXPECT_LE(s.usedBits, kInstructionBits) << s.mnemonic;
    EXPECT_EQ(&spec(s.opcode), &s);
    EXPECT_EQ(findByMnemonic(s.mnemonic), &s);
    Status valid = validateInstruction(validInstruction(s.opcode));
    EXPECT_TRUE(valid.ok()) << (valid ? "" : valid.error().message);
    // Fields tile the word without overlapping, from bit 8 up.
    int next = kOpcodeBits;
    for (const OperandSpec &o : s.operands) {
      EXPECT_EQ(o.lsb, next) << s.mnemonic << " " << o.name;
      next += o.bits;
    }
    if (s.vectorTiming) {
      EXPECT_EQ(s.pipe, Pipe::V) << s.mnemonic;
    }
  }
}

TEST(InstructionTable, CoversTheRequiredClasses) {
  for (const char *m : {"add", "sub", "mul", "shl", "and", "slt", "li", "beq", "dbnz", "ld", "st",
                        "mfsr", "setmask", "setfmap", "end", "gm2l1", "gm2ub", "gm2l1_nz",
                        "load2d", "load3d", "fixp", "ub2gm", "ub2ub", "mmad", "vadd", "vsub",
                        "vmul", "vdiv", "vmax", "vmin", "vabs", "vexp", "vln", "vsqrt", "vrsqrt",
                        "vrec", "vrelu", "vadds", "vmuls", "vcmp", "vsel", "vconv", "vcadd",
                        "vcgadd", "vdup", "set_flag", "wait_flag", "barrier"})
    EXPECT_NE(findByMnemonic(m), nullptr) << m;
}

// A slot answers what the name lookup answers, for every opcode in any order (each opcode's
// position is cached on first use: `dst` sits at different positions in different opcodes); it
// says which opcodes have the operand, and reading it from one without still throws.
TEST(OperandSlot, MatchesTheLookupByNameForEveryOpcode) {
  static OperandSlot dst{"dst"}, n{"n"};
  for (int pass = 0; pass < 2; ++pass)
    for (const InstructionSpec &spec : instructionTable()) {
      Instruction inst = makeInstruction(spec.opcode);
      for (size_t i = 0; i < spec.operands.size(); ++i)
        inst.values[i] = int64_t(100 + i);
      for (OperandSlot *slot : {&dst, &n}) {
        bool has = false;
        for (const OperandSpec &o : spec.operands)
          has = has || std::strcmp(o.name, slot->name()) == 0;
        EXPECT_EQ(slot->in(inst), has) << spec.mnemonic << " " << slot->name();
        if (has)
          EXPECT_EQ(slot->value(inst), inst.operand(slot->name())) << spec.mnemonic;
        else
          EXPECT_THROW(slot->index(inst), std::out_of_range) << spec.mnemonic << " " << slot->name();
      }
    }
}

// Slots hold 32 bits; one operand per instruction keeps its upper half aside (li's immediate).
TEST(OperandValues, OneOperandKeepsAllSixtyFourBits) {
  Instruction li = makeInstruction(Opcode::Li);
  li.values[0] = 7;
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t(1) << 32, int64_t(INT32_MAX) + 1, int64_t(INT32_MIN) - 1, int64_t(-1)}) {
    li.values[1] = v;
    EXPECT_EQ(li.values[1], v);
    EXPECT_EQ(li.operand("imm"), v);
    uint8_t word[kInstructionBytes];
    encodeInstruction(li, word);
    Expected<Instruction> back = decodeInstruction(word, 0);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->values, li.values);
    EXPECT_EQ(back->values[1], v);
  }
  li.values[1] = INT64_MIN;
  li.values[1] = 5; // back to 32 bits: the slot no longer reads the upper half
  EXPECT_EQ(li.values[1], 5);
  li.values[0] = int64_t(1) << 40; // the upper half is free again
  EXPECT_EQ(li.values[0], int64_t(1) << 40);
  EXPECT_THROW(li.values[1] = int64_t(1) << 33, std::overflow_error);
  EXPECT_EQ(sizeof(Instruction), 72u);
}

TEST(Encoding, EdgeValuesRoundTripThroughBinary) {
  std::vector<Instruction> all = edgeInstructions();
  ASSERT_GT(all.size(), 1000u);
  for (const Instruction &inst : all) {
    uint8_t word[kInstructionBytes];
    encodeInstruction(inst, word);
    Expected<Instruction> back = decodeInstruction(word, 0);
    ASSERT_TRUE(back.ok()) << formatInstruction(inst) << ": " << back.error().message;
    EXPECT_TRUE(sameInstruction(inst, *back)) << formatInstruction(inst);
    for (size_t i = 0; i < inst.info().operands.size(); ++i) {
      EXPECT_EQ(inst.values[i], back->values[i]) << formatInstruction(inst) << " operand " << i;
      if (inst.info().operands[i].kind == OperandKind::Mem) {
        EXPECT_EQ(inst.spaces[i], back->spaces[i]) << formatInstruction(inst);
      }
    }
    // The unchecked decoder (a core's fetch from code validated at load) reads the same fields.
    const Instruction trusted = decodeValidInstruction(word);
    EXPECT_EQ(trusted.opcode, back->opcode) << formatInstruction(inst);
    EXPECT_EQ(trusted.values, back->values) << formatInstruction(inst);
    EXPECT_EQ(trusted.spaces, back->spaces) << formatInstruction(inst);
  }
}

TEST(Encoding, EdgeValuesRoundTripThroughText) {
  // disasm(asm(x)) reassembles to identical bytes for every instruction and edge value.
  KernelBinary k;
  k.code = edgeInstructions();
  std::string text = disassemble(k);
  Expected<KernelBinary> again = assemble(text, "edges.s");
  ASSERT_TRUE(again.ok()) << again.error().message.substr(0, 2000);
  ASSERT_EQ(again->code.size(), k.code.size());
  for (size_t i = 0; i < k.code.size(); ++i)
    EXPECT_TRUE(sameInstruction(k.code[i], again->code[i]))
        << formatInstruction(k.code[i]) << " came back as " << formatInstruction(again->code[i]);
}

TEST(Encoding, GoldenWords) {
  // Pins the encoding: a change here breaks every existing kernel binary (bump the format version).
  struct Case {
    const char *text, *word;
  } cases[] = {
      {"li x11, -1", "0x0000000000001fffffffffffffffeb02"},
      {"mfsr x1, args", "0x0000000000000000000000000000a11d"},
      {"ld x3, gm[x1], offset=8", "0x0000000000000000000000000100231e"},
      {"set_flag mte2, v, 0", "0x0000000000000000000000000000142c"},
      {"vmuls.f16 ub[x7], ub[x6], x12, repeat=3", "0x00000000000000080108010365353847"},
  };
  for (const Case &c : cases) {
    Expected<KernelBinary> k = assemble(c.text, "golden.s");
    ASSERT_TRUE(k.ok()) << k.error().message;
    uint8_t word[kInstructionBytes];
    encodeInstruction(k->code.at(0), word);
    EXPECT_EQ(hex(word), c.word) << c.text;
  }
}

TEST(Decoder, RejectsIllegalOpcodeWithOffset) {
  uint8_t word[kInstructionBytes] = {0xff};
  Expected<Instruction> d = decodeInstruction(word, 4096);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "illegal opcode 0xff at byte offset 4096");
}

TEST(Decoder, RejectsReservedBits) {
  uint8_t word[kInstructionBytes] = {};
  word[0] = static_cast<uint8_t>(Opcode::Nop);
  word[15] = 0x80;
  Expected<Instruction> d = decodeInstruction(word, 32);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message, "nop: reserved bits 8..127 are set at byte offset 32");
}

TEST(Decoder, RejectsWrongBufferKind) {
  Instruction inst = validInstruction(Opcode::Vadd);
  inst.spaces[1] = Space::L0C; // vadd only reads UB
  uint8_t word[kInstructionBytes];
  encodeInstruction(inst, word);
  Expected<Instruction> d = decodeInstruction(word, 16);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message,
            "vadd: operand 'dst': wrong buffer kind l0c (allowed: ub) at byte offset 16");
}

TEST(Decoder, RandomBytesNeverCrashAndAcceptedWordsReencodeExactly) {
  std::mt19937_64 rng(12345);
  int accepted = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    uint8_t word[kInstructionBytes];
    for (auto &b : word)
      b = static_cast<uint8_t>(rng());
    // Half of the words keep a valid opcode and clear the reserved bits, to reach deep checks.
    if (iter % 2) {
      word[0] = static_cast<uint8_t>(rng() % numOpcodes());
      int used = spec(static_cast<Opcode>(word[0])).usedBits;
      for (int bit = used; bit < kInstructionBits; ++bit)
        word[bit / 8] &= static_cast<uint8_t>(~(1u << (bit % 8)));
    }
    Expected<Instruction> d = decodeInstruction(word, 16 * iter);
    if (!d) {
      EXPECT_NE(d.error().message.find("at byte offset " + std::to_string(16 * iter)),
                std::string::npos);
      continue;
    }
    ++accepted;
    uint8_t again[kInstructionBytes];
    encodeInstruction(*d, again);
    ASSERT_EQ(std::memcmp(word, again, kInstructionBytes), 0) << hex(word);
  }
  EXPECT_GT(accepted, 1000);
}

TEST(Validation, NamesTheOperand) {
  Instruction inst = validInstruction(Opcode::Vadd);
  inst.values[4] = 256; // repeat (after type, dst, src0, src1)
  Status s = validateInstruction(inst);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "vadd: operand 'repeat' = 256 is out of range [0, 255]");
}

TEST(Validation, MultiOperandRules) {
  Instruction f = validInstruction(Opcode::SetFlag);
  f.values[1] = f.values[0];
  EXPECT_EQ(validateInstruction(f).error().message,
            "set_flag: flag source and destination are the same pipe (use barrier)");
  Instruction c = validInstruction(Opcode::Vconv);
  c.values[1] = static_cast<int64_t>(DataType::S8);
  c.values[0] = static_cast<int64_t>(DataType::F32);
  EXPECT_EQ(validateInstruction(c).error().message, "vconv: unsupported conversion .f32 -> .s8");
}
