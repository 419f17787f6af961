// Loading, validating and printing chip configs. The schema (ConfigSchema.cpp) says which keys
// exist; this file enforces it: unknown, duplicate, missing and ill-typed keys, non-positive and
// misaligned values, and buffers too small for one fractal are all reported with file:line:col.
#include "fractal/config/ChipConfig.h"

#include "ConfigSchema.h"
#include "EmbeddedPresets.h"
#include "fractal/support/File.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>


namespace fractal {

using config_detail::chipConfigSchema;
using config_detail::FieldSpec;
using config_detail::FieldType;
using config_detail::EmbeddedPreset;
using config_detail::kEmbeddedPresets;

const char *bufferKindName(BufferKind kind) {
  switch (kind) {
  case BufferKind::L1: return "l1";
  case BufferKind::L0A: return "l0a";
  case BufferKind::L0B: return "l0b";
  case BufferKind::L0C: return "l0c";
  case BufferKind::UB: return "ub";
  }
  return "?";
}

const char *vectorTimingClassName(VectorTimingClass cls) {
  switch (cls) {
  case VectorTimingClass::Simple: return "simple";
  case VectorTimingClass::Mul: return "mul";
  case VectorTimingClass::Exp: return "exp";
  case VectorTimingClass::Ln: return "ln";
  case VectorTimingClass::Sqrt: return "sqrt";
  case VectorTimingClass::Reciprocal: return "reciprocal";
  case VectorTimingClass::Reduce: return "reduce";
  case VectorTimingClass::Convert: return "convert";
  }
  return "?";
}

namespace {

struct Position {
  int line = 0, column = 0; // 1-based; 0 = unknown
};

std::string formatNumber(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

class Diagnostics {
public:
  explicit Diagnostics(std::string source) : source_(std::move(source)) {}

  void report(Position pos, const std::string &key, const std::string &why) {
    std::ostringstream os;
    os << source_;
    if (pos.line > 0)
      os << ":" << pos.line << ":" << pos.column;
    os << ": ";
    if (!key.empty())
      os << "key '" << key << "': ";
    os << why;
    lines_.push_back(os.str());
  }
  bool empty() const { return lines_.empty(); }
  std::string joined() const {
    std::string all;
    for (size_t i = 0; i < lines_.size(); ++i)
      all += (i ? "\n" : "") + lines_[i];
    return all;
  }

private:
  std::string source_;
  std::vector<std::string> lines_;
};

Position positionOf(const YAML::Node &node) {
  YAML::Mark m = node.Mark();
  if (m.line < 0)
    return {};
  return {m.line + 1, m.column + 1};
}

// Strict integer parsing with optional binary size suffixes (KiB, MiB, GiB) for readability.
bool parseInteger(const std::string &text, int64_t &out, std::string &why) {
  std::string t = text;
  int64_t scale = 1;
  static const std::pair<const char *, int64_t> suffixes[] = {
      {"KiB", 1LL << 10}, {"MiB", 1LL << 20}, {"GiB", 1LL << 30}};
  for (const auto &[suffix, factor] : suffixes) {
    std::string s(suffix);
    if (t.size() > s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0) {
      t = t.substr(0, t.size() - s.size());
      while (!t.empty() && t.back() == ' ')
        t.pop_back();
      scale = factor;
      break;
    }
  }
  if (t.empty()) {
    why = "expected an integer, got '" + text + "'";
    return false;
  }
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (*end != '\0') {
    why = "expected an integer, got '" + text + "'";
    return false;
  }
  if (errno == ERANGE || (v != 0 && (v > INT64_MAX / scale || v < INT64_MIN / scale))) {
    why = "integer '" + text + "' is out of range";
    return false;
  }
  out = static_cast<int64_t>(v) * scale;
  return true;
}

bool parseNumber(const std::string &text, double &out, std::string &why) {
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    why = "expected a finite number, got '" + text + "'";
    return false;
  }
  out = v;
  return true;
}

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

class Loader {
public:
  Loader(std::string source) : diags_(std::move(source)) {
    for (const FieldSpec &f : chipConfigSchema()) {
      fields_[f.path] = &f;
      // Every proper prefix of a key is a section ("buffers", "buffers.l1").
      for (size_t dot = f.path.find('.'); dot != std::string::npos; dot = f.path.find('.', dot + 1))
        sections_.insert(f.path.substr(0, dot));
    }
  }

  Expected<ChipConfig> load(const std::string &text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception &e) {
      diags_.report({e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg);
      return Error::badInput("invalid chip config:\n" + diags_.joined());
    }
    if (!root.IsMap()) {
      diags_.report(positionOf(root), "", "a chip config must be a YAML mapping of sections");
      return Error::badInput("invalid chip config:\n" + diags_.joined());
    }
    walk(root, "");
    for (const FieldSpec &f : chipConfigSchema())
      if (!seen_.count(f.path))
        diags_.report(sectionPosition(f.path), f.path, "missing required key");
    if (diags_.empty())
      crossCheck();
    if (!diags_.empty())
      return Error::badInput("invalid chip config:\n" + diags_.joined());
    return config_;
  }

private:
  Position sectionPosition(const std::string &path) {
    // Point a "missing key" error at the closest enclosing section that does exist.
    for (std::string p = path; !p.empty();) {
      size_t dot = p.rfind('.');
      if (dot == std::string::npos)
        break;
      p = p.substr(0, dot);
      if (auto it = sectionPos_.find(p); it != sectionPos_.end())
        return it->second;
    }
    return {1, 1};
  }

  void walk(const YAML::Node &map, const std::string &prefix) {
    std::set<std::string> keysHere;
    for (const auto &entry : map) {
      const YAML::Node &keyNode = entry.first;
      const YAML::Node &value = entry.second;
      if (!keyNode.IsScalar()) {
        diags_.report(positionOf(keyNode), prefix, "keys must be plain names");
        continue;
      }
      std::string key = keyNode.Scalar();
      std::string path = prefix.empty() ? key : prefix + "." + key;
      Position pos = positionOf(keyNode);
      if (!keysHere.insert(key).second) {
        diags_.report(pos, path, "duplicate key");
        continue;
      }
      if (auto it = fields_.find(path); it != fields_.end()) {
        seen_.insert(path);
        positions_[path] = pos;
        parseField(*it->second, value, pos);
      } else if (sections_.count(path)) {
        sectionPos_[path] = pos;
        if (!value.IsMap()) {
          diags_.report(pos, path, "expected a section (a mapping of keys)");
          continue;
        }
        walk(value, path);
      } else {
        diags_.report(pos, path, "unknown key" + suggestion(path));
      }
    }
  }

  std::string suggestion(const std::string &path) const {
    // Offer the keys of the enclosing section, the usual cause being a typo.
    size_t dot = path.rfind('.');
    std::string parent = dot == std::string::npos ? "" : path.substr(0, dot + 1);
    std::set<std::string> names;
    for (const FieldSpec &f : chipConfigSchema()) {
      if (f.path.compare(0, parent.size(), parent) != 0)
        continue;
      std::string rest = f.path.substr(parent.size());
      names.insert(rest.substr(0, rest.find('.')));
    }
    if (names.empty())
      return "";
    std::string s = " (expected one of:";
    for (const auto &n : names)
      s += " " + n;
    return s + ")";
  }

  void parseField(const FieldSpec &f, const YAML::Node &value, Position pos) {
    if (!value.IsScalar()) {
      diags_.report(pos, f.path, "expected a single value");
      return;
    }
    const std::string &text = value.Scalar();
    std::string why;
    switch (f.type) {
    case FieldType::String:
      if (text.empty())
        diags_.report(pos, f.path, "must not be empty");
      f.string(config_) = text;
      return;
    case FieldType::Number: {
      double v = 0;
      if (!parseNumber(text, v, why)) {
        diags_.report(pos, f.path, why);
        return;
      }
      if (v <= 0)
        diags_.report(pos, f.path, "must be positive, got " + text);
      else if (v < f.minNumber)
        diags_.report(pos, f.path, "must be at least " + formatNumber(f.minNumber) + ", got " + text);
      else if (f.maxValue && v > double(f.maxValue))
        diags_.report(pos, f.path, "must be at most " + std::to_string(f.maxValue) + ", got " + text);
      f.number(config_) = v;
      return;
    }
    case FieldType::Integer: {
      int64_t v = 0;
      if (!parseInteger(text, v, why)) {
        diags_.report(pos, f.path, why);
        return;
      }
      if (v < 0 || (v == 0 && !(f.flags & config_detail::kAllowZero)))
        diags_.report(pos, f.path,
                      std::string("must be ") +
                          ((f.flags & config_detail::kAllowZero) ? "non-negative" : "positive") +
                          ", got " + text);
      else if ((f.flags & config_detail::kPowerOfTwo) && !isPowerOfTwo(v))
        diags_.report(pos, f.path, "must be a power of two, got " + text);
      else if (f.maxValue && v > f.maxValue)
        diags_.report(pos, f.path,
                      "must be at most " + std::to_string(f.maxValue) + ", got " + text);
      f.integer(config_) = v;
      return;
    }
    }
  }

  void crossCheck() {
    const ChipConfig &c = config_;
    for (int i = 0; i < kNumBufferKinds; ++i) {
      auto kind = static_cast<BufferKind>(i);
      const BufferSpec &b = c.buffers[i];
      std::string key = std::string("buffers.") + bufferKindName(kind) + ".size_bytes";
      if (b.sizeBytes % b.alignmentBytes != 0)
        diags_.report(positions_[key], key,
                      "size " + std::to_string(b.sizeBytes) +
                          " is not a multiple of the alignment " +
                          std::to_string(b.alignmentBytes));
      int64_t need = smallestUsefulSize(kind);
      if (b.sizeBytes < need)
        diags_.report(positions_[key], key,
                      "buffer of " + std::to_string(b.sizeBytes) +
                          " bytes is too small for one fractal (" + std::to_string(need) +
                          " bytes)");
    }
    if (c.vector.bytesPerRepeat % c.vector.blockBytes != 0)
      diags_.report(positions_["vector.bytes_per_repeat"], "vector.bytes_per_repeat",
                    "must be a multiple of vector.block_bytes");
    if (c.vector.maskBits * 2 < c.vector.bytesPerRepeat)
      diags_.report(positions_["vector.mask_bits"], "vector.mask_bits",
                    "must cover every fp16 element of a repeat (at least " +
                        std::to_string(c.vector.bytesPerRepeat / 2) + ")");
    if (c.l2.lineBytes > c.l2.sizeBytes)
      diags_.report(positions_["l2.line_bytes"], "l2.line_bytes", "larger than l2.size_bytes");
    else if (c.l2.sizeBytes / c.l2.lineBytes > config_detail::kMaxL2Lines)
      diags_.report(positions_["l2.size_bytes"], "l2.size_bytes",
                    std::to_string(c.l2.sizeBytes / c.l2.lineBytes) + " lines of " + std::to_string(c.l2.lineBytes) +
                        " bytes, at most " + std::to_string(config_detail::kMaxL2Lines) +
                        " (the simulator keeps each line's tag in host memory): make l2.line_bytes larger or l2.size_bytes smaller");
    else if (c.l2.lineBytes > 0 && c.chip.gmSizeBytes / c.l2.lineBytes / c.l2Sets() > int64_t(UINT32_MAX))
      // The simulator's L2 keeps a 32-bit tag per line (the line's number within its set).
      diags_.report(positions_["chip.gm_size_bytes"], "chip.gm_size_bytes",
                    "more than 2^32 GM lines share an L2 set (the simulator's L2 tags are 32-bit): "
                    "make l2.size_bytes larger or the GM smaller");
  }

  // The smallest buffer that can hold one operand fractal of the cube (or one vector repeat).
  int64_t smallestUsefulSize(BufferKind kind) const {
    const ChipConfig &c = config_;
    int64_t a = std::max(c.cube.fp16.m * c.cube.fp16.k * 2, c.cube.int8.m * c.cube.int8.k);
    int64_t b = std::max(c.cube.fp16.k * c.cube.fp16.n * 2, c.cube.int8.k * c.cube.int8.n);
    int64_t acc = std::max(c.cube.fp16.m * c.cube.fp16.n, c.cube.int8.m * c.cube.int8.n) * 4;
    switch (kind) {
    case BufferKind::L1: return std::max(a, b);
    case BufferKind::L0A: return a;
    case BufferKind::L0B: return b;
    case BufferKind::L0C: return acc;
    case BufferKind::UB: return c.vector.bytesPerRepeat;
    }
    return 0;
  }

  Diagnostics diags_;
  ChipConfig config_;
  std::map<std::string, const FieldSpec *> fields_;
  std::set<std::string> sections_;
  std::set<std::string> seen_;
  std::map<std::string, Position> positions_;
  std::map<std::string, Position> sectionPos_;
};

bool isPresetName(const std::string &target) {
  return !target.empty() && target.find('/') == std::string::npos &&
         target.find('.') == std::string::npos;
}

} // namespace

Expected<ChipConfig> parseChipConfig(const std::string &yamlText, const std::string &sourceName) {
  Loader loader(sourceName);
  Expected<ChipConfig> config = loader.load(yamlText);
  if (config)
    config->sourcePath = sourceName;
  return config;
}

Expected<ChipConfig> loadChipConfigFile(const std::string &path) {
  Expected<std::string> text = readTextFile(path);
  if (!text)
    return text.takeError();
  return parseChipConfig(*text, path);
}

std::vector<std::string> presetNames() {
  std::vector<std::string> names;
  for (const EmbeddedPreset *p = kEmbeddedPresets; p->name; ++p)
    names.push_back(p->name);
  return names;
}

Expected<ChipConfig> loadChipConfig(const std::string &target) {
  if (!isPresetName(target))
    return loadChipConfigFile(target);
  for (const EmbeddedPreset *p = kEmbeddedPresets; p->name; ++p)
    if (target == p->name)
      return parseChipConfig(p->yaml, std::string("configs/") + p->name + ".yaml");
  std::string known;
  for (const std::string &n : presetNames())
    known += (known.empty() ? "" : ", ") + n;
  return Error::badInput("unknown target '" + target + "': the presets are " + known +
                         "; or pass a path to a .yaml chip config");
}

namespace {

// The canonical YAML, with the keys in `raw` given that text instead of the config's value.
std::string canonicalYaml(const ChipConfig &constConfig, const std::map<std::string, std::string> &raw) {
  ChipConfig config = constConfig; // the accessors take a mutable reference
  std::ostringstream os;
  os << "# Fractal chip config (canonical form, generated by `fractal config show`)\n";
  std::vector<std::string> open; // currently open section path components
  for (const FieldSpec &f : chipConfigSchema()) {
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t dot = f.path.find('.', start);
      parts.push_back(f.path.substr(start, dot - start));
      if (dot == std::string::npos)
        break;
      start = dot + 1;
    }
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common])
      ++common;
    open.resize(common);
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      os << std::string(2 * i, ' ') << parts[i] << ":\n";
      open.push_back(parts[i]);
    }
    os << std::string(2 * (parts.size() - 1), ' ') << parts.back() << ": ";
    if (auto it = raw.find(f.path); it != raw.end()) {
      os << it->second << "\n";
      continue;
    }
    switch (f.type) {
    case FieldType::String: {
      // Quote strings so that YAML never reinterprets them (e.g. "yes", "1.0").
      std::string s = f.string(config), q;
      for (char ch : s)
        q += (ch == '"' || ch == '\\') ? std::string("\\") + ch : std::string(1, ch);
      os << '"' << q << '"';
      break;
    }
    case FieldType::Number: os << formatNumber(f.number(config)); break;
    case FieldType::Integer: os << f.integer(config); break;
    }
    if (!f.unit.empty())
      os << "  # " << f.unit;
    os << "\n";
  }
  return os.str();
}

} // namespace

std::string chipConfigToYaml(const ChipConfig &config) { return canonicalYaml(config, {}); }

Expected<ChipConfig> overrideChipConfig(const ChipConfig &base,
                                        const std::vector<std::pair<std::string, std::string>> &settings,
                                        const std::string &sourceName) {
  std::map<std::string, std::string> raw;
  for (const auto &[key, value] : settings) {
    bool known = false;
    for (const FieldSpec &f : chipConfigSchema()) known = known || f.path == key;
    if (!known)
      return Error::badInput(sourceName + ": key '" + key + "': unknown key (every key: docs/config.md, "
                             "`fractal config schema`)");
    if (value.empty() || value.find_first_of("\n#") != std::string::npos)
      return Error::badInput(sourceName + ": key '" + key + "': '" + value + "' is not a value");
    raw[key] = value;
  }
  return parseChipConfig(canonicalYaml(base, raw), sourceName);
}

std::string chipConfigSchemaMarkdown() {
  std::ostringstream os;
  os << "| key | type | unit | constraints | meaning |\n|---|---|---|---|---|\n";
  for (const FieldSpec &f : chipConfigSchema()) {
    std::string type = f.type == FieldType::Integer  ? "integer"
                       : f.type == FieldType::Number ? "number"
                                                     : "string";
    std::string constraints;
    if (f.type == FieldType::String)
      constraints = "non-empty";
    else if (f.flags & config_detail::kAllowZero)
      constraints = "≥ 0";
    else if (f.minNumber > 0)
      constraints = "≥ " + formatNumber(f.minNumber);
    else
      constraints = "> 0";
    if (f.flags & config_detail::kPowerOfTwo)
      constraints += ", power of two";
    if (f.maxValue)
      constraints += ", ≤ " + std::to_string(f.maxValue);
    os << "| `" << f.path << "` | " << type << " | " << f.unit << " | " << constraints << " | "
       << f.doc << " |\n";
  }
  return os.str();
}

std::string chipSystemVerilogPackage(const ChipConfig &c) {
  std::ostringstream os;
  auto param = [&](const char *name, int64_t value) {
    os << "  localparam int " << name << " = " << value << ";\n";
  };
  os << "// Generated by `fractal config sv --target " << c.name << "` from " << c.sourcePath
     << ". Do not edit.\n"
     << "package fractal_chip_pkg;\n"
     << "  /* verilator lint_off UNUSEDPARAM */\n";
  param("CUBE_F16_M", c.cube.fp16.m);
  param("CUBE_F16_K", c.cube.fp16.k);
  param("CUBE_F16_N", c.cube.fp16.n);
  param("CUBE_S8_M", c.cube.int8.m);
  param("CUBE_S8_K", c.cube.int8.k);
  param("CUBE_S8_N", c.cube.int8.n);
  param("VECTOR_BYTES_PER_REPEAT", c.vector.bytesPerRepeat);
  param("VECTOR_MASK_BITS", c.vector.maskBits);
  param("VEC_SIMPLE_LATENCY", c.vectorTiming(VectorTimingClass::Simple).latencyCycles);
  param("VEC_MUL_LATENCY", c.vectorTiming(VectorTimingClass::Mul).latencyCycles);
  param("VEC_CONVERT_LATENCY", c.vectorTiming(VectorTimingClass::Convert).latencyCycles);
  os << "  /* verilator lint_on UNUSEDPARAM */\n"
     << "endpackage\n";
  return os.str();
}

} // namespace fractal
