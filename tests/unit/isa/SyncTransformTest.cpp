// --sync=barrier-all on assembled code: the flags go, a `barrier all` follows every pipe
// instruction, and branches, code symbols and the debug map still point at the same instructions.
#include "fractal/isa/Assembler.h"
#include "fractal/isa/Disassembler.h"
#include "fractal/isa/SyncTransform.h"

#include <gtest/gtest.h>

namespace fractal::isa {
namespace {

constexpr const char *kLoop = R"(.node "Conv_0"
.text
  li x5, 0
  li x6, 3
  set_flag mte3, mte2, 0
loop:
  wait_flag mte3, mte2, 0
  gm2ub ub[x0], gm[x1], len=1
  set_flag mte2, v, 0
  wait_flag mte2, v, 0
  .node "Relu_1"
  vrelu.f32 ub[x0], ub[x0]
  set_flag v, mte3, 0
  wait_flag v, mte3, 0
  ub2gm gm[x1], ub[x0], len=1
  set_flag mte3, mte2, 0
  addi x5, x5, 1
  blt x5, x6, loop
  wait_flag mte3, mte2, 0
  end
)";

TEST(SyncTransform, BarrierAllReplacesFlagsAndKeepsBranchesSymbolsAndNodes) {
  Expected<KernelBinary> k = assemble(kLoop, "loop.s");
  ASSERT_TRUE(k.ok()) << k.error().message;
  Expected<KernelBinary> s = serializeSync(*k);
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::vector<std::string> lines;
  for (const Instruction &i : s->code) lines.push_back(formatInstruction(i));
  const std::vector<std::string> expected = {
      "li x5, 0", "li x6, 3",
      "gm2ub ub[x0], gm[x1]", "barrier all",
      "vrelu.f32 ub[x0], ub[x0]", "barrier all",
      "ub2gm gm[x1], ub[x0]", "barrier all",
      "addi x5, x5, 1", "blt x5, x6, .-7", "end"};
  EXPECT_EQ(lines, expected);
  // The loop label moved from pc 3 (the first wait_flag) to pc 2 (the DMA after it).
  bool found = false;
  for (const Symbol &sym : s->symbols)
    if (sym.name == "loop") {
      found = true;
      EXPECT_EQ(sym.value, 2u);
    }
  EXPECT_TRUE(found);
  ASSERT_EQ(s->debug.size(), s->code.size());
  EXPECT_EQ(s->noteOf(3), "Conv_0"); // the DMA's barrier
  EXPECT_EQ(s->noteOf(4), "Relu_1");
  EXPECT_EQ(s->noteOf(5), "Relu_1");
}

TEST(SyncTransform, BranchesOutOfTheKernelAreRejected) {
  Expected<KernelBinary> k = assemble(".text\n  jmp .+5\n  end\n", "out.s");
  ASSERT_TRUE(k.ok()) << k.error().message;
  Expected<KernelBinary> s = serializeSync(*k);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("branches outside the kernel"), std::string::npos) << s.error().message;
}

} // namespace
} // namespace fractal::isa
