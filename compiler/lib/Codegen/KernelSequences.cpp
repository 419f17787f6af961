// KernelSequences.h: which kernel tasks share a launch, and joining them.
#include "fractal/compiler/Codegen/KernelSequences.h"

#include "fractal/isa/KernelSequence.h"

#include <algorithm>
#include <set>

namespace fractal::compiler {

double singleCoreLoss(const pkg::Package &package, const pkg::Task &task, const ChipConfig &config) {
  const int64_t cores = std::min<int64_t>(task.launch.blockDim, config.chip.cores);
  if (task.isHost || cores <= 1) return 0;
  double bytes = 0;
  for (uint32_t t : task.launch.tensors) bytes += double(package.tensors.at(t).dataBytes());
  // One core moves at most its own GM port's bytes per cycle: on a many-core chip far less than
  // the chip's DRAM bandwidth (the cloud config: 87 of 1200 bytes per cycle).
  const double oneCoreBytesPerCycle = std::min(config.dramBytesPerCycle(), double(config.dma.gmReadBytesPerCycle));
  const double work =
      kWorkPerBound * std::max(double(task.modelMacs) / config.fp16MacsPerCycle(), bytes / oneCoreBytesPerCycle);
  return work * (1.0 - 1.0 / double(cores));
}

std::vector<std::pair<size_t, size_t>> chooseKernelSequences(const pkg::Package &package, const ChipConfig &config) {
  const double launchCycles = config.kernelLaunchCycles();
  const size_t n = package.tasks.size();
  std::vector<double> loss(n);
  for (size_t i = 0; i < n; ++i) loss[i] = singleCoreLoss(package, package.tasks[i], config);
  // best[j]: the largest estimated saving over tasks [0, j); from[j]: where the last run of that
  // choice starts (j - 1 when task j - 1 stays alone). A run [i, j) of kernel tasks saves
  // (j - i - 1) launches and loses what its tasks lose on one core.
  std::vector<double> best(n + 1, 0);
  std::vector<size_t> from(n + 1, 0);
  for (size_t j = 1; j <= n; ++j) {
    best[j] = best[j - 1];
    from[j] = j - 1;
    double lost = 0;
    for (size_t i = j; i-- > 0;) {
      if (package.tasks[i].isHost) break;
      lost += loss[i];
      const double saving = double(j - i - 1) * launchCycles - lost;
      if (j - i >= 2 && best[i] + saving > best[j]) {
        best[j] = best[i] + saving;
        from[j] = i;
      }
    }
  }
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t j = n; j > 0; j = from[j])
    if (j - from[j] >= 2) runs.push_back({from[j], j - 1});
  std::reverse(runs.begin(), runs.end());
  return runs;
}

Status joinKernelSequences(pkg::Package &package, const std::vector<std::pair<size_t, size_t>> &runs) {
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
    std::vector<isa::SequencePart> parts;
    std::set<std::string> seen;
    for (size_t i = first; i <= last; ++i) {
      const pkg::Task &t = package.tasks[i];
      if (t.isHost) return Error::internal("kernel sequence over host task '" + t.name + "'");
      parts.push_back({&package.kernels.at(t.launch.kernel).binary, 8 * joined.launch.tensors.size()});
      joined.launch.tensors.insert(joined.launch.tensors.end(), t.launch.tensors.begin(), t.launch.tensors.end());
      for (const std::string &n : t.onnxNodes)
        if (seen.insert(n).second) joined.onnxNodes.push_back(n);
      joined.modelMacs += t.modelMacs;
    }
    const std::string &firstName = package.tasks[first].name, &lastName = package.tasks[last].name;
    joined.name = firstName == lastName ? firstName : firstName + " .. " + lastName;
    const std::string kernelName = "Sequence_" + std::to_string(package.kernels.size());
    std::vector<isa::SequenceRange> ranges;
    Expected<isa::KernelBinary> binary =
        isa::sequenceKernels(parts, package.kernels.at(package.tasks[first].launch.kernel).binary.source, &ranges);
    if (!binary) return binary.error().withContext(kernelName);
    for (size_t i = first; i <= last; ++i) {
      const pkg::Task &t = package.tasks[i];
      joined.launch.segments.push_back(
          {t.name, t.opType, ranges[i - first].entry, ranges[i - first].end, t.launch.blockDim, t.onnxNodes});
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
