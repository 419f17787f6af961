#include "fractal/sim/GlobalMemory.h"

#include <cstring>
#include <new>
#include <sstream>

namespace fractal::sim {

namespace {
std::string hex(uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}
} // namespace

Status GlobalMemory::allocate(uint64_t address, uint64_t size, const std::string &name) {
  if (size == 0)
    return Error::badInput("GM allocation '" + name + "' has size 0");
  if (address >= size_ || size > size_ - address)
    return Error::badInput("GM allocation '" + name + "' [" + hex(address) + ", +" +
                           std::to_string(size) + ") lies outside the " + std::to_string(size_) +
                           "-byte device memory");
  auto next = allocations_.lower_bound(address);
  if (next != allocations_.end() && next->first < address + size)
    return Error::badInput("GM allocation '" + name + "' at " + hex(address) + " overlaps '" +
                           next->second.name + "' at " + hex(next->first));
  if (next != allocations_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.size > address)
      return Error::badInput("GM allocation '" + name + "' at " + hex(address) + " overlaps '" +
                             prev->second.name + "' at " + hex(prev->first));
  }
  ZeroedBytes bytes;
  try {
    bytes = ZeroedBytes(size);
  } catch (const std::bad_alloc &) {
    return Error::badInput("GM allocation '" + name + "' of " + std::to_string(size) +
                           " bytes: the host has no memory left for it");
  }
  allocations_.emplace(address, Allocation{address, size, name, std::move(bytes)});
  return Status::success();
}

Status GlobalMemory::release(uint64_t address) {
  auto it = allocations_.find(address);
  if (it == allocations_.end())
    return Error::badInput("no GM allocation starts at " + hex(address));
  allocations_.erase(it);
  return Status::success();
}

uint64_t GlobalMemory::findFree(uint64_t size, uint64_t alignment, uint64_t from) const {
  auto alignUp = [&](uint64_t v) { return (v + alignment - 1) / alignment * alignment; };
  uint64_t candidate = alignUp(std::max<uint64_t>(from, alignment));
  for (const auto &[start, a] : allocations_) {
    if (start + a.size <= candidate)
      continue;
    if (candidate + size <= start)
      break;
    candidate = alignUp(start + a.size);
  }
  return candidate + size <= size_ ? candidate : 0;
}

const Allocation *GlobalMemory::find(uint64_t address) const {
  auto it = allocations_.upper_bound(address);
  if (it == allocations_.begin())
    return nullptr;
  --it;
  return address < it->first + it->second.size ? &it->second : nullptr;
}

uint8_t *GlobalMemory::resolve(uint64_t address, uint64_t length, std::string *why) {
  auto it = allocations_.upper_bound(address);
  if (it != allocations_.begin()) {
    --it;
    Allocation &a = it->second;
    uint64_t offset = address - a.address;
    if (address >= a.address && offset < a.size) {
      if (length <= a.size - offset)
        return a.bytes.data() + offset;
      if (why)
        *why = "GM access [" + hex(address) + ", +" + std::to_string(length) +
               ") runs past the end of allocation '" + a.name + "' [" + hex(a.address) + ", +" +
               std::to_string(a.size) + ")";
      return nullptr;
    }
  }
  if (why)
    *why = "GM access [" + hex(address) + ", +" + std::to_string(length) +
           ") is outside every allocation";
  return nullptr;
}

Status GlobalMemory::write(uint64_t address, const void *data, uint64_t length) {
  std::string why;
  uint8_t *p = resolve(address, length, &why);
  if (!p)
    return Error::badInput(why);
  std::memcpy(p, data, length);
  return Status::success();
}

Status GlobalMemory::read(uint64_t address, void *data, uint64_t length) {
  std::string why;
  uint8_t *p = resolve(address, length, &why);
  if (!p)
    return Error::badInput(why);
  std::memcpy(data, p, length);
  return Status::success();
}

} // namespace fractal::sim
