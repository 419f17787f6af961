#include "fractal/onnx/OnnxTensor.h"

#include <cstdint>

namespace fractal::onnx_frontend {

std::optional<std::vector<char>> tensorData(const onnx::TensorProto &t) {
  if (t.has_raw_data())
    return std::vector<char>(t.raw_data().begin(), t.raw_data().end());
  std::vector<char> out;
  auto append = [&](const void *p, size_t n) {
    out.insert(out.end(), static_cast<const char *>(p), static_cast<const char *>(p) + n);
  };
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT:
    for (float f : t.float_data())
      append(&f, 4);
    break;
  case onnx::TensorProto::INT64:
    for (int64_t v : t.int64_data())
      append(&v, 8);
    break;
  case onnx::TensorProto::DOUBLE:
    for (double v : t.double_data())
      append(&v, 8);
    break;
  case onnx::TensorProto::INT32:
    for (int32_t v : t.int32_data())
      append(&v, 4);
    break;
  case onnx::TensorProto::FLOAT16: // stored as the bits in int32_data
    for (int32_t v : t.int32_data()) {
      uint16_t h = static_cast<uint16_t>(v);
      append(&h, 2);
    }
    break;
  case onnx::TensorProto::UINT8: case onnx::TensorProto::INT8: case onnx::TensorProto::BOOL:
    for (int32_t v : t.int32_data()) {
      int8_t x = static_cast<int8_t>(v);
      append(&x, 1);
    }
    break;
  default:
    return std::nullopt;
  }
  return out;
}

} // namespace fractal::onnx_frontend
