// Zero-filled storage for simulated memories (GM allocations, a core's L1/L0/UB) that costs
// resident memory only for the pages a program touches, and returns them to the OS when freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fractal::sim {

// Blocks of 64 KiB and more are mapped straight from the OS (anonymous pages, zero until written)
// rather than taken from malloc: glibc raises its mmap threshold each time a large block is freed
// (a model load frees several), after which a calloc of megabytes comes from the heap, is cleared
// page by page, and stays resident after it is freed. Smaller blocks are calloc'ed.
class ZeroedBytes {
public:
  ZeroedBytes() = default;
  explicit ZeroedBytes(size_t size);
  uint8_t *data() { return data_.get(); }
  const uint8_t *data() const { return data_.get(); }
  size_t size() const { return size_; }
  uint8_t *begin() { return data(); }
  uint8_t *end() { return data() + size_; }

private:
  struct Release {
    size_t mappedBytes; // 0: calloc'ed
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, Release> data_{nullptr, Release{0}};
  size_t size_ = 0;
};

} // namespace fractal::sim
