// Pre- and post-processing of the speech models Fractal runs (voice activity detection: Silero
// VAD): WAV decoding, resampling, chunking and the decoder that turns per-chunk speech
// probabilities into speech segments.
#pragma once

#include "fractal/support/Error.h"

#include <string>
#include <vector>

namespace fractal::models {

struct Audio {
  int sampleRate = 0;
  std::vector<float> samples; // mono, [-1, 1]
};

// A RIFF WAVE file: PCM of 8, 16, 24 or 32 bits or IEEE float of 32 bits, any number of channels
// (averaged into one). A malformed or truncated file is an error naming the file and what is wrong.
Expected<Audio> loadWav(const std::string &path);

// `audio` at `rate` samples per second, by linear interpolation (enough for voice activity: its
// models look at energy per band below 8 kHz).
Audio resample(const Audio &audio, int rate);

struct SpeechSegment {
  double start = 0, end = 0; // seconds
};

// Silero VAD's post-processing over one probability per chunk of `chunkSeconds`: speech starts at
// the first chunk whose probability reaches `threshold` and ends once the probability has stayed
// below threshold - 0.15 for `minSilence` seconds (the end is where that silence began); segments
// shorter than `minSpeech` seconds are dropped.
std::vector<SpeechSegment> speechSegments(const std::vector<float> &probabilities, double chunkSeconds,
                                          float threshold = 0.5f, double minSilence = 0.1, double minSpeech = 0.25);

// "speech 0.960 s - 3.264 s" per line.
std::string formatSegments(const std::vector<SpeechSegment> &segments);

} // namespace fractal::models
