// End to end on the ONNX backend node tests (Debian's libonnx-testdata): compile model.onnx with
// the compile driver, run every test_data_set_* through the runtime's model API on the simulator,
// and compare with output_*.pb. The listed tests must pass in functional and timing mode; with
// FRACTAL_E2E_ALL=1 the test also sweeps the whole node suite and prints what passes.
//
// Tolerances: ops computed in fp32 on the vector unit: |got - want| <= 1e-5 * max(1, |want|)
// (vexp/vrec round differently from libm by an ulp or two). Packages holding fp16 data (cube
// operands, NHWC16 feature maps): every rounding to fp16 costs up to 2^-11 relative, a product of
// two rounded operands 2^-10 of sum_k |a_ik * b_kj| (accumulated in fp32), so we check
// |got - want| <= 4e-3 * max(1, max|want|).
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/fractal_runtime.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>

namespace {

using namespace fractal;

const std::string kNodeDir = "/usr/share/libonnx-testdata/data/node/";

bool readTensor(const std::string &path, onnx::TensorProto &t) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return f && t.ParseFromString(s.str());
}

// The tensor's elements as packed bytes in the package's layout.
std::vector<uint8_t> tensorBytes(const onnx::TensorProto &t) {
  if (!t.raw_data().empty()) return std::vector<uint8_t>(t.raw_data().begin(), t.raw_data().end());
  std::vector<uint8_t> out;
  auto append = [&](const void *p, size_t n) {
    out.insert(out.end(), static_cast<const uint8_t *>(p), static_cast<const uint8_t *>(p) + n);
  };
  for (float v : t.float_data()) append(&v, 4);
  for (int64_t v : t.int64_data()) append(&v, 8);
  if (t.data_type() == onnx::TensorProto::BOOL)
    for (int32_t v : t.int32_data()) out.push_back(v != 0);
  else
    for (int32_t v : t.int32_data()) append(&v, 4);
  return out;
}

// True when some tensor is held in f16: the cube's operands and NHWC16 feature maps.
bool computesInHalf(const pkg::Package &p) {
  for (const pkg::Tensor &t : p.tensors)
    if (t.dtype == pkg::DType::F16) return true;
  return false;
}

// Compiles and runs one node test on a fresh device; "" when every output matches.
std::string runNodeTest(const std::string &name, const char *mode) {
  const std::string dir = kNodeDir + name + "/";
  Expected<ChipConfig> config = loadChipConfig("edge");
  if (!config) return "config: " + config.error().message;
  Expected<pkg::Package> package = onnx_frontend::compileOnnxModel(dir + "model.onnx", "", *config, "");
  if (!package) return "compile: " + package.error().message;
  const double tolerance = computesInHalf(*package) ? 4e-3 : 1e-5;
  std::vector<uint8_t> bytes = pkg::serializePackage(*package);

  std::string problem;
  std::string device = std::string("edge:") + mode;
  if (frtInit(device.c_str()) != FRT_SUCCESS) return std::string("frtInit: ") + frtGetRecentErrMsg();
  frtSetDevice(0);
  frtModel model = nullptr;
  if (frtModelLoadFromMem(bytes.data(), bytes.size(), &model) != FRT_SUCCESS) {
    problem = std::string("load: ") + frtGetRecentErrMsg();
    frtFinalize();
    return problem;
  }
  for (int set = 0; problem.empty(); ++set) {
    const std::string data = dir + "test_data_set_" + std::to_string(set) + "/";
    if (!std::ifstream(data + "input_0.pb") && !std::ifstream(data + "output_0.pb")) break;
    frtDataset in = nullptr, out = nullptr;
    frtCreateDataset(&in);
    frtCreateDataset(&out);
    std::vector<void *> buffers;
    for (size_t i = 0; i < package->inputs.size(); ++i) {
      onnx::TensorProto t;
      if (!readTensor(data + "input_" + std::to_string(i) + ".pb", t)) {
        problem = "cannot read input " + std::to_string(i);
        break;
      }
      std::vector<uint8_t> b = tensorBytes(t);
      void *p = nullptr;
      frtMalloc(&p, std::max<size_t>(b.size(), 1), FRT_MEM_MALLOC_HUGE_FIRST);
      if (!b.empty()) frtMemcpy(p, b.size(), b.data(), b.size(), FRT_MEMCPY_HOST_TO_DEVICE);
      frtAddDatasetBuffer(in, p, std::max<size_t>(b.size(), 1));
      buffers.push_back(p);
    }
    std::vector<void *> outs;
    for (uint32_t o : package->outputs) {
      void *p = nullptr;
      size_t n = std::max<size_t>(package->tensors[o].dataBytes(), 1);
      frtMalloc(&p, n, FRT_MEM_MALLOC_HUGE_FIRST);
      frtAddDatasetBuffer(out, p, n);
      outs.push_back(p);
      buffers.push_back(p);
    }
    if (problem.empty() && frtModelExecute(model, in, out) != FRT_SUCCESS)
      problem = std::string("execute: ") + frtGetRecentErrMsg();
    for (size_t i = 0; problem.empty() && i < outs.size(); ++i) {
      onnx::TensorProto want;
      if (!readTensor(data + "output_" + std::to_string(i) + ".pb", want)) {
        problem = "cannot read output " + std::to_string(i);
        break;
      }
      const pkg::Tensor &t = package->tensors[package->outputs[i]];
      std::vector<uint8_t> ref = tensorBytes(want), got(t.dataBytes());
      if (!got.empty()) frtMemcpy(got.data(), got.size(), outs[i], got.size(), FRT_MEMCPY_DEVICE_TO_HOST);
      if (ref.size() != got.size()) {
        problem = "output " + std::to_string(i) + ": " + std::to_string(got.size()) + " bytes, expected " +
                  std::to_string(ref.size());
        break;
      }
      if (t.dtype != pkg::DType::F32) {
        if (ref != got) problem = "output " + std::to_string(i) + " differs";
        continue;
      }
      std::vector<float> a(got.size() / 4), b(ref.size() / 4);
      std::memcpy(a.data(), got.data(), got.size());
      std::memcpy(b.data(), ref.data(), ref.size());
      float scale = 1;
      if (tolerance > 1e-5)
        for (float x : b) scale = std::max(scale, std::fabs(x));
      for (size_t e = 0; e < a.size(); ++e) {
        const double bound = tolerance * (tolerance > 1e-5 ? scale : std::max(1.0f, std::fabs(b[e])));
        if (!(std::fabs(double(a[e]) - double(b[e])) <= bound) && !(std::isnan(a[e]) && std::isnan(b[e]))) {
          problem = "data set " + std::to_string(set) + " output " + std::to_string(i) + " element " +
                    std::to_string(e) + ": got " + std::to_string(a[e]) + ", expected " + std::to_string(b[e]);
          break;
        }
      }
    }
    for (void *p : buffers) frtFree(p);
    frtDestroyDataset(in);
    frtDestroyDataset(out);
  }
  frtModelUnload(model);
  frtFinalize();
  return problem;
}

// Node tests that pass today: each runs in both modes. Keep sorted; losing one is a regression.
const char *const kPassing[] = {
#include "node_passing.inc"
};

class NodeSuite : public ::testing::TestWithParam<const char *> {};

TEST_P(NodeSuite, FunctionalMatchesReference) { EXPECT_EQ(runNodeTest(GetParam(), "functional"), ""); }
TEST_P(NodeSuite, TimingMatchesReference) { EXPECT_EQ(runNodeTest(GetParam(), "timing"), ""); }

INSTANTIATE_TEST_SUITE_P(Onnx, NodeSuite, ::testing::ValuesIn(kPassing),
                         [](const ::testing::TestParamInfo<const char *> &info) {
                           return std::string(info.param);
                         });

TEST(NodeSuiteSweep, WholeSuiteWhenAsked) {
  if (!std::getenv("FRACTAL_E2E_ALL")) GTEST_SKIP() << "set FRACTAL_E2E_ALL=1 to sweep the node suite";
  DIR *d = opendir(kNodeDir.c_str());
  ASSERT_TRUE(d);
  std::vector<std::string> names;
  while (dirent *e = readdir(d))
    if (std::string(e->d_name).rfind("test_", 0) == 0) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  int pass = 0, compiled = 0;
  for (const std::string &n : names) {
    std::string r = runNodeTest(n, "functional");
    if (r.rfind("compile:", 0) != 0) ++compiled;
    if (r.empty()) ++pass;
    std::printf("%s %s%s\n", r.empty() ? "PASS" : "FAIL", n.c_str(),
                r.empty() || r.rfind("compile:", 0) == 0 ? "" : (" -- " + r.substr(0, 200)).c_str());
  }
  std::printf("%d of %zu pass, %d compiled\n", pass, names.size(), compiled);
}

} // namespace
