// Device global memory (GM): a flat, byte-addressed space of `chip.gm_size_bytes` in which only
// allocated ranges exist. Every access must lie inside one allocation; anything else is a fault
// that names the address and the nearest allocation. Storage is per allocation, so an 8 GiB
// address space costs only what is allocated.
#pragma once

#include "fractal/sim/ZeroedBytes.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fractal::sim {

struct Allocation {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
  ZeroedBytes bytes;
};

class GlobalMemory {
public:
  explicit GlobalMemory(uint64_t sizeBytes) : size_(sizeBytes) {}

  uint64_t size() const { return size_; }
  // Creates a zero-filled allocation; fails if it leaves the address space or overlaps another.
  Status allocate(uint64_t address, uint64_t size, const std::string &name);
  Status release(uint64_t address);
  // First address >= `from` (aligned) where `size` bytes are free; 0 if none.
  uint64_t findFree(uint64_t size, uint64_t alignment, uint64_t from = 0) const;

  // The bytes of [address, address + length) if they lie inside one allocation, else nullptr and
  // `why` says which check failed.
  uint8_t *resolve(uint64_t address, uint64_t length, std::string *why);
  const Allocation *find(uint64_t address) const;
  const std::map<uint64_t, Allocation> &allocations() const { return allocations_; }

  Status write(uint64_t address, const void *data, uint64_t length);
  Status read(uint64_t address, void *data, uint64_t length);

private:
  uint64_t size_;
  std::map<uint64_t, Allocation> allocations_; // by start address
};

} // namespace fractal::sim
