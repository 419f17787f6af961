// The importer: one graph op per node, located at the node's name; weights as dense_resource blobs
// (small constants inline); shape computations on static shapes folded; a verified module.
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/onnx/OnnxImport.h"
#include "fractal/support/File.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <unistd.h>

using namespace fractal;

namespace {

// x (1x2x4x4) -> Conv(w 3x2x3x3, 54 weights) -> Shape -> (folded) ; Reshape to (1, 48) via a
// Constant shape; Relu.
std::string writeModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto *op = m.add_opset_import();
  op->set_version(13);
  auto *g = m.mutable_graph();
  auto *x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  for (int64_t d : {1, 2, 4, 4})
    x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
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
  auto node = [&](const char *name, const char *type, std::vector<std::string> in, const char *out) {
    auto *n = g->add_node();
    n->set_name(name);
    n->set_op_type(type);
    for (auto &i : in)
      n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto *conv = node("stem/conv", "Conv", {"x", "w"}, "c");
  auto *pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i)
    pads->add_ints(1);
  node("stem/shape", "Shape", {"c"}, "s");
  node("stem/flatten", "Reshape", {"c", "target_shape"}, "r");
  node("stem/relu", "Relu", {"r"}, "y");
  auto *y = g->add_output();
  y->set_name("y");
  auto *s = g->add_output();
  s->set_name("s");
  std::string path = ::testing::TempDir() + "import_" + std::to_string(::getpid()) + ".onnx";
  EXPECT_TRUE(writeFileAtomically(path, m.SerializeAsString()).ok());
  return path;
}

} // namespace

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
      context, "/usr/share/libonnx-testdata/data/node/test_lstm_defaults/model.onnx", {});
  ASSERT_FALSE(module.ok());
  EXPECT_EQ(module.error().code, ExitCode::BadInput);
  EXPECT_NE(module.error().message.find("operator LSTM is not supported"), std::string::npos);
}
