// Internal: an Einsum equation read for the operands' shapes, shared by the support check (which
// reports what is wrong with it) and the importer (which composes the op from transposes,
// reshapes, sums and a MatMul).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace fractal::onnx_frontend::detail {

// One label per axis of each operand and of the result, numpy's rules applied: an ellipsis
// stands for the operand's axes no letter names, right-aligned across operands (its axes get
// labels of their own, '0', '1', ...); without "->" the result is the ellipsis' axes, then the
// letters that appear once, in alphabetical order. `sizes`: each label's dimension.
struct EinsumLabels {
  std::vector<std::string> operands;
  std::string result;
  std::map<char, int64_t> sizes;
};

// The labels, or why the equation cannot be computed: one that does not parse, a term whose
// labels do not match its operand's rank, a result label no operand has, a label whose sizes
// differ between axes (broadcasting a size-1 axis is not supported).
std::variant<EinsumLabels, std::string> parseEinsum(const std::string &equation,
                                                    const std::vector<std::vector<int64_t>> &shapes);

} // namespace fractal::onnx_frontend::detail
