// The vector lane RTL against the simulator's C++ vector unit, through the same TileBackend the
// simulator's rtl mode uses; and whole kernels in rtl mode against functional mode.
#include "RtlBackend.h"

#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"
#include "fractal/sim/Simulator.h"
#include "fractal/support/File.h"

#include "RtlTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

using namespace fractal;
using namespace fractal::isa;
using fractal::rtl::testing::envOr;

namespace {

uint16_t randomHalf(std::mt19937_64 &rng) {
  switch (rng() % 48) {
  case 0: return 0x7c00;
  case 1: return 0xfc00;
  case 2: return 0x7e01; // NaN
  case 3: return static_cast<uint16_t>(rng() % 0x400);
  case 4: return 0x8000;
  case 5: return 0x0000;
  default: {
    std::normal_distribution<float> d(0.0f, 4.0f);
    return floatToHalfReference(d(rng));
  }
  }
}

constexpr uint64_t kDst = 0x10000, kSrc0 = 0x20000, kSrc1 = 0x30000, kSel = 0x38000;

std::string randomInstruction(std::mt19937_64 &rng, bool &f32Dst) {
  static const char *binary[] = {"vadd", "vsub", "vmul", "vmax", "vmin"};
  static const char *cmps[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  const int repeat = 1 + static_cast<int>(rng() % 6);
  auto strides = [&](const char *name) {
    return std::string(", ") + name + "_blk=" + std::to_string(1 + rng() % 3) + ", " + name +
           "_rep=" + std::to_string(8 + rng() % 17);
  };
  std::string rep = ", repeat=" + std::to_string(repeat);
  f32Dst = false;
  switch (rng() % 6) {
  case 0:
  case 1:
    return std::string(binary[rng() % 5]) + ".f16 ub[x1], ub[x2], ub[x3]" + rep + strides("dst") +
           strides("src0") + strides("src1");
  case 2: return "vrelu.f16 ub[x1], ub[x2]" + rep + strides("dst") + strides("src");
  case 3:
    return std::string("vcmp.") + cmps[rng() % 6] + ".f16 ub[x1], ub[x2], ub[x3]" + rep +
           strides("src0") + strides("src1");
  case 4: return "vsel.f16 ub[x1], ub[x2], ub[x3], ub[x4]" + rep + strides("dst") + strides("src0");
  default:
    if (rng() % 2) {
      f32Dst = true;
      return "vconv.f16.f32 ub[x1], ub[x2]" + rep + strides("dst") + strides("src");
    }
    return "vconv.f32.f16 ub[x1], ub[x2]" + rep + strides("dst") + strides("src");
  }
}

bool sameElement(const uint8_t *a, const uint8_t *b, bool f32) {
  if (f32) {
    uint32_t x, y;
    std::memcpy(&x, a, 4);
    std::memcpy(&y, b, 4);
    return x == y || (std::isnan(bitsToFloat(x)) && std::isnan(bitsToFloat(y)));
  }
  uint16_t x, y;
  std::memcpy(&x, a, 2);
  std::memcpy(&y, b, 2);
  auto nan = [](uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); };
  return x == y || (nan(x) && nan(y)); // NaN payloads are unspecified (docs/isa.md)
}

} // namespace

TEST(VectorLane, RandomInstructionsMatchTheSimulator) {
  const uint64_t seed = envOr("FRACTAL_RTL_SEED", 99), cases = envOr("FRACTAL_RTL_CASES", 300);
  std::mt19937_64 rng(seed);
  const ChipConfig config = *loadChipConfig("edge");
  std::unique_ptr<sim::TileBackend> rtl = sim::makeRtlBackend();
  uint64_t failures = 0;
  for (uint64_t i = 0; i < cases && failures < 4; ++i) {
    bool f32Dst = false;
    const std::string text = randomInstruction(rng, f32Dst);
    Expected<KernelBinary> k = assemble(text, "case.s");
    ASSERT_TRUE(k.ok()) << text << ": " << k.error().message;
    sim::CoreState model(config, 0), hardware(config, 0);
    sim::ZeroedBytes &ub = model.buffer(BufferKind::UB).bytes;
    for (size_t b = 0; b + 1 < ub.size(); b += 2) {
      uint16_t h = randomHalf(rng);
      std::memcpy(ub.data() + b, &h, 2);
    }
    std::memcpy(hardware.buffer(BufferKind::UB).bytes.data(), ub.data(), ub.size());
    sim::DispatchedOp op;
    op.inst = k->code[0];
    const auto &operands = op.inst.info().operands;
    for (size_t o = 0; o < operands.size(); ++o)
      if (operands[o].kind == OperandKind::Mem) {
        const uint64_t addresses[] = {0, kDst, kSrc0, kSrc1, kSel};
        op.regs[o] = addresses[op.inst.values[o]];
      }
    op.maskLo = rng() % 4 ? ~0ull : rng();
    op.maskHi = rng() % 4 ? ~0ull : rng();
    sim::GlobalMemory gm(4096);
    sim::OpEffects fxModel, fxRtl;
    sim::executeOp(model, gm, op, fxModel);
    uint64_t tileCycles = 0, modelCycles = 0;
    ASSERT_TRUE(rtl->execute(hardware, gm, op, fxRtl, tileCycles, modelCycles)) << text;
    EXPECT_EQ(tileCycles, modelCycles) << text;
    const uint8_t *want = model.buffer(BufferKind::UB).bytes.data();
    const uint8_t *got = hardware.buffer(BufferKind::UB).bytes.data();
    const size_t step = f32Dst ? 4 : 2;
    for (size_t b = kDst; b < kSrc0; b += step)
      if (!sameElement(&got[b], &want[b], f32Dst)) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ", case " << i << " `" << text << "` mask "
                      << std::hex << op.maskHi << ":" << op.maskLo << ": UB byte 0x" << b
                      << " differs";
        break;
      }
  }
  EXPECT_EQ(failures, 0u);
  std::printf("vector cross-check: %llu random instructions, %llu mismatches\n",
              (unsigned long long)cases, (unsigned long long)failures);
}

namespace {

std::string source(const std::string &relative) {
  const char *root = std::getenv("FRACTAL_SOURCE_DIR");
  return std::string(root ? root : ".") + "/" + relative;
}

// Runs a kernel in functional and rtl modes on identical devices; returns the two GM outputs.
void runBothModes(const std::string &kernel, const std::vector<std::vector<uint8_t>> &inputs,
                  uint64_t outputBytes) {
  Expected<std::string> text = readTextFile(source(kernel));
  ASSERT_TRUE(text.ok());
  Expected<KernelBinary> k = assemble(*text, kernel);
  ASSERT_TRUE(k.ok()) << k.error().message;
  std::unique_ptr<sim::TileBackend> rtl = sim::makeRtlBackend();
  std::vector<uint8_t> outputs[2];
  uint64_t rtlInstructions = 0, mismatches = 0;
  for (int mode = 0; mode < 2; ++mode) {
    sim::Simulator device(*loadChipConfig("edge"));
    std::vector<uint64_t> args;
    uint64_t address = 0x100000;
    for (const auto &bytes : inputs) {
      ASSERT_TRUE(device.gm().allocate(address, bytes.size(), "in").ok());
      ASSERT_TRUE(device.gm().write(address, bytes.data(), bytes.size()).ok());
      args.push_back(address);
      address += 0x100000;
    }
    ASSERT_TRUE(device.gm().allocate(address, outputBytes, "out").ok());
    args.push_back(address);
    ASSERT_TRUE(device.gm().allocate(0x1000, args.size() * 8, "args").ok());
    ASSERT_TRUE(device.gm().write(0x1000, args.data(), args.size() * 8).ok());
    sim::LaunchInfo launch;
    launch.args = 0x1000;
    sim::SimOptions options;
    options.mode = mode ? sim::SimMode::Rtl : sim::SimMode::Functional;
    options.backend = rtl.get();
    Expected<sim::RunResult> r = device.run(*k, launch, options);
    ASSERT_TRUE(r.ok()) << r.error().message;
    outputs[mode].resize(outputBytes);
    ASSERT_TRUE(device.gm().read(address, outputs[mode].data(), outputBytes).ok());
    if (mode)
      for (const auto &c : r->cores) {
        rtlInstructions += c.rtlInstructions;
        mismatches += c.rtlCycleMismatches;
      }
  }
  EXPECT_EQ(outputs[0], outputs[1]) << kernel << ": rtl mode differs from functional mode";
  EXPECT_GT(rtlInstructions, 0u) << kernel << " ran nothing on the RTL";
  EXPECT_EQ(mismatches, 0u) << kernel << ": RTL tile cycles differ from the timing model";
}

std::vector<uint8_t> randomHalves(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(count * 2);
  std::normal_distribution<float> d;
  for (size_t i = 0; i < count; ++i) {
    uint16_t h = floatToHalfReference(d(rng));
    std::memcpy(&out[i * 2], &h, 2);
  }
  return out;
}

} // namespace

TEST(RtlMode, GemmMatchesFunctionalMode) {
  runBothModes("tests/sim/kernels/gemm_fp16.s", {randomHalves(4096, 1), randomHalves(4096, 2)},
               64 * 64 * 4);
}

TEST(RtlMode, ConvolutionMatchesFunctionalMode) {
  runBothModes("tests/sim/kernels/conv3x3_fp16.s",
               {randomHalves(8 * 8 * 16, 3), randomHalves(9 * 256, 4)}, 64 * 16 * 4);
}

TEST(RtlMode, Int8GemmMatchesFunctionalMode) {
  std::mt19937_64 rng(5);
  std::vector<uint8_t> a(4096), b(4096);
  for (auto &x : a)
    x = static_cast<uint8_t>(rng());
  for (auto &x : b)
    x = static_cast<uint8_t>(rng());
  runBothModes("tests/sim/kernels/gemm_int8.s", {a, b}, 64 * 64 * 4);
}
