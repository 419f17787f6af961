// The elements of an ONNX TensorProto as packed little-endian bytes, whichever field holds them
// (raw_data, or the typed repeated fields) — for the importer's constants and for reading test
// data (`fractal conformance`).
#pragma once

#include "fractal/support/Error.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <vector>

namespace fractal::onnx_frontend {

// float, float16, double, int64, uint64, int32, uint32, int16, uint16, int8, uint8, bool (one byte
// each); nullopt for other types.
std::optional<std::vector<char>> tensorData(const onnx::TensorProto &t);
// The values of an int64 or int32 tensor, widened to int64; nullopt for other types.
std::optional<std::vector<int64_t>> tensorInts(const onnx::TensorProto &t);
// The values of a float32 tensor; nullopt for other types.
std::optional<std::vector<float>> tensorFloats(const onnx::TensorProto &t);

// Binds graph inputs to values at compile time: each value (named after a graph input) becomes an
// initializer and the input leaves the graph's runtime inputs, so the compiler sees a constant
// (inputsNeededAsConstants says which inputs need this). An error names a value that is not a
// runtime input of the graph or whose type or shape differs from the input's declaration.
Status bindInputs(onnx::ModelProto &model, const std::vector<onnx::TensorProto> &values);

// A model written to a temporary file, for the compile driver, which reads models by path (a model
// with bound inputs, say); the file is removed with this object.
struct TemporaryModelFile {
  std::string path;
  TemporaryModelFile() = default;
  TemporaryModelFile(const TemporaryModelFile &) = delete;
  TemporaryModelFile &operator=(const TemporaryModelFile &) = delete;
  ~TemporaryModelFile();
};
// Writes `model` to a new /tmp/fractal-<tag>-XXXXXX.onnx and names it in `out.path`.
Status writeTemporaryModel(const onnx::ModelProto &model, const std::string &tag, TemporaryModelFile &out);

} // namespace fractal::onnx_frontend
