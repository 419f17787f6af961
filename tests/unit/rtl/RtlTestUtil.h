// Shared by the RTL cross-checks: seeds and case counts come from the environment so that a
// failure can be re-run exactly and a soak can run long (see docs/rtl.md).
#pragma once

#include <cstdint>
#include <cstdlib>

namespace fractal::rtl::testing {

inline uint64_t envOr(const char *name, uint64_t fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 0) : fallback;
}

} // namespace fractal::rtl::testing
