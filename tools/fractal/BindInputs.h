// `--bind-input NAME=FILE.npy|NAME=NUMBER` of `fractal compile` and `fractal run model.onnx`:
// graph inputs fixed to values at compile time.
#pragma once

#include "fractal/onnx/OnnxTensor.h"
#include "fractal/support/Error.h"

#include <string>
#include <vector>

namespace fractal::cli {

// A temporary copy of `model` with the `binds` (NAME=FILE.npy, or NAME=NUMBER for a one-element
// input, in its own type) as initializers, named in `out` (removed with it); says so on stderr.
Status bindModelInputs(const std::string &model, const std::vector<std::string> &binds,
                       onnx_frontend::TemporaryModelFile &out);

} // namespace fractal::cli
