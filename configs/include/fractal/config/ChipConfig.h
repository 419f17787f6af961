// The chip config: every hardware number Fractal uses (cores, clock, cube shape, buffer sizes,
// bandwidths, latencies). The compiler reads it for tile limits, the simulator for timing, the
// runtime for device info, the RTL build for parameters. No hardware number lives anywhere else.
//
// The keys, their units and constraints are defined once in ConfigSchema.cpp; docs/config.md is
// generated from that table (`fractal config schema --markdown`).
#pragma once

#include "fractal/support/Error.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace fractal {

enum class BufferKind { L1, L0A, L0B, L0C, UB };
constexpr int kNumBufferKinds = 5;
const char *bufferKindName(BufferKind kind); // "l1", "l0a", ...

// Timing classes of vector instructions; each instruction in the ISA table names one.
enum class VectorTimingClass { Simple, Mul, Exp, Ln, Sqrt, Reciprocal, Reduce, Convert };
constexpr int kNumVectorTimingClasses = 8;
const char *vectorTimingClassName(VectorTimingClass cls); // "simple", "mul", ...

struct CubeShape {
  int64_t m = 0, k = 0, n = 0; // C[m×n] += A[m×k]·B[k×n] in one cycle
};

struct BufferSpec {
  int64_t sizeBytes = 0;
  int64_t alignmentBytes = 0;
  int64_t readBytesPerCycle = 0;
  int64_t writeBytesPerCycle = 0;
};

struct VectorTiming {
  int64_t bytesPerCycle = 0; // parallel bytes processed per cycle
  int64_t latencyCycles = 0; // op latency after the last repeat issues
};

struct ChipConfig {
  std::string name;
  std::string description;
  std::string sourcePath; // file it was loaded from ("<embedded edge>" for built-ins)

  struct {
    int64_t cores = 0;
    double clockMhz = 0;
    int64_t gmSizeBytes = 0; // device global memory visible to kernels
    // Hardware synchronisation of all AI cores (`sync_all`): cycles from the last core's arrival
    // until every core goes on; 0 = none (cores synchronise in software, through GM).
    int64_t crossCoreSyncCycles = 0;
  } chip;

  struct {
    int64_t pipeQueueDepth = 0;          // per-pipe in-order queue; full queue stalls the scalar unit
    int64_t scalarCyclesPerInstruction = 0;
    int64_t branchTakenPenaltyCycles = 0;
    int64_t scalarGmLatencyCycles = 0;   // scalar load/store to GM that misses the scalar data cache
    int64_t scalarDcacheLines = 0;       // the scalar unit's data cache: lines (0 = none), LRU
    int64_t scalarDcacheLineBytes = 0;
    int64_t syncLatencyCycles = 0;       // set_flag visible to the waiting pipe after this many cycles
  } core;

  struct {
    CubeShape fp16;
    CubeShape int8;
    int64_t fp32KStep = 0;
    int64_t mmadLatencyCycles = 0;
  } cube;

  struct {
    int64_t bytesPerRepeat = 0;
    int64_t blockBytes = 0;
    int64_t maskBits = 0;
    int64_t maxRepeat = 0;
    int64_t pipelineDelayCycles = 0;
    std::array<VectorTiming, kNumVectorTimingClasses> timing{};
  } vector;

  std::array<BufferSpec, kNumBufferKinds> buffers{};

  struct {
    int64_t issueCycles = 0;
    int64_t load2dCycles = 0;
    int64_t load3dCycles = 0;
    int64_t gmReadBytesPerCycle = 0;  // per core
    int64_t gmWriteBytesPerCycle = 0; // per core
    int64_t gmReadPathLatencyCycles = 0;
    int64_t gmWritePathLatencyCycles = 0;
  } dma;

  struct {
    int64_t sizeBytes = 0;
    int64_t lineBytes = 0;
    int64_t hitLatencyCycles = 0;
    // 1: a GM write allocates the L2 lines it covers whole, so the next reader (the next kernel
    // of a model too) hits them; 0: writes only refresh lines already held.
    int64_t writeAllocate = 0;
    // 1: a write to a held (or allocated) line marks it dirty instead of going to DRAM; the line
    // goes to DRAM when it is evicted. 0: write-through.
    int64_t writeBack = 0;
  } l2;

  struct {
    double bandwidthGBs = 0; // whole chip
    int64_t latencyCycles = 0;
  } dram;

  struct {
    double kernelLaunchUs = 0;
  } runtime;

  const BufferSpec &buffer(BufferKind kind) const { return buffers[static_cast<int>(kind)]; }
  BufferSpec &buffer(BufferKind kind) { return buffers[static_cast<int>(kind)]; }
  const VectorTiming &vectorTiming(VectorTimingClass cls) const {
    return vector.timing[static_cast<int>(cls)];
  }
  double cyclesToMicroseconds(double cycles) const { return cycles / chip.clockMhz; }
  // DRAM bandwidth expressed in bytes per core clock cycle (the unit the simulator works in).
  double dramBytesPerCycle() const { return dram.bandwidthGBs * 1e3 / chip.clockMhz; }
  // One core's cube: fp16 multiply-accumulates per cycle (m x k x n).
  double fp16MacsPerCycle() const { return double(cube.fp16.m * cube.fp16.k * cube.fp16.n); }
  // The L2's organisation: up to 16 ways, as many sets as its lines fill (at least one).
  int64_t l2Ways() const { return std::min<int64_t>(16, std::max<int64_t>(1, l2.sizeBytes / l2.lineBytes)); }
  int64_t l2Sets() const { return std::max<int64_t>(1, l2.sizeBytes / l2.lineBytes / l2Ways()); }
  // A kernel launch's overhead (runtime.kernel_launch_us) in core clock cycles.
  double kernelLaunchCycles() const { return runtime.kernelLaunchUs * chip.clockMhz; }
};

// Loads and validates a config. `target` is a preset name (`edge`, `cloud`: the files in configs/,
// compiled into the library so tools work from any directory) or a path to a YAML file. Every problem found is reported, one per line, as
// `file:line:col: key 'a.b': reason`.
Expected<ChipConfig> loadChipConfig(const std::string &target);
Expected<ChipConfig> loadChipConfigFile(const std::string &path);
Expected<ChipConfig> parseChipConfig(const std::string &yamlText, const std::string &sourceName);

// Names of the built-in presets, e.g. {"cloud", "edge"}.
std::vector<std::string> presetNames();

// Canonical YAML for a config: every key, in schema order, with units in comments. Loading the
// output again yields an identical config.
std::string chipConfigToYaml(const ChipConfig &config);

// `base` with some keys (dotted paths, "l2.size_bytes") set to new values, written as a config
// file would give them ("4 MiB"), and validated as a file is: an unknown key or a bad value is an
// error naming `sourceName` and the key. (`fractal sweep` makes its points this way.)
Expected<ChipConfig> overrideChipConfig(const ChipConfig &base,
                                        const std::vector<std::pair<std::string, std::string>> &settings,
                                        const std::string &sourceName);

// Markdown reference of every key (the generated part of docs/config.md).
std::string chipConfigSchemaMarkdown();

// SystemVerilog package `fractal_chip_pkg` with the numbers the RTL tiles are built for (cube
// shapes, vector repeat size and latencies), so hardware and timing model share one source.
std::string chipSystemVerilogPackage(const ChipConfig &config);

} // namespace fractal
