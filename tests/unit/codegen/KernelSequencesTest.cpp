// Which kernel tasks share a launch (compiler/Codegen/KernelSequences.h) and what joining makes.
#include "fractal/compiler/Codegen/KernelSequences.h"

#include "fractal/isa/Assembler.h"
#include "fractal/isa/KernelSequence.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace fractal::compiler {
namespace {

ChipConfig edge() {
  Expected<ChipConfig> c = loadChipConfig("edge");
  EXPECT_TRUE(c.ok());
  return *c;
}

// A package of kernel tasks; `elements[i]` f16 elements for task i's one tensor (its bound), a
// negative count makes task i a host task. Every kernel is a few instructions of its own.
pkg::Package package(const std::vector<int64_t> &elements) {
  pkg::Package p;
  p.target = "edge";
  for (size_t i = 0; i < elements.size(); ++i) {
    const std::string name = "op" + std::to_string(i);
    pkg::Tensor t;
    t.name = name + "_out";
    t.dtype = pkg::DType::F16;
    t.shape = {std::max<int64_t>(elements[i], 1)};
    t.kind = pkg::TensorKind::Activation;
    p.tensors.push_back(t);
    pkg::Task task;
    task.name = name;
    task.opType = "Op" + std::to_string(i);
    task.onnxNodes = {name, "shared"};
    task.modelMacs = 10 * i;
    if (elements[i] < 0) {
      task.isHost = true;
      task.host.opType = "Copy";
      task.host.outputs = {uint32_t(i)};
    } else {
      const std::string text = ".node \"" + name + "\"\n  mfsr x1, args\n  ld x2, gm[x1], offset=0\n  nop\n  end\n";
      Expected<isa::KernelBinary> k = isa::assemble(text, name + ".s");
      EXPECT_TRUE(k.ok()) << (k ? "" : k.error().message);
      k->target = "edge";
      task.launch = {uint32_t(p.kernels.size()), 2, {uint32_t(i)}, {}};
      p.kernels.push_back({name + "_kernel", *k});
    }
    p.tasks.push_back(task);
  }
  return p;
}

TEST(KernelSequences, EveryRunOfKernelsSharesALaunchAndHostTasksEndARun) {
  const ChipConfig config = edge();
  // Large or small, kernels next to each other share a launch: the barrier between them costs
  // less than a launch.
  pkg::Package p = package({1024, 4 << 20, 1024, -1, 4096, -1, 512, 1024, 2048});
  EXPECT_EQ(chooseKernelSequences(p, config), (std::vector<std::pair<size_t, size_t>>{{0, 2}, {6, 8}}));
  pkg::Package alone = package({1024, -1, 1024});
  EXPECT_TRUE(chooseKernelSequences(alone, config).empty());
  // However much code they hold: a runtime keeps it encoded and its cores decode what they fetch,
  // so a sequence's size costs no memory (eleven kernels of 20,000 instructions: one run).
  pkg::Package big = package(std::vector<int64_t>(11, 1024));
  for (pkg::Kernel &k : big.kernels) k.binary.code.resize(20000, k.binary.code.front());
  EXPECT_EQ(chooseKernelSequences(big, config), (std::vector<std::pair<size_t, size_t>>{{0, 10}}));
  // A run's argument table holds every part's tensors: it ends before pkg::kMaxLaunchArguments,
  // which the loader enforces (tasks of 1500 arguments: two to a run, the fifth alone).
  pkg::Package wide = package(std::vector<int64_t>(5, 1024));
  for (pkg::Task &t : wide.tasks) t.launch.tensors.resize(1500, t.launch.tensors.front());
  EXPECT_EQ(chooseKernelSequences(wide, config), (std::vector<std::pair<size_t, size_t>>{{0, 1}, {2, 3}}));
}

// The barrier's estimate: per round a flag store and a flag load that miss the scalar data cache
// (scalar_gm_latency_cycles each) and the loop; ceil(log2 cores) rounds.
TEST(KernelSequences, BarrierCostGrowsWithTheLogOfTheCores) {
  const ChipConfig config = edge();
  const double round = 2 * (config.core.scalarGmLatencyCycles + 1) + 16;
  EXPECT_EQ(barrierCycles(config, 1), 0.0);
  EXPECT_EQ(barrierCycles(config, 2), round);
  EXPECT_EQ(barrierCycles(config, 3), 2 * round);
  EXPECT_EQ(barrierCycles(config, 32), 5 * round);
  // A chip whose scalar GM round trip makes a barrier dearer than a launch keeps one launch per kernel.
  ChipConfig slow = config;
  slow.core.scalarGmLatencyCycles = int64_t(config.kernelLaunchCycles());
  pkg::Package p = package({1024, 1024});
  EXPECT_TRUE(chooseKernelSequences(p, slow).empty());
}

TEST(KernelSequences, JoiningMakesOneTaskPerRun) {
  pkg::Package p = package({1024, 2048, 1024, -1, 4096, 1024});
  const std::vector<size_t> sizes = {p.kernels[0].binary.code.size(), p.kernels[1].binary.code.size()};
  ASSERT_TRUE(joinKernelSequences(p, {{0, 2}, {4, 5}}).ok());
  ASSERT_EQ(p.tasks.size(), 3u);
  const pkg::Task &first = p.tasks[0];
  EXPECT_EQ(first.name, "op0 .. op2");
  EXPECT_EQ(first.opType, "Sequence");
  EXPECT_EQ(first.onnxNodes, (std::vector<std::string>{"op0", "shared", "op1", "op2"}));
  EXPECT_EQ(first.modelMacs, 0u + 10 + 20);
  // On as many cores as its widest part, with zeroed barrier flags after the arguments.
  EXPECT_EQ(first.launch.blockDim, 2u);
  EXPECT_EQ(first.launch.barrierFlagBytes, 2 * isa::kBarrierFlagStride);
  EXPECT_EQ(first.launch.tensors, (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_EQ(first.launch.segments.size(), 3u);
  EXPECT_EQ(first.launch.segments[1].name, "op1");
  EXPECT_EQ(first.launch.segments[1].opType, "Op1");
  EXPECT_EQ(first.launch.segments[1].blockDim, 2u);
  EXPECT_EQ(first.launch.segments[1].onnxNodes, (std::vector<std::string>{"op1", "shared"}));
  EXPECT_EQ(first.launch.segments[0].entryPc, 0u);
  // The first part: its code (an `end` that falls through dropped); the second's args pointer
  // gets an addi of 8 (its arguments start at the second word).
  EXPECT_EQ(first.launch.segments[0].endPc, sizes[0] - 1);
  EXPECT_EQ(first.launch.segments[1].endPc - first.launch.segments[1].entryPc, sizes[1] - 1 + 1);
  // Between the parts: the next part's argument line read into the scalar data cache (its one
  // argument word, at byte 8), `barrier all`, the cross-core barrier (spinning on a flag with
  // dcci + ld), then the registers put back.
  const std::vector<isa::Instruction> &code = p.kernels[0].binary.code;
  const size_t gapStart = first.launch.segments[0].endPc, gapEnd = first.launch.segments[1].entryPc;
  EXPECT_EQ(code[gapStart].opcode, isa::Opcode::Mfsr);
  EXPECT_EQ(code[gapStart + 1].opcode, isa::Opcode::Ld);
  EXPECT_EQ(code[gapStart + 1].operand("offset"), 0) << "the line holding argument byte 8";
  EXPECT_EQ(code[gapStart + 2].opcode, isa::Opcode::Barrier);
  size_t spins = 0;
  for (size_t pc = gapStart; pc < gapEnd; ++pc) spins += code[pc].opcode == isa::Opcode::Dcci;
  EXPECT_EQ(spins, 1u);
  EXPECT_TRUE(p.tasks[1].isHost);
  EXPECT_EQ(p.tasks[2].name, "op4 .. op5");
  // The joined kernels are gone; the two sequences' kernels are numbered in launch order.
  ASSERT_EQ(p.kernels.size(), 2u);
  EXPECT_EQ(first.launch.kernel, 0u);
  EXPECT_EQ(p.tasks[2].launch.kernel, 1u);
  EXPECT_EQ(p.kernels[0].binary.code.size(), first.launch.segments.back().endPc + 1);

  // A kernel made for one block, joined with one made for two: the launch takes two blocks, and
  // block 1 branches past the narrow part (block_idx >= 1) right after the barrier.
  pkg::Package narrow = package({1024, 1024});
  narrow.tasks[1].launch.blockDim = 1;
  ASSERT_TRUE(joinKernelSequences(narrow, {{0, 1}}).ok());
  EXPECT_EQ(narrow.tasks[0].launch.blockDim, 2u);
  const std::vector<isa::Instruction> &joinedCode = narrow.kernels[0].binary.code;
  bool skips = false;
  for (size_t pc = narrow.tasks[0].launch.segments[0].endPc + 2; pc < narrow.tasks[0].launch.segments[1].entryPc; ++pc)
    skips = skips || (joinedCode[pc].opcode == isa::Opcode::Bge && joinedCode[pc - 1].opcode == isa::Opcode::Li &&
                      joinedCode[pc - 1].operand("imm") == 1 && joinedCode[pc - 2].opcode == isa::Opcode::Mfsr);
  EXPECT_TRUE(skips);

  // On a chip that synchronises its cores in hardware, the barrier is one sync_all: no flag loop
  // in the code, no flags after the arguments, and it costs what the config says.
  pkg::Package hw = package({1024, 1024});
  ASSERT_TRUE(joinKernelSequences(hw, {{0, 1}}, /*hardwareSync=*/true).ok());
  EXPECT_EQ(hw.tasks[0].launch.barrierFlagBytes, 0u);
  const std::vector<isa::Instruction> &hwCode = hw.kernels[0].binary.code;
  auto count = [&](isa::Opcode op) {
    return std::count_if(hwCode.begin(), hwCode.end(), [&](const isa::Instruction &i) { return i.opcode == op; });
  };
  EXPECT_EQ(count(isa::Opcode::SyncAll), 1);
  EXPECT_EQ(count(isa::Opcode::Dcci), 0) << "no flag loop";
  ChipConfig synced = edge();
  synced.chip.crossCoreSyncCycles = 40;
  EXPECT_DOUBLE_EQ(barrierCycles(synced, 2), 40);
  EXPECT_DOUBLE_EQ(barrierCycles(synced, 1), 0);

  pkg::Package q = package({1024, 1024});
  EXPECT_FALSE(joinKernelSequences(q, {{1, 0}}).ok());
  pkg::Package h = package({1024, -1, 1024});
  Status s = joinKernelSequences(h, {{0, 2}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("over host task 'op1'"), std::string::npos) << s.error().message;
}

} // namespace
} // namespace fractal::compiler
