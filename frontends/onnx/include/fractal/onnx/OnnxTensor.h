// The elements of an ONNX TensorProto as packed little-endian bytes, whichever field holds them
// (raw_data, or the typed repeated fields) — for the importer's constants and for reading test
// data (`fractal conformance`).
#pragma once

#include <onnx/onnx_pb.h>

#include <optional>
#include <vector>

namespace fractal::onnx_frontend {

// float, float16, double, int64, int32, int8, uint8, bool (one byte each); nullopt for other types.
std::optional<std::vector<char>> tensorData(const onnx::TensorProto &t);

} // namespace fractal::onnx_frontend
