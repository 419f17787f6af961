// Internal: a node's attributes by name, for the readers of operators with many of them (tree
// ensembles, TfIdfVectorizer). An absent attribute reads as empty.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fractal::onnx_frontend::detail {

inline const onnx::AttributeProto *attribute(const onnx::NodeProto &node, const char *name) {
  for (const auto &a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
inline std::vector<int64_t> intsOf(const onnx::NodeProto &node, const char *name) {
  const auto *a = attribute(node, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
}
inline std::vector<float> floatsOf(const onnx::NodeProto &node, const char *name) {
  const auto *a = attribute(node, name);
  return a ? std::vector<float>(a->floats().begin(), a->floats().end()) : std::vector<float>{};
}

} // namespace fractal::onnx_frontend::detail
