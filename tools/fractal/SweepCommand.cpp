// `fractal sweep`: one model compiled and run in timing mode on every combination of chip-config
// values (a hardware architect's study: what does L2 size, DRAM bandwidth or the core count do to
// this model?). Each point's config is written out, so any row can be rerun with `fractal run`.
#include "ArgParser.h"
#include "Commands.h"
#include "ModelRun.h"

#include "fractal/config/ChipConfig.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/Roofline.h"
#include "fractal/support/File.h"

#include <cstdio>
#include <sstream>

namespace fractal::cli {
namespace {

constexpr size_t kMaxPoints = 64; // each point compiles and simulates the model

struct Axis {
  std::string key;
  std::vector<std::string> values;
};

Expected<Axis> parseSet(const std::string &item) {
  const size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
    return Error::badInput("fractal sweep: --set '" + item + "' is not KEY=VALUE[,VALUE...]");
  Axis a{item.substr(0, eq), {}};
  std::stringstream values(item.substr(eq + 1));
  for (std::string v; std::getline(values, v, ',');) {
    if (v.empty()) return Error::badInput("fractal sweep: --set '" + item + "' has an empty value");
    a.values.push_back(v);
  }
  return a;
}

// A CSV field: quoted when it holds a comma or a quote.
std::string csvField(const std::string &s) {
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// One line for a refused point's row: the compile error without the model's path, its first
// problem after the count ("3 op(s) have no NPU kernel ...: conv_1: L1/L0C overflow: ...").
std::string refusalSummary(std::string message, const std::string &model) {
  if (message.rfind(model + ": ", 0) == 0) message.erase(0, model.size() + 2);
  const size_t firstLine = message.find('\n');
  if (firstLine == std::string::npos) return message;
  std::string head = message.substr(0, firstLine);
  const size_t start = message.find_first_not_of(' ', firstLine + 1);
  const size_t end = message.find('\n', firstLine + 1);
  if (start != std::string::npos && start < end) {
    if (!head.empty() && head.back() == ':') head.pop_back();
    head += ": " + message.substr(start, end == std::string::npos ? std::string::npos : end - start);
  }
  return head;
}

} // namespace

int runSweepCommand(const Args &args) {
  std::string model, target = "edge", shapes, outputDir = "sweep", opTimeout;
  std::vector<std::string> sets;
  ArgParser parser("fractal sweep", "compile and time a model on every combination of chip-config values");
  parser.positional("MODEL.onnx", "the model", &model);
  parser.list("--set", "KEY=V1[,V2...]", "a config key (dotted, as in docs/config.md) and its values; "
              "several --set: every combination", &sets);
  parser.option("--target", "NAME|FILE", "the config the values change (default: edge)", &target);
  parser.option("--input-shape", "SHAPES", "fix input dims as fractal compile does", &shapes);
  parser.option("--output-dir", "DIR", "where each point's config (point-N.yaml) and sweep.csv go (default: sweep)",
                &outputDir);
  parser.option("--op-timeout", "MS", opTimeoutHelp() + "; a slow config's kernels may need more", &opTimeout);
  parser.epilog("Inputs are the seeded random data of `fractal run --random-inputs`. Each row: the values, the\n"
                "simulated latency, kernel and launch cycles, the ratio to the roofline, DRAM's busy share and\n"
                "the L2 hit rate, and what limited most kernel cycles. A point whose config the model does not\n"
                "compile for (a buffer too small for some op) is a row marked refused, its reasons on stderr, and\n"
                "the sweep goes on.\n\n"
                "EXIT CODES: 0 every point ran, 2 bad model, key, value or flag, or some point refused (the others\n"
                "ran and are in sweep.csv), 3 the device faulted.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (sets.empty()) return reportError(Error::badInput("fractal sweep: give at least one --set KEY=V1,V2"));
  Expected<uint32_t> opTimeoutMs = parseOpTimeout("fractal sweep", opTimeout);
  if (!opTimeoutMs) return reportError(opTimeoutMs.error());
  std::vector<Axis> axes;
  size_t points = 1;
  for (const std::string &item : sets) {
    Expected<Axis> a = parseSet(item);
    if (!a) return reportError(a.error());
    points *= a->values.size();
    if (points > kMaxPoints)
      return reportError(Error::badInput("fractal sweep: the --set values make more than " +
                                         std::to_string(kMaxPoints) + " points; sweep fewer at a time"));
    axes.push_back(std::move(*a));
  }
  Expected<ChipConfig> base = loadChipConfig(target);
  if (!base) return reportError(base.error());
  // Every point's config first: a bad key or value stops the sweep before anything runs.
  std::vector<ChipConfig> configs;
  std::vector<std::vector<std::pair<std::string, std::string>>> settings;
  for (size_t p = 0; p < points; ++p) {
    std::vector<std::pair<std::string, std::string>> s;
    for (size_t i = 0, rest = p; i < axes.size(); rest /= axes[i].values.size(), ++i)
      s.push_back({axes[i].key, axes[i].values[rest % axes[i].values.size()]});
    Expected<ChipConfig> c = overrideChipConfig(*base, s, "fractal sweep point " + std::to_string(p));
    if (!c) return reportError(c.error());
    configs.push_back(std::move(*c));
    settings.push_back(std::move(s));
  }
  // The model's own errors (unreadable, unsupported ops, unfixed dims) stop the sweep here; past
  // this, a point whose compile fails has a config too small for some kernel.
  if (Status s = onnx_frontend::checkOnnxModelGraph(model, shapes); !s) return reportError(s.error());
  if (Status s = createDirectories(outputDir); !s) return reportError(s.error());

  std::string header;
  for (const Axis &a : axes) header += csvField(a.key) + ",";
  std::string csv = header + "latency_us,kernel_cycles,launch_cycles,ratio_to_roofline,dram_busy,l2_hit_rate,"
                             "limited_by,limited_share,config,status,reason\n";
  size_t refused = 0;
  std::printf("%-8s", "point");
  for (const Axis &a : axes) std::printf(" %-24s", a.key.c_str());
  std::printf(" %12s %12s %9s %9s %7s  %s\n", "latency_us", "kernel_cyc", "roofline", "dram_busy", "l2_hit", "limited by");
  for (size_t p = 0; p < points; ++p) {
    const std::string configFile = outputDir + "/point-" + std::to_string(p) + ".yaml";
    if (Status s = writeFileAtomically(configFile, chipConfigToYaml(configs[p])); !s) return reportError(s.error());
    Expected<pkg::Package> package = onnx_frontend::compileOnnxModel(model, shapes, configs[p], "");
    if (!package && package.error().code == ExitCode::BadInput) {
      // The model does not compile for this point's config: a row saying why, and on to the next.
      const std::string reason = refusalSummary(package.error().message, model);
      std::fprintf(stderr, "fractal: sweep point %zu refused: %s\n", p, package.error().message.c_str());
      std::printf("%-8zu", p);
      for (const auto &[key, value] : settings[p]) std::printf(" %-24s", value.c_str());
      std::printf(" refused: %s\n", reason.c_str());
      std::fflush(stdout);
      for (const auto &[key, value] : settings[p]) csv += csvField(value) + ",";
      csv += ",,,,,,,," + csvField(configFile) + ",refused," + csvField(reason) + "\n";
      ++refused;
      continue;
    }
    if (!package) return reportError(package.error());
    std::vector<NpyArray> inputs;
    for (size_t k = 0; k < package->inputs.size(); ++k)
      inputs.push_back(randomInput(package->tensors[package->inputs[k]], uint32_t(k)));
    // Traced, so that a kernel sequence's parts each count under their own limiter.
    Expected<ModelRun> run = runOnDevice(*package, configFile, "timing", inputs, true, "", *opTimeoutMs);
    if (!run) return reportError(run.error());
    const runtime::WhereTimeGoes w = runtime::whereTimeGoes(run->profile, *package, configs[p]);
    const double dramBusy = w.kernelCycles > 0 ? w.dramCycles / w.kernelCycles : 0.0;
    const std::string limiter = w.byLimiter.empty() ? "" : w.byLimiter.front().first;
    const double share = w.byLimiter.empty() || w.kernelCycles <= 0 ? 0.0 : w.byLimiter.front().second / w.kernelCycles;
    const double total = w.kernelCycles + w.launchCycles, roofline = total > 0 ? w.boundCycles / total : 0.0;
    std::printf("%-8zu", p);
    for (const auto &[key, value] : settings[p]) std::printf(" %-24s", value.c_str());
    std::printf(" %12.1f %12.0f %9.3f %9.3f %7.3f  %s %.0f%%\n", run->profile.simulatedUs, w.kernelCycles, roofline,
                dramBusy, w.l2HitRate, limiter.c_str(), 100.0 * share);
    std::fflush(stdout);
    char line[512];
    std::snprintf(line, sizeof line, "%.3f,%.0f,%.0f,%.4f,%.4f,%.4f,", run->profile.simulatedUs, w.kernelCycles,
                  w.launchCycles, roofline, dramBusy, w.l2HitRate);
    char shareText[32];
    std::snprintf(shareText, sizeof shareText, "%.4f", share);
    for (const auto &[key, value] : settings[p]) csv += csvField(value) + ",";
    csv += line + csvField(limiter) + "," + shareText + "," + csvField(configFile) + ",ok,\n";
  }
  if (Status s = writeFileAtomically(outputDir + "/sweep.csv", csv); !s) return reportError(s.error());
  std::printf("%zu point(s)", points);
  if (refused) std::printf(", %zu refused (the model does not compile for their configs: reasons above)", refused);
  std::printf("; configs and sweep.csv in %s\n", outputDir.c_str());
  return refused ? int(ExitCode::BadInput) : 0;
}

} // namespace fractal::cli
