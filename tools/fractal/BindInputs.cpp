#include "BindInputs.h"

#ifdef FRACTAL_HAS_MLIR
#include "fractal/onnx/OnnxCompile.h"
#endif
#include "fractal/config/ChipConfig.h"
#include "fractal/support/File.h"
#include "fractal/support/Npy.h"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>

namespace fractal::cli {

namespace {

// The whole of `text` as a number ("16000", "-0.5"), or nothing (then it names a .npy file).
std::optional<double> parseNumber(const std::string &text) {
  if (text.empty()) return std::nullopt;
  char *end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (errno || !end || *end || !std::isfinite(v)) return std::nullopt;
  return v;
}

// `--bind-input NAME=NUMBER`: input NAME, which must hold one element, as that value in its own
// element type (float32, int64, int32 or bool; an integer type takes only whole numbers).
Expected<onnx::TensorProto> scalarFor(const onnx::ModelProto &proto, const std::string &name, const std::string &text,
                                      double value) {
  for (const auto &in : proto.graph().input()) {
    if (in.name() != name) continue;
    const auto &tensor = in.type().tensor_type();
    onnx::TensorProto t;
    t.set_name(name);
    t.set_data_type(tensor.elem_type());
    for (const auto &d : tensor.shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() != 1)
        return Error::badInput("--bind-input " + name + "=" + text + ": input '" + name +
                               "' holds more than one element; bind it to a .npy file");
      t.add_dims(1);
    }
    const bool whole = value == std::floor(value) && std::abs(value) < 9.0e18;
    switch (tensor.elem_type()) {
    case onnx::TensorProto::FLOAT: t.add_float_data(float(value)); return t;
    case onnx::TensorProto::INT64: if (whole) { t.add_int64_data(int64_t(value)); return t; } break;
    case onnx::TensorProto::INT32:
      if (whole && std::abs(value) <= 2147483647.0) { t.add_int32_data(int32_t(value)); return t; }
      break;
    case onnx::TensorProto::BOOL: if (value == 0 || value == 1) { t.add_int32_data(int32_t(value)); return t; } break;
    default:
      return Error::badInput("--bind-input " + name + ": input '" + name +
                             "' is not float32, int64, int32 or bool; bind it to a .npy file");
    }
    return Error::badInput("--bind-input " + name + "=" + text + ": not a value of input '" + name +
                           "' (" +
                           (tensor.elem_type() == onnx::TensorProto::BOOL ? "bool: 0 or 1" : "integers") + ")");
  }
  return Error::badInput("cannot bind '" + name + "': the model has no runtime input of that name");
}

// `--bind-input NAME=FILE.npy` (or NAME=NUMBER for a one-element input): a temporary copy of the
// model with those inputs as initializers (compile-time constants). Removed when the command ends.
} // namespace

Status bindModelInputs(const std::string &model, const std::vector<std::string> &binds,
                       onnx_frontend::TemporaryModelFile &out) {
  Expected<std::string> bytes = readTextFile(model);
  if (!bytes) return bytes.error();
  onnx::ModelProto proto;
  if (!proto.ParseFromString(*bytes)) return Error::badInput(model + ": not a valid ONNX model (protobuf parse failed)");
  static const std::pair<const char *, int> kTypes[] = {{"<f4", 1}, {"<f2", 10}, {"<i8", 7}, {"<i4", 6},
                                                        {"|i1", 3}, {"|u1", 2},  {"|b1", 9}};
  std::vector<onnx::TensorProto> values;
  for (const std::string &bind : binds) {
    const size_t eq = bind.rfind('='); // ONNX names may contain '='? never a file name's last one
    if (eq == std::string::npos || eq == 0)
      return Error::badInput("fractal compile: --bind-input expects NAME=FILE.npy, got '" + bind + "'");
    const std::string name = bind.substr(0, eq), source = bind.substr(eq + 1);
    if (std::optional<double> number = parseNumber(source)) {
      Expected<onnx::TensorProto> scalar = scalarFor(proto, name, source, *number);
      if (!scalar) return scalar.error().withContext(model);
      values.push_back(std::move(*scalar));
      continue;
    }
    Expected<NpyArray> array = readNpyFile(source);
    if (!array) return array.error();
    int type = 0;
    for (const auto &[descr, t] : kTypes)
      if (array->descr == descr) type = t;
    if (!type) return Error::badInput(bind.substr(eq + 1) + ": dtype " + array->descr + " cannot be bound");
    onnx::TensorProto t;
    t.set_name(bind.substr(0, eq));
    t.set_data_type(type);
    for (int64_t d : array->shape) t.add_dims(d);
    t.set_raw_data(std::string(array->data.begin(), array->data.end()));
    values.push_back(std::move(t));
  }
  if (Status s = onnx_frontend::bindInputs(proto, values); !s) return s.error().withContext(model);
  if (Status s = onnx_frontend::writeTemporaryModel(proto, "bound", out); !s) return s;
  std::cerr << "fractal: note: compiling " << model << " with " << binds.size()
            << " input(s) bound at compile time\n";
  return Status::success();
}

std::string aboutModel(std::string text, const onnx_frontend::TemporaryModelFile &bound, const std::string &model) {
  if (bound.path.empty()) return text;
  for (size_t at = text.find(bound.path); at != std::string::npos; at = text.find(bound.path, at + model.size()))
    text.replace(at, bound.path.size(), model);
  return text;
}

bool isOnnxModel(const std::string &path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

Expected<pkg::Package> modelPackage(const std::string &command, const std::string &model, const std::string &target,
                                    const std::string &shapes, const std::vector<std::string> &binds) {
  if (!isOnnxModel(model)) {
    if (!binds.empty())
      return Error::badInput(command + ": --bind-input is for an .onnx model; " + model +
                             " was compiled with its inputs as they are");
    return pkg::readPackageFile(model);
  }
#ifdef FRACTAL_HAS_MLIR
  Expected<ChipConfig> config = loadChipConfig(target.empty() ? "edge" : target);
  if (!config) return config.error();
  onnx_frontend::TemporaryModelFile bound;
  if (!binds.empty())
    if (Status s = bindModelInputs(model, binds, bound); !s) return s.error();
  Expected<pkg::Package> compiled = onnx_frontend::compileOnnxModel(binds.empty() ? model : bound.path, shapes, *config, "");
  if (!compiled) return aboutModel(compiled.error(), bound, model);
  compiled->sourceModel = model;
  return compiled;
#else
  (void)target;
  (void)shapes;
  return Error::badInput(command + ": this build has no MLIR compiler (FRACTAL_ENABLE_MLIR=OFF): compile " + model +
                         " with a full build first");
#endif
}

} // namespace fractal::cli
