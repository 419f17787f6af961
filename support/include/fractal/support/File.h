// File helpers. Outputs are written atomically: a temporary file next to the target is filled and
// then renamed over it, so an interrupted or failed command never leaves a truncated output.
#pragma once

#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal {

Expected<std::string> readTextFile(const std::string &path);
Expected<std::vector<uint8_t>> readBinaryFile(const std::string &path);

// Creates `dir` and any missing parents (like mkdir -p); an existing directory is fine. An output
// option such as `--output-dir out/run1` names a directory the command makes.
Status createDirectories(const std::string &dir);

Status writeFileAtomically(const std::string &path, const void *data, size_t size);
inline Status writeFileAtomically(const std::string &path, const std::string &text) {
  return writeFileAtomically(path, text.data(), text.size());
}
inline Status writeFileAtomically(const std::string &path, const std::vector<uint8_t> &bytes) {
  return writeFileAtomically(path, bytes.data(), bytes.size());
}

} // namespace fractal
