// Weight layouts that kernels in a package read, shared by the compiler (packs constant weights)
// and the runtime (packs weights that arrive as model inputs, in a host task).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace fractal::pkg {

// Convolution weights for the cube (compiler/lib/Codegen/ConvKernel.cpp): for each N tile of `nt`
// output channels, for each K step of `kc1` 16-channel input slices, a ZN block of
// (slices * kh * kw * 16) x (tile channels) f16 values, K ordered (slice, y, x, channel).
// Channels beyond cout/cin are zero. `depthwise`: each N tile (nt = 16) has one K step, the
// slice of its own 16 channels.
struct ConvWeightLayout {
  int64_t cout, cin, kh, kw; // the f32 weights: [cout][cin][kh][kw]
  int64_t cop, cip;          // padded to multiples of 16
  int64_t nt, kc1;
  bool depthwise = false;
  // The small-channel (C04) form (one input slice): K runs over (tap, 4 channels), padded to 16.
  bool c04 = false;
};

std::vector<uint16_t> packConvWeights(const ConvWeightLayout &layout, const float *weights);
// The same from weight(o, channel, tap) (a grouped convolution's block-diagonal weights without
// the dense [cout][cin] array: a 480-channel depthwise 5x5 would be 23 MB of mostly zeros).
std::vector<uint16_t> packConvWeights(const ConvWeightLayout &layout,
                                      const std::function<float(int64_t o, int64_t channel, int64_t tap)> &weight);
// How many f16 values packConvWeights writes for `layout`.
int64_t packedConvWeightCount(const ConvWeightLayout &layout);

} // namespace fractal::pkg
