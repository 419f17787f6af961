// `--bind-input NAME=FILE.npy|NAME=NUMBER` of `fractal compile` and `fractal run model.onnx`:
// graph inputs fixed to values at compile time; and the package a command's MODEL argument names,
// an .onnx file compiled in memory or a package file.
#pragma once

#include "fractal/onnx/OnnxTensor.h"
#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <string>
#include <vector>

namespace fractal::cli {

// A temporary copy of `model` with the `binds` (NAME=FILE.npy, or NAME=NUMBER for a one-element
// input, in its own type) as initializers, named in `out` (removed with it); says so on stderr.
Status bindModelInputs(const std::string &model, const std::vector<std::string> &binds,
                       onnx_frontend::TemporaryModelFile &out);

// `text` (an error, the check's report) about the bound copy, about `model` instead: the copy is a
// temporary file the user never named (and is gone when they read the message). Unchanged when
// nothing was bound (`bound` empty).
std::string aboutModel(std::string text, const onnx_frontend::TemporaryModelFile &bound, const std::string &model);
inline Error aboutModel(Error e, const onnx_frontend::TemporaryModelFile &bound, const std::string &model) {
  e.message = aboutModel(std::move(e.message), bound, model);
  return e;
}

// Whether `path` names an ONNX model (its extension), which commands compile in memory.
bool isOnnxModel(const std::string &path);

// The package of `command`'s MODEL argument (`fractal run`, `fractal info`): an .onnx file
// compiled in memory for `target` (edge when empty) with `shapes` (--input-shape) and `binds`
// (--bind-input) as fractal compile takes them, errors naming `model` and never the bound copy;
// else a package file, read and fully validated.
Expected<pkg::Package> modelPackage(const std::string &command, const std::string &model, const std::string &target,
                                    const std::string &shapes, const std::vector<std::string> &binds);

} // namespace fractal::cli
