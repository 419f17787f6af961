// A kernel's code kept in its encoded form (kInstructionBytes an instruction) with each distinct
// instruction stored once: a compiled model repeats a few thousand distinct instructions over tens
// of thousands of pcs (BlazeFace back: 4,568 distinct in 58,708), so an index per pc into a pool
// of distinct words holds its code in a fifth of the bytes (peak RSS of a loaded model, issue 6).
#pragma once

#include "fractal/isa/Isa.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fractal::isa {

class EncodedCode {
public:
  // Keeps `count` instructions of kInstructionBytes each, read from `words`.
  void assign(const uint8_t *words, size_t count);
  size_t size() const { return narrow_.empty() ? wide_.size() : narrow_.size(); } // instructions
  bool empty() const { return size() == 0; }
  // The kInstructionBytes of instruction `pc` (< size()).
  const uint8_t *at(size_t pc) const { return &distinct_[size_t(wordOf(pc)) * kInstructionBytes]; }
  // Which distinct word instruction `pc` is: equal for two pcs exactly when their bytes are.
  uint32_t wordOf(size_t pc) const { return narrow_.empty() ? wide_[pc] : narrow_[pc]; }
  size_t distinctCount() const { return distinct_.size() / kInstructionBytes; }
  // The bytes it holds: the distinct words and the index (what a loaded kernel's code costs).
  size_t heldBytes() const { return distinct_.size() + narrow_.size() * sizeof(uint16_t) + wide_.size() * sizeof(uint32_t); }
  // Appends the code as stored in a kernel binary: every instruction's bytes in pc order.
  void appendTo(std::vector<uint8_t> &out) const;

private:
  std::vector<uint8_t> distinct_; // each distinct instruction's bytes once, in order of first use
  // the distinct word of each pc: 16-bit while there are at most 65,536 distinct words
  std::vector<uint16_t> narrow_;
  std::vector<uint32_t> wide_;
};

} // namespace fractal::isa
