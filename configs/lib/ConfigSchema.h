// Internal: the table of config keys. One row per key; loader, validator, YAML printer and the
// docs/config.md generator all walk this table, so a key is defined exactly once.
#pragma once

#include "fractal/config/ChipConfig.h"

#include <string>
#include <vector>

namespace fractal::config_detail {

enum class FieldType { Integer, Number, String };

enum FieldFlags : unsigned {
  kNone = 0,
  kPowerOfTwo = 1u << 0, // value must be a power of two
  kAllowZero = 1u << 1,  // zero is meaningful (otherwise values must be positive)
};

struct FieldSpec {
  std::string path; // dotted key, e.g. "buffers.l0a.size_bytes"
  FieldType type;
  std::string unit;
  unsigned flags;
  int64_t maxValue; // 0: no upper bound
  std::string doc;
  int64_t &(*integer)(ChipConfig &) = nullptr;
  double &(*number)(ChipConfig &) = nullptr;
  std::string &(*string)(ChipConfig &) = nullptr;
};

const std::vector<FieldSpec> &chipConfigSchema();

} // namespace fractal::config_detail
