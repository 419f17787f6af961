// Small helpers shared by the kernel generators (private to lib/Codegen): integer rounding, float
// bit patterns for `li`, and UB fills.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>

namespace fractal::codegen::emit {

// One vector instruction: at most kMaxRepeat repeats of kRepeatBytes bytes each.
inline constexpr int64_t kRepeatBytes = 256;
inline constexpr int64_t kMaxRepeat = 255;

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// Fewer `items` than `cores`: each item is also cut into chunks of N tiles so that every core
// gets work. The tiles per chunk and the number of chunks (1 chunk of all `tiles` otherwise).
struct NChunks {
  int64_t tilesPerChunk, count;
};
inline NChunks shareOutNTiles(int64_t tiles, int64_t items, int64_t cores) {
  const int64_t wanted = items < cores ? std::min(tiles, ceilDiv(cores, items)) : 1;
  const int64_t perChunk = ceilDiv(tiles, wanted);
  return {perChunk, ceilDiv(tiles, perChunk)};
}

inline uint32_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

// Fills `bytes` of UB at `address` with f32 zeros (vdup, 255 repeats at most per instruction).
inline void fill32(std::ostringstream &s, int64_t address, int64_t bytes) {
  for (int64_t off = 0; off < bytes; off += kMaxRepeat * kRepeatBytes) {
    const int64_t repeats = std::min(kMaxRepeat, ceilDiv(bytes - off, kRepeatBytes));
    s << "  li x8, " << address + off << "\n  vdup.f32 ub[x8], x0, repeat=" << repeats << "\n";
  }
}

} // namespace fractal::codegen::emit
