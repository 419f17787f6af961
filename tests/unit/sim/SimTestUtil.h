// Helpers for simulator tests: load a kernel from tests/, set up GM buffers, run, read back.
#pragma once

#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"
#include "fractal/sim/Simulator.h"
#include "fractal/support/File.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace fractal::sim::testing {

inline std::string sourcePath(const std::string &relative) {
  const char *root = std::getenv("FRACTAL_SOURCE_DIR");
  return std::string(root ? root : ".") + "/" + relative;
}

inline isa::KernelBinary assembleFile(const std::string &relative) {
  Expected<std::string> text = readTextFile(sourcePath(relative));
  EXPECT_TRUE(text.ok()) << relative;
  Expected<isa::KernelBinary> k = isa::assemble(text ? *text : "", relative);
  EXPECT_TRUE(k.ok()) << (k ? "" : k.error().message);
  return k ? *k : isa::KernelBinary();
}

inline isa::KernelBinary assembleText(const std::string &text) {
  Expected<isa::KernelBinary> k = isa::assemble(text, "inline.s");
  EXPECT_TRUE(k.ok()) << (k ? "" : k.error().message);
  return k ? *k : isa::KernelBinary();
}

inline ChipConfig edge() {
  Expected<ChipConfig> c = loadChipConfig("edge");
  EXPECT_TRUE(c.ok());
  return *c;
}

// A device with named GM buffers at fixed addresses and an args block pointing at them.
class Device {
public:
  explicit Device(const ChipConfig &config = edge()) : sim(config) {}

  uint64_t buffer(const std::vector<uint8_t> &bytes) {
    uint64_t address = sim.gm().findFree(bytes.size(), 4096, 0x100000);
    EXPECT_TRUE(sim.gm().allocate(address, bytes.size(), "test buffer").ok());
    EXPECT_TRUE(sim.gm().write(address, bytes.data(), bytes.size()).ok());
    return address;
  }
  template <typename T> uint64_t buffer(const std::vector<T> &values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return buffer(bytes);
  }
  template <typename T> std::vector<T> read(uint64_t address, size_t count) {
    std::vector<T> out(count);
    EXPECT_TRUE(sim.gm().read(address, out.data(), count * sizeof(T)).ok());
    return out;
  }

  Expected<RunResult> run(const isa::KernelBinary &kernel, const std::vector<uint64_t> &args,
                          SimOptions options = {}) {
    LaunchInfo launch;
    if (!args.empty())
      launch.args = buffer(args);
    Expected<uint64_t> data = sim.loadKernelData(kernel, "kernel");
    EXPECT_TRUE(data.ok());
    launch.dataBase = data ? *data : 0;
    return sim.run(kernel, launch, options);
  }

  Simulator sim;
};

inline std::vector<uint16_t> randomHalves(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<uint16_t> out(n);
  for (auto &h : out)
    h = isa::floatToHalfReference(dist(rng));
  return out;
}

// The documented mmad order for one output: acc += tree-sum of 16 exact products per k-block.
inline float referenceDotF16(const std::vector<uint16_t> &a, size_t aStride, size_t i,
                             const std::vector<uint16_t> &b, size_t bStride, size_t j, size_t k,
                             float acc) {
  for (size_t kb = 0; kb < (k + 15) / 16; ++kb) {
    float p[16];
    for (size_t t = 0; t < 16; ++t) {
      size_t kk = kb * 16 + t;
      p[t] = kk < k ? isa::halfToFloatReference(a[i * aStride + kk]) *
                          isa::halfToFloatReference(b[kk * bStride + j])
                    : 0.0f;
    }
    for (size_t width = 16; width > 1; width /= 2)
      for (size_t t = 0; t < width / 2; ++t)
        p[t] = p[2 * t] + p[2 * t + 1];
    acc = acc + p[0];
  }
  return acc;
}

} // namespace fractal::sim::testing
