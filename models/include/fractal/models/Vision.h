// Pre- and post-processing of the vision models Fractal runs (CV face detection: BlazeFace;
// OCR text detection: PP-OCR's DBNet): image decoding and resizing, tensors in the layouts the
// models expect, and the decoders that turn raw outputs into detections.
#pragma once

#include "fractal/support/Error.h"
#include "fractal/support/Npy.h"

#include <string>
#include <vector>

namespace fractal::models {

struct Image {
  int width = 0, height = 0;
  std::vector<float> rgb; // height x width x 3, 0..255
};

Expected<Image> loadImage(const std::string &path); // PNG, JPEG, BMP (stb_image); grey -> RGB
Image resizeBilinear(const Image &image, int width, int height);

// [1, H, W, 3] float32 with value * scale + offset (BlazeFace: scale 1/127.5, offset -1).
NpyArray toNhwc(const Image &image, float scale, float offset);
// [1, 3, H, W] float32 with (value / 255 - mean[c]) / std[c] (PP-OCR: ImageNet mean and std).
NpyArray toNchw(const Image &image, const float mean[3], const float std[3]);

struct Detection {
  float score = 0;
  float x0 = 0, y0 = 0, x1 = 0, y1 = 0; // box corners (BlazeFace: 0..1 of the input; DBNet: pixels)
};

// BlazeFace (MediaPipe short-range, both the 128 front and 256 back variants): SSD anchors at
// strides {s, 2s, 2s, 2s} (s = 8 for 128, 16 for 256), 2 + 6 anchors per cell; scores through a
// sigmoid, boxes relative to the anchor centres, weighted non-maximum suppression (IoU 0.3).
// scoresA/boxesA: the first head (512 anchors), scoresB/boxesB: the second (384).
std::vector<Detection> decodeBlazeFace(int inputSize, const std::vector<float> &scoresA, const std::vector<float> &boxesA,
                                       const std::vector<float> &scoresB, const std::vector<float> &boxesB,
                                       float threshold = 0.75f);

// DBNet: probability map [h, w] thresholded at `binary`, 4-connected regions kept when their mean
// probability reaches `boxScore` and their box is at least `minSide` pixels; boxes axis-aligned.
std::vector<Detection> decodeDbnet(const std::vector<float> &probability, int height, int width,
                                   float binary = 0.3f, float boxScore = 0.6f, int minSide = 3);

// A DBNet box (which hugs the shrunk text kernel) widened on every side by area * ratio /
// perimeter, as PaddleOCR's unclip does (ratio 1.5), then scaled by (sx, sy): from the model's
// input to the image.
Detection unclip(const Detection &box, float sx, float sy, float ratio = 1.5f);

// The part of `image` inside the box (pixels, clamped to the image; at least one pixel).
Image crop(const Image &image, float x0, float y0, float x1, float y1);

// PP-OCR recognition's input: the text line resized to `height` rows keeping its aspect ratio (at
// most `width` columns), scaled to [-1, 1] ((value / 255 - 0.5) / 0.5), zero to the right up to
// `width`: [1, 3, height, width] float32.
NpyArray textLineInput(const Image &line, int height = 48, int width = 320);

// CTC greedy decoding of [steps, classes] probabilities: the best class per step, repeats merged,
// blanks (class 0) dropped. Character indices, 1-based into the model's key list.
std::vector<int> ctcGreedy(const std::vector<float> &probabilities, int classes);

// The characters of CTC indices with `keys` (one character per line, ppocr_keys_v1.txt; the class
// after the last key is a space), UTF-8.
std::string ctcText(const std::vector<int> &indices, const std::vector<std::string> &keys);

float iou(const Detection &a, const Detection &b);

// True when both lists hold the same detections: equal counts, and after sorting by position
// each pair overlaps by at least `minIou`. Otherwise `why` says what differs.
bool sameDetections(std::vector<Detection> a, std::vector<Detection> b, float minIou, std::string *why);

std::string formatDetections(const std::vector<Detection> &detections);

} // namespace fractal::models
