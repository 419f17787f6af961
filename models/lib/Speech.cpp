#include "fractal/models/Speech.h"

#include "fractal/support/File.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace fractal::models {

namespace {

uint32_t le32(const std::string &b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 |
         uint32_t(uint8_t(b[at + 3])) << 24;
}
uint16_t le16(const std::string &b, size_t at) { return uint16_t(uint8_t(b[at]) | uint8_t(b[at + 1]) << 8); }

// One sample of `bits` at b[at] as [-1, 1]: integer PCM (8-bit unsigned, wider signed) or float.
float sampleAt(const std::string &b, size_t at, int bits, bool isFloat) {
  if (isFloat) {
    float f;
    std::memcpy(&f, b.data() + at, 4);
    return f;
  }
  switch (bits) {
  case 8: return (float(uint8_t(b[at])) - 128.0f) / 128.0f;
  case 16: return float(int16_t(le16(b, at))) / 32768.0f;
  case 24: {
    const int32_t v = int32_t(uint32_t(uint8_t(b[at])) << 8 | uint32_t(uint8_t(b[at + 1])) << 16 |
                              uint32_t(uint8_t(b[at + 2])) << 24) >> 8;
    return float(v) / 8388608.0f;
  }
  default: return float(int32_t(le32(b, at))) / 2147483648.0f;
  }
}

} // namespace

Expected<Audio> loadWav(const std::string &path) {
  Expected<std::string> read = readTextFile(path);
  if (!read) return read.takeError();
  const std::string &b = *read;
  auto bad = [&](const std::string &why) { return Error::badInput(path + ": not a WAV file fractal reads: " + why); };
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0)
    return bad("no RIFF/WAVE header");
  int channels = 0, rate = 0, bits = 0, format = 0;
  size_t dataAt = 0, dataBytes = 0;
  bool haveData = false;
  for (size_t at = 12; at + 8 <= b.size();) {
    const std::string id = b.substr(at, 4);
    size_t size = le32(b, at + 4);
    const size_t body = at + 8;
    if (id == "data") {
      // A writer that streamed the file may leave the size at its placeholder: take what is there.
      if (size > b.size() - body) {
        if (size != 0xffffffffu && size != 0x7fffffffu)
          return bad("its data chunk declares " + std::to_string(size) + " bytes, the file has " +
                     std::to_string(b.size() - body) + " (truncated?)");
        size = b.size() - body;
      }
      dataAt = body;
      dataBytes = size;
      haveData = true;
      break;
    }
    if (size > b.size() - body) return bad("chunk '" + id + "' runs past the end of the file");
    if (id == "fmt ") {
      if (size < 16) return bad("its fmt chunk has " + std::to_string(size) + " bytes, fewer than 16");
      format = le16(b, body);
      channels = le16(b, body + 2);
      rate = int(le32(b, body + 4));
      bits = le16(b, body + 14);
      if (format == 0xfffe && size >= 26) format = le16(b, body + 24); // WAVE_FORMAT_EXTENSIBLE: the sub-format
    }
    at = body + size + (size & 1); // chunks are padded to even sizes
  }
  if (!channels) return bad("no fmt chunk");
  if (!haveData) return bad("no data chunk");
  const bool isFloat = format == 3;
  if (!(format == 1 && (bits == 8 || bits == 16 || bits == 24 || bits == 32)) && !(isFloat && bits == 32))
    return bad("format " + std::to_string(format) + " with " + std::to_string(bits) +
               " bits per sample (PCM of 8, 16, 24 or 32 bits and 32-bit float are read)");
  if (rate < 1000 || rate > 384000) return bad("sample rate " + std::to_string(rate));
  const size_t frame = size_t(channels) * size_t(bits / 8), frames = dataBytes / frame;
  Audio audio;
  audio.sampleRate = rate;
  audio.samples.resize(frames);
  for (size_t i = 0; i < frames; ++i) {
    float sum = 0;
    for (int c = 0; c < channels; ++c) sum += sampleAt(b, dataAt + i * frame + size_t(c) * size_t(bits / 8), bits, isFloat);
    audio.samples[i] = sum / float(channels);
  }
  return audio;
}

Audio resample(const Audio &audio, int rate) {
  if (audio.sampleRate == rate || audio.samples.empty()) return Audio{rate, audio.samples};
  Audio out{rate, {}};
  const double step = double(audio.sampleRate) / rate;
  const size_t n = size_t(double(audio.samples.size()) / step);
  out.samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const double at = double(i) * step;
    const size_t j = size_t(at);
    const double f = at - double(j);
    const float a = audio.samples[j], b = j + 1 < audio.samples.size() ? audio.samples[j + 1] : a;
    out.samples[i] = float(a + (b - a) * f);
  }
  return out;
}

std::vector<SpeechSegment> speechSegments(const std::vector<float> &probabilities, double chunkSeconds,
                                          float threshold, double minSilence, double minSpeech) {
  std::vector<SpeechSegment> segments;
  const float quiet = threshold - 0.15f;
  bool speaking = false;
  size_t start = 0, silentSince = 0;
  bool silent = false;
  auto close = [&](size_t end) {
    if (double(end - start) * chunkSeconds >= minSpeech)
      segments.push_back({double(start) * chunkSeconds, double(end) * chunkSeconds});
    speaking = silent = false;
  };
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const float p = probabilities[i];
    if (!speaking) {
      if (p >= threshold) speaking = true, start = i, silent = false;
      continue;
    }
    if (p >= threshold) {
      silent = false;
    } else if (p < quiet) {
      if (!silent) silent = true, silentSince = i;
      if (double(i + 1 - silentSince) * chunkSeconds >= minSilence) close(silentSince);
    }
  }
  if (speaking) close(silent ? silentSince : probabilities.size());
  return segments;
}

std::string formatSegments(const std::vector<SpeechSegment> &segments) {
  std::string out;
  char line[64];
  for (const SpeechSegment &s : segments) {
    std::snprintf(line, sizeof line, "speech %.3f s - %.3f s\n", s.start, s.end);
    out += line;
  }
  return out;
}

} // namespace fractal::models
