#include "fractal/onnx/OnnxTensor.h"

#include "fractal/support/File.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace fractal::onnx_frontend {

std::optional<std::vector<int64_t>> tensorInts(const onnx::TensorProto &t) {
  const size_t size = t.data_type() == onnx::TensorProto::INT64 ? 8 : t.data_type() == onnx::TensorProto::INT32 ? 4 : 0;
  std::optional<std::vector<char>> bytes = size ? tensorData(t) : std::nullopt;
  if (!bytes) return std::nullopt;
  std::vector<int64_t> out;
  for (size_t i = 0; i + size <= bytes->size(); i += size) {
    int64_t v = 0;
    if (size == 8) {
      std::memcpy(&v, bytes->data() + i, 8);
    } else {
      int32_t w;
      std::memcpy(&w, bytes->data() + i, 4);
      v = w;
    }
    out.push_back(v);
  }
  return out;
}

std::optional<std::vector<float>> tensorFloats(const onnx::TensorProto &t) {
  std::optional<std::vector<char>> bytes = t.data_type() == onnx::TensorProto::FLOAT ? tensorData(t) : std::nullopt;
  if (!bytes) return std::nullopt;
  std::vector<float> out(bytes->size() / 4);
  std::memcpy(out.data(), bytes->data(), out.size() * 4);
  return out;
}

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
  // 16-bit values (float16 as its bits) are stored in int32_data
  case onnx::TensorProto::FLOAT16: case onnx::TensorProto::UINT16: case onnx::TensorProto::INT16:
    for (int32_t v : t.int32_data()) {
      uint16_t h = static_cast<uint16_t>(v);
      append(&h, 2);
    }
    break;
  case onnx::TensorProto::UINT32:
    for (uint64_t v : t.uint64_data()) {
      uint32_t w = static_cast<uint32_t>(v);
      append(&w, 4);
    }
    break;
  case onnx::TensorProto::UINT64:
    for (uint64_t v : t.uint64_data())
      append(&v, 8);
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

Status bindInputs(onnx::ModelProto &model, const std::vector<onnx::TensorProto> &values) {
  onnx::GraphProto &graph = *model.mutable_graph();
  for (const onnx::TensorProto &value : values) {
    int at = -1;
    for (int i = 0; i < graph.input_size(); ++i)
      if (graph.input(i).name() == value.name()) at = i;
    bool initialized = false;
    for (const auto &t : graph.initializer()) initialized |= t.name() == value.name();
    if (at < 0 || initialized)
      return Error::badInput("cannot bind '" + value.name() + "': the model has no runtime input of that name");
    const auto &type = graph.input(at).type().tensor_type();
    if (type.elem_type() != value.data_type())
      return Error::badInput("cannot bind '" + value.name() + "': element type " + std::to_string(value.data_type()) +
                             " differs from the input's " + std::to_string(type.elem_type()));
    if (type.has_shape()) {
      bool same = type.shape().dim_size() == value.dims_size();
      for (int d = 0; same && d < value.dims_size(); ++d)
        same = !type.shape().dim(d).has_dim_value() || type.shape().dim(d).dim_value() == value.dims(d);
      if (!same) return Error::badInput("cannot bind '" + value.name() + "': its shape differs from the input's");
    }
    *graph.add_initializer() = value;
    graph.mutable_input()->DeleteSubrange(at, 1);
  }
  return Status::success();
}

TemporaryModelFile::~TemporaryModelFile() {
  if (!path.empty()) unlink(path.c_str());
}

Status writeTemporaryModel(const onnx::ModelProto &model, const std::string &tag, TemporaryModelFile &out) {
  std::string name = "/tmp/fractal-" + tag + "-XXXXXX.onnx";
  const int fd = mkstemps(name.data(), 5);
  if (fd < 0) return Error::internal("cannot create a temporary model file in /tmp");
  close(fd);
  out.path = name;
  std::string text;
  model.SerializeToString(&text);
  return writeFileAtomically(name, text);
}

} // namespace fractal::onnx_frontend
