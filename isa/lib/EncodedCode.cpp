#include "fractal/isa/EncodedCode.h"

#include <cstring>
#include <limits>
#include <unordered_map>

namespace fractal::isa {

namespace {
struct Word {
  uint64_t lo, hi;
  bool operator==(const Word &o) const { return lo == o.lo && hi == o.hi; }
};
struct WordHash {
  size_t operator()(const Word &w) const { return std::hash<uint64_t>()(w.lo * 0x9E3779B97F4A7C15ull ^ w.hi); }
};
static_assert(kInstructionBytes == sizeof(Word), "an instruction is read as two 64-bit halves");
} // namespace

void EncodedCode::assign(const uint8_t *words, size_t count) {
  std::vector<uint8_t> distinct;
  std::vector<uint32_t> wordOfPc(count);
  std::unordered_map<Word, uint32_t, WordHash> seen;
  for (size_t pc = 0; pc < count; ++pc) {
    Word w;
    std::memcpy(&w, words + pc * kInstructionBytes, sizeof w);
    auto [it, fresh] = seen.try_emplace(w, static_cast<uint32_t>(seen.size()));
    if (fresh) distinct.insert(distinct.end(), words + pc * kInstructionBytes, words + (pc + 1) * kInstructionBytes);
    wordOfPc[pc] = it->second;
  }
  distinct_ = std::move(distinct);
  distinct_.shrink_to_fit();
  narrow_.clear();
  wide_.clear();
  if (seen.size() <= size_t(std::numeric_limits<uint16_t>::max()) + 1) {
    narrow_.assign(wordOfPc.begin(), wordOfPc.end());
    narrow_.shrink_to_fit();
  } else {
    wide_ = std::move(wordOfPc);
  }
}

void EncodedCode::appendTo(std::vector<uint8_t> &out) const {
  out.reserve(out.size() + size() * kInstructionBytes);
  for (size_t pc = 0; pc < size(); ++pc) out.insert(out.end(), at(pc), at(pc) + kInstructionBytes);
}

} // namespace fractal::isa
