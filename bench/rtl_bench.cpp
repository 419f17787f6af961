// RTL speed: the Verilated cube tile against the simulator's C++ cube on the same instruction
// (a 256 x 64 x 128 fp16 mmad, 512 fractal steps): RTL cycles per second and the C++ model's
// speed-up over the RTL, measured in one run.
//
//   build/bin/rtl_bench
#include "RtlCube.h"

#include "fractal/isa/Assembler.h"
#include "fractal/sim/Execute.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <random>

using namespace fractal;

namespace {

void cubeRtlVersusModel(benchmark::State &state) {
  const ChipConfig config = *loadChipConfig("edge");
  sim::CoreState core(config, 0);
  std::mt19937 rng(1);
  for (BufferKind b : {BufferKind::L0A, BufferKind::L0B})
    for (auto &byte : core.buffer(b).bytes)
      byte = static_cast<uint8_t>(rng() & 0x3b);
  Expected<isa::KernelBinary> k =
      isa::assemble("mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=256, k=64, n=128\n", "bench.s");
  sim::DispatchedOp op;
  op.inst = k->code[0];
  sim::GlobalMemory gm(4096);
  rtl::RtlCube cube;
  rtl::MmadOperands m;
  m.m = 256;
  m.k = 64;
  m.n = 128;
  m.a = core.buffer(BufferKind::L0A).bytes.data();
  m.b = core.buffer(BufferKind::L0B).bytes.data();
  std::vector<uint8_t> c(256 * 128 * 4);
  m.c = c.data();
  double rtlSeconds = 0, modelSeconds = 0;
  uint64_t rtlCycles = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    rtlCycles += cube.mmad(m);
    auto t1 = std::chrono::steady_clock::now();
    sim::OpEffects fx;
    sim::executeOp(core, gm, op, fx);
    auto t2 = std::chrono::steady_clock::now();
    rtlSeconds += std::chrono::duration<double>(t1 - t0).count();
    modelSeconds += std::chrono::duration<double>(t2 - t1).count();
  }
  state.counters["rtl_cycles_per_s"] = rtlCycles / rtlSeconds;
  state.counters["cpp_model_speedup"] = rtlSeconds / modelSeconds;
}

} // namespace

BENCHMARK(cubeRtlVersusModel)->Name("CubeTile/rtl_vs_cpp/256x64x128")->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
