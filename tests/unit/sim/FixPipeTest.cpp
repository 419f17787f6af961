// FixPipe (fixp) against docs/isa.md's element formula: x * scale, ReLU (NaN kept), round to
// nearest even, in both output layouts, with a partial last column block and L0C rows beyond m.
#include "SimTestUtil.h"

#include "fractal/isa/Numerics.h"
#include "fractal/sim/Execute.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace fractal;
using namespace fractal::sim;
using namespace fractal::sim::testing;

namespace {

struct FixCase {
  bool toHalf, relu, scaled, nz2nd;
};

std::string caseName(const ::testing::TestParamInfo<FixCase> &info) {
  const FixCase &c = info.param;
  return std::string(c.toHalf ? "F16" : "F32") + (c.relu ? "Relu" : "") + (c.scaled ? "Scaled" : "") +
         (c.nz2nd ? "ToNd" : "KeptNz");
}

class FixPipe : public ::testing::TestWithParam<FixCase> {};

TEST_P(FixPipe, MatchesTheElementFormula) {
  const FixCase c = GetParam();
  const uint64_t m = 21, n = 40, srcRows = 32;    // three column blocks, the last half full
  const uint64_t dstStride = c.nz2nd ? 44 : 24;  // elements (ND) or rows (NZ) apart
  const uint64_t nf = 3, outBytes = c.toHalf ? 2 : 4;
  const uint64_t dstElems = c.nz2nd ? m * dstStride : nf * dstStride * 16;
  const float scale = 0.375f;

  ChipConfig config = edge();
  CoreState core(config, 0);
  GlobalMemory gm(1 << 20);
  ASSERT_TRUE(gm.allocate(4096, dstElems * outBytes, "out").ok());
  // L0C: NZ, srcRows rows of 16 per column block; values of both signs, -0, NaN, Inf, large.
  std::vector<float> acc(nf * srcRows * 16);
  for (size_t e = 0; e < acc.size(); ++e)
    acc[e] = e % 37 == 0 ? std::numeric_limits<float>::quiet_NaN()
             : e % 41 == 0 ? -0.0f
             : e % 43 == 0 ? -std::numeric_limits<float>::infinity()
             : e % 47 == 0 ? 70000.0f
                           : (float(int(e * 7919 % 2001)) - 1000.0f) / 64.0f;
  std::memcpy(core.local(isa::Space::L0C, 0, acc.size() * 4, "test"), acc.data(), acc.size() * 4);

  const std::string text = std::string(".target edge\n  fixp.f32.") + (c.toHalf ? "f16" : "f32") +
                           " gm[x1], l0c[x2], m=" + std::to_string(m) + ", n=" + std::to_string(n) +
                           ", src_rows=" + std::to_string(srcRows) + ", dst_stride=" + std::to_string(dstStride) +
                           ", relu=" + (c.relu ? "1" : "0") + ", nz2nd=" + (c.nz2nd ? "1" : "0") +
                           (c.scaled ? ", scale=x3" : "") + "\n  end\n";
  isa::KernelBinary k = assembleText(text);
  DispatchedOp op;
  op.inst = k.code[0];
  const uint64_t regs[] = {0, 4096, 0, isa::floatBits(scale)};
  const auto &operands = op.inst.info().operands;
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].kind == isa::OperandKind::Reg || operands[i].kind == isa::OperandKind::Mem)
      op.regs[i] = regs[op.inst.values[i]];
  OpEffects fx;
  executeOp(core, gm, op, fx);

  std::vector<uint8_t> out(dstElems * outBytes);
  ASSERT_TRUE(gm.read(4096, out.data(), out.size()).ok());
  std::vector<uint8_t> expected(dstElems * outBytes, 0); // what fixp does not write stays zero
  for (uint64_t i = 0; i < m; ++i)
    for (uint64_t j = 0; j < n; ++j) {
      float v = acc[((j / 16) * srcRows + i) * 16 + j % 16];
      if (c.scaled) v = v * scale;
      if (c.relu && !(v > 0.0f || std::isnan(v))) v = 0.0f;
      const uint64_t at = c.nz2nd ? i * dstStride + j : ((j / 16) * dstStride + i) * 16 + j % 16;
      if (c.toHalf) {
        const uint16_t h = isa::floatToHalf(v);
        std::memcpy(&expected[at * 2], &h, 2);
      } else {
        std::memcpy(&expected[at * 4], &v, 4);
      }
    }
  for (size_t e = 0; e < dstElems; ++e)
    ASSERT_EQ(std::memcmp(&out[e * outBytes], &expected[e * outBytes], outBytes), 0) << "element " << e;
}

INSTANTIATE_TEST_SUITE_P(Paths, FixPipe,
                         ::testing::Values(FixCase{true, false, false, false}, FixCase{true, true, true, false},
                                           FixCase{false, true, false, false}, FixCase{false, false, true, false},
                                           FixCase{true, true, false, true}, FixCase{false, true, true, true}),
                         caseName);

} // namespace
