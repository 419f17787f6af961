// Internal: which ONNX operators, attributes and data types Fractal supports, and where each runs.
#pragma once

#include "fractal/onnx/OnnxCheck.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace fractal::onnx_frontend::detail {

struct AttributeRule {
  std::string name;
  std::vector<std::string> allowed; // empty: any value; else the only accepted values
};

// Element types by their onnx::TensorProto::DataType number.
enum : unsigned {
  kFloat = 1u << 1, kUint8 = 1u << 2, kInt8 = 1u << 3, kUint16 = 1u << 4, kInt16 = 1u << 5, kInt32 = 1u << 6,
  kInt64 = 1u << 7, kBool = 1u << 9, kFloat16 = 1u << 10, kDouble = 1u << 11, kUint32 = 1u << 12, kUint64 = 1u << 13,
};
constexpr unsigned kFloats = kFloat | kFloat16;
// The integers the vector unit has no lanes for: element by element on the scalar unit.
constexpr unsigned kScalarIntegers = kUint8 | kInt8 | kUint16 | kInt16 | kUint32 | kInt64 | kUint64;
constexpr unsigned kIntegers = kScalarIntegers | kInt32;

// Det is composed as a cofactor expansion (M! products of M entries): up to this order.
constexpr int64_t kMaxDetOrder = 4;

struct OpRule {
  std::string op;
  Placement placement;
  std::string reason;
  std::vector<AttributeRule> attributes;
  unsigned dataTypes; // allowed element types of the first input
};

// Pow's exponent as the importer lowers it: one value for every element, and of those an integer
// from -4 to 4 but not 0 (products, then a reciprocal: a negative base keeps its sign), +-0.5 (a
// square root) or any non-integer (exp(y * log x), NaN for a negative base as ONNX says). Else
// the reason it is refused. Integers beyond 4 are refused because exp(y * log x) would lose a
// negative base's real power.
std::variant<double, std::string> powerExponent(const onnx::TensorProto &exponent);

// Whether `opType` is an operator of the ai.onnx.ml domain that Fractal supports.
bool isMlOperator(const std::string &opType);
// What is wrong with a Scaler's, LinearRegressor's or Binarizer's attributes for an input of
// `shape` (a Scaler's offset and scale: one value or one per feature; a LinearRegressor's
// coefficients: targets x features, its intercepts: none or one per target; the input a matrix
// [rows, features] for both), or "".
std::string mlOperatorProblem(const onnx::NodeProto &node, const std::vector<int64_t> &shape);

// Whether `opType`'s outputs have an extent known only at run time (NonZero, Compress, Unique but
// its inverse_indices, NonMaxSuppression): bounded by its inputs' shapes.
bool hasDataDependentExtent(const std::string &opType);

// The bounds of such a node's outputs, the shapes their types get (the importer's result types),
// from its inputs' static shapes (`shapeOf`) and, for NonMaxSuppression's limit, a constant
// input's values (`constantInts`); nullopt while an input's shape is unknown or malformed.
std::optional<std::vector<std::vector<int64_t>>> dataDependentBounds(
    const onnx::NodeProto &node, const std::function<std::optional<std::vector<int64_t>>(const std::string &)> &shapeOf,
    const std::function<std::optional<std::vector<int64_t>>(const std::string &)> &constantInts);

// Whether an `opType` node may read a value whose extent is known only at run time: ops that
// run over its bound and may map its axis to one of theirs (compiler: graph/DataDependence.h
// decides per axis); anything else (Shape, TopK, another data-dependent op) would read the bound.
bool carriesDataDependentExtent(const std::string &opType);

// nullptr for an operator Fractal does not support.
const OpRule *findOpRule(const std::string &opType);
std::string elementTypeName(int type);

} // namespace fractal::onnx_frontend::detail
