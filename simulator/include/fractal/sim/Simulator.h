// The simulated NPU device: a chip config, its global memory and its AI cores. `run` launches a
// kernel on `block_dim` blocks and returns counters, the simulated cycles and, when asked, a
// trace. Faults come back as Errors with ExitCode::DeviceFault (and in RunResult::fault).
//
// Two engines: SystemC (timing and rtl modes, and functional mode with race checking or a trace)
// and a plain functional engine that runs each core as a loop, the cores on host threads of their
// own (SimOptions::hostThreads). One SystemC simulation context exists per process, so SystemC
// runs are serialised by a process-wide lock; the functional engine takes only this device's
// lock, so several devices run in parallel. Several Simulator objects may exist (the runtime has
// one per device); one Simulator runs one kernel at a time.
#pragma once

#include "fractal/config/ChipConfig.h"
#include "fractal/isa/KernelBinary.h"
#include "fractal/sim/CoreState.h"
#include "fractal/sim/Execute.h"
#include "fractal/sim/Fault.h"
#include "fractal/sim/GlobalMemory.h"
#include "fractal/sim/TileBackend.h"
#include "fractal/support/Error.h"

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace fractal {
class JsonWriter; // fractal/support/Json.h
} // namespace fractal

namespace fractal::sim {

enum class SimMode { Functional, Timing, Rtl };
const char *simModeName(SimMode mode);

// Pipes in report order: s, v, m, mte1, mte2, mte3, fix.
constexpr int kNumPipes = 7;
const char *pipeLabel(int pipeIndex);
int pipeIndexOf(isa::Pipe pipe);

// The watchdog when a run sets none: 200 ms of simulated time at the chip's clock (136,000,000
// cycles on the edge chip), ~70 times PP-OCRv4 det's whole-model launch at 640x640; a kernel
// caught in an endless loop stops within seconds of host time, not minutes.
constexpr uint32_t kDefaultWatchdogMs = 200;
uint64_t watchdogCycles(const ChipConfig &config, uint32_t milliseconds);

struct SimOptions {
  SimMode mode = SimMode::Timing;
  int64_t blockDim = 1;
  // Timing mode: stop after this many cycles; functional mode: after this many scalar
  // instructions per core (a scalar instruction takes a cycle at least). 0 = the default,
  // watchdogCycles(config, kDefaultWatchdogMs).
  uint64_t watchdog = 0;
  bool trace = false;
  // Stop with a data-race fault when two pipes touch the same bytes (one writing) with no flag or
  // barrier ordering them. Costs time and memory; off by default.
  bool checkRaces = false;
  // Rtl mode: who runs the cube and vector instructions it supports (makeRtlBackend()).
  class TileBackend *backend = nullptr;
  // Timing mode: start with the L2 lines this device's previous run left (a model's kernels run
  // back to back, each finding its producers' outputs); otherwise the L2 starts cold.
  bool warmL2 = false;
  // Functional mode: how many host threads run the cores (each core's blocks stay on one
  // thread). 0 = one per core with blocks, at most the host's hardware threads; 1 = all on the
  // caller's thread. Results do not depend on it for a correctly synchronised kernel (cores share
  // only GM, and each block writes GM bytes of its own).
  int hostThreads = 0;
};

struct PipeStats {
  uint64_t instructions = 0;
  uint64_t busyCycles = 0;     // cycles the pipe was occupied issuing its instructions
  uint64_t flagWaitCycles = 0; // blocked in wait_flag
  uint64_t memoryStallCycles = 0; // DMA time beyond the local ports: GM bandwidth and contention
};

struct CoreStats {
  std::array<PipeStats, kNumPipes> pipes{};
  uint64_t queueFullStallCycles = 0; // scalar unit waiting for room in a pipe queue
  uint64_t barrierStallCycles = 0;   // scalar unit in `barrier all` or draining at `end`
  uint64_t scalarGmCycles = 0;       // scalar loads/stores to GM
  // Of the scalar unit's time, loads of a line it had just dropped with `dcci`: spinning on a
  // flag another core writes (a cross-core barrier). A wait, not work: not in its busy cycles.
  uint64_t flagSpinCycles = 0;
  // The scalar unit's waits at sync_all (a hardware cross-core barrier), its latency included.
  uint64_t syncWaitCycles = 0;
  uint64_t macs = 0;
  std::array<uint64_t, kNumDataPaths> bytes{};
  uint64_t l2Hits = 0, l2Misses = 0; // lines
  uint64_t blocks = 0;
  uint64_t finishCycle = 0;
  // Rtl mode: instructions run on the RTL tiles, their cycles, and how many disagreed with the
  // timing model's cycles for the same tile work (must be 0).
  uint64_t rtlInstructions = 0;
  uint64_t rtlTileCycles = 0;
  uint64_t rtlCycleMismatches = 0;
};

struct TraceSlice {
  int core;
  int pipe;       // pipe index
  uint64_t start; // cycle
  uint64_t duration;
  int64_t pc;
  // A GM transfer's: what DRAM moved for it (incl. the dirty lines it evicted) and its L2 lines.
  uint32_t dramBytes = 0;
  uint32_t l2Hits = 0, l2Misses = 0;
};

struct RunResult {
  SimMode mode = SimMode::Timing;
  std::string config;
  int64_t blockDim = 1;
  uint64_t cycles = 0;   // until the last core finished (0 in functional mode)
  double latencyUs = 0;  // cycles / clock
  double wallSeconds = 0;
  uint64_t instructions = 0;
  std::vector<CoreStats> cores;
  uint64_t dramBytes = 0;
  std::optional<Fault> fault;
  std::vector<TraceSlice> trace;
};

namespace detail {
class L2Lines;
class FunctionalCore;
class HostThreads;
struct RunSetup;
} // namespace detail

class Simulator {
public:
  explicit Simulator(ChipConfig config);
  ~Simulator();
  Simulator(const Simulator &) = delete;
  Simulator &operator=(const Simulator &) = delete;

  const ChipConfig &config() const { return config_; }
  GlobalMemory &gm() { return gm_; }
  CoreState &core(int i) { return *cores_.at(i); }

  // Runs `kernel`. `launch.blockIdx` is ignored (each block gets its own). The kernel's data
  // section must already be in GM at launch.dataBase (see loadKernelData).
  Expected<RunResult> run(const isa::KernelBinary &kernel, const LaunchInfo &launch,
                          const SimOptions &options);

  // Allocates GM for the kernel's data section (if any) and copies it in; returns its address.
  Expected<uint64_t> loadKernelData(const isa::KernelBinary &kernel, const std::string &name);

private:
  Expected<RunResult> runFunctional(const isa::KernelBinary &kernel, const LaunchInfo &launch,
                                    const SimOptions &options);

  RunResult newResult(const SimOptions &options) const;
  void setUp(detail::RunSetup &run, const isa::KernelBinary &kernel, const LaunchInfo &launch,
             const SimOptions &options);

  std::mutex runMutex_; // one kernel at a time on this device
  ChipConfig config_;
  GlobalMemory gm_;
  std::vector<std::unique_ptr<CoreState>> cores_;
  std::string configKey_; // which SystemC elaboration serves this config
  std::unique_ptr<detail::L2Lines> l2Lines_; // what this device's L2 holds between runs
  std::vector<std::unique_ptr<detail::FunctionalCore>> functionalCores_; // made on the first functional run
  std::unique_ptr<detail::HostThreads> hostThreads_; // made on the first multi-threaded run
};

// The run report as JSON (schema in docs/simulator.md).
std::string runReportJson(const RunResult &result, const ChipConfig &config);
// Chrome/Perfetto trace JSON: one process per core, one thread (lane) per pipe.
std::string traceJson(const RunResult &result, const ChipConfig &config,
                      const isa::KernelBinary &kernel);
// The metadata events of those lanes, into a trace being written: process `firstPid + c` is
// "core c", its thread p the pipe's label (a model trace puts its tasks in process 0 before them).
void writeCoreLaneNames(JsonWriter &json, int cores, int firstPid);

} // namespace fractal::sim
