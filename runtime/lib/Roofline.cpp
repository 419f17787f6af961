// Roofline.h: the bounds and the breakdown of a model's simulated time.
#include "fractal/runtime/Roofline.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace fractal::runtime {
namespace {

double peakMacsPerCycle(const ChipConfig &c) {
  return c.fp16MacsPerCycle() * double(c.chip.cores);
}

// What a pipe's business means, in the profile's words.
std::string limiterName(const std::string &pipe) {
  if (pipe == "m") return "cube";
  if (pipe == "v") return "vector";
  if (pipe == "mte1") return "L1 -> L0 loads (mte1)";
  if (pipe == "mte2") return "GM loads (mte2)";
  if (pipe == "mte3") return "GM stores (mte3)";
  if (pipe == "fix") return "FixPipe";
  if (pipe == "s") return "scalar";
  if (pipe == "dram") return "DRAM bandwidth";
  return pipe;
}

} // namespace

double modelRooflineCycles(const pkg::Package &package, const ChipConfig &config, double macs) {
  double bytes = 0;
  for (const pkg::Tensor &t : package.tensors)
    if (t.kind != pkg::TensorKind::Activation) bytes += double(t.dataBytes());
  return std::max(macs / peakMacsPerCycle(config), bytes / config.dramBytesPerCycle());
}

namespace {

TaskBound workBound(uint64_t modelMacs, uint64_t tensorBytes, const std::vector<PipeUse> &pipes, uint64_t cycles,
                    uint64_t dramBytes, const ChipConfig &config) {
  TaskBound b;
  b.computeCycles = double(modelMacs) / peakMacsPerCycle(config);
  b.memoryCycles = double(tensorBytes) / config.dramBytesPerCycle();
  std::string busiest;
  for (const PipeUse &u : pipes)
    if (u.ratio > b.busiest) {
      b.busiest = u.ratio;
      busiest = u.pipe;
    }
  // DRAM is one channel for the chip: busy for what it moved at its bandwidth, over the duration.
  const double dram = cycles > 0 ? double(dramBytes) / config.dramBytesPerCycle() / double(cycles) : 0.0;
  if (dram > b.busiest) {
    b.busiest = dram;
    busiest = "dram";
  }
  b.busiestUnit = busiest.empty() ? "" : limiterName(busiest);
  b.limitedBy = b.busiest > 0.5 ? b.busiestUnit : "latency and sync";
  return b;
}

} // namespace

TaskBound taskBound(const TaskProfile &task, const ChipConfig &config) {
  if (task.host) return {};
  return workBound(task.modelMacs, task.tensorBytes, task.pipes, task.cycles, task.dramBytes, config);
}

TaskBound segmentBound(const SegmentProfile &segment, const ChipConfig &config) {
  return workBound(segment.modelMacs, segment.tensorBytes, segment.pipes, segment.cycles, segment.dramBytes, config);
}

WhereTimeGoes whereTimeGoes(const ModelProfile &profile, const pkg::Package &package, const ChipConfig &config) {
  WhereTimeGoes w;
  const double launch = config.kernelLaunchCycles();
  double macs = 0;
  std::map<std::string, double> byLimiter, alone, busiestWork;
  std::vector<TimedWork> work;
  double hits = 0, lookups = 0;
  for (const TaskProfile &t : profile.tasks) {
    w.tasks.push_back(taskBound(t, config));
    if (t.host) continue;
    macs += double(t.modelMacs);
    w.dramBytes += double(t.dramBytes);
    w.barrierWaitCycles += double(t.barrierWaitCycles);
    hits += double(t.l2Hits);
    lookups += double(t.l2Hits + t.l2Misses);
    w.kernelCycles += double(t.cycles);
    w.launchCycles += launch;
    if (!t.alone.empty()) {
      w.pipesTraced = true;
      w.noPipeCycles += t.noPipe * double(t.cycles);
      w.overlappingCycles += t.overlapping * double(t.cycles);
      for (const PipeUse &u : t.alone) alone[u.pipe] += u.ratio * double(t.cycles);
    }
    if (t.segments.empty()) {
      work.push_back({t.name, t.opType, t.cycles, w.tasks.back()});
      continue;
    }
    // A sequence (with many parts, a whole model) says little as one row: its parts do.
    for (const SegmentProfile &g : t.segments) work.push_back({g.name, g.opType, g.cycles, segmentBound(g, config)});
  }
  for (const TimedWork &x : work) {
    byLimiter[x.bound.limitedBy] += double(x.cycles);
    w.sumOfKernelBounds += x.bound.cycles();
    if (x.bound.busiestUnit.empty()) continue;
    w.busiestWorkCycles += x.bound.busiest * double(x.cycles);
    busiestWork[x.bound.busiestUnit] += x.bound.busiest * double(x.cycles);
  }
  w.boundCycles = modelRooflineCycles(package, config, macs);
  w.dramCycles = w.dramBytes / config.dramBytesPerCycle();
  w.l2HitRate = lookups > 0 ? hits / lookups : 0.0;
  auto largestFirst = [](const auto &a, const auto &b) { return a.second > b.second; };
  w.byLimiter.assign(byLimiter.begin(), byLimiter.end());
  std::sort(w.byLimiter.begin(), w.byLimiter.end(), largestFirst);
  w.busiestWork.assign(busiestWork.begin(), busiestWork.end());
  std::sort(w.busiestWork.begin(), w.busiestWork.end(), largestFirst);
  for (const auto &[pipe, cycles] : alone)
    if (cycles > 0) w.aloneCycles.push_back({pipe, cycles});
  std::sort(w.aloneCycles.begin(), w.aloneCycles.end(), largestFirst);
  auto gap = [](const TimedWork &x) { return double(x.cycles) - x.bound.cycles(); };
  std::stable_sort(work.begin(), work.end(), [&](const TimedWork &a, const TimedWork &b) { return gap(a) > gap(b); });
  if (work.size() > 5) work.resize(5);
  w.furthestAboveBound = std::move(work);
  return w;
}

std::string describe(const WhereTimeGoes &w, const ModelProfile &profile) {
  std::string s;
  char line[512];
  const double total = w.kernelCycles + w.launchCycles;
  if (total <= 0) return s;
  std::snprintf(line, sizeof line,
                "where the time goes: %.0f kernel cycles + %.0f cycles of kernel launches (%.0f%% of %.0f); roofline "
                "bound %.0f cycles = %.3f of the kernel cycles, %.3f of the latency with the launches\n",
                w.kernelCycles, w.launchCycles, 100.0 * w.launchCycles / total, total, w.boundCycles,
                w.kernelCycles > 0 ? w.boundCycles / w.kernelCycles : 0.0, w.boundCycles / total);
  s += line;
  if (w.kernelCycles > 0) {
    std::snprintf(line, sizeof line,
                  "  kernels' own bounds (intermediate tensors through DRAM too): %.0f cycles = %.3f of the kernel cycles\n",
                  w.sumOfKernelBounds, w.sumOfKernelBounds / w.kernelCycles);
    s += line;
    if (w.busiestWorkCycles > 0) {
      std::snprintf(line, sizeof line,
                    "  the busiest unit's own work, kernel by kernel (a traced sequence's parts each): %.0f cycles = "
                    "%.3f of the kernel cycles (",
                    w.busiestWorkCycles, w.busiestWorkCycles / w.kernelCycles);
      s += line;
      for (size_t i = 0; i < w.busiestWork.size() && i < 4; ++i) {
        std::snprintf(line, sizeof line, "%s%s %.0f", i ? ", " : "", w.busiestWork[i].first.c_str(), w.busiestWork[i].second);
        s += line;
      }
      std::snprintf(line, sizeof line,
                    "): however well their pipes overlapped, these kernels would take that long, %.3f of the "
                    "roofline at best\n",
                    w.boundCycles / w.busiestWorkCycles);
      s += line;
    }
    std::snprintf(line, sizeof line,
                  "  DRAM moved %.1f %s during the kernels: %.0f cycles at its bandwidth = %.3f of the kernel cycles; "
                  "L2 hit rate %.1f%%\n",
                  w.dramBytes >= 1e6 ? w.dramBytes / 1e6 : w.dramBytes / 1e3, w.dramBytes >= 1e6 ? "MB" : "KB",
                  w.dramCycles, w.dramCycles / w.kernelCycles, 100.0 * w.l2HitRate);
    s += line;
    if (w.barrierWaitCycles > 0) {
      std::snprintf(line, sizeof line,
                    "  cross-core barriers between kernel parts: each core waited %.0f cycles at them = %.3f of "
                    "the kernel cycles\n",
                    w.barrierWaitCycles, w.barrierWaitCycles / w.kernelCycles);
      s += line;
    }
  }
  if (w.pipesTraced && w.kernelCycles > 0) {
    // Whether the pipes work at once or take turns: a kernel whose busiest pipe is far from full
    // is waiting, and this says on what.
    double aloneTotal = 0;
    for (const auto &a : w.aloneCycles) aloneTotal += a.second;
    std::snprintf(line, sizeof line,
                  "  pipes at work, per core: none for %.0f%% of the kernel cycles (waiting on flags, GM latency or "
                  "the scalar unit), one alone for %.0f%%",
                  100.0 * w.noPipeCycles / w.kernelCycles, 100.0 * aloneTotal / w.kernelCycles);
    s += line;
    for (size_t i = 0; i < w.aloneCycles.size() && i < 4; ++i) {
      std::snprintf(line, sizeof line, "%s%s %.0f%%", i ? ", " : " (", limiterName(w.aloneCycles[i].first).c_str(),
                    100.0 * w.aloneCycles[i].second / w.kernelCycles);
      s += line;
    }
    std::snprintf(line, sizeof line, "%s, two or more at once for %.0f%%\n", w.aloneCycles.empty() ? "" : ")",
                  100.0 * w.overlappingCycles / w.kernelCycles);
    s += line;
  }
  s += "  kernel cycles by limiter:";
  for (size_t i = 0; i < w.byLimiter.size(); ++i) {
    std::snprintf(line, sizeof line, "%s %s %.0f%%", i ? "," : "", w.byLimiter[i].first.c_str(),
                  w.kernelCycles > 0 ? 100.0 * w.byLimiter[i].second / w.kernelCycles : 0.0);
    s += line;
  }
  s += "\n  furthest above their bound:";
  for (size_t k = 0; k < w.furthestAboveBound.size(); ++k) {
    const TimedWork &x = w.furthestAboveBound[k];
    std::snprintf(line, sizeof line, "%s %s (%s) %llu cycles, bound %.0f, %s %.2f", k ? ";" : "", x.name.c_str(),
                  x.opType.c_str(), (unsigned long long)x.cycles, x.bound.cycles(), x.bound.limitedBy.c_str(),
                  x.bound.busiest);
    s += line;
  }
  bool untraced = false;
  for (const TaskProfile &t : profile.tasks) untraced = untraced || (t.opType == "Sequence" && t.segments.empty());
  if (untraced) s += "\n  (a kernel sequence counts as one row here; --profile DIR traces the run and lists its parts)";
  return s + "\n";
}

} // namespace fractal::runtime
