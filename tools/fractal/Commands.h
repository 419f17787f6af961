// The `fractal` subcommands. Each takes its arguments (after the subcommand name) and returns the
// process exit code (see fractal::ExitCode).
#pragma once

#include "fractal/support/Error.h"

#include <string>
#include <vector>

namespace fractal::cli {

using Args = std::vector<std::string>;

// Prints `fractal: error: <message>` to stderr and returns the error's exit code.
int reportError(const Error &error);

int runConfigCommand(const Args &args);
int runAsmCommand(const Args &args);
int runDisasmCommand(const Args &args);
int runIsaCommand(const Args &args);
int runSimCommand(const Args &args);
int runCompileCommand(const Args &args);

} // namespace fractal::cli
