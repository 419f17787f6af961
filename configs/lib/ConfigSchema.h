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
  double minNumber = 0; // a number's lower bound (0: only positive)
};

// Upper bounds that keep the simulator's arithmetic and host memory sane: a latency or a fixed
// cost of 10^6 cycles is already absurd (sums of them stay far from 2^63), and every core holds
// its on-chip buffers in host memory.
constexpr int64_t kMaxCycles = 1'000'000;
constexpr int64_t kMaxBufferBytes = int64_t(256) << 20;
// The simulator keeps 9 bytes of tag, age and dirty bit per L2 line, all touched at a device's
// first timed run.
constexpr int64_t kMaxL2Lines = int64_t(1) << 22;

const std::vector<FieldSpec> &chipConfigSchema();

} // namespace fractal::config_detail
