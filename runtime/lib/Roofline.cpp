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
  return pipe;
}

} // namespace

double modelRooflineCycles(const pkg::Package &package, const ChipConfig &config, double macs) {
  double bytes = 0;
  for (const pkg::Tensor &t : package.tensors)
    if (t.kind != pkg::TensorKind::Activation) bytes += double(t.dataBytes());
  return std::max(macs / peakMacsPerCycle(config), bytes / config.dramBytesPerCycle());
}

TaskBound taskBound(const TaskProfile &task, const ChipConfig &config) {
  TaskBound b;
  if (task.host) return b;
  b.computeCycles = double(task.modelMacs) / peakMacsPerCycle(config);
  b.memoryCycles = double(task.tensorBytes) / config.dramBytesPerCycle();
  std::string busiest;
  for (const PipeUse &u : task.pipes)
    if (u.ratio > b.busiest) {
      b.busiest = u.ratio;
      busiest = u.pipe;
    }
  b.limitedBy = b.busiest > 0.5 ? limiterName(busiest) : "latency and sync";
  return b;
}

WhereTimeGoes whereTimeGoes(const ModelProfile &profile, const pkg::Package &package, const ChipConfig &config) {
  WhereTimeGoes w;
  const double launch = config.kernelLaunchCycles();
  double macs = 0;
  std::map<std::string, double> byLimiter;
  for (const TaskProfile &t : profile.tasks) {
    w.tasks.push_back(taskBound(t, config));
    if (t.host) continue;
    macs += double(t.modelMacs);
    w.kernelCycles += double(t.cycles);
    w.launchCycles += launch;
    byLimiter[w.tasks.back().limitedBy] += double(t.cycles);
  }
  w.boundCycles = modelRooflineCycles(package, config, macs);
  w.byLimiter.assign(byLimiter.begin(), byLimiter.end());
  std::sort(w.byLimiter.begin(), w.byLimiter.end(), [](const auto &a, const auto &b) { return a.second > b.second; });
  for (size_t i = 0; i < profile.tasks.size(); ++i)
    if (!profile.tasks[i].host) w.furthestAboveBound.push_back(i);
  auto gap = [&](size_t i) { return double(profile.tasks[i].cycles) - w.tasks[i].cycles(); };
  std::sort(w.furthestAboveBound.begin(), w.furthestAboveBound.end(), [&](size_t a, size_t b) { return gap(a) > gap(b); });
  if (w.furthestAboveBound.size() > 5) w.furthestAboveBound.resize(5);
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
  s += "  kernel cycles by limiter:";
  for (size_t i = 0; i < w.byLimiter.size(); ++i) {
    std::snprintf(line, sizeof line, "%s %s %.0f%%", i ? "," : "", w.byLimiter[i].first.c_str(),
                  w.kernelCycles > 0 ? 100.0 * w.byLimiter[i].second / w.kernelCycles : 0.0);
    s += line;
  }
  s += "\n  furthest above their bound:";
  for (size_t k = 0; k < w.furthestAboveBound.size(); ++k) {
    const size_t i = w.furthestAboveBound[k];
    const TaskProfile &t = profile.tasks[i];
    std::snprintf(line, sizeof line, "%s %s (%s) %llu cycles, bound %.0f, %s %.2f", k ? ";" : "", t.name.c_str(),
                  t.opType.c_str(), (unsigned long long)t.cycles, w.tasks[i].cycles(), w.tasks[i].limitedBy.c_str(),
                  w.tasks[i].busiest);
    s += line;
  }
  return s + "\n";
}

} // namespace fractal::runtime
