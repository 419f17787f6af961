// Real models end to end against ONNX Runtime: BlazeFace front (128) and back (256) on
// astronaut.png, PP-OCRv4 text detection on page.png. Each is compiled for the edge NPU, run on
// the simulator through the runtime's model API, and compared with ONNX Runtime on the same input
// tensor: cosine similarity >= 0.999 for every output, and the same detections after decoding.
// Also single ops compiled and run the same way (checked against values computed here, no assets
// needed).
//
// The models, ONNX Runtime and the images come from scripts/fetch-assets.sh (`make test` runs it)
// into FRACTAL_ASSETS_DIR. Without them the tests skip, unless FRACTAL_REQUIRE_ASSETS=1 (CI), when
// a missing asset is a failure.
#include "fractal/models/Analytics.h"
#include "fractal/models/Language.h"
#include "fractal/models/Speech.h"
#include "fractal/models/Vision.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/support/File.h"
#include "fractal/support/Npy.h"
#include "fractal/isa/Numerics.h"

#include "onnx/onnx_pb.h"

#include "OnnxBuilder.h"
#include "RunPackage.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <tuple>
#include <algorithm>
#include <unistd.h>

namespace {

using namespace fractal;
using namespace fractal::test;

std::string assets() {
  const char *dir = std::getenv("FRACTAL_ASSETS_DIR");
  return dir ? dir : FRACTAL_DEFAULT_ASSETS_DIR; // the build's assets (make assets)
}

bool present(const std::string &path) { return std::ifstream(path).good(); }

#define REQUIRE_ASSET(path)                                                                        \
  do {                                                                                             \
    if (!present(path)) {                                                                          \
      if (std::getenv("FRACTAL_REQUIRE_ASSETS"))                                                   \
        FAIL() << "missing asset " << path << " (run scripts/fetch-assets.sh)";                    \
      GTEST_SKIP() << "missing asset " << path << " (run scripts/fetch-assets.sh)";                \
    }                                                                                              \
  } while (0)

// The values of a float array of any width (float16 and float64 converted) as float32.
std::vector<float> floats(const NpyArray &a) {
  if (a.descr == "<f2" || a.descr == "<f8") {
    const size_t width = a.descr == "<f2" ? 2 : 8;
    std::vector<float> v(a.data.size() / width);
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h;
      double d;
      if (width == 2) std::memcpy(&h, &a.data[i * 2], 2), v[i] = isa::halfToFloat(h);
      else std::memcpy(&d, &a.data[i * 8], 8), v[i] = float(d);
    }
    return v;
  }
  return npyFloats(a);
}

double cosine(const std::vector<float> &a, const std::vector<float> &b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return na == 0 || nb == 0 ? (na == nb ? 1.0 : 0.0) : dot / std::sqrt(na * nb);
}

// Compiles `model` for `target` (edge, or a config file) and runs it on `input` in `mode`; outputs
// by name.
std::map<std::string, NpyArray> runFractal(const std::string &model, const std::string &shapes,
                                           const std::string &inputName, const NpyArray &input, const char *mode,
                                           const std::string &target = "edge") {
  std::map<std::string, NpyArray> out;
  Expected<ChipConfig> config = loadChipConfig(target);
  EXPECT_TRUE(config.ok()) << (config ? "" : config.error().message);
  if (!config) return out;
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(model, shapes, *config, "");
  EXPECT_TRUE(p.ok()) << (p ? "" : p.error().message);
  if (!p) return out;
  EXPECT_EQ(p->tensors[p->inputs[0]].name, inputName);
  for (auto &[name, w] : test::run(*p, {input.data}, mode, target)) {
    const pkg::Tensor *t = nullptr;
    for (uint32_t o : p->outputs)
      if (p->tensors[o].name == name) t = &p->tensors[o];
    out[name] = NpyArray{pkg::npyDescr(t->dtype), w.dims, std::move(w.bytes)};
  }
  return out;
}

// ONNX Runtime through scripts/ort-run.mjs; outputs by (file-safe) name.
std::map<std::string, NpyArray> runReference(const std::string &model, const std::string &inputName,
                                             const NpyArray &input, const std::vector<std::string> &names) {
  std::map<std::string, NpyArray> out;
  char dir[] = "/tmp/fractal-ort-XXXXXX";
  if (!mkdtemp(dir)) return out;
  const std::string in = std::string(dir) + "/input.npy";
  EXPECT_TRUE(writeNpyFile(in, input).ok());
  const char *src = std::getenv("FRACTAL_SOURCE_DIR");
  const std::string cmd = "NODE_PATH='" + assets() + "/ort/node_modules' node '" + std::string(src ? src : ".") +
                          "/scripts/ort-run.mjs' '" + model + "' '" + dir + "' '" + inputName + "=" + in + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  for (const std::string &name : names) {
    std::string file = name;
    for (char &c : file)
      if (c == '/' || c == ':') c = '_';
    Expected<NpyArray> a = readNpyFile(std::string(dir) + "/" + file + ".npy");
    EXPECT_TRUE(a.ok()) << (a ? "" : a.error().message);
    if (a) out[name] = std::move(*a);
  }
  std::system(("rm -rf '" + std::string(dir) + "'").c_str());
  return out;
}

void compareOutputs(std::map<std::string, NpyArray> &got, std::map<std::string, NpyArray> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (auto &[name, ref] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    ASSERT_EQ(got[name].shape, ref.shape) << name;
    if (ref.descr.size() < 2 || ref.descr[1] != 'f') { // integers and booleans: exactly
      EXPECT_EQ(got[name].descr, ref.descr) << name;
      EXPECT_EQ(got[name].data, ref.data) << name;
      std::printf("  %s: %s\n", name.c_str(), got[name].data == ref.data ? "exact" : "differs");
      continue;
    }
    const double c = cosine(floats(got[name]), floats(ref));
    EXPECT_GE(c, 0.999) << name;
    std::printf("  %s: cosine %.6f\n", name.c_str(), c);
  }
}

std::string blazeFaceModel(int size) {
  return assets() + "/blazeface/ONNX/face_detection_" + (size == 128 ? "front_128x128" : "back_256x256") +
         "_barracuda.onnx";
}
// astronaut.png as BlazeFace's input: NHWC, scaled to [-1, 1].
NpyArray blazeFaceInput(int size) {
  Expected<models::Image> img = models::loadImage(assets() + "/images/astronaut.png");
  EXPECT_TRUE(img.ok());
  return img ? models::toNhwc(models::resizeBilinear(*img, size, size), 1.0f / 127.5f, -1.0f) : NpyArray{};
}
std::vector<models::Detection> blazeFaceDetections(int size, std::map<std::string, NpyArray> &o) {
  return models::decodeBlazeFace(size, floats(o["Identity:0"]), floats(o["Identity_2:0"]), floats(o["Identity_1:0"]),
                                 floats(o["Identity_3:0"]));
}

void blazeFace(int size, const char *mode) {
  const std::string model = blazeFaceModel(size);
  REQUIRE_ASSET(model);
  REQUIRE_ASSET(assets() + "/images/astronaut.png");
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  NpyArray input = blazeFaceInput(size);
  auto got = runFractal(model, "", "input:0", input, mode);
  auto want = runReference(model, "input:0", input, {"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"});
  compareOutputs(got, want);
  std::vector<models::Detection> a = blazeFaceDetections(size, got), b = blazeFaceDetections(size, want);
  std::string why;
  EXPECT_FALSE(b.empty()) << "ONNX Runtime finds no face in astronaut.png";
  EXPECT_TRUE(models::sameDetections(a, b, 0.9f, &why)) << why << "\nfractal:\n"
                                                        << models::formatDetections(a) << "onnxruntime:\n"
                                                        << models::formatDetections(b);
}

// Post-training quantization as a user runs it: `fractal quantize` calibrates BlazeFace front on
// astronaut.png (on the simulated NPU) and writes a QDQ model with uint8 activations and int8
// weights per channel; that model, run by Fractal, finds the face the float model finds, and its
// outputs are those of ONNX Runtime running the same QDQ model (cosine >= 0.99: both quantize at
// the same scales, but fp16 on the cube moves a few values across rounding boundaries).
TEST(Models, QuantizedBlazeFaceFindsTheSameFace) {
  const std::string model = blazeFaceModel(128);
  REQUIRE_ASSET(model);
  REQUIRE_ASSET(assets() + "/images/astronaut.png");
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  NpyArray input = blazeFaceInput(128);
  char dirName[] = "/tmp/fractal-quantize-XXXXXX";
  ASSERT_TRUE(mkdtemp(dirName));
  const std::string dir = dirName, qdq = dir + "/front.qdq.onnx";
  ASSERT_TRUE(writeNpyFile(dir + "/face.npy", input).ok());
  const std::string quantize = std::string(FRACTAL_CLI) + " quantize '" + model + "' -o '" + qdq +
                               "' --calibrate input:0='" + dir + "/face.npy' > '" + dir + "/quantize.txt' 2>&1";
  ASSERT_EQ(std::system(quantize.c_str()), 0) << quantize;
  Expected<std::string> said = readTextFile(dir + "/quantize.txt");
  ASSERT_TRUE(said.ok());
  std::printf("  %s", said->c_str());
  EXPECT_NE(said->find("37 matrix products quantized (34 activation tensors as uint8"), std::string::npos) << *said;

  // The quantize/dequantize pair between the model's NHWC -> NCHW input transpose and its first
  // convolution does not keep the transpose from folding into the convolution
  // (fractal-cancel-data-movement): no transpose kernel (one took 46% of the quantized run).
  Expected<pkg::Package> compiled = onnx_frontend::compileOnnxModel(qdq, "", *loadChipConfig("edge"), "");
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  for (const pkg::Task &t : compiled->tasks) {
    EXPECT_NE(t.opType, "Transpose") << t.name;
    for (const pkg::KernelSegment &g : t.launch.segments) EXPECT_NE(g.opType, "Transpose") << g.name;
  }

  auto quantized = runFractal(qdq, "", "input:0", input, "functional");
  auto reference = runReference(qdq, "input:0", input, {"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"});
  auto full = runFractal(model, "", "input:0", input, "functional");
  for (auto &[name, ref] : reference) {
    const double c = cosine(floats(quantized[name]), floats(ref));
    std::printf("  %s: cosine %.6f with ONNX Runtime on the QDQ model, %.6f with the float model\n", name.c_str(), c,
                cosine(floats(quantized[name]), floats(full[name])));
    EXPECT_GE(c, 0.99) << name;
  }
  std::vector<models::Detection> mine = blazeFaceDetections(128, quantized), floatModel = blazeFaceDetections(128, full);
  std::string why;
  ASSERT_FALSE(floatModel.empty());
  EXPECT_TRUE(models::sameDetections(mine, floatModel, 0.9f, &why)) << why << "\nquantized:\n"
                                                                    << models::formatDetections(mine) << "float:\n"
                                                                    << models::formatDetections(floatModel);
  std::printf("  quantized:\n%s  float:\n%s", models::formatDetections(mine).c_str(),
              models::formatDetections(floatModel).c_str());
  std::filesystem::remove_all(dir);
}

TEST(Models, BlazeFaceFrontFunctional) { blazeFace(128, "functional"); }
TEST(Models, BlazeFaceFrontTiming) { blazeFace(128, "timing"); }
TEST(Models, BlazeFaceBackFunctional) { blazeFace(256, "functional"); }

void ppocrDet(int width, int height, const std::string &target = "edge") {
  const std::string model = assets() + "/ocr/assets/ch_PP-OCRv4_det_infer.onnx";
  const std::string image = assets() + "/images/page.png";
  REQUIRE_ASSET(model);
  REQUIRE_ASSET(image);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Image> img = models::loadImage(image);
  ASSERT_TRUE(img.ok());
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  NpyArray input = models::toNchw(models::resizeBilinear(*img, width, height), mean, stdev);
  const std::string shape = "x:1,3," + std::to_string(height) + "," + std::to_string(width);
  auto got = runFractal(model, shape, "x", input, "functional", target);
  auto want = runReference(model, "x", input, {"sigmoid_0.tmp_0"});
  compareOutputs(got, want);
  std::vector<models::Detection> a = models::decodeDbnet(floats(got["sigmoid_0.tmp_0"]), height, width);
  std::vector<models::Detection> b = models::decodeDbnet(floats(want["sigmoid_0.tmp_0"]), height, width);
  std::string why;
  EXPECT_GE(b.size(), 5u) << "ONNX Runtime finds too few text lines in page.png";
  EXPECT_TRUE(models::sameDetections(a, b, 0.9f, &why)) << why << "\nfractal:\n"
                                                        << models::formatDetections(a) << "onnxruntime:\n"
                                                        << models::formatDetections(b);
}

// PP-OCRv4 recognition (an SVTR-LCNet: convolutions, then attention blocks with MatMul, Softmax,
// LayerNorm through ReduceMean/Pow/Sqrt, a shape computed through int32 casts) on the text lines
// of page.png that ONNX Runtime's detection finds: every line's class probabilities against
// ONNX Runtime (cosine >= 0.999) and the same CTC-decoded text, which must be real text (at least
// three characters on most lines).
TEST(Models, PpOcrRecReadsPageLines) {
  const std::string det = assets() + "/ocr/assets/ch_PP-OCRv4_det_infer.onnx", rec = assets() + "/ocr/assets/ch_PP-OCRv4_rec_infer.onnx";
  const std::string image = assets() + "/images/page.png", keysFile = assets() + "/ocr/assets/ppocr_keys_v1.txt";
  for (const std::string &path : {det, rec, image, keysFile}) REQUIRE_ASSET(path);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Image> img = models::loadImage(image);
  ASSERT_TRUE(img.ok());
  std::vector<std::string> keys;
  {
    std::ifstream f(keysFile);
    for (std::string line; std::getline(f, line);) keys.push_back(line);
  }
  const int size = 640;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
  auto probability = runReference(det, "x", models::toNchw(models::resizeBilinear(*img, size, size), mean, stdev), {"sigmoid_0.tmp_0"});
  std::vector<models::Detection> lines = models::decodeDbnet(floats(probability["sigmoid_0.tmp_0"]), size, size);
  ASSERT_GE(lines.size(), 5u);
  // The longest lines first (small regions are fragments: a word's descender, a dot).
  std::sort(lines.begin(), lines.end(), [](const models::Detection &p, const models::Detection &q) { return p.x1 - p.x0 > q.x1 - q.x0; });
  const int classes = int(keys.size()) + 2; // blank, the keys, space
  int read = 0;
  for (size_t i = 0; i < 4; ++i) {
    const models::Detection &d = lines[i];
    // DBNet boxes hug the shrunk text kernel: widened as PaddleOCR's unclip does.
    const float sx = float(img->width) / size, sy = float(img->height) / size;
    const models::Detection box = models::unclip(d, sx, sy);
    // Whole page lines are about 20 times as wide as high: the model (dynamic width) is compiled
    // for 48 x 960, as PaddleOCR widens its input to the line's aspect ratio.
    const NpyArray input = models::textLineInput(models::crop(*img, box.x0, box.y0, box.x1, box.y1), 48, 960);
    auto got = runFractal(rec, "x:1,3,48,960", "x", input, "functional");
    auto want = runReference(rec, "x", input, {"softmax_11.tmp_0"});
    compareOutputs(got, want);
    const std::vector<float> a = floats(got["softmax_11.tmp_0"]), b = floats(want["softmax_11.tmp_0"]);
    ASSERT_EQ(a.size(), size_t(120 * classes)); // a step per 8 columns
    const std::string textA = models::ctcText(models::ctcGreedy(a, classes), keys);
    const std::string textB = models::ctcText(models::ctcGreedy(b, classes), keys);
    EXPECT_EQ(textA, textB) << "line " << i;
    std::printf("  line %zu (%.0f,%.0f)-(%.0f,%.0f): \"%s\"\n", i, d.x0 * sx, d.y0 * sy, d.x1 * sx, d.y1 * sy, textA.c_str());
    read += textA.size() >= 3;
  }
  EXPECT_GE(read, 3) << "too few lines read as text";
}

// The speech family's pre- and post-processing (no assets): WAV files of 16-bit stereo PCM, 24-bit
// PCM and 32-bit float read as mono [-1, 1]; malformed files refused with the reason; resampling
// keeps the duration; Silero's segment rule on made-up probabilities, exactly.
TEST(Speech, WavFilesResamplingAndSegments) {
  char dirName[] = "/tmp/fractal-wav-XXXXXX";
  ASSERT_TRUE(mkdtemp(dirName));
  const std::string dir = dirName;
  auto wav = [&](const std::string &name, uint16_t format, uint16_t channels, uint16_t bits, const std::string &data,
                 uint32_t declared) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char *>(&v), 4); };
    auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char *>(&v), 2); };
    f.write("RIFF", 4), u32(36 + uint32_t(data.size())), f.write("WAVEfmt ", 8), u32(16), u16(format), u16(channels);
    u32(8000), u32(8000u * channels * bits / 8), u16(uint16_t(channels * bits / 8)), u16(bits);
    f.write("LIST", 4), u32(3), f.write("abc\0", 4); // an odd-sized chunk to skip, padded
    f.write("data", 4), u32(declared), f.write(data.data(), std::streamsize(data.size()));
    return dir + "/" + name;
  };
  auto bytes = [](const auto &values) {
    return std::string(reinterpret_cast<const char *>(values.data()), values.size() * sizeof(values[0]));
  };
  const std::vector<int16_t> stereo = {16384, -16384, 32767, 32767, -32768, 0};
  Expected<models::Audio> a = models::loadWav(wav("s16.wav", 1, 2, 16, bytes(stereo), 12));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->sampleRate, 8000);
  EXPECT_EQ(a->samples, (std::vector<float>{0.0f, 32767.0f / 32768, -0.5f}));
  const std::vector<float> flt = {0.25f, -1.0f};
  Expected<models::Audio> b = models::loadWav(wav("f32.wav", 3, 1, 32, bytes(flt), 0xffffffffu)); // streamed size
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->samples, flt);
  const std::string s24 = std::string("\x00\x00\x40", 3) + std::string("\x00\x00\xc0", 3); // 0.5, -0.5
  Expected<models::Audio> c = models::loadWav(wav("s24.wav", 1, 1, 24, s24, 6));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->samples, (std::vector<float>{0.5f, -0.5f}));
  Expected<models::Audio> truncated = models::loadWav(wav("short.wav", 1, 1, 16, bytes(stereo), 400));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("its data chunk declares 400 bytes, the file has 12 (truncated?)"),
            std::string::npos) << truncated.error().message;
  Expected<models::Audio> alaw = models::loadWav(wav("alaw.wav", 6, 1, 8, "ab", 2));
  ASSERT_FALSE(alaw.ok());
  EXPECT_NE(alaw.error().message.find("format 6 with 8 bits per sample"), std::string::npos) << alaw.error().message;
  { std::ofstream(dir + "/text.wav") << "not a wave file"; }
  Expected<models::Audio> text = models::loadWav(dir + "/text.wav");
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message.find("no RIFF/WAVE header"), std::string::npos);
  std::filesystem::remove_all(dir);

  models::Audio ramp{8000, {}};
  for (int i = 0; i < 8000; ++i) ramp.samples.push_back(float(i) / 8000);
  const models::Audio up = models::resample(ramp, 16000);
  ASSERT_EQ(up.samples.size(), 16000u);
  EXPECT_FLOAT_EQ(up.samples[3], 1.5f / 8000); // halfway between samples 1 and 2

  // Chunks of 0.1 s: speech from chunk 2; a dip to 0.4 (not below 0.35) does not end it; 0.3 at
  // chunk 6 starts a silence that lasts (0.1 s) and ends it there; a 0.2 s blip is dropped; the
  // last segment runs to the end.
  const std::vector<float> p = {0.1f, 0.2f, 0.9f, 0.4f, 0.8f, 0.6f, 0.3f, 0.1f, 0.9f, 0.9f, 0.1f, 0.1f, 0.7f, 0.7f, 0.8f};
  EXPECT_EQ(models::formatSegments(models::speechSegments(p, 0.1)),
            "speech 0.200 s - 0.600 s\nspeech 1.200 s - 1.500 s\n");
}

// The NLP family's catalog reader (no assets): a little-endian .mo of two messages (the header
// entry and one translation with a plural form) read back; a table past the end refused.
TEST(Language, GettextCatalogs) {
  char dirName[] = "/tmp/fractal-mo-XXXXXX";
  ASSERT_TRUE(mkdtemp(dirName));
  const std::string dir = dirName;
  auto catalog = [&](uint32_t count, const std::vector<std::pair<std::string, std::string>> &strings) {
    std::string b(28, '\0'), pool;
    auto put = [&](size_t at, uint32_t v) { std::memcpy(&b[at], &v, 4); };
    put(0, 0x950412de), put(8, count), put(12, 28), put(16, uint32_t(28 + 8 * strings.size()));
    std::string tables(16 * strings.size(), '\0');
    const size_t poolAt = 28 + tables.size();
    for (size_t i = 0; i < strings.size(); ++i)
      for (int side = 0; side < 2; ++side) {
        const std::string &text = side ? strings[i].second : strings[i].first;
        const uint32_t entry[2] = {uint32_t(text.size()), uint32_t(poolAt + pool.size())};
        std::memcpy(&tables[8 * (side * strings.size() + i)], entry, 8);
        pool += text + '\0';
      }
    const std::string path = dir + "/c" + std::to_string(count) + ".mo";
    std::ofstream(path, std::ios::binary) << b << tables << pool;
    return path;
  };
  const std::vector<std::pair<std::string, std::string>> strings = {
      {"", "Content-Type: text/plain; charset=UTF-8\n"}, {std::string("%d file\0%d files", 16), std::string("%d Datei\0%d Dateien", 18)}};
  Expected<std::vector<std::pair<std::string, std::string>>> read = models::readMoFile(catalog(2, strings));
  ASSERT_TRUE(read.ok()) << read.error().message;
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[1], (std::pair<std::string, std::string>{"%d file", "%d Datei"}));
  Expected<std::vector<std::pair<std::string, std::string>>> past = models::readMoFile(catalog(900, strings));
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message.find("900 strings' tables run past the end of the file"), std::string::npos)
      << past.error().message;
}

// Silero VAD (speech family: STFT as a strided convolution, an encoder of 1-D convolutions, a
// two-layer LSTM, Ifs decided at compile time) through the CLI as a user runs it: `fractal
// compile` with sr bound to 16000, then `fractal vad` (and `fractal vad` given the .onnx itself)
// on espeak-ng's sentence between 1 s and 1.5 s of silence, written as a 22.05 kHz float WAV
// (resampled to 16 kHz by the command). Every
// chunk's speech probability against ONNX Runtime on the same samples with the same carried
// state (within 0.01), the same speech segments, and those segments where the speech is.
TEST(Models, SileroVadFindsTheSpeech) {
  const std::string model = assets() + "/vad/dist/silero_vad.onnx", speech = assets() + "/speech/hello.wav";
  REQUIRE_ASSET(model);
  REQUIRE_ASSET(speech);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Audio> said = models::loadWav(speech);
  ASSERT_TRUE(said.ok()) << (said ? "" : said.error().message);
  const int rate = said->sampleRate;
  std::vector<float> padded(size_t(rate), 0.0f);
  padded.insert(padded.end(), said->samples.begin(), said->samples.end());
  padded.resize(padded.size() + size_t(rate) * 3 / 2, 0.0f);
  const double speechFrom = 1.0, speechTo = 1.0 + double(said->samples.size()) / rate;

  char dirName[] = "/tmp/fractal-vad-XXXXXX";
  ASSERT_TRUE(mkdtemp(dirName));
  const std::string dir = dirName;
  { // a mono 32-bit float WAV (format 3)
    std::ofstream f(dir + "/padded.wav", std::ios::binary);
    auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char *>(&v), 4); };
    auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char *>(&v), 2); };
    const uint32_t bytes = uint32_t(padded.size() * 4);
    f.write("RIFF", 4), u32(36 + bytes), f.write("WAVEfmt ", 8), u32(16), u16(3), u16(1), u32(uint32_t(rate));
    u32(uint32_t(rate) * 4), u16(4), u16(32), f.write("data", 4), u32(bytes);
    f.write(reinterpret_cast<const char *>(padded.data()), bytes);
  }
  const char *src = std::getenv("FRACTAL_SOURCE_DIR");
  const std::string cli = FRACTAL_CLI, fpk = dir + "/vad.fpk";
  const std::string compile = cli + " compile '" + model + "' --input-shape 'input:1,1536;h:2,1,64;c:2,1,64' " +
                              "--bind-input sr=16000 -o '" + fpk + "' > /dev/null 2>&1";
  ASSERT_EQ(std::system(compile.c_str()), 0) << compile;
  const std::string vad = cli + " vad '" + fpk + "' '" + dir + "/padded.wav' --probabilities '" + dir +
                          "/fractal.npy' --samples '" + dir + "/samples.npy' > '" + dir + "/vad.txt'";
  ASSERT_EQ(std::system(vad.c_str()), 0) << vad;
  // The .onnx given directly is compiled so in memory: the same probabilities, bit for bit.
  const std::string direct = cli + " vad '" + model + "' '" + dir + "/padded.wav' --probabilities '" + dir +
                             "/direct.npy' > /dev/null 2>&1";
  ASSERT_EQ(std::system(direct.c_str()), 0) << direct;
  const std::string ort = "NODE_PATH='" + assets() + "/ort/node_modules' node '" + std::string(src ? src : ".") +
                          "/scripts/ort-vad.mjs' '" + model + "' '" + dir + "/samples.npy' '" + dir + "/ort.npy'";
  ASSERT_EQ(std::system(ort.c_str()), 0) << ort;
  Expected<NpyArray> got = readNpyFile(dir + "/fractal.npy"), want = readNpyFile(dir + "/ort.npy"),
                     fromOnnx = readNpyFile(dir + "/direct.npy");
  ASSERT_TRUE(got.ok() && want.ok() && fromOnnx.ok());
  EXPECT_EQ(fromOnnx->data, got->data);
  const std::vector<float> a = floats(*got), b = floats(*want);
  std::string printed;
  {
    std::ifstream f(dir + "/vad.txt");
    printed.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::filesystem::remove_all(dir);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GE(a.size(), size_t(5.0 * 16000 / 1536)); // the padded audio is over 5 s
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LE(worst, 0.01f);
  const double chunk = 1536.0 / 16000;
  const std::vector<models::SpeechSegment> mine = models::speechSegments(a, chunk), theirs = models::speechSegments(b, chunk);
  EXPECT_EQ(models::formatSegments(mine), models::formatSegments(theirs));
  EXPECT_NE(printed.find(models::formatSegments(theirs)), std::string::npos) << printed;
  ASSERT_FALSE(mine.empty());
  EXPECT_GE(mine.front().start, speechFrom - 0.1);
  EXPECT_LE(mine.front().start, speechFrom + 0.3);
  EXPECT_GE(mine.back().end, speechTo - 0.5);
  EXPECT_LE(mine.back().end, speechTo + 0.3);
  std::printf("  %zu chunks, max |fractal - onnxruntime| %.5f, speech %.2f-%.2f s:\n%s", a.size(), worst, speechFrom,
              speechTo, printed.c_str());
}

// A model (its bytes, or `m`) written into a fresh temporary directory (path: the model, empty
// when that failed), which goes away with this object, also when an ASSERT leaves the test early.
struct SavedModel {
  std::string dir, path;
  explicit SavedModel(const std::string &bytes) {
    char name[] = "/tmp/fractal-op-XXXXXX";
    if (!mkdtemp(name)) return;
    dir = name;
    std::ofstream f(dir + "/model.onnx", std::ios::binary);
    if (f.write(bytes.data(), std::streamsize(bytes.size())) && f.flush()) path = dir + "/model.onnx";
  }
  explicit SavedModel(const onnx::ModelProto &m) : SavedModel(m.SerializeAsString()) {}
  ~SavedModel() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  SavedModel(const SavedModel &) = delete;
  SavedModel &operator=(const SavedModel &) = delete;
};

// The predictive-analytics family (models/Analytics.h): models Fractal builds from public-domain
// data, compiled for the edge NPU and run as one batch, against ONNX Runtime on the same batch.


// A model Fractal builds (its ONNX bytes) run on the NPU and on ONNX Runtime with the same input:
// both sets of the named outputs, compared (compareOutputs) on the way.
std::pair<std::map<std::string, NpyArray>, std::map<std::string, NpyArray>>
runBuiltModel(const std::string &onnx, const std::string &inputName, const NpyArray &input,
              const std::vector<std::string> &outputs) {
  const SavedModel saved(onnx);
  EXPECT_FALSE(saved.path.empty());
  if (saved.path.empty()) return {};
  auto got = runFractal(saved.path, "", inputName, input, "functional");
  auto want = runReference(saved.path, inputName, input, outputs);
  compareOutputs(got, want);
  return {std::move(got), std::move(want)};
}

// The echo state network (a tanh RNN unrolled over 24 years, a Gemm readout) forecasting each
// year's sunspot number 1930-2008 from the 24 before: the forecasts match ONNX Runtime's, and
// they beat persistence (next year = this year) by a wide margin, as the model did when fitted.
TEST(Models, SunspotForecasterBeatsPersistence) {
  const std::string csv = assets() + "/analytics/sunspots.csv";
  REQUIRE_ASSET(csv);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Table> table = models::readTable(csv);
  ASSERT_TRUE(table.ok()) << table.error().message;
  Expected<models::BuiltModel> built = models::buildForecaster(*table, 0, 24, 1930);
  ASSERT_TRUE(built.ok()) << built.error().message;
  std::printf("  %s", built->fit.c_str());
  auto [got, want] = runBuiltModel(built->onnx, "history", built->input, {"forecast"});
  const std::vector<float> a = floats(got["forecast"]), b = floats(want["forecast"]);
  ASSERT_EQ(a.size(), built->labels.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  const models::ForecastError mine = models::forecastError(a, *built), theirs = models::forecastError(b, *built);
  std::printf("  %zu forecasts: RMSE %.2f (ONNX Runtime %.2f, max difference %.3f), persistence %.2f\n", a.size(),
              mine.rmse, theirs.rmse, worst, mine.persistence);
  EXPECT_LE(worst, 1.0f); // sunspot numbers run to ~190; fp16 weights in the cube
  EXPECT_LE(std::abs(mine.rmse - theirs.rmse), 0.2);
  EXPECT_LT(mine.rmse, 0.7 * mine.persistence);
}

// The linear autoencoder over El Nino's monthly sea temperatures (a year per row): its highest
// reconstruction errors, on the NPU as on ONNX Runtime, are the two great El Ninos of the period,
// 1982-83 and 1997-98.
TEST(Models, ElNinoAnomaliesAreTheGreatElNinos) {
  const std::string csv = assets() + "/analytics/elnino.csv";
  REQUIRE_ASSET(csv);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Table> table = models::readTable(csv);
  ASSERT_TRUE(table.ok()) << table.error().message;
  Expected<models::BuiltModel> built = models::buildAnomalyDetector(*table);
  ASSERT_TRUE(built.ok()) << built.error().message;
  std::printf("  %s", built->fit.c_str());
  auto [got, want] = runBuiltModel(built->onnx, "profile", built->input, {"reconstruction", "score"});
  const std::string mine = models::rankAnomalies(floats(got["score"]), built->labels, 4);
  const std::string theirs = models::rankAnomalies(floats(want["score"]), built->labels, 4);
  std::printf("  highest scores:\n%s", mine.c_str());
  auto years = [](const std::string &ranking) { // "year score" lines -> the years, sorted
    std::vector<int64_t> out;
    std::istringstream in(ranking);
    int64_t year = 0;
    double score = 0;
    while (in >> year >> score) out.push_back(year);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(years(mine), (std::vector<int64_t>{1982, 1983, 1997, 1998}));
  EXPECT_EQ(years(mine), years(theirs));
}

// The NLP family (models/Language.h): the byte-level encoder that tells a line's language, built
// from coreutils' catalogs, on 700 lines of messages it was not fit on: the NPU's probabilities
// match ONNX Runtime's, the guesses agree, and the guesses are mostly right (7 classes).
TEST(Models, LanguageOfCoreutilsMessages) {
  const std::string locale = assets() + "/nlp/locale";
  REQUIRE_ASSET(locale + "/pt/LC_MESSAGES/coreutils.mo");
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::LanguageData> data = models::readLanguageData(locale, "coreutils", {"de", "en", "es", "fr", "it", "nl", "pt"});
  ASSERT_TRUE(data.ok()) << data.error().message;
  Expected<models::BuiltClassifier> built = models::buildLanguageClassifier(*data);
  ASSERT_TRUE(built.ok()) << built.error().message;
  std::printf("  %s", built->fit.c_str());
  auto [got, want] = runBuiltModel(built->onnx, "bytes", built->input, {"language"});
  const std::vector<float> a = floats(got["language"]), b = floats(want["language"]);
  ASSERT_EQ(a.size(), built->labels.size() * built->languages.size());
  const size_t classes = built->languages.size();
  size_t agree = 0;
  for (size_t r = 0; r < built->labels.size(); ++r) {
    auto best = [&](const std::vector<float> &p) {
      return std::max_element(p.begin() + std::ptrdiff_t(r * classes), p.begin() + std::ptrdiff_t((r + 1) * classes)) -
             p.begin();
    };
    agree += best(a) == best(b);
  }
  double mine = 0, theirs = 0;
  const std::string report = models::languageReport(a, built->labels, built->languages, &mine);
  models::languageReport(b, built->labels, built->languages, &theirs);
  std::printf("%s  guesses agreeing with ONNX Runtime: %zu of %zu; its accuracy %.1f%%\n", report.c_str(), agree,
              built->labels.size(), 100 * theirs);
  EXPECT_GE(double(agree), 0.98 * double(built->labels.size()));
  EXPECT_NEAR(mine, theirs, 0.01);
  EXPECT_GE(mine, 0.7); // chance is 1/7
}

TEST(Models, PpOcrDetPage384x192) { ppocrDet(384, 192); }
TEST(Models, PpOcrDetPage640x640) { ppocrDet(640, 640); }
// Larger pages: the first convolution's bands of the 3-channel image must still fit one copy
// into L1 (at 960x960 they did not, and the model did not compile).
TEST(Models, PpOcrDetPage960x960) { ppocrDet(960, 960); }
// On the buffers of a sweep's small chip (L1 64 KiB, UB 8 KiB; the edge chip's are 1 MiB and 256
// KiB): convolutions whose one-row bands did not fit beside their weights stage shallower K steps
// or hold one band at a time, the squeeze-excitation scales run in place in channel groups, an
// upsampling goes in chunks of pixels. The same text lines as ONNX Runtime (the model had no
// kernels there).
TEST(Models, PpOcrDetPageOnSmallBuffers) {
  Expected<ChipConfig> small = loadChipConfig("edge");
  ASSERT_TRUE(small.ok());
  small->buffer(BufferKind::L1).sizeBytes = 64 << 10;
  small->buffer(BufferKind::UB).sizeBytes = 8 << 10;
  char dir[] = "/tmp/fractal-small-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/small.yaml";
  ASSERT_TRUE(writeFileAtomically(file, chipConfigToYaml(*small)).ok());
  ppocrDet(384, 192, file);
  std::filesystem::remove_all(dir);
}

// A model of opset 13 that also imports ai.onnx.ml at `mlVersion`.
onnx::ModelProto newMlModel(const char *graphName, int64_t mlVersion) {
  onnx::ModelProto m = newModel(13, graphName);
  auto *ml = m.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(mlVersion);
  return m;
}

float half(float v) { return isa::halfToFloat(isa::floatToHalf(v)); }

// Booleans (bytes), int32 or int64 outputs, exactly, as int64.
// An integer (or boolean) array's values, each sign- or zero-extended as its dtype says.
std::vector<int64_t> integers(const NpyArray &a) {
  const size_t width = size_t(a.descr.back() - '0');
  const bool isSigned = a.descr[1] == 'i';
  std::vector<int64_t> values;
  for (size_t at = 0; width && at + width <= a.data.size(); at += width) {
    uint64_t v = 0;
    std::memcpy(&v, a.data.data() + at, width); // little-endian
    const int unused = int(64 - 8 * width);
    values.push_back(isSigned && unused ? int64_t(v << unused) >> unused : int64_t(v));
  }
  return values;
}

// Runs `model` (input "x" of `shape`) in functional and timing mode: every element of each output
// named in `want` within tolerance(output name, expected value) of it.
void expectOutputs(const std::string &model, const std::vector<int64_t> &shape, const std::vector<float> &x,
                   const std::map<std::string, std::vector<double>> &want,
                   const std::function<double(const std::string &, double)> &tolerance) {
  for (const char *mode : {"functional", "timing"}) {
    std::map<std::string, NpyArray> got = runFractal(model, "", "x", floatNpy(shape, x), mode);
    for (const auto &[name, expected] : want) {
      ASSERT_TRUE(got.count(name)) << mode << " " << name;
      std::vector<double> y; // float32 outputs, booleans (bytes) as 0/1, int64 (indices) or int32
      const NpyArray &a = got[name];
      if (a.descr == "|b1" || a.descr == "<i4" || a.descr == "<i8")
        for (int64_t v : integers(a)) y.push_back(double(v));
      else for (float v : floats(a)) y.push_back(v);
      ASSERT_EQ(y.size(), expected.size()) << mode << " " << name;
      for (size_t i = 0; i < y.size(); ++i) {
        if (std::isnan(expected[i])) {
          EXPECT_TRUE(std::isnan(y[i])) << mode << " " << name << " element " << i << ": " << y[i];
        } else if (y[i] != expected[i]) { // (equal infinities have no finite difference)
          EXPECT_NEAR(y[i], expected[i], tolerance(name, expected[i])) << mode << " " << name << " element " << i;
        }
      }
    }
  }
}

// `model`'s host tasks, compiled for the edge chip: "name: reason" each.
std::vector<std::string> hostTasks(const std::string &model) {
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(model, "", *loadChipConfig("edge"), "");
  EXPECT_TRUE(p.ok()) << p.error().message;
  std::vector<std::string> host;
  if (p.ok())
    for (const pkg::Task &t : p->tasks)
      if (t.isHost) host.push_back(t.name + ": " + t.host.reason);
  return host;
}

// The same for a model whose one output is "y", within `tolerance` everywhere.
void expectOutputY(const std::string &model, const std::vector<int64_t> &shape, const std::vector<float> &x,
                   const std::vector<double> &want, double tolerance) {
  expectOutputs(model, shape, x, {{"y", want}}, [&](const std::string &, double) { return tolerance; });
}

// A PyTorch-0.3-style opset-6 model (what the old model zoo holds): Conv1d (x [2, 4, 10], w
// [3, 4, 3], pads 1), a per-channel bias by Add's legacy broadcast=1/axis=1 (a [3] onto
// [2, 3, 10]: numpy broadcasting would align it with the length axis instead), and PRelu with
// opset 6's per-channel slope [3]. Upgraded by ONNX's version converter, run 1-D convolution as
// 2-D, checked against values computed here: a legacy-semantics slip puts channel values on the
// wrong elements, far outside the tolerance.
TEST(CompiledOps, LegacyOpset6Conv1dChannelBiasAndPRelu) {
  const int64_t n = 2, ci = 4, co = 3, len = 10, k = 3;
  onnx::ModelProto m;
  m.set_ir_version(3);
  m.set_producer_name("pytorch");
  m.add_opset_import()->set_version(6);
  onnx::GraphProto *g = m.mutable_graph();
  g->set_name("legacy");
  std::vector<float> x(size_t(n * ci * len)), w(size_t(co * ci * k)), bias{0.25f, -0.5f, 1.0f}, slope{0.1f, 0.3f, -0.2f};
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 29 % 23) - 11) * 0.09f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 17 % 13) - 6) * 0.07f;
  declareFloat(g->add_input(), "x", {n, ci, len});
  floatInitializer(g, "w", {co, ci, k}, w);
  floatInitializer(g, "b", {co}, bias);
  floatInitializer(g, "slope", {co}, slope);
  declareFloat(g->add_input(), "w", {co, ci, k}); // IR 3: initializers are graph inputs too
  declareFloat(g->add_input(), "b", {co});
  declareFloat(g->add_input(), "slope", {co});
  auto *conv = addNode(g, "Conv", {"x", "w"}, "c");
  setInts(conv, "pads", {1, 1});
  setInts(conv, "kernel_shape", {k});
  auto *add = addNode(g, "Add", {"c", "b"}, "a");
  setInt(add, "broadcast", 1);
  setInt(add, "axis", 1);
  addNode(g, "PRelu", {"a", "slope"}, "y");
  declareFloat(g->add_output(), "y", {n, co, len});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // The cube multiplies f16-rounded operands and accumulates in f32.
  std::vector<double> want(size_t(n * co * len));
  double largest = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t t = 0; t < len; ++t) {
        double acc = 0;
        for (int64_t c = 0; c < ci; ++c)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t at = t + j - 1;
            if (at >= 0 && at < len) acc += double(half(x[size_t((b * ci + c) * len + at)])) * half(w[size_t((o * ci + c) * k + j)]);
          }
        acc += bias[size_t(o)];
        const double y = acc >= 0 ? acc : acc * slope[size_t(o)];
        want[size_t((b * co + o) * len + t)] = y;
        largest = std::max(largest, std::abs(y));
      }
  expectOutputY(model, {n, ci, len}, x, want, 2e-3 * largest + 1e-3);
}

// A one-channel 1-D convolution of width 256 at stride 64 over 1736 samples (Silero VAD's STFT):
// img2col's kernel width holds at most 255, so it runs as 64 channels of width 4 at stride 1
// (fractal-stride-to-channels: the 1728 samples it reads, regrouped by a transpose). Against
// sums computed here: a misplaced sample or tap is far outside the tolerance.
TEST(CompiledOps, StridedOneChannelConvolutionFoldsIntoChannels) {
  const int64_t len = 1736, co = 20, k = 256, stride = 64, out = (len - k) / stride + 1;
  onnx::ModelProto m = newModel(13, "stft");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(static_cast<size_t>(len)), w(static_cast<size_t>(co * k)), bias(static_cast<size_t>(co));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 41) - 20) * 0.05f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i * 13 % 29) - 14) * 0.01f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(i) * 0.125f - 1.0f;
  declareFloat(g->add_input(), "x", {1, 1, len});
  floatInitializer(g, "w", {co, 1, k}, w);
  floatInitializer(g, "b", {co}, bias);
  setInts(addNode(g, "Conv", {"x", "w", "b"}, "y"), "strides", {stride});
  declareFloat(g->add_output(), "y", {1, co, out});
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  std::vector<double> want(size_t(co * out));
  double largest = 0;
  for (int64_t o = 0; o < co; ++o)
    for (int64_t t = 0; t < out; ++t) {
      double acc = bias[size_t(o)];
      for (int64_t j = 0; j < k; ++j) acc += double(half(x[size_t(t * stride + j)])) * half(w[size_t(o * k + j)]);
      want[size_t(o * out + t)] = acc;
      largest = std::max(largest, std::abs(acc));
    }
  expectOutputY(saved.path, {1, 1, len}, x, want, 2e-3 * largest + 1e-3);
}

// A convolution a chip's buffers cannot hold (a 3x3 of 32 input channels, whose two K steps of
// weights need 9 KiB of L0B, at 8 KiB) fails to compile with that convolution's own message; the
// ops after it, which find no tensor to read, are counted on one line rather than each listed
// (they buried it: 146 of PP-OCRv4 det's 159 problems on such a chip).
TEST(CompiledOps, OpsAfterAFailedOneAreCountedNotListed) {
  onnx::ModelProto m = newModel(13, "cascade");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {1, 32, 8, 8});
  floatInitializer(g, "w", {16, 32, 3, 3}, std::vector<float>(16 * 32 * 9, 0.01f));
  setInts(addNode(g, "Conv", {"x", "w"}, "c"), "pads", {1, 1, 1, 1});
  addNode(g, "Sigmoid", {"c"}, "s");
  addNode(g, "Transpose", {"s"}, "y");
  declareFloat(g->add_output(), "y", {8, 8, 16, 1});
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  Expected<ChipConfig> small = loadChipConfig("edge");
  ASSERT_TRUE(small.ok());
  small->buffer(BufferKind::L0B).sizeBytes = 8 << 10;
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(saved.path, "", *small, "");
  ASSERT_FALSE(p.ok());
  const std::string &message = p.error().message;
  EXPECT_EQ(p.error().code, ExitCode::BadInput);
  EXPECT_NE(message.find(": 1 op(s) have no NPU kernel or host fallback yet:\n  c: L0 overflow: one K step of the 3x3 "
                         "kernel needs L0A 4608 (16 pixels) and L0B 9216 bytes; the config has L0A 65536, L0B 8192\n  "
                         "(and 2 op(s) after them, which read what those would have produced)"),
            std::string::npos) << message;
  EXPECT_EQ(message.find("neither a tensor"), std::string::npos) << message;
  EXPECT_TRUE(onnx_frontend::compileOnnxModel(saved.path, "", *loadChipConfig("edge"), "").ok()); // edge holds it
}

// A float32 image of few channels goes into its convolution as the model hands it in: NCHW
// planes (two images of 3 channels: the C04 form; of 7: padded to 16) or NHWC pixels behind a
// Transpose, each band's load converting to f16 and gathering the planes (gm2l1_nz from_f32,
// planar), with no Cast or layout kernel first (OnnxImport.SmallChannelImagesAreNotPaddedInGlobalMemory).
// 37x29 images at stride 2 cut into bands of several rows; against sums computed here: a
// misplaced plane, image or row is far outside the tolerance.
TEST(CompiledOps, FewChannelFloatImagesLoadStraightIntoTheConvolution) {
  const int64_t n = 2, h = 37, w = 29, co = 16, k = 3, ho = (h + 2 - k) / 2 + 1, wo = (w + 2 - k) / 2 + 1;
  for (const auto &[ci, nhwc] : std::vector<std::pair<int64_t, bool>>{{3, false}, {7, false}, {3, true}}) {
    SCOPED_TRACE(std::to_string(ci) + (nhwc ? " channels, NHWC" : " channels, NCHW"));
    onnx::ModelProto m = newModel(13, "image");
    onnx::GraphProto *g = m.mutable_graph();
    std::vector<float> x(size_t(n * ci * h * w)), wt(size_t(co * ci * k * k)), bias(static_cast<size_t>(co));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 31 % 47) - 23) * 0.043f + 0x1p-13f; // not all f16
    for (size_t i = 0; i < wt.size(); ++i) wt[i] = float(int(i * 13 % 19) - 9) * 0.05f;
    for (size_t i = 0; i < bias.size(); ++i) bias[i] = float(i) * 0.1f - 0.7f;
    // x in NCHW order; the NHWC model's input is its transpose.
    auto at = [&](int64_t b, int64_t c, int64_t y, int64_t xx) { return x[size_t(((b * ci + c) * h + y) * w + xx)]; };
    std::vector<float> input = x;
    if (nhwc) {
      declareFloat(g->add_input(), "x", {n, h, w, ci});
      for (int64_t b = 0; b < n; ++b)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx)
            for (int64_t c = 0; c < ci; ++c) input[size_t(((b * h + y) * w + xx) * ci + c)] = at(b, c, y, xx);
      setInts(addNode(g, "Transpose", {"x"}, "image"), "perm", {0, 3, 1, 2});
    } else {
      declareFloat(g->add_input(), "x", {n, ci, h, w});
    }
    floatInitializer(g, "w", {co, ci, k, k}, wt);
    floatInitializer(g, "b", {co}, bias);
    onnx::NodeProto *conv = addNode(g, "Conv", {nhwc ? "image" : "x", "w", "b"}, "y");
    setInts(conv, "pads", {1, 1, 1, 1});
    setInts(conv, "strides", {2, 2});
    declareFloat(g->add_output(), "y", {n, co, ho, wo});
    const SavedModel saved(m);
    ASSERT_FALSE(saved.path.empty());
    std::vector<double> want(size_t(n * co * ho * wo));
    double largest = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t o = 0; o < co; ++o)
        for (int64_t oy = 0; oy < ho; ++oy)
          for (int64_t ox = 0; ox < wo; ++ox) {
            double acc = bias[size_t(o)];
            for (int64_t c = 0; c < ci; ++c)
              for (int64_t dy = 0; dy < k; ++dy)
                for (int64_t dx = 0; dx < k; ++dx) {
                  const int64_t y = oy * 2 - 1 + dy, xx = ox * 2 - 1 + dx;
                  if (y >= 0 && y < h && xx >= 0 && xx < w)
                    acc += double(half(at(b, c, y, xx))) * half(wt[size_t(((o * ci + c) * k + dy) * k + dx)]);
                }
            want[size_t(((b * co + o) * ho + oy) * wo + ox)] = acc;
            largest = std::max(largest, std::abs(acc));
          }
    expectOutputY(saved.path, nhwc ? std::vector<int64_t>{n, h, w, ci} : std::vector<int64_t>{n, ci, h, w}, input, want,
                  2e-3 * largest + 1e-3);
  }
}

// A feature pyramid's top-down step, y = up(a) + b (PP-OCRv4 det's FPN): one kernel upsamples a
// into UB and adds b, and writes the sum over b itself when nothing reads b after it
// (BuildPackage's upsampleAddsInPlace); with b also returned (`keepB`), the sum has its own
// memory. Both against values computed here: a sum written over rows of b not yet read, or b
// returned after being overwritten, falls far outside the tolerance.
TEST(CompiledOps, UpsampledSumWrittenOverItsAddend) {
  const int64_t c = 16, h = 16, w = 24;
  std::vector<float> x(size_t(c * h * w)), wa(size_t(c * c)), wb(size_t(c * c));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 37 % 61) - 30) * 0.031f;
  for (size_t i = 0; i < wa.size(); ++i) wa[i] = float(int(i * 11 % 17) - 8) * 0.045f;
  for (size_t i = 0; i < wb.size(); ++i) wb[i] = float(int(i * 7 % 23) - 11) * 0.035f;
  // conv 1x1 on f16 operands, its result stored as f16 (NHWC16), then max pooling by `k`.
  auto convPool = [&](const std::vector<float> &wt, int64_t k) {
    std::vector<double> out(size_t(c * (h / k) * (w / k)), -1e300);
    for (int64_t o = 0; o < c; ++o)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          float acc = 0;
          for (int64_t i = 0; i < c; ++i) acc += half(x[size_t((i * h + y) * w + xx)]) * half(wt[size_t(o * c + i)]);
          double &cell = out[size_t((o * (h / k) + y / k) * (w / k) + xx / k)];
          cell = std::max(cell, double(half(acc)));
        }
    return out;
  };
  const std::vector<double> b = convPool(wb, 2), a = convPool(wa, 4);
  std::vector<double> sum(b.size());
  double largest = 0;
  for (int64_t o = 0; o < c; ++o)
    for (int64_t y = 0; y < h / 2; ++y)
      for (int64_t xx = 0; xx < w / 2; ++xx) {
        const size_t at = size_t((o * (h / 2) + y) * (w / 2) + xx);
        sum[at] = half(float(b[at] + a[size_t((o * (h / 4) + y / 2) * (w / 4) + xx / 2)]));
        largest = std::max(largest, std::abs(sum[at]));
      }
  for (bool keepB : {false, true}) {
    SCOPED_TRACE(keepB ? "b returned too" : "b read only by the sum");
    onnx::ModelProto m = newModel(13, "pyramid_step");
    onnx::GraphProto *g = m.mutable_graph();
    declareFloat(g->add_input(), "x", {1, c, h, w});
    floatInitializer(g, "wa", {c, c, 1, 1}, wa);
    floatInitializer(g, "wb", {c, c, 1, 1}, wb);
    addNode(g, "Conv", {"x", "wb"}, "b0");
    onnx::NodeProto *poolB = addNode(g, "MaxPool", {"b0"}, "b");
    setInts(poolB, "kernel_shape", {2, 2});
    setInts(poolB, "strides", {2, 2});
    addNode(g, "Conv", {"x", "wa"}, "a0");
    onnx::NodeProto *poolA = addNode(g, "MaxPool", {"a0"}, "a");
    setInts(poolA, "kernel_shape", {4, 4});
    setInts(poolA, "strides", {4, 4});
    floatInitializer(g, "scales", {4}, {1.0f, 1.0f, 2.0f, 2.0f});
    onnx::NodeProto *up = addNode(g, "Resize", {"a", "", "scales"}, "au");
    setString(up, "mode", "nearest");
    setString(up, "coordinate_transformation_mode", "asymmetric");
    setString(up, "nearest_mode", "floor");
    addNode(g, "Add", {"au", "b"}, "y");
    declareFloat(g->add_output(), "y", {1, c, h / 2, w / 2});
    if (keepB) declareFloat(g->add_output(), "b", {1, c, h / 2, w / 2});
    const SavedModel saved(m);
    ASSERT_FALSE(saved.path.empty());
    Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(saved.path, "", *loadChipConfig("edge"), "");
    ASSERT_TRUE(p.ok()) << p.error().message;
    // The fused kernel's arguments (a part of the model's kernel sequence, or a task of its own):
    // the addend b, the map to upsample, the sum.
    std::vector<uint32_t> args;
    for (const pkg::Task &t : p->tasks) {
      if (t.opType == "Resize+Add") args = t.launch.tensors;
      size_t first = 0;
      for (const pkg::KernelSegment &part : t.launch.segments) {
        if (part.opType == "Resize+Add")
          args.assign(t.launch.tensors.begin() + std::ptrdiff_t(first),
                      t.launch.tensors.begin() + std::ptrdiff_t(first + part.tensors));
        first += part.tensors;
      }
    }
    ASSERT_EQ(args.size(), 3u) << "the upsampling and the Add in one kernel";
    uint32_t addend = args[0];
    while (p->tensors[addend].aliasOf != pkg::kNoAlias) addend = p->tensors[addend].aliasOf;
    EXPECT_EQ(p->tensors[args[2]].aliasOf, keepB ? pkg::kNoAlias : addend);
    EXPECT_EQ(p->tensors[args[2]].offset == p->tensors[addend].offset, !keepB);
    std::map<std::string, std::vector<double>> want{{"y", sum}};
    if (keepB) want["b"] = b;
    expectOutputs(saved.path, {1, c, h, w}, x, want, [&](const std::string &, double) { return 2e-3 * largest + 1e-3; });
  }
}

// Squeeze-excitation's scaling, y = c * sigmoid(mean(c)) per channel: the per-channel kernel
// writes y over c, which nothing reads after it (with `keepC`, c is returned too and y has its
// own memory). Against values computed here.
TEST(CompiledOps, PerChannelProductWrittenOverItsOperand) {
  const int64_t c = 32, h = 12, w = 20;
  std::vector<float> x(size_t(16 * h * w)), wt(size_t(c * 16));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 41 % 53) - 26) * 0.027f;
  for (size_t i = 0; i < wt.size(); ++i) wt[i] = float(int(i * 13 % 29) - 14) * 0.031f;
  std::vector<double> conv(size_t(c * h * w)), y(conv.size());
  double largest = 0;
  for (int64_t o = 0; o < c; ++o) {
    double mean = 0;
    for (int64_t p = 0; p < h * w; ++p) {
      float acc = 0;
      for (int64_t i = 0; i < 16; ++i) acc += half(x[size_t(i * h * w + p)]) * half(wt[size_t(o * 16 + i)]);
      conv[size_t(o * h * w + p)] = half(acc);
      mean += half(acc) / double(h * w);
    }
    const double scale = 1 / (1 + std::exp(-mean));
    for (int64_t p = 0; p < h * w; ++p) {
      y[size_t(o * h * w + p)] = conv[size_t(o * h * w + p)] * scale;
      largest = std::max(largest, std::abs(y[size_t(o * h * w + p)]));
    }
  }
  for (bool keepC : {false, true}) {
    SCOPED_TRACE(keepC ? "c returned too" : "c read only by the product");
    onnx::ModelProto m = newModel(13, "squeeze_excite");
    onnx::GraphProto *g = m.mutable_graph();
    declareFloat(g->add_input(), "x", {1, 16, h, w});
    floatInitializer(g, "w", {c, 16, 1, 1}, wt);
    addNode(g, "Conv", {"x", "w"}, "c");
    addNode(g, "GlobalAveragePool", {"c"}, "m");
    addNode(g, "Sigmoid", {"m"}, "s");
    addNode(g, "Mul", {"c", "s"}, "y");
    declareFloat(g->add_output(), "y", {1, c, h, w});
    if (keepC) declareFloat(g->add_output(), "c", {1, c, h, w});
    const SavedModel saved(m);
    ASSERT_FALSE(saved.path.empty());
    Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(saved.path, "", *loadChipConfig("edge"), "");
    ASSERT_TRUE(p.ok()) << p.error().message;
    const pkg::Tensor *product = nullptr;
    for (const pkg::Tensor &t : p->tensors)
      if (t.name == "y" && t.layout == "NHWC16") product = &t;
    ASSERT_NE(product, nullptr) << "the per-channel kernel's NHWC16 result";
    EXPECT_EQ(product->aliasOf != pkg::kNoAlias, !keepC);
    std::map<std::string, std::vector<double>> want{{"y", y}};
    if (keepC) want["c"] = conv;
    expectOutputs(saved.path, {1, 16, h, w}, x, want, [&](const std::string &, double) { return 2e-3 * largest + 1e-3; });
  }
}

// Softmax and LogSoftmax over short rows, against values computed here in double: 33 values, 80
// rows (fractal-short-row-softmax runs them across the rows of the transposed tensor), and 40
// values (whole 32-byte blocks: chunks of rows as they are, generateShortSoftmaxRows).
TEST(CompiledOps, SoftmaxOfShortRows) {
  for (const int64_t row : {33, 40}) {
    SCOPED_TRACE("rows of " + std::to_string(row));
    const int64_t batch = 2, rows = 40;
    onnx::ModelProto m = newModel(13, "short_rows");
    onnx::GraphProto *g = m.mutable_graph();
    declareFloat(g->add_input(), "x", {batch, rows, row});
    addNode(g, "Softmax", {"x"}, "y");
    addNode(g, "LogSoftmax", {"x"}, "l");
    declareFloat(g->add_output(), "y", {batch, rows, row});
    declareFloat(g->add_output(), "l", {batch, rows, row});
    const SavedModel saved(m);
    ASSERT_FALSE(saved.path.empty());
    std::vector<float> x(static_cast<size_t>(batch * rows * row));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 53 % 97) - 48) * 0.125f;
    std::map<std::string, std::vector<double>> want;
    for (int64_t r = 0; r < batch * rows; ++r) {
      double top = -1e300, sum = 0;
      for (int64_t j = 0; j < row; ++j) top = std::max(top, double(x[size_t(r * row + j)]));
      for (int64_t j = 0; j < row; ++j) sum += std::exp(double(x[size_t(r * row + j)]) - top);
      for (int64_t j = 0; j < row; ++j) {
        const double d = double(x[size_t(r * row + j)]) - top;
        want["y"].push_back(std::exp(d) / sum);
        want["l"].push_back(d - std::log(sum));
      }
    }
    expectOutputs(saved.path, {batch, rows, row}, x, want, [](const std::string &, double e) { return 2e-6 * std::fabs(e) + 1e-7; });
  }
}

// Pow by constant exponents (3: products; 1.5: exp(y * log x); -0.5: a reciprocal square root),
// variadic Mean with broadcasting and GlobalMaxPool, on the vector unit in f32, against values
// computed here.
TEST(CompiledOps, PowerMeanAndGlobalMaxPool) {
  const std::vector<int64_t> shape{1, 3, 4, 5};
  onnx::ModelProto m = newModel(13, "ops");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(60), row{0.5f, -1.0f, 2.0f, 0.25f, 3.0f};
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f + float(i * 7 % 31) * 0.125f; // positive: 0.25 .. 4
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "three", {}, {3.0f});
  floatInitializer(g, "one_and_half", {}, {1.5f});
  floatInitializer(g, "minus_half", {}, {-0.5f});
  floatInitializer(g, "row", {5}, row);
  addNode(g, "Pow", {"x", "three"}, "cube");
  addNode(g, "Pow", {"x", "one_and_half"}, "pow15");
  addNode(g, "Pow", {"x", "minus_half"}, "rsqrt");
  addNode(g, "Mean", {"x", "row", "x"}, "mean");
  addNode(g, "GlobalMaxPool", {"x"}, "gmp");
  for (const char *name : {"cube", "pow15", "rsqrt", "mean"}) declareFloat(g->add_output(), name, shape);
  declareFloat(g->add_output(), "gmp", {1, 3, 1, 1});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::map<std::string, std::vector<double>> want;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    want["cube"].push_back(v * v * v);
    want["pow15"].push_back(std::pow(v, 1.5));
    want["rsqrt"].push_back(1.0 / std::sqrt(v));
    want["mean"].push_back((2 * v + row[i % 5]) / 3);
  }
  for (int64_t c = 0; c < 3; ++c)
    want["gmp"].push_back(*std::max_element(x.begin() + c * 20, x.begin() + c * 20 + 20));
  expectOutputs(model, shape, x, want, [](const std::string &, double v) { return 1e-5 * std::abs(v) + 1e-6; });
}

// Recurrent layers as an exporter writes them (constant weights, so the importer's transposes and
// bias sums fold): a bidirectional LSTM (seq 3, batch 2, input 4, hidden 5; Y, Y_h, Y_c) and a GRU
// with linear_before_reset, batch-first layout and an initial state, also bidirectional (hidden 3;
// Y_h only; its input the LSTM's transposed, its state [batch, 2, H]), unrolled over the sequence,
// against the ONNX equations computed here. Matrix operands go through f16 on the cube, hence the
// tolerance; a wrong gate order or direction is off by far more.
TEST(CompiledOps, BidirectionalLstmAndGruWithConstantWeights) {
  const int64_t seq = 3, batch = 2, in = 4, hl = 5, hg = 3;
  onnx::ModelProto m = newModel(14, "recurrent");
  onnx::GraphProto *g = m.mutable_graph();
  auto values = [](size_t n, int mul, int mod, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float(int(i * size_t(mul) % size_t(mod)) - mod / 2) * scale;
    return v;
  };
  const std::vector<float> x = values(size_t(seq * batch * in), 7, 19, 0.1f);
  const std::vector<float> lw = values(size_t(2 * 4 * hl * in), 11, 23, 0.04f), lr = values(size_t(2 * 4 * hl * hl), 13, 29, 0.03f),
                           lb = values(size_t(2 * 8 * hl), 5, 17, 0.05f);
  const std::vector<float> gw = values(size_t(2 * 3 * hg * in), 3, 13, 0.06f), gr = values(size_t(2 * 3 * hg * hg), 17, 11, 0.07f),
                           gb = values(size_t(2 * 6 * hg), 7, 9, 0.05f), gh0 = values(size_t(batch * 2 * hg), 5, 7, 0.1f);
  declareFloat(g->add_input(), "x", {seq, batch, in});
  floatInitializer(g, "lw", {2, 4 * hl, in}, lw);
  floatInitializer(g, "lr", {2, 4 * hl, hl}, lr);
  floatInitializer(g, "lb", {2, 8 * hl}, lb);
  floatInitializer(g, "gw", {2, 3 * hg, in}, gw);
  floatInitializer(g, "gr", {2, 3 * hg, hg}, gr);
  floatInitializer(g, "gb", {2, 6 * hg}, gb);
  floatInitializer(g, "gh0", {batch, 2, hg}, gh0);
  onnx::NodeProto *lstm = addNode(g, "LSTM", {"x", "lw", "lr", "lb"}, "lstm_y");
  lstm->add_output("lstm_h");
  lstm->add_output("lstm_c");
  setInt(lstm, "hidden_size", hl);
  auto *direction = lstm->add_attribute();
  direction->set_name("direction");
  direction->set_type(onnx::AttributeProto::STRING);
  direction->set_s("bidirectional");
  setInts(addNode(g, "Transpose", {"x"}, "x_batch_first"), "perm", {1, 0, 2});
  onnx::NodeProto *gru = addNode(g, "GRU", {"x_batch_first", "gw", "gr", "gb", "", "gh0"}, "");
  gru->add_output("gru_h");
  setInt(gru, "hidden_size", hg);
  setInt(gru, "linear_before_reset", 1);
  setInt(gru, "layout", 1);
  auto *gruDirection = gru->add_attribute();
  gruDirection->CopyFrom(*direction);
  declareFloat(g->add_output(), "lstm_y", {seq, 2, batch, hl});
  declareFloat(g->add_output(), "lstm_h", {2, batch, hl});
  declareFloat(g->add_output(), "lstm_c", {2, batch, hl});
  declareFloat(g->add_output(), "gru_h", {batch, 2, hg});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());

  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  // row . M^T + bias for M [rows, cols] at `m`, one output per row of M
  auto affine = [](const float *row, const float *mat, int64_t rows, int64_t cols, const float *bias) {
    std::vector<double> out(static_cast<size_t>(rows), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      double acc = bias ? bias[r] : 0.0;
      for (int64_t c = 0; c < cols; ++c) acc += double(row[c]) * mat[r * cols + c];
      out[size_t(r)] = acc;
    }
    return out;
  };
  std::map<std::string, std::vector<double>> want;
  want["lstm_y"].assign(size_t(seq * 2 * batch * hl), 0);
  want["lstm_h"].assign(size_t(2 * batch * hl), 0);
  want["lstm_c"].assign(size_t(2 * batch * hl), 0);
  for (int64_t d = 0; d < 2; ++d)
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<float> h(size_t(hl), 0.0f);
      std::vector<double> c(size_t(hl), 0.0);
      std::vector<float> bias(size_t(4 * hl));
      for (int64_t k = 0; k < 4 * hl; ++k) bias[size_t(k)] = lb[size_t(d * 8 * hl + k)] + lb[size_t(d * 8 * hl + 4 * hl + k)];
      for (int64_t step = 0; step < seq; ++step) {
        const int64_t t = d == 0 ? step : seq - 1 - step;
        std::vector<double> z = affine(&x[size_t((t * batch + b) * in)], &lw[size_t(d * 4 * hl * in)], 4 * hl, in, bias.data());
        const std::vector<double> r = affine(h.data(), &lr[size_t(d * 4 * hl * hl)], 4 * hl, hl, nullptr);
        for (size_t k = 0; k < z.size(); ++k) z[k] += r[k];
        for (int64_t j = 0; j < hl; ++j) { // gates i, o, f, c
          const double i = sigmoid(z[size_t(j)]), o = sigmoid(z[size_t(hl + j)]), f = sigmoid(z[size_t(2 * hl + j)]),
                       cc = std::tanh(z[size_t(3 * hl + j)]);
          c[size_t(j)] = f * c[size_t(j)] + i * cc;
          h[size_t(j)] = float(o * std::tanh(c[size_t(j)]));
          want["lstm_y"][size_t(((t * 2 + d) * batch + b) * hl + j)] = h[size_t(j)];
        }
      }
      for (int64_t j = 0; j < hl; ++j) {
        want["lstm_h"][size_t((d * batch + b) * hl + j)] = h[size_t(j)];
        want["lstm_c"][size_t((d * batch + b) * hl + j)] = c[size_t(j)];
      }
    }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t d = 0; d < 2; ++d) { // gh0 and gru_h are [batch, directions, H]
      std::vector<float> h(gh0.begin() + (b * 2 + d) * hg, gh0.begin() + (b * 2 + d + 1) * hg);
      for (int64_t step = 0; step < seq; ++step) {
        const int64_t t = d == 0 ? step : seq - 1 - step;
        const float *bias = &gb[size_t(d * 6 * hg)];
        const std::vector<double> xw = affine(&x[size_t((t * batch + b) * in)], &gw[size_t(d * 3 * hg * in)], 3 * hg, in, bias);
        const std::vector<double> hr = affine(h.data(), &gr[size_t(d * 3 * hg * hg)], 3 * hg, hg, bias + 3 * hg);
        std::vector<float> next(static_cast<size_t>(hg), 0.0f);
        for (int64_t j = 0; j < hg; ++j) { // gates z, r, h; the reset after the recurrent product
          const double z = sigmoid(xw[size_t(j)] + hr[size_t(j)]), r = sigmoid(xw[size_t(hg + j)] + hr[size_t(hg + j)]);
          const double hh = std::tanh(xw[size_t(2 * hg + j)] + r * hr[size_t(2 * hg + j)]);
          next[size_t(j)] = float((1 - z) * hh + z * h[size_t(j)]);
        }
        h = next;
      }
      for (int64_t j = 0; j < hg; ++j) want["gru_h"].push_back(h[size_t(j)]);
    }
  expectOutputs(model, {seq, batch, in}, x, want, [](const std::string &, double) { return 5e-4; });
}

// Tile as a broadcast add (repeats [1, 2, 1, 3]: a repeated channel axis and a repeated last
// axis) and InstanceNormalization as a layer norm over the spatial axes, then the per-channel
// scale and bias, against values computed here.
TEST(CompiledOps, TileAndInstanceNormalization) {
  const std::vector<int64_t> shape{1, 2, 3, 4};
  onnx::ModelProto m = newModel(13, "tile");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(24);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 11 % 19) - 9) * 0.3f;
  const std::vector<float> scale{1.5f, -0.5f}, bias{0.25f, 2.0f};
  declareFloat(g->add_input(), "x", shape);
  intInitializer(g, "repeats", onnx::TensorProto::INT64, {4}, {1, 2, 1, 3});
  floatInitializer(g, "scale", {2}, scale);
  floatInitializer(g, "bias", {2}, bias);
  addNode(g, "Tile", {"x", "repeats"}, "tiled");
  addNode(g, "InstanceNormalization", {"x", "scale", "bias"}, "normalized");
  declareFloat(g->add_output(), "tiled", {1, 4, 3, 12});
  declareFloat(g->add_output(), "normalized", shape);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::map<std::string, std::vector<double>> want;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t w = 0; w < 12; ++w) want["tiled"].push_back(x[size_t((c % 2) * 12 + h * 4 + w % 4)]);
  for (int64_t c = 0; c < 2; ++c) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 12; ++i) mean += x[size_t(c * 12 + i)] / 12.0;
    for (int64_t i = 0; i < 12; ++i) var += (x[size_t(c * 12 + i)] - mean) * (x[size_t(c * 12 + i)] - mean) / 12.0;
    for (int64_t i = 0; i < 12; ++i)
      want["normalized"].push_back((x[size_t(c * 12 + i)] - mean) / std::sqrt(var + 1e-5) * scale[size_t(c)] + bias[size_t(c)]);
  }
  // Tile copies; the layer norm kernel's statistics are about f16-exact (1.2e-3 at most here).
  expectOutputs(model, shape, x, want, [](const std::string &name, double) { return name == "tiled" ? 0.0 : 2e-3; });
}

// Comparisons, boolean logic, Where and the casts to and from bool on the vector unit, against
// values computed here: [3, 70] (a tail of 82 elements past the last 128), float comparisons with
// ties, an int32 Equal, a Where on a broadcast [1, 70] condition and a scalar y, Cast of x with
// zeros to bool. Booleans are bytes; every output is exact.
TEST(CompiledOps, ComparisonsBooleansAndWhere) {
  const std::vector<int64_t> shape{3, 70};
  const size_t n = 210;
  onnx::ModelProto m = newModel(16, "predicates");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(n), y(n);
  std::vector<int32_t> i32(n), j32(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = float(int(i * 7 % 11) - 5) * 0.25f; // zeros and 0.5s among them
    y[i] = i % 3 == 0 ? x[i] : float(int(i * 5 % 13) - 6) * 0.2f;
    i32[i] = int32_t(i % 4) - 1000000;
    j32[i] = int32_t(i % 3) - 1000000;
  }
  std::vector<uint8_t> row(70);
  for (size_t i = 0; i < row.size(); ++i) row[i] = i % 5 < 2;
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "y", shape, y);
  floatInitializer(g, "half", {}, {0.5f});
  floatInitializer(g, "minus", {}, {-100.0f});
  intInitializer(g, "i", onnx::TensorProto::INT32, shape, {i32.begin(), i32.end()});
  intInitializer(g, "j", onnx::TensorProto::INT32, shape, {j32.begin(), j32.end()});
  onnx::TensorProto *cond = g->add_initializer();
  cond->set_name("row");
  cond->set_data_type(onnx::TensorProto::BOOL);
  cond->add_dims(1);
  cond->add_dims(70);
  for (uint8_t b : row) cond->add_int32_data(b);
  addNode(g, "Greater", {"x", "y"}, "gt");
  addNode(g, "LessOrEqual", {"x", "half"}, "le");
  addNode(g, "Equal", {"x", "y"}, "eq");
  addNode(g, "And", {"gt", "le"}, "and");
  addNode(g, "Or", {"eq", "le"}, "or");
  addNode(g, "Xor", {"gt", "le"}, "xor");
  addNode(g, "Not", {"and"}, "not");
  addNode(g, "Where", {"xor", "x", "y"}, "where");
  addNode(g, "Where", {"row", "x", "minus"}, "where_row");
  setInt(addNode(g, "Cast", {"or"}, "or_float"), "to", onnx::TensorProto::FLOAT);
  setInt(addNode(g, "Cast", {"x"}, "x_bool"), "to", onnx::TensorProto::BOOL);
  addNode(g, "Equal", {"i", "j"}, "int_eq");
  for (const char *b : {"and", "or", "not", "x_bool", "int_eq"}) {
    onnx::ValueInfoProto *v = g->add_output();
    v->set_name(b);
    auto *t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::BOOL);
    for (int64_t d : shape) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
  for (const char *f : {"where", "where_row", "or_float"}) declareFloat(g->add_output(), f, shape);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::map<std::string, std::vector<double>> want;
  for (size_t i = 0; i < n; ++i) {
    const bool gt = x[i] > y[i], le = x[i] <= 0.5f, eq = x[i] == y[i];
    want["and"].push_back(gt && le);
    want["or"].push_back(eq || le);
    want["not"].push_back(!(gt && le));
    want["x_bool"].push_back(x[i] != 0.0f);
    want["int_eq"].push_back(i32[i] == j32[i]);
    want["where"].push_back(gt != le ? x[i] : y[i]);
    want["where_row"].push_back(row[i % 70] ? x[i] : -100.0f);
    want["or_float"].push_back(eq || le);
  }
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
}

// Floor, Ceil, Round (half to even), Sign and Erf on the vector unit, against <cmath>: halves of
// both signs, values past 2^23 and past int32 (which the int32 round trip must not touch),
// infinities and zeros; Erf within the approximation's 1.5e-7 (and float rounding).
TEST(CompiledOps, RoundingSignAndErf) {
  std::vector<float> x = {-2.5f, -1.5f, -0.5f, -0.3f, 0.0f, 0.3f, 0.5f, 1.5f, 2.5f, 2.7f, -2.7f, 1e-3f,
                          8388609.0f, -12582913.0f, 3e9f, -5e10f, INFINITY, -INFINITY, 4.0f, -3.999f};
  for (int i = 0; i < 50; ++i) x.push_back(float(i - 25) * 0.173f); // and a second repeat of lanes
  const std::vector<int64_t> shape{int64_t(x.size())};
  onnx::ModelProto m = newModel(13, "rounding");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  std::map<std::string, std::vector<double>> want;
  for (const char *op : {"Floor", "Ceil", "Round", "Sign", "Erf"}) {
    addNode(g, op, {"x"}, op);
    declareFloat(g->add_output(), op, shape);
    for (float v : x) {
      const std::string o = op;
      want[o].push_back(o == "Floor" ? std::floor(v) : o == "Ceil" ? std::ceil(v) : o == "Round" ? std::nearbyint(v)
                        : o == "Sign" ? (v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0) : std::erf(double(v)));
    }
  }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  expectOutputs(model, shape, x, want, [](const std::string &name, double) { return name == "Erf" ? 3e-7 : 0.0; });
}

// Sin, Cos, Tan, Asin, Acos and Atan on the vector unit against <cmath> in double: both signs,
// multiples of pi/2 and points near them (where the reduction's sign flips), |x| up to 1e5 (the
// three-part pi keeps the reduced argument to a few 1e-7), +-1 and values outside [-1, 1] for the
// inverses (NaN), infinities and NaN.
TEST(CompiledOps, TrigonometricFunctions) {
  std::vector<float> x = {0.0f, -0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.999f, -0.9999f, 1.5707963f, -1.5707964f, 3.1415927f,
                          4.712389f, 2.0f, -2.5f, 7.0f, -20.0f, 100.0f, 1234.5f, -9999.0f, 1e-6f, 0.41421357f,
                          2.4142137f, 3.0f, -45.0f, 1e5f, -65432.1f, INFINITY, -INFINITY, NAN};
  for (int i = 0; i < 60; ++i) x.push_back(float(i - 30) * 0.0731f); // a second repeat of lanes
  const std::vector<int64_t> shape{int64_t(x.size())};
  onnx::ModelProto m = newModel(13, "trigonometric");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  using Function = double (*)(double);
  const std::map<std::string, Function> functions = {
      {"Sin", [](double v) { return std::sin(v); }},   {"Cos", [](double v) { return std::cos(v); }},
      {"Tan", [](double v) { return std::tan(v); }},   {"Asin", [](double v) { return std::asin(v); }},
      {"Acos", [](double v) { return std::acos(v); }}, {"Atan", [](double v) { return std::atan(v); }}};
  std::map<std::string, std::vector<double>> want;
  for (const auto &[op, f] : functions) {
    addNode(g, op.c_str(), {"x"}, op.c_str());
    declareFloat(g->add_output(), op.c_str(), shape);
    for (float v : x) want[op].push_back(f(double(v)));
  }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  expectOutputs(model, shape, x, want, [](const std::string &, double e) { return 5e-7 + 1e-6 * std::fabs(e); });
}

// ReduceProd (signs by the count of negatives, a zero), ReduceMean over axes that are not adjacent
// (through a transpose) and MeanVarianceNormalization (its default axes 0, 2, 3, not adjacent
// either) on a [2, 3, 2, 2] tensor, against the sums and products in double.
TEST(CompiledOps, ProductsAndReductionsOverSeparateAxes) {
  const std::vector<int64_t> shape{2, 3, 2, 2};
  std::vector<float> x;
  for (int i = 0; i < 24; ++i) x.push_back(i == 7 ? 0.0f : float((i * 7) % 11 - 5) * 0.37f + (i % 3 == 0 ? 0.0f : 0.11f));
  onnx::ModelProto m = newModel(13, "products");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  setInts(addNode(g, "ReduceProd", {"x"}, "prod_0_2"), "axes", {0, 2});
  onnx::NodeProto *last = addNode(g, "ReduceProd", {"x"}, "prod_3");
  setInts(last, "axes", {-1});
  setInt(last, "keepdims", 0);
  setInts(addNode(g, "ReduceMean", {"x"}, "mean_1_3"), "axes", {1, 3});
  addNode(g, "MeanVarianceNormalization", {"x"}, "mvn");
  declareFloat(g->add_output(), "prod_0_2", {1, 3, 1, 2});
  declareFloat(g->add_output(), "prod_3", {2, 3, 2});
  declareFloat(g->add_output(), "mean_1_3", {2, 1, 2, 1});
  declareFloat(g->add_output(), "mvn", shape);
  auto at = [&](int n, int c, int h, int w) { return double(x[((n * 3 + c) * 2 + h) * 2 + w]); };
  std::map<std::string, std::vector<double>> want;
  for (int c = 0; c < 3; ++c)
    for (int w = 0; w < 2; ++w) want["prod_0_2"].push_back(at(0, c, 0, w) * at(0, c, 1, w) * at(1, c, 0, w) * at(1, c, 1, w));
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 2; ++h) want["prod_3"].push_back(at(n, c, h, 0) * at(n, c, h, 1));
  for (int n = 0; n < 2; ++n)
    for (int h = 0; h < 2; ++h) {
      double sum = 0;
      for (int c = 0; c < 3; ++c) sum += at(n, c, h, 0) + at(n, c, h, 1);
      want["mean_1_3"].push_back(sum / 6);
    }
  std::vector<double> mean(3), deviation(3);
  for (int c = 0; c < 3; ++c) {
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) mean[c] += at(n, c, i / 2, i % 2) / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) deviation[c] += std::pow(at(n, c, i / 2, i % 2) - mean[c], 2) / 8;
    deviation[c] = std::sqrt(deviation[c]);
  }
  for (int i = 0; i < 24; ++i) want["mvn"].push_back((double(x[i]) - mean[i / 4 % 3]) / deviation[i / 4 % 3]);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // exp(sum of logs): a few float ulps of the product. MVN's 4-D centring and division run as
  // per-channel feature-map kernels, in float16 (docs/compiler.md): ~1e-4 relative.
  expectOutputs(model, shape, x, want, [](const std::string &name, double e) {
    return name == "mvn" ? 5e-4 + 5e-4 * std::fabs(e) : 1e-6 + 2e-6 * std::fabs(e);
  });
}

// TopK along a middle axis (moved last by transposes, selected on the vector unit): the largest
// along axis 1 of a [2, 5, 3] tensor, and the smallest along the last axis, with ties (the lower
// index first), values and int64 indices exact, against a sort here.
TEST(CompiledOps, TopKAlongAMiddleAxisThroughTransposes) {
  const std::vector<int64_t> shape{2, 5, 3};
  std::vector<float> x;
  for (int i = 0; i < 30; ++i) x.push_back(float((i * 7) % 5) - 1.5f + (i % 4 == 0 ? 0.25f : 0.0f));
  onnx::ModelProto m = newModel(13, "top_k");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  intInitializer(g, "k2", onnx::TensorProto::INT64, {1}, {2});
  intInitializer(g, "k3", onnx::TensorProto::INT64, {1}, {3});
  onnx::NodeProto *largest = addNode(g, "TopK", {"x", "k2"}, "top");
  largest->add_output("top_index");
  setInt(largest, "axis", 1);
  onnx::NodeProto *smallest = addNode(g, "TopK", {"x", "k3"}, "bottom");
  smallest->add_output("bottom_index");
  setInt(smallest, "largest", 0);
  for (const char *name : {"top", "top_index"}) {
    declareFloat(g->add_output(), name, {2, 2, 3});
    if (name[3] == '_') g->mutable_output(g->output_size() - 1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  }
  for (const char *name : {"bottom", "bottom_index"}) {
    declareFloat(g->add_output(), name, {2, 5, 3});
    if (name[6] == '_') g->mutable_output(g->output_size() - 1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  }
  std::map<std::string, std::vector<double>> want;
  auto sorted = [&](std::vector<int> index, bool descending) { // stable: ties keep the lower index first
    std::stable_sort(index.begin(), index.end(), [&](int a, int b) { return descending ? x[a] > x[b] : x[a] < x[b]; });
    return index;
  };
  std::vector<std::vector<double>> top(4), bottom(4); // [values, indices] in output order
  for (int n = 0; n < 2; ++n) {
    for (int j = 0; j < 2; ++j)
      for (int w = 0; w < 3; ++w) {
        std::vector<int> column;
        for (int h = 0; h < 5; ++h) column.push_back((n * 5 + h) * 3 + w);
        const int pick = sorted(column, true)[j];
        want["top"].push_back(x[pick]);
        want["top_index"].push_back((pick / 3) % 5);
      }
    for (int h = 0; h < 5; ++h) {
      std::vector<int> row = {(n * 5 + h) * 3, (n * 5 + h) * 3 + 1, (n * 5 + h) * 3 + 2};
      for (int pick : sorted(row, false)) {
        want["bottom"].push_back(x[pick]);
        want["bottom_index"].push_back(pick % 3);
      }
    }
  }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  EXPECT_EQ(hostTasks(model), std::vector<std::string>{});
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
}

// TopK along the last axis on the vector unit: rows of 150 values (three repeats, the last one
// partial) with ties, -0 and +0, infinities and NaN; the 7 largest, all 150 smallest (a full
// sort) and the 5 largest of the rows as [3, 150, 1] (a trailing 1: still the last axis). Values
// and indices exactly as a stable sort with NaN above every number (the host kernel's and
// numpy's order); no task on the host.
TEST(CompiledOps, TopKAlongTheLastAxisOnTheVectorUnit) {
  const int64_t rows = 3, n = 150;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x;
  for (int64_t i = 0; i < n; ++i) x.push_back(float((i * 37) % 11) - 5.0f); // ties: each value ~14 times
  for (int64_t i : {3, 70, 149}) x[size_t(i)] = nan;
  x[10] = inf, x[20] = -inf, x[30] = inf, x[40] = -0.0f, x[41] = 0.0f, x[42] = -0.0f;
  for (int64_t i = 0; i < n; ++i) x.push_back(2.5f);             // one value throughout
  for (int64_t i = 0; i < n; ++i) x.push_back(float((i * 7919) % 1009) / 13.0f - 40.0f);
  onnx::ModelProto m = newModel(13, "top_k_vector");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {rows, n});
  intInitializer(g, "k7", onnx::TensorProto::INT64, {1}, {7});
  intInitializer(g, "k150", onnx::TensorProto::INT64, {1}, {n});
  intInitializer(g, "k5", onnx::TensorProto::INT64, {1}, {5});
  intInitializer(g, "axis2", onnx::TensorProto::INT64, {1}, {2});
  addNode(g, "TopK", {"x", "k7"}, "top")->add_output("top_index");
  onnx::NodeProto *bottom = addNode(g, "TopK", {"x", "k150"}, "bottom");
  bottom->add_output("bottom_index");
  setInt(bottom, "largest", 0);
  addNode(g, "Unsqueeze", {"x", "axis2"}, "x3");
  onnx::NodeProto *column = addNode(g, "TopK", {"x3", "k5"}, "column");
  column->add_output("column_index");
  setInt(column, "axis", 1);
  for (auto [name, dims] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"top", {rows, 7}}, {"bottom", {rows, n}}, {"column", {rows, 5, 1}}}) {
    declareFloat(g->add_output(), name.c_str(), dims);
    declareTensor(g->add_output(), (name + "_index").c_str(), dims, onnx::TensorProto::INT64);
  }
  auto greater = [](float a, float b) { return std::isnan(a) ? !std::isnan(b) : !std::isnan(b) && a > b; };
  std::map<std::string, std::vector<double>> want;
  for (auto [name, k, largest] : std::vector<std::tuple<std::string, int64_t, bool>>{
           {"top", 7, true}, {"bottom", n, false}, {"column", 5, true}})
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
      const float *row = x.data() + r * n;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return largest ? greater(row[a], row[b]) : greater(row[b], row[a]);
      });
      for (int64_t j = 0; j < k; ++j) {
        want[name].push_back(row[order[size_t(j)]]);
        want[name + "_index"].push_back(double(order[size_t(j)]));
      }
    }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  EXPECT_EQ(hostTasks(model), std::vector<std::string>{});
  expectOutputs(model, {rows, n}, x, want, [](const std::string &, double) { return 0.0; });
  // The smallest of row 0 after -inf: -0 (index 40) before +0 (41) and -0 (42), signs kept.
  std::map<std::string, NpyArray> got = runFractal(model, "", "x", floatNpy({rows, n}, x), "functional");
  const std::vector<int64_t> index = integers(got["bottom_index"]);
  const std::vector<float> values = floats(got["bottom"]);
  const size_t zero = size_t(std::find(index.begin(), index.end(), 40) - index.begin());
  ASSERT_LT(zero + 2, values.size());
  EXPECT_EQ(index[zero + 1], 41);
  EXPECT_TRUE(std::signbit(values[zero]) && !std::signbit(values[zero + 1]) && std::signbit(values[zero + 2]));
}

// TopK over rows too long for the vector kernel's UB (7 row buffers of 20,000 values): the
// runtime's host kernel ("AI CPU"), named with the reason; values and indices exact.
TEST(CompiledOps, TopKOfRowsTooLongForUbOnTheHost) {
  const int64_t rows = 2, n = 20000;
  std::vector<float> x;
  for (int64_t i = 0; i < rows * n; ++i) x.push_back(float((i * 7919) % 5003) * 0.5f);
  onnx::ModelProto m = newModel(13, "top_k_host");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {rows, n});
  intInitializer(g, "k", onnx::TensorProto::INT64, {1}, {4});
  addNode(g, "TopK", {"x", "k"}, "top")->add_output("top_index");
  declareFloat(g->add_output(), "top", {rows, 4});
  declareTensor(g->add_output(), "top_index", {rows, 4}, onnx::TensorProto::INT64);
  std::map<std::string, std::vector<double>> want;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return x[size_t(r * n + a)] > x[size_t(r * n + b)]; });
    for (int64_t j = 0; j < 4; ++j) {
      want["top"].push_back(x[size_t(r * n + order[size_t(j)])]);
      want["top_index"].push_back(double(order[size_t(j)]));
    }
  }
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  const std::vector<std::string> host = hostTasks(saved.path);
  ASSERT_EQ(host.size(), 1u);
  EXPECT_EQ(host[0].rfind("top: UB overflow: TopK over rows of 20000 values needs ", 0), 0u) << host[0];
  EXPECT_NE(host[0].find("; sorts on the host (AI CPU)"), std::string::npos) << host[0];
  expectOutputs(saved.path, {rows, n}, x, want, [](const std::string &, double) { return 0.0; });
}

// 3-D convolution and pooling through the 2-D kernels (depth slices stacked as channels; pooling
// separated into (H, W) and then depth): a grouped Conv with depth padding, stride and dilation,
// an AveragePool with padding that excludes the pads from its counts, and a MaxPool with
// ceil_mode, against direct loops in double.
TEST(CompiledOps, VolumetricConvolutionAndPooling) {
  const int64_t n = 1, c = 4, d = 6, h = 5, w = 5;
  const std::vector<int64_t> shape{n, c, d, h, w};
  std::vector<float> x;
  for (int i = 0; i < c * d * h * w; ++i) x.push_back(float((i * 37) % 23) / 11.0f - 1.0f);
  const int64_t co = 6, cg = 2, kd = 3, kh = 2, kw = 3; // group 2
  std::vector<float> weights, bias = {0.5f, -0.25f, 0.125f, 0.0f, 1.0f, -1.0f};
  for (int i = 0; i < co * cg * kd * kh * kw; ++i) weights.push_back(float((i * 13) % 17) / 17.0f - 0.5f);
  const int64_t sd = 2, sh = 1, sw = 2, dd = 2, dh = 1, dw = 1, pd0 = 2, pd1 = 1, ph0 = 1, ph1 = 0, pw0 = 1, pw1 = 1;
  const int64_t dOut = (d + pd0 + pd1 - dd * (kd - 1) - 1) / sd + 1, hOut = (h + ph0 + ph1 - dh * (kh - 1) - 1) / sh + 1,
                wOut = (w + pw0 + pw1 - dw * (kw - 1) - 1) / sw + 1;
  onnx::ModelProto m = newModel(13, "volumetric");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "w", {co, cg, kd, kh, kw}, weights);
  floatInitializer(g, "b", {co}, bias);
  onnx::NodeProto *conv = addNode(g, "Conv", {"x", "w", "b"}, "conv");
  setInt(conv, "group", 2);
  setInts(conv, "strides", {sd, sh, sw});
  setInts(conv, "dilations", {dd, dh, dw});
  setInts(conv, "pads", {pd0, ph0, pw0, pd1, ph1, pw1});
  onnx::NodeProto *avg = addNode(g, "AveragePool", {"x"}, "avg");
  setInts(avg, "kernel_shape", {3, 2, 2});
  setInts(avg, "strides", {2, 2, 1});
  setInts(avg, "pads", {1, 0, 1, 1, 1, 0});
  onnx::NodeProto *max = addNode(g, "MaxPool", {"x"}, "max");
  setInts(max, "kernel_shape", {2, 3, 2});
  setInts(max, "strides", {2, 2, 2});
  setInt(max, "ceil_mode", 1);
  declareFloat(g->add_output(), "conv", {n, co, dOut, hOut, wOut});
  declareFloat(g->add_output(), "avg", {n, c, 3, 3, 5});
  declareFloat(g->add_output(), "max", {n, c, 3, 2, 3});
  auto at = [&](int64_t ci, int64_t z, int64_t y, int64_t xx) { return double(x[size_t(((ci * d + z) * h + y) * w + xx)]); };
  std::map<std::string, std::vector<double>> want;
  for (int64_t o = 0; o < co; ++o)
    for (int64_t z = 0; z < dOut; ++z)
      for (int64_t y = 0; y < hOut; ++y)
        for (int64_t xx = 0; xx < wOut; ++xx) {
          double sum = bias[size_t(o)];
          for (int64_t i = 0; i < cg; ++i)
            for (int64_t a = 0; a < kd; ++a)
              for (int64_t b = 0; b < kh; ++b)
                for (int64_t e = 0; e < kw; ++e) {
                  const int64_t iz = z * sd + a * dd - pd0, iy = y * sh + b * dh - ph0, ix = xx * sw + e * dw - pw0;
                  if (iz < 0 || iz >= d || iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  sum += at(o / 3 * cg + i, iz, iy, ix) * weights[size_t((((o * cg + i) * kd + a) * kh + b) * kw + e)];
                }
          want["conv"].push_back(sum);
        }
  // Pools: windows clipped to the input (the average counts only what is inside).
  auto pool = [&](const char *name, bool isMax, std::array<int64_t, 3> k, std::array<int64_t, 3> s,
                  std::array<int64_t, 3> begin, std::array<int64_t, 3> outs) {
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t z = 0; z < outs[0]; ++z)
        for (int64_t y = 0; y < outs[1]; ++y)
          for (int64_t xx = 0; xx < outs[2]; ++xx) {
            double acc = isMax ? -INFINITY : 0.0;
            int count = 0;
            for (int64_t a = 0; a < k[0]; ++a)
              for (int64_t b = 0; b < k[1]; ++b)
                for (int64_t e = 0; e < k[2]; ++e) {
                  const int64_t iz = z * s[0] + a - begin[0], iy = y * s[1] + b - begin[1], ix = xx * s[2] + e - begin[2];
                  if (iz < 0 || iz >= d || iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  acc = isMax ? std::max(acc, at(ci, iz, iy, ix)) : acc + at(ci, iz, iy, ix);
                  ++count;
                }
            want[name].push_back(isMax ? acc : acc / count);
          }
  };
  pool("avg", false, {3, 2, 2}, {2, 2, 1}, {1, 0, 1}, {3, 3, 5});
  pool("max", true, {2, 3, 2}, {2, 2, 2}, {0, 0, 0}, {3, 2, 3});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // The cube multiplies float16 operands (the convolution); pooling runs on float16 feature maps.
  expectOutputs(model, shape, x, want, [](const std::string &name, double e) {
    return name == "conv" ? 4e-3 + 2e-3 * std::fabs(e) : 1e-3 * std::fabs(e) + 1e-3;
  });
}

// Tables computed at compile time from constant inputs: Range (float32 and int32, a negative
// step) and the Hann, Hamming and Blackman windows (periodic and symmetric) against their
// definitions with pi (the ONNX test data's windows used 3.1415; docs/conformance.md).
TEST(CompiledOps, RangesAndWindowsFromConstants) {
  onnx::ModelProto m = newModel(17, "tables");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {2});
  addNode(g, "Identity", {"x"}, "y");
  declareFloat(g->add_output(), "y", {2});
  floatInitializer(g, "f0", {}, {0.5f});
  floatInitializer(g, "f1", {}, {3.0f});
  floatInitializer(g, "fd", {}, {0.75f});
  for (auto [name, v] : {std::pair{"i0", 10}, {"i1", 1}, {"id", -3}, {"n10", 10}, {"n7", 7}})
    intInitializer(g, name, onnx::TensorProto::INT32, {}, {v});
  addNode(g, "Range", {"f0", "f1", "fd"}, "range_f");
  addNode(g, "Range", {"i0", "i1", "id"}, "range_i");
  addNode(g, "HannWindow", {"n10"}, "hann");
  setInt(addNode(g, "HammingWindow", {"n7"}, "hamming"), "periodic", 0);
  addNode(g, "BlackmanWindow", {"n7"}, "blackman");
  declareFloat(g->add_output(), "range_f", {4});
  declareFloat(g->add_output(), "range_i", {3});
  g->mutable_output(g->output_size() - 1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT32);
  declareFloat(g->add_output(), "hann", {10});
  declareFloat(g->add_output(), "hamming", {7});
  declareFloat(g->add_output(), "blackman", {7});
  std::map<std::string, std::vector<double>> want = {{"y", {1.5, -2.0}}, {"range_f", {0.5, 1.25, 2.0, 2.75}}, {"range_i", {10, 7, 4}}};
  for (int i = 0; i < 10; ++i) want["hann"].push_back(0.5 - 0.5 * std::cos(2 * M_PI * i / 10));
  for (int i = 0; i < 7; ++i) want["hamming"].push_back(25.0 / 46 - 21.0 / 46 * std::cos(2 * M_PI * i / 6));
  for (int i = 0; i < 7; ++i)
    want["blackman"].push_back(0.42 - 0.5 * std::cos(2 * M_PI * i / 7) + 0.08 * std::cos(4 * M_PI * i / 7));
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  expectOutputs(model, {2}, {1.5f, -2.0f}, want, [](const std::string &, double) { return 1e-7; });
}

// LRN (size 3 across 5 channels, the window clipped at both ends) through its composition:
// squares averaged over channel windows by the pooling kernel, then (bias + alpha * mean)^beta,
// against the sum in double.
TEST(CompiledOps, LocalResponseNormalization) {
  const std::vector<int64_t> shape{2, 5, 3, 2};
  std::vector<float> x;
  for (int i = 0; i < 60; ++i) x.push_back(float((i * 29) % 19) * 0.4f - 3.5f);
  onnx::ModelProto m = newModel(13, "lrn");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  onnx::NodeProto *lrn = addNode(g, "LRN", {"x"}, "y");
  setInt(lrn, "size", 3);
  for (auto [key, value] : {std::pair<const char *, float>{"alpha", 0.3f}, {"beta", 0.75f}, {"bias", 2.0f}}) {
    auto *a = lrn->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }
  declareFloat(g->add_output(), "y", shape);
  std::vector<double> want;
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 5; ++c)
      for (int p = 0; p < 6; ++p) {
        double sum = 0;
        for (int i = std::max(0, c - 1); i <= std::min(4, c + 1); ++i) sum += std::pow(double(x[size_t((n * 5 + i) * 6 + p)]), 2);
        want.push_back(x[size_t((n * 5 + c) * 6 + p)] / std::pow(2.0 + 0.3 / 3 * sum, 0.75));
      }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // 4-D element-wise ops and pooling run on float16 feature maps (docs/compiler.md): ~5e-4 relative
  expectOutputs(model, shape, x, {{"y", want}}, [](const std::string &, double e) { return 1e-3 * std::fabs(e) + 1e-6; });
}

// ScatterElements (axis 1, negative int32 indices), ScatterND (whole rows by 1-tuples, single
// elements by 2-tuples) and GatherND (2-tuples; 1-tuples after one batch axis) over a run-time
// [4, 5] tensor, both modes, exact.
TEST(CompiledOps, ScattersAndGatherND) {
  const std::vector<int64_t> shape{4, 5};
  std::vector<float> x;
  for (int i = 0; i < 20; ++i) x.push_back(float(i) + 0.5f);
  onnx::ModelProto m = newModel(16, "scatter");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  intInitializer(g, "e_idx", onnx::TensorProto::INT32, {4, 2}, {0, -1, 3, 2, -5, 4, 1, 1});
  floatInitializer(g, "e_upd", {4, 2}, {-1, -2, -3, -4, -5, -6, -7, -8});
  intInitializer(g, "r_idx", onnx::TensorProto::INT64, {2, 1}, {2, -4});
  floatInitializer(g, "r_upd", {2, 5}, {10, 11, 12, 13, 14, 20, 21, 22, 23, 24});
  intInitializer(g, "p_idx", onnx::TensorProto::INT64, {3, 2}, {3, 4, 0, 0, -1, 1});
  floatInitializer(g, "p_upd", {3}, {100, 200, 300});
  setInt(addNode(g, "ScatterElements", {"x", "e_idx", "e_upd"}, "elements"), "axis", 1);
  addNode(g, "ScatterND", {"x", "r_idx", "r_upd"}, "rows");
  addNode(g, "ScatterND", {"x", "p_idx", "p_upd"}, "points");
  intInitializer(g, "g_idx", onnx::TensorProto::INT64, {2, 2}, {1, -1, 3, 0});
  intInitializer(g, "b_idx", onnx::TensorProto::INT64, {4, 1}, {2, -1, 0, 3});
  addNode(g, "GatherND", {"x", "g_idx"}, "picked");
  setInt(addNode(g, "GatherND", {"x", "b_idx"}, "per_row"), "batch_dims", 1);
  for (const char *name : {"elements", "rows", "points"}) declareFloat(g->add_output(), name, shape);
  declareFloat(g->add_output(), "picked", {2});
  declareFloat(g->add_output(), "per_row", {4});
  std::map<std::string, std::vector<double>> want;
  for (const char *name : {"elements", "rows", "points"}) want[name].assign(x.begin(), x.end());
  const int64_t e[4][2] = {{0, 4}, {3, 2}, {0, 4}, {1, 1}}; // indices made non-negative
  for (int r = 0; r < 4; ++r)
    for (int j = 0; j < 2; ++j) want["elements"][size_t(r * 5 + e[r][j])] = -(r * 2 + j + 1);
  for (int c = 0; c < 5; ++c) {
    want["rows"][size_t(2 * 5 + c)] = 10 + c;
    want["rows"][size_t(0 * 5 + c)] = 20 + c;
  }
  want["points"][3 * 5 + 4] = 100;
  want["points"][0] = 200;
  want["points"][3 * 5 + 1] = 300;
  want["picked"] = {x[1 * 5 + 4], x[3 * 5 + 0]};
  want["per_row"] = {x[0 * 5 + 2], x[1 * 5 + 4], x[2 * 5 + 0], x[3 * 5 + 3]};
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
}

// ScatterElements and ScatterND with reductions against ONNX Runtime (opset 18): repeated indices
// accumulate in the updates' order. float32 (in UB, a masked vector op per update) with add, mul,
// max and min along axis 1, and whole rows added by ScatterND; int64 (the scalar unit) with all four,
// int32 multiplied. Exact: each update is one correctly rounded operation in ONNX Runtime's order.
TEST(CompiledOps, ScatterReductionsAccumulateRepeatedIndices) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const std::vector<int64_t> shape{4, 5};
  onnx::ModelProto m = newModel(18, "scatter_reductions");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  // Row r's updates go to columns e_idx[r]: repeats (0, 0, -5 in row 0; 3 three times in row 2).
  intInitializer(g, "e_idx", onnx::TensorProto::INT64, {4, 3}, {0, 0, -5, 4, 1, 4, 3, 3, 3, 2, 0, 1});
  floatInitializer(g, "e_upd", {4, 3}, {1.5f, -2.25f, 0.1f, -3, 7.5f, 0.3f, 2.5f, -1.75f, 0.2f, -0.6f, 9, -4});
  intInitializer(g, "e_upd_int", onnx::TensorProto::INT64, {4, 3}, {3, -7, 2, 40000000000, -1, 5, 2, 2, -3, 9, -6, 0});
  intInitializer(g, "r_idx", onnx::TensorProto::INT64, {3, 1}, {2, -2, 0});
  floatInitializer(g, "r_upd", {3, 5}, {0.5f, 1.5f, -2.5f, 3.5f, 4.5f, 10, 20, 30, 40, 50, -1, -2, -3, -4, -5});
  setInt(addNode(g, "Cast", {"x"}, "x64"), "to", onnx::TensorProto::INT64);
  setInt(addNode(g, "Cast", {"x"}, "x32"), "to", onnx::TensorProto::INT32);
  setInt(addNode(g, "Cast", {"e_upd_int"}, "e_upd32"), "to", onnx::TensorProto::INT32);
  std::vector<std::string> names;
  for (const char *reduction : {"add", "mul", "max", "min"})
    for (const char *type : {"float", "int64"}) {
      names.push_back(std::string(reduction) + "_" + type);
      const bool ints = std::string(type) == "int64";
      onnx::NodeProto *node = addNode(g, "ScatterElements", {ints ? "x64" : "x", "e_idx", ints ? "e_upd_int" : "e_upd"},
                                      names.back().c_str());
      setInt(node, "axis", 1);
      setString(node, "reduction", reduction);
      declareTensor(g->add_output(), names.back().c_str(), shape, ints ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
    }
  onnx::NodeProto *mul32 = addNode(g, "ScatterElements", {"x32", "e_idx", "e_upd32"}, "mul_int32");
  setInt(mul32, "axis", 1);
  setString(mul32, "reduction", "mul");
  declareTensor(g->add_output(), "mul_int32", shape, onnx::TensorProto::INT32);
  setString(addNode(g, "ScatterND", {"x", "r_idx", "r_upd"}, "rows_add"), "reduction", "add");
  declareFloat(g->add_output(), "rows_add", shape);
  names.push_back("mul_int32");
  names.push_back("rows_add");
  std::vector<float> x;
  for (int i = 0; i < 20; ++i) x.push_back(float((i * 7) % 11) * 1.25f - 6.0f);
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy(shape, x), names);
  for (const std::string &name : names) {
    EXPECT_EQ(got[name].descr, want[name].descr) << name;
    EXPECT_EQ(got[name].data, want[name].data) << name;
  }
  // Not the last update alone: row 0 column 0 took three.
  EXPECT_EQ(floats(want["add_float"]).at(0), x[0] + 1.5f - 2.25f + 0.1f);
}

// Dilated MaxPool: stride a multiple of the dilation (one sub-grid of the input, offset by the
// pads, then an undilated pool) and not (the maximum of the taps' strided slices), against
// direct loops.
TEST(CompiledOps, DilatedMaxPool) {
  const int64_t c = 2, h = 7, w = 8;
  const std::vector<int64_t> shape{1, c, h, w};
  std::vector<float> x;
  for (int i = 0; i < c * h * w; ++i) x.push_back(float((i * 53) % 41) * 0.25f - 5.0f);
  onnx::ModelProto m = newModel(13, "dilated");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  struct Pool {
    const char *name;
    int64_t kh, kw, sh, sw, dh, dw, top, left, bottom, right;
  };
  const Pool pools[] = {{"grid", 2, 2, 2, 2, 2, 2, 1, 1, 1, 1}, {"taps", 3, 2, 1, 2, 2, 1, 1, 0, 1, 1}};
  std::map<std::string, std::vector<double>> want;
  for (const Pool &p : pools) {
    onnx::NodeProto *n = addNode(g, "MaxPool", {"x"}, p.name);
    setInts(n, "kernel_shape", {p.kh, p.kw});
    setInts(n, "strides", {p.sh, p.sw});
    setInts(n, "dilations", {p.dh, p.dw});
    setInts(n, "pads", {p.top, p.left, p.bottom, p.right});
    const int64_t oh = (h + p.top + p.bottom - p.dh * (p.kh - 1) - 1) / p.sh + 1,
                  ow = (w + p.left + p.right - p.dw * (p.kw - 1) - 1) / p.sw + 1;
    declareFloat(g->add_output(), p.name, {1, c, oh, ow});
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double best = -INFINITY;
          for (int64_t a = 0; a < p.kh; ++a)
            for (int64_t b = 0; b < p.kw; ++b) {
              const int64_t y = i * p.sh + a * p.dh - p.top, xx = j * p.sw + b * p.dw - p.left;
              if (y >= 0 && y < h && xx >= 0 && xx < w) best = std::max(best, double(x[size_t((ci * h + y) * w + xx)]));
            }
          want[p.name].push_back(best);
        }
  }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // feature maps are float16: every value here (quarters up to 5) is exact in it
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
}

// OneHot of run-time float32 indices (truncated as ONNX casts them: 1.7 -> 1, -1.5 -> -1; negative
// ones count from depth; outside [-depth, depth) all off) with its axis in the middle and at the
// end, and of constant int32 indices with int32 values, against direct loops.
TEST(CompiledOps, OneHotOfFloatAndInt32Indices) {
  const std::vector<float> x = {0.0f, 1.7f, -1.0f, -1.5f, 4.99f, 5.0f, -5.0f, -6.2f};
  const std::vector<int64_t> shape{2, 4};
  const int64_t depth = 5;
  onnx::ModelProto m = newModel(11, "one_hot");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "depth", {}, {float(depth)});
  floatInitializer(g, "values", {2}, {-2.0f, 3.0f});
  intInitializer(g, "i", onnx::TensorProto::INT32, {3}, {2, -2, 9});
  intInitializer(g, "depth_i", onnx::TensorProto::INT64, {1}, {depth});
  intInitializer(g, "values_i", onnx::TensorProto::INT32, {2}, {0, 7});
  setInt(addNode(g, "OneHot", {"x", "depth", "values"}, "middle"), "axis", 1);
  addNode(g, "OneHot", {"x", "depth", "values"}, "last");
  addNode(g, "OneHot", {"i", "depth_i", "values_i"}, "ints");
  declareFloat(g->add_output(), "middle", {2, depth, 4});
  declareFloat(g->add_output(), "last", {2, 4, depth});
  declareFloat(g->add_output(), "ints", {3, depth});
  g->mutable_output(2)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT32);
  auto position = [&](double index) { // trunc, negative from depth; -1 when out of range
    const int64_t t = int64_t(std::trunc(index));
    return t < -depth || t >= depth ? int64_t(-1) : t < 0 ? t + depth : t;
  };
  std::map<std::string, std::vector<double>> want;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t j = 0; j < depth; ++j)
      for (int64_t c = 0; c < 4; ++c) want["middle"].push_back(position(x[size_t(r * 4 + c)]) == j ? 3.0 : -2.0);
  for (float v : x)
    for (int64_t j = 0; j < depth; ++j) want["last"].push_back(position(v) == j ? 3.0 : -2.0);
  for (int32_t v : {2, -2, 9})
    for (int64_t j = 0; j < depth; ++j) want["ints"].push_back(position(v) == j ? 7 : 0);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
}

// int64 element-wise ops, on the scalar unit: arithmetic (wrapping like numpy), truncating
// division, floor and fmod remainders, Max, Min, comparisons into booleans and Where, on a
// run-time x [2, 6] (values past 2^32, INT64_MAX, INT64_MIN) and a constant y [6] broadcast over
// its rows (on either side). Exact, both modes.
TEST(CompiledOps, Int64ArithmeticComparisonsAndWhere) {
  const std::vector<int64_t> x = {7, -7, 7, -7, 0, INT64_MAX, INT64_MIN, 3000000000, -5000000000, 123456789012, 5, -5};
  const std::vector<int64_t> y = {2, -3, 5, -4, 9, 7};
  const std::vector<int64_t> shape{2, 6};
  onnx::ModelProto m = newModel(13, "int64");
  onnx::GraphProto *g = m.mutable_graph();
  declareTensor(g->add_input(), "x", shape, onnx::TensorProto::INT64);
  intInitializer(g, "y", onnx::TensorProto::INT64, {6}, y);
  const std::vector<std::pair<const char *, std::vector<std::string>>> ops = {
      {"Add", {"x", "y"}}, {"Sub", {"y", "x"}}, {"Mul", {"x", "y"}}, {"Div", {"x", "y"}}, {"Max", {"x", "y"}},
      {"Min", {"y", "x"}}};
  for (const auto &[op, inputs] : ops) addNode(g, op, inputs, op);
  addNode(g, "Mod", {"x", "y"}, "mod");
  setInt(addNode(g, "Mod", {"x", "y"}, "fmod"), "fmod", 1);
  addNode(g, "Greater", {"x", "y"}, "gt");
  addNode(g, "LessOrEqual", {"y", "x"}, "le");
  addNode(g, "Equal", {"x", "x"}, "eq");
  addNode(g, "Where", {"gt", "x", "y"}, "where");
  auto declare = [&](const char *name, const std::vector<int64_t> &dims, int type) {
    declareTensor(g->add_output(), name, dims, type);
  };
  for (const auto &[op, inputs] : ops) declare(op, shape, onnx::TensorProto::INT64);
  for (const char *name : {"mod", "fmod", "where"}) declare(name, shape, onnx::TensorProto::INT64);
  for (const char *name : {"gt", "le", "eq"}) declare(name, shape, onnx::TensorProto::BOOL);
  std::map<std::string, std::vector<int64_t>> want;
  auto wrap = [](uint64_t v) { return int64_t(v); }; // two's complement, as numpy's int64
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t a = x[i], b = y[i % 6];
    want["Add"].push_back(wrap(uint64_t(a) + uint64_t(b)));
    want["Sub"].push_back(wrap(uint64_t(b) - uint64_t(a)));
    want["Mul"].push_back(wrap(uint64_t(a) * uint64_t(b)));
    want["Div"].push_back(a / b);
    want["Max"].push_back(std::max(a, b));
    want["Min"].push_back(std::min(a, b));
    const int64_t r = a % b;
    want["mod"].push_back(r != 0 && (r < 0) != (b < 0) ? r + b : r);
    want["fmod"].push_back(r);
    want["gt"].push_back(a > b);
    want["le"].push_back(b <= a);
    want["eq"].push_back(1);
    want["where"].push_back(a > b ? a : b);
  }
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  NpyArray input{"<i8", shape, std::vector<uint8_t>(x.size() * 8)};
  std::memcpy(input.data.data(), x.data(), input.data.size());
  for (const char *mode : {"functional", "timing"}) {
    std::map<std::string, NpyArray> got = runFractal(saved.path, "", "x", input, mode);
    for (const auto &[name, expected] : want) {
      ASSERT_TRUE(got.count(name)) << mode << " " << name;
      EXPECT_EQ(integers(got[name]), expected) << mode << " " << name;
    }
  }
}

// Casts between float32 and integers (toward zero, then wrapping into the narrower types, as C
// casts on x86 do), back from uint8, and QuantizeLinear / DequantizeLinear with an int8 zero point
// (halves to even, saturation), on a run-time x: exact, both modes.
TEST(CompiledOps, CastsBetweenFloatsAndIntegersAndQuantization) {
  const std::vector<float> x = {-2.7f, 2.5f, 3.9f, -0.5f, 200.7f, -1.0f, 70000.4f, 127.5f, 0.75f, 1.25f};
  const std::vector<int64_t> shape{10};
  onnx::ModelProto m = newModel(13, "casts");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "scale", {}, {0.5f});
  intInitializer(g, "zero", onnx::TensorProto::INT8, {}, {-3});
  const std::vector<std::pair<const char *, int>> casts = {
      {"i32", onnx::TensorProto::INT32}, {"u8", onnx::TensorProto::UINT8}, {"i16", onnx::TensorProto::INT16}};
  for (const auto &[name, type] : casts) setInt(addNode(g, "Cast", {"x"}, name), "to", type);
  setInt(addNode(g, "Cast", {"u8"}, "back"), "to", onnx::TensorProto::FLOAT);
  addNode(g, "QuantizeLinear", {"x", "scale", "zero"}, "q");
  addNode(g, "DequantizeLinear", {"q", "scale", "zero"}, "dq");
  auto declare = [&](const char *name, int type) { declareTensor(g->add_output(), name, shape, type); };
  for (const auto &[name, type] : casts) declare(name, type);
  declare("back", onnx::TensorProto::FLOAT);
  declare("q", onnx::TensorProto::INT8);
  declare("dq", onnx::TensorProto::FLOAT);
  std::map<std::string, std::vector<int64_t>> want;
  std::vector<float> back, dq;
  for (float v : x) {
    const int32_t t = int32_t(v); // toward zero
    want["i32"].push_back(t);
    want["u8"].push_back(uint8_t(t));
    want["i16"].push_back(int16_t(t));
    back.push_back(float(uint8_t(t)));
    const int64_t q = std::clamp<int64_t>(int64_t(std::nearbyint(v / 0.5f)) - 3, -128, 127); // half to even
    want["q"].push_back(q);
    dq.push_back(float(q + 3) * 0.5f);
  }
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  for (const char *mode : {"functional", "timing"}) {
    std::map<std::string, NpyArray> got = runFractal(saved.path, "", "x", floatNpy(shape, x), mode);
    for (const auto &[name, expected] : want) {
      ASSERT_TRUE(got.count(name)) << mode << " " << name;
      EXPECT_EQ(integers(got[name]), expected) << mode << " " << name;
    }
    EXPECT_EQ(floats(got["back"]), back) << mode;
    EXPECT_EQ(floats(got["dq"]), dq) << mode;
  }
}

// Casts between float32 and int64, uint32, uint64 on the scalar unit. Float to integer: toward
// zero, saturating at the type's range (infinities too; a negative value gives 0 unsigned), NaN
// gives 0. Integer to float: nearest even, as C converts, on values made at run time (the cast
// results plus constants: 2^24 + 1 and + 3 (ties to even, down and up), 2^53 + 1, the int64
// and uint64 extremes, 2^63 + 2^39 (a tie at the top) and one past it). Exact, both modes.
TEST(CompiledOps, CastsBetweenFloat32AndWideIntegers) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {-2.7f, 2.5f, 3.9e9f, -0.5f, 1e10f, -1e10f, 3e19f, std::numeric_limits<float>::quiet_NaN(),
                                inf, -inf, 1.5e19f, 16777216.0f, -0.0f, 0.99f};
  const int64_t n = int64_t(x.size());
  // Toward zero into a signed or unsigned integer of `bits`, saturating; NaN -> 0 (bit patterns).
  auto toward = [](float v, bool isSigned, int bits) -> int64_t {
    if (std::isnan(v)) return 0;
    const double t = std::trunc(double(v));
    if (isSigned) return t >= 0x1p63 ? INT64_MAX : t < -0x1p63 ? INT64_MIN : int64_t(t);
    const double limit = bits == 64 ? 0x1p64 : 0x1p32;
    return t <= 0 ? 0 : t >= limit ? int64_t(bits == 64 ? UINT64_MAX : UINT32_MAX) : int64_t(uint64_t(t));
  };
  const std::vector<int64_t> signedTargets = {0, -1, (1 << 24) + 1, (1 << 24) + 3, (int64_t(1) << 53) + 1, INT64_MAX,
                                              INT64_MIN, -((int64_t(1) << 40) + (1 << 16) + 1), 123456789, 1,
                                              -(1 << 24) - 1, 7, 8, 9};
  const std::vector<uint64_t> unsignedTargets = {0, UINT64_MAX, uint64_t(1) << 63, (uint64_t(1) << 63) + (uint64_t(1) << 39),
                                                 (uint64_t(1) << 63) + (uint64_t(1) << 39) + 1, 12345, 4294967295u,
                                                 (1u << 24) + 1, 2147483648u, 3, 4, 5, 6, 7};
  const std::vector<uint32_t> u32Targets = {0, 4294967295u, (1u << 24) + 1, 2147483648u, (1u << 24) + 3, 1, 2, 3, 4, 5, 6,
                                            7, 8, 9};
  onnx::ModelProto m = newModel(13, "wide_casts");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {n});
  std::map<std::string, std::vector<int64_t>> want;
  std::map<std::string, std::vector<float>> wantFloats;
  std::vector<int64_t> a, b, c;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[size_t(i)];
    want["i64"].push_back(toward(v, true, 64));
    want["u64"].push_back(toward(v, false, 64));
    want["u32"].push_back(toward(v, false, 32));
    // Constants that bring each cast result to its target (wrapping arithmetic, as the kernels').
    a.push_back(int64_t(uint64_t(signedTargets[size_t(i)]) - uint64_t(want["i64"].back())));
    b.push_back(int64_t(unsignedTargets[size_t(i)] - uint64_t(want["u64"].back())));
    c.push_back(int64_t(uint32_t(u32Targets[size_t(i)] - uint32_t(want["u32"].back()))));
    wantFloats["i64_back"].push_back(float(signedTargets[size_t(i)]));
    wantFloats["u64_back"].push_back(float(unsignedTargets[size_t(i)]));
    wantFloats["u32_back"].push_back(float(u32Targets[size_t(i)]));
  }
  const std::vector<std::tuple<const char *, int, const std::vector<int64_t> *>> types = {
      {"i64", onnx::TensorProto::INT64, &a}, {"u64", onnx::TensorProto::UINT64, &b}, {"u32", onnx::TensorProto::UINT32, &c}};
  for (const auto &[name, type, offsets] : types) {
    const std::string offset = std::string(name) + "_offset", moved = std::string(name) + "_moved",
                      back = std::string(name) + "_back";
    setInt(addNode(g, "Cast", {"x"}, name), "to", type);
    intInitializer(g, offset.c_str(), type, {n}, *offsets);
    addNode(g, "Add", {name, offset}, moved.c_str());
    setInt(addNode(g, "Cast", {moved}, back.c_str()), "to", onnx::TensorProto::FLOAT);
    declareTensor(g->add_output(), name, {n}, type);
    declareFloat(g->add_output(), back.c_str(), {n});
  }
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  EXPECT_EQ(hostTasks(saved.path), std::vector<std::string>{});
  for (const char *mode : {"functional", "timing"}) {
    std::map<std::string, NpyArray> got = runFractal(saved.path, "", "x", floatNpy({n}, x), mode);
    for (const auto &[name, expected] : want) EXPECT_EQ(integers(got[name]), expected) << mode << " " << name;
    for (const auto &[name, expected] : wantFloats) EXPECT_EQ(floats(got[name]), expected) << mode << " " << name;
  }
}

// GridSample at run-time coordinates (a grid input reaching past the image, exact integers and
// halves among them) over a constant [2, 3, 5, 7] image, in every mode (bilinear, nearest,
// bicubic), padding mode (zeros, border, reflection) and with and without align_corners, against
// ONNX Runtime element by element.
TEST(CompiledOps, GridSampleInEveryModeAgainstOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t n = 2, c = 3, h = 5, w = 7, ho = 4, wo = 6;
  onnx::ModelProto m = newModel(16, "grid_sample");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "grid", {n, ho, wo, 2});
  std::vector<float> image;
  for (int i = 0; i < n * c * h * w; ++i) image.push_back(float((i * 37) % 29) * 0.25f - 3.0f);
  floatInitializer(g, "image", {n, c, h, w}, image);
  std::vector<std::string> names;
  for (const char *mode : {"bilinear", "nearest", "bicubic"})
    for (const char *padding : {"zeros", "border", "reflection"})
      for (int align : {0, 1}) {
        names.push_back(std::string(mode) + "_" + padding + (align ? "_aligned" : ""));
        onnx::NodeProto *node = addNode(g, "GridSample", {"image", "grid"}, names.back().c_str());
        setString(node, "mode", mode);
        setString(node, "padding_mode", padding);
        setInt(node, "align_corners", align);
        declareFloat(g->add_output(), names.back().c_str(), {n, c, ho, wo});
      }
  std::vector<float> grid;
  for (int i = 0; i < n * ho * wo * 2; ++i)
    grid.push_back(i % 7 == 0 ? float(i % 5) * 0.5f - 1.0f : float((i * 53) % 71) / 71.0f * 3.0f - 1.5f);
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "grid", floatNpy({n, ho, wo, 2}, grid), names);
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << name << " " << i;
  }
}

// An NHWC -> NCHW transpose read by anything but a convolution stays float32: the compiler holds
// one that only convolutions read in f16 (they take their input in f16), and once held every
// such transpose so, rounding a graph output to 11 significant bits.
TEST(CompiledOps, NhwcToNchwTransposeOfAnOutputIsExact) {
  const int64_t n = 1, h = 4, w = 5, c = 3;
  onnx::ModelProto m = newModel(13, "nhwc_to_nchw");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {n, h, w, c});
  onnx::NodeProto *t = addNode(g, "Transpose", {"x"}, "y");
  onnx::AttributeProto *perm = t->add_attribute();
  perm->set_name("perm");
  perm->set_type(onnx::AttributeProto::INTS);
  for (int64_t p : {0, 3, 1, 2}) perm->add_ints(p);
  declareFloat(g->add_output(), "y", {n, c, h, w});
  std::vector<float> x;
  for (int i = 0; i < n * h * w * c; ++i) x.push_back(1.0f + float(i) * 0x1p-20f); // not representable in f16
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({n, h, w, c}, x), {"y"});
  const std::vector<float> y = floats(got["y"]);
  ASSERT_EQ(y.size(), x.size());
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t p = 0; p < h * w; ++p) EXPECT_EQ(y[size_t(ci * h * w + p)], x[size_t(p * c + ci)]) << ci << " " << p;
}

// CumSum against ONNX Runtime: along a row of 37 (not a power of two) inclusive, exclusive and
// reversed, down the columns, and an int64 running count of a mask (a transformer's position ids
// from its attention mask) exactly; float32 sums within a few ulps of the largest partial sum.
TEST(CompiledOps, CumSumInEveryDirectionAgainstOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t rows = 3, cols = 37;
  onnx::ModelProto m = newModel(14, "cumsum");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {rows, cols});
  intInitializer(g, "last", onnx::TensorProto::INT64, {}, {-1});
  intInitializer(g, "first", onnx::TensorProto::INT32, {}, {0});
  onnx::TensorProto *zero = g->add_initializer();
  zero->set_name("zero");
  zero->set_data_type(onnx::TensorProto::FLOAT);
  zero->add_float_data(0.0f);
  addNode(g, "CumSum", {"x", "last"}, "inclusive");
  onnx::NodeProto *both = addNode(g, "CumSum", {"x", "last"}, "exclusive_reverse");
  setInt(both, "exclusive", 1);
  setInt(both, "reverse", 1);
  setInt(addNode(g, "CumSum", {"x", "first"}, "exclusive_columns"), "exclusive", 1);
  addNode(g, "Greater", {"x", "zero"}, "mask");
  setInt(addNode(g, "Cast", {"mask"}, "mask64"), "to", onnx::TensorProto::INT64);
  addNode(g, "CumSum", {"mask64", "last"}, "positions");
  for (const char *name : {"inclusive", "exclusive_reverse", "exclusive_columns"})
    declareFloat(g->add_output(), name, {rows, cols});
  declareTensor(g->add_output(), "positions", {rows, cols}, onnx::TensorProto::INT64);
  std::vector<float> x;
  for (int i = 0; i < rows * cols; ++i) x.push_back(float((i * 37) % 23) * 0.37f - 3.9f);
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({rows, cols}, x),
                                   {"inclusive", "exclusive_reverse", "exclusive_columns", "positions"});
  for (const char *name : {"inclusive", "exclusive_reverse", "exclusive_columns"}) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 2e-6 * (1 + std::abs(b[i]))) << name << " " << i;
  }
  EXPECT_EQ(got["positions"].data, want["positions"].data);
  EXPECT_EQ(floats(want["exclusive_reverse"]).at(cols - 1), 0.0f);
}

// A float16 model (as converters write them: float16 input, weights and output) against ONNX
// Runtime: a convolution with bias, ReLU, max pooling, an Add of a float16 constant, a MatMul,
// Sigmoid and a Cast to float32 as a second output. Computed in float32 inside the graph, so
// within float16 rounding of ONNX Runtime's float16 arithmetic.
TEST(CompiledOps, Float16ModelComputedInFloat32) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(13, "half_model");
  onnx::GraphProto *g = m.mutable_graph();
  const int64_t c = 3, co = 8, h = 10, w = 10;
  declareTensor(g->add_input(), "x", {1, c, h, w}, onnx::TensorProto::FLOAT16);
  auto halfInitializer = [&](const char *name, const std::vector<int64_t> &dims, int64_t count, float scale) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT16);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t i = 0; i < count; ++i) t->add_int32_data(isa::floatToHalf(float((i * 37) % 19 - 9) * scale));
  };
  halfInitializer("weights", {co, c, 3, 3}, co * c * 9, 0.05f);
  halfInitializer("bias", {co}, co, 0.1f);
  halfInitializer("shift", {1, co, 1, 1}, co, 0.25f);
  halfInitializer("proj", {w / 2, 4}, w / 2 * 4, 0.2f);
  onnx::NodeProto *conv = addNode(g, "Conv", {"x", "weights", "bias"}, "conv");
  setInts(conv, "pads", {1, 1, 1, 1});
  addNode(g, "Relu", {"conv"}, "relu");
  onnx::NodeProto *pool = addNode(g, "MaxPool", {"relu"}, "pool");
  setInts(pool, "kernel_shape", {2, 2});
  setInts(pool, "strides", {2, 2});
  addNode(g, "Add", {"pool", "shift"}, "shifted");
  addNode(g, "MatMul", {"shifted", "proj"}, "projected");
  addNode(g, "Sigmoid", {"projected"}, "y");
  setInt(addNode(g, "Cast", {"projected"}, "y32"), "to", onnx::TensorProto::FLOAT);
  declareTensor(g->add_output(), "y", {1, co, h / 2, 4}, onnx::TensorProto::FLOAT16);
  declareTensor(g->add_output(), "y32", {1, co, h / 2, 4}, onnx::TensorProto::FLOAT);
  NpyArray x{"<f2", {1, c, h, w}, std::vector<uint8_t>(size_t(c * h * w) * 2)};
  for (int64_t i = 0; i < c * h * w; ++i) {
    const uint16_t v = isa::floatToHalf(float((i * 53) % 41) / 41.0f * 2.0f - 1.0f);
    std::memcpy(&x.data[size_t(i) * 2], &v, 2);
  }
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", x, {"y", "y32"});
  EXPECT_EQ(got["y"].descr, "<f2");
  EXPECT_EQ(got["y32"].descr, "<f4");
  for (const char *name : {"y", "y32"}) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 4e-3 * (1 + std::abs(b[i]))) << name << " " << i;
  }
}

// A float64 model, computed in float32: float64 initializers, inputs and outputs, Mul, Add,
// CumSum, Exp and a Cast to float32 within float32 rounding of ONNX Runtime's float64 results.
// Then a float64 Identity on the values where narrowing to float32 has edge cases (ties to even,
// subnormal results, a carry into the exponent, overflow to infinity, float64 subnormals, NaN):
// bit-exact against C++'s own conversion there and back (the scalar unit's bit-by-bit kernels).
TEST(CompiledOps, Float64ModelComputedInFloat32) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  auto doubleNpy = [](const std::vector<int64_t> &shape, const std::vector<double> &values) {
    NpyArray a{"<f8", shape, std::vector<uint8_t>(values.size() * 8)};
    std::memcpy(a.data.data(), values.data(), a.data.size());
    return a;
  };
  auto doubles = [](const NpyArray &a) {
    std::vector<double> v(a.data.size() / 8);
    std::memcpy(v.data(), a.data.data(), v.size() * 8);
    return v;
  };
  {
    onnx::ModelProto m = newModel(14, "double_model");
    onnx::GraphProto *g = m.mutable_graph();
    declareTensor(g->add_input(), "x", {2, 3}, onnx::TensorProto::DOUBLE);
    auto doubleInitializer = [&](const char *name, const std::vector<double> &values) {
      onnx::TensorProto *t = g->add_initializer();
      t->set_name(name);
      t->set_data_type(onnx::TensorProto::DOUBLE);
      t->add_dims(int64_t(values.size()));
      for (double v : values) t->add_double_data(v);
    };
    doubleInitializer("w", {0.1, -2.5, 1.0 / 3.0});
    doubleInitializer("b", {1e-3, 0.25, -0.75});
    onnx::TensorProto *axis = g->add_initializer();
    axis->set_name("axis");
    axis->set_data_type(onnx::TensorProto::INT64);
    axis->add_int64_data(1);
    addNode(g, "Mul", {"x", "w"}, "scaled");
    addNode(g, "Add", {"scaled", "b"}, "shifted");
    addNode(g, "CumSum", {"shifted", "axis"}, "summed");
    addNode(g, "Exp", {"summed"}, "y");
    setInt(addNode(g, "Cast", {"summed"}, "y32"), "to", onnx::TensorProto::FLOAT);
    declareTensor(g->add_output(), "y", {2, 3}, onnx::TensorProto::DOUBLE);
    declareTensor(g->add_output(), "y32", {2, 3}, onnx::TensorProto::FLOAT);
    auto [got, want] = runBuiltModel(m.SerializeAsString(), "x",
                                     doubleNpy({2, 3}, {0.5, -1.0 / 7.0, 2.0, 1e-3, -0.75, 1.25}), {"y", "y32"});
    EXPECT_EQ(got["y"].descr, "<f8");
    EXPECT_EQ(got["y32"].descr, "<f4");
    const std::vector<double> a = doubles(got["y"]), b = doubles(want["y"]);
    ASSERT_EQ(a.size(), 6u);
    ASSERT_EQ(b.size(), 6u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6 * std::abs(b[i])) << i;
  }
  onnx::ModelProto m = newModel(14, "double_identity");
  onnx::GraphProto *g = m.mutable_graph();
  const std::vector<double> x = {
      0.0, -0.0, 1.0, 1.0 / 3.0, -123.456, 1e30,
      1.0 + std::ldexp(1.0, -24),                         // a tie: to even, 1
      1.0 + 3 * std::ldexp(1.0, -24),                     // a tie: to even, up
      1.0 + std::ldexp(1.0, -24) + std::ldexp(1.0, -52),  // above the tie: up
      1e-40, -1e-45, 7e-46, 1e-300, 4e-320,              // subnormal results, zeros, a float64 subnormal
      double(FLT_MIN) - double(FLT_TRUE_MIN) / 2,         // a tie carrying into the exponent: FLT_MIN
      3.4028235677973366e38, 3.40282356e38, -1e39,        // overflow at the tie, FLT_MAX below it, -inf
      INFINITY, -INFINITY, NAN, -std::ldexp(1.0, -149) * 1.5};
  const int64_t n = int64_t(x.size());
  declareTensor(g->add_input(), "x", {n}, onnx::TensorProto::DOUBLE);
  addNode(g, "Identity", {"x"}, "y");
  declareTensor(g->add_output(), "y", {n}, onnx::TensorProto::DOUBLE);
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  auto got = runFractal(saved.path, "", "x", doubleNpy({n}, x), "functional");
  const std::vector<double> y = doubles(got["y"]);
  ASSERT_EQ(y.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = double(float(x[i]));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(y[i])) << i;
      continue;
    }
    uint64_t a, b;
    std::memcpy(&a, &y[i], 8);
    std::memcpy(&b, &want, 8);
    EXPECT_EQ(a, b) << i << ": " << x[i] << " gave " << y[i] << ", want " << want;
  }
}

// ai.onnx.ml TreeEnsembleRegressor and TreeEnsembleClassifier (what scikit-learn, LightGBM and
// XGBoost converters write) against ONNX Runtime: four trees with every branch mode, tree ids and node ids out of order
// (a tree's nodes after its root not in id order), a tree of one leaf, missing_value_tracks_true, two targets with
// a leaf weighted twice, base values, SUM and AVERAGE; rows on the thresholds exactly and with
// NaN features, which each mode treats as ONNX Runtime does; classifiers of three classes and of
// two, each way ONNX Runtime scores two.
TEST(CompiledOps, TreeEnsemblesReachOnnxRuntimesLeaves) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newMlModel("trees", 3);
  onnx::GraphProto *g = m.mutable_graph();
  const int64_t rows = 14, features = 3;
  declareFloat(g->add_input(), "x", {rows, features});
  struct TreeNode {
    int64_t tree, id, feature;
    const char *mode;
    float value;
    int64_t yes, no, tracks;
  };
  const std::vector<TreeNode> nodes = {
      {0, 0, 0, "BRANCH_LEQ", 0.5f, 1, 2, 0}, {0, 1, 1, "BRANCH_LT", 0.0f, 3, 4, 1},  {0, 2, 0, "LEAF", 0, 0, 0, 0},
      {0, 3, 0, "LEAF", 0, 0, 0, 0},          {0, 4, 2, "BRANCH_GTE", 1.0f, 5, 6, 0}, {0, 5, 0, "LEAF", 0, 0, 0, 0},
      {0, 6, 0, "LEAF", 0, 0, 0, 0},          {7, 10, 2, "BRANCH_GT", -0.25f, 11, 12, 0}, {7, 11, 0, "LEAF", 0, 0, 0, 0},
      {7, 14, 0, "LEAF", 0, 0, 0, 0},         {7, 12, 0, "BRANCH_EQ", 2.0f, 13, 14, 1}, {7, 13, 0, "LEAF", 0, 0, 0, 0},
      {3, 0, 0, "LEAF", 0, 0, 0, 0},          {4, 0, 1, "BRANCH_NEQ", 1.0f, 1, 2, 0}, {4, 1, 0, "LEAF", 0, 0, 0, 0},
      {4, 2, 0, "LEAF", 0, 0, 0, 0}};
  struct Weight {
    int64_t tree, id, target;
    float weight;
  };
  const std::vector<Weight> weights = {{0, 2, 0, 1.5f},   {0, 3, 0, -2.25f}, {0, 3, 1, 0.5f},  {0, 5, 0, 4.0f},
                                       {0, 6, 1, -3.0f},  {7, 11, 0, 0.75f}, {7, 13, 1, 8.0f}, {7, 14, 0, -0.5f},
                                       {7, 14, 0, 0.25f}, {3, 0, 1, 0.125f}, {4, 1, 0, 16.0f}, {4, 2, 1, -16.0f}};
  // A node of `op` over the trees above with `leafWeights` as its target_* or class_* lists.
  auto ensemble = [&](const char *op, std::vector<std::string> outputs, const std::vector<Weight> &leafWeights) {
    onnx::NodeProto *n = addNode(g, op, {"x"}, outputs[0].c_str());
    for (size_t i = 1; i < outputs.size(); ++i) n->add_output(outputs[i]);
    n->set_domain("ai.onnx.ml");
    auto attribute = [&](const std::string &name, onnx::AttributeProto::AttributeType type) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(type);
      return a;
    };
    // An INTS attribute of one field of each entry of `list`.
    auto ints = [&](const std::string &name, const auto &list, auto field) {
      auto *a = attribute(name, onnx::AttributeProto::INTS);
      for (const auto &entry : list) a->add_ints(field(entry));
    };
    ints("nodes_treeids", nodes, [](const TreeNode &t) { return t.tree; });
    ints("nodes_nodeids", nodes, [](const TreeNode &t) { return t.id; });
    ints("nodes_featureids", nodes, [](const TreeNode &t) { return t.feature; });
    ints("nodes_truenodeids", nodes, [](const TreeNode &t) { return t.yes; });
    ints("nodes_falsenodeids", nodes, [](const TreeNode &t) { return t.no; });
    ints("nodes_missing_value_tracks_true", nodes, [](const TreeNode &t) { return t.tracks; });
    auto *modes = attribute("nodes_modes", onnx::AttributeProto::STRINGS);
    auto *values = attribute("nodes_values", onnx::AttributeProto::FLOATS);
    for (const TreeNode &t : nodes) modes->add_strings(t.mode), values->add_floats(t.value);
    const std::string prefix = std::string(op) == "TreeEnsembleClassifier" ? "class_" : "target_";
    ints(prefix + "treeids", leafWeights, [](const Weight &w) { return w.tree; });
    ints(prefix + "nodeids", leafWeights, [](const Weight &w) { return w.id; });
    ints(prefix + "ids", leafWeights, [](const Weight &w) { return w.target; });
    auto *targetWeights = attribute(prefix + "weights", onnx::AttributeProto::FLOATS);
    for (const Weight &w : leafWeights) targetWeights->add_floats(w.weight);
    return n;
  };
  auto baseValues = [](onnx::NodeProto *n, const std::vector<float> &values) {
    auto *base = n->add_attribute();
    base->set_name("base_values");
    base->set_type(onnx::AttributeProto::FLOATS);
    for (float v : values) base->add_floats(v);
  };
  for (const char *aggregate : {"SUM", "AVERAGE"}) {
    onnx::NodeProto *n = ensemble("TreeEnsembleRegressor", {aggregate}, weights);
    baseValues(n, {0.5f, -1.0f});
    setInt(n, "n_targets", 2);
    setString(n, "aggregate_function", aggregate);
    declareFloat(g->add_output(), aggregate, {rows, 2});
  }
  // Classifiers of three int64 labels: boosting-style (sparse class weights, base values, softmax)
  // and forest-style (every leaf weighs every class, no base values, raw scores); the labels must
  // be ONNX Runtime's exactly.
  std::vector<Weight> boosted = weights, forest;
  boosted.push_back({7, 13, 2, 3.0f});
  boosted.push_back({0, 5, 2, -1.0f});
  for (const TreeNode &t : nodes)
    if (std::string(t.mode) == "LEAF")
      for (int64_t c = 0; c < 3; ++c) forest.push_back({t.tree, t.id, c, float((t.tree * 7 + t.id * 3 + c * 5) % 11) / 10.0f});
  for (const auto &[name, leafWeights] : {std::make_pair(std::string("boosted"), boosted), std::make_pair(std::string("forest"), forest)}) {
    onnx::NodeProto *n = ensemble("TreeEnsembleClassifier", {name + "_label", name + "_scores"}, leafWeights);
    auto *labels = n->add_attribute();
    labels->set_name("classlabels_int64s");
    labels->set_type(onnx::AttributeProto::INTS);
    for (int64_t label : {10, 20, 30}) labels->add_ints(label);
    if (name == "boosted") {
      baseValues(n, {0.1f, -0.2f, 0.3f});
      setString(n, "post_transform", "SOFTMAX");
    }
    declareTensor(g->add_output(), (name + "_label").c_str(), {rows}, onnx::TensorProto::INT64);
    declareFloat(g->add_output(), (name + "_scores").c_str(), {rows, 3});
  }
  // Two classes, which ONNX Runtime scores its own way, row by row by which classes the reached
  // leaves weigh: LightGBM-style (every weight for class 1, signed, sparse: some rows reach no
  // class-1 weight; logistic; also with two base values, which ONNX Runtime combines with class
  // 0's sum), gradient-boosting-style (class 0 only, one base value), forest-style (both classes
  // everywhere) and one class of non-negative weights (the 0.5 threshold) with labels of its own.
  struct Binary {
    std::string name;
    std::vector<Weight> weights;
    std::vector<float> base;
    const char *post;
    std::vector<int64_t> labels;
  };
  std::vector<Weight> positiveClass, negativeClass, nonNegative, bothClasses;
  for (const Weight &w : weights)
    if (w.target == 0) {
      positiveClass.push_back({w.tree, w.id, 1, w.weight});
      negativeClass.push_back({w.tree, w.id, 0, w.weight});
      nonNegative.push_back({w.tree, w.id, 1, std::abs(w.weight) / 16.0f});
    }
  for (const Weight &w : forest)
    if (w.target < 2) bothClasses.push_back(w);
  const std::vector<Binary> binaries = {{"lightgbm", positiveClass, {}, "LOGISTIC", {0, 1}},
                                        {"lightgbm_base2", positiveClass, {0.25f, 0.5f}, "LOGISTIC", {0, 1}},
                                        {"boosting", negativeClass, {0.3f}, "NONE", {0, 1}},
                                        {"forest2", bothClasses, {}, "NONE", {0, 1}},
                                        {"forest2_softmax", bothClasses, {}, "SOFTMAX", {0, 1}},
                                        {"nonnegative", nonNegative, {}, "NONE", {5, 9}}};
  std::vector<std::string> labelNames = {"boosted_label", "forest_label"}, scoreNames = {"boosted_scores", "forest_scores"};
  for (const Binary &c : binaries) {
    onnx::NodeProto *n = ensemble("TreeEnsembleClassifier", {c.name + "_label", c.name + "_scores"}, c.weights);
    auto *labels = n->add_attribute();
    labels->set_name("classlabels_int64s");
    labels->set_type(onnx::AttributeProto::INTS);
    for (int64_t label : c.labels) labels->add_ints(label);
    if (!c.base.empty()) baseValues(n, c.base);
    setString(n, "post_transform", c.post);
    labelNames.push_back(c.name + "_label");
    scoreNames.push_back(c.name + "_scores");
    declareTensor(g->add_output(), labelNames.back().c_str(), {rows}, onnx::TensorProto::INT64);
    declareFloat(g->add_output(), scoreNames.back().c_str(), {rows, 2});
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {0.5f, 0.0f,  1.0f,  0.5f, -0.1f, 0.9f,  0.6f, 3.0f, 1.0f,  2.0f, 0.0f,  -0.25f,
                                2.0f, 1.0f,  -0.3f, nan,  0.0f,  1.0f,  0.0f, nan,  1.0f,  0.0f, -1.0f, nan,
                                nan,  nan,   nan,   -4.f, 1.0f,  -0.26f, 7.0f, -2.f, 2.0f, 0.25f, 1.0f, 0.0f,
                                2.0f, 5.0f,  nan,   0.4f, -0.5f, 3.0f};
  std::vector<std::string> outputs = {"SUM", "AVERAGE"};
  outputs.insert(outputs.end(), labelNames.begin(), labelNames.end());
  outputs.insert(outputs.end(), scoreNames.begin(), scoreNames.end());
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({rows, features}, x), outputs);
  for (const std::string &name : labelNames) {
    EXPECT_EQ(got[name].descr, "<i8") << name;
    EXPECT_EQ(got[name].data, want[name].data) << name; // (compareOutputs too)
  }
  // Some rows of the sparse two-class ensembles take each path: one score and two.
  std::set<int64_t> lightgbmLabels;
  for (int64_t label : integers(got["lightgbm_label"])) lightgbmLabels.insert(label);
  EXPECT_EQ(lightgbmLabels, (std::set<int64_t>{0, 1}));
  std::set<int64_t> nonNegativeLabels;
  for (int64_t label : integers(got["nonnegative_label"])) nonNegativeLabels.insert(label);
  EXPECT_EQ(nonNegativeLabels, (std::set<int64_t>{5, 9}));
  for (const char *name : {"SUM", "AVERAGE"}) scoreNames.push_back(name);
  for (const std::string &name : scoreNames) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    const int64_t columns = name == "boosted_scores" || name == "forest_scores" ? 3 : 2;
    ASSERT_EQ(a.size(), size_t(rows * columns)) << name;
    ASSERT_EQ(b.size(), a.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::abs(b[i]))) << name << " " << i;
  }
}

// A scikit-learn-style pipeline of ai.onnx.ml operators against ONNX Runtime: a Scaler (per-feature
// offsets and scales) feeding a LinearRegressor of two targets with intercepts, a Binarizer of the
// scaled features (values on its threshold give 0), Normalizers and LinearClassifiers.
TEST(CompiledOps, ScalerLinearRegressorAndBinarizerAsOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newMlModel("pipeline", 1);
  onnx::GraphProto *g = m.mutable_graph();
  const int64_t rows = 9, features = 4;
  declareFloat(g->add_input(), "x", {rows, features});
  auto floatsAttribute = [](onnx::NodeProto *n, const char *name, const std::vector<float> &values) {
    auto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOATS);
    for (float v : values) a->add_floats(v);
  };
  onnx::NodeProto *scaler = addNode(g, "Scaler", {"x"}, "scaled");
  scaler->set_domain("ai.onnx.ml");
  floatsAttribute(scaler, "offset", {1.0f, -2.0f, 0.5f, 100.0f});
  floatsAttribute(scaler, "scale", {0.5f, 2.0f, -1.0f, 0.01f});
  onnx::NodeProto *linear = addNode(g, "LinearRegressor", {"scaled"}, "predicted");
  linear->set_domain("ai.onnx.ml");
  floatsAttribute(linear, "coefficients", {0.25f, -1.5f, 3.0f, 0.125f, 2.0f, 0.5f, -0.75f, 10.0f});
  floatsAttribute(linear, "intercepts", {0.5f, -4.0f});
  setInt(linear, "targets", 2);
  onnx::NodeProto *binarizer = addNode(g, "Binarizer", {"scaled"}, "binary");
  binarizer->set_domain("ai.onnx.ml");
  auto *threshold = binarizer->add_attribute();
  threshold->set_name("threshold");
  threshold->set_type(onnx::AttributeProto::FLOAT);
  threshold->set_f(0.25f);
  declareFloat(g->add_output(), "predicted", {rows, 2});
  declareFloat(g->add_output(), "binary", {rows, features});
  // Normalizers of the scaled rows (each norm; a row of zeros, whose norms are 0, stays as it is).
  std::vector<std::string> names = {"predicted", "binary"};
  for (const char *norm : {"MAX", "L1", "L2"}) {
    names.push_back(std::string("normalized_") + norm);
    onnx::NodeProto *normalizer = addNode(g, "Normalizer", {"scaled"}, names.back().c_str());
    normalizer->set_domain("ai.onnx.ml");
    setString(normalizer, "norm", norm);
    declareFloat(g->add_output(), names.back().c_str(), {rows, features});
  }
  // Linear classifiers (scikit-learn's logistic regression and linear SVMs): one class (two
  // labels of its own by the score's sign, logistic scores [1 - p, p]), three (softmax).
  struct Linear {
    std::string name;
    std::vector<float> coefficients, intercepts;
    std::vector<int64_t> labels;
    const char *post;
  };
  const std::vector<Linear> linears = {
      {"logistic", {0.5f, -1.0f, 0.25f, 0.01f}, {0.1f}, {3, 7}, "LOGISTIC"},
      {"svm", {0.5f, -1.0f, 0.25f, 0.01f}, {-0.2f}, {0, 1}, "NONE"},
      {"multinomial", {0.5f, -1.0f, 0.25f, 0.01f, -0.5f, 1.0f, -0.25f, 0.0f, 0.0f, 0.0f, 2.0f, 0.0f}, {0.1f, -0.1f, 0.0f},
       {4, 5, 6}, "SOFTMAX"}};
  for (const Linear &c : linears) {
    onnx::NodeProto *n = addNode(g, "LinearClassifier", {"scaled"}, (c.name + "_label").c_str());
    n->add_output(c.name + "_scores");
    n->set_domain("ai.onnx.ml");
    floatsAttribute(n, "coefficients", c.coefficients);
    floatsAttribute(n, "intercepts", c.intercepts);
    setInts(n, "classlabels_ints", c.labels);
    setString(n, "post_transform", c.post);
    names.push_back(c.name + "_label");
    declareTensor(g->add_output(), names.back().c_str(), {rows}, onnx::TensorProto::INT64);
    names.push_back(c.name + "_scores");
    declareFloat(g->add_output(), names.back().c_str(), {rows, c.intercepts.size() == 1 ? 2 : int64_t(c.intercepts.size())});
  }
  std::vector<float> x;
  for (int64_t i = 0; i < rows * features; ++i) x.push_back(float((i * 37) % 29) / 4.0f - 3.0f + (i % 4 == 3 ? 100.0f : 0.0f));
  x[2] = 0.25f; // scaled to exactly the threshold: 0
  for (int64_t f = 0; f < features; ++f) x[size_t(4 * features + f)] = std::vector<float>{1.0f, -2.0f, 0.5f, 100.0f}[size_t(f)]; // scaled: 0
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({rows, features}, x), names);
  for (const Linear &c : linears) {
    const std::vector<int64_t> labels = integers(got[c.name + "_label"]);
    EXPECT_EQ(std::set<int64_t>(labels.begin(), labels.end()).size(), c.labels.size() == 2 ? 2u : 3u) << c.name; // every label
    names.erase(std::find(names.begin(), names.end(), c.name + "_label")); // (compared exactly by compareOutputs)
  }
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), b.size()) << name;
    ASSERT_FALSE(a.empty()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f * (1 + std::abs(b[i]))) << name << " " << i;
  }
}

// Einsum against ONNX Runtime, the forms transformer exports use and the corner cases of the
// equation: attention scores (batch and contracted labels, the second operand transposed), a
// dense layer over the last axis, an ellipsis with a contraction and nothing else kept, a label
// summed in one operand before a transpose, a broadcast product with no contraction, an outer
// product, an implicit result (the labels seen once, alphabetical: b and h summed), a trace (a repeated label's diagonal, summed)
// and three operands (a chain of contractions; attention scores weighted per key), contracted pairwise.
TEST(CompiledOps, EinsumComposedOfMatMulsTransposesAndSums) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(13, "einsum");
  onnx::GraphProto *g = m.mutable_graph();
  const int64_t b = 2, h = 3, q = 4, d = 5, k = 6;
  declareFloat(g->add_input(), "x", {b, h, q, d});
  auto values = [](int64_t n, int seed) {
    std::vector<float> v;
    for (int64_t i = 0; i < n; ++i) v.push_back(float((i * 29 + seed * 13) % 23) / 23.0f - 0.5f);
    return v;
  };
  floatInitializer(g, "keys", {b, h, k, d}, values(b * h * k * d, 1));
  floatInitializer(g, "dense", {d, 7}, values(d * 7, 2));
  floatInitializer(g, "perq", {q}, values(q, 3));
  floatInitializer(g, "three", {3}, values(3, 4));
  floatInitializer(g, "seven", {7}, values(7, 5));
  floatInitializer(g, "perkey", {b, h, k}, values(b * h * k, 6));
  struct Case {
    const char *equation;
    std::vector<std::string> inputs;
    const char *output;
  };
  const std::vector<Case> cases = {
      {"bhqd,bhkd->bhqk", {"x", "keys"}, "scores"},   {"bhqd,de->bhqe", {"x", "dense"}, "projected"},
      {"...d,...d->...", {"x", "x"}, "squares"},      {"bhqd->dbq", {"x"}, "summed"},
      {"bhqd,q->bhqd", {"x", "perq"}, "scaled"},      {"bhqd,e->bhqde", {"x", "three"}, "outer"},
      {"bhqd,bhkd", {"x", "keys"}, "implicit"},       {"bhii->bh", {"self"}, "trace"},
      {"bhqd,de,e->bhq", {"x", "dense", "seven"}, "chain"}, {"bhqd,bhkd,bhk->bhq", {"x", "keys", "perkey"}, "weighted"}};
  setString(addNode(g, "Einsum", {"x", "x"}, "self"), "equation", "bhqd,bhkd->bhqk");
  std::vector<std::string> names;
  for (const Case &c : cases) {
    setString(addNode(g, "Einsum", c.inputs, c.output), "equation", c.equation);
    auto *o = g->add_output();
    o->set_name(c.output);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    names.push_back(c.output);
  }
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({b, h, q, d}, values(b * h * q * d, 0)), names);
  const std::map<std::string, std::vector<int64_t>> shapes = {
      {"scores", {b, h, q, k}}, {"projected", {b, h, q, 7}}, {"squares", {b, h, q}}, {"summed", {d, b, q}},
      {"scaled", {b, h, q, d}}, {"outer", {b, h, q, d, 3}}, {"implicit", {k, q}}, {"trace", {b, h}},
      {"chain", {b, h, q}}, {"weighted", {b, h, q}}};
  for (const std::string &name : names) {
    EXPECT_EQ(got[name].shape, shapes.at(name)) << name;
    const std::vector<float> a = floats(got[name]), r = floats(want[name]);
    ASSERT_EQ(a.size(), r.size()) << name;
    float scale = 0;
    for (float v : r) scale = std::max(scale, std::abs(v));
    // The cube rounds MatMul operands to float16.
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], r[i], 2e-3f * scale) << name << " " << i;
  }
}

// Det against ONNX Runtime (an LU factorization there, a cofactor expansion here) on a batch of
// [2, 3] matrices of each order 1 to 4 (the leading blocks of 4x4 ones).
TEST(CompiledOps, DeterminantsByCofactorExpansion) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(13, "det");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {2, 3, 4, 4});
  intInitializer(g, "start", onnx::TensorProto::INT64, {2}, {0, 0});
  intInitializer(g, "axes", onnx::TensorProto::INT64, {2}, {2, 3});
  std::vector<std::string> names;
  for (int64_t order = 1; order <= 4; ++order) {
    const std::string end = "end" + std::to_string(order), block = "block" + std::to_string(order);
    names.push_back("det" + std::to_string(order));
    intInitializer(g, end.c_str(), onnx::TensorProto::INT64, {2}, {order, order});
    addNode(g, "Slice", {"x", "start", end, "axes"}, block.c_str());
    addNode(g, "Det", {block}, names.back().c_str());
    declareFloat(g->add_output(), names.back().c_str(), {2, 3});
  }
  std::vector<float> x;
  for (int64_t i = 0; i < 2 * 3 * 16; ++i) x.push_back(float((i * 37 + 11) % 19) / 4.0f - 2.0f + ((i % 16) % 5 == 0 ? 3.0f : 0.0f));
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({2, 3, 4, 4}, x), names);
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), r = floats(want[name]);
    ASSERT_EQ(a.size(), 6u) << name;
    ASSERT_EQ(r.size(), 6u) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], r[i], 1e-4f * (1 + std::abs(r[i]))) << name << " " << i;
  }
  // The first 2x2: ad - bc of x's first four entries in its first matrix.
  EXPECT_FLOAT_EQ(floats(got["det2"])[0], x[0] * x[5] - x[1] * x[4]);
}

// Sequences against ONNX Runtime, resolved at compile time into the tensors they hold: a split
// into a sequence of squeezed columns, an insert and an erase at constant (negative) positions, a
// read, the length, a stack along a new last axis, a concatenation of a constructed sequence and a
// split into chunks of a size (the last shorter) read from the back. Exact: only data movement
// and one float32 sum.
TEST(CompiledOps, SequencesResolvedIntoTheirTensors) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(13, "sequences");
  onnx::GraphProto *g = m.mutable_graph();
  const int64_t rows = 4, cols = 3;
  declareFloat(g->add_input(), "x", {rows, cols});
  intInitializer(g, "one", onnx::TensorProto::INT64, {1}, {1});
  intInitializer(g, "minus_one", onnx::TensorProto::INT64, {}, {-1});
  intInitializer(g, "minus_two", onnx::TensorProto::INT64, {}, {-2});
  intInitializer(g, "zero", onnx::TensorProto::INT64, {}, {0});
  intInitializer(g, "three", onnx::TensorProto::INT64, {}, {3});
  onnx::NodeProto *columns = addNode(g, "SplitToSequence", {"x"}, "columns"); // 3 x [4]
  setInt(columns, "axis", 1);
  setInt(columns, "keepdims", 0);
  setInt(addNode(g, "ReduceSum", {"x", "one"}, "sums"), "keepdims", 0);                    // [4]
  addNode(g, "SequenceInsert", {"columns", "sums", "minus_one"}, "inserted"); // c0 c1 sums c2
  addNode(g, "SequenceErase", {"inserted", "zero"}, "erased");               // c1 sums c2
  addNode(g, "SequenceAt", {"erased", "minus_two"}, "picked");               // sums
  addNode(g, "SequenceLength", {"erased"}, "length");                        // 3
  onnx::NodeProto *stacked = addNode(g, "ConcatFromSequence", {"erased"}, "stacked"); // [4, 3]
  setInt(stacked, "axis", -1);
  setInt(stacked, "new_axis", 1);
  addNode(g, "Neg", {"x"}, "negated");
  addNode(g, "SequenceConstruct", {"x", "negated"}, "pair");
  setInt(addNode(g, "ConcatFromSequence", {"pair"}, "joined"), "axis", 1); // [4, 6]
  addNode(g, "SplitToSequence", {"x", "three"}, "chunks");                 // [3, 3], [1, 3]
  addNode(g, "SequenceAt", {"chunks", "minus_one"}, "tail");
  const std::vector<std::string> names = {"picked", "length", "stacked", "joined", "tail"};
  for (const std::string &name : names) {
    auto *o = g->add_output();
    o->set_name(name);
    o->mutable_type()->mutable_tensor_type()->set_elem_type(name == "length" ? onnx::TensorProto::INT64
                                                                              : onnx::TensorProto::FLOAT);
  }
  std::vector<float> x;
  for (int64_t i = 0; i < rows * cols; ++i) x.push_back(float(i * 7 % 11) - 4.5f);
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({rows, cols}, x), names);
  const std::map<std::string, std::vector<int64_t>> shapes = {
      {"picked", {rows}}, {"length", {}}, {"stacked", {rows, 3}}, {"joined", {rows, 2 * cols}}, {"tail", {1, cols}}};
  for (const std::string &name : names) {
    EXPECT_EQ(got[name].shape, shapes.at(name)) << name;
    EXPECT_EQ(got[name].data, want[name].data) << name;
  }
  EXPECT_EQ(integers(got["length"]), std::vector<int64_t>{3});
  const std::vector<float> tail = floats(got["tail"]);
  EXPECT_EQ(tail, std::vector<float>(x.end() - cols, x.end()));
}

// Scan against ONNX Runtime, unrolled at compile time: two states (a running sum of a scan input
// times a body initializer, a running maximum of another), one scan input read along axis 0, one
// along axis 1 backwards, a scan output stacked along axis 1 and one along axis 0 backwards, and
// an outer-scope value used in the body. Exact: the same float32 operations in the same order.
TEST(CompiledOps, ScanUnrolledOverItsSteps) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t steps = 5;
  onnx::ModelProto m = newModel(16, "scan");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {steps, 2});
  floatInitializer(g, "sum0", {2}, {0.5f, -1.25f});
  floatInitializer(g, "max0", {2}, {-3.0f, 0.75f});
  floatInitializer(g, "gain", {2}, {2.0f, -0.5f});
  setInts(addNode(g, "Transpose", {"x"}, "xt"), "perm", {1, 0});
  onnx::NodeProto *scan = addNode(g, "Scan", {"sum0", "max0", "x", "xt"}, "final_sum");
  for (const char *o : {"final_max", "ys1", "ys2"}) scan->add_output(o);
  setInt(scan, "num_scan_inputs", 2);
  setInts(scan, "scan_input_axes", {0, 1});
  setInts(scan, "scan_input_directions", {0, 1});
  setInts(scan, "scan_output_axes", {1, 0});
  setInts(scan, "scan_output_directions", {0, 1});
  auto *bodyAttr = scan->add_attribute();
  bodyAttr->set_name("body");
  bodyAttr->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto *body = bodyAttr->mutable_g();
  body->set_name("body");
  for (const char *name : {"s_sum", "s_max", "a", "b"}) declareFloat(body->add_input(), name, {2});
  floatInitializer(body, "w", {2}, {1.5f, -0.25f});
  addNode(body, "Mul", {"a", "w"}, "weighted");
  addNode(body, "Add", {"s_sum", "weighted"}, "sum_out");
  addNode(body, "Max", {"s_max", "b"}, "max_out");
  addNode(body, "Sub", {"sum_out", "b"}, "out1");
  addNode(body, "Mul", {"max_out", "gain"}, "scaled");
  for (const char *name : {"sum_out", "max_out", "out1", "scaled"}) declareFloat(body->add_output(), name, {2});
  declareFloat(g->add_output(), "final_sum", {2});
  declareFloat(g->add_output(), "final_max", {2});
  declareFloat(g->add_output(), "ys1", {2, steps});
  declareFloat(g->add_output(), "ys2", {steps, 2});
  std::vector<float> x;
  for (int i = 0; i < steps * 2; ++i) x.push_back(float((i * 7) % 9) * 0.75f - 2.5f);
  const std::vector<std::string> names{"final_sum", "final_max", "ys1", "ys2"};
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({steps, 2}, x), names);
  for (const std::string &name : names) EXPECT_EQ(got[name].data, want[name].data) << name;
}

// Loop of a constant trip count (no condition input, the body passing its condition on) against
// ONNX Runtime, unrolled at compile time: a carried value plus an outer input times the iteration
// number, its per-iteration values as the scan output.
TEST(CompiledOps, LoopOfAConstantTripCountUnrolled) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(13, "loop");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {3});
  intInitializer(g, "trips", onnx::TensorProto::INT64, {}, {4});
  floatInitializer(g, "y0", {3}, {1.0f, -2.0f, 0.5f});
  onnx::NodeProto *loop = addNode(g, "Loop", {"trips", "", "y0"}, "y");
  loop->add_output("ys");
  auto *bodyAttr = loop->add_attribute();
  bodyAttr->set_name("body");
  bodyAttr->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto *body = bodyAttr->mutable_g();
  body->set_name("body");
  declareTensor(body->add_input(), "i", {}, onnx::TensorProto::INT64);
  declareTensor(body->add_input(), "cond_in", {}, onnx::TensorProto::BOOL);
  declareFloat(body->add_input(), "y_in", {3});
  addNode(body, "Identity", {"cond_in"}, "cond_out");
  setInt(addNode(body, "Cast", {"i"}, "fi"), "to", onnx::TensorProto::FLOAT);
  addNode(body, "Mul", {"x", "fi"}, "step");
  addNode(body, "Add", {"y_in", "step"}, "y_out");
  addNode(body, "Identity", {"y_out"}, "scan");
  declareTensor(body->add_output(), "cond_out", {}, onnx::TensorProto::BOOL);
  declareFloat(body->add_output(), "y_out", {3});
  declareFloat(body->add_output(), "scan", {3});
  declareFloat(g->add_output(), "y", {3});
  declareFloat(g->add_output(), "ys", {4, 3});
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({3}, {0.25f, -1.5f, 3.0f}), {"y", "ys"});
  for (const char *name : {"y", "ys"}) EXPECT_EQ(got[name].data, want[name].data) << name;
  // 1 + 0.25 * (0 + 1 + 2 + 3)
  EXPECT_EQ(floats(want["y"]).at(0), 2.5f);
}

// MaxPool with its Indices output against ONNX Runtime: values and flat indices exactly, with many
// equal values in a window (the first in row-major order wins), pads, strides, a dilation,
// ceil_mode and storage_order 1; then SegNet's round trip, MaxUnpool of the values at the indices.
TEST(CompiledOps, MaxPoolIndicesPickTheFirstMaximum) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const std::vector<int64_t> shape{2, 3, 7, 8};
  onnx::ModelProto m = newModel(12, "max_pool_indices");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  struct Pool {
    const char *name;
    int64_t k, s, d, pad, ceil, order;
  };
  const Pool pools[] = {{"p3", 3, 1, 1, 1, 0, 0}, {"s2", 2, 2, 1, 0, 1, 1}, {"d2", 2, 1, 2, 1, 0, 0}};
  std::vector<std::string> names;
  for (const Pool &p : pools) {
    onnx::NodeProto *n = addNode(g, "MaxPool", {"x"}, (std::string(p.name) + "_values").c_str());
    n->add_output(std::string(p.name) + "_indices");
    setInts(n, "kernel_shape", {p.k, p.k});
    setInts(n, "strides", {p.s, p.s});
    setInts(n, "dilations", {p.d, p.d});
    setInts(n, "pads", {p.pad, p.pad, p.pad, p.pad});
    setInt(n, "ceil_mode", p.ceil);
    setInt(n, "storage_order", p.order);
    auto extent = [&](int64_t size) {
      const double span = double(size + 2 * p.pad - p.d * (p.k - 1) - 1) / double(p.s);
      return int64_t(p.ceil ? std::ceil(span) : std::floor(span)) + 1;
    };
    const std::vector<int64_t> out{2, 3, extent(7), extent(8)};
    declareFloat(g->add_output(), (std::string(p.name) + "_values").c_str(), out);
    declareTensor(g->add_output(), (std::string(p.name) + "_indices").c_str(), out, onnx::TensorProto::INT64);
    names.push_back(std::string(p.name) + "_values");
    names.push_back(std::string(p.name) + "_indices");
  }
  onnx::NodeProto *unpool = addNode(g, "MaxUnpool", {"s2_values", "s2_indices"}, "unpooled");
  setInts(unpool, "kernel_shape", {2, 2});
  setInts(unpool, "strides", {2, 2});
  declareFloat(g->add_output(), "unpooled", {2, 3, 8, 8});
  names.push_back("unpooled");
  std::vector<float> x;
  for (int i = 0; i < 2 * 3 * 7 * 8; ++i) x.push_back(float((i * 7) % 5) - 2.0f - (i % 13 == 0 ? 0.5f : 0.0f));
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy(shape, x), names);
  for (const std::string &name : names)
    if (name != "unpooled") {
      EXPECT_EQ(got[name].data, want[name].data) << name;
    }
}

// MaxUnpool against ONNX Runtime: two images of two channels, each value stored at its index, a
// position in the whole output tensor (as MaxPool's Indices give them), into zeros of a given
// output shape larger than the pooling's own.
TEST(CompiledOps, MaxUnpoolStoresAtIndicesOfTheWholeOutput) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  onnx::ModelProto m = newModel(11, "max_unpool");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {2, 2, 2, 2});
  std::vector<int64_t> indices;
  for (int64_t plane = 0; plane < 4; ++plane)
    for (int64_t i = 0; i < 4; ++i) indices.push_back(plane * 25 + (i / 2) * 10 + (i % 2) * 2 + (plane + i) % 2);
  intInitializer(g, "indices", onnx::TensorProto::INT64, {2, 2, 2, 2}, indices);
  intInitializer(g, "shape", onnx::TensorProto::INT64, {4}, {2, 2, 5, 5});
  onnx::NodeProto *node = addNode(g, "MaxUnpool", {"x", "indices", "shape"}, "y");
  for (const char *key : {"kernel_shape", "strides"}) {
    onnx::AttributeProto *a = node->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::INTS);
    a->add_ints(2);
    a->add_ints(2);
  }
  declareFloat(g->add_output(), "y", {2, 2, 5, 5});
  std::vector<float> x;
  for (int i = 0; i < 16; ++i) x.push_back(float(i) - 7.5f);
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({2, 2, 2, 2}, x), {"y"});
  EXPECT_EQ(floats(got["y"]), floats(want["y"]));
  EXPECT_EQ(floats(got["y"]).at(size_t(indices[5])), x[5]);
}

// RoiAlign against ONNX Runtime: both coordinate modes, average and max, sampling ratios 1 to 3,
// over run-time regions of two images: one reaching past the left and top edges, one wholly
// outside (its samples count as 0), one whose corners are swapped (output_half_pixel makes such a
// region one pixel wide; half_pixel keeps its negative size), and fractional ones.
TEST(CompiledOps, RoiAlignOfRunTimeRegionsAgainstOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t n = 2, c = 3, h = 6, w = 8, r = 5;
  onnx::ModelProto m = newModel(16, "roi_align");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "rois", {r, 4});
  std::vector<float> image;
  for (int i = 0; i < n * c * h * w; ++i) image.push_back(float((i * 41) % 31) * 0.25f - 3.5f);
  floatInitializer(g, "image", {n, c, h, w}, image);
  intInitializer(g, "batch", onnx::TensorProto::INT64, {r}, {0, 1, 1, 0, 1});
  struct Case {
    const char *name, *mode, *coordinates;
    int64_t height, width, ratio;
    float scale;
  };
  const std::vector<Case> cases = {{"avg_half", "avg", "half_pixel", 3, 4, 2, 0.5f},
                                   {"avg_legacy", "avg", "output_half_pixel", 2, 2, 3, 1.0f},
                                   {"max_half", "max", "half_pixel", 3, 3, 2, 1.0f},
                                   {"max_legacy", "max", "output_half_pixel", 4, 4, 1, 0.5f}};
  std::vector<std::string> names;
  for (const Case &k : cases) {
    names.push_back(k.name);
    onnx::NodeProto *node = addNode(g, "RoiAlign", {"image", "rois", "batch"}, k.name);
    setString(node, "mode", k.mode);
    setString(node, "coordinate_transformation_mode", k.coordinates);
    setInt(node, "output_height", k.height);
    setInt(node, "output_width", k.width);
    setInt(node, "sampling_ratio", k.ratio);
    onnx::AttributeProto *scale = node->add_attribute();
    scale->set_name("spatial_scale");
    scale->set_type(onnx::AttributeProto::FLOAT);
    scale->set_f(k.scale);
    declareFloat(g->add_output(), k.name, {r, c, k.height, k.width});
  }
  const std::vector<float> rois = {-3.0f, -2.0f, 4.5f, 3.0f,   1.25f, 0.5f, 13.0f, 9.75f, 20.0f, 15.0f, 30.0f, 25.0f,
                                   6.0f,  5.0f,  2.0f, 1.0f,   0.0f,  0.0f, 7.9f,  5.6f};
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "rois", floatNpy({r, 4}, rois), names);
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << name << " " << i;
  }
}

// Every output value within `share` of the output's largest reference magnitude: the cube's fp16
// products keep about 3 significant digits of the largest terms.
template <typename Outputs>
void expectWithinShareOfLargest(Outputs &got, Outputs &want, const std::vector<std::string> &names, double share) {
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), r = floats(want[name]);
    ASSERT_EQ(a.size(), r.size()) << name;
    float scale = 0;
    for (float v : r) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], r[i], share * scale) << name << " " << i;
  }
}

// DFT on the cube against ONNX Runtime: a real signal along axis 1 zero-padded to dft_length 12
// and onesided (7 bins), the same along axis 2 cut to 5, and a complex signal's inverse (its two
// components from the real one by a Concat). The cube multiplies in fp16: every bin within 3e-3
// of the largest magnitude.
TEST(CompiledOps, DftOnTheCubeAgainstOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t b = 2, s = 9, t = 6;
  onnx::ModelProto m = newModel(17, "dft");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {b, s, t, 1});
  intInitializer(g, "twelve", onnx::TensorProto::INT64, {}, {12});
  intInitializer(g, "five", onnx::TensorProto::INT64, {}, {5});
  onnx::NodeProto *padded = addNode(g, "DFT", {"x", "twelve"}, "padded");
  setInt(padded, "onesided", 1);
  setInt(addNode(g, "DFT", {"x", "five"}, "cut"), "axis", 2);
  setInt(addNode(g, "Concat", {"x", "x"}, "complex"), "axis", 3);
  setInt(addNode(g, "DFT", {"complex"}, "inverse"), "inverse", 1);
  declareFloat(g->add_output(), "padded", {b, 7, t, 2});
  declareFloat(g->add_output(), "cut", {b, s, 5, 2});
  declareFloat(g->add_output(), "inverse", {b, s, t, 2});
  std::vector<float> x;
  for (int i = 0; i < b * s * t; ++i) x.push_back(float((i * 29) % 17) * 0.5f - 4.0f);
  const std::vector<std::string> names = {"padded", "cut", "inverse"};
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({b, s, t, 1}, x), names);
  expectWithinShareOfLargest(got, want, names, 3e-3);
}

// STFT against ONNX Runtime: a real signal framed every 3 samples under a 10-sample Hann window
// (the frame length from the window; onesided by default: 6 bins), every 4 samples in frames of 8
// without a window, both sides (8 bins), and a complex signal (its two components from the real
// one by a Concat) in frames of 6 every 5 samples. Frames are gathered by DMA, the DFT multiplies
// on the cube in fp16: every bin within 3e-3 of the largest magnitude.
TEST(CompiledOps, StftOfRealAndComplexSignals) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t b = 2, s = 40;
  onnx::ModelProto m = newModel(17, "stft");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {b, s, 1});
  std::vector<float> hann;
  for (int i = 0; i < 10; ++i) hann.push_back(float(0.5 - 0.5 * std::cos(2.0 * M_PI * i / 10.0)));
  floatInitializer(g, "hann", {10}, hann);
  intInitializer(g, "three", onnx::TensorProto::INT64, {}, {3});
  intInitializer(g, "four", onnx::TensorProto::INT64, {}, {4});
  intInitializer(g, "five", onnx::TensorProto::INT64, {}, {5});
  intInitializer(g, "six", onnx::TensorProto::INT64, {}, {6});
  intInitializer(g, "eight", onnx::TensorProto::INT64, {}, {8});
  addNode(g, "STFT", {"x", "three", "hann"}, "windowed");
  setInt(addNode(g, "STFT", {"x", "four", "", "eight"}, "two_sided"), "onesided", 0);
  setInt(addNode(g, "Concat", {"x", "x"}, "complex"), "axis", 2);
  setInt(addNode(g, "STFT", {"complex", "five", "", "six"}, "of_complex"), "onesided", 0);
  declareFloat(g->add_output(), "windowed", {b, 11, 6, 2});
  declareFloat(g->add_output(), "two_sided", {b, 9, 8, 2});
  declareFloat(g->add_output(), "of_complex", {b, 7, 6, 2});
  std::vector<float> x;
  for (int i = 0; i < b * s; ++i) x.push_back(float((i * 37) % 23) * 0.25f - 2.5f);
  const std::vector<std::string> names = {"windowed", "two_sided", "of_complex"};
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({b, s, 1}, x), names);
  expectWithinShareOfLargest(got, want, names, 3e-3);
}

// TfIdfVectorizer against ONNX Runtime on two rows of 10 token ids (int64): 1- to 3-grams with one
// skipped token at most, TFIDF weighted, columns permuted; the bigrams alone as IDF (presence
// times weight) with up to two skipped; unigrams into 5 columns, 3 of which no n-gram has (0);
// and the tokens as int32 with a pool token int32 cannot hold (never matched). Exactly.
TEST(CompiledOps, TfIdfVectorizerCountsAsOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t rows = 2, tokens = 10;
  onnx::ModelProto m = newModel(13, "tfidf");
  onnx::GraphProto *g = m.mutable_graph();
  declareTensor(g->add_input(), "x", {rows, tokens}, onnx::TensorProto::INT64);
  // Pool: unigrams 3, 7, 11; bigrams (3 7), (7 3), (11 11); trigram (3 7 3).
  const std::vector<int64_t> pool = {3, 7, 11, 3, 7, 7, 3, 11, 11, 3, 7, 3};
  auto vectorizer = [&](const char *out, const char *input, const char *mode, int64_t minGram, int64_t maxGram,
                        int64_t maxSkip, const std::vector<int64_t> &poolTokens, const std::vector<int64_t> &counts,
                        const std::vector<int64_t> &indexes, const std::vector<float> &weights) {
    onnx::NodeProto *n = addNode(g, "TfIdfVectorizer", {input}, out);
    setString(n, "mode", mode);
    setInt(n, "min_gram_length", minGram);
    setInt(n, "max_gram_length", maxGram);
    setInt(n, "max_skip_count", maxSkip);
    setInts(n, "pool_int64s", poolTokens);
    setInts(n, "ngram_counts", counts);
    setInts(n, "ngram_indexes", indexes);
    if (!weights.empty()) {
      auto *a = n->add_attribute();
      a->set_name("weights");
      a->set_type(onnx::AttributeProto::FLOATS);
      for (float w : weights) a->add_floats(w);
    }
  };
  vectorizer("tfidf", "x", "TFIDF", 1, 3, 1, pool, {0, 3, 9}, {6, 0, 5, 1, 4, 2, 3}, {0.5f, 1.5f, 2, 0.25f, 3, 1, 0.75f});
  vectorizer("idf", "x", "IDF", 2, 2, 2, pool, {0, 3, 9}, {0, 1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6, 7});
  vectorizer("gaps", "x", "TF", 1, 1, 0, {3, 7}, {0}, {4, 1}, {});
  setInt(addNode(g, "Cast", {"x"}, "x32"), "to", onnx::TensorProto::INT32);
  vectorizer("narrow", "x32", "TF", 1, 2, 0, {7, int64_t(1) << 40, 3, 3, 7}, {0, 3}, {0, 1, 2, 3}, {});
  declareFloat(g->add_output(), "tfidf", {rows, 7});
  declareFloat(g->add_output(), "idf", {rows, 7});
  declareFloat(g->add_output(), "gaps", {rows, 5});
  declareFloat(g->add_output(), "narrow", {rows, 4});
  const std::vector<int64_t> x = {3, 7, 3, 7, 11, 11, 11, 3, 5, 7, /**/ 7, 3, 5, 3, 7, 3, 11, 5, 11, 3};
  NpyArray input{"<i8", {rows, tokens}, std::vector<uint8_t>(x.size() * 8)};
  std::memcpy(input.data.data(), x.data(), input.data.size());
  const std::vector<std::string> names = {"tfidf", "idf", "gaps", "narrow"};
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", input, names);
  for (const std::string &name : names) {
    const std::vector<float> a = floats(got[name]), r = floats(want[name]);
    ASSERT_EQ(a.size(), r.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], r[i]) << name << " " << i;
  }
  // Counted by hand in the first row (3 7 3 7 11 11 11 3 5 7): 3 and 7 three times each, into
  // columns 4 and 1; no n-gram has columns 0, 2 and 3.
  const std::vector<float> gaps = floats(got["gaps"]);
  ASSERT_EQ(gaps.size(), 10u);
  EXPECT_EQ(std::vector<float>(gaps.begin(), gaps.begin() + 5), (std::vector<float>{0, 3, 0, 0, 3}));
}

// ReverseSequence of a [time 5, batch 4, 3] tensor with run-time lengths 0, 1, 3 and 5 (an
// input), and of its [batch, time, 3] transpose with batch_axis 0: each batch entry's first len
// steps reversed, the rest as they were, exactly.
TEST(CompiledOps, ReverseSequenceOfRunTimeLengths) {
  const int64_t steps = 5, batch = 4, width = 3;
  onnx::ModelProto m = newModel(13, "reverse_sequence");
  onnx::GraphProto *g = m.mutable_graph();
  declareTensor(g->add_input(), "lengths", {batch}, onnx::TensorProto::INT64);
  std::vector<float> x;
  for (int i = 0; i < steps * batch * width; ++i) x.push_back(float(i));
  floatInitializer(g, "x", {steps, batch, width}, x);
  addNode(g, "ReverseSequence", {"x", "lengths"}, "by_time");
  setInts(addNode(g, "Transpose", {"x"}, "xt"), "perm", {1, 0, 2});
  onnx::NodeProto *byBatch = addNode(g, "ReverseSequence", {"xt", "lengths"}, "by_batch");
  setInt(byBatch, "batch_axis", 0);
  setInt(byBatch, "time_axis", 1);
  declareFloat(g->add_output(), "by_time", {steps, batch, width});
  declareFloat(g->add_output(), "by_batch", {batch, steps, width});
  const std::vector<int64_t> lengths = {0, 1, 3, 5};
  std::map<std::string, std::vector<double>> want;
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < width; ++c) {
        const int64_t from = t < lengths[size_t(b)] ? lengths[size_t(b)] - 1 - t : t;
        want["by_time"].push_back(x[size_t((from * batch + b) * width + c)]);
      }
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t)
      for (int64_t c = 0; c < width; ++c) {
        const int64_t from = t < lengths[size_t(b)] ? lengths[size_t(b)] - 1 - t : t;
        want["by_batch"].push_back(x[size_t((from * batch + b) * width + c)]);
      }
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  EXPECT_EQ(hostTasks(saved.path), std::vector<std::string>{});
  NpyArray input{"<i8", {batch}, std::vector<uint8_t>(size_t(batch) * 8)};
  std::memcpy(input.data.data(), lengths.data(), input.data.size());
  for (const char *mode : {"functional", "timing"}) {
    std::map<std::string, NpyArray> got = runFractal(saved.path, "", "lengths", input, mode);
    for (const auto &[name, expected] : want) {
      const std::vector<float> y = floats(got[name]);
      EXPECT_EQ(std::vector<double>(y.begin(), y.end()), expected) << mode << " " << name;
    }
  }
}

// A QDQ model as quantization tools write one (uint8 activations, int8 weights per output
// channel, each quantized tensor between a QuantizeLinear and a DequantizeLinear) against ONNX
// Runtime: the weights' DequantizeLinear folds into float32 weights at compile time and each Q/DQ
// pair on activations is one fake_quant kernel (the convolution's output's in fp16, as the cube
// writes it); the convolution's output, requantized, is at most one quantization step away from
// ONNX Runtime's (fp16 on the cube can move a value across a rounding boundary).
TEST(CompiledOps, QuantizedConvolutionAgainstOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t cin = 4, cout = 6, size = 10;
  onnx::ModelProto m = newModel(13, "qdq");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {1, cin, size, size});
  floatInitializer(g, "x_scale", {}, {0.03f});
  intInitializer(g, "x_zero", onnx::TensorProto::UINT8, {}, {128});
  std::vector<int64_t> w(size_t(cout * cin * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int64_t(i * 37 % 255) - 127;
  intInitializer(g, "w", onnx::TensorProto::INT8, {cout, cin, 3, 3}, w);
  floatInitializer(g, "w_scale", {cout}, {0.01f, 0.02f, 0.005f, 0.015f, 0.01f, 0.03f});
  intInitializer(g, "w_zero", onnx::TensorProto::INT8, {cout}, std::vector<int64_t>(size_t(cout), 0));
  floatInitializer(g, "bias", {cout}, {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.4f});
  floatInitializer(g, "y_scale", {}, {0.05f});
  intInitializer(g, "y_zero", onnx::TensorProto::UINT8, {}, {0});
  addNode(g, "QuantizeLinear", {"x", "x_scale", "x_zero"}, "xq");
  addNode(g, "DequantizeLinear", {"xq", "x_scale", "x_zero"}, "xd");
  setInt(addNode(g, "DequantizeLinear", {"w", "w_scale", "w_zero"}, "wd"), "axis", 0);
  setInts(addNode(g, "Conv", {"xd", "wd", "bias"}, "conv"), "pads", {1, 1, 1, 1});
  addNode(g, "Relu", {"conv"}, "relu");
  addNode(g, "QuantizeLinear", {"relu", "y_scale", "y_zero"}, "yq");
  addNode(g, "DequantizeLinear", {"yq", "y_scale", "y_zero"}, "y");
  declareFloat(g->add_output(), "xd", {1, cin, size, size});
  declareFloat(g->add_output(), "y", {1, cout, size, size});
  std::vector<float> x(size_t(cin * size * size));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 53 % 101) - 50) * 0.07f + 0.001f; // past the clip too
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({1, cin, size, size}, x), {"xd", "y"});
  EXPECT_EQ(floats(got["xd"]), floats(want["xd"]));
  const std::vector<float> a = floats(got["y"]), b = floats(want["y"]);
  ASSERT_EQ(a.size(), b.size());
  size_t moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(std::abs(a[i] - b[i]), 0.05f + std::abs(b[i]) / 1024) << i; // a step and fp16's rounding
    moved += std::abs(a[i] - b[i]) > 0.025f; // a step, not the fp16 rounding of the dequantized value
  }
  EXPECT_LE(moved, a.size() / 20) << "requantized values one step off";
  std::printf("  %zu of %zu requantized values one step from ONNX Runtime's\n", moved, a.size());
}

// QLinearConv (uint8 activations, int8 weights with per-channel scales, an int32 bias) and a
// QLinearMatMul after it, against ONNX Runtime: the 8-bit differences multiply exactly on the fp16
// cube, so every requantized value is ONNX Runtime's. A MatMulInteger whose sums could pass 2^24
// (K = 300 run-time uint8 values each side) is refused naming the node and the bound; with
// constant small weights the bound comes from them and it compiles.
TEST(CompiledOps, QLinearConvolutionAndMatMulExactlyAsOnnxRuntime) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t cin = 3, cout = 5, size = 9;
  onnx::ModelProto m = newModel(13, "qlinear");
  onnx::GraphProto *g = m.mutable_graph();
  declareTensor(g->add_input(), "x", {1, cin, size, size}, onnx::TensorProto::UINT8);
  floatInitializer(g, "x_scale", {}, {0.02f});
  intInitializer(g, "x_zero", onnx::TensorProto::UINT8, {}, {100});
  std::vector<int64_t> w(size_t(cout * cin * 9));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int64_t(i * 41 % 255) - 127;
  intInitializer(g, "w", onnx::TensorProto::INT8, {cout, cin, 3, 3}, w);
  floatInitializer(g, "w_scale", {cout}, {0.01f, 0.02f, 0.005f, 0.015f, 0.03f});
  intInitializer(g, "w_zero", onnx::TensorProto::INT8, {cout}, std::vector<int64_t>(size_t(cout), 0));
  floatInitializer(g, "y_scale", {}, {0.1f});
  intInitializer(g, "y_zero", onnx::TensorProto::UINT8, {}, {120});
  intInitializer(g, "bias", onnx::TensorProto::INT32, {cout}, {500, -300, 0, 1000, -2000});
  auto *c = addNode(g, "QLinearConv", {"x", "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale", "y_zero", "bias"}, "y");
  setInts(c, "pads", {1, 1, 1, 1});
  setInts(c, "strides", {2, 2});
  std::vector<int64_t> b(size_t(5 * 4));
  for (size_t i = 0; i < b.size(); ++i) b[i] = int64_t(i * 29 % 200);
  intInitializer(g, "b", onnx::TensorProto::UINT8, {5, 4}, b);
  floatInitializer(g, "b_scale", {}, {0.05f});
  intInitializer(g, "b_zero", onnx::TensorProto::UINT8, {}, {90});
  floatInitializer(g, "z_scale", {}, {0.3f});
  intInitializer(g, "z_zero", onnx::TensorProto::UINT8, {}, {128});
  addNode(g, "QLinearMatMul", {"y", "y_scale", "y_zero", "b", "b_scale", "b_zero", "z_scale", "z_zero"}, "z");
  declareTensor(g->add_output(), "y", {1, cout, 5, 5}, onnx::TensorProto::UINT8);
  declareTensor(g->add_output(), "z", {1, cout, 5, 4}, onnx::TensorProto::UINT8);
  NpyArray x{"|u1", {1, cin, size, size}, std::vector<uint8_t>(size_t(cin * size * size))};
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = uint8_t(i * 97 % 256);
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  std::map<std::string, NpyArray> got = runFractal(saved.path, "", "x", x, "timing");
  std::map<std::string, NpyArray> want = runReference(saved.path, "x", x, {"y", "z"});
  for (const char *name : {"y", "z"}) {
    ASSERT_TRUE(got.count(name) && want.count(name)) << name;
    EXPECT_EQ(got[name].descr, "|u1") << name;
    const std::vector<int64_t> mine = integers(got[name]), theirs = integers(want[name]);
    ASSERT_EQ(mine.size(), theirs.size()) << name;
    for (size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(mine[i], theirs[i]) << name << " element " << i;
  }
  std::vector<int64_t> spread = integers(got["y"]);
  std::sort(spread.begin(), spread.end());
  EXPECT_LT(spread.front() + 20, spread.back()) << "the test's values should not all saturate";

  auto matMulInteger = [](bool constantB) {
    onnx::ModelProto mm = newModel(13, "mmi");
    onnx::GraphProto *gg = mm.mutable_graph();
    declareTensor(gg->add_input(), "a", {2, 300}, onnx::TensorProto::UINT8);
    if (constantB)
      intInitializer(gg, "b", onnx::TensorProto::UINT8, {300, 3}, std::vector<int64_t>(900, 3));
    else
      declareTensor(gg->add_input(), "b", {300, 3}, onnx::TensorProto::UINT8);
    addNode(gg, "MatMulInteger", {"a", "b"}, "p");
    declareTensor(gg->add_output(), "p", {2, 3}, onnx::TensorProto::INT32);
    return mm;
  };
  Expected<ChipConfig> edgeChip = loadChipConfig("edge");
  ASSERT_TRUE(edgeChip.ok());
  const SavedModel wide(matMulInteger(false)), narrow(matMulInteger(true));
  Expected<pkg::Package> refused = onnx_frontend::compileOnnxModel(wide.path, "", *edgeChip, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("node 'p' (MatMulInteger) is not supported: its sums of products can reach "
                                         "19507500, past 2^24"), std::string::npos) << refused.error().message;
  Expected<pkg::Package> bounded = onnx_frontend::compileOnnxModel(narrow.path, "", *edgeChip, "");
  EXPECT_TRUE(bounded.ok()) << bounded.error().message; // 255 * 300 * 3 = 229500
}

// Mod: float32 fmod (signs of both kinds, a quotient that rounds up to the next integer,
// an infinite divisor) on a run-time x, and int32 floor and fmod remainders of constants with
// mixed signs, a broadcast divisor and values past 2^24 (where int32 -> float32 rounds), against
// std::fmod and the integer definitions.
TEST(CompiledOps, ModFloatAndInt32) {
  const std::vector<float> x = {-4.3f, 7.2f, 5.0f, 4.3f, -7.2f, 8.0f, 0.0f, -0.5f, 1e6f, 2.9999999f, 3.0f, -1.0f};
  const std::vector<float> y = {2.1f, -3.4f, 8.0f, -2.1f, 3.4f, -5.0f, 3.0f, 0.25f, 7.0f, 1.0f, INFINITY, -INFINITY};
  const std::vector<int64_t> shape{int64_t(x.size())};
  const std::vector<int32_t> a = {7, -7, 7, -7, 0, 2147483647, -2147483647, 123456789, -987654321, 16777217, 5, -5};
  const std::vector<int32_t> b = {3, 3, -3, -3, 5, 10, 7, -1000, 65536, 3, 2147483647, 1};
  onnx::ModelProto m = newModel(13, "mod");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "y", shape, y);
  auto ints = [&](const char *name, const std::vector<int32_t> &v, const std::vector<int64_t> &dims) {
    intInitializer(g, name, onnx::TensorProto::INT32, dims, {v.begin(), v.end()});
  };
  ints("a", a, shape);
  ints("b", b, shape);
  ints("seven", {-7}, {1});
  setInt(addNode(g, "Mod", {"x", "y"}, "float_fmod"), "fmod", 1);
  addNode(g, "Mod", {"a", "b"}, "floor");
  setInt(addNode(g, "Mod", {"a", "b"}, "trunc"), "fmod", 1);
  addNode(g, "Mod", {"a", "seven"}, "by_minus_seven");
  declareFloat(g->add_output(), "float_fmod", shape);
  for (const char *name : {"floor", "trunc", "by_minus_seven"}) {
    declareFloat(g->add_output(), name, shape);
    g->mutable_output(g->output_size() - 1)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT32);
  }
  std::map<std::string, std::vector<double>> want;
  auto floorMod = [](int64_t p, int64_t q) { const int64_t r = p % q; return r != 0 && (r < 0) != (q < 0) ? r + q : r; };
  for (size_t i = 0; i < x.size(); ++i) {
    want["float_fmod"].push_back(std::fmod(double(x[i]), double(y[i])));
    want["floor"].push_back(double(floorMod(a[i], b[i])));
    want["trunc"].push_back(double(int64_t(a[i]) % int64_t(b[i])));
    want["by_minus_seven"].push_back(double(floorMod(a[i], -7)));
  }
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // x - trunc(x / y) y rounds its product: within an ulp of x
  expectOutputs(model, shape, x, want, [&](const std::string &name, double) { return name == "float_fmod" ? 1e-6 : 0.0; });
}

// Transposes of more separate runs than the DMA segment kernel unrolls (6000 runs of one element):
// [3, 40, 50] -> [50, 3, 40] is the batched 2-D transpose [120, 50] -> [50, 120], on the vector
// unit (a masked vcgmax per result row: -0, infinities and NaN come through); [4, 30, 50] ->
// [50, 30, 4] is not, and runs element by element on the scalar unit. Exact, both modes.
TEST(CompiledOps, TransposesOfManyRuns) {
  const std::vector<int64_t> shape{3, 40, 50};
  std::vector<float> x;
  for (int i = 0; i < 6000; ++i) x.push_back(float(i) * 0.5f - 7.0f);
  x[1] = -0.0f, x[2] = INFINITY, x[3] = -INFINITY, x[4] = NAN;
  onnx::ModelProto m = newModel(13, "transpose");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  setInts(addNode(g, "Transpose", {"x"}, "y"), "perm", {2, 0, 1});
  addNode(g, "Reshape", {"x", "as_4x30x50"}, "x3");
  intInitializer(g, "as_4x30x50", onnx::TensorProto::INT64, {3}, {4, 30, 50});
  setInts(addNode(g, "Transpose", {"x3"}, "z"), "perm", {2, 1, 0});
  declareFloat(g->add_output(), "y", {50, 3, 40});
  declareFloat(g->add_output(), "z", {50, 30, 4});
  std::map<std::string, std::vector<double>> want;
  for (int w = 0; w < 50; ++w)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 40; ++h) want["y"].push_back(x[size_t((c * 40 + h) * 50 + w)]);
  for (int w = 0; w < 50; ++w)
    for (int h = 0; h < 30; ++h)
      for (int c = 0; c < 4; ++c) want["z"].push_back(x[size_t((c * 30 + h) * 50 + w)]);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  EXPECT_EQ(hostTasks(model), std::vector<std::string>{});
  expectOutputs(model, shape, x, want, [](const std::string &, double) { return 0.0; });
  // -0 keeps its sign (a sum with the disabled lanes' +0 would not).
  std::map<std::string, NpyArray> got = runFractal(model, "", "x", floatNpy(shape, x), "functional");
  EXPECT_TRUE(std::signbit(floats(got["y"])[size_t(1 * 3 * 40)])) << "y[1][0][0] = x[0][0][1] = -0";
}

// Pow with a per-element exponent (a constant of different values, then a run-time one: x ** x),
// against std::pow: negative bases with odd, even and non-integer exponents (NaN), zero bases,
// exponents of 0 and past 2^23.
TEST(CompiledOps, PowPerElement) {
  const std::vector<float> x = {2.0f, -2.0f, -2.0f, -2.0f, 0.0f, 0.0f, 3.0f, -1.5f, 0.5f, -0.5f, 1.25f, -3.0f, 7.0f, -1.0f, 0.9f, 4.0f};
  const std::vector<float> y = {3.0f, 3.0f, 2.0f, 0.5f, 2.0f, -1.0f, 0.0f, -3.0f, 2.5f, 16777216.0f, -0.75f, 5.0f, 1.0f, 33554433.0f, 100.0f, -2.0f};
  const std::vector<int64_t> shape{int64_t(x.size())};
  onnx::ModelProto m = newModel(15, "pow");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", shape);
  floatInitializer(g, "y", shape, y);
  addNode(g, "Pow", {"x", "y"}, "p");
  addNode(g, "Pow", {"x", "x"}, "q");
  declareFloat(g->add_output(), "p", shape);
  declareFloat(g->add_output(), "q", shape);
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::map<std::string, std::vector<double>> want;
  for (size_t i = 0; i < x.size(); ++i) {
    want["p"].push_back(std::pow(double(x[i]), double(y[i])));
    want["q"].push_back(std::pow(double(x[i]), double(x[i])));
  }
  // exp(y ln|x|): a few float ulps.
  expectOutputs(model, shape, x, want, [](const std::string &, double e) { return 4e-6 * std::fabs(e); });
}

// A BERT-style encoder layer as exporters write it, checked against the same math in double:
// self-attention whose padding mask comes from Equal(mask, 0) and Where(-10000, scores) (a
// broadcast boolean condition), Softmax, the residual and a decomposed layer norm (ReduceMean,
// Pow 2, Sqrt), a GELU feed-forward through Erf. Matrix products run on the cube in fp16, hence
// the tolerance.
TEST(CompiledOps, EncoderLayerWithPaddingMaskAndGelu) {
  const int64_t s = 8, d = 16, f = 32;
  onnx::ModelProto m = newModel(13, "encoder");
  onnx::GraphProto *g = m.mutable_graph();
  auto values = [](size_t n, int seed, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = float(int((i * 37 + size_t(seed) * 11) % 29) - 14) * scale;
    return v;
  };
  const std::vector<float> x = values(size_t(s * d), 1, 0.07f), wq = values(size_t(d * d), 2, 0.03f),
                           wk = values(size_t(d * d), 3, 0.03f), wv = values(size_t(d * d), 4, 0.03f),
                           wo = values(size_t(d * d), 5, 0.03f), w1 = values(size_t(d * f), 6, 0.04f),
                           w2 = values(size_t(f * d), 7, 0.04f);
  const std::vector<int32_t> mask = {1, 1, 1, 1, 1, 1, 0, 0}; // the last two tokens are padding
  declareFloat(g->add_input(), "x", {1, s, d});
  floatInitializer(g, "wq", {d, d}, wq);
  floatInitializer(g, "wk", {d, d}, wk);
  floatInitializer(g, "wv", {d, d}, wv);
  floatInitializer(g, "wo", {d, d}, wo);
  floatInitializer(g, "w1", {d, f}, w1);
  floatInitializer(g, "w2", {f, d}, w2);
  floatInitializer(g, "scale", {}, {4.0f}); // sqrt(d)
  floatInitializer(g, "big", {}, {-10000.0f});
  floatInitializer(g, "two", {}, {2.0f});
  floatInitializer(g, "eps", {}, {1e-5f});
  floatInitializer(g, "half", {}, {0.5f});
  floatInitializer(g, "one", {}, {1.0f});
  floatInitializer(g, "root2", {}, {std::sqrt(2.0f)});
  intInitializer(g, "mask", onnx::TensorProto::INT32, {1, 1, s}, {mask.begin(), mask.end()});
  intInitializer(g, "zero_i", onnx::TensorProto::INT32, {}, {0});
  addNode(g, "MatMul", {"x", "wq"}, "q");
  addNode(g, "MatMul", {"x", "wk"}, "k");
  addNode(g, "MatMul", {"x", "wv"}, "v");
  setInts(addNode(g, "Transpose", {"k"}, "kt"), "perm", {0, 2, 1});
  addNode(g, "MatMul", {"q", "kt"}, "qk");
  addNode(g, "Div", {"qk", "scale"}, "scores");
  addNode(g, "Equal", {"mask", "zero_i"}, "padding");
  addNode(g, "Where", {"padding", "big", "scores"}, "masked");
  setInt(addNode(g, "Softmax", {"masked"}, "attn"), "axis", -1);
  addNode(g, "MatMul", {"attn", "v"}, "ctx");
  addNode(g, "MatMul", {"ctx", "wo"}, "proj");
  addNode(g, "Add", {"proj", "x"}, "h");
  setInts(addNode(g, "ReduceMean", {"h"}, "mean"), "axes", {-1});
  addNode(g, "Sub", {"h", "mean"}, "centred");
  addNode(g, "Pow", {"centred", "two"}, "squared");
  setInts(addNode(g, "ReduceMean", {"squared"}, "var"), "axes", {-1});
  addNode(g, "Add", {"var", "eps"}, "var_eps");
  addNode(g, "Sqrt", {"var_eps"}, "std");
  addNode(g, "Div", {"centred", "std"}, "ln");
  addNode(g, "MatMul", {"ln", "w1"}, "up");
  addNode(g, "Div", {"up", "root2"}, "up_scaled");
  addNode(g, "Erf", {"up_scaled"}, "erf");
  addNode(g, "Add", {"erf", "one"}, "erf1");
  addNode(g, "Mul", {"up", "erf1"}, "gelu2");
  addNode(g, "Mul", {"gelu2", "half"}, "gelu");
  addNode(g, "MatMul", {"gelu", "w2"}, "down");
  addNode(g, "Add", {"down", "ln"}, "y");
  declareFloat(g->add_output(), "y", {1, s, d});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());

  auto matmul = [](const std::vector<double> &a, const std::vector<float> &b, int64_t rows, int64_t inner, int64_t cols) {
    std::vector<double> c(size_t(rows * cols), 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        for (int64_t t = 0; t < inner; ++t) c[size_t(i * cols + j)] += a[size_t(i * inner + t)] * b[size_t(t * cols + j)];
    return c;
  };
  const std::vector<double> xd(x.begin(), x.end());
  const std::vector<double> q = matmul(xd, wq, s, d, d), k = matmul(xd, wk, s, d, d), v = matmul(xd, wv, s, d, d);
  std::vector<double> ctx(size_t(s * d), 0.0);
  for (int64_t i = 0; i < s; ++i) {
    std::vector<double> score(static_cast<size_t>(s), 0.0);
    double top = -1e300, sum = 0;
    for (int64_t j = 0; j < s; ++j) {
      double dot = 0;
      for (int64_t t = 0; t < d; ++t) dot += q[size_t(i * d + t)] * k[size_t(j * d + t)];
      score[size_t(j)] = mask[size_t(j)] == 0 ? -10000.0 : dot / 4.0;
      top = std::max(top, score[size_t(j)]);
    }
    for (double &e : score) sum += (e = std::exp(e - top));
    for (int64_t j = 0; j < s; ++j)
      for (int64_t t = 0; t < d; ++t) ctx[size_t(i * d + t)] += score[size_t(j)] / sum * v[size_t(j * d + t)];
  }
  std::vector<double> h = matmul(ctx, wo, s, d, d), ln(size_t(s * d));
  for (int64_t i = 0; i < s; ++i) {
    double mean = 0, var = 0;
    for (int64_t t = 0; t < d; ++t) mean += (h[size_t(i * d + t)] += xd[size_t(i * d + t)]) / double(d);
    for (int64_t t = 0; t < d; ++t) var += std::pow(h[size_t(i * d + t)] - mean, 2) / double(d);
    for (int64_t t = 0; t < d; ++t) ln[size_t(i * d + t)] = (h[size_t(i * d + t)] - mean) / std::sqrt(var + 1e-5);
  }
  std::vector<double> up = matmul(ln, w1, s, d, f);
  for (double &u : up) u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
  std::vector<double> y = matmul(up, w2, s, f, d);
  for (size_t i = 0; i < y.size(); ++i) y[i] += ln[i];
  // fp16 cube operands (about 1e-3 relative each) through four products and a normalisation:
  // 1.2e-3 at most measured; ignoring the mask moves outputs far more.
  expectOutputY(model, {1, s, d}, x, y, 4e-3);
}

// Resize by interpolation matrices on the cube (any scale, every mode but the nearest-integer one
// the resize kernel takes): bilinear half_pixel from [1, 2, 5, 7] to [1, 2, 8, 4] (rows up,
// columns down), against the interpolation computed here from ONNX's formulas; operands go
// through f16 on the cube, hence the tolerance.
TEST(CompiledOps, BilinearResizeByMatrices) {
  const int64_t c = 2, h = 5, w = 7, ho = 8, wo = 4;
  onnx::ModelProto m = newModel(13, "resize");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(size_t(c * h * w));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 13 % 17) - 8) * 0.25f;
  declareFloat(g->add_input(), "x", {1, c, h, w});
  intInitializer(g, "sizes", onnx::TensorProto::INT64, {4}, {1, c, ho, wo});
  auto *r = addNode(g, "Resize", {"x", "", "", "sizes"}, "y");
  auto *mode = r->add_attribute();
  mode->set_name("mode");
  mode->set_type(onnx::AttributeProto::STRING);
  mode->set_s("linear");
  declareFloat(g->add_output(), "y", {1, c, ho, wo});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  // half_pixel: x_in = (x_out + 0.5) / scale - 0.5, clamped to the input, two taps.
  auto taps = [](int64_t o, int64_t in, int64_t out) {
    const double at = std::clamp((double(o) + 0.5) * double(in) / double(out) - 0.5, 0.0, double(in - 1));
    const int64_t lo = int64_t(std::floor(at));
    return std::make_tuple(lo, std::min(lo + 1, in - 1), at - double(lo));
  };
  std::vector<double> want;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < ho; ++i)
      for (int64_t j = 0; j < wo; ++j) {
        auto [y0, y1, fy] = taps(i, h, ho);
        auto [x0, x1, fx] = taps(j, w, wo);
        auto v = [&](int64_t yy, int64_t xx) { return double(half(x[size_t((ch * h + yy) * w + xx)])); };
        want.push_back((1 - fy) * ((1 - fx) * v(y0, x0) + fx * v(y0, x1)) + fy * ((1 - fx) * v(y1, x0) + fx * v(y1, x1)));
      }
  expectOutputY(model, {1, c, h, w}, x, want, 4e-3);
}

// tf_crop_and_resize against ONNX Runtime (TensorFlow's CropAndResize, as object detectors use
// it): a region of interest reaching past the input on two sides, bilinear and nearest, the
// samples outside it the extrapolation value.
TEST(CompiledOps, CropAndResizeOfARegionOfInterest) {
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  const int64_t c = 2, h = 6, w = 5, ho = 7, wo = 4;
  onnx::ModelProto m = newModel(13, "crop");
  onnx::GraphProto *g = m.mutable_graph();
  declareFloat(g->add_input(), "x", {1, c, h, w});
  floatInitializer(g, "roi", {8}, {0, 0, -0.2f, 0.3f, 1, 1, 0.9f, 1.25f});
  intInitializer(g, "sizes", onnx::TensorProto::INT64, {4}, {1, c, ho, wo});
  for (const char *mode : {"linear", "nearest"}) {
    auto *r = addNode(g, "Resize", {"x", "roi", "", "sizes"}, mode);
    setString(r, "mode", mode);
    setString(r, "coordinate_transformation_mode", "tf_crop_and_resize");
    auto *e = r->add_attribute();
    e->set_name("extrapolation_value");
    e->set_type(onnx::AttributeProto::FLOAT);
    e->set_f(-7.5f);
    declareFloat(g->add_output(), mode, {1, c, ho, wo});
  }
  std::vector<float> x(size_t(c * h * w));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 13 % 17) - 8) * 0.25f;
  auto [got, want] = runBuiltModel(m.SerializeAsString(), "x", floatNpy({1, c, h, w}, x), {"linear", "nearest"});
  for (const char *name : {"linear", "nearest"}) {
    const std::vector<float> a = floats(got[name]), b = floats(want[name]);
    ASSERT_EQ(a.size(), size_t(c * ho * wo)) << name;
    ASSERT_EQ(b.size(), a.size()) << name;
    size_t extrapolated = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i], b[i], 4e-3f * (1 + std::abs(b[i]))) << name << " " << i; // (float16 cube operands)
      extrapolated += b[i] == -7.5f;
    }
    EXPECT_GT(extrapolated, 0u) << name; // the region reaches past the input
  }
}

// A ConvTranspose the upsampling kernel does not take (kernel 3 != stride 2, two groups,
// dilation 2 on W, pads, output padding) as the convolution of the stride-spread input with the
// flipped weights; against the direct scatter formula computed here (f16 operands on the cube).
TEST(CompiledOps, GeneralConvTransposeAsConvolution) {
  const int64_t cin = 4, h = 3, w = 4, group = 2, coutPerGroup = 3, k = 3, s = 2, dh = 1, dw = 2;
  const int64_t pt = 1, pl = 0, pb = 0, pr = 1, oph = 1, opw = 0;
  const int64_t ho = s * (h - 1) + oph + dh * (k - 1) + 1 - pt - pb, wo = s * (w - 1) + opw + dw * (k - 1) + 1 - pl - pr;
  const int64_t cout = coutPerGroup * group, cinPerGroup = cin / group;
  onnx::ModelProto m = newModel(13, "deconv");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(size_t(cin * h * w)), wt(size_t(cin * coutPerGroup * k * k)), bias(static_cast<size_t>(cout));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7 % 11) - 5) * 0.2f;
  for (size_t i = 0; i < wt.size(); ++i) wt[i] = float(int(i * 5 % 13) - 6) * 0.1f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.05f * float(i);
  declareFloat(g->add_input(), "x", {1, cin, h, w});
  floatInitializer(g, "w", {cin, coutPerGroup, k, k}, wt);
  floatInitializer(g, "b", {cout}, bias);
  auto *node = addNode(g, "ConvTranspose", {"x", "w", "b"}, "y");
  setInts(node, "strides", {s, s});
  setInts(node, "dilations", {dh, dw});
  setInts(node, "pads", {pt, pl, pb, pr});
  setInts(node, "output_padding", {oph, opw});
  setInt(node, "group", group);
  declareFloat(g->add_output(), "y", {1, cout, ho, wo});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::vector<double> want(size_t(cout * ho * wo));
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t i = 0; i < ho * wo; ++i) want[size_t(co * ho * wo + i)] = bias[size_t(co)];
  for (int64_t ci = 0; ci < cin; ++ci)
    for (int64_t co = 0; co < coutPerGroup; ++co)
      for (int64_t iy = 0; iy < h; ++iy)
        for (int64_t ix = 0; ix < w; ++ix)
          for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b) {
              const int64_t oy = iy * s + a * dh - pt, ox = ix * s + b * dw - pl, o = (ci / cinPerGroup) * coutPerGroup + co;
              if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
              want[size_t((o * ho + oy) * wo + ox)] +=
                  double(half(x[size_t((ci * h + iy) * w + ix)])) * half(wt[size_t(((ci * coutPerGroup + co) * k + a) * k + b)]);
            }
  expectOutputY(model, {1, cin, h, w}, x, want, 4e-3);
}

// A 3-D ConvTranspose (volumetric decoders: 3-D U-Net, V-Net) as the 3-D convolution of the
// stride-spread input with the flipped weights, on the 2-D kernels: a kernel of three different
// extents, strides, a dilation, pads on both sides of each axis (one of them negative in the
// convolution: a crop), output padding and two groups; against the direct scatter formula
// computed here (f16 operands on the cube).
TEST(CompiledOps, VolumetricConvTransposeAsConvolution) {
  const int64_t n = 2, cin = 4, group = 2, coutPerGroup = 2, cout = coutPerGroup * group, cinPerGroup = cin / group;
  const int64_t in[3] = {2, 3, 3}, k[3] = {2, 3, 2}, s[3] = {2, 1, 2}, dil[3] = {1, 2, 1};
  const int64_t padBegin[3] = {1, 0, 2}, padEnd[3] = {0, 1, 1}, outPad[3] = {1, 0, 1};
  int64_t out[3], inSize = 1, outSize = 1;
  for (int a = 0; a < 3; ++a) {
    out[a] = s[a] * (in[a] - 1) + outPad[a] + dil[a] * (k[a] - 1) + 1 - padBegin[a] - padEnd[a];
    inSize *= in[a];
    outSize *= out[a];
  }
  onnx::ModelProto m = newModel(13, "deconv3d");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(size_t(n * cin * inSize)), wt(size_t(cin * coutPerGroup * k[0] * k[1] * k[2])), bias(static_cast<size_t>(cout));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7 % 11) - 5) * 0.2f;
  for (size_t i = 0; i < wt.size(); ++i) wt[i] = float(int(i * 5 % 13) - 6) * 0.1f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.05f * float(i) - 0.1f;
  declareFloat(g->add_input(), "x", {n, cin, in[0], in[1], in[2]});
  floatInitializer(g, "w", {cin, coutPerGroup, k[0], k[1], k[2]}, wt);
  floatInitializer(g, "b", {cout}, bias);
  auto *node = addNode(g, "ConvTranspose", {"x", "w", "b"}, "y");
  setInts(node, "strides", {s[0], s[1], s[2]});
  setInts(node, "dilations", {dil[0], dil[1], dil[2]});
  setInts(node, "pads", {padBegin[0], padBegin[1], padBegin[2], padEnd[0], padEnd[1], padEnd[2]});
  setInts(node, "output_padding", {outPad[0], outPad[1], outPad[2]});
  setInt(node, "group", group);
  declareFloat(g->add_output(), "y", {n, cout, out[0], out[1], out[2]});
  const SavedModel saved(m);
  ASSERT_FALSE(saved.path.empty());
  std::vector<double> want(size_t(n * cout * outSize));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t i = 0; i < outSize; ++i) want[size_t((b * cout + co) * outSize + i)] = bias[size_t(co)];
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t co = 0; co < coutPerGroup; ++co)
        for (int64_t i = 0; i < inSize; ++i)
          for (int64_t t = 0; t < k[0] * k[1] * k[2]; ++t) {
            const int64_t pos[3] = {i / (in[1] * in[2]), i / in[2] % in[1], i % in[2]};
            const int64_t tap[3] = {t / (k[1] * k[2]), t / k[2] % k[1], t % k[2]};
            int64_t o[3];
            bool inside = true;
            for (int a = 0; a < 3; ++a) {
              o[a] = pos[a] * s[a] + tap[a] * dil[a] - padBegin[a];
              inside &= o[a] >= 0 && o[a] < out[a];
            }
            if (!inside) continue;
            const int64_t oc = (ci / cinPerGroup) * coutPerGroup + co;
            want[size_t(((b * cout + oc) * out[0] + o[0]) * out[1] * out[2] + o[1] * out[2] + o[2])] +=
                double(half(x[size_t((b * cin + ci) * inSize + i)])) *
                half(wt[size_t((ci * coutPerGroup + co) * k[0] * k[1] * k[2] + t)]);
          }
  expectOutputY(saved.path, {n, cin, in[0], in[1], in[2]}, x, want, 4e-3);
}

// AveragePool 3x3, stride 2, pads 1, ceil_mode on [1, 1, 6, 6]: ONNX divides each window by its
// input pixels only (count_include_pad = 0; the last row and column of windows also run past the
// padded input). The kernel sums whole windows; a constant map rescales them.
TEST(CompiledOps, AveragePoolExcludingPaddingWithCeilMode) {
  const int64_t h = 6, w = 6, k = 3, s = 2, p = 1, ho = 4, wo = 4; // ceil((6 + 2 - 3) / 2) + 1
  onnx::ModelProto m = newModel(13, "avgpool");
  onnx::GraphProto *g = m.mutable_graph();
  std::vector<float> x(size_t(h * w));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 11 % 19) - 9) * 0.125f;
  declareFloat(g->add_input(), "x", {1, 1, h, w});
  auto *pool = addNode(g, "AveragePool", {"x"}, "y");
  setInts(pool, "kernel_shape", {k, k});
  setInts(pool, "strides", {s, s});
  setInts(pool, "pads", {p, p, p, p});
  setInt(pool, "ceil_mode", 1);
  declareFloat(g->add_output(), "y", {1, 1, ho, wo});
  const SavedModel saved(m);
  const std::string &model = saved.path;
  ASSERT_FALSE(model.empty());
  std::vector<double> want;
  for (int64_t i = 0; i < ho; ++i)
    for (int64_t j = 0; j < wo; ++j) {
      double sum = 0;
      int count = 0;
      for (int64_t a = i * s - p; a < i * s - p + k; ++a)
        for (int64_t b = j * s - p; b < j * s - p + k; ++b)
          if (a >= 0 && a < h && b >= 0 && b < w) sum += double(half(x[size_t(a * w + b)])), ++count;
      want.push_back(sum / count);
    }
  expectOutputY(model, {1, 1, h, w}, x, want, 2e-3);
}

// GlobalAveragePool of [2, channels, 13, 11] (an image per core; 143 pixels, under one chunk),
// and of maps of 256 pixels and more, which the cube averages (ones x the map, 1 / HW in
// FixPipe): every mean against the exact mean of the f16-rounded inputs (the NPU reads them in
// f16), within an f16 rounding of the result (the vector kernel's tree sums and the cube's are f32).
TEST(CompiledOps, GlobalAveragePoolAgainstExactMeans) {
  struct Shape { int64_t n, channels, h, w; };
  for (const Shape sh : {Shape{2, 80, 13, 11}, Shape{2, 24, 13, 11}, Shape{2, 24, 70, 70}, Shape{1, 96, 80, 80}}) {
    const int64_t channels = sh.channels;
    SCOPED_TRACE(std::to_string(channels) + " channels, " + std::to_string(sh.h) + "x" + std::to_string(sh.w));
    const std::vector<int64_t> shape{sh.n, channels, sh.h, sh.w};
    onnx::ModelProto m = newModel(13, "gap");
    onnx::GraphProto *g = m.mutable_graph();
    declareFloat(g->add_input(), "x", shape);
    declareFloat(g->add_output(), "y", {shape[0], channels, 1, 1});
    onnx::NodeProto *n = g->add_node();
    n->set_op_type("GlobalAveragePool");
    n->set_name("gap");
    n->add_input("x");
    n->add_output("y");
    char dir[] = "/tmp/fractal-gap-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string model = std::string(dir) + "/gap.onnx";
    {
      std::ofstream f(model, std::ios::binary);
      ASSERT_TRUE(m.SerializeToOstream(&f));
    }
    const int64_t pixels = shape[2] * shape[3], count = shape[0] * channels * pixels;
    NpyArray input{"<f4", shape, std::vector<uint8_t>(size_t(count) * 4)};
    std::vector<double> want(size_t(shape[0] * channels), 0.0);
    for (int64_t i = 0; i < count; ++i) {
      // (An offset per channel: means well away from 0, so the relative tolerance bites.)
      const float v = half(float((i * 37) % 101 - 50) * 0.037f + 0.1f * float((i / pixels) % 7));
      std::memcpy(&input.data[size_t(i) * 4], &v, 4);
      want[size_t(i / pixels)] += double(v) / double(pixels);
    }
    for (const char *mode : {"functional", "timing"}) {
      std::map<std::string, NpyArray> got = runFractal(model, "", "x", input, mode);
      ASSERT_TRUE(got.count("y")) << mode;
      const std::vector<float> y = floats(got["y"]);
      ASSERT_EQ(y.size(), want.size()) << mode;
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_NEAR(y[i], want[i], std::abs(want[i]) * 1e-3 + 1e-4) << mode << " image " << i / size_t(channels)
                                                                    << " channel " << i % size_t(channels);
    }
    std::system(("rm -rf '" + std::string(dir) + "'").c_str());
  }
}

} // namespace
