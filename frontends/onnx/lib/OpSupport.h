// Internal: which ONNX operators, attributes and data types Fractal supports, and where each runs.
#pragma once

#include "fractal/onnx/OnnxCheck.h"

#include <string>
#include <vector>

namespace fractal::onnx_frontend::detail {

struct AttributeRule {
  std::string name;
  std::vector<std::string> allowed; // empty: any value; else the only accepted values
};

// Element types by their onnx::TensorProto::DataType number.
enum : unsigned {
  kFloat = 1u << 1, kUint8 = 1u << 2, kInt8 = 1u << 3, kInt32 = 1u << 6, kInt64 = 1u << 7,
  kBool = 1u << 9, kFloat16 = 1u << 10,
};
constexpr unsigned kFloats = kFloat | kFloat16;

struct OpRule {
  std::string op;
  Placement placement;
  std::string reason;
  std::vector<AttributeRule> attributes;
  unsigned dataTypes; // allowed element types of the first input
};

// nullptr for an operator Fractal does not support.
const OpRule *findOpRule(const std::string &opType);
std::string elementTypeName(int type);

} // namespace fractal::onnx_frontend::detail
