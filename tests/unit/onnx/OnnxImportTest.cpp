// The importer: one graph op per node, located at the node's name; weights as dense_resource blobs
// (small constants inline); shape computations on static shapes folded; a verified module.
#include "fractal/compiler/CompileReport.h"
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Pipelines.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/onnx/OnnxImport.h"
#include "fractal/support/File.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cmath>
#include <unistd.h>

using namespace fractal;

namespace {

onnx::NodeProto *addNode(onnx::GraphProto *g, const char *name, const char *type,
                         std::vector<std::string> inputs, const char *output) {
  auto *n = g->add_node();
  n->set_name(name);
  n->set_op_type(type);
  for (auto &i : inputs)
    n->add_input(i);
  n->add_output(output);
  return n;
}

void addFloatInput(onnx::GraphProto *g, const char *name, std::vector<int64_t> dims) {
  auto *x = g->add_input();
  x->set_name(name);
  x->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  for (int64_t d : dims)
    x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
}

// An INTS (or INT) attribute on a node.
void addInts(onnx::NodeProto *n, const char *name, std::vector<int64_t> values) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values)
    a->add_ints(v);
}
void addInt(onnx::NodeProto *n, const char *name, int64_t value) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// A model (IR 8, opset 13) to fill in; compileForEdge writes it to a temporary file and compiles
// it for the edge target (kernel listings into `assembly` when given). Without kernel sequences:
// these tests look at the tasks the fusions leave, which a sequence would join into one.
onnx::ModelProto newModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  return m;
}
Expected<pkg::Package> compileForEdge(const onnx::ModelProto &m, const std::string &stem,
                                      std::vector<std::string> *assembly = nullptr) {
  const std::string path = ::testing::TempDir() + stem + "_" + std::to_string(::getpid()) + ".onnx";
  if (Status st = writeFileAtomically(path, m.SerializeAsString()); !st) return st.error();
  Expected<ChipConfig> config = loadChipConfig("edge");
  if (!config) return config.error();
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, "", *config, "", assembly, nullptr,
                                                             /*kernelSequences=*/false);
  ::unlink(path.c_str());
  return p;
}

// A float initializer of the given dims with a repeating pattern of distinct values.
void addPatternInitializer(onnx::GraphProto *g, const char *name, std::vector<int64_t> dims) {
  auto *t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(1);
  int64_t count = 1;
  for (int64_t d : dims)
    t->add_dims(d), count *= d;
  for (int64_t i = 0; i < count; ++i)
    t->add_float_data(0.125f * float(i % 9) - 0.5f);
}

// x (1x2x4x4) -> Conv(w 3x2x3x3, 54 weights) -> Shape -> (folded) ; Reshape to (1, 48) via a
// Constant shape; Relu.
std::string writeModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto *op = m.add_opset_import();
  op->set_version(13);
  auto *g = m.mutable_graph();
  addFloatInput(g, "x", {1, 2, 4, 4});
  auto *w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  for (int64_t d : {3, 2, 3, 3})
    w->add_dims(d);
  for (int i = 0; i < 54; ++i)
    w->add_float_data(0.5f);
  auto *shape = g->add_initializer();
  shape->set_name("target_shape");
  shape->set_data_type(7);
  shape->add_dims(2);
  shape->add_int64_data(1);
  shape->add_int64_data(48);
  auto *conv = addNode(g, "stem/conv", "Conv", {"x", "w"}, "c");
  auto *pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i)
    pads->add_ints(1);
  addNode(g, "stem/shape", "Shape", {"c"}, "s");
  addNode(g, "stem/flatten", "Reshape", {"c", "target_shape"}, "r");
  addNode(g, "stem/relu", "Relu", {"r"}, "y");
  auto *y = g->add_output();
  y->set_name("y");
  auto *s = g->add_output();
  s->set_name("s");
  std::string path = ::testing::TempDir() + "import_" + std::to_string(::getpid()) + ".onnx";
  EXPECT_TRUE(writeFileAtomically(path, m.SerializeAsString()).ok());
  return path;
}

// x (1x2x4x4) -> Conv(w 3x2x3x3 + bias) -> BatchNormalization -> Relu, with distinct values
// everywhere so a mixed-up channel or element shows.
struct ConvBnRelu {
  std::vector<float> w, b, scale, shift, mean, var;
  float epsilon = 1e-3f;
  std::string path;
};

ConvBnRelu writeConvBnRelu() {
  ConvBnRelu model;
  for (int i = 0; i < 54; ++i)
    model.w.push_back(0.25f * static_cast<float>(i % 7) - 0.5f);
  model.b = {0.5f, -1.0f, 2.0f};
  model.scale = {1.5f, 0.75f, -2.0f};
  model.shift = {0.1f, 0.2f, 0.3f};
  model.mean = {1.0f, -0.5f, 0.25f};
  model.var = {4.0f, 0.5f, 9.0f};
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto *g = m.mutable_graph();
  addFloatInput(g, "x", {1, 2, 4, 4});
  auto initializer = [&](const char *name, std::vector<int64_t> dims, const std::vector<float> &v) {
    auto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(1);
    for (int64_t d : dims)
      t->add_dims(d);
    for (float f : v)
      t->add_float_data(f);
  };
  initializer("w", {3, 2, 3, 3}, model.w);
  initializer("b", {3}, model.b);
  initializer("scale", {3}, model.scale);
  initializer("shift", {3}, model.shift);
  initializer("mean", {3}, model.mean);
  initializer("var", {3}, model.var);
  addNode(g, "conv", "Conv", {"x", "w", "b"}, "c");
  auto *eps = addNode(g, "bn", "BatchNormalization", {"c", "scale", "shift", "mean", "var"}, "n")
                  ->add_attribute();
  eps->set_name("epsilon");
  eps->set_type(onnx::AttributeProto::FLOAT);
  eps->set_f(model.epsilon);
  addNode(g, "relu", "Relu", {"n"}, "y");
  g->add_output()->set_name("y");
  model.path = ::testing::TempDir() + "convbn_" + std::to_string(::getpid()) + ".onnx";
  EXPECT_TRUE(writeFileAtomically(model.path, m.SerializeAsString()).ok());
  return model;
}

} // namespace

// The optimize phase on an imported model: Conv -> BatchNorm -> Relu becomes one conv whose
// weights and bias are the folded values (computed here independently) and whose clamp is Relu's.
TEST(OnnxImport, OptimizeFoldsBatchNormAndFusesRelu) {
  mlir::MLIRContext context;
  ConvBnRelu model = writeConvBnRelu();
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      onnx_frontend::importOnnxModel(context, model.path, {});
  ::unlink(model.path.c_str());
  ASSERT_TRUE(module.ok()) << module.error().message;
  mlir::PassManager pm(&context);
  ASSERT_TRUE(fractal::addPhasePasses(pm, "optimize"));
  ASSERT_TRUE(mlir::succeeded(pm.run(**module)));

  std::vector<fractal::graph::ConvOp> convs;
  int others = 0;
  (*module)->walk([&](mlir::Operation *op) {
    if (auto conv = llvm::dyn_cast<fractal::graph::ConvOp>(op))
      convs.push_back(conv);
    else if (llvm::isa<fractal::graph::BatchNormOp, fractal::graph::ReluOp>(op))
      ++others;
  });
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(others, 0) << "batch_norm and relu should be gone";
  fractal::graph::ConvOp conv = convs[0];
  ASSERT_TRUE(conv.getClampMinAttr());
  EXPECT_EQ(conv.getClampMinAttr().getValueAsDouble(), 0.0);
  EXPECT_FALSE(conv.getClampMaxAttr());
  // The fused conv answers to all three ONNX nodes (compile report, diagnostics).
  EXPECT_EQ(fractal::compiler::onnxNodeNames(conv.getLoc()),
            (std::vector<std::string>{"conv", "bn", "relu"}));

  std::optional<std::vector<float>> w = fractal::graph::readF32Constant(conv.getWeight());
  ASSERT_TRUE(conv.getBias());
  std::optional<std::vector<float>> b = fractal::graph::readF32Constant(conv.getBias());
  ASSERT_TRUE(w && b);
  ASSERT_EQ(w->size(), 54u);
  ASSERT_EQ(b->size(), 3u);
  for (int c = 0; c < 3; ++c) {
    const double s = model.scale[c] / std::sqrt(double(model.var[c]) + double(model.epsilon));
    for (int i = 0; i < 18; ++i)
      EXPECT_FLOAT_EQ((*w)[c * 18 + i], float(model.w[c * 18 + i] * s)) << "channel " << c;
    EXPECT_FLOAT_EQ((*b)[c], float((model.b[c] - model.mean[c]) * s + model.shift[c]));
  }
}

TEST(OnnxImport, GraphOpsLocationsResourcesAndFolding) {
  mlir::MLIRContext context;
  std::string path = writeModel();
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
      onnx_frontend::importOnnxModel(context, path, {});
  ASSERT_TRUE(module.ok()) << module.error().message;
  auto func = (*module)->lookupSymbol<mlir::func::FuncOp>("main");
  ASSERT_TRUE(func);
  std::vector<std::string> ops, locations;
  bool resourceWeights = false, inlineShape = false;
  func.walk([&](mlir::Operation *op) {
    ops.push_back(op->getName().getStringRef().str());
    if (auto loc = llvm::dyn_cast<mlir::NameLoc>(op->getLoc()))
      locations.push_back(loc.getName().str());
    if (auto c = llvm::dyn_cast<fractal::graph::ConstantOp>(op)) {
      resourceWeights |= llvm::isa<mlir::DenseResourceElementsAttr>(c.getValue());
      inlineShape |= llvm::isa<mlir::DenseElementsAttr>(c.getValue()) &&
                     llvm::cast<mlir::ShapedType>(c.getType()).getElementType().isInteger(64);
    }
  });
  EXPECT_TRUE(resourceWeights) << "the 54 conv weights should be a dense_resource blob";
  EXPECT_TRUE(inlineShape) << "Shape of a static tensor folds to a small inline constant";
  EXPECT_NE(std::find(ops.begin(), ops.end(), "graph.conv"), ops.end());
  EXPECT_NE(std::find(ops.begin(), ops.end(), "graph.reshape"), ops.end());
  EXPECT_NE(std::find(locations.begin(), locations.end(), "stem/conv"), locations.end());
  EXPECT_NE(std::find(locations.begin(), locations.end(), "stem/relu"), locations.end());
  auto type = func.getFunctionType();
  EXPECT_EQ(llvm::cast<mlir::RankedTensorType>(type.getResult(0)).getShape(),
            llvm::ArrayRef<int64_t>({1, 48}));
  ::unlink(path.c_str());
}

TEST(OnnxImport, UnsupportedModelReturnsTheReport) {
  mlir::MLIRContext context;
  Expected<mlir::OwningOpRef<mlir::ModuleOp>> module = onnx_frontend::importOnnxModel(
      context, "/usr/share/libonnx-testdata/data/node/test_strnormalizer_nostopwords_nochangecase/model.onnx", {});
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.error().code, ExitCode::BadInput);
  EXPECT_NE(module.error().message.find("operator StringNormalizer is not supported"), std::string::npos);
}

// Operand shapes that ONNX's shape inference leaves unchecked (a LayerNormalization's bias
// against the normalised shape; found by mutating the backend suite's models) are bad input
// named at the node, not an importer bug.
TEST(OnnxImport, OperandsThatDoNotFitAreNamedAtTheirNode) {
  onnx::ModelProto m = newModel();
  m.mutable_opset_import(0)->set_version(17);
  onnx::GraphProto *g = m.mutable_graph();
  addFloatInput(g, "x", {2, 3, 5});
  addFloatInput(g, "scale", {3, 5});
  addFloatInput(g, "bias", {8, 5});
  addInt(addNode(g, "norm", "LayerNormalization", {"x", "scale", "bias"}, "y"), "axis", -2);
  g->add_output()->set_name("y");
  Expected<pkg::Package> p = compileForEdge(m, "layer_norm_bias");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, ExitCode::BadInput);
  EXPECT_NE(p.error().message.find("a node's operands do not fit together"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("loc(\"norm\"): 'graph.layer_norm' op scale and bias must hold one value per "
                                   "normalised element (15)"),
            std::string::npos)
      << p.error().message;
}

// A Gemm whose op(A) and op(B) do not share K, or whose C does not broadcast to M x N (ONNX 1.12's
// inference takes M from A and N from B unchecked; a mutated backend-suite Gemm of A 3x100 and
// B 5x4 compiled, and its kernel read B past its end): bad input named at the node.
TEST(OnnxImport, GemmOperandsThatDoNotFitAreNamedAtTheirNode) {
  struct Case { std::vector<int64_t> a, b, c; int transA; const char *message; };
  for (const Case &c : {Case{{3, 100}, {5, 4}, {1, 4}, 0, "'graph.gemm' op inner dimensions differ: op(A) is 3x100, op(B) 5x4"},
                        Case{{5, 3}, {4, 4}, {}, 1, "'graph.gemm' op inner dimensions differ: op(A) is 3x5, op(B) 4x4"},
                        Case{{3, 5}, {5, 4}, {3, 2}, 0, "'graph.gemm' op C of shape 'tensor<3x2xf32>' does not broadcast to 3x4"}}) {
    onnx::ModelProto m = newModel();
    m.mutable_opset_import(0)->set_version(13);
    onnx::GraphProto *g = m.mutable_graph();
    addFloatInput(g, "a", c.a);
    addFloatInput(g, "b", c.b);
    std::vector<std::string> inputs = {"a", "b"};
    if (!c.c.empty()) {
      addFloatInput(g, "c", c.c);
      inputs.push_back("c");
    }
    addInt(addNode(g, "gemm", "Gemm", inputs, "y"), "transA", c.transA);
    g->add_output()->set_name("y");
    Expected<pkg::Package> p = compileForEdge(m, "gemm_shapes");
    ASSERT_FALSE(p.ok()) << c.message;
    EXPECT_EQ(p.error().code, ExitCode::BadInput);
    EXPECT_NE(p.error().message.find(std::string("loc(\"gemm\"): ") + c.message), std::string::npos) << p.error().message;
  }
}

// The kernel listings (--compile-to=kernel|npu) line up with the package's kernels after fusion
// drops kernels: Conv -> Sigmoid -> Abs fuses Sigmoid and Abs into one element-wise kernel, then
// that into the convolution's epilogue, and every listing is the text of the kernel at its index.
TEST(OnnxImport, KernelListingsFollowTheKernelsLeftAfterFusion) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto *g = m.mutable_graph();
  addFloatInput(g, "x", {1, 4, 8, 8});
  auto *w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  for (int64_t d : {4, 4, 1, 1})
    w->add_dims(d);
  for (int i = 0; i < 16; ++i)
    w->add_float_data(0.25f * float(i % 5) - 0.5f);
  addNode(g, "conv", "Conv", {"x", "w"}, "c");
  addNode(g, "sig", "Sigmoid", {"c"}, "s");
  addNode(g, "abs", "Abs", {"s"}, "y");
  g->add_output()->set_name("y");
  const std::string path = ::testing::TempDir() + "chain_" + std::to_string(::getpid()) + ".onnx";
  ASSERT_TRUE(writeFileAtomically(path, m.SerializeAsString()).ok());
  Expected<ChipConfig> config = loadChipConfig("edge");
  ASSERT_TRUE(config.ok());
  std::vector<std::string> assembly, npu;
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, "", *config, "", &assembly, &npu);
  ::unlink(path.c_str());
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(assembly.size(), p->kernels.size());
  ASSERT_EQ(npu.size(), p->kernels.size());
  bool fused = false;
  for (size_t k = 0; k < p->kernels.size(); ++k) {
    if (p->kernels[k].name.rfind("Conv+Sigmoid+Abs_", 0) == 0) {
      fused = true;
      EXPECT_NE(assembly[k].find(".node \"conv,sig,abs\""), std::string::npos) << assembly[k].substr(0, 300);
    }
    for (const pkg::Task &t : p->tasks)
      if (!t.isHost && t.launch.kernel == k) {
        EXPECT_NE(assembly[k].find(".node \"" + t.onnxNodes.front()), std::string::npos)
            << p->kernels[k].name << " listed as:\n" << assembly[k].substr(0, 300);
      }
  }
  EXPECT_TRUE(fused) << "Sigmoid and Abs should run in the convolution's epilogue";
}

// A depthwise convolution followed by a 1x1 convolution of its result becomes one kernel
// (ConvKernel::depthwiseFirst) whose task answers to both nodes and counts both nodes'
// multiply-accumulates, and the intermediate feature map leaves the package; when the model also
// returns that map, the two kernels stay. The fused kernel's depthwise and 1x1 overlap only
// across items, so it takes four per core where a 1x1 of its cube work alone would take one.
TEST(OnnxImport, DepthwiseThenPointwiseIsOneKernelUnlessTheMiddleIsRead) {
  for (bool middleIsOutput : {false, true}) {
    onnx::ModelProto m = newModel();
    auto *g = m.mutable_graph();
    addFloatInput(g, "x", {1, 32, 64, 64});
    addPatternInitializer(g, "wd", {32, 1, 3, 3});
    addPatternInitializer(g, "wp", {48, 32, 1, 1});
    auto *dw = addNode(g, "dw", "Conv", {"x", "wd"}, "d");
    addInt(dw, "group", 32);
    addInts(dw, "pads", {1, 1, 1, 1});
    addNode(g, "pw", "Conv", {"d", "wp"}, "p");
    addNode(g, "relu", "Relu", {"p"}, "y");
    g->add_output()->set_name("y");
    if (middleIsOutput) g->add_output()->set_name("d");
    std::vector<std::string> assembly;
    Expected<pkg::Package> p = compileForEdge(m, "dwpw", &assembly);
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::vector<const pkg::Task *> convs;
    for (const pkg::Task &t : p->tasks)
      if (t.opType.rfind("Conv", 0) == 0) convs.push_back(&t);
    if (middleIsOutput) {
      ASSERT_EQ(convs.size(), 2u);
      EXPECT_EQ(convs[0]->opType, "Conv");
      EXPECT_EQ(convs[1]->opType, "Conv");
      continue;
    }
    ASSERT_EQ(convs.size(), 1u);
    const pkg::Task &t = *convs[0];
    EXPECT_EQ(t.opType, "Conv+Conv");
    EXPECT_EQ(t.name, "dw+pw");
    EXPECT_EQ(t.onnxNodes, (std::vector<std::string>{"dw", "pw", "relu"}));
    EXPECT_EQ(t.modelMacs, uint64_t(64 * 64 * 32 * 9 + 64 * 64 * 48 * 32));
    EXPECT_NE(assembly[t.launch.kernel].find("depthwise conv 3x3"), std::string::npos)
        << assembly[t.launch.kernel].substr(0, 300);
    EXPECT_NE(assembly[t.launch.kernel].find("8 row(s) per band; 8 item(s) (bands) on 2 block(s)"), std::string::npos)
        << assembly[t.launch.kernel].substr(0, 600);
    for (const pkg::Tensor &tensor : p->tensors) EXPECT_NE(tensor.name, "dw") << "the intermediate map has no GM";
  }
}

// Two detection heads (convolutions whose only use is their NHWC transpose) on the same input
// become one convolution writing both outputs; heads of different kernel sizes stay two.
TEST(OnnxImport, TwoHeadsOnOneInputAreOneKernel) {
  for (bool sameShape : {true, false}) {
    onnx::ModelProto m = newModel();
    auto *g = m.mutable_graph();
    addFloatInput(g, "x", {1, 32, 8, 8});
    addPatternInitializer(g, "wa", {48, 32, 1, 1});
    addPatternInitializer(g, "wb", {6, 32, sameShape ? 1 : 3, sameShape ? 1 : 3});
    addNode(g, "head_a", "Conv", {"x", "wa"}, "a");
    auto *b = addNode(g, "head_b", "Conv", {"x", "wb"}, "b");
    if (!sameShape) addInts(b, "pads", {1, 1, 1, 1});
    for (const char *head : {"a", "b"}) {
      addInts(addNode(g, (std::string("to_nhwc_") + head).c_str(), "Transpose", {head}, (std::string("y") + head).c_str()),
              "perm", {0, 2, 3, 1});
      g->add_output()->set_name(std::string("y") + head);
    }
    Expected<pkg::Package> p = compileForEdge(m, "heads");
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::vector<const pkg::Task *> convs;
    for (const pkg::Task &t : p->tasks)
      if (t.opType.rfind("Conv", 0) == 0) convs.push_back(&t);
    if (!sameShape) {
      EXPECT_EQ(convs.size(), 2u);
      continue;
    }
    ASSERT_EQ(convs.size(), 1u);
    const pkg::Task &t = *convs[0];
    EXPECT_EQ(t.name, "head_a+head_b");
    EXPECT_EQ(t.opType, "Conv+Conv");
    EXPECT_EQ(t.modelMacs, uint64_t(64 * 32 * (48 + 6)));
    // Arguments: input, merged weights, merged bias, then each head's NHWC output.
    ASSERT_EQ(t.launch.tensors.size(), 5u);
    EXPECT_EQ(p->tensors[t.launch.tensors[3]].shape, (std::vector<int64_t>{1, 8, 8, 48}));
    EXPECT_EQ(p->tensors[t.launch.tensors[4]].shape, (std::vector<int64_t>{1, 8, 8, 6}));
    EXPECT_EQ(p->tensors[t.launch.tensors[1]].name, "head_a+head_b/weight");
    for (const pkg::Tensor &tensor : p->tensors) EXPECT_NE(tensor.name, "head_a/weight") << "the heads' own weights are gone";
  }
}

// A convolution on an image with fewer than 16 channels, NCHW or NHWC (transposed to NCHW in the
// model), reads the float32 image itself with only those channels, padding them band by band:
// nothing pads, casts or transposes the whole image first.
TEST(OnnxImport, SmallChannelImagesAreNotPaddedInGlobalMemory) {
  for (bool nhwcModel : {false, true}) {
    onnx::ModelProto m = newModel();
    auto *g = m.mutable_graph();
    addFloatInput(g, "x", nhwcModel ? std::vector<int64_t>{1, 16, 16, 3} : std::vector<int64_t>{1, 3, 16, 16});
    addPatternInitializer(g, "w", {16, 3, 3, 3});
    std::string image = "x";
    if (nhwcModel) {
      addInts(addNode(g, "to_nchw", "Transpose", {"x"}, "xt"), "perm", {0, 3, 1, 2});
      image = "xt";
    }
    addNode(g, "conv", "Conv", {image, "w"}, "y");
    g->add_output()->set_name("y");
    Expected<pkg::Package> p = compileForEdge(m, "image");
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::vector<std::string> types;
    const pkg::Task *conv = nullptr;
    for (const pkg::Task &t : p->tasks) {
      types.push_back(t.opType);
      if (t.opType == "Conv") conv = &t;
    }
    ASSERT_NE(conv, nullptr);
    // The convolution reads the model's float32 input itself: its band loads convert it and
    // gather NCHW planes (gm2l1_nz from_f32, planar), so no Cast or layout kernel comes first.
    const pkg::Tensor &in = p->tensors[conv->launch.tensors[0]];
    EXPECT_EQ(in.name, "x");
    EXPECT_EQ(in.shape, nhwcModel ? (std::vector<int64_t>{1, 16, 16, 3}) : (std::vector<int64_t>{1, 3, 16, 16}));
    EXPECT_EQ(in.dtype, pkg::DType::F32);
    EXPECT_EQ(types, (std::vector<std::string>{"Conv", "TransData"})); // the last: NHWC16 -> NCHW output
  }
}

// A channel concatenation of inputs that do not fill 16-channel blocks (PP-OCRv4's 4 x 24) is
// held gapped; a convolution reads it as it is, with zero weights for the gaps, so no layout
// kernel compacts it, unless another consumer needs the compact form.
TEST(OnnxImport, GappedConcatFeedsAConvolutionWithoutCompaction) {
  for (bool alsoRelu : {false, true}) {
    onnx::ModelProto m = newModel();
    auto *g = m.mutable_graph();
    addFloatInput(g, "x", {1, 16, 8, 8});
    addPatternInitializer(g, "wa", {24, 16, 1, 1});
    addPatternInitializer(g, "wb", {24, 16, 1, 1});
    addPatternInitializer(g, "wc", {16, 48, 3, 3});
    addNode(g, "conv_a", "Conv", {"x", "wa"}, "a");
    addNode(g, "conv_b", "Conv", {"x", "wb"}, "b");
    addInt(addNode(g, "concat", "Concat", {"a", "b"}, "ab"), "axis", 1);
    addInts(addNode(g, "conv_c", "Conv", {"ab", "wc"}, "y"), "pads", {1, 1, 1, 1});
    g->add_output()->set_name("y");
    if (alsoRelu) {
      addNode(g, "relu", "Relu", {"ab"}, "r");
      g->add_output()->set_name("r");
    }
    Expected<pkg::Package> p = compileForEdge(m, "gapped");
    ASSERT_TRUE(p.ok()) << p.error().message;
    const pkg::Task *conv = nullptr;
    int compactions = 0;
    for (const pkg::Task &t : p->tasks) {
      if (t.name == "conv_c" && t.opType == "Conv") conv = &t;
      if (t.isHost) continue;
      const pkg::Tensor &out = p->tensors[t.launch.tensors.back()];
      compactions += out.name == "concat" && out.layout == "NHWC16";
    }
    ASSERT_NE(conv, nullptr);
    EXPECT_EQ(p->tensors[conv->launch.tensors[0]].name, "concat/gapped");
    EXPECT_EQ(p->tensors[conv->launch.tensors[0]].shape, (std::vector<int64_t>{1, 8, 8, 64}));
    EXPECT_EQ(compactions, alsoRelu ? 1 : 0) << "the compact form only for the Relu";
  }
}

// Node `name`: `out` = `in` upsampled 2x2 by nearest (asymmetric, floor), the scales from an
// initializer `name`_scales.
void addNearestUpsampling(onnx::GraphProto *g, const std::string &name, const char *in, const char *out) {
  const std::string scalesName = name + "_scales";
  auto *scales = g->add_initializer();
  scales->set_name(scalesName);
  scales->set_data_type(1);
  scales->add_dims(4);
  for (float f : {1.0f, 1.0f, 2.0f, 2.0f})
    scales->add_float_data(f);
  auto *up = addNode(g, name.c_str(), "Resize", {in, "", scalesName.c_str()}, out);
  for (auto [key, value] : {std::pair<const char *, const char *>{"mode", "nearest"},
                            {"coordinate_transformation_mode", "asymmetric"},
                            {"nearest_mode", "floor"}}) {
    auto *a = up->add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(value);
  }
}

// y = conv_c(concat(up(a), b)), a and b convolutions of inputs x and z, up a nearest 2x2
// upsampling; with `scaled`, b is conv_b(z) times sv, a per-channel scale given at run time (a
// constant one would fold into conv_b): a feature pyramid's levels concatenated, 2 x 24 channels.
onnx::ModelProto pyramidConcat(bool scaled) {
  onnx::ModelProto m = newModel();
  auto *g = m.mutable_graph();
  addFloatInput(g, "x", {1, 16, 4, 4});
  addFloatInput(g, "z", {1, 16, 8, 8});
  addPatternInitializer(g, "wa", {24, 16, 1, 1});
  addPatternInitializer(g, "wb", {24, 16, 1, 1});
  addPatternInitializer(g, "wc", {16, 48, 3, 3});
  addNode(g, "conv_a", "Conv", {"x", "wa"}, "a");
  addNearestUpsampling(g, "up", "a", "au");
  addNode(g, "conv_b", "Conv", {"z", "wb"}, "b");
  if (scaled) {
    addFloatInput(g, "sv", {1, 24, 1, 1});
    addNode(g, "scale", "Mul", {"b", "sv"}, "bs");
  }
  addInt(addNode(g, "concat", "Concat", {"au", scaled ? "bs" : "b"}, "ab"), "axis", 1);
  addInts(addNode(g, "conv_c", "Conv", {"ab", "wc"}, "y"), "pads", {1, 1, 1, 1});
  g->add_output()->set_name("y");
  return m;
}

// A nearest upsampling that only a gapped concatenation reads writes its slot of the gapped
// tensor itself; the concatenation's DMA copies only the other input.
TEST(OnnxImport, UpsamplingWritesItsConcatSlot) {
  onnx::ModelProto m = pyramidConcat(false);
  Expected<pkg::Package> p = compileForEdge(m, "upslot");
  ASSERT_TRUE(p.ok()) << p.error().message;
  const pkg::Task *resize = nullptr, *concat = nullptr;
  for (const pkg::Task &t : p->tasks) {
    if (t.opType == "Resize") resize = &t;
    if (t.opType == "Concat") concat = &t;
  }
  ASSERT_NE(resize, nullptr);
  ASSERT_NE(concat, nullptr);
  EXPECT_EQ(p->tensors[resize->launch.tensors.back()].name, "concat/gapped");
  EXPECT_EQ(concat->launch.tensors.size(), 2u) << "one input copied, then the gapped tensor";
  for (const pkg::Tensor &tensor : p->tensors) EXPECT_NE(tensor.name, "up") << "the upsampling's own tensor is gone";
}

// A per-channel product that only a gapped concatenation reads writes its slot too (PP-OCRv4's
// finest FPN level times its squeeze-excitation scale): with the other input an upsampling that
// does the same, the concatenation needs no kernel. Read by another node as well, the product
// keeps its own tensor and the concatenation copies it.
TEST(OnnxImport, PerChannelProductWritesItsConcatSlot) {
  for (bool readTwice : {false, true}) {
    SCOPED_TRACE(readTwice ? "product read twice" : "product read once");
    onnx::ModelProto m = pyramidConcat(true);
    if (readTwice) m.mutable_graph()->add_output()->set_name("bs");
    Expected<pkg::Package> p = compileForEdge(m, "mulslot");
    ASSERT_TRUE(p.ok()) << p.error().message;
    const pkg::Task *mul = nullptr, *concat = nullptr;
    for (const pkg::Task &t : p->tasks) {
      if (t.opType == "Mul") mul = &t;
      if (t.opType == "Concat") concat = &t;
    }
    ASSERT_NE(mul, nullptr);
    if (readTwice) {
      EXPECT_EQ(p->tensors[mul->launch.tensors.back()].name, "scale");
      ASSERT_NE(concat, nullptr);
      EXPECT_EQ(concat->launch.tensors.size(), 2u) << "the product copied, then the gapped tensor";
    } else {
      EXPECT_EQ(p->tensors[mul->launch.tensors.back()].name, "concat/gapped");
      EXPECT_EQ(concat, nullptr) << "every input writes its own slot";
      for (const pkg::Tensor &tensor : p->tensors) EXPECT_NE(tensor.name, "scale") << "the product's own tensor is gone";
    }
  }
}

// A feature pyramid's top-down step, up(a) + b: one kernel upsamples a on its way into UB and adds
// b (the upsampled map is never written), in the upsampling's place in the task list; with b a
// per-channel product b0 * s read only there, the kernel scales b0 itself (the product is never
// written either). When the upsampled map, or the product, is read by another node too, those
// stay kernels of their own; so do all three when rows too wide for UB leave the product made
// for nothing (it is made after all, before the Add).
TEST(OnnxImport, UpsampledAddendIsAddedOnTheWayIn) {
  enum Variant { Plain, UpsampledReadTwice, Scaled, ProductReadTwice, TooWide };
  for (Variant variant : {Plain, UpsampledReadTwice, Scaled, ProductReadTwice, TooWide}) {
    SCOPED_TRACE("variant " + std::to_string(int(variant)));
    const bool scaled = variant == Scaled || variant == ProductReadTwice || variant == TooWide;
    const int64_t w = variant == TooWide ? 700 : 4;  // a's width
    const int64_t k = variant == TooWide ? 1 : 2;    // b's pooling (a 1x1 pooling row fits in UB)
    onnx::ModelProto m = newModel();
    auto *g = m.mutable_graph();
    addFloatInput(g, "x", {1, 16, 4, w});
    addFloatInput(g, "z", {1, 16, 8 * k, 2 * w * k});
    addPatternInitializer(g, "wa", {24, 16, 1, 1});
    addPatternInitializer(g, "wb", {24, 16, 1, 1});
    addPatternInitializer(g, "wc", {16, 24, 3, 3});
    addPatternInitializer(g, "sv", {1, 24, 1, 1});
    // (b pooled, so that the Add is not a convolution's residual epilogue nor the scale folded
    // into a convolution's weights.)
    addNode(g, "conv_b", "Conv", {"z", "wb"}, "bz");
    auto *pool = addNode(g, "pool", "MaxPool", {"bz"}, scaled ? "b0" : "b");
    addInts(pool, "kernel_shape", {k, k});
    addInts(pool, "strides", {k, k});
    if (scaled) addNode(g, "scale", "Mul", {"b0", "sv"}, "b");
    addNode(g, "conv_a", "Conv", {"x", "wa"}, "a");
    addNearestUpsampling(g, "up", "a", "au");
    addNode(g, "add", "Add", {"au", "b"}, "s");
    addInts(addNode(g, "conv_c", "Conv", {"s", "wc"}, "y"), "pads", {1, 1, 1, 1});
    g->add_output()->set_name("y");
    if (variant == UpsampledReadTwice || variant == ProductReadTwice) {
      addNode(g, "relu", "Relu", {variant == UpsampledReadTwice ? "au" : "b"}, "r");
      g->add_output()->set_name("r");
    }
    Expected<pkg::Package> p = compileForEdge(m, "upadd" + std::to_string(int(variant)));
    ASSERT_TRUE(p.ok()) << p.error().message;
    std::vector<std::string> types;
    for (const pkg::Task &t : p->tasks) types.push_back(t.opType);
    auto count = [&](const char *type) { return std::count(types.begin(), types.end(), type); };
    const char *fusedType = variant == Scaled ? "Mul+Resize+Add" : "Resize+Add";
    if (variant == UpsampledReadTwice || variant == TooWide) {
      EXPECT_EQ(count("Resize+Add") + count("Mul+Resize+Add"), 0);
      EXPECT_EQ(count("Resize"), 1);
      EXPECT_EQ(count("Add"), 1);
      EXPECT_EQ(count("Mul"), variant == TooWide ? 1 : 0);
      if (variant == TooWide) { // deferred until the Add turned out not to take it
        EXPECT_GT(std::find(types.begin(), types.end(), "Mul"), std::find(types.begin(), types.end(), "Resize"));
      }
      continue;
    }
    ASSERT_EQ(count(fusedType), 1);
    EXPECT_EQ(count("Resize") + count("Add"), 0);
    EXPECT_EQ(count("Mul"), variant == ProductReadTwice ? 1 : 0);
    const pkg::Task &t = p->tasks[size_t(std::find(types.begin(), types.end(), fusedType) - types.begin())];
    EXPECT_EQ(t.name, "add");
    EXPECT_EQ(t.onnxNodes, variant == Scaled ? (std::vector<std::string>{"up", "scale", "add"})
                                             : (std::vector<std::string>{"up", "add"}));
    EXPECT_EQ(t.launch.tensors.size(), variant == Scaled ? 4u : 3u) << "the addend, [its scale,] the map to upsample, the sum";
    for (const pkg::Tensor &tensor : p->tensors) {
      EXPECT_NE(tensor.name, "up") << "the upsampled map is never written";
      if (variant == Scaled) {
        EXPECT_NE(tensor.name, "scale") << "nor the product";
      }
    }
  }
}

// A 2x2 stride-2 max pooling of a convolution's result is written by the convolution's kernel as
// a second output (the result itself still written: another node reads it).
TEST(OnnxImport, MaxPoolIsTheConvolutionsSecondOutput) {
  onnx::ModelProto m = newModel();
  auto *g = m.mutable_graph();
  addFloatInput(g, "x", {1, 16, 32, 32});
  addPatternInitializer(g, "w", {32, 16, 3, 3});
  addInts(addNode(g, "conv", "Conv", {"x", "w"}, "c"), "pads", {1, 1, 1, 1});
  addNode(g, "relu", "Relu", {"c"}, "r");
  auto *pool = addNode(g, "pool", "MaxPool", {"r"}, "p");
  addInts(pool, "kernel_shape", {2, 2});
  addInts(pool, "strides", {2, 2});
  g->add_output()->set_name("p");
  g->add_output()->set_name("r");
  Expected<pkg::Package> p = compileForEdge(m, "convpool");
  ASSERT_TRUE(p.ok()) << p.error().message;
  std::vector<std::string> types;
  const pkg::Task *conv = nullptr;
  for (const pkg::Task &t : p->tasks) {
    types.push_back(t.opType);
    if (t.opType == "Conv+MaxPool") conv = &t;
  }
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(std::count(types.begin(), types.end(), "MaxPool"), 0);
  const pkg::Task &t = *conv;
  EXPECT_EQ(t.onnxNodes, (std::vector<std::string>{"conv", "relu", "pool"}));
  ASSERT_EQ(t.launch.tensors.size(), 5u); // input, weights, bias, output, pooled
  EXPECT_EQ(p->tensors[t.launch.tensors[4]].shape, (std::vector<int64_t>{1, 16, 16, 32}));
}
