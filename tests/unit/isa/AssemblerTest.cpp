// The assembler: golden output for the syntax features, and one test per kind of error, each
// asserting the exact file:line:col and reason.
#include "fractal/isa/Assembler.h"
#include "fractal/isa/Disassembler.h"
#include "fractal/isa/Numerics.h"

#include <gtest/gtest.h>

using namespace fractal;
using namespace fractal::isa;

namespace {

std::string errorOf(const std::string &source) {
  Expected<KernelBinary> k = assemble(source, "t.s");
  if (k)
    return "(assembled without error)";
  EXPECT_EQ(k.error().code, ExitCode::BadInput);
  return k.error().message;
}

KernelBinary ok(const std::string &source) {
  Expected<KernelBinary> k = assemble(source, "t.s");
  EXPECT_TRUE(k.ok()) << k.error().message;
  return k ? *k : KernelBinary();
}

} // namespace

TEST(Assembler, ExpressionsConstantsAndLabels) {
  KernelBinary k = ok(".equ T, 16\n"
                      "top: li x1, T*T*2 + (3 - 1) * 4 / 2 % 5\n"
                      "  addi x2, x2, -T\n"
                      "  bne x1, x2, top\n"
                      "  jmp .+1\n"
                      "  dbnz x3, top   # loop\n");
  ASSERT_EQ(k.code.size(), 5u);
  EXPECT_EQ(k.code[0].values[1], 16 * 16 * 2 + 4);
  EXPECT_EQ(k.code[1].values[2], -16);
  EXPECT_EQ(k.code[2].operand("target"), -2);
  EXPECT_EQ(k.code[3].operand("target"), 1);
  EXPECT_EQ(k.code[4].operand("target"), -4);
  ASSERT_EQ(k.symbols.size(), 1u);
  EXPECT_EQ(k.symbols[0].name, "top");
  EXPECT_EQ(k.debug[4].line, 6u);
}

TEST(Assembler, DataSectionAndDataLabels) {
  KernelBinary k = ok(".text\n  addi x1, x1, tbl2\n  end\n.data\ntbl: .byte 1, -1\n"
                      "  .align 4\ntbl2: .half 0x1234\n  .f16 1.0\n  .f32 -2.0\n  .zero 2\n"
                      "  .word -1\n  .dword 1\n");
  EXPECT_EQ(k.code[0].values[2], 4);
  std::vector<uint8_t> want = {1, 0xff, 0, 0, 0x34, 0x12, 0x00, 0x3c, 0, 0, 0, 0xc0, 0, 0,
                               0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(k.data, want);
}

TEST(Assembler, SuffixesKeyedOperandsAndPseudos) {
  KernelBinary k = ok("vcmp.ge.f32 ub[x1], ub[x2], ub[x3], src0_rep=4, repeat=2\n"
                      "lif16 x5, 1.5\nlif32 x6, 1.5\nmv x7, x8\n");
  EXPECT_EQ(formatInstruction(k.code[0]),
            "vcmp.ge.f32 ub[x1], ub[x2], ub[x3], repeat=2, src0_rep=4");
  EXPECT_EQ(k.code[1].values[1], 0x3e00);
  EXPECT_EQ(k.code[2].values[1], 0x3fc00000);
  EXPECT_EQ(formatInstruction(k.code[3]), "addi x7, x8, 0");
}

TEST(Assembler, DebugNotesFollowNodeDirectives) {
  KernelBinary k = ok(".node \"conv1/Conv\"\nnop\n.node \"relu \\\"1\\\"\"\nnop\n.node \"\"\nnop\n");
  EXPECT_EQ(k.noteOf(0), "conv1/Conv");
  EXPECT_EQ(k.noteOf(1), "relu \"1\"");
  EXPECT_EQ(k.noteOf(2), "");
}

TEST(AssemblerErrors, UnknownMnemonic) {
  EXPECT_EQ(errorOf("  nop\n  vadx.f16 ub[x1], ub[x2], ub[x3]\n"),
            "t.s:2:3: error: in 'vadx.f16 ub[x1], ub[x2], ub[x3]': unknown mnemonic 'vadx'");
}

TEST(AssemblerErrors, OperandOutOfRange) {
  EXPECT_EQ(errorOf("vadd.f16 ub[x1], ub[x2], ub[x3], repeat=256\n"),
            "t.s:1:41: error: in 'vadd.f16 ub[x1], ub[x2], ub[x3], repeat=256': operand 'repeat' "
            "= 256 is out of range [0, 255]");
  EXPECT_EQ(errorOf("addi x1, x1, 0x80000000\n"),
            "t.s:1:14: error: in 'addi x1, x1, 0x80000000': operand 'imm' = 2147483648 is out of "
            "range [-2147483648, 2147483647]");
}

TEST(AssemblerErrors, MisalignedImmediate) {
  EXPECT_EQ(errorOf("gm2l1_nz.f16 l1[x1], gm[x2], rows=16, cols=16, src_stride=16, dst_rows=24\n"),
            "t.s:1:72: error: in 'gm2l1_nz.f16 l1[x1], gm[x2], rows=16, cols=16, src_stride=16, "
            "dst_rows=24': operand 'dst_rows' = 24 is not a multiple of 16");
}

TEST(AssemblerErrors, WrongBufferKind) {
  EXPECT_EQ(errorOf("gm2l1 ub[x1], gm[x2]\n"),
            "t.s:1:7: error: in 'gm2l1 ub[x1], gm[x2]': operand 'dst': wrong buffer kind ub "
            "(allowed: l1)");
  EXPECT_EQ(errorOf("mmad.f16 l0c[x1], l0b[x2], l0b[x3]\n"),
            "t.s:1:19: error: in 'mmad.f16 l0c[x1], l0b[x2], l0b[x3]': operand 'a': wrong buffer "
            "kind l0b (allowed: l0a)");
  EXPECT_EQ(errorOf("vadd.f16 ub[x1], hbm[x2], ub[x3]\n"),
            "t.s:1:18: error: in 'vadd.f16 ub[x1], hbm[x2], ub[x3]': expected a buffer operand "
            "such as ub[x1] for 'src0', got 'hbm'");
}

TEST(AssemblerErrors, UnknownLabel) {
  EXPECT_EQ(errorOf("  beq x1, x2, nowhere\n"),
            "t.s:1:15: error: in 'beq x1, x2, nowhere': unknown label 'nowhere'");
  EXPECT_EQ(errorOf("jmp tbl\n.data\ntbl: .byte 0\n"),
            "t.s:1:5: error: in 'jmp tbl': 'tbl' is a data label, not a code label");
}

TEST(AssemblerErrors, DuplicateLabel) {
  EXPECT_EQ(errorOf("a: nop\na: nop\n"), "t.s:2:1: error: label 'a' is already defined on line 1");
}

TEST(AssemblerErrors, OperandShapeProblems) {
  EXPECT_EQ(errorOf("add x1, x2\n"), "t.s:1:11: error: in 'add x1, x2': missing operand(s): xb");
  EXPECT_EQ(errorOf("add x1, x2, x3, x4\n"),
            "t.s:1:17: error: in 'add x1, x2, x3, x4': add takes 3 positional operand(s)");
  EXPECT_EQ(errorOf("add x1, x2, x32\n"),
            "t.s:1:13: error: in 'add x1, x2, x32': expected a register x0..x31, got 'x32'");
  EXPECT_EQ(errorOf("vadd.f16 ub[x1], ub[x2], ub[x3], rep=2\n"),
            "t.s:1:34: error: in 'vadd.f16 ub[x1], ub[x2], ub[x3], rep=2': vadd has no operand "
            "'rep' (optional: repeat=, dst_blk=, dst_rep=, src0_blk=, src0_rep=, src1_blk=, src1_rep=)");
  EXPECT_EQ(errorOf("vadd.f16 ub[x1], ub[x2], ub[x3], repeat=1, repeat=2\n"),
            "t.s:1:44: error: in 'vadd.f16 ub[x1], ub[x2], ub[x3], repeat=1, repeat=2': operand "
            "'repeat' given twice");
}

// gm2l1_nz's rows (ND) or planes (planar=1) must not overlap; from_f32=1 converts to f16 only.
TEST(AssemblerErrors, LayoutCopyGeometry) {
  auto says = [](const std::string &source, const std::string &what) {
    const std::string error = errorOf(source);
    EXPECT_NE(error.find(what), std::string::npos) << error;
  };
  says("gm2l1_nz.f16 l1[x1], gm[x2], rows=16, cols=4, src_stride=3, dst_rows=16\n", "src_stride (3) is smaller than cols (4)");
  says("gm2l1_nz.f16 l1[x1], gm[x2], rows=16, cols=4, src_stride=10, dst_rows=16, planar=1\n",
       "src_stride (10) is smaller than rows (16), the plane's length");
  says("gm2l1_nz.f32 l1[x1], gm[x2], rows=16, cols=4, src_stride=4, dst_rows=16, from_f32=1\n",
       "from_f32=1 converts float32 to f16: the type must be .f16");
  EXPECT_EQ(errorOf("gm2l1_nz.f16 l1[x1], gm[x2], rows=16, cols=4, src_stride=16, dst_rows=16, planar=1, from_f32=1\n"),
            "(assembled without error)");
}

TEST(AssemblerErrors, Suffixes) {
  EXPECT_EQ(errorOf("vadd ub[x1], ub[x2], ub[x3]\n"),
            "t.s:1:1: error: in 'vadd ub[x1], ub[x2], ub[x3]': vadd is written vadd.<type>");
  EXPECT_EQ(errorOf("vadd.f8 ub[x1], ub[x2], ub[x3]\n"),
            "t.s:1:1: error: in 'vadd.f8 ub[x1], ub[x2], ub[x3]': unknown data type '.f8' "
            "(expected .f16 .f32 .s8 .s32)");
  EXPECT_EQ(errorOf("vdiv.s32 ub[x1], ub[x2], ub[x3]\n"),
            "t.s:1:1: error: in 'vdiv.s32 ub[x1], ub[x2], ub[x3]': operand 'type': type s32 not "
            "allowed (allowed: .f16, .f32)");
  EXPECT_EQ(errorOf("vconv.f32.s8 ub[x1], ub[x2]\n"),
            "t.s:1:1: error: in 'vconv.f32.s8 ub[x1], ub[x2]': vconv: unsupported conversion "
            ".f32 -> .s8");
}

TEST(AssemblerErrors, SyncOperands) {
  EXPECT_EQ(errorOf("set_flag mte2, gpu, 0\n"),
            "t.s:1:16: error: in 'set_flag mte2, gpu, 0': unknown pipe 'gpu' (expected s, v, m, "
            "mte1, mte2, mte3, fix, all)");
  EXPECT_EQ(errorOf("wait_flag v, v, 1\n"),
            "t.s:1:1: error: in 'wait_flag v, v, 1': wait_flag: flag source and destination are "
            "the same pipe (use barrier)");
  EXPECT_EQ(errorOf("set_flag v, m, 8\n"),
            "t.s:1:16: error: in 'set_flag v, m, 8': operand 'event' = 8 is out of range [0, 7]");
}

TEST(AssemblerErrors, Directives) {
  EXPECT_EQ(errorOf(".bss\n"), "t.s:1:1: error: in '.bss': unknown directive '.bss'");
  EXPECT_EQ(errorOf(".byte 1\n"),
            "t.s:1:1: error: in '.byte 1': .byte is only allowed in the .data section");
  EXPECT_EQ(errorOf(".data\nnop\n"),
            "t.s:2:1: error: in 'nop': instruction 'nop' in the .data section (use .text first)");
  EXPECT_EQ(errorOf(".data\n.byte 256\n"),
            "t.s:2:7: error: in '.byte 256': value 256 does not fit in 1 byte(s)");
  EXPECT_EQ(errorOf(".equ A, 1/0\n"), "t.s:1:10: error: in '.equ A, 1/0': division by zero");
  EXPECT_EQ(errorOf(".data\n.align 3\n"),
            "t.s:2:8: error: in '.align 3': .align needs a power of two up to 4096, got 3");
  EXPECT_EQ(errorOf("li x1, nosuch\n"), "t.s:1:8: error: in 'li x1, nosuch': unknown symbol 'nosuch'");
  EXPECT_EQ(errorOf("li x1, 99999999999999999999\n"),
            "t.s:1:8: error: in 'li x1, 99999999999999999999': invalid or out-of-range integer "
            "'99999999999999999999'");
}

TEST(AssemblerErrors, EveryErrorIsReportedAtOnce) {
  std::string err = errorOf("foo x1\nadd x1, x2\nbeq x1, x2, nowhere\n");
  EXPECT_NE(err.find("t.s:1:1:"), std::string::npos) << err;
  EXPECT_NE(err.find("t.s:2:11:"), std::string::npos) << err;
  EXPECT_NE(err.find("t.s:3:13:"), std::string::npos) << err;
}
