// NumPy .npy files (format versions 1.0-3.0, little-endian, C order): the tensor format of
// `fractal run`. The reader checks the magic, header length, dict, dtype and that the data size
// matches the shape before returning anything.
#pragma once

#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal {

struct NpyArray {
  std::string descr;          // numpy dtype string: "<f4", "<f2", "<i8", "<i4", "|i1", "|b1"
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // row-major
};

Expected<NpyArray> parseNpy(const std::vector<uint8_t> &bytes, const std::string &name);
Expected<NpyArray> readNpyFile(const std::string &path);
std::vector<uint8_t> serializeNpy(const NpyArray &array); // version 1.0
// The elements of a float32 ("<f4") array; the caller checks descr.
std::vector<float> npyFloats(const NpyArray &array);
// A float32 array of `shape` holding `values`.
NpyArray floatNpy(const std::vector<int64_t> &shape, const std::vector<float> &values);
// The values of a float32 .npy file of exactly `count` elements (any shape); else an error naming
// the file and what it should hold.
Expected<std::vector<float>> readNpyFloats(const std::string &path, size_t count);
Status writeNpyFile(const std::string &path, const NpyArray &array); // atomic

} // namespace fractal
