// Values whose extent is known only at run time flowing into later ops, compiled from ONNX and
// run on the simulated NPU (both modes): the detection pattern (NonMaxSuppression's selected
// indices, the boxes and scores they pick) and the coordinate pattern (NonZero, transposed into
// GatherND's index tuples). Expected values from the ops' definitions.
#include "fractal/config/ChipConfig.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/support/File.h"

#include "OnnxBuilder.h"
#include "RunPackage.h"

#include "onnx/onnx_pb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <unistd.h>

namespace {

using namespace fractal;
using namespace fractal::test;

// A graph input or output of static dims, -1 for one named "n" (a data-dependent extent).
void addValue(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> *list, const char *name, int type,
              const std::vector<int64_t> &dims) {
  declareTensor(list->Add(), name, {}, type);
  auto *shape = list->Mutable(list->size() - 1)->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int64_t d : dims) d < 0 ? (void)shape->add_dim()->set_dim_param("n") : shape->add_dim()->set_dim_value(d);
}

Expected<pkg::Package> compile(const onnx::ModelProto &m) {
  const std::string path = ::testing::TempDir() + "data-dependent-" + std::to_string(::getpid()) + ".onnx";
  if (Status s = writeFileAtomically(path, m.SerializeAsString()); !s) return s.error();
  Expected<ChipConfig> config = loadChipConfig("edge");
  if (!config) return config.error();
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, "", *config, "");
  ::unlink(path.c_str());
  return p;
}

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <typename T> std::vector<T> valuesOf(const Written &w) {
  std::vector<T> v(w.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), w.bytes.data(), w.bytes.size());
  return v;
}

// NonMaxSuppression's selected rows -> their box indices (Gather along axis 1) -> the boxes and
// scores at them (Gather along axis 0), the boxes scaled per coordinate (broadcast along the
// static axis), reduced and multiplied (on the cube) along the coordinates: every result as long
// as the selection, in selection order.
TEST(DataDependent, DetectionsGatherTheirBoxesAndScores) {
  onnx::ModelProto m = newModel(13, "data_dependent");
  onnx::GraphProto *g = m.mutable_graph();
  addValue(g->mutable_input(), "boxes", onnx::TensorProto::FLOAT, {1, 6, 4});
  addValue(g->mutable_input(), "scores", onnx::TensorProto::FLOAT, {1, 1, 6});
  intInitializer(g, "limit", onnx::TensorProto::INT64, {1}, {3});
  floatInitializer(g, "iou", {1}, {0.5f});
  floatInitializer(g, "least", {1}, {0.1f});
  intInitializer(g, "column", onnx::TensorProto::INT64, {}, {2});
  intInitializer(g, "boxes_shape", onnx::TensorProto::INT64, {2}, {6, 4});
  intInitializer(g, "scores_shape", onnx::TensorProto::INT64, {1}, {6});
  floatInitializer(g, "scale", {1, 4}, {2.0f, 2.0f, 4.0f, 4.0f});
  addNode(g, "NonMaxSuppression", {"boxes", "scores", "limit", "iou", "least"}, "selected");
  setInt(addNode(g, "Gather", {"selected", "column"}, "index"), "axis", 1);
  addNode(g, "Reshape", {"boxes", "boxes_shape"}, "all_boxes");
  addNode(g, "Reshape", {"scores", "scores_shape"}, "all_scores");
  addNode(g, "Gather", {"all_boxes", "index"}, "picked");
  addNode(g, "Gather", {"all_scores", "index"}, "picked_scores");
  addNode(g, "Mul", {"picked", "scale"}, "scaled");
  setInt(setInts(addNode(g, "ReduceMax", {"picked"}, "farthest"), "axes", {1}), "keepdims", 0);
  floatInitializer(g, "sums", {4, 2}, {1, 0, 0, 1, 1, 0, 0, 1});
  addNode(g, "MatMul", {"picked", "sums"}, "corner_sums");
  addValue(g->mutable_output(), "selected", onnx::TensorProto::INT64, {-1, 3});
  addValue(g->mutable_output(), "scaled", onnx::TensorProto::FLOAT, {-1, 4});
  addValue(g->mutable_output(), "picked_scores", onnx::TensorProto::FLOAT, {-1});
  addValue(g->mutable_output(), "farthest", onnx::TensorProto::FLOAT, {-1});
  addValue(g->mutable_output(), "corner_sums", onnx::TensorProto::FLOAT, {-1, 2});
  Expected<pkg::Package> p = compile(m);
  ASSERT_TRUE(p.ok()) << p.error().message;
  // Boxes [y1, x1, y2, x2]: 0 and 1 overlap (IoU 0.68), 2 and 3 overlap, 4 stands alone, 5's score
  // is under the threshold. By score: 3 (0.9), then 0 (0.8), 1 suppressed by 0, 4 (0.6): the limit.
  const std::vector<float> boxes = {0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30, 21, 21, 31, 31, 50, 50, 60, 60,
                                    70, 70, 80, 80};
  const std::vector<float> scores = {0.8f, 0.7f, 0.5f, 0.9f, 0.6f, 0.05f};
  for (const char *mode : {"functional", "timing"}) {
    SCOPED_TRACE(mode);
    std::map<std::string, Written> out = run(*p, {bytesOf(boxes), bytesOf(scores)}, mode);
    ASSERT_EQ(out.size(), 5u);
    EXPECT_EQ(out["selected"].dims, (std::vector<int64_t>{3, 3}));
    EXPECT_EQ(valuesOf<int64_t>(out["selected"]), (std::vector<int64_t>{0, 0, 3, 0, 0, 0, 0, 0, 4}));
    EXPECT_EQ(out["scaled"].dims, (std::vector<int64_t>{3, 4}));
    EXPECT_EQ(valuesOf<float>(out["scaled"]),
              (std::vector<float>{42, 42, 124, 124, 0, 0, 40, 40, 100, 100, 240, 240}));
    EXPECT_EQ(out["picked_scores"].dims, (std::vector<int64_t>{3}));
    EXPECT_EQ(valuesOf<float>(out["picked_scores"]), (std::vector<float>{0.9f, 0.8f, 0.6f}));
    EXPECT_EQ(out["farthest"].dims, (std::vector<int64_t>{3}));
    EXPECT_EQ(valuesOf<float>(out["farthest"]), (std::vector<float>{31, 10, 60}));
    EXPECT_EQ(out["corner_sums"].dims, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(valuesOf<float>(out["corner_sums"]), (std::vector<float>{52, 52, 10, 10, 110, 110}));
  }
  // Nothing above the threshold: every result empty.
  std::map<std::string, Written> none = run(*p, {bytesOf(boxes), bytesOf(std::vector<float>(6, 0.0f))}, "functional");
  EXPECT_EQ(none["selected"].dims, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(none["scaled"].dims, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(none["picked_scores"].bytes.empty());
}

// NonZero of a matrix ([2, n] coordinates, the extent along the second axis: each row copied out
// at its own place), transposed into n index tuples that GatherND reads the non-zero values with.
TEST(DataDependent, NonZeroCoordinatesIndexGatherNd) {
  onnx::ModelProto m = newModel(13, "data_dependent");
  onnx::GraphProto *g = m.mutable_graph();
  addValue(g->mutable_input(), "x", onnx::TensorProto::FLOAT, {3, 4});
  addNode(g, "NonZero", {"x"}, "coordinates");
  setInts(addNode(g, "Transpose", {"coordinates"}, "tuples"), "perm", {1, 0});
  addNode(g, "GatherND", {"x", "tuples"}, "values");
  addNode(g, "Neg", {"values"}, "negated");
  addValue(g->mutable_output(), "coordinates", onnx::TensorProto::INT64, {2, -1});
  addValue(g->mutable_output(), "negated", onnx::TensorProto::FLOAT, {-1});
  Expected<pkg::Package> p = compile(m);
  ASSERT_TRUE(p.ok()) << p.error().message;
  const std::vector<float> x = {0, 1.5f, 0, 0, -2, 0, 0, 3, 0, 0, 0, 4.25f};
  for (const char *mode : {"functional", "timing"}) {
    SCOPED_TRACE(mode);
    std::map<std::string, Written> out = run(*p, {bytesOf(x)}, mode);
    EXPECT_EQ(out["coordinates"].dims, (std::vector<int64_t>{2, 4}));
    EXPECT_EQ(valuesOf<int64_t>(out["coordinates"]), (std::vector<int64_t>{0, 1, 1, 2, 1, 0, 3, 3}));
    EXPECT_EQ(out["negated"].dims, (std::vector<int64_t>{4}));
    EXPECT_EQ(valuesOf<float>(out["negated"]), (std::vector<float>{-1.5f, 2, -3, -4.25f}));
  }
}

// A view of such a value (Squeeze, a Reshape: same bytes, no task) is an output with the extent
// along the axis it maps the root's to.
TEST(DataDependent, ViewsKeepTheExtent) {
  onnx::ModelProto m = newModel(13, "data_dependent");
  onnx::GraphProto *g = m.mutable_graph();
  addValue(g->mutable_input(), "x", onnx::TensorProto::INT32, {6});
  intInitializer(g, "first", onnx::TensorProto::INT64, {1}, {0});
  addNode(g, "NonZero", {"x"}, "coordinates");
  addNode(g, "Squeeze", {"coordinates", "first"}, "positions");
  addValue(g->mutable_output(), "positions", onnx::TensorProto::INT64, {-1});
  Expected<pkg::Package> p = compile(m);
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::map<std::string, Written> out = run(*p, {bytesOf(std::vector<int32_t>{0, 7, 0, -1, 0, 2})}, "functional");
  EXPECT_EQ(out["positions"].dims, (std::vector<int64_t>{3}));
  EXPECT_EQ(valuesOf<int64_t>(out["positions"]), (std::vector<int64_t>{1, 3, 5}));
}

// Ops that would take the bound for the extent are refused, naming the node and why: gathering
// along the data-dependent axis and reducing over it (code generation), a TopK of it, here after a
// Cast (the check).
TEST(DataDependent, OpsThatCannotCarryTheExtentAreNamed) {
  auto refused = [](const char *op, const std::function<void(onnx::NodeProto *)> &attributes) {
    onnx::ModelProto m = newModel(13, "data_dependent");
    onnx::GraphProto *g = m.mutable_graph();
    addValue(g->mutable_input(), "x", onnx::TensorProto::FLOAT, {3, 4});
    intInitializer(g, "one", onnx::TensorProto::INT64, {1}, {1});
    intInitializer(g, "first", onnx::TensorProto::INT64, {}, {0});
    addNode(g, "NonZero", {"x"}, "coordinates");
    setInt(addNode(g, "Cast", {"coordinates"}, "floats"), "to", onnx::TensorProto::FLOAT);
    const bool topK = std::string(op) == "TopK";
    onnx::NodeProto *n = addNode(g, op, {"floats", topK ? "one" : "first"}, "after");
    if (std::string(op) == "ReduceMax") n->mutable_input()->RemoveLast();
    if (topK) n->add_output("indices");
    attributes(n);
    addValue(g->mutable_output(), "after", onnx::TensorProto::FLOAT, {});
    g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
    Expected<pkg::Package> p = compile(m);
    EXPECT_FALSE(p.ok());
    return p ? std::string() : p.error().message;
  };
  const std::string gather = refused("Gather", [](onnx::NodeProto *n) { setInt(n, "axis", 1); });
  EXPECT_NE(gather.find("after (graph.gather): reads a result of coordinates, whose extent is known only at run time, "
                        "and gathers along the data-dependent axis"),
            std::string::npos)
      << gather;
  const std::string reduce = refused("ReduceMax", [](onnx::NodeProto *n) { setInt(n, "keepdims", 0); });
  EXPECT_NE(reduce.find("after (graph.reduce): reads a result of coordinates, whose extent is known only at run time, "
                        "and reduces along the data-dependent axis"),
            std::string::npos)
      << reduce;
  const std::string topK = refused("TopK", [](onnx::NodeProto *n) { setInt(n, "axis", 0); });
  EXPECT_NE(topK.find("node 'after' (TopK): reads 'floats', whose extent is known only at run time (it comes from "
                      "NonZero, Compress, Unique or NonMaxSuppression), which a TopK cannot take"),
            std::string::npos)
      << topK;
}

} // namespace
