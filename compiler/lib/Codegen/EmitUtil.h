// Small helpers shared by the kernel generators (private to lib/Codegen): integer rounding, float
// bit patterns for `li`, UB fills, and scalar-unit element loads and stores.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>

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

// Scalar-unit GM accesses are aligned words: an element of 1 or 2 bytes is read from, and
// written into, the 8-byte word that holds it (up to 7 bytes past a tensor's end, which the
// memory plan's tail slack covers; one block only, so no other core writes that word meanwhile).

// x`to` = the element at address x`at`, sign- or zero-extended (x22..x24 scratch).
inline void loadElement(std::ostringstream &s, int to, int at, int bytes, bool isSigned) {
  const std::string x = "x" + std::to_string(to), a = "x" + std::to_string(at);
  if (bytes == 8) {
    s << "  ld " << x << ", gm[" << a << "]\n";
    return;
  }
  if (bytes == 4) {
    s << "  ldw " << x << ", gm[" << a << "]\n"; // sign-extended
    if (!isSigned) s << "  shli " << x << ", " << x << ", 32\n  shri " << x << ", " << x << ", 32\n";
    return;
  }
  const int bits = 8 * bytes;
  s << "  andi x22, " << a << ", -8\n  ld x23, gm[x22]\n  andi x24, " << a << ", 7\n  shli x24, x24, 3\n"
    << "  shr x23, x23, x24\n";
  if (isSigned) s << "  shli x23, x23, " << 64 - bits << "\n  srai " << x << ", x23, " << 64 - bits << "\n";
  else s << "  andi " << x << ", x23, " << (1 << bits) - 1 << "\n";
}

// The element at address x`at` = the low bytes of x`from` (x22..x26 scratch); a 1- or 2-byte
// element's word is read, the element replaced, the word written back.
inline void storeElement(std::ostringstream &s, int from, int at, int bytes) {
  const std::string x = "x" + std::to_string(from), a = "x" + std::to_string(at);
  if (bytes == 8) {
    s << "  st " << x << ", gm[" << a << "]\n";
    return;
  }
  if (bytes == 4) {
    s << "  stw " << x << ", gm[" << a << "]\n";
    return;
  }
  const int mask = (1 << (8 * bytes)) - 1;
  s << "  andi x22, " << a << ", -8\n  ld x23, gm[x22]\n  andi x24, " << a << ", 7\n  shli x24, x24, 3\n"
    << "  li x25, " << mask << "\n  shl x25, x25, x24\n  xori x25, x25, -1\n  and x23, x23, x25\n  andi x26, " << x
    << ", " << mask << "\n  shl x26, x26, x24\n  or x23, x23, x26\n  st x23, gm[x22]\n";
}

} // namespace fractal::codegen::emit
