// Simulator performance (issue 4): the 1024^3 fp16 GEMM kernel and a large vector kernel in both
// modes, the functional cube math alone, and the cube utilization the timing model reports.
// Figures are counters (per second of wall time, ratios), so they can be compared in one run.
//
//   build/bin/sim_bench                       # everything
//   build/bin/sim_bench --benchmark_filter=Gemm
#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"
#include "fractal/sim/Simulator.h"
#include "fractal/support/File.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <random>
#include <sys/resource.h>

using namespace fractal;
using namespace fractal::sim;

namespace {

double peakRssMiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0; // Linux reports KiB
}

isa::KernelBinary kernel(const std::string &relative, const isa::Defines &defines = {}) {
  Expected<std::string> text = readTextFile(std::string(FRACTAL_SOURCE_DIR) + "/" + relative);
  if (!text)
    throw std::runtime_error(text.error().message);
  Expected<isa::KernelBinary> k = isa::assemble(*text, relative, defines);
  if (!k)
    throw std::runtime_error(k.error().message);
  return *k;
}

ChipConfig preset(const std::string &name) {
  Expected<ChipConfig> c = loadChipConfig(name);
  if (!c)
    throw std::runtime_error(c.error().message);
  return *c;
}

// A device holding random 1024x1024 fp16 A and B and room for C.
struct GemmDevice {
  static constexpr uint64_t kN = 1024;
  explicit GemmDevice(const ChipConfig &config) : sim(config) {
    std::mt19937 rng(1);
    std::normal_distribution<float> dist;
    std::vector<uint16_t> m(kN * kN);
    for (uint64_t which = 0; which < 2; ++which) {
      for (auto &h : m)
        h = isa::floatToHalf(dist(rng));
      uint64_t address = 0x10000000 * (which + 1);
      sim.gm().allocate(address, m.size() * 2, which ? "B" : "A");
      sim.gm().write(address, m.data(), m.size() * 2);
    }
    sim.gm().allocate(0x30000000, kN * kN * 2, "C");
    uint64_t args[3] = {0x10000000, 0x20000000, 0x30000000};
    sim.gm().allocate(0x1000, sizeof args, "args");
    sim.gm().write(0x1000, args, sizeof args);
    launch.args = 0x1000;
  }
  RunResult run(const isa::KernelBinary &k, SimMode mode, int64_t blocks) {
    SimOptions options;
    options.mode = mode;
    options.blockDim = blocks;
    Expected<RunResult> r = sim.run(k, launch, options);
    if (!r)
      throw std::runtime_error(r.error().message);
    return *r;
  }
  Simulator sim;
  LaunchInfo launch;
};

// Simulated instructions (and, in timing mode, cycles) per host second, for every iteration run.
void addRunCounters(benchmark::State &state, const RunResult &last, SimMode mode) {
  const double runs = double(state.iterations());
  state.counters["instructions_per_s"] =
      benchmark::Counter(double(last.instructions) * runs, benchmark::Counter::kIsRate);
  if (mode == SimMode::Timing) {
    state.counters["sim_cycles"] = double(last.cycles);
    state.counters["sim_cycles_per_s"] =
        benchmark::Counter(double(last.cycles) * runs, benchmark::Counter::kIsRate);
  }
}

double cubeUtilization(const RunResult &r, const ChipConfig &c, int64_t blocks) {
  uint64_t busy = 0;
  for (const CoreStats &core : r.cores)
    busy += core.pipes[2].busyCycles;
  return double(busy) / (double(r.cycles) * std::min<int64_t>(blocks, c.chip.cores));
}

void gemm(benchmark::State &state, SimMode mode, const std::string &config, int64_t blocks) {
  ChipConfig c = preset(config);
  GemmDevice dev(c);
  isa::KernelBinary k = kernel("tests/sim/kernels/gemm_tiled_fp16.s");
  RunResult last;
  for (auto _ : state)
    last = dev.run(k, mode, blocks);
  const double runs = double(state.iterations());
  state.counters["macs_per_s"] =
      benchmark::Counter(double(GemmDevice::kN * GemmDevice::kN * GemmDevice::kN) * runs,
                         benchmark::Counter::kIsRate);
  addRunCounters(state, last, mode);
  if (mode == SimMode::Timing)
    state.counters["cube_utilization"] = cubeUtilization(last, c, blocks);
  state.counters["peak_rss_MiB"] = peakRssMiB();
}

// Both modes in one iteration: the ratio the target is about (timing <= 2x functional).
void gemmModeRatio(benchmark::State &state) {
  ChipConfig c = preset("edge");
  GemmDevice dev(c);
  isa::KernelBinary k = kernel("tests/sim/kernels/gemm_tiled_fp16.s");
  double functional = 0, timing = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    dev.run(k, SimMode::Functional, 2);
    auto t1 = std::chrono::steady_clock::now();
    dev.run(k, SimMode::Timing, 2);
    auto t2 = std::chrono::steady_clock::now();
    functional += std::chrono::duration<double>(t1 - t0).count();
    timing += std::chrono::duration<double>(t2 - t1).count();
  }
  state.counters["timing_over_functional"] = timing / functional;
}

// Why edge with two cores stays below 85% cube utilization: the same kernel on the same chip with
// unlimited DRAM bandwidth and zero DRAM latency, next to the real thing.
void gemmDramLimit(benchmark::State &state) {
  ChipConfig real = preset("edge");
  ChipConfig ideal = real;
  ideal.dram.bandwidthGBs = 1e6;
  ideal.dram.latencyCycles = 0;
  isa::KernelBinary k = kernel("tests/sim/kernels/gemm_tiled_fp16.s");
  double utilReal = 0, utilIdeal = 0, dramShare = 0;
  for (auto _ : state) {
    GemmDevice a(real), b(ideal);
    RunResult r = a.run(k, SimMode::Timing, 2), i = b.run(k, SimMode::Timing, 2);
    utilReal = cubeUtilization(r, real, 2);
    utilIdeal = cubeUtilization(i, ideal, 2);
    dramShare = double(r.dramBytes) / real.dramBytesPerCycle() / double(r.cycles);
  }
  state.counters["cube_util_edge"] = utilReal;
  state.counters["cube_util_edge_unlimited_dram"] = utilIdeal;
  state.counters["dram_busy_fraction"] = dramShare;
}

// The functional cube math alone: one 256 x 64 x 128 fp16 mmad, as the GEMM issues it.
void mmadMath(benchmark::State &state) {
  ChipConfig c = preset("edge");
  CoreState core(c, 0);
  GlobalMemory gm(1 << 20);
  std::mt19937 rng(2);
  for (BufferKind b : {BufferKind::L0A, BufferKind::L0B})
    for (auto &byte : core.buffer(b).bytes)
      byte = static_cast<uint8_t>(rng() & 0x3b); // finite fp16 values
  Expected<isa::KernelBinary> k =
      isa::assemble("mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=256, k=64, n=128\n", "bench.s");
  DispatchedOp op;
  op.inst = k->code[0];
  OpEffects fx;
  for (auto _ : state) {
    executeOp(core, gm, op, fx);
    benchmark::ClobberMemory();
  }
  state.counters["macs_per_s"] =
      benchmark::Counter(double(fx.macs) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void vectorLarge(benchmark::State &state, SimMode mode) {
  ChipConfig c = preset("edge");
  Simulator sim(c);
  isa::KernelBinary k = kernel("tests/sim/kernels/vector_large.s");
  SimOptions options;
  options.mode = mode;
  RunResult last;
  for (auto _ : state) {
    Expected<RunResult> r = sim.run(k, LaunchInfo{}, options);
    if (!r)
      throw std::runtime_error(r.error().message);
    last = *r;
  }
  const double runs = double(state.iterations());
  const double elements = 64.0 * 6 * 255 * 128; // passes x instructions x repeats x lanes
  state.counters["elements_per_s"] = benchmark::Counter(elements * runs, benchmark::Counter::kIsRate);
  addRunCounters(state, last, mode);
  state.counters["peak_rss_MiB"] = peakRssMiB();
}

// The cost of one launch itself: a kernel of two blocks that do nothing, in each mode (functional
// on one host thread and on one per core: what handing the cores to the workers costs).
void emptyLaunch(benchmark::State &state, SimMode mode, int hostThreads) {
  Simulator sim(preset("edge"));
  Expected<isa::KernelBinary> k = isa::assemble(".target edge\n  end\n", "empty.s");
  if (!k)
    throw std::runtime_error(k.error().message);
  SimOptions options;
  options.mode = mode;
  options.blockDim = 2;
  options.hostThreads = hostThreads;
  for (auto _ : state) {
    Expected<RunResult> r = sim.run(*k, LaunchInfo{}, options);
    if (!r)
      throw std::runtime_error(r.error().message);
  }
}

} // namespace

BENCHMARK_CAPTURE(emptyLaunch, functional_1thread, SimMode::Functional, 1)
    ->Name("EmptyLaunch/functional/1-thread")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(emptyLaunch, functional_threads, SimMode::Functional, 0)
    ->Name("EmptyLaunch/functional/thread-per-core")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(emptyLaunch, timing, SimMode::Timing, 0)
    ->Name("EmptyLaunch/timing")->Unit(benchmark::kMicrosecond);
BENCHMARK(mmadMath)->Name("MmadMath/256x64x128")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(gemm, functional_edge_2cores, SimMode::Functional, "edge", 2)
    ->Name("Gemm1024/functional/edge")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, timing_edge_2cores, SimMode::Timing, "edge", 2)
    ->Name("Gemm1024/timing/edge")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, timing_edge_1core, SimMode::Timing, "edge", 1)
    ->Name("Gemm1024/timing/edge-1core")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gemm, timing_cloud_4cores, SimMode::Timing, "cloud", 4)
    ->Name("Gemm1024/timing/cloud-4cores")->Unit(benchmark::kMillisecond);
BENCHMARK(gemmModeRatio)->Name("Gemm1024/timing_vs_functional")->Unit(benchmark::kMillisecond);
BENCHMARK(gemmDramLimit)->Name("Gemm1024/dram_limit")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(vectorLarge, functional, SimMode::Functional)
    ->Name("VectorLarge/functional")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(vectorLarge, timing, SimMode::Timing)
    ->Name("VectorLarge/timing")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
