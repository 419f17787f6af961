#include "fractal/support/Npy.h"

#include "fractal/support/File.h"

#include <cstring>

namespace fractal {
namespace {

size_t descrSize(const std::string &d) {
  if (d == "<f4" || d == "<i4" || d == "<u4") return 4;
  if (d == "<f2" || d == "<i2" || d == "<u2") return 2;
  if (d == "<i8" || d == "<u8" || d == "<f8") return 8;
  if (d == "|i1" || d == "|b1" || d == "|u1") return 1;
  return 0;
}

// The value of 'key' in the header dict, as raw text up to the matching delimiter.
bool dictValue(const std::string &header, const std::string &key, std::string &out) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return false;
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return false;
  if (header[start] == '\'') {
    size_t end = header.find('\'', start + 1);
    if (end == std::string::npos) return false;
    out = header.substr(start + 1, end - start - 1);
  } else if (header[start] == '(') {
    size_t end = header.find(')', start);
    if (end == std::string::npos) return false;
    out = header.substr(start + 1, end - start - 1);
  } else {
    size_t end = header.find_first_of(",}", start);
    if (end == std::string::npos) return false;
    out = header.substr(start, end - start);
  }
  return true;
}

} // namespace

Expected<NpyArray> parseNpy(const std::vector<uint8_t> &bytes, const std::string &name) {
  auto bad = [&](const std::string &m) { return Error::badInput(name + ": not a valid .npy file: " + m); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return bad("no \\x93NUMPY magic");
  const int major = bytes[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = bytes[8] | (size_t(bytes[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated header");
    headerLen = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) | (size_t(bytes[11]) << 24);
    headerStart = 12;
  } else {
    return bad("format version " + std::to_string(major) + " is not 1, 2 or 3");
  }
  if (headerLen > bytes.size() - headerStart) return bad("header runs past the end of the file");
  std::string header(bytes.begin() + long(headerStart), bytes.begin() + long(headerStart + headerLen));
  NpyArray a;
  std::string fortran, shape;
  if (!dictValue(header, "descr", a.descr) || !dictValue(header, "fortran_order", fortran) ||
      !dictValue(header, "shape", shape))
    return bad("header lacks descr, fortran_order or shape");
  if (fortran != "False") return bad("Fortran-ordered arrays are not supported (save in C order)");
  const size_t elementSize = descrSize(a.descr);
  if (!elementSize)
    return bad("dtype '" + a.descr + "' is not supported (float64, float32, float16, int64, uint64, int32, uint32, int16, uint16, int8, uint8, bool)");
  uint64_t count = 1;
  size_t pos = 0;
  while (pos < shape.size()) {
    size_t comma = shape.find(',', pos);
    std::string item = shape.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? shape.size() : comma + 1;
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.empty()) continue;
    if (item.size() > 12 || item.find_first_not_of("0123456789") != std::string::npos)
      return bad("shape entry '" + item + "' is not a dimension");
    int64_t d = std::stoll(item);
    if (d != 0 && count > (uint64_t(1) << 40) / uint64_t(d)) return bad("shape has too many elements");
    count *= uint64_t(d);
    a.shape.push_back(d);
  }
  const uint64_t dataBytes = count * elementSize;
  if (bytes.size() - headerStart - headerLen != dataBytes)
    return bad("shape and dtype need " + std::to_string(dataBytes) + " data bytes, the file has " +
               std::to_string(bytes.size() - headerStart - headerLen));
  a.data.assign(bytes.begin() + long(headerStart + headerLen), bytes.end());
  return a;
}

Expected<NpyArray> readNpyFile(const std::string &path) {
  Expected<std::vector<uint8_t>> bytes = readBinaryFile(path);
  if (!bytes) return bytes.takeError();
  return parseNpy(*bytes, path);
}

std::vector<uint8_t> serializeNpy(const NpyArray &a) {
  std::string shape;
  for (int64_t d : a.shape) shape += std::to_string(d) + ", ";
  // "(2, 3)", but "(4,)" for one dimension, as numpy writes them.
  if (!a.shape.empty()) shape.erase(shape.size() - (a.shape.size() == 1 ? 1 : 2));
  std::string header = "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const uint8_t magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xff),
                             uint8_t(header.size() >> 8)};
  // Sized once and filled (growing it by inserts trips a false -Warray-bounds in GCC 12).
  std::vector<uint8_t> out(sizeof magic + header.size() + a.data.size());
  std::memcpy(out.data(), magic, sizeof magic);
  std::memcpy(out.data() + sizeof magic, header.data(), header.size());
  if (!a.data.empty()) std::memcpy(out.data() + sizeof magic + header.size(), a.data.data(), a.data.size());
  return out;
}

std::vector<float> npyFloats(const NpyArray &a) {
  std::vector<float> v(a.data.size() / 4);
  std::memcpy(v.data(), a.data.data(), v.size() * 4);
  return v;
}

NpyArray floatNpy(const std::vector<int64_t> &shape, const std::vector<float> &values) {
  NpyArray a{"<f4", shape, std::vector<uint8_t>(values.size() * 4)};
  std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}

Expected<std::vector<float>> readNpyFloats(const std::string &path, size_t count) {
  Expected<NpyArray> a = readNpyFile(path);
  if (!a) return a.takeError();
  if (a->descr != "<f4" || a->data.size() != count * 4)
    return Error::badInput(path + ": expected " + std::to_string(count) + " float32 values");
  return npyFloats(*a);
}

Status writeNpyFile(const std::string &path, const NpyArray &a) {
  return writeFileAtomically(path, serializeNpy(a));
}

} // namespace fractal
