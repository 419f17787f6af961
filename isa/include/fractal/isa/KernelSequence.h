// Several kernels as one program that runs them one after another (a kernel sequence).
//
// Launching a kernel costs the runtime ~20 us (runtime.kernel_launch_us); a model of many small
// kernels spends most of its time there. A sequence is launched once: each part runs its blocks'
// work on the launch's cores (kernels loop over their items with stride block_dim, so a part runs
// at any block_dim), then a `barrier all` lets its last GM writes land before the next part starts.
// Between parts the registers, the vector mask and the feature-map register are put back to what
// a launch gives (zeros, all ones, zero), so every part sees the state it was compiled for.
//
// On several cores the parts are also separated by a cross-core barrier: on a chip that
// synchronises its cores in hardware (Ascend 910B's cross-core flags) one `sync_all`. The edge
// chip (Ascend 310) has no inter-core synchronisation, so it is done in software through GM, as AscendC's
// SyncAll does on such chips: a dissemination barrier over flag words that the runtime zeroes at
// each launch, after the argument words (SequenceBarrier). Round r (distance d = 2^r < block_dim):
// block i stores the barrier's number (1, 2, ... in the launch) in its round-r flag and spins
// (dcci + ld) until the flag of block (i - d) mod block_dim holds at least that number; after
// ceil(log2 block_dim) rounds every block has heard from every other. The numbers only grow
// within a launch, so one set of flags serves every barrier. The barrier code lies between the
// parts' ranges: functional simulation, which runs the parts one by one, never executes it.
// Between two parts made for one block (SequencePart::blockDim 1) there is none: both run on
// block 0, in order, and the other blocks skip them to the next barrier (an unrolled LSTM's
// steps are such parts).
//
// Each part keeps its own argument words and data section (parts with the same data bytes share
// one copy: data sections are read-only): `mfsr xN, args` is followed by
// `addi xN, xN, <the part's first argument byte>` and `mfsr xN, data_base` by `addi` of the
// part's data offset (parts' data are 512-byte aligned, as the loader aligns a kernel's data).
// An `end` inside a part becomes a jump to the part's end. Branch offsets, symbols (prefixed
// with the part's index) and the debug map (instruction -> ONNX node) follow the moved code.
//
// Before the `barrier all` in front of a part, its argument words are read into the scalar data
// cache (one load per line, while the pipes drain), so its first loads of them do not wait for
// GM.
//
// Early loads: a part's first copies into L1 or UB of data nothing in the launch writes (its
// weights and bias: argument words marked read-only, or its data section) start before the
// cross-core barrier in front of it, right after the `barrier all` that drained this core's
// pipes, so they arrive while the blocks wait for each other rather than after. Only copies in
// the part's straight-line start qualify (before any branch target, wait, barrier, store or other
// pipe's work), at most kMaxEarlyLoads; each is re-issued ahead with its addresses rebuilt in x2..x4
// and becomes a `nop` in place. The part's range then starts at those loads: there `x1` is zero
// (a part started alone, as functional simulation does, skips the barrier), while the code
// before it, coming from the previous part, sets x1 = 1 and so takes the barrier.
#pragma once

#include "fractal/isa/KernelBinary.h"

namespace fractal::isa {

struct SequencePart {
  const KernelBinary *kernel = nullptr;
  uint64_t argsOffsetBytes = 0; // where this part's argument words start in the joint list
  // The blocks it was made for (0: any). Under a barrier for more blocks, the others skip the
  // part and its `mfsr block_dim` reads this: a kernel made for one core (ascending stores that
  // spill past a row's end) stays on one core.
  int64_t blockDim = 0;
  // Per argument word of this part: whether nothing in the launch writes the data it points to
  // (a constant). Copies from those may be issued early (above); empty: none may.
  std::vector<bool> readOnlyArgs{};
};

// Where each part's code landed: [entry, end). Started at `entry` and stopped on reaching `end`
// (the next part's register reset, or the final `end`), with the sequence's data base and
// arguments, a part runs as the kernel it was at any block_dim: functional simulation runs a
// sequence's parts that way, several cores at a time.
struct SequenceRange {
  uint32_t entry = 0, end = 0;
};

// Cross-core barriers between the parts of a sequence launched with block_dim > 1.
struct SequenceBarrier {
  uint64_t flagsOffsetBytes = 0; // where the flags start, from the launch's argument address
  int64_t blockDim = 0;          // the launch's blocks (0: unknown, no part is skipped)
  // The chip synchronises its cores in hardware (chip.cross_core_sync_cycles > 0): the barrier
  // is one `sync_all`, and there are no flags.
  bool hardware = false;
};
inline constexpr uint64_t kBarrierFlagStride = 64; // one flag per scalar data cache line
// At most this many of a part's loads are issued early.
inline constexpr size_t kMaxEarlyLoads = 4;

// Rounds of the dissemination barrier for `blockDim` blocks: ceil(log2 blockDim).
int barrierRounds(int64_t blockDim);
// Bytes of zeroed flags a launch with `blockDim` blocks needs after the flags offset.
uint64_t barrierFlagBytes(int64_t blockDim);

// The parts must be for one target; `source` names the result. `ranges` (optional) receives
// each part's code range. With `barrier`, cross-core barriers separate the parts (for a launch on
// several cores); without, the sequence is for one core.
Expected<KernelBinary> sequenceKernels(const std::vector<SequencePart> &parts, const std::string &source,
                                       std::vector<SequenceRange> *ranges = nullptr,
                                       const SequenceBarrier *barrier = nullptr);

} // namespace fractal::isa
