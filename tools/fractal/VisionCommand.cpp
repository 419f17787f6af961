// `fractal prep` (image -> input tensor) and `fractal detect` (model outputs -> detections) for
// the vision models of models/: BlazeFace face detection and PP-OCR text detection.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/models/Vision.h"
#include "fractal/support/Npy.h"

#include <cstring>
#include <iostream>

namespace fractal::cli {
namespace {

Expected<std::vector<float>> readFloats(const std::string &path, size_t expected) {
  Expected<NpyArray> a = readNpyFile(path);
  if (!a) return a.takeError();
  if (a->descr != "<f4" || a->data.size() != expected * 4)
    return Error::badInput(path + ": expected " + std::to_string(expected) + " float32 values");
  return npyFloats(*a);
}

} // namespace

int runPrepCommand(const Args &args) {
  std::string image, output, preset, size;
  ArgParser parser("fractal prep", "turn an image into a model input tensor (.npy)");
  parser.positional("IMAGE", "PNG, JPEG or BMP", &image);
  parser.option("--output", "FILE.npy", "the tensor to write", &output, "-o");
  parser.option("--preset", "NAME", "blazeface (NHWC, [-1, 1]) or ppocr (NCHW, ImageNet mean/std)", &preset);
  parser.option("--size", "WxH", "resize to this size first (bilinear)", &size);
  parser.epilog("EXIT CODES: 0 ok, 2 bad image or flag.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  int w = 0, h = 0;
  if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2 || w < 1 || h < 1 || w > 16384 || h > 16384)
    return reportError(Error::badInput("fractal prep: --size must be WxH, e.g. 128x128"));
  if (output.empty()) return reportError(Error::badInput("fractal prep: give the output with -o FILE.npy"));
  Expected<models::Image> loaded = models::loadImage(image);
  if (!loaded) return reportError(loaded.error());
  models::Image resized = models::resizeBilinear(*loaded, w, h);
  NpyArray tensor;
  if (preset == "blazeface") {
    tensor = models::toNhwc(resized, 1.0f / 127.5f, -1.0f);
  } else if (preset == "ppocr") {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    tensor = models::toNchw(resized, mean, stdev);
  } else {
    return reportError(Error::badInput("fractal prep: --preset must be blazeface or ppocr"));
  }
  if (Status s = writeNpyFile(output, tensor); !s) return reportError(s.error());
  return 0;
}

int runDetectCommand(const Args &args) {
  std::string model, dir, size = "128";
  ArgParser parser("fractal detect", "decode detections from a vision model's outputs (as fractal run writes them)");
  parser.positional("MODEL", "blazeface or dbnet", &model);
  parser.positional("OUTPUT_DIR", "the directory with the model's output .npy files", &dir);
  parser.option("--size", "N|WxH", "the model's input size: 128 or 256 for blazeface, WxH for dbnet", &size);
  parser.epilog("EXIT CODES: 0 ok, 2 missing or malformed outputs.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  std::vector<models::Detection> found;
  if (model == "blazeface") {
    const int input = std::atoi(size.c_str());
    if (input != 128 && input != 256) return reportError(Error::badInput("fractal detect: --size must be 128 or 256"));
    auto sa = readFloats(dir + "/Identity_0.npy", 512), sb = readFloats(dir + "/Identity_1_0.npy", 384);
    auto ra = readFloats(dir + "/Identity_2_0.npy", 512 * 16), rb = readFloats(dir + "/Identity_3_0.npy", 384 * 16);
    for (auto *r : {&sa, &sb, &ra, &rb})
      if (!*r) return reportError(r->error());
    found = models::decodeBlazeFace(input, *sa, *ra, *sb, *rb);
  } else if (model == "dbnet") {
    int w = 0, h = 0;
    if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2 || w < 1 || h < 1)
      return reportError(Error::badInput("fractal detect: --size must be WxH for dbnet"));
    auto prob = readFloats(dir + "/sigmoid_0.tmp_0.npy", size_t(w) * size_t(h));
    if (!prob) return reportError(prob.error());
    found = models::decodeDbnet(*prob, h, w);
  } else {
    return reportError(Error::badInput("fractal detect: MODEL must be blazeface or dbnet"));
  }
  std::cout << found.size() << " detection(s)\n" << models::formatDetections(found);
  return 0;
}

} // namespace fractal::cli
