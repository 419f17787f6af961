#include "fractal/support/File.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace fractal {

namespace {
std::string systemError() { return std::strerror(errno); }

// A directory opens as a stream on Linux, reads as empty and seeks to a size of 2^63 - 1 (a
// std::bad_alloc for its buffer, or an empty "model"): refused by name first.
Status notADirectory(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Error::badInput(path + ": is a directory, not a file");
  return Status::success();
}
} // namespace

Expected<std::string> readTextFile(const std::string &path) {
  if (Status st = notADirectory(path); !st) return st.error();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::badInput(path + ": cannot open: " + systemError());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    return Error::badInput(path + ": read error");
  return buffer.str();
}

Expected<std::vector<uint8_t>> readBinaryFile(const std::string &path) {
  if (Status st = notADirectory(path); !st) return st.error();
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::badInput(path + ": cannot open: " + systemError());
  // One allocation of the file's size (not a byte-by-byte copy that doubles its buffer: a model
  // package is megabytes, and the transient copies showed in the runtime's peak RSS). A pipe has
  // no size: it is read as a stream.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in ? std::streamoff(in.tellg()) : std::streamoff(-1);
  in.clear();
  in.seekg(0, std::ios::beg);
  if (size < 0 || !in) {
    in.clear();
    std::vector<uint8_t> streamed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
      return Error::badInput(path + ": read error");
    return streamed;
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char *>(bytes.data()), size))
    return Error::badInput(path + ": read error");
  return bytes;
}

Status createDirectories(const std::string &dir) {
  // Each prefix ending before a '/', then the whole path; EEXIST is fine as long as it is a directory.
  for (size_t end = dir.find('/', 1);; end = dir.find('/', end + 1)) {
    const std::string prefix = dir.substr(0, end);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      return Error::badInput(prefix + ": cannot create directory: " + systemError());
    if (end == std::string::npos) break;
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Error::badInput(dir + ": not a directory");
  return Status::success();
}

Status writeFileAtomically(const std::string &path, const void *data, size_t size) {
  // The temporary lives in the same directory so that rename() stays within one file system.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f)
    return Error::badInput(path + ": cannot write: " + systemError());
  bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
  ok = (std::fflush(f) == 0) && ok;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    return Error::badInput(path + ": write failed: " + systemError());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = systemError();
    std::remove(tmp.c_str());
    return Error::badInput(path + ": cannot rename temporary file: " + why);
  }
  return Status::success();
}

} // namespace fractal
