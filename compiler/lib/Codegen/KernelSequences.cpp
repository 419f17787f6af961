// KernelSequences.h: which kernel tasks share a launch, and joining them.
#include "fractal/compiler/Codegen/KernelSequences.h"

#include "fractal/isa/KernelSequence.h"

#include <algorithm>
#include <cstdint>
#include <set>

namespace fractal::compiler {

double barrierCycles(const ChipConfig &config, int64_t blockDim) {
  if (config.chip.crossCoreSyncCycles > 0) return blockDim > 1 ? double(config.chip.crossCoreSyncCycles) : 0.0;
  constexpr double kLoopInstructions = 16; // per round, the flag addresses and the branches
  const double roundTrip = double(config.core.scalarGmLatencyCycles + config.core.scalarCyclesPerInstruction);
  return isa::barrierRounds(blockDim) * (2 * roundTrip + kLoopInstructions * config.core.scalarCyclesPerInstruction);
}

std::vector<std::pair<size_t, size_t>> chooseKernelSequences(const pkg::Package &package, const ChipConfig &config) {
  // Joining two tasks saves a launch and adds a barrier; the barrier's cost on the chip's cores
  // bounds it for every run.
  std::vector<std::pair<size_t, size_t>> runs;
  if (barrierCycles(config, config.chip.cores) >= config.kernelLaunchCycles()) return runs;
  const size_t n = package.tasks.size();
  for (size_t i = 0; i < n;) {
    if (package.tasks[i].isHost) {
      ++i;
      continue;
    }
    // A sequence's argument table holds every part's arguments.
    auto arguments = [&](size_t t) { return package.tasks[t].launch.tensors.size(); };
    size_t j = i, tensors = arguments(i);
    while (j + 1 < n && !package.tasks[j + 1].isHost && tensors + arguments(j + 1) <= pkg::kMaxLaunchArguments)
      tensors += arguments(++j);
    if (j > i) runs.push_back({i, j});
    i = j + 1;
  }
  return runs;
}

Status joinKernelSequences(pkg::Package &package, const std::vector<std::pair<size_t, size_t>> &runs,
                           bool hardwareSync) {
  if (runs.empty()) return Status::success();
  std::vector<pkg::Task> tasks;
  size_t next = 0;
  for (const auto &[first, last] : runs) {
    if (first < next || last <= first || last >= package.tasks.size())
      return Error::internal("kernel sequence [" + std::to_string(first) + ", " + std::to_string(last) +
                             "] is not a run of tasks after the previous one");
    for (; next < first; ++next) tasks.push_back(std::move(package.tasks[next]));
    pkg::Task joined;
    joined.opType = "Sequence";
    joined.launch.blockDim = 1;
    for (size_t i = first; i <= last; ++i)
      joined.launch.blockDim = std::max(joined.launch.blockDim, package.tasks[i].launch.blockDim);
    std::vector<isa::SequencePart> parts;
    std::set<std::string> seen;
    for (size_t i = first; i <= last; ++i) {
      const pkg::Task &t = package.tasks[i];
      if (t.isHost) return Error::internal("kernel sequence over host task '" + t.name + "'");
      // Constants (weights, biases) are written only when the model is loaded.
      std::vector<bool> readOnly;
      for (uint32_t tensor : t.launch.tensors) readOnly.push_back(package.tensors.at(tensor).kind == pkg::TensorKind::Constant);
      parts.push_back({&package.kernels.at(t.launch.kernel).binary, 8 * joined.launch.tensors.size(),
                       int64_t(t.launch.blockDim), std::move(readOnly)});
      joined.launch.tensors.insert(joined.launch.tensors.end(), t.launch.tensors.begin(), t.launch.tensors.end());
      for (const std::string &n : t.onnxNodes)
        if (seen.insert(n).second) joined.onnxNodes.push_back(n);
      joined.modelMacs += t.modelMacs;
    }
    const std::string &firstName = package.tasks[first].name, &lastName = package.tasks[last].name;
    joined.name = firstName == lastName ? firstName : firstName + " .. " + lastName;
    const std::string kernelName = "Sequence_" + std::to_string(package.kernels.size());
    std::vector<isa::SequenceRange> ranges;
    // The barrier flags follow the argument words (the runtime zeroes them at each launch).
    const isa::SequenceBarrier barrier{8 * joined.launch.tensors.size(), int64_t(joined.launch.blockDim), hardwareSync};
    const bool multiCore = joined.launch.blockDim > 1;
    if (multiCore && !hardwareSync) joined.launch.barrierFlagBytes = isa::barrierFlagBytes(joined.launch.blockDim);
    Expected<isa::KernelBinary> binary =
        isa::sequenceKernels(parts, package.kernels.at(package.tasks[first].launch.kernel).binary.source, &ranges,
                             multiCore ? &barrier : nullptr);
    if (!binary) return binary.error().withContext(kernelName);
    for (size_t i = first; i <= last; ++i) {
      const pkg::Task &t = package.tasks[i];
      joined.launch.segments.push_back(
          {t.name, t.opType, ranges[i - first].entry, ranges[i - first].end, t.launch.blockDim, t.onnxNodes,
           t.modelMacs, uint32_t(t.launch.tensors.size())});
    }
    joined.launch.kernel = uint32_t(package.kernels.size());
    package.kernels.push_back({kernelName, std::move(*binary)});
    tasks.push_back(std::move(joined));
    next = last + 1;
  }
  for (; next < package.tasks.size(); ++next) tasks.push_back(std::move(package.tasks[next]));
  package.tasks = std::move(tasks);

  pkg::renumberKernelsByFirstLaunch(package); // the joined kernels are launched no more
  return Status::success();
}

} // namespace fractal::compiler
