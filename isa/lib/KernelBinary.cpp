#include "fractal/isa/KernelBinary.h"

#include "fractal/isa/Encoding.h"
#include "fractal/support/Checksum.h"
#include "fractal/support/File.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace fractal::isa {

namespace {

constexpr char kMagic[4] = {'F', 'R', 'K', 'B'};
constexpr uint32_t kNoNote = 0xffffffffu;
constexpr size_t kSymbolBytes = 12;
constexpr size_t kDebugBytes = 8;
constexpr size_t kChecksumOffset = 72;

// Header field offsets.
enum : size_t {
  kVersionMajor = 4,
  kVersionMinor = 6,
  kHeaderSize = 8,
  kFlags = 12,
  kTarget = 16,
  kCodeOffset = 32,
  kCodeCount = 36,
  kDataOffset = 40,
  kDataSize = 44,
  kSymOffset = 48,
  kSymCount = 52,
  kDebugOffset = 56,
  kDebugCount = 60,
  kStrOffset = 64,
  kStrSize = 68,
  kSourceName = 76,
};

void put16(std::vector<uint8_t> &b, size_t at, uint16_t v) {
  b[at] = v & 0xff;
  b[at + 1] = v >> 8;
}
void put32(std::vector<uint8_t> &b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + i] = (v >> (8 * i)) & 0xff;
}
uint32_t get32(const uint8_t *b) {
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

// The bytes being parsed, read in place: a model's kernel is held once, where the package
// reader keeps it, rather than copied for the parser (and again for its checksum).
struct ByteView {
  const uint8_t *ptr;
  size_t count;
  size_t size() const { return count; }
  const uint8_t *data() const { return ptr; }
  const uint8_t *begin() const { return ptr; }
  const uint8_t *end() const { return ptr + count; }
  uint8_t operator[](size_t at) const { return ptr[at]; }
};

uint16_t get16(ByteView b, size_t at) { return uint16_t(b[at] | (b[at + 1] << 8)); }
uint32_t get32(ByteView b, size_t at) { return get32(b.data() + at); }

void padTo16(std::vector<uint8_t> &b) {
  while (b.size() % 16)
    b.push_back(0);
}

class StringTable {
public:
  uint32_t add(const std::string &s) {
    if (auto it = index_.find(s); it != index_.end())
      return it->second;
    auto off = static_cast<uint32_t>(bytes_.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    bytes_.push_back(0);
    index_[s] = off;
    return off;
  }
  const std::vector<uint8_t> &bytes() const { return bytes_; }

private:
  std::vector<uint8_t> bytes_;
  std::map<std::string, uint32_t> index_;
};

} // namespace

std::vector<uint8_t> serializeKernel(const KernelBinary &k) {
  std::vector<uint8_t> out(kKernelHeaderBytes, 0);
  std::memcpy(out.data(), kMagic, 4);
  put16(out, kVersionMajor, kKernelFormatMajor);
  put16(out, kVersionMinor, kKernelFormatMinor);
  put32(out, kHeaderSize, kKernelHeaderBytes);
  std::memcpy(out.data() + kTarget, k.target.data(),
              std::min(k.target.size(), kKernelTargetBytes - 1));
  StringTable strings;
  put32(out, kSourceName, strings.add(k.source));

  put32(out, kCodeOffset, static_cast<uint32_t>(out.size()));
  put32(out, kCodeCount, static_cast<uint32_t>(k.instructionCount()));
  k.encoded.appendTo(out);
  for (const Instruction &inst : k.code) {
    uint8_t word[kInstructionBytes];
    encodeInstruction(inst, word);
    out.insert(out.end(), word, word + kInstructionBytes);
  }
  padTo16(out);
  put32(out, kDataOffset, static_cast<uint32_t>(out.size()));
  put32(out, kDataSize, static_cast<uint32_t>(k.data.size()));
  out.insert(out.end(), k.data.begin(), k.data.end());
  padTo16(out);
  put32(out, kSymOffset, static_cast<uint32_t>(out.size()));
  put32(out, kSymCount, static_cast<uint32_t>(k.symbols.size()));
  for (const Symbol &s : k.symbols) {
    size_t at = out.size();
    out.resize(at + kSymbolBytes, 0);
    put32(out, at, strings.add(s.name));
    put32(out, at + 4, s.value);
    out[at + 8] = static_cast<uint8_t>(s.section);
  }
  padTo16(out);
  put32(out, kDebugOffset, static_cast<uint32_t>(out.size()));
  put32(out, kDebugCount, static_cast<uint32_t>(k.debug.size()));
  for (size_t pc = 0; pc < k.debug.size(); ++pc) {
    const DebugEntry d = k.debug[pc];
    size_t at = out.size();
    out.resize(at + kDebugBytes, 0);
    put32(out, at, d.line);
    const bool none = d.note >= k.notes.size() || k.notes[d.note].empty();
    put32(out, at + 4, none ? kNoNote : strings.add(k.notes[d.note]));
  }
  padTo16(out);
  put32(out, kStrOffset, static_cast<uint32_t>(out.size()));
  put32(out, kStrSize, static_cast<uint32_t>(strings.bytes().size()));
  out.insert(out.end(), strings.bytes().begin(), strings.bytes().end());
  put32(out, kChecksumOffset, crc32(out.data(), out.size()));
  return out;
}

EncodedCode KernelBinary::encodedCode() const {
  if (!encoded.empty() || code.empty()) return encoded;
  std::vector<uint8_t> words(code.size() * kInstructionBytes);
  for (size_t pc = 0; pc < code.size(); ++pc) encodeInstruction(code[pc], &words[pc * kInstructionBytes]);
  EncodedCode out;
  out.assign(words.data(), code.size());
  return out;
}

Instruction KernelBinary::instructionAt(size_t pc) const {
  if (pc >= instructionCount()) throw std::out_of_range("no instruction " + std::to_string(pc) + " in " + source);
  return code.empty() ? decodeValidInstruction(encoded.at(pc)) : code[pc];
}

const std::string &KernelBinary::noteOf(size_t pc) const {
  static const std::string none;
  if (pc >= debug.size())
    return none;
  const uint32_t note = debug[pc].note;
  return note < notes.size() ? notes[note] : none;
}

DebugEntry DebugMap::operator[](size_t pc) const {
  auto after = std::upper_bound(runs_.begin(), runs_.end(), pc,
                                [](size_t p, const Run &r) { return p < r.firstPc; });
  const Run &r = *(after - 1); // runs_[0].firstPc is 0 <= pc
  DebugEntry d;
  d.line = r.firstLine + static_cast<uint32_t>(pc - r.firstPc);
  d.note = r.note;
  return d;
}

void DebugMap::push_back(const DebugEntry &d) {
  if (runs_.empty() || runs_.back().note != d.note || runs_.back().firstLine + (count_ - runs_.back().firstPc) != d.line)
    runs_.push_back({count_, d.line, d.note});
  ++count_;
}

void KernelBinary::addDebug(uint32_t line, const std::string &note) {
  DebugEntry d;
  d.line = line;
  if (!note.empty()) {
    // Instructions come in runs from the same node, so the last few notes are where a repeat is;
    // a note seen longer ago is stored again (harmless, and no lookup table to keep).
    size_t n = notes.size(), stop = n > 8 ? n - 8 : 0;
    for (size_t i = n; i > stop && d.note == DebugEntry::kNoNote; --i)
      if (notes[i - 1] == note)
        d.note = uint32_t(i - 1);
    if (d.note == DebugEntry::kNoNote) {
      d.note = uint32_t(notes.size());
      notes.push_back(note);
    }
  }
  debug.push_back(d);
}

Expected<KernelBinary> parseKernel(const std::vector<uint8_t> &bytes, const std::string &name, CodeForm form) {
  return parseKernel(bytes.data(), bytes.size(), name, form);
}

Expected<KernelBinary> parseKernel(const uint8_t *data, size_t size, const std::string &name, CodeForm form) {
  const ByteView bytes{data, size};
  auto fail = [&](const std::string &why) {
    return Error::badInput(name + ": invalid kernel binary: " + why);
  };
  if (bytes.size() < kKernelHeaderBytes)
    return fail("file is " + std::to_string(bytes.size()) + " bytes, shorter than the " +
                std::to_string(kKernelHeaderBytes) + "-byte header");
  if (std::memcmp(bytes.data(), kMagic, 4) != 0)
    return fail("bad magic (not a Fractal kernel binary)");
  if (get16(bytes, kVersionMajor) != kKernelFormatMajor)
    return fail("format version " + std::to_string(get16(bytes, kVersionMajor)) + "." +
                std::to_string(get16(bytes, kVersionMinor)) + " is not supported (expected " +
                std::to_string(kKernelFormatMajor) + ".x)");
  if (get32(bytes, kHeaderSize) != kKernelHeaderBytes)
    return fail("header size " + std::to_string(get32(bytes, kHeaderSize)) + " (expected " +
                std::to_string(kKernelHeaderBytes) + ")");
  if (get32(bytes, kFlags) != 0)
    return fail("unknown flags set in the header");
  {
    // The checksum covers the file with its own field read as zero.
    const uint8_t zero[4] = {};
    uint32_t actual = crc32(bytes.data(), kChecksumOffset);
    actual = crc32(zero, sizeof zero, actual);
    actual = crc32(bytes.data() + kChecksumOffset + 4, bytes.size() - kChecksumOffset - 4, actual);
    if (get32(bytes, kChecksumOffset) != actual)
      return fail("checksum mismatch (file is corrupt or truncated)");
  }

  struct Section {
    const char *what;
    uint64_t offset, size;
  };
  const uint64_t codeCount = get32(bytes, kCodeCount), symCount = get32(bytes, kSymCount),
                 debugCount = get32(bytes, kDebugCount);
  std::vector<Section> sections = {
      {"code", get32(bytes, kCodeOffset), codeCount * kInstructionBytes},
      {"data", get32(bytes, kDataOffset), get32(bytes, kDataSize)},
      {"symbol", get32(bytes, kSymOffset), symCount * kSymbolBytes},
      {"debug", get32(bytes, kDebugOffset), debugCount * kDebugBytes},
      {"string", get32(bytes, kStrOffset), get32(bytes, kStrSize)},
  };
  for (const Section &s : sections) {
    if (s.offset < kKernelHeaderBytes && s.size > 0)
      return fail(std::string(s.what) + " section overlaps the header");
    if (s.offset > bytes.size() || s.size > bytes.size() - s.offset)
      return fail(std::string(s.what) + " section [" + std::to_string(s.offset) + ", +" +
                  std::to_string(s.size) + ") lies outside the " + std::to_string(bytes.size()) +
                  "-byte file");
  }
  std::vector<Section> sorted = sections;
  std::sort(sorted.begin(), sorted.end(),
            [](const Section &a, const Section &b) { return a.offset < b.offset; });
  for (size_t i = 0; i + 1 < sorted.size(); ++i)
    if (sorted[i].size > 0 && sorted[i + 1].size > 0 &&
        sorted[i].offset + sorted[i].size > sorted[i + 1].offset)
      return fail(std::string(sorted[i].what) + " and " + sorted[i + 1].what +
                  " sections overlap");
  if (debugCount != 0 && debugCount != codeCount)
    return fail("debug section has " + std::to_string(debugCount) + " entries for " +
                std::to_string(codeCount) + " instructions");

  const Section &str = sections[4];
  auto stringAt = [&](uint32_t off, std::string &out) -> bool {
    if (off >= str.size)
      return false;
    const uint8_t *begin = bytes.data() + str.offset + off;
    const uint8_t *end = bytes.data() + str.offset + str.size;
    const uint8_t *nul = std::find(begin, end, 0);
    if (nul == end)
      return false;
    out.assign(begin, nul);
    return true;
  };

  KernelBinary k;
  const char *target = reinterpret_cast<const char *>(bytes.data() + kTarget);
  size_t targetLen = strnlen(target, kKernelTargetBytes);
  if (targetLen == kKernelTargetBytes)
    return fail("target name is not NUL-terminated");
  k.target.assign(target, targetLen);
  if (!stringAt(get32(bytes, kSourceName), k.source))
    return fail("source name string offset " + std::to_string(get32(bytes, kSourceName)) +
                " is outside the string table");

  if (form == CodeForm::Decoded)
    k.code.reserve(codeCount);
  for (uint64_t i = 0; i < codeCount; ++i) {
    uint64_t at = sections[0].offset + i * kInstructionBytes;
    Expected<Instruction> inst = decodeInstruction(bytes.data() + at, at);
    if (!inst)
      return fail("instruction " + std::to_string(i) + ": " + inst.error().message);
    if (form == CodeForm::Decoded)
      k.code.push_back(*inst);
  }
  if (form == CodeForm::Encoded)
    k.encoded.assign(bytes.data() + sections[0].offset, codeCount);
  k.data.assign(bytes.begin() + sections[1].offset,
                bytes.begin() + sections[1].offset + sections[1].size);
  k.symbols.reserve(symCount); // the count fits the file: its section was checked above
  for (uint64_t i = 0; i < symCount; ++i) {
    size_t at = sections[2].offset + i * kSymbolBytes;
    Symbol s;
    if (!stringAt(get32(bytes, at), s.name) || s.name.empty())
      return fail("symbol " + std::to_string(i) + " has an invalid name offset");
    s.value = get32(bytes, at + 4);
    uint8_t section = bytes[at + 8];
    if (section > 1 || bytes[at + 9] || bytes[at + 10] || bytes[at + 11])
      return fail("symbol '" + s.name + "' has an invalid section");
    s.section = static_cast<Symbol::Section>(section);
    uint64_t limit = s.section == Symbol::Section::Code ? codeCount : sections[1].size;
    if (s.value > limit)
      return fail("symbol '" + s.name + "' value " + std::to_string(s.value) +
                  " is beyond the end of its section");
    k.symbols.push_back(std::move(s));
  }
  std::map<uint32_t, uint32_t> noteIndex; // string offset -> index in k.notes
  for (uint64_t i = 0; i < debugCount; ++i) {
    size_t at = sections[3].offset + i * kDebugBytes;
    DebugEntry d;
    d.line = get32(bytes, at);
    uint32_t note = get32(bytes, at + 4);
    if (note != kNoNote) {
      auto [it, isNew] = noteIndex.emplace(note, uint32_t(k.notes.size()));
      if (isNew) {
        std::string text;
        if (!stringAt(note, text))
          return fail("debug entry " + std::to_string(i) + " has an invalid note offset");
        k.notes.push_back(std::move(text));
      }
      d.note = it->second;
    }
    k.debug.push_back(d);
  }
  k.debug.shrinkToFit();
  return k;
}

Expected<KernelBinary> readKernelFile(const std::string &path) {
  Expected<std::vector<uint8_t>> bytes = readBinaryFile(path);
  if (!bytes)
    return bytes.takeError();
  return parseKernel(*bytes, path);
}

Status writeKernelFile(const std::string &path, const KernelBinary &kernel) {
  return writeFileAtomically(path, serializeKernel(kernel));
}

} // namespace fractal::isa
