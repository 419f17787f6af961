#include "fractal/package/WeightLayouts.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>

namespace fractal::pkg {

namespace {
// K of a C04 layout's N tile: taps x 4 channels, in whole 16-row fractals.
int64_t c04Depth(const ConvWeightLayout &l) { return (l.kh * l.kw * 4 + 15) / 16 * 16; }
} // namespace

int64_t packedConvWeightCount(const ConvWeightLayout &l) {
  // Per N tile, per K step: (slices x taps x 16) rows of the tile's channels.
  int64_t count = 0;
  const int64_t c1 = l.cip / 16, taps = l.kh * l.kw;
  if (l.c04) {
    for (int64_t n0 = 0; n0 < l.cop; n0 += l.nt) count += c04Depth(l) * std::min(l.nt, l.cop - n0);
    return count;
  }
  for (int64_t n0 = 0; n0 < l.cop; n0 += l.nt)
    for (int64_t s0 = l.depthwise ? n0 / 16 : 0; s0 < (l.depthwise ? n0 / 16 + 1 : c1); s0 += l.kc1)
      count += std::min(l.kc1, c1 - s0) * taps * 16 * std::min(l.nt, l.cop - n0);
  return count;
}

std::vector<uint16_t> packConvWeights(const ConvWeightLayout &l, const float *w) {
  const int64_t taps = l.kh * l.kw;
  return packConvWeights(l, [&](int64_t o, int64_t channel, int64_t tap) { return w[(o * l.cin + channel) * taps + tap]; });
}

std::vector<uint16_t> packConvWeights(const ConvWeightLayout &l,
                                      const std::function<float(int64_t o, int64_t channel, int64_t tap)> &weight) {
  std::vector<uint16_t> out;
  out.reserve(size_t(packedConvWeightCount(l)));
  const int64_t c1 = l.cip / 16, taps = l.kh * l.kw;
  for (int64_t n0 = 0; n0 < l.cop; n0 += l.nt) {
    const int64_t ntc = std::min(l.nt, l.cop - n0), nf = ntc / 16;
    for (int64_t s0 = l.depthwise ? n0 / 16 : 0; s0 < (l.depthwise ? n0 / 16 + 1 : c1); s0 += l.kc1) {
      const int64_t slices = std::min(l.kc1, c1 - s0), kst = l.c04 ? c04Depth(l) : slices * taps * 16;
      std::vector<uint16_t> block(size_t(kst * ntc), 0);
      for (int64_t kk = 0; kk < kst; ++kk) {
        // K order: (slice, tap, 16 channels); C04: (tap, 4 channels), past the last tap zero.
        const int64_t tap = l.c04 ? kk / 4 : (kk / 16) % taps, c = l.c04 ? kk % 4 : kk % 16;
        const int64_t ci = l.c04 ? 0 : kk / 16 / taps;
        const int64_t channel = (s0 + ci) * 16 + c;
        for (int64_t j = 0; j < ntc; ++j) {
          const int64_t o = n0 + j;
          const float v = o < l.cout && channel < l.cin && tap < taps ? weight(o, channel, tap) : 0.0f;
          // ZN: fractal (k / 16, j / 16), stored transposed inside.
          block[size_t(((kk / 16) * nf + j / 16) * 256 + (j % 16) * 16 + kk % 16)] = isa::floatToHalf(v);
        }
      }
      out.insert(out.end(), block.begin(), block.end());
    }
  }
  return out;
}

} // namespace fractal::pkg
