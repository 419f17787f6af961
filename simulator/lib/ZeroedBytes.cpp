#include "fractal/sim/ZeroedBytes.h"

#include <cstdlib>
#include <new>
#include <sys/mman.h>

namespace fractal::sim {

namespace {
constexpr size_t kMapFromBytes = 64 << 10;
}

ZeroedBytes::ZeroedBytes(size_t size) : size_(size) {
  if (size >= kMapFromBytes) {
    void *p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = std::unique_ptr<uint8_t, Release>(static_cast<uint8_t *>(p), Release{size});
    return;
  }
  auto *p = static_cast<uint8_t *>(std::calloc(size ? size : 1, 1));
  if (!p) throw std::bad_alloc();
  data_ = std::unique_ptr<uint8_t, Release>(p, Release{0});
}

void ZeroedBytes::Release::operator()(uint8_t *p) const {
  if (mappedBytes)
    munmap(p, mappedBytes);
  else
    std::free(p);
}

} // namespace fractal::sim
