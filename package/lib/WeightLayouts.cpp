#include "fractal/package/WeightLayouts.h"

#include "fractal/isa/Numerics.h"

#include <algorithm>

namespace fractal::pkg {

int64_t packedConvWeightCount(const ConvWeightLayout &l) {
  // Per N tile, per K step: (slices x taps x 16) rows of the tile's channels.
  int64_t count = 0;
  const int64_t c1 = l.cip / 16, taps = l.kh * l.kw;
  for (int64_t n0 = 0; n0 < l.cop; n0 += l.nt)
    for (int64_t s0 = l.depthwise ? n0 / 16 : 0; s0 < (l.depthwise ? n0 / 16 + 1 : c1); s0 += l.kc1)
      count += std::min(l.kc1, c1 - s0) * taps * 16 * std::min(l.nt, l.cop - n0);
  return count;
}

std::vector<uint16_t> packConvWeights(const ConvWeightLayout &l, const float *w) {
  std::vector<uint16_t> out;
  out.reserve(size_t(packedConvWeightCount(l)));
  const int64_t c1 = l.cip / 16, taps = l.kh * l.kw;
  for (int64_t n0 = 0; n0 < l.cop; n0 += l.nt) {
    const int64_t ntc = std::min(l.nt, l.cop - n0), nf = ntc / 16;
    for (int64_t s0 = l.depthwise ? n0 / 16 : 0; s0 < (l.depthwise ? n0 / 16 + 1 : c1); s0 += l.kc1) {
      const int64_t slices = std::min(l.kc1, c1 - s0), kst = slices * taps * 16;
      std::vector<uint16_t> block(size_t(kst * ntc), 0);
      for (int64_t kk = 0; kk < kst; ++kk) {
        const int64_t kf = kk / 16, c = kk % 16;
        const int64_t ci = kf / taps, y = (kf % taps) / l.kw, x = kf % l.kw;
        const int64_t channel = (s0 + ci) * 16 + c;
        for (int64_t j = 0; j < ntc; ++j) {
          const int64_t o = n0 + j;
          const float v = o < l.cout && channel < l.cin ? w[((o * l.cin + channel) * l.kh + y) * l.kw + x] : 0.0f;
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
