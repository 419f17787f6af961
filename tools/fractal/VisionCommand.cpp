// `fractal prep` (image -> input tensor) and `fractal detect` (model outputs -> detections or
// text) for the vision models of models/: BlazeFace face detection, PP-OCR text detection and
// text recognition.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/models/Vision.h"
#include "fractal/support/Npy.h"

#include <cstring>
#include <fstream>
#include <iostream>

namespace fractal::cli {
namespace {


} // namespace

int runPrepCommand(const Args &args) {
  std::string image, output, preset, size, crop;
  ArgParser parser("fractal prep", "turn an image into a model input tensor (.npy)");
  parser.positional("IMAGE", "PNG, JPEG or BMP", &image);
  parser.option("--output", "FILE.npy", "the tensor to write", &output, "-o");
  parser.option("--preset", "NAME",
                "blazeface (NHWC, [-1, 1]), ppocr (NCHW, ImageNet mean/std) or ppocr-rec (a text line: "
                "NCHW, [-1, 1], the line's aspect kept, zeros to the right)",
                &preset);
  parser.option("--size", "WxH", "resize to this size first (bilinear; ppocr-rec: the model input, e.g. 320x48)", &size);
  parser.option("--crop", "X0,Y0,X1,Y1", "cut this box (pixels, as fractal detect dbnet prints them scaled to the image) first",
                &crop);
  parser.epilog("EXIT CODES: 0 ok, 2 bad image or flag.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  int w = 0, h = 0;
  if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2 || w < 1 || h < 1 || w > 16384 || h > 16384)
    return reportError(Error::badInput("fractal prep: --size must be WxH, e.g. 128x128"));
  if (output.empty()) return reportError(Error::badInput("fractal prep: give the output with -o FILE.npy"));
  Expected<models::Image> loaded = models::loadImage(image);
  if (!loaded) return reportError(loaded.error());
  if (!crop.empty()) {
    float x0, y0, x1, y1;
    std::string numbers; // also as fractal detect prints a box: "[x0, y0, x1, y1]"
    for (char c : crop)
      if (c != '[' && c != ']' && c != ' ') numbers += c;
    if (std::sscanf(numbers.c_str(), "%f,%f,%f,%f", &x0, &y0, &x1, &y1) != 4 || x1 <= x0 || y1 <= y0)
      return reportError(Error::badInput("fractal prep: --crop must be X0,Y0,X1,Y1 with X0 < X1 and Y0 < Y1"));
    *loaded = models::crop(*loaded, x0, y0, x1, y1);
  }
  NpyArray tensor;
  if (preset == "ppocr-rec") {
    tensor = models::textLineInput(*loaded, h, w);
    if (Status s = writeNpyFile(output, tensor); !s) return reportError(s.error());
    return 0;
  }
  models::Image resized = models::resizeBilinear(*loaded, w, h);
  if (preset == "blazeface") {
    tensor = models::toNhwc(resized, 1.0f / 127.5f, -1.0f);
  } else if (preset == "ppocr") {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    tensor = models::toNchw(resized, mean, stdev);
  } else {
    return reportError(Error::badInput("fractal prep: --preset must be blazeface, ppocr or ppocr-rec"));
  }
  if (Status s = writeNpyFile(output, tensor); !s) return reportError(s.error());
  return 0;
}

int runDetectCommand(const Args &args) {
  std::string model, dir, size = "128", keysFile, imageSize;
  ArgParser parser("fractal detect",
                   "decode detections or text from a vision model's outputs (as fractal run writes them)");
  parser.positional("MODEL", "blazeface, dbnet or ctc (PP-OCR recognition)", &model);
  parser.positional("OUTPUT_DIR", "the directory with the model's output .npy files", &dir);
  parser.option("--size", "N|WxH", "the model's input size: 128 or 256 for blazeface, WxH for dbnet", &size);
  parser.option("--image", "WxH",
                "dbnet: print the boxes in the pixels of the original image of this size, widened as PaddleOCR's "
                "unclip does (the --crop of fractal prep --preset ppocr-rec)",
                &imageSize);
  parser.option("--keys", "FILE", "ctc: the character list, one per line (ppocr_keys_v1.txt)", &keysFile);
  parser.epilog("EXIT CODES: 0 ok, 2 missing or malformed outputs.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  std::vector<models::Detection> found;
  if (model == "blazeface") {
    const int input = std::atoi(size.c_str());
    if (input != 128 && input != 256) return reportError(Error::badInput("fractal detect: --size must be 128 or 256"));
    auto sa = readNpyFloats(dir + "/Identity_0.npy", 512), sb = readNpyFloats(dir + "/Identity_1_0.npy", 384);
    auto ra = readNpyFloats(dir + "/Identity_2_0.npy", 512 * 16), rb = readNpyFloats(dir + "/Identity_3_0.npy", 384 * 16);
    for (auto *r : {&sa, &sb, &ra, &rb})
      if (!*r) return reportError(r->error());
    found = models::decodeBlazeFace(input, *sa, *ra, *sb, *rb);
  } else if (model == "dbnet") {
    int w = 0, h = 0;
    if (std::sscanf(size.c_str(), "%dx%d", &w, &h) != 2 || w < 1 || h < 1)
      return reportError(Error::badInput("fractal detect: --size must be WxH for dbnet"));
    auto prob = readNpyFloats(dir + "/sigmoid_0.tmp_0.npy", size_t(w) * size_t(h));
    if (!prob) return reportError(prob.error());
    found = models::decodeDbnet(*prob, h, w);
    if (!imageSize.empty()) {
      int iw = 0, ih = 0;
      if (std::sscanf(imageSize.c_str(), "%dx%d", &iw, &ih) != 2 || iw < 1 || ih < 1)
        return reportError(Error::badInput("fractal detect: --image must be WxH"));
      for (models::Detection &d : found) d = models::unclip(d, float(iw) / float(w), float(ih) / float(h));
    }
  } else if (model == "ctc") {
    // [1, steps, classes] probabilities: classes = blank + the keys + space.
    std::ifstream keysIn(keysFile);
    if (keysFile.empty() || !keysIn) return reportError(Error::badInput("fractal detect ctc: give the key list with --keys FILE"));
    std::vector<std::string> keys;
    for (std::string line; std::getline(keysIn, line);) keys.push_back(line);
    const std::string path = dir + "/softmax_11.tmp_0.npy";
    Expected<NpyArray> a = readNpyFile(path);
    if (!a) return reportError(a.error());
    const int64_t classes = int64_t(keys.size()) + 2;
    if (a->descr != "<f4" || a->shape.size() != 3 || a->shape[2] != classes)
      return reportError(Error::badInput(path + ": expected float32 [1, steps, " + std::to_string(classes) +
                                         "] probabilities (the key list's characters, a blank and a space)"));
    std::cout << models::ctcText(models::ctcGreedy(npyFloats(*a), int(classes)), keys) << "\n";
    return 0;
  } else {
    return reportError(Error::badInput("fractal detect: MODEL must be blazeface, dbnet or ctc"));
  }
  std::cout << found.size() << " detection(s)\n" << models::formatDetections(found);
  return 0;
}

} // namespace fractal::cli
