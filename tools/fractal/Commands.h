// The `fractal` subcommands. Each takes its arguments (after the subcommand name) and returns the
// process exit code (see fractal::ExitCode).
#pragma once

#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace fractal::cli {

using Args = std::vector<std::string>;

// Prints `fractal: error: <message>` to stderr and returns the error's exit code.
int reportError(const Error &error);

// Writes `text` to stdout when `output` is empty or "-", else to that file (atomically); returns
// the exit code.
int writeTextOutput(const std::string &output, const std::string &text);

// Warns on stderr when the package's inputs or outputs are float64, which it computes in float32
// (the NPU has no float64 arithmetic): results then differ from a float64 run by float32 rounding.
void warnAboutFloat64(const pkg::Package &package, const std::string &model);

class ArgParser;
// Parses a command's arguments. Returns the exit code when the command should stop right away:
// 0 after printing --help, 2 after reporting a usage error; nothing when it should go on.
std::optional<int> parseArguments(ArgParser &parser, const Args &args);

int runConfigCommand(const Args &args);
int runAsmCommand(const Args &args);
int runDisasmCommand(const Args &args);
int runIsaCommand(const Args &args);
int runSimCommand(const Args &args);
int runCompileCommand(const Args &args);
int runRunCommand(const Args &args);
int runInfoCommand(const Args &args);
int runCompareCommand(const Args &args);
int runPrepCommand(const Args &args);
int runDetectCommand(const Args &args);
int runVadCommand(const Args &args);
int runAnalyticsCommand(const Args &args);
int runQuantizeCommand(const Args &args); // MLIR builds only
int runVerifyCommand(const Args &args);   // MLIR builds only
int runNlpCommand(const Args &args);
int runConformanceCommand(const Args &args);
int runNpuCommand(const Args &args);
int runSweepCommand(const Args &args);


} // namespace fractal::cli
