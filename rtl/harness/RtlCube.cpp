#include "RtlCube.h"

#include "Vcube_tile.h"
#include "verilated.h"
#include "verilated_fst_c.h"

#include <cstring>
#include <deque>
#include <vector>

namespace fractal::rtl {

namespace {

constexpr int kF = 16;          // fractal rows and columns
constexpr int kWords = 256;     // accumulators per output fractal

// Verilator represents wide ports as arrays of 32-bit words, least significant first.
template <typename Wide> void setBytes(Wide &port, const uint8_t *bytes, size_t count) {
  std::memset(&port, 0, sizeof port);
  std::memcpy(&port, bytes, count);
}

struct Step {
  uint32_t fractal; // mf * Nf + nf
  bool first;       // first k-block of this fractal: start from bias/zero when init
};

} // namespace

struct RtlCube::Impl {
  VerilatedContext context;
  std::unique_ptr<Vcube_tile> tile;
  std::unique_ptr<VerilatedFstC> trace;
  uint64_t time = 0;

  Impl() : tile(std::make_unique<Vcube_tile>(&context, "cube")) {
    tile->clk = 0;
    tile->rst_n = 0;
    tile->eval();
    tile->rst_n = 1;
    tile->eval();
  }
  void tick() {
    tile->clk = 1;
    tile->eval();
    if (trace)
      trace->dump(time++);
    tile->clk = 0;
    tile->eval();
    if (trace)
      trace->dump(time++);
  }
};

RtlCube::RtlCube() : impl_(std::make_unique<Impl>()) {}
RtlCube::~RtlCube() {
  if (impl_->trace)
    impl_->trace->close();
}

void RtlCube::traceTo(const std::string &fstPath) {
  impl_->context.traceEverOn(true);
  impl_->trace = std::make_unique<VerilatedFstC>();
  impl_->tile->trace(impl_->trace.get(), 99);
  impl_->trace->open(fstPath.c_str());
}

uint64_t RtlCube::mmad(const MmadOperands &op) {
  if (op.m == 0 || op.k == 0 || op.n == 0)
    return 0;
  const uint64_t k0 = op.int8 ? 32 : 16, elem = op.int8 ? 1 : 2;
  const uint64_t mf = (op.m + kF - 1) / kF, kf = (op.k + k0 - 1) / k0, nf = (op.n + kF - 1) / kF;
  Vcube_tile &t = *impl_->tile;

  // Operand fractals for one step, with depth beyond k zeroed (docs/isa.md: those products are +0).
  // Both operands hold a fractal as kF rows of k0 depth elements, so one copy serves A and B.
  auto loadFractal = [&](const uint8_t *src, uint64_t kb, uint8_t *out) {
    std::memcpy(out, src, 512);
    for (uint64_t row = 0; row < kF; ++row)
      for (uint64_t c = 0; c < k0; ++c)
        if (kb * k0 + c >= op.k)
          std::memset(out + (row * k0 + c) * elem, 0, elem);
  };
  // L0C accumulators of output fractal (fm, fn), row-major 16 x 16.
  auto accumulator = [&](uint64_t fm, uint64_t fn, uint64_t i, uint64_t j) {
    return op.c + ((fn * mf * kF + fm * kF + i) * kF + j) * 4;
  };

  std::deque<Step> inFlight;
  uint64_t issued = 0, written = 0, cycles = 0;
  const uint64_t steps = mf * nf * kf;
  uint8_t a[512], b[512];
  uint32_t c[kWords];
  while (written < steps) {
    // The accumulate stage reads C (or the bias/zero start) for the fractal it holds.
    if (t.acc_valid) {
      const Step s = inFlight.front();
      inFlight.pop_front();
      const uint64_t fm = s.fractal / nf, fn = s.fractal % nf;
      for (uint64_t i = 0; i < kF; ++i)
        for (uint64_t j = 0; j < kF; ++j) {
          uint64_t col = fn * kF + j;
          if (s.first && op.init)
            c[i * kF + j] = 0;
          if (s.first && op.init && op.bias && col < op.n)
            std::memcpy(&c[i * kF + j], op.bias + col * 4, 4);
          if (!(s.first && op.init))
            std::memcpy(&c[i * kF + j], accumulator(fm, fn, i, j), 4);
        }
      setBytes(t.c_in, reinterpret_cast<uint8_t *>(c), sizeof c);
    }
    // Issue the next step: k-blocks outer, output fractals inner.
    if (issued < steps) {
      const uint64_t kb = issued / (mf * nf), fractal = issued % (mf * nf);
      loadFractal(op.a + ((fractal / nf) * kf + kb) * 512, kb, a);
      loadFractal(op.b + (kb * nf + fractal % nf) * 512, kb, b);
      setBytes(t.a, a, sizeof a);
      setBytes(t.b, b, sizeof b);
      t.in_valid = 1;
      t.in_int8 = op.int8;
      t.in_tag = static_cast<uint16_t>(fractal);
      inFlight.push_back({static_cast<uint32_t>(fractal), kb == 0});
      ++issued;
    } else {
      t.in_valid = 0;
    }
    impl_->tick();
    ++cycles;
    // A result written at this edge goes back to L0C (only the m x n elements exist).
    if (t.out_valid) {
      const uint64_t fractal = t.out_tag, fm = fractal / nf, fn = fractal % nf;
      std::memcpy(c, &t.c_out, sizeof c);
      for (uint64_t i = 0; i < kF; ++i)
        for (uint64_t j = 0; j < kF; ++j)
          if (fm * kF + i < op.m && fn * kF + j < op.n)
            std::memcpy(accumulator(fm, fn, i, j), &c[i * kF + j], 4);
      ++written;
    }
  }
  totalCycles_ += cycles;
  return cycles;
}

} // namespace fractal::rtl
