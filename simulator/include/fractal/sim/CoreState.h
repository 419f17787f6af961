// The architectural state of one AI core: registers, the mask and feature-map registers, and the
// local buffers (L1, L0A, L0B, L0C, UB) sized from the chip config.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/isa/Isa.h"
#include "fractal/isa/KernelBinary.h"
#include "fractal/sim/ZeroedBytes.h"

#include <algorithm>
#include <array>
#include <memory>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fractal::sim {

struct LocalBuffer {
  BufferKind kind;
  int64_t alignment;
  ZeroedBytes bytes; // a core's megabytes of L1/L0/UB cost only the parts its kernels use
};

// What a non-scalar instruction carries in its pipe's queue: the instruction, the register values
// and mask/feature-map state captured when the scalar unit dispatched it.
struct DispatchedOp {
  isa::Instruction inst;
  int64_t pc = 0;
  std::array<uint64_t, isa::kMaxOperands> regs{}; // value of the register of each Reg/Mem operand
  uint64_t maskHi = 0, maskLo = 0;
  uint64_t fmap = 0;
  std::array<uint32_t, 7> clock{}; // the scalar unit's vector clock at dispatch (race checking)

  uint64_t address(size_t operand) const { return regs[operand]; }
};

// An allocator whose value-initialising construct (what vector::resize calls) leaves the element
// unwritten: for buffers their filler writes whole, such as a B operand's fp32 columns (zeroing a
// fresh cache entry's first was 1% of a functional BlazeFace inference).
template <typename T> struct UninitializedAllocator : std::allocator<T> {
  template <typename U> struct rebind { using other = UninitializedAllocator<U>; };
  UninitializedAllocator() = default;
  template <typename U> UninitializedAllocator(const UninitializedAllocator<U> &) noexcept {}
  template <typename U> void construct(U *p) noexcept { ::new (static_cast<void *>(p)) U; }
  template <typename U, typename... Args> void construct(U *p, Args &&...args) {
    ::new (static_cast<void *>(p)) U(std::forward<Args>(args)...);
  }
};

// The cube's B operand as the mmad semantics use it (fp32 columns, which 16x16 blocks are
// diagonal), kept with the bytes it was made from: a convolution's K step feeds every tile of a
// band from one L0B load, and a kernel that reloads the same weights into L0B item after item
// finds them again (comparing bytes costs far less than converting them).
struct CubeOperandCache {
  uint64_t k = 0, n = 0;
  std::vector<uint8_t> source;     // the B bytes (ZN fractals) these were made from
  std::vector<float, UninitializedAllocator<float>> columns; // per 16-column block jb: kp x 16 floats (fillCubeB writes all)
  std::vector<uint8_t> diagonal;   // per (jb, kb): every off-diagonal b is +-0, the diagonal finite
  std::vector<float> diagonals;    // per (jb, kb): the 16 diagonal values
  std::vector<uint16_t> signs;     // per (jb, kb, column): sign bits of the column's 16 b's
  // per (jb, kb): 4 when rows 4..15 are all +0, 8 when rows 8..15 are, else 0 (channels padded
  // to 16: a 3-channel image's convolution has 3 real rows per k-block)
  std::vector<uint8_t> zeroTail;
  bool anyDiagonal = false;
  bool allDiagonal = false; // then `columns` is dropped until an A with an Inf or NaN needs it
  bool anyZeroTail = false;
  uint64_t lastUse = 0;

  size_t heapBytes() const {
    return source.capacity() + columns.capacity() * sizeof(float) + diagonal.capacity() +
           diagonals.capacity() * sizeof(float) + signs.capacity() * sizeof(uint16_t) + zeroTail.capacity();
  }
};

// The decoded form of the instructions a core fetches from a kernel kept encoded
// (KernelBinary::encoded): a runtime holds a model's code at 16 bytes an instruction rather than
// the 72 of a decoded one (peak RSS, issue 6), and its cores decode what they fetch. Direct-mapped
// by distinct instruction (isa::EncodedCode::wordOf) rather than by pc: a loop's body is decoded
// once rather than at every iteration (~10 ns an instruction), and so is an instruction that
// straight-line code repeats at many pcs. A kernel kept decoded is read in place.
class FetchCache {
public:
  // The instruction at `pc`, which the caller has checked is inside the kernel.
  const isa::Instruction &fetch(const isa::KernelBinary &kernel, int64_t pc) {
    if (!kernel.code.empty()) return kernel.code[static_cast<size_t>(pc)];
    const uint32_t word = kernel.encoded.wordOf(static_cast<size_t>(pc));
    if (!tags_.empty() && tags_[word % kLines] == word) return lines_[word % kLines]; // a hit, inline
    return fill(kernel, pc, word);
  }
  // Forgets every line: at the start of each run, since another kernel's words have other numbers.
  void forget() { std::fill(tags_.begin(), tags_.end(), -1); }

private:
  // 36 KiB of decoded instructions: compiled kernels' loop bodies fit, and a model's straight-line
  // code is decoded once however large the cache. 2,048 lines (144 KiB a core) ran BlazeFace and
  // PP-OCRv4 det no faster (model_bench infer/*) and were a tenth of what BlazeFace front adds to
  // a process's resident memory (model_bench rss/*, issue 6); 64 lines slowed det's timing run.
  static constexpr size_t kLines = 512;
  // A miss: decodes instruction `pc` (distinct word `word`) into its line.
  const isa::Instruction &fill(const isa::KernelBinary &kernel, int64_t pc, uint32_t word);
  std::vector<int64_t> tags_;            // the word each line holds, -1 for none (empty until used)
  std::vector<isa::Instruction> lines_;
};

class CoreState {
public:
  CoreState(const ChipConfig &config, int coreId);

  int coreId() const { return coreId_; }
  const ChipConfig &config() const { return *config_; }

  uint64_t reg(int r) const { return r == 0 ? 0 : regs_[r]; }
  void setReg(int r, uint64_t v) {
    if (r != 0)
      regs_[r] = v;
  }
  void resetRegisters() { regs_.fill(0); maskHi = maskLo = ~0ull; fmap = 0; }

  // Bytes of [address, address + length) in `space` (a local buffer), after bounds and alignment
  // checks; throws FaultError naming `what` (the operand) otherwise.
  uint8_t *local(isa::Space space, uint64_t address, uint64_t length, const char *what);
  LocalBuffer &buffer(BufferKind kind) { return buffers_[static_cast<int>(kind)]; }
  // B operands converted before, least recently used first out (CubeExec.cpp: cachedCubeB). At
  // least two: a kernel may alternate between two (weights and a residual's identity), and one
  // entry would convert each again at every mmad. More while they fit a byte budget: a depthwise
  // convolution cycles through its channel groups' small diagonal B tiles, and two entries made
  // BlazeFace front convert 42% of those again; an entry holds three times its operand's bytes
  // (the source and fp32 columns), so a fixed count of large ones would cost resident memory
  // (issue 6).
  std::vector<CubeOperandCache> cubeB;
  uint64_t cubeBClock = 0; // counts lookups; CubeOperandCache::lastUse is its value at the last hit
  std::vector<float> cubeA; // scratch: a 16-row block of the A operand being multiplied, as floats

  uint64_t maskHi = ~0ull, maskLo = ~0ull;
  uint64_t fmap = 0;
  FetchCache fetch;

private:
  const ChipConfig *config_;
  int coreId_;
  std::array<uint64_t, isa::kNumRegisters> regs_{};
  std::array<LocalBuffer, kNumBufferKinds> buffers_;
};

// Maps an ISA space to the config's buffer kind (GM has none).
BufferKind bufferKindOf(isa::Space space);

} // namespace fractal::sim
