// A small streaming JSON writer for reports and traces (no third-party dependency). Keys are
// written in the order given, so reports diff cleanly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fractal {

class JsonWriter {
public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}

  JsonWriter &beginObject();
  JsonWriter &endObject();
  JsonWriter &beginArray();
  JsonWriter &endArray();
  JsonWriter &key(const std::string &k);
  JsonWriter &value(const std::string &v);
  JsonWriter &value(const char *v) { return value(std::string(v)); }
  JsonWriter &value(double v);
  JsonWriter &value(int64_t v);
  JsonWriter &value(uint64_t v);
  JsonWriter &value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter &value(bool v);
  JsonWriter &null();
  template <typename T> JsonWriter &field(const std::string &k, const T &v) {
    key(k);
    return value(v);
  }

  const std::string &str() const { return out_; }
  static std::string escape(const std::string &s);

private:
  void beforeValue();
  void newline();
  std::string out_;
  std::vector<bool> first_; // per open container: no element written yet
  bool pretty_;
  bool afterKey_ = false;
};

} // namespace fractal
