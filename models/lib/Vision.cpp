#include "fractal/models/Vision.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO_WARNINGS
#include <stb/stb_image.h>

namespace fractal::models {

Expected<Image> loadImage(const std::string &path) {
  int w = 0, h = 0, channels = 0;
  unsigned char *pixels = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!pixels)
    return Error::badInput(path + ": cannot decode the image (" + std::string(stbi_failure_reason()) + ")");
  Image image;
  image.width = w;
  image.height = h;
  image.rgb.assign(pixels, pixels + size_t(w) * size_t(h) * 3);
  stbi_image_free(pixels);
  return image;
}

Image resizeBilinear(const Image &in, int width, int height) {
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(size_t(width) * size_t(height) * 3);
  // Half-pixel centres, as OpenCV's INTER_LINEAR.
  for (int y = 0; y < height; ++y) {
    float sy = std::clamp((float(y) + 0.5f) * float(in.height) / float(height) - 0.5f, 0.0f, float(in.height - 1));
    int y0 = int(sy), y1 = std::min(y0 + 1, in.height - 1);
    float fy = sy - float(y0);
    for (int x = 0; x < width; ++x) {
      float sx = std::clamp((float(x) + 0.5f) * float(in.width) / float(width) - 0.5f, 0.0f, float(in.width - 1));
      int x0 = int(sx), x1 = std::min(x0 + 1, in.width - 1);
      float fx = sx - float(x0);
      for (int c = 0; c < 3; ++c) {
        auto at = [&](int yy, int xx) { return in.rgb[(size_t(yy) * size_t(in.width) + size_t(xx)) * 3 + size_t(c)]; };
        float top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx, bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx;
        out.rgb[(size_t(y) * size_t(width) + size_t(x)) * 3 + size_t(c)] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

namespace {
NpyArray floats(std::vector<int64_t> shape, const std::vector<float> &values) {
  NpyArray a{"<f4", std::move(shape), std::vector<uint8_t>(values.size() * 4)};
  std::memcpy(a.data.data(), values.data(), a.data.size());
  return a;
}
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-std::clamp(x, -100.0f, 100.0f))); }
} // namespace

NpyArray toNhwc(const Image &image, float scale, float offset) {
  std::vector<float> v(image.rgb.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = image.rgb[i] * scale + offset;
  return floats({1, image.height, image.width, 3}, v);
}

NpyArray toNchw(const Image &image, const float mean[3], const float std[3]) {
  const size_t plane = size_t(image.width) * size_t(image.height);
  std::vector<float> v(plane * 3);
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) v[c * plane + p] = (image.rgb[p * 3 + c] / 255.0f - mean[c]) / std[c];
  return floats({1, 3, image.height, image.width}, v);
}

Detection unclip(const Detection &box, float sx, float sy, float ratio) {
  const float w = box.x1 - box.x0, h = box.y1 - box.y0, grow = w + h > 0 ? w * h * ratio / (2 * (w + h)) : 0.0f;
  Detection out = box;
  out.x0 = (box.x0 - grow) * sx;
  out.y0 = (box.y0 - grow) * sy;
  out.x1 = (box.x1 + grow) * sx;
  out.y1 = (box.y1 + grow) * sy;
  return out;
}

Image crop(const Image &image, float x0, float y0, float x1, float y1) {
  const int left = std::clamp(int(std::floor(x0)), 0, image.width - 1), top = std::clamp(int(std::floor(y0)), 0, image.height - 1);
  const int right = std::clamp(int(std::ceil(x1)), left + 1, image.width), bottom = std::clamp(int(std::ceil(y1)), top + 1, image.height);
  Image out;
  out.width = right - left;
  out.height = bottom - top;
  for (int y = top; y < bottom; ++y)
    out.rgb.insert(out.rgb.end(), image.rgb.begin() + (ptrdiff_t(y) * image.width + left) * 3,
                   image.rgb.begin() + (ptrdiff_t(y) * image.width + right) * 3);
  return out;
}

NpyArray textLineInput(const Image &line, int height, int width) {
  const int resized = std::clamp(int(std::ceil(float(height) * float(line.width) / float(line.height))), 1, width);
  const Image scaled = resizeBilinear(line, resized, height);
  std::vector<float> v(size_t(3) * size_t(height) * size_t(width), 0.0f);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < resized; ++x)
        v[(size_t(c) * size_t(height) + size_t(y)) * size_t(width) + size_t(x)] =
            (scaled.rgb[(size_t(y) * size_t(resized) + size_t(x)) * 3 + size_t(c)] / 255.0f - 0.5f) / 0.5f;
  return floats({1, 3, height, width}, v);
}

std::vector<int> ctcGreedy(const std::vector<float> &probabilities, int classes) {
  std::vector<int> out;
  int previous = 0;
  for (size_t step = 0; step + size_t(classes) <= probabilities.size(); step += size_t(classes)) {
    const auto first = probabilities.begin() + ptrdiff_t(step);
    const int best = int(std::max_element(first, first + classes) - first);
    if (best != 0 && best != previous) out.push_back(best);
    previous = best;
  }
  return out;
}

std::string ctcText(const std::vector<int> &indices, const std::vector<std::string> &keys) {
  std::string text;
  for (int i : indices) text += i >= 1 && size_t(i) <= keys.size() ? keys[size_t(i) - 1] : " ";
  return text;
}

float iou(const Detection &a, const Detection &b) {
  const float ix = std::max(0.0f, std::min(a.x1, b.x1) - std::max(a.x0, b.x0));
  const float iy = std::max(0.0f, std::min(a.y1, b.y1) - std::max(a.y0, b.y0));
  const float inter = ix * iy;
  const float uni = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

std::vector<Detection> decodeBlazeFace(int inputSize, const std::vector<float> &scoresA, const std::vector<float> &boxesA,
                                       const std::vector<float> &scoresB, const std::vector<float> &boxesB,
                                       float threshold) {
  const int stride = inputSize == 256 ? 16 : 8;
  std::vector<Detection> candidates;
  auto head = [&](const std::vector<float> &scores, const std::vector<float> &boxes, int grid, int perCell) {
    for (int i = 0; i < grid * grid * perCell; ++i) {
      const float score = sigmoid(scores[size_t(i)]);
      if (score < threshold) continue;
      const int cell = i / perCell;
      const float ax = (float(cell % grid) + 0.5f) / float(grid), ay = (float(cell / grid) + 0.5f) / float(grid);
      const float *r = &boxes[size_t(i) * 16];
      const float cx = r[0] / float(inputSize) + ax, cy = r[1] / float(inputSize) + ay;
      const float w = r[2] / float(inputSize), h = r[3] / float(inputSize);
      candidates.push_back({score, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2});
    }
  };
  head(scoresA, boxesA, inputSize / stride, 2);
  head(scoresB, boxesB, inputSize / (2 * stride), 6);
  // Weighted NMS: the best candidate absorbs every overlapping one, boxes averaged by score.
  std::sort(candidates.begin(), candidates.end(), [](const Detection &a, const Detection &b) { return a.score > b.score; });
  std::vector<Detection> out;
  std::vector<bool> used(candidates.size(), false);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (used[i]) continue;
    Detection sum{}, best = candidates[i];
    float total = 0;
    for (size_t j = i; j < candidates.size(); ++j) {
      if (used[j] || iou(best, candidates[j]) < 0.3f) continue;
      used[j] = true;
      const Detection &c = candidates[j];
      sum.x0 += c.x0 * c.score;
      sum.y0 += c.y0 * c.score;
      sum.x1 += c.x1 * c.score;
      sum.y1 += c.y1 * c.score;
      total += c.score;
    }
    out.push_back({best.score, sum.x0 / total, sum.y0 / total, sum.x1 / total, sum.y1 / total});
  }
  return out;
}

std::vector<Detection> decodeDbnet(const std::vector<float> &prob, int height, int width, float binary, float boxScore,
                                   int minSide) {
  std::vector<int> label(prob.size(), -1);
  std::vector<Detection> out;
  std::vector<int> stack;
  for (int start = 0; start < height * width; ++start) {
    if (label[size_t(start)] >= 0 || prob[size_t(start)] <= binary) continue;
    int x0 = width, y0 = height, x1 = -1, y1 = -1;
    double sum = 0;
    int count = 0;
    stack.assign(1, start);
    label[size_t(start)] = start;
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      const int x = p % width, y = p / width;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      sum += prob[size_t(p)];
      ++count;
      const int next[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
      for (const auto &n : next) {
        if (n[0] < 0 || n[0] >= width || n[1] < 0 || n[1] >= height) continue;
        const int q = n[1] * width + n[0];
        if (label[size_t(q)] < 0 && prob[size_t(q)] > binary) {
          label[size_t(q)] = start;
          stack.push_back(q);
        }
      }
    }
    const float score = float(sum / count);
    if (score >= boxScore && x1 - x0 + 1 >= minSide && y1 - y0 + 1 >= minSide)
      out.push_back({score, float(x0), float(y0), float(x1 + 1), float(y1 + 1)});
  }
  return out;
}

bool sameDetections(std::vector<Detection> a, std::vector<Detection> b, float minIou, std::string *why) {
  auto byPosition = [](const Detection &p, const Detection &q) {
    return std::make_pair(std::round(p.y0 * 100), p.x0) < std::make_pair(std::round(q.y0 * 100), q.x0);
  };
  std::sort(a.begin(), a.end(), byPosition);
  std::sort(b.begin(), b.end(), byPosition);
  if (a.size() != b.size()) {
    if (why) *why = std::to_string(a.size()) + " detections vs " + std::to_string(b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    // Match each box with the best-overlapping one (order may differ for boxes on one line).
    float best = 0;
    for (const Detection &d : b) best = std::max(best, iou(a[i], d));
    if (best < minIou) {
      if (why) *why = "detection " + std::to_string(i) + " has no counterpart (best IoU " + std::to_string(best) + ")";
      return false;
    }
  }
  return true;
}

std::string formatDetections(const std::vector<Detection> &detections) {
  std::ostringstream s;
  s.precision(4);
  for (const Detection &d : detections)
    s << "score " << d.score << "  box [" << d.x0 << ", " << d.y0 << ", " << d.x1 << ", " << d.y1 << "]\n";
  return s.str();
}

} // namespace fractal::models
