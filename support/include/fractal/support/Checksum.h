// CRC-32 (IEEE 802.3 polynomial, as zlib's crc32) for kernel binaries and model packages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fractal {
uint32_t crc32(const void *data, size_t size, uint32_t crc = 0);
} // namespace fractal
