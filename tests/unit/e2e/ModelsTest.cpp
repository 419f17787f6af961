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
#include "fractal/models/Vision.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/support/Npy.h"
#include "fractal/isa/Numerics.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <unistd.h>

namespace {

using namespace fractal;

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

std::vector<float> floats(const NpyArray &a) { return npyFloats(a); }

double cosine(const std::vector<float> &a, const std::vector<float> &b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return na == 0 || nb == 0 ? (na == nb ? 1.0 : 0.0) : dot / std::sqrt(na * nb);
}

// Compiles `model` for edge and runs it on `input` in `mode`; outputs by name.
std::map<std::string, NpyArray> runFractal(const std::string &model, const std::string &shapes,
                                           const std::string &inputName, const NpyArray &input, const char *mode) {
  std::map<std::string, NpyArray> out;
  Expected<ChipConfig> config = loadChipConfig("edge");
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(model, shapes, *config, "");
  EXPECT_TRUE(p.ok()) << (p ? "" : p.error().message);
  if (!p) return out;
  EXPECT_EQ(p->tensors[p->inputs[0]].name, inputName);
  std::vector<uint8_t> bytes = pkg::serializePackage(*p);
  EXPECT_EQ(frtInit((std::string("edge:") + mode).c_str()), FRT_SUCCESS);
  frtSetDevice(0);
  frtModel m = nullptr;
  EXPECT_EQ(frtModelLoadFromMem(bytes.data(), bytes.size(), &m), FRT_SUCCESS) << frtGetRecentErrMsg();
  frtDataset in, outs;
  frtCreateDataset(&in);
  frtCreateDataset(&outs);
  void *x;
  frtMalloc(&x, input.data.size(), FRT_MEM_MALLOC_HUGE_FIRST);
  frtMemcpy(x, input.data.size(), input.data.data(), input.data.size(), FRT_MEMCPY_HOST_TO_DEVICE);
  frtAddDatasetBuffer(in, x, input.data.size());
  std::vector<void *> buffers;
  for (uint32_t o : p->outputs) {
    void *b;
    frtMalloc(&b, p->tensors[o].dataBytes(), FRT_MEM_MALLOC_HUGE_FIRST);
    frtAddDatasetBuffer(outs, b, p->tensors[o].dataBytes());
    buffers.push_back(b);
  }
  EXPECT_EQ(frtModelExecute(m, in, outs), FRT_SUCCESS) << frtGetRecentErrMsg();
  for (size_t i = 0; i < buffers.size(); ++i) {
    const pkg::Tensor &t = p->tensors[p->outputs[i]];
    NpyArray a{"<f4", t.shape, std::vector<uint8_t>(t.dataBytes())};
    frtMemcpy(a.data.data(), a.data.size(), buffers[i], a.data.size(), FRT_MEMCPY_DEVICE_TO_HOST);
    out[t.name] = std::move(a);
  }
  frtFinalize();
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
    const double c = cosine(floats(got[name]), floats(ref));
    EXPECT_GE(c, 0.999) << name;
    std::printf("  %s: cosine %.6f\n", name.c_str(), c);
  }
}

void blazeFace(int size, const char *mode) {
  const std::string model = assets() + "/blazeface/ONNX/face_detection_" + (size == 128 ? "front_128x128" : "back_256x256") +
                            "_barracuda.onnx";
  const std::string image = assets() + "/images/astronaut.png";
  REQUIRE_ASSET(model);
  REQUIRE_ASSET(image);
  REQUIRE_ASSET(assets() + "/ort/node_modules/onnxruntime-node/package.json");
  Expected<models::Image> img = models::loadImage(image);
  ASSERT_TRUE(img.ok());
  NpyArray input = models::toNhwc(models::resizeBilinear(*img, size, size), 1.0f / 127.5f, -1.0f);
  auto got = runFractal(model, "", "input:0", input, mode);
  auto want = runReference(model, "input:0", input, {"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"});
  compareOutputs(got, want);
  auto detect = [&](std::map<std::string, NpyArray> &o) {
    return models::decodeBlazeFace(size, floats(o["Identity:0"]), floats(o["Identity_2:0"]), floats(o["Identity_1:0"]),
                                   floats(o["Identity_3:0"]));
  };
  std::vector<models::Detection> a = detect(got), b = detect(want);
  std::string why;
  EXPECT_FALSE(b.empty()) << "ONNX Runtime finds no face in astronaut.png";
  EXPECT_TRUE(models::sameDetections(a, b, 0.9f, &why)) << why << "\nfractal:\n"
                                                        << models::formatDetections(a) << "onnxruntime:\n"
                                                        << models::formatDetections(b);
}

TEST(Models, BlazeFaceFrontFunctional) { blazeFace(128, "functional"); }
TEST(Models, BlazeFaceFrontTiming) { blazeFace(128, "timing"); }
TEST(Models, BlazeFaceBackFunctional) { blazeFace(256, "functional"); }

void ppocrDet(int width, int height) {
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
  auto got = runFractal(model, shape, "x", input, "functional");
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

TEST(Models, PpOcrDetPage384x192) { ppocrDet(384, 192); }
TEST(Models, PpOcrDetPage640x640) { ppocrDet(640, 640); }
// Larger pages: the first convolution's bands of the 3-channel image must still fit one copy
// into L1 (at 960x960 they did not, and the model did not compile).
TEST(Models, PpOcrDetPage960x960) { ppocrDet(960, 960); }

// GlobalAveragePool of [2, channels, 13, 11] (an image per core; 143 pixels, under one chunk):
// every mean against the exact mean of the f16-rounded inputs (the NPU reads them in f16), within
// an f16 rounding of the result (the kernel's tree sums are f32).
TEST(CompiledOps, GlobalAveragePoolAgainstExactMeans) {
  for (int64_t channels : {80, 24}) {
    SCOPED_TRACE(std::to_string(channels) + " channels");
    const std::vector<int64_t> shape{2, channels, 13, 11};
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    onnx::GraphProto *g = m.mutable_graph();
    g->set_name("gap");
    auto value = [](onnx::ValueInfoProto *v, const char *name, const std::vector<int64_t> &dims) {
      v->set_name(name);
      auto *t = v->mutable_type()->mutable_tensor_type();
      t->set_elem_type(onnx::TensorProto::FLOAT);
      for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
    };
    value(g->add_input(), "x", shape);
    value(g->add_output(), "y", {shape[0], channels, 1, 1});
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
      const float v = isa::halfToFloat(isa::floatToHalf(float((i * 37) % 101 - 50) * 0.037f));
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
