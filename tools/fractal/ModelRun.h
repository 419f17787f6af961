// One execution of a model package on a fresh simulated device, through the runtime's model API:
// shared by `fractal run` and `fractal sweep`.
#pragma once

#include "fractal/package/Package.h"
#include "fractal/runtime/ModelProfile.h"
#include "fractal/support/Error.h"
#include "fractal/support/Npy.h"

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
// A device fault is an error with ExitCode::DeviceFault.
Expected<ModelRun> runOnDevice(const pkg::Package &package, const std::string &target, const std::string &mode,
                               const std::vector<NpyArray> &inputs, bool trace, const std::string &file = "");

// Deterministic input data for tensor `t` (uniform [-1, 1), integers scaled): what --random-inputs
// gives input k with seed k.
NpyArray randomInput(const pkg::Tensor &t, uint32_t seed);

} // namespace fractal::cli
