// Which kernel tasks share a launch (compiler/Codegen/KernelSequences.h) and what joining makes.
#include "fractal/compiler/Codegen/KernelSequences.h"

#include "fractal/isa/Assembler.h"

#include <gtest/gtest.h>

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

TEST(KernelSequences, SmallKernelsShareALaunchAndHostTasksEndARun) {
  const ChipConfig config = edge();
  // A few KB each: far less lost on one core than a launch (13,600 cycles) costs.
  pkg::Package p = package({1024, 2048, 1024, -1, 4096, 1024, 512});
  EXPECT_EQ(chooseKernelSequences(p, config), (std::vector<std::pair<size_t, size_t>>{{0, 2}, {4, 6}}));
  // A loss estimate: the tensor at DRAM bandwidth, x2, half of it the other core's.
  const double bytes = 2048 * 2;
  EXPECT_NEAR(singleCoreLoss(p, p.tasks[1], config), kWorkPerBound * bytes / config.dramBytesPerCycle() / 2, 1e-6);
  pkg::Task oneBlock = p.tasks[1];
  oneBlock.launch.blockDim = 1;
  EXPECT_EQ(singleCoreLoss(p, oneBlock, config), 0.0);
}

TEST(KernelSequences, AKernelThatLosesMoreThanALaunchStaysAlone) {
  const ChipConfig config = edge();
  // 8 MB at ~75 bytes a cycle: ~110k cycles lost on one core, eight launches' worth.
  pkg::Package p = package({1024, 1024, 4 << 20, 1024});
  EXPECT_EQ(chooseKernelSequences(p, config), (std::vector<std::pair<size_t, size_t>>{{0, 1}}));
  // Two kernels each losing 0.9 of a launch: joined, they would save one launch and lose 1.8.
  const double launch = config.runtime.kernelLaunchUs * config.chip.clockMhz;
  const int64_t elements = int64_t(0.9 * launch / kWorkPerBound * 2 * config.dramBytesPerCycle() / 2);
  pkg::Package q = package({elements, elements});
  EXPECT_NEAR(singleCoreLoss(q, q.tasks[0], config), 0.9 * launch, 0.01 * launch);
  EXPECT_TRUE(chooseKernelSequences(q, config).empty());
  // One chip core: nothing is lost, every run of kernels shares a launch.
  ChipConfig single = config;
  single.chip.cores = 1;
  EXPECT_EQ(chooseKernelSequences(p, single), (std::vector<std::pair<size_t, size_t>>{{0, 3}}));
}

// On a many-core chip one core moves its tensors at its own GM port's rate, not the chip's DRAM
// bandwidth (the cloud config: 87 of 1200 bytes a cycle): PP-OCRv4's memory-bound kernels were
// joined as if a core were 14x faster than it is, and its simulated latency doubled.
TEST(KernelSequences, ACoreMovesDataAtItsOwnPortsRate) {
  Expected<ChipConfig> cloud = loadChipConfig("cloud");
  ASSERT_TRUE(cloud.ok());
  ASSERT_LT(double(cloud->dma.gmReadBytesPerCycle), cloud->dramBytesPerCycle());
  // Two kernels of 1 MB each: at the chip's DRAM bandwidth ~1,700 cycles lost on one core, a
  // tenth of a launch (20,000 cycles); at one core's port ~23,000 each, so joining them (one
  // launch saved) loses more than it saves.
  pkg::Package p = package({512 << 10, 512 << 10});
  for (pkg::Task &t : p.tasks) t.launch.blockDim = uint32_t(cloud->chip.cores);
  const double bytes = (512 << 10) * 2, launch = cloud->runtime.kernelLaunchUs * cloud->chip.clockMhz;
  const double loss = singleCoreLoss(p, p.tasks[1], *cloud);
  EXPECT_NEAR(loss, kWorkPerBound * bytes / double(cloud->dma.gmReadBytesPerCycle) * (1.0 - 1.0 / cloud->chip.cores), 1e-6);
  EXPECT_GT(loss, launch);
  EXPECT_TRUE(chooseKernelSequences(p, *cloud).empty());
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
  EXPECT_EQ(first.launch.blockDim, 1u);
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
  EXPECT_TRUE(p.tasks[1].isHost);
  EXPECT_EQ(p.tasks[2].name, "op4 .. op5");
  // The joined kernels are gone; the two sequences' kernels are numbered in launch order.
  ASSERT_EQ(p.kernels.size(), 2u);
  EXPECT_EQ(first.launch.kernel, 0u);
  EXPECT_EQ(p.tasks[2].launch.kernel, 1u);
  EXPECT_EQ(p.kernels[0].binary.code.size(), first.launch.segments.back().endPc + 1);

  pkg::Package q = package({1024, 1024});
  EXPECT_FALSE(joinKernelSequences(q, {{1, 0}}).ok());
  pkg::Package h = package({1024, -1, 1024});
  Status s = joinKernelSequences(h, {{0, 2}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("over host task 'op1'"), std::string::npos) << s.error().message;
}

} // namespace
} // namespace fractal::compiler
