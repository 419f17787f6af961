// `fractal config show|check|schema`: inspect and validate chip configs.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/config/ChipConfig.h"

#include <cstdio>
#include <iostream>

namespace fractal::cli {

namespace {

const char *kTargetHelp = "preset name (edge, cloud) or path to a chip config .yaml (default: edge)";

int runShow(const Args &args) {
  std::string target = "edge";
  ArgParser parser("fractal config show",
                   "print a chip config in canonical form, with derived figures");
  parser.option("--target", "NAME|FILE", kTargetHelp, &target);
  parser.positional("TARGET", "same as --target", &target, /*required=*/false);
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config)
    return reportError(config.error());
  const ChipConfig &c = *config;
  std::cout << "# source: " << c.sourcePath << "\n" << chipConfigToYaml(c);
  double ghz = c.chip.clockMhz / 1e3;
  double fp16Macs = c.fp16MacsPerCycle();
  double int8Macs = double(c.cube.int8.m * c.cube.int8.k * c.cube.int8.n);
  std::printf("# derived:\n");
  std::printf("#   peak fp16: %.2f TFLOPS (%lld cores x %.0f MAC/cycle x 2 x %.3f GHz)\n",
              double(c.chip.cores) * fp16Macs * 2 * ghz / 1e3, (long long)c.chip.cores, fp16Macs,
              ghz);
  std::printf("#   peak int8: %.2f TOPS\n", double(c.chip.cores) * int8Macs * 2 * ghz / 1e3);
  std::printf("#   DRAM: %.1f bytes per core cycle for the whole chip\n", c.dramBytesPerCycle());
  return 0;
}

int runCheck(const Args &args) {
  std::string target;
  ArgParser parser("fractal config check", "validate a chip config; exit 0 if valid, 2 if not");
  parser.positional("NAME|FILE", "preset name or path to a chip config .yaml", &target);
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config)
    return reportError(config.error());
  std::cout << config->sourcePath << ": ok (" << config->name << ": " << config->description
            << ")\n";
  return 0;
}

int runSchema(const Args &args) {
  ArgParser parser("fractal config schema",
                   "print the reference table of every config key (Markdown)");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  std::cout << chipConfigSchemaMarkdown();
  return 0;
}

int runSv(const Args &args) {
  std::string target = "edge";
  ArgParser parser("fractal config sv",
                   "print the SystemVerilog package fractal_chip_pkg the RTL tiles are built for");
  parser.option("--target", "NAME|FILE", kTargetHelp, &target);
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config)
    return reportError(config.error());
  std::cout << chipSystemVerilogPackage(*config);
  return 0;
}

} // namespace

int runConfigCommand(const Args &args) {
  const char *usage = "OVERVIEW: show, check or document chip configs\n\n"
                      "USAGE: fractal config <show|check|schema> [options]\n\n"
                      "  show [--target NAME|FILE]   canonical YAML of a config plus derived peaks\n"
                      "  check NAME|FILE             validate; errors name file:line:col and key\n"
                      "  schema                      Markdown table of every key (docs/config.md)\n"
                      "  sv [--target NAME|FILE]     SystemVerilog package for the RTL tiles\n";
  if (args.empty())
    return reportError(Error::badInput("fractal config: missing action (show, check, schema)"));
  const std::string &action = args[0];
  Args rest(args.begin() + 1, args.end());
  if (action == "--help" || action == "-h") {
    std::cout << usage;
    return 0;
  }
  if (action == "show")
    return runShow(rest);
  if (action == "check")
    return runCheck(rest);
  if (action == "schema")
    return runSchema(rest);
  if (action == "sv")
    return runSv(rest);
  return reportError(Error::badInput("fractal config: unknown action '" + action +
                                     "' (expected show, check, schema or sv)"));
}

} // namespace fractal::cli
