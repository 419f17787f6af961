// One execution of a model package on a fresh simulated device, through the runtime's model API:
// shared by `fractal run` and `fractal sweep`.
#pragma once

#include "fractal/package/Package.h"
#include "fractal/runtime/ModelProfile.h"
#include "fractal/support/Error.h"
#include "fractal/support/Npy.h"

#include <map>
#include <string>
#include <vector>

namespace fractal::cli {

struct ModelRun {
  std::vector<NpyArray> outputs; // in the package's output order
  runtime::ModelProfile profile;
};

// Runs `package` once on a device of `target` (a preset name or a config file) in `mode`
// (functional or timing) with `inputs` (the package's input order, already checked against it).
// `file`: load the model from this package file rather than from `package` serialized again.
// `opTimeoutMs`: the device's kernel launch timeout in simulated ms (frtSetOpExecuteTimeOut; 0:
// the default). A device fault is an error with ExitCode::DeviceFault.
Expected<ModelRun> runOnDevice(const pkg::Package &package, const std::string &target, const std::string &mode,
                               const std::vector<NpyArray> &inputs, bool trace, const std::string &file = "",
                               uint32_t opTimeoutMs = 0);

// The `--op-timeout MS` of `command` (fractal run, fractal sweep): 0 when not given.
Expected<uint32_t> parseOpTimeout(const std::string &command, const std::string &text);
// Its help text.
std::string opTimeoutHelp();

// `flag NAME=FILE.npy` items of `command` by input name, each name's files in the order given
// (split at the last '=', since ONNX names may contain ':'): an error names an item that is not
// NAME=FILE or a name that is not one of `package`'s inputs.
Expected<std::map<std::string, std::vector<std::string>>> inputFiles(const std::vector<std::string> &items,
                                                                     const pkg::Package &package,
                                                                     const std::string &command, const std::string &flag);
// The .npy at `path` as data for input `t`: an error names both when its dtype or shape differs.
Expected<NpyArray> readInputNpy(const std::string &path, const pkg::Tensor &t);

// Deterministic input data for tensor `t` (uniform [-1, 1), integers scaled): what --random-inputs
// gives input k with seed k.
NpyArray randomInput(const pkg::Tensor &t, uint32_t seed);

// A model input as a run takes it, and the .npy file it came from or was saved to.
struct RunInput {
  NpyArray data;
  std::string file;
};
// Every input of `package`, in its order: from the `--input` `items` (NAME=FILE.npy; the last of a
// name counts), or, with `random`, randomInput data (seed k for input k), said on stderr and saved
// as `dir`/NAME.input.npy so that a reference can run on it (`sayWhere`: the message names that
// file). An input without data is an error naming it, its dtype and shape, and both flags.
Expected<std::vector<RunInput>> collectInputs(const pkg::Package &package, const std::vector<std::string> &items,
                                              bool random, const std::string &command, const std::string &dir,
                                              bool sayWhere);

// "[1,3,224,224]"
std::string shapeText(const std::vector<int64_t> &shape);

} // namespace fractal::cli
