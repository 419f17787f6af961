// The support check on malformed and unsupported models: every problem is reported, with the node
// name, and nothing crashes.
#include "fractal/onnx/OnnxCheck.h"
#include "fractal/support/File.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <functional>
#include <optional>

using namespace fractal;
using namespace fractal::onnx_frontend;

namespace {

// A small valid model: y = Relu(Conv(x, w)), x 1x1x4x4, w 1x1x3x3.
onnx::ModelProto convRelu(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("test");
  auto *op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  onnx::GraphProto *g = m.mutable_graph();
  g->set_name("g");
  auto tensorInput = [&](const std::string &name, std::vector<int64_t> dims, int type = 1) {
    auto *in = g->add_input();
    in->set_name(name);
    auto *t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims)
      t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  tensorInput("x", {1, 1, 4, 4});
  onnx::TensorProto *w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(1);
  for (int64_t d : {1, 1, 3, 3})
    w->add_dims(d);
  for (int i = 0; i < 9; ++i)
    w->add_float_data(1.0f);
  onnx::NodeProto *conv = g->add_node();
  conv->set_name("conv1");
  conv->set_op_type("Conv");
  conv->add_input("x");
  conv->add_input("w");
  conv->add_output("c");
  onnx::NodeProto *relu = g->add_node();
  relu->set_name("relu1");
  relu->set_op_type("Relu");
  relu->add_input("c");
  relu->add_output("y");
  auto *out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  return m;
}

// An INTS attribute on a node.
void addInts(onnx::NodeProto *n, const char *name, const std::vector<int64_t> &values) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

// An IR-8 model of `opset` (graph "g") whose input is x, four float32 values.
onnx::ModelProto vectorModel(int64_t opset) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  onnx::GraphProto *g = m.mutable_graph();
  g->set_name("g");
  auto *x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  return m;
}

struct GraphInput {
  const char *name;
  int type; // onnx::TensorProto::DataType
  std::vector<int64_t> dims;
};

// An IR-8 model of opset 16 (graph "g") of one node, `name`, an `op` reading `inputs` (the graph's
// inputs, in order) and writing the graph output `output` (of `outputType`; 0: undeclared). Its
// attributes go on m.mutable_graph()->mutable_node(0).
onnx::ModelProto oneNodeModel(const char *op, const char *name, const std::vector<GraphInput> &inputs,
                              const char *output, int outputType) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(16);
  onnx::GraphProto *g = m.mutable_graph();
  g->set_name("g");
  onnx::NodeProto *n = g->add_node();
  n->set_name(name);
  n->set_op_type(op);
  for (const GraphInput &in : inputs) {
    auto *t = g->add_input();
    t->set_name(in.name);
    t->mutable_type()->mutable_tensor_type()->set_elem_type(in.type);
    for (int64_t d : in.dims) t->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
    n->add_input(in.name);
  }
  n->add_output(output);
  g->add_output()->set_name(output);
  if (outputType) g->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(outputType);
  return m;
}

CheckReport check(const onnx::ModelProto &m, const std::vector<InputShape> &shapes = {}) {
  return checkOnnxBytes(m.SerializeAsString(), "m.onnx", shapes);
}

std::string problems(const CheckReport &r) {
  std::string all;
  for (const Problem &p : r.problems)
    all += (p.node.empty() ? "" : p.node + ": ") + p.message + "\n";
  return all;
}

} // namespace

TEST(OnnxCheck, ValidModelIsSupportedWithPlacements) {
  CheckReport r = check(convRelu());
  ASSERT_TRUE(r.ok()) << problems(r);
  EXPECT_EQ(r.opset, 13);
  ASSERT_EQ(r.nodes.size(), 2u);
  EXPECT_EQ(r.nodes[0].name, "conv1");
  EXPECT_EQ(r.nodes[0].placement, Placement::Cube);
  EXPECT_EQ(r.nodes[1].placement, Placement::Vector);
  EXPECT_EQ(r.inputs, (std::vector<std::string>{"x: 1x1x4x4 float"}));
}

TEST(OnnxCheck, TruncatedProtobuf) {
  std::string bytes = convRelu().SerializeAsString();
  CheckReport r = checkOnnxBytes(bytes.substr(0, bytes.size() / 2), "cut.onnx", {});
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].message, "not a valid ONNX model: the protobuf does not parse (a "
                                   "truncated or corrupt file?)");
}

TEST(OnnxCheck, MissingInitializer) {
  onnx::ModelProto m = convRelu();
  m.mutable_graph()->clear_initializer();
  CheckReport r = check(m);
  EXPECT_EQ(problems(r), "conv1: input 'w' is not a graph input, an initializer or any node's "
                         "output (a missing initializer?)\n");
}

TEST(OnnxCheck, CyclicGraph) {
  onnx::ModelProto m = convRelu();
  m.mutable_graph()->mutable_node(0)->set_input(0, "y"); // conv reads relu's output
  CheckReport r = check(m);
  EXPECT_EQ(problems(r), "the graph has a cycle through nodes conv1, relu1\n");
}

// A graph output nothing defines, in a current model and in one old enough for ONNX's version
// converter, which crashed on it (found by mutating the backend suite's models).
TEST(OnnxCheck, GraphOutputNothingDefines) {
  for (int64_t opset : {int64_t(13), int64_t(6)}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    onnx::ModelProto m = convRelu(opset);
    m.mutable_graph()->mutable_node(1)->set_output(0, "r");
    CheckReport r = check(m);
    EXPECT_EQ(problems(r), "graph output 'y' is not a graph input, an initializer or any node's output\n");
    EXPECT_EQ(r.upgradedFrom, 0);
  }
}

// A node with fewer inputs than its operator takes, or an attribute of the wrong type, is named
// before shape inference and the importer read them by position (a mutated Mul reached the
// importer's input(1) and ended in protobuf's internal CHECK).
TEST(OnnxCheck, NodesMatchTheirOnnxDefinition) {
  onnx::ModelProto m = convRelu();
  onnx::NodeProto *relu = m.mutable_graph()->mutable_node(1);
  relu->set_op_type("Mul");
  EXPECT_EQ(problems(check(m)), "relu1: has 1 input(s); Mul at opset 13 takes 2\n");
  relu->set_op_type("Sum");
  relu->add_output("extra");
  EXPECT_EQ(problems(check(m)), "relu1: has 2 output(s); Sum at opset 13 gives 1\n");
  relu->mutable_output()->RemoveLast();
  relu->clear_input();
  EXPECT_EQ(problems(check(m)), "relu1: has 0 input(s); Sum at opset 13 takes 1 or more\n");
  relu->add_input("c");
  relu->set_op_type("Relu");
  auto *strides = m.mutable_graph()->mutable_node(0)->add_attribute();
  strides->set_name("strides");
  strides->set_type(onnx::AttributeProto::FLOAT);
  strides->set_f(1);
  EXPECT_EQ(problems(check(m)), "conv1: attribute 'strides' is of type FLOAT; Conv at opset 13 defines it as INTS\n");
  // A flag of 2: ONNX's inference reads keepdims 2 as "drop", the importer as "keep".
  onnx::ModelProto argmin = oneNodeModel("ArgMin", "am", {{"x", 1, {2, 2}}}, "y", 7);
  auto *keep = argmin.mutable_graph()->mutable_node(0)->add_attribute();
  keep->set_name("keepdims");
  keep->set_type(onnx::AttributeProto::INT);
  keep->set_i(2);
  EXPECT_EQ(problems(check(argmin)), "am: attribute 'keepdims' is 2; ArgMin takes 0 or 1\n");
  // A zero stride crashed ONNX's Conv inference (a division); negative pads are a Pad's only.
  onnx::ModelProto conv = convRelu();
  addInts(conv.mutable_graph()->mutable_node(0), "strides", {1, 0});
  addInts(conv.mutable_graph()->mutable_node(0), "pads", {0, -1, 0, 0});
  EXPECT_EQ(problems(check(conv)), "conv1: attribute 'strides' holds 0; Conv's strides must be in 1 .. 2^31-1\n"
                                   "conv1: attribute 'pads' holds -1; Conv's pads must be in 0 .. 2^31-1\n");
  // The same in a model old enough to be upgraded first (the converter infers shapes too).
  onnx::ModelProto old = convRelu(6);
  addInts(old.mutable_graph()->mutable_node(0), "strides", {1, 0});
  EXPECT_EQ(problems(check(old)), "conv1: attribute 'strides' holds 0; Conv's strides must be in 1 .. 2^31-1\n");
  // A block size of 2^62, squared, overflowed to 0 in ONNX's DepthToSpace inference (a division).
  onnx::ModelProto d2s = oneNodeModel("DepthToSpace", "d2s", {{"x", 1, {1, 4, 2, 2}}}, "y", 1);
  auto *block = d2s.mutable_graph()->mutable_node(0)->add_attribute();
  block->set_name("blocksize");
  block->set_type(onnx::AttributeProto::INT);
  block->set_i(int64_t(1) << 62);
  EXPECT_EQ(problems(check(d2s)), "d2s: attribute 'blocksize' holds 4611686018427387904; DepthToSpace's blocksize must be in "
                                  "1 .. 2^31-1\n");
}

// What ONNX's inference lets through: a Pad cropping more than the axis holds (a negative
// extent), a Squeeze of an axis outside the rank (which it ignores), constant Gather indices out
// of range.
TEST(OnnxCheck, WhatShapeInferenceLetsThrough) {
  auto withInts = [](onnx::ModelProto m, const char *name, std::vector<int64_t> values) {
    onnx::TensorProto *t = m.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
    m.mutable_graph()->mutable_node(0)->add_input(name);
    return m;
  };
  onnx::ModelProto pad = withInts(oneNodeModel("Pad", "crop", {{"x", 1, {2, 3}}}, "y", 1), "pads", {0, -5, 0, 0});
  EXPECT_EQ(problems(check(pad)), "crop: its output 'y' would have the shape 2x-2: a negative extent\n");
  onnx::ModelProto squeeze = withInts(oneNodeModel("Squeeze", "sq", {{"x", 1, {2, 1}}}, "y", 1), "axes", {-9});
  EXPECT_EQ(problems(check(squeeze)), "sq: axis -9 is outside the input's rank 2 (2x1)\n");
  EXPECT_TRUE(check(withInts(oneNodeModel("Squeeze", "sq", {{"x", 1, {2, 1}}}, "y", 1), "axes", {-1})).ok());
  // Tensors no device could hold: an input whose dims overflow (a mutated ArgMax model's axis of
  // 2^62 made code generation emit instructions for hours) or a result over 2^40 bytes.
  EXPECT_EQ(problems(check(oneNodeModel("Relu", "r", {{"x", 1, {2, 3, int64_t(1) << 62}}}, "y", 0))),
            "input 'x' would have the shape 2x3x4611686018427387904: its element count overflows\n");
  // Said before shape inference runs: with a shape input of 2^62 int64 values (a mutated Expand
  // model), ONNX's data propagation allocated until the process was killed.
  EXPECT_EQ(problems(check(oneNodeModel("Expand", "e", {{"x", 1, {3, 1}}, {"to", 7, {int64_t(1) << 62}}}, "y", 1))),
            "input 'to' would have the shape 4611686018427387904: more than 2^40 bytes, larger than any device memory\n");
  onnx::ModelProto expand = withInts(oneNodeModel("Expand", "big", {{"x", 1, {1, 1}}}, "y", 1), "to", {int64_t(1) << 20, int64_t(1) << 19});
  EXPECT_EQ(problems(check(expand)), "big: its output 'y' would have the shape 1048576x524288: more than 2^40 bytes, larger "
                                     "than any device memory\n");
  EXPECT_TRUE(check(withInts(oneNodeModel("Expand", "big", {{"x", 1, {1, 1}}}, "y", 1), "to", {1 << 10, 1 << 10})).ok());
  // Gather indices known at compile time (at run time the kernel traps).
  EXPECT_EQ(problems(check(withInts(oneNodeModel("Gather", "g", {{"x", 1, {2, 3}}}, "y", 1), "i", {1, -3}))),
            "g: index -3 in 'i' is out of range: axis 0 of 'x' has 2 entries\n");
  EXPECT_TRUE(check(withInts(oneNodeModel("Gather", "g", {{"x", 1, {2, 3}}}, "y", 1), "i", {1, -2})).ok());
  // GatherElements' indices larger than the data on another axis than `axis` read past it (a
  // mutated NLL loss's target reached the kernel).
  onnx::ModelProto elements = oneNodeModel("GatherElements", "ge", {{"x", 1, {2, 3}}, {"i", 7, {1, 5}}}, "y", 1);
  EXPECT_EQ(problems(check(elements)), "ge: indices 'i' (1x5) must have the rank of 'x' (2x3) and no larger extent on "
                                       "any axis but 0\n");
  auto *dims = elements.mutable_graph()->mutable_input(1)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->mutable_dim(0)->set_dim_value(5); // 5 indices along the gathered axis: fine
  dims->mutable_dim(1)->set_dim_value(3);
  EXPECT_EQ(problems(check(elements)), "");
  // ONNX's LayerNormalization inference crashed on an axis below -rank and on one of 2^31 (fuzz
  // seed 777), whose input's rank it knows only from inference (here behind a Relu); -2 is in
  // range and keeps Mean's shape.
  for (int64_t axis : {int64_t(-3), int64_t(-2), int64_t(2), int64_t(1) << 31}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    onnx::ModelProto ln = oneNodeModel("Relu", "relu", {{"x", 1, {2, 3}}}, "r", 0);
    ln.mutable_opset_import(0)->set_version(17);
    onnx::GraphProto *g = ln.mutable_graph();
    g->clear_output();
    onnx::NodeProto *n = g->add_node();
    n->set_name("ln");
    n->set_op_type("LayerNormalization");
    for (const char *in : {"r", "scale"}) n->add_input(in);
    n->add_output("y");
    n->add_output("mean");
    auto *a = n->add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
    onnx::TensorProto *scale = g->add_initializer();
    scale->set_name("scale");
    scale->set_data_type(1);
    if (axis == -2) scale->add_dims(2); // the normalised shape: 2x3 for -2, else 3
    scale->add_dims(3);
    for (int k = 0; k < (axis == -2 ? 6 : 3); ++k) scale->add_float_data(1.0f);
    g->add_output()->set_name("y");
    CheckReport r = check(ln);
    if (axis == -2) {
      EXPECT_EQ(problems(r), "");
      continue;
    }
    EXPECT_EQ(problems(r), "ln: axis " + std::to_string(axis) + " is outside its input's rank 2\n");
  }
  // ONNX's convolution inference indexed its dilations and pads by the data's spatial dims and
  // the kernel by the weight's: a data tensor of lower rank crashed it (tests/fuzz seed 31415, a
  // ConvInteger whose input had lost a dim). Declared, and known only from inference (a Flatten
  // in front), for each operator that inference serves.
  const std::string rankProblem = "shape inference failed: [ShapeInferenceError] Shape inference error(s): (op_type:";
  const std::string ranks = "the input has rank 3 and the weight rank 4: a convolution needs both of the same rank "
                            "(N, C, then the spatial dims)\n";
  for (const char *op : {"Conv", "ConvInteger", "ConvTranspose"}) {
    SCOPED_TRACE(op);
    const int type = std::string(op) == "ConvInteger" ? 2 : 1;
    const std::string found = problems(check(oneNodeModel(op, "c", {{"x", type, {1, 1, 3}}, {"w", type, {1, 1, 2, 2}}}, "y", 0)));
    // (ConvTranspose's runtime weight is a problem of its own, listed after.)
    EXPECT_EQ(found.substr(0, found.find('\n') + 1), rankProblem + op + ", node name: c): [ShapeInferenceError] " + ranks);
  }
  onnx::ModelProto qconv = oneNodeModel("QLinearConv", "q", {{"x", 2, {1, 1, 3}}, {"xs", 1, {1}}, {"xz", 2, {1}},
                                                             {"w", 2, {1, 1, 2, 2}}, {"ws", 1, {1}}, {"wz", 2, {1}},
                                                             {"ys", 1, {1}}, {"yz", 2, {1}}}, "y", 0);
  EXPECT_EQ(problems(check(qconv)), rankProblem + "QLinearConv, node name: q): [ShapeInferenceError] " + ranks);
  onnx::ModelProto flattened = oneNodeModel("Flatten", "f", {{"x", 1, {1, 1, 3, 1}}}, "flat", 0);
  onnx::GraphProto *g = flattened.mutable_graph();
  g->clear_output();
  onnx::NodeProto *conv = g->add_node();
  conv->set_name("c");
  conv->set_op_type("Conv");
  conv->add_input("flat3");
  conv->add_input("w");
  conv->add_output("y");
  g->mutable_node(0)->set_output(0, "flat3");
  auto *w = g->add_input();
  w->set_name("w");
  w->mutable_type()->mutable_tensor_type()->set_elem_type(1);
  for (int64_t d : {1, 1, 2, 2}) w->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  EXPECT_NE(problems(check(flattened)).find("(op_type:Conv, node name: c): [ShapeInferenceError] the input has rank 2 "
                                            "and the weight rank 4"),
            std::string::npos)
      << problems(check(flattened));
}

TEST(OnnxCheck, UnknownOperatorAndAttributeAreNamed) {
  onnx::ModelProto m = convRelu();
  onnx::NodeProto *n = m.mutable_graph()->add_node();
  n->set_name("mystery");
  n->set_op_type("StringNormalizer");
  n->add_input("y");
  n->add_output("z");
  m.mutable_graph()->mutable_output(0)->set_name("z");
  auto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("auto_pad");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("SAME_UPPER");
  auto *bad = m.mutable_graph()->mutable_node(1)->add_attribute();
  bad->set_name("alpha");
  bad->set_type(onnx::AttributeProto::FLOAT);
  bad->set_f(0.1f);
  CheckReport r = check(m);
  EXPECT_NE(problems(r).find("mystery: operator StringNormalizer is not supported"), std::string::npos)
      << problems(r);
}

TEST(OnnxCheck, UnsupportedAttributeValue) {
  onnx::ModelProto m = convRelu();
  auto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("auto_pad");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("WRAP");
  CheckReport r = check(m);
  EXPECT_NE(problems(r).find("conv1: attribute auto_pad='WRAP' is not supported (supported: "
                             "NOTSET, SAME_UPPER, SAME_LOWER, VALID)"),
            std::string::npos)
      << problems(r);
}

TEST(OnnxCheck, WrongOpset) {
  CheckReport r = check(convRelu(19));
  EXPECT_EQ(problems(r).rfind("opset 19 is not supported (Fractal supports opsets 1 to 18)", 0), 0u)
      << problems(r);
  r = check(convRelu(0));
  EXPECT_EQ(problems(r).rfind("opset 0 is not supported (Fractal supports opsets 1 to 18)", 0), 0u)
      << problems(r);
}

// Opsets before 7 go through ONNX's version converter: the report says so, and the legacy
// attributes (Add's broadcast/axis) are gone from what is checked, which would otherwise refuse
// them as unsupported attributes. axis=1 lines b up with the channel axis of [1, 1, 2, 2]: an
// initializer gets the trailing unit axes in place, a run-time value through an Unsqueeze.
TEST(OnnxCheck, OldOpsetIsUpgradedBeforeTheCheck) {
  for (bool runtimeB : {false, true}) {
    SCOPED_TRACE(runtimeB ? "b is a graph input" : "b is an initializer");
    onnx::ModelProto m = convRelu(6);
    onnx::GraphProto *g = m.mutable_graph();
    g->mutable_node(1)->set_output(0, "r");
    if (runtimeB) {
      auto *in = g->add_input();
      in->set_name("b");
      in->mutable_type()->mutable_tensor_type()->set_elem_type(1);
      in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
    } else {
      onnx::TensorProto *b = g->add_initializer();
      b->set_name("b");
      b->set_data_type(1);
      b->add_dims(1);
      b->add_float_data(0.5f);
    }
    onnx::NodeProto *add = g->add_node();
    add->set_name("bias1");
    add->set_op_type("Add");
    add->add_input("r");
    add->add_input("b");
    add->add_output("y");
    for (const char *name : {"broadcast", "axis"}) {
      auto *a = add->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(1);
    }
    CheckReport r = check(m);
    EXPECT_TRUE(r.ok()) << problems(r);
    EXPECT_EQ(r.opset, kLegacyUpgradeOpset);
    EXPECT_EQ(r.upgradedFrom, 6);
    EXPECT_NE(r.text().find("m.onnx: opset 9 (upgraded from opset 6 by ONNX's version converter)"), std::string::npos)
        << r.text();
    EXPECT_NE(r.json().find("\"upgraded_from_opset\": 6"), std::string::npos) << r.json();
    std::string ops;
    for (const NodeReport &n : r.nodes) ops += n.opType + " ";
    EXPECT_EQ(ops, runtimeB ? "Conv Relu Unsqueeze Add " : "Conv Relu Add ");
  }
}

// STFT: the check types its output itself, [batch, frames, bins, 2], since ONNX 1.12's inference
// counts the bins as if onesided's default were 0 and the frames from the bins (onnx/onnx#4920):
// a declared shape that inference would contradict passes, one declared from it is replaced. It
// names what stops an STFT: a frame longer than the signal, a window of another length, onesided
// on a complex signal, neither frame_length nor window.
TEST(OnnxCheck, StftTypedByTheCheck) {
  auto stft = [](std::vector<int64_t> signal, int64_t step, int64_t length, int64_t windowLength, int onesided,
                 std::vector<int64_t> declared) {
    onnx::ModelProto m = oneNodeModel("STFT", "stft", {{"x", 1, signal}}, "y", 1);
    m.mutable_opset_import(0)->set_version(17);
    onnx::GraphProto *g = m.mutable_graph();
    onnx::NodeProto *n = g->mutable_node(0);
    auto initializer = [&](const char *name, int type, std::vector<int64_t> dims) {
      onnx::TensorProto *t = g->add_initializer();
      t->set_name(name);
      t->set_data_type(type);
      for (int64_t d : dims) t->add_dims(d);
      n->add_input(name);
      return t;
    };
    initializer("step", 7, {})->add_int64_data(step);
    if (windowLength) {
      onnx::TensorProto *w = initializer("window", 1, {windowLength});
      for (int64_t i = 0; i < windowLength; ++i) w->add_float_data(1.0f);
    } else {
      n->add_input("");
    }
    if (length) initializer("length", 7, {})->add_int64_data(length);
    if (onesided >= 0) {
      onnx::AttributeProto *a = n->add_attribute();
      a->set_name("onesided");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(onesided);
    }
    auto *shape = g->mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
    for (int64_t d : declared) shape->add_dim()->set_dim_value(d);
    return check(m);
  };
  CheckReport ok = stft({2, 128, 1}, 8, 16, 0, -1, {2, 15, 9, 2}); // ONNX 1.12 infers [2, 15, 16, 2]
  ASSERT_TRUE(ok.ok()) << problems(ok);
  EXPECT_EQ(ok.nodes[0].placement, Placement::Cube);
  EXPECT_TRUE(stft({2, 128, 1}, 8, 16, 0, -1, {2, 15, 16, 2}).ok()); // as declared from ONNX 1.12's
  EXPECT_TRUE(stft({1, 100, 2}, 10, 0, 20, 0, {}).ok()) << problems(stft({1, 100, 2}, 10, 0, 20, 0, {}));
  EXPECT_EQ(problems(stft({1, 100, 1}, 10, 120, 0, -1, {})),
            "stft: frame_length 120 must be between 1 and the signal's 100 samples\n");
  EXPECT_EQ(problems(stft({1, 100, 1}, 10, 16, 20, -1, {})),
            "stft: its window must be [16], one weight per sample of a frame\n");
  EXPECT_EQ(problems(stft({1, 100, 2}, 10, 16, 0, 1, {})),
            "stft: onesided needs a real signal (its last dimension 1), this one is complex\n");
  EXPECT_EQ(problems(stft({1, 100, 1}, 0, 16, 0, -1, {})), "stft: frame_step 0 must be at least 1\n");
  EXPECT_EQ(problems(stft({1, 100, 1}, 10, 0, 0, -1, {})), "stft: it needs a frame_length or a window\n");
}

// TfIdfVectorizer on token ids: the check reads its pool as the importer does (TfIdf.h) and names
// what stops it.
TEST(OnnxCheck, TfIdfVectorizerPoolsChecked) {
  auto tfIdf = [](std::function<void(onnx::NodeProto *)> edit, int type = 7) {
    onnx::ModelProto m = oneNodeModel("TfIdfVectorizer", "tfidf", {{"x", type, {2, 6}}}, "y", 1);
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    auto ints = [&](const char *name, std::vector<int64_t> values) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : values) a->add_ints(v);
    };
    auto one = [&](const char *name, int64_t v) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(v);
    };
    auto *mode = n->add_attribute();
    mode->set_name("mode");
    mode->set_type(onnx::AttributeProto::STRING);
    mode->set_s("TF");
    one("min_gram_length", 1);
    one("max_gram_length", 2);
    one("max_skip_count", 1);
    ints("pool_int64s", {2, 3, 5, 4, 5, 6, 7, 8});
    ints("ngram_counts", {0, 4});
    ints("ngram_indexes", {0, 1, 2, 3, 4, 5});
    edit(n);
    return check(m);
  };
  auto set = [](onnx::NodeProto *n, const char *name, std::vector<int64_t> values) {
    for (auto &a : *n->mutable_attribute())
      if (a.name() == name) {
        a.clear_ints();
        for (int64_t v : values) a.add_ints(v);
      }
  };
  CheckReport ok = tfIdf([](onnx::NodeProto *) {});
  ASSERT_TRUE(ok.ok()) << problems(ok);
  EXPECT_EQ(ok.nodes[0].placement, Placement::Vector);
  EXPECT_TRUE(tfIdf([](onnx::NodeProto *) {}, 6).ok()); // int32 tokens
  EXPECT_EQ(problems(tfIdf([&](onnx::NodeProto *n) { set(n, "ngram_counts", {0, 3}); })),
            "tfidf: ngram_counts does not split the pool of 8 tokens into whole 2-grams (from 3 to 8)\n");
  EXPECT_EQ(problems(tfIdf([&](onnx::NodeProto *n) { set(n, "ngram_indexes", {0, 1, 2, 3, 4, 4}); })),
            "tfidf: ngram_indexes names column 4 twice\n");
  EXPECT_EQ(problems(tfIdf([&](onnx::NodeProto *n) { set(n, "ngram_indexes", {0, 1, 2, 3, 4}); })),
            "tfidf: ngram_indexes has 5 entries for the pool's 6 n-grams\n");
  EXPECT_EQ(problems(tfIdf([](onnx::NodeProto *n) {
              auto *w = n->add_attribute();
              w->set_name("weights");
              w->set_type(onnx::AttributeProto::FLOATS);
              w->add_floats(1.0f);
            })),
            "tfidf: it has 1 weights for the pool's 6 n-grams\n");
  const std::string strings = problems(tfIdf([](onnx::NodeProto *n) {
    auto *p = n->add_attribute();
    p->set_name("pool_strings");
    p->set_type(onnx::AttributeProto::STRINGS);
    p->add_strings("monday");
  }));
  EXPECT_NE(strings.find("tfidf: a pool of strings is not supported"), std::string::npos) << strings;
}

// Pow takes any float32 or integer exponent: one value the importer rewrites (products, square
// roots, exp(y log x)) or, like 5, 0 or values that differ per element, a per-element kernel. A
// constant exponent of another type is a problem naming the node, found by the check.
TEST(OnnxCheck, PowNeedsAFloatOrIntegerExponent) {
  auto powModel = [](std::vector<float> exponent, int type = 1) {
    onnx::ModelProto m = convRelu();
    onnx::GraphProto *g = m.mutable_graph();
    g->mutable_node(1)->set_output(0, "r");
    onnx::TensorProto *e = g->add_initializer();
    e->set_name("e");
    e->set_data_type(type);
    if (exponent.size() > 1) e->add_dims(int64_t(exponent.size()));
    for (float v : exponent) type == 11 ? e->add_double_data(v) : e->add_float_data(v);
    onnx::NodeProto *pow = g->add_node();
    pow->set_name("pow1");
    pow->set_op_type("Pow");
    pow->add_input("r");
    pow->add_input("e");
    pow->add_output("y");
    return m;
  };
  for (std::vector<float> y : std::vector<std::vector<float>>{{2.0f}, {-1.0f}, {0.5f}, {1.5f}, {5.0f}, {0.0f}, {2.0f, 3.0f}})
    EXPECT_TRUE(check(powModel(y)).ok()) << y[0] << ": " << problems(check(powModel(y)));
  EXPECT_EQ(problems(check(powModel({2.0f}, 11))), "pow1: the exponent must be float32, int32 or int64\n");
  // A run-time exponent: float32 or any integer type (converted on the device), not double.
  for (int type : {1, 6, 12, 7, 11}) {
    onnx::ModelProto m = powModel({2.0f});
    onnx::GraphProto *g = m.mutable_graph();
    g->mutable_initializer()->RemoveLast();
    auto *e = g->add_input();
    e->set_name("e");
    e->mutable_type()->mutable_tensor_type()->set_elem_type(type);
    e->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
    EXPECT_EQ(problems(check(m)), type == 11 ? "pow1: a run-time exponent must be float32 or an integer type\n" : "")
        << type;
  }
  // An integer base takes integer exponents only.
  onnx::ModelProto m = powModel({2.0f});
  onnx::GraphProto *g = m.mutable_graph();
  onnx::NodeProto *cast = g->add_node();
  cast->set_op_type("Cast");
  cast->add_input("r");
  cast->add_output("ri");
  cast->add_attribute()->set_name("to");
  cast->mutable_attribute(0)->set_type(onnx::AttributeProto::INT);
  cast->mutable_attribute(0)->set_i(onnx::TensorProto::INT64);
  g->mutable_node(2)->set_input(0, "ri");
  g->mutable_node()->SwapElements(2, 3); // the cast before the power
  for (onnx::ValueInfoProto &o : *g->mutable_output())
    if (o.name() == "y") o.mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  EXPECT_EQ(problems(check(m)), "pow1: an integer base needs an integer exponent (ONNX Runtime computes a float "
                                "exponent's power in double precision, which Fractal has not)\n");
}

// Where selects float32, int32 (vector unit) or int64 (scalar unit) values by a bool condition:
// other types are named at check time.
// GridSample samples 2-D only (the importer's composition): a volumetric one is refused at check
// time; a 2-D one with an unknown mode is named by the attribute rule.
TEST(OnnxCheck, GridSampleSamplesTwoDimensionsOnly) {
  auto model = [](std::vector<int64_t> xDims, std::vector<int64_t> gridDims, const char *mode) {
    onnx::ModelProto m = oneNodeModel("GridSample", "sample", {{"x", 1, xDims}, {"grid", 1, gridDims}}, "y", 1);
    onnx::AttributeProto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("mode");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(mode);
    return m;
  };
  EXPECT_TRUE(check(model({1, 2, 4, 4}, {1, 3, 3, 2}, "bicubic")).ok());
  // (ONNX 1.12's shape inference knows GridSample of opset 16, 4-D only: a 5-D input stops there.)
  EXPECT_NE(problems(check(model({1, 2, 4, 4, 4}, {1, 3, 3, 3, 3}, "bilinear"))).find("expected to have rank 4"),
            std::string::npos);
  EXPECT_EQ(problems(check(model({1, 2, 4, 4}, {1, 3, 3, 2}, "area"))),
            "sample: attribute mode='area' is not supported (supported: bilinear, nearest, bicubic, linear, cubic)\n");
}

// RoiAlign's samples per bin must be fixed: sampling_ratio 0, the default, sizes them from each
// run-time region.
TEST(OnnxCheck, RoiAlignNeedsAFixedSamplingRatio) {
  auto model = [](int64_t ratio) {
    onnx::ModelProto m =
        oneNodeModel("RoiAlign", "align", {{"x", 1, {1, 2, 4, 4}}, {"rois", 1, {3, 4}}, {"batch", 7, {3}}}, "y", 1);
    if (ratio >= 0) {
      onnx::AttributeProto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
      a->set_name("sampling_ratio");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(ratio);
    }
    return m;
  };
  CheckReport fixed = check(model(2));
  EXPECT_TRUE(fixed.ok()) << problems(fixed);
  const std::string refused = "align: sampling_ratio 0 (samples per bin from each region's run-time size) is not "
                              "supported: give sampling_ratio > 0\n";
  EXPECT_EQ(problems(check(model(0))), refused);
  EXPECT_EQ(problems(check(model(-1))), refused); // absent: the default, 0
}

// MaxPool's Indices output: composed for 2-D float32 pooling (indices exact in float32, so fewer
// than 2^24 elements); a 1-D pooling's is refused with that reason.
TEST(OnnxCheck, MaxPoolIndicesForTwoDimensionalFloatPooling) {
  auto model = [](std::vector<int64_t> dims) {
    onnx::ModelProto m = oneNodeModel("MaxPool", "pool", {{"x", 1, dims}}, "y", 1);
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    n->add_output("indices");
    m.mutable_graph()->add_output()->set_name("indices");
    onnx::AttributeProto *a = n->add_attribute();
    a->set_name("kernel_shape");
    a->set_type(onnx::AttributeProto::INTS);
    for (size_t d = 2; d < dims.size(); ++d) a->add_ints(2);
    return m;
  };
  CheckReport planar = check(model({1, 2, 6, 6}));
  EXPECT_TRUE(planar.ok()) << problems(planar);
  const std::string refused = "pool: the Indices output is supported for 2-D float pooling (float32, float16, float64) of fewer than 2^24 elements only\n";
  EXPECT_EQ(problems(check(model({1, 2, 6}))), refused);
  EXPECT_EQ(problems(check(model({1, 1, 4096, 4096}))), refused);
}

// An Einsum's equation is read for its operands' shapes: the result's shape is inferred from it
// (ONNX's inference gives only the rank), and each way an equation cannot be computed is named.
TEST(OnnxCheck, EinsumEquationsReadForTheirOperands) {
  auto model = [](const std::string &equation, std::vector<std::vector<int64_t>> shapes) {
    static const char *kNames[] = {"a", "b", "c"};
    std::vector<GraphInput> inputs;
    for (size_t i = 0; i < shapes.size(); ++i) inputs.push_back({kNames[i], 1, shapes[i]});
    onnx::ModelProto m = oneNodeModel("Einsum", "e", inputs, "y", 1);
    onnx::AttributeProto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("equation");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(equation);
    return m;
  };
  CheckReport attention = check(model("bhqd, bhkd -> bhqk", {{2, 3, 4, 5}, {2, 3, 6, 5}}));
  EXPECT_TRUE(attention.ok()) << problems(attention);
  EXPECT_TRUE(check(model("...ii->...i", {{3, 5, 5}})).ok());
  EXPECT_EQ(problems(check(model("ij,jk->ik", {{2, 3}, {4, 5}}))),
            "e: equation 'ij,jk->ik': label 'j' has sizes 3 and 4 (broadcasting a size-1 axis is not supported)\n");
  CheckReport chain = check(model("ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}})); // three: contracted pairwise
  EXPECT_TRUE(chain.ok()) << problems(chain);
  EXPECT_EQ(problems(check(model("ij,jk,kl->il", {{2, 3}, {3, 4}, {5, 5}}))),
            "e: equation 'ij,jk,kl->il': label 'k' has sizes 4 and 5 (broadcasting a size-1 axis is not supported)\n");
  EXPECT_NE(problems(check(model("ijk->i", {{2, 3}}))).find("Rank of input 0 does not match the equation"),
            std::string::npos); // ONNX's inference finds this one first
  EXPECT_EQ(problems(check(model("ij->iz", {{2, 3}}))), "e: equation 'ij->iz': result label 'z' is in no input\n");
  EXPECT_EQ(problems(check(model("i1->i", {{2, 3}}))),
            "e: equation 'i1->i': '1' is not a label (letters and one '...' per term)\n");
}

// An ai.onnx.ml TreeEnsembleRegressor is checked tree by tree: a well-formed ensemble passes (its
// output shape [rows, n_targets] inferred), each malformed one is named, and modes it cannot
// compute (post_transform) are refused like any attribute value.
TEST(OnnxCheck, TreeEnsemblesCheckedTreeByTree) {
  struct Node {
    int64_t id, feature;
    const char *mode;
    int64_t yes, no;
  };
  auto model = [](std::vector<Node> nodes, int64_t leafTarget, const char *postTransform) {
    onnx::ModelProto m = oneNodeModel("TreeEnsembleRegressor", "trees", {{"x", 1, {4, 3}}}, "y", 1);
    auto *ml = m.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(3);
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    n->set_domain("ai.onnx.ml");
    auto add = [&](const char *name, onnx::AttributeProto::AttributeType type) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(type);
      return a;
    };
    auto *trees = add("nodes_treeids", onnx::AttributeProto::INTS), *ids = add("nodes_nodeids", onnx::AttributeProto::INTS),
         *features = add("nodes_featureids", onnx::AttributeProto::INTS),
         *modes = add("nodes_modes", onnx::AttributeProto::STRINGS), *values = add("nodes_values", onnx::AttributeProto::FLOATS),
         *yes = add("nodes_truenodeids", onnx::AttributeProto::INTS), *no = add("nodes_falsenodeids", onnx::AttributeProto::INTS);
    for (const Node &node : nodes) {
      trees->add_ints(0), ids->add_ints(node.id), features->add_ints(node.feature), modes->add_strings(node.mode);
      values->add_floats(0.5f), yes->add_ints(node.yes), no->add_ints(node.no);
    }
    add("target_treeids", onnx::AttributeProto::INTS)->add_ints(0);
    add("target_nodeids", onnx::AttributeProto::INTS)->add_ints(leafTarget);
    add("target_ids", onnx::AttributeProto::INTS)->add_ints(0);
    add("target_weights", onnx::AttributeProto::FLOATS)->add_floats(1.0f);
    add("post_transform", onnx::AttributeProto::STRING)->set_s(postTransform);
    return m;
  };
  const std::vector<Node> good = {{0, 2, "BRANCH_LEQ", 1, 2}, {1, 0, "LEAF", 0, 0}, {2, 0, "LEAF", 0, 0}};
  CheckReport ok = check(model(good, 1, "NONE"));
  EXPECT_TRUE(ok.ok()) << problems(ok);
  EXPECT_EQ(problems(check(model({{0, 2, "BRANCH_LEQ", 1, 5}, {1, 0, "LEAF", 0, 0}, {2, 0, "LEAF", 0, 0}}, 1, "NONE"))),
            "trees: tree 0 node 0 has child 5, which is not in the tree\n");
  EXPECT_EQ(problems(check(model({{1, 0, "LEAF", 0, 0}, {0, 2, "BRANCH_LEQ", 1, 2}, {2, 0, "LEAF", 0, 0}}, 1, "NONE"))),
            "trees: tree 0's root, node 0, is not its first node, which ONNX Runtime takes as the root\n");
  EXPECT_EQ(problems(check(model({{0, 3, "BRANCH_LEQ", 1, 2}, {1, 0, "LEAF", 0, 0}, {2, 0, "LEAF", 0, 0}}, 1, "NONE"))),
            "trees: tree 0 node 0 reads feature 3 of an input with 3\n");
  EXPECT_EQ(problems(check(model(good, 0, "NONE"))), "trees: target weight 0 names tree 0 node 0, which is not a leaf\n");
  EXPECT_EQ(problems(check(model(good, 1, "LOGISTIC"))),
            "trees: attribute post_transform='LOGISTIC' is not supported (supported: NONE)\n");
  // A classifier: its weights are class_*. Two classes are scored as ONNX Runtime does, but for
  // its cases that are not a model's (labels it does not use, scores it leaves unwritten).
  // `bothClasses`: leaf 2 weighs class 1 too; `base`: base_values.
  auto classifier = [&](std::vector<int64_t> labels, bool bothClasses = false, std::vector<float> base = {}) {
    onnx::ModelProto m = model(good, 1, "NONE");
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    n->set_op_type("TreeEnsembleClassifier");
    m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
    n->add_output("scores");
    m.mutable_graph()->add_output()->set_name("scores");
    for (auto &a : *n->mutable_attribute())
      if (a.name().rfind("target_", 0) == 0) a.set_name("class_" + a.name().substr(7));
    auto *l = n->add_attribute();
    l->set_name("classlabels_int64s");
    l->set_type(onnx::AttributeProto::INTS);
    for (int64_t label : labels) l->add_ints(label);
    for (auto &a : *n->mutable_attribute()) {
      if (!bothClasses) break;
      if (a.name() == "class_treeids") a.add_ints(0);
      if (a.name() == "class_nodeids") a.add_ints(2);
      if (a.name() == "class_ids") a.add_ints(1);
      if (a.name() == "class_weights") a.add_floats(0.5f);
    }
    if (!base.empty()) {
      auto *b = n->add_attribute();
      b->set_name("base_values");
      b->set_type(onnx::AttributeProto::FLOATS);
      for (float v : base) b->add_floats(v);
    }
    return m;
  };
  CheckReport binary = check(classifier({4, 5}));
  EXPECT_TRUE(binary.ok()) << problems(binary);
  CheckReport binaryBase = check(classifier({4, 5}, false, {0.5f}));
  EXPECT_TRUE(binaryBase.ok()) << problems(binaryBase);
  CheckReport forest = check(classifier({0, 1}, true));
  EXPECT_TRUE(forest.ok()) << problems(forest);
  EXPECT_EQ(problems(check(classifier({4}))), "trees: a classifier of 1 int64 class label(s): two or more are needed\n");
  EXPECT_EQ(problems(check(classifier({4, 5}, true))),
            "trees: two classes weighed both, labelled 4 and 5: ONNX Runtime labels such an ensemble 0 or 1 whatever "
            "classlabels_int64s says, which is not supported\n");
  EXPECT_EQ(problems(check(classifier({0, 1}, true, {0.5f}))),
            "trees: two classes weighed both with one base value: ONNX Runtime leaves the second score of some rows "
            "unwritten, which is not supported\n");
  EXPECT_EQ(problems(check(classifier({4, 5, 6}))),
            "trees: tree 0 node 1 has no weight for class 1 and there are no base_values: ONNX Runtime leaves such a class "
            "out of the label, which is not supported\n");
}

// The ai.onnx.ml linear operators: their attributes' sizes are checked against the input's
// features; another domain's operator (after ONNX's inference's own complaint), and an
// ai.onnx.ml one Fractal lacks, are named.
TEST(OnnxCheck, MlLinearOperatorsCheckedAgainstTheirFeatures) {
  auto model = [](const char *op, const char *domain, std::vector<std::pair<const char *, std::vector<float>>> lists) {
    onnx::ModelProto m = oneNodeModel(op, "ml", {{"x", 1, {5, 3}}}, "y", 1);
    auto *ml = m.add_opset_import();
    ml->set_domain("ai.onnx.ml");
    ml->set_version(1);
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    n->set_domain(domain);
    for (const auto &[name, values] : lists) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::FLOATS);
      for (float v : values) a->add_floats(v);
    }
    return m;
  };
  CheckReport scaler = check(model("Scaler", "ai.onnx.ml", {{"offset", {1, 2, 3}}, {"scale", {2}}}));
  EXPECT_TRUE(scaler.ok()) << problems(scaler);
  EXPECT_EQ(problems(check(model("Scaler", "ai.onnx.ml", {{"offset", {1, 2}}, {"scale", {2}}}))),
            "ml: offset has 2 values for 3 features (one, or one per feature)\n");
  CheckReport linear = check(model("LinearRegressor", "ai.onnx.ml", {{"coefficients", {1, 2, 3}}, {"intercepts", {1}}}));
  EXPECT_TRUE(linear.ok()) << problems(linear);
  EXPECT_EQ(problems(check(model("LinearRegressor", "ai.onnx.ml", {{"coefficients", {1, 2, 3, 4}}}))),
            "ml: coefficients has 4 values for 1 target(s) x 3 features\n");
  EXPECT_EQ(problems(check(model("Imputer", "ai.onnx.ml", {}))), "ml: operator ai.onnx.ml.Imputer is not supported\n");
  EXPECT_NE(problems(check(model("ZipMap", "ai.onnx.ml", {})))
                .find("ml: operator ai.onnx.ml.ZipMap is not supported: its output is a sequence of maps and Fractal's "
                      "packages hold tensors only; its input 'x' holds the same probabilities (convert with skl2onnx's "
                      "options={'zipmap': False}, or make that tensor the graph output)\n"),
            std::string::npos);
  CheckReport normalizer = check(model("Normalizer", "ai.onnx.ml", {}));
  EXPECT_TRUE(normalizer.ok()) << problems(normalizer);
  // LinearClassifier: the intercepts give the classes (one class scores two labels).
  auto classifier = [&](std::vector<float> coefficients, std::vector<float> intercepts, std::vector<int64_t> labels) {
    onnx::ModelProto m = model("LinearClassifier", "ai.onnx.ml", {{"coefficients", coefficients}, {"intercepts", intercepts}});
    m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
    m.mutable_graph()->mutable_node(0)->add_output("scores");
    m.mutable_graph()->add_output()->set_name("scores");
    auto *l = m.mutable_graph()->mutable_node(0)->add_attribute();
    l->set_name("classlabels_ints");
    l->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : labels) l->add_ints(v);
    return check(m);
  };
  CheckReport binary = classifier({1, 2, 3}, {0.5f}, {0, 1});
  EXPECT_TRUE(binary.ok()) << problems(binary);
  CheckReport three = classifier({1, 2, 3, 4, 5, 6, 7, 8, 9}, {0, 0, 0}, {4, 5, 6});
  EXPECT_TRUE(three.ok()) << problems(three);
  EXPECT_EQ(problems(classifier({1, 2, 3}, {}, {0, 1})),
            "ml: it has no intercepts, which give its classes (ONNX Runtime requires them)\n");
  EXPECT_EQ(problems(classifier({1, 2, 3, 4}, {0.5f}, {0, 1})), "ml: coefficients has 4 values for 1 class(es) x 3 features\n");
  EXPECT_EQ(problems(classifier({1, 2, 3}, {0.5f}, {0, 1, 2})),
            "ml: classlabels_ints has 3 labels for 1 class(es) (one class scores two labels)\n");
  EXPECT_NE(problems(check(model("Scaler", "com.example", {}))).find("ml: operator com.example.Scaler (a custom domain) is not supported\n"),
            std::string::npos);
}

// A Scan is unrolled at its static length (its body once per step); one whose steps would make an
// unreasonably large graph is refused with the count.
TEST(OnnxCheck, ScanUnrolledUpToABoundedGraph) {
  auto model = [](int64_t steps) {
    onnx::ModelProto m = oneNodeModel("Scan", "scan", {{"x", 1, {steps, 2}}}, "y", 1);
    onnx::NodeProto *n = m.mutable_graph()->mutable_node(0);
    auto *count = n->add_attribute();
    count->set_name("num_scan_inputs");
    count->set_type(onnx::AttributeProto::INT);
    count->set_i(1);
    auto *body = n->add_attribute();
    body->set_name("body");
    body->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto *g = body->mutable_g();
    g->set_name("body");
    for (const char *name : {"step", "doubled"}) {
      auto *v = name[0] == 's' ? g->add_input() : g->add_output();
      v->set_name(name);
      v->mutable_type()->mutable_tensor_type()->set_elem_type(1);
      v->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
    }
    onnx::NodeProto *add = g->add_node();
    add->set_op_type("Add");
    add->add_input("step");
    add->add_input("step");
    add->add_output("doubled");
    return m;
  };
  CheckReport small = check(model(4));
  EXPECT_TRUE(small.ok()) << problems(small);
  EXPECT_EQ(problems(check(model(30000))), "scan: cannot be unrolled: 30000 steps of its body make more than 20000 nodes\n");
}

// A Loop is unrolled when its trip count and condition are known and its body never stops it (it
// passes the condition on); one whose body computes the condition, or whose trip count is a
// run-time input, is refused saying so.
TEST(OnnxCheck, LoopUnrolledOnlyWhenItRunsItsWholeTripCount) {
  auto model = [](bool computedCondition, bool tripsKnown) {
    onnx::ModelProto m = oneNodeModel("Loop", "loop", {{"y0", 1, {2}}}, "y", 1);
    onnx::GraphProto *graph = m.mutable_graph();
    onnx::NodeProto *n = graph->mutable_node(0);
    n->clear_input();
    n->add_input("trips");
    n->add_input("");
    n->add_input("y0");
    if (tripsKnown) {
      onnx::TensorProto *t = graph->add_initializer();
      t->set_name("trips");
      t->set_data_type(onnx::TensorProto::INT64);
      t->add_int64_data(3);
    } else {
      auto *in = graph->add_input();
      in->set_name("trips");
      in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
      in->mutable_type()->mutable_tensor_type()->mutable_shape();
    }
    auto *body = n->add_attribute();
    body->set_name("body");
    body->set_type(onnx::AttributeProto::GRAPH);
    onnx::GraphProto *g = body->mutable_g();
    g->set_name("body");
    auto value = [](onnx::ValueInfoProto *v, const char *name, int type, bool vector) {
      v->set_name(name);
      v->mutable_type()->mutable_tensor_type()->set_elem_type(type);
      auto *shape = v->mutable_type()->mutable_tensor_type()->mutable_shape();
      if (vector) shape->add_dim()->set_dim_value(2);
    };
    value(g->add_input(), "i", onnx::TensorProto::INT64, false);
    value(g->add_input(), "cond_in", onnx::TensorProto::BOOL, false);
    value(g->add_input(), "y_in", 1, true);
    auto node = [&](const char *op, std::vector<std::string> inputs, const char *output) {
      onnx::NodeProto *k = g->add_node();
      k->set_op_type(op);
      for (auto &in : inputs) k->add_input(in);
      k->add_output(output);
    };
    node("Add", {"y_in", "y_in"}, "y_out");
    if (computedCondition) {
      node("ReduceSum", {"y_out"}, "total");
      auto *keep = g->mutable_node(g->node_size() - 1)->add_attribute();
      keep->set_name("keepdims");
      keep->set_type(onnx::AttributeProto::INT);
      keep->set_i(0);
      node("Cast", {"total"}, "cond_out");
      auto *to = g->mutable_node(g->node_size() - 1)->add_attribute();
      to->set_name("to");
      to->set_type(onnx::AttributeProto::INT);
      to->set_i(onnx::TensorProto::BOOL);
    } else {
      node("Identity", {"cond_in"}, "cond_out");
    }
    value(g->add_output(), "cond_out", onnx::TensorProto::BOOL, false);
    value(g->add_output(), "y_out", 1, true);
    return m;
  };
  CheckReport unrolled = check(model(false, true));
  EXPECT_TRUE(unrolled.ok()) << problems(unrolled);
  EXPECT_EQ(problems(check(model(true, true))), "loop: cannot be unrolled: its body computes whether to go on (only loops "
                                                "that run their whole trip count are unrolled)\n");
  EXPECT_NE(problems(check(model(false, false))).find("loop: cannot be unrolled: its trip count and condition must be "
                                                      "known at compile time"),
            std::string::npos);
}

TEST(OnnxCheck, WhereSelectsFloat32Int32OrInt64Values) {
  auto whereModel = [](int type) {
    return oneNodeModel("Where", "w", {{"c", 9, {4}}, {"x", type, {4}}, {"y", type, {4}}}, "z", 0);
  };
  EXPECT_EQ(problems(check(whereModel(1))), "");
  EXPECT_EQ(problems(check(whereModel(6))), "");
  CheckReport int64 = check(whereModel(7));
  EXPECT_EQ(problems(int64), "");
  ASSERT_EQ(int64.nodes.size(), 1u);
  EXPECT_EQ(int64.nodes[0].placement, Placement::Scalar);
  EXPECT_EQ(problems(check(whereModel(10))),
            "w: input 'x' has type float16, which this operator does not support (float32 or integers)\n");
}

// NonZero and Compress run on the scalar unit; their output's extent is known only at run time.
// Ops after it run over its bound (the check types it with the bound, so theirs are static): a
// Cast can, a Shape would give the bound (and is not folded to it) and is refused, naming it and
// what it reads; Compress of float16 data is refused (computed as float32, its output would
// change type).
TEST(OnnxCheck, DataDependentValuesReachOnlyOpsThatRunOverTheirBound) {
  CheckReport nonZero = check(oneNodeModel("NonZero", "nz", {{"x", 1, {2, 3}}}, "i", 7));
  EXPECT_EQ(problems(nonZero), "");
  ASSERT_EQ(nonZero.nodes.size(), 1u);
  EXPECT_EQ(nonZero.nodes[0].placement, Placement::Scalar);
  auto after = [](const char *op) {
    onnx::ModelProto read = oneNodeModel("NonZero", "nz", {{"x", 1, {2, 3}}}, "i", 7);
    onnx::NodeProto *n = read.mutable_graph()->add_node();
    n->set_name("after");
    n->set_op_type(op);
    n->add_input("i");
    n->add_output("f");
    if (std::string(op) == "Cast") {
      onnx::AttributeProto *to = n->add_attribute();
      to->set_name("to");
      to->set_type(onnx::AttributeProto::INT);
      to->set_i(1);
    }
    read.mutable_graph()->mutable_output(0)->set_name("f");
    read.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->set_elem_type(
        std::string(op) == "Cast" ? 1 : 7);
    return read;
  };
  EXPECT_EQ(problems(check(after("Cast"))), "");
  EXPECT_EQ(problems(check(after("Shape"))),
            "after: reads 'i', whose extent is known only at run time (it comes from NonZero, Compress, Unique or "
            "NonMaxSuppression), which a Shape cannot take: reshaping, transposing, slicing, gathering, casting, "
            "element-wise ops and reductions and matrix products along other axes can\n");
  EXPECT_EQ(problems(check(oneNodeModel("Compress", "c", {{"x", 7, {4, 2}}, {"b", 9, {3}}}, "y", 7))), "");
  EXPECT_EQ(problems(check(oneNodeModel("Compress", "c", {{"x", 10, {4}}, {"b", 9, {3}}}, "y", 10))),
            "c: input 'x' has type float16, which is computed as float32: Compress keeps its data's type\n");
}

// NonMaxSuppression: its limit and thresholds are constants of one value, the IoU threshold in
// [0, 1] as ONNX Runtime requires, or run-time inputs; the overlaps run on the vector unit, the
// selection on the scalar unit.
TEST(OnnxCheck, NonMaxSuppressionTakesOneValueLimitsAndAThresholdInRange) {
  auto nms = [](std::optional<float> iou, int limits = 1) {
    onnx::ModelProto m = oneNodeModel("NonMaxSuppression", "nms",
                                      {{"boxes", 1, {1, 6, 4}}, {"scores", 1, {1, 2, 6}}, {"most", 7, {int64_t(limits)}}, {"iou", 1, {1}}},
                                      "selected", 7);
    if (iou) {
      onnx::TensorProto *most = m.mutable_graph()->add_initializer();
      most->set_name("most");
      most->set_data_type(7);
      most->add_dims(limits);
      for (int i = 0; i < limits; ++i) most->add_int64_data(3);
      onnx::TensorProto *t = m.mutable_graph()->add_initializer();
      t->set_name("iou");
      t->set_data_type(1);
      t->add_dims(1);
      t->add_float_data(*iou);
    }
    return check(m);
  };
  CheckReport ok = nms(0.5f);
  EXPECT_EQ(problems(ok), "");
  ASSERT_EQ(ok.nodes.size(), 1u);
  EXPECT_EQ(ok.nodes[0].placement, Placement::Scalar);
  EXPECT_EQ(problems(nms(1.5f)), "nms: iou_threshold must be one value in [0, 1]\n");
  EXPECT_EQ(problems(nms(0.5f, 2)), "nms: max_output_boxes_per_class must be one int64\n");
  EXPECT_EQ(problems(nms(std::nullopt)), ""); // run-time limit and threshold
}

// Dropout is the identity with an all-true mask in inference, and in training with a constant
// ratio of 0; training with another ratio (random drops) is refused, and a training mode known
// only at run time must be bound.
TEST(OnnxCheck, DropoutIsTheIdentityUnlessTrainingDropsAtRandom) {
  auto dropoutModel = [](std::optional<float> ratio, std::optional<bool> training) {
    onnx::ModelProto m = vectorModel(13);
    onnx::GraphProto *g = m.mutable_graph();
    onnx::NodeProto *d = g->add_node();
    d->set_name("d");
    d->set_op_type("Dropout");
    d->add_input("x");
    d->add_input(ratio ? "r" : "");
    d->add_input("t");
    d->add_output("y");
    d->add_output("mask");
    if (ratio) {
      onnx::TensorProto *r = g->add_initializer();
      r->set_name("r");
      r->set_data_type(1);
      r->add_float_data(*ratio);
    }
    if (training) {
      onnx::TensorProto *t = g->add_initializer();
      t->set_name("t");
      t->set_data_type(9);
      t->add_int32_data(*training);
    } else {
      auto *t = g->add_input();
      t->set_name("t");
      t->mutable_type()->mutable_tensor_type()->set_elem_type(9);
      t->mutable_type()->mutable_tensor_type()->mutable_shape();
    }
    g->add_output()->set_name("y");
    g->add_output()->set_name("mask");
    return m;
  };
  EXPECT_EQ(problems(check(dropoutModel(0.5f, false))), "");
  EXPECT_EQ(problems(check(dropoutModel(0.0f, true))), "");
  const std::string random = "d: Dropout in training mode drops elements at random: only a constant ratio of 0 (the "
                             "identity) is supported there\n";
  EXPECT_EQ(problems(check(dropoutModel(0.5f, true))), random);
  EXPECT_EQ(problems(check(dropoutModel(std::nullopt, true))), random); // the default ratio is 0.5
  EXPECT_EQ(problems(check(dropoutModel(0.0f, std::nullopt))),
            "d: input 't' must be a constant (an initializer or a Constant node), not runtime data\n");
}

// An LSTM unrolls over its sequence with Sigmoid, Tanh or Relu gates; the check names what the
// unrolling does not do: another activation, or sequence_lens shorter than the sequence (from a
// constant) or unknown until run time.
TEST(OnnxCheck, RecurrentLayersNeedTheirWholeSequenceAndKnownActivations) {
  enum class Lens { None, Full, Short, RunTime };
  auto lstmModel = [](Lens lens, const char *activation) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(14);
    onnx::GraphProto *g = m.mutable_graph();
    g->set_name("g");
    auto declare = [](onnx::ValueInfoProto *v, const char *name, std::vector<int64_t> dims, int type) {
      v->set_name(name);
      auto *t = v->mutable_type()->mutable_tensor_type();
      t->set_elem_type(type);
      for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
    };
    auto initializer = [&](const char *name, std::vector<int64_t> dims, int type) {
      onnx::TensorProto *t = g->add_initializer();
      t->set_name(name);
      t->set_data_type(type);
      int64_t count = 1;
      for (int64_t d : dims) {
        t->add_dims(d);
        count *= d;
      }
      for (int64_t i = 0; i < count; ++i) {
        if (type == 1) t->add_float_data(0.1f);
        else t->add_int32_data(lens == Lens::Short && i == 1 ? 1 : 2);
      }
    };
    declare(g->add_input(), "x", {2, 2, 3}, 1); // seq 2, batch 2, input 3
    initializer("w", {1, 8, 3}, 1);            // hidden 2
    initializer("r", {1, 8, 2}, 1);
    onnx::NodeProto *lstm = g->add_node();
    lstm->set_name("lstm1");
    lstm->set_op_type("LSTM");
    for (const char *in : {"x", "w", "r", "", lens == Lens::None ? "" : "lens"}) lstm->add_input(in);
    lstm->add_output("y");
    if (lens == Lens::Full || lens == Lens::Short) initializer("lens", {2}, 6);
    if (lens == Lens::RunTime) declare(g->add_input(), "lens", {2}, 6);
    auto *hidden = lstm->add_attribute();
    hidden->set_name("hidden_size");
    hidden->set_type(onnx::AttributeProto::INT);
    hidden->set_i(2);
    if (activation) {
      auto *a = lstm->add_attribute();
      a->set_name("activations");
      a->set_type(onnx::AttributeProto::STRINGS);
      for (const char *f : {"Sigmoid", activation, "Tanh"}) a->add_strings(f);
    }
    declare(g->add_output(), "y", {2, 1, 2, 2}, 1);
    return m;
  };
  EXPECT_TRUE(check(lstmModel(Lens::None, nullptr)).ok()) << problems(check(lstmModel(Lens::None, nullptr)));
  EXPECT_TRUE(check(lstmModel(Lens::Full, "Relu")).ok()) << problems(check(lstmModel(Lens::Full, "Relu")));
  EXPECT_EQ(problems(check(lstmModel(Lens::None, "Elu"))),
            "lstm1: activation Elu is not supported (Sigmoid, Tanh and Relu are)\n");
  EXPECT_EQ(problems(check(lstmModel(Lens::Short, nullptr))),
            "lstm1: sequence_lens must give every batch entry the full sequence (2 steps): shorter sequences are "
            "not supported\n");
  EXPECT_EQ(problems(check(lstmModel(Lens::RunTime, nullptr))),
            "lstm1: input 'lens' must be a constant (an initializer or a Constant node), not runtime data\n");
  // The weights' shapes follow from X and hidden_size (a mutated R reached the importer, whose
  // gate slices then read past it).
  onnx::ModelProto wrongR = lstmModel(Lens::None, nullptr);
  wrongR.mutable_graph()->mutable_initializer(1)->set_dims(2, 5);
  for (int i = 0; i < 8 * 3; ++i) wrongR.mutable_graph()->mutable_initializer(1)->add_float_data(0.1f);
  EXPECT_EQ(problems(check(wrongR)), "lstm1: input 2 ('r') is 1x8x5; X 2x2x3 with hidden_size 2 and 1 direction(s) "
                                     "needs 1x8x2\n");
  // A sequence too long to unroll (a mutated GRU's 2^31 steps ran the importer for minutes).
  onnx::ModelProto longX = lstmModel(Lens::None, nullptr);
  longX.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(
      int64_t(1) << 31);
  longX.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  EXPECT_EQ(problems(check(longX)), "lstm1: its 2147483648 steps would unroll into more than 20000 nodes (about 22 a "
                                    "step and direction)\n");
}

TEST(OnnxCheck, DtypeMismatchIsFoundByShapeInference) {
  onnx::ModelProto m = convRelu();
  onnx::TensorProto *b = m.mutable_graph()->add_initializer();
  b->set_name("k");
  b->set_data_type(7); // int64
  b->add_dims(1);
  b->add_int64_data(3);
  onnx::NodeProto *add = m.mutable_graph()->add_node();
  add->set_name("add1");
  add->set_op_type("Add");
  add->add_input("y");
  add->add_input("k"); // float + int64
  add->add_output("z");
  m.mutable_graph()->mutable_output(0)->set_name("z");
  CheckReport r = check(m);
  EXPECT_NE(problems(r).find("shape inference failed"), std::string::npos) << problems(r);
  EXPECT_NE(problems(r).find("add1"), std::string::npos) << problems(r);
}

TEST(OnnxCheck, DimsThatOverflow) {
  onnx::ModelProto m = convRelu();
  onnx::TensorProto *w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  for (int64_t d : {int64_t(1) << 40, int64_t(1) << 40, int64_t(1), int64_t(1)})
    w->add_dims(d);
  CheckReport r = check(m);
  EXPECT_NE(problems(r).find("initializer 'w' has negative or overflowing dimensions"),
            std::string::npos)
      << problems(r);
}

TEST(OnnxCheck, InitializerSizeMismatch) {
  onnx::ModelProto m = convRelu();
  m.mutable_graph()->mutable_initializer(0)->add_float_data(2.0f);
  CheckReport r = check(m);
  EXPECT_EQ(problems(r), "initializer 'w' holds 10 values but its dimensions need 9\n");
}

TEST(OnnxCheck, DynamicDimsNeedInputShape) {
  onnx::ModelProto m = convRelu();
  auto *dim = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()
                  ->mutable_shape()->mutable_dim(0);
  dim->set_dim_param("N");
  CheckReport r = check(m);
  EXPECT_EQ(problems(r), "input 'x' has a dynamic dimension 0 ('N'); fix it with --input-shape "
                         "x:1,1,4,4\n");
  CheckReport fixed = check(m, {{"x", {1, 1, 4, 4}}});
  EXPECT_TRUE(fixed.ok()) << problems(fixed);
  CheckReport wrong = check(m, {{"nope", {1}}});
  EXPECT_NE(problems(wrong).find("--input-shape names 'nope', which is not a graph input (inputs: x)"),
            std::string::npos)
      << problems(wrong);
}

// No shape is an unknown rank, not a scalar; ONNX's ConvTranspose inference crashed on such a
// weight input (found by mutating the backend suite's models).
TEST(OnnxCheck, InputWithoutAShapeNeedsInputShape) {
  onnx::ModelProto m = convRelu();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  CheckReport r = check(m);
  EXPECT_EQ(problems(r), "input 'x' has no shape, not even a rank; give it with --input-shape x:DIMS, e.g. "
                         "x:1,3,224,224\n");
  CheckReport fixed = check(m, {{"x", {1, 1, 4, 4}}});
  EXPECT_TRUE(fixed.ok()) << problems(fixed);
  m.mutable_graph()->mutable_node(0)->set_op_type("ConvTranspose");
  onnx::ValueInfoProto *w = m.mutable_graph()->add_input();
  w->set_name("w");
  w->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  m.mutable_graph()->clear_initializer();
  EXPECT_NE(problems(check(m, {{"x", {1, 1, 4, 4}}})).find("input 'w' has no shape"), std::string::npos);
}

TEST(OnnxCheck, EveryProblemIsReportedAtOnce) {
  onnx::ModelProto m = convRelu();
  m.mutable_graph()->mutable_node(1)->set_op_type("Mish");
  auto *a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("auto_pad");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("WRAP");
  CheckReport r = check(m);
  EXPECT_EQ(r.problems.size(), 2u) << problems(r);
}

TEST(OnnxCheck, InputShapeParsing) {
  Expected<std::vector<InputShape>> s = parseInputShapes("data:1,3,224,224;ns:in:put:1,128");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[1].name, "ns:in:put"); // names may contain ':'; dims follow the last one
  EXPECT_EQ((*s)[1].dims, (std::vector<int64_t>{1, 128}));
  EXPECT_FALSE(parseInputShapes("data:1,-3").ok());
  EXPECT_EQ(parseInputShapes("data").error().message,
            "--input-shape: expected NAME:D1,D2,... in 'data'");
}

TEST(OnnxCheck, UnreadableFileIsAnError) {
  Expected<CheckReport> r = checkOnnxModel("/nonexistent/model.onnx", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ExitCode::BadInput);
}

namespace {

// y = Reshape(Relu(Conv(x)), Shape(x)): the shape comes from a Shape node, which the check folds
// into a constant once x's shape is known, so the Reshape's result is static; a Reshape to a shape
// read from a graph input is still reported (it depends on run-time data).
TEST(OnnxCheck, ShapeNodesFoldSoComputedShapesAreStatic) {
  onnx::ModelProto m = convRelu();
  onnx::GraphProto *g = m.mutable_graph();
  g->mutable_node(1)->set_output(0, "r");
  onnx::NodeProto *shape = g->add_node();
  shape->set_op_type("Shape");
  shape->add_input("x");
  shape->add_output("s");
  onnx::NodeProto *reshape = g->add_node();
  reshape->set_op_type("Reshape");
  reshape->add_input("r");
  reshape->add_input("s");
  reshape->add_output("y");
  CheckReport r = check(m);
  EXPECT_TRUE(r.ok()) << r.text();

  auto *in = g->add_input(); // now the shape is a run-time input
  in->set_name("target");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(7);
  in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(4);
  g->mutable_node(3)->set_input(1, "target");
  r = check(m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.text().find("input 'target' must be a constant"), std::string::npos) << r.text();
}

} // namespace

namespace {

// Shape arithmetic as ONNX function bodies do it (Shape, Size, Slice, Sub with broadcasting, Add,
// Neg, Concat on int64) folds into constants, so the Reshape to the computed shape is static.
TEST(OnnxCheck, Int64ShapeArithmeticFolds) {
  onnx::ModelProto m = convRelu();
  onnx::GraphProto *g = m.mutable_graph();
  g->mutable_node(1)->set_output(0, "r");
  auto node = [&](const char *op, std::vector<std::string> in, const std::string &out) {
    onnx::NodeProto *n = g->add_node();
    n->set_op_type(op);
    for (const auto &i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto ints = [&](const std::string &name, std::vector<int64_t> v) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(7);
    t->add_dims(int64_t(v.size()));
    for (int64_t x : v) t->add_int64_data(x);
  };
  ints("zero", {0});
  ints("two", {2});
  ints("four", {4});
  node("Shape", {"x"}, "s");
  node("Slice", {"s", "zero", "two"}, "head");
  node("Slice", {"s", "two", "four"}, "tail");
  node("Size", {"s"}, "n");
  node("Sub", {"n", "four"}, "z");     // scalar - [4] = [0]
  node("Add", {"tail", "z"}, "tail2"); // [4, 4]
  node("Neg", {"tail2"}, "neg");
  node("Neg", {"neg"}, "pos");
  onnx::NodeProto *concat = node("Concat", {"head", "pos"}, "shape");
  auto *axis = concat->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(0);
  node("Reshape", {"r", "shape"}, "y");
  CheckReport r = check(m);
  EXPECT_TRUE(r.ok()) << r.text();
}

} // namespace

// An If whose condition folds at compile time (from a bound input, or from shapes through Shape,
// Gather, Squeeze, Cast and Equal) becomes the branch it takes, nested Ifs too; one whose
// condition comes from run-time data is refused naming the input to bind. (A branch that
// redefines an outer value is refused too; ONNX's shape inference already catches those it can.)
TEST(OnnxCheck, IfWithACompileTimeConditionBecomesItsBranch) {
  auto node = [](onnx::GraphProto *g, const std::string &op, std::vector<std::string> in, std::string out,
                 const std::string &name = "") {
    onnx::NodeProto *n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto &i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto intConstant = [](onnx::GraphProto *g, const std::string &name, std::vector<int64_t> dims, std::vector<int64_t> v) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    for (int64_t d : dims) t->add_dims(d);
    for (int64_t x : v) t->add_int64_data(x);
  };
  // post = Abs(sr == 16000 ? (x has 4 elements ? Relu(x) : Sigmoid(x)) : Neg(x)).
  auto ifModel = [&](std::optional<int64_t> sr) {
    onnx::ModelProto m = vectorModel(16);
    onnx::GraphProto *g = m.mutable_graph();
    if (sr) {
      intConstant(g, "sr", {}, {*sr});
    } else {
      auto *in = g->add_input();
      in->set_name("sr");
      in->mutable_type()->mutable_tensor_type()->set_elem_type(7);
      in->mutable_type()->mutable_tensor_type()->mutable_shape();
    }
    intConstant(g, "rate", {}, {16000});
    node(g, "Equal", {"sr", "rate"}, "is16k", "eq");
    onnx::NodeProto *outer = node(g, "If", {"is16k"}, "y", "pick_rate");
    onnx::GraphProto then16k, other;
    then16k.set_name("then16k");
    intConstant(&then16k, "zero", {1}, {0});
    intConstant(&then16k, "four", {}, {4});
    node(&then16k, "Shape", {"x"}, "xshape");
    node(&then16k, "Gather", {"xshape", "zero"}, "count");
    node(&then16k, "Squeeze", {"count"}, "count0");
    node(&then16k, "Equal", {"count0", "four"}, "isFour");
    onnx::NodeProto *inner = node(&then16k, "If", {"isFour"}, "z", "pick_size");
    onnx::GraphProto four, notFour;
    four.set_name("four");
    node(&four, "Relu", {"x"}, "r", "relu");
    four.add_output()->set_name("r");
    notFour.set_name("notfour");
    node(&notFour, "Sigmoid", {"x"}, "s", "sigmoid");
    notFour.add_output()->set_name("s");
    auto branch = [](onnx::NodeProto *n, const char *name, const onnx::GraphProto &body) {
      auto *a = n->add_attribute();
      a->set_name(name);
      a->set_type(onnx::AttributeProto::GRAPH);
      *a->mutable_g() = body;
    };
    branch(inner, "then_branch", four);
    branch(inner, "else_branch", notFour);
    then16k.add_output()->set_name("z");
    other.set_name("other");
    node(&other, "Neg", {"x"}, "n", "neg");
    other.add_output()->set_name("n");
    branch(outer, "then_branch", then16k);
    branch(outer, "else_branch", other);
    node(g, "Abs", {"y"}, "post", "abs");
    auto *post = g->add_output();
    post->set_name("post");
    post->mutable_type()->mutable_tensor_type()->set_elem_type(1);
    return m;
  };
  auto ops = [](const CheckReport &r) {
    std::string all;
    for (const auto &n : r.nodes) all += n.name + ":" + n.opType + " ";
    return all;
  };
  CheckReport taken = check(ifModel(16000));
  EXPECT_EQ(problems(taken), "");
  // (The folded shape arithmetic stays as Constant nodes, which the compiler turns into constants.)
  EXPECT_EQ(ops(taken), "eq:Constant Constant_1:Constant Constant_2:Constant Constant_3:Constant Constant_4:Constant "
                        "relu:Relu pick_size/then_output_0:Identity pick_rate/then_output_0:Identity abs:Abs ");
  CheckReport other = check(ifModel(8000));
  EXPECT_EQ(problems(other), "");
  EXPECT_EQ(ops(other), "eq:Constant neg:Neg pick_rate/else_output_0:Identity abs:Abs ");
  EXPECT_EQ(problems(check(ifModel(std::nullopt))),
            "pick_rate: its condition 'is16k' is only known at run time (it depends on input 'sr'): Fractal compiles "
            "the branch a condition known at compile time selects; bind 'sr' with --bind-input NAME=FILE.npy\n");
}

// Sequences are resolved at compile time into the tensors they hold; when a graph's cannot be,
// the node that stops it says why, and the other sequence ops point there.
TEST(OnnxCheck, SequencesResolvedOnlyAtConstantPositions) {
  // x, y -> SequenceConstruct -> SequenceAt(position) -> out; the position an initializer or the
  // graph input p.
  auto model = [](bool constantPosition, int64_t position) {
    onnx::ModelProto m = oneNodeModel("SequenceConstruct", "pair", {{"x", 1, {2}}, {"y", 1, {2}}}, "s", 0);
    onnx::GraphProto *g = m.mutable_graph();
    g->clear_output();
    onnx::NodeProto *at = g->add_node();
    at->set_name("at");
    at->set_op_type("SequenceAt");
    at->add_input("s");
    at->add_input("p");
    at->add_output("out");
    g->add_output()->set_name("out");
    if (constantPosition) {
      onnx::TensorProto *p = g->add_initializer();
      p->set_name("p");
      p->set_data_type(onnx::TensorProto::INT64);
      p->add_int64_data(position);
    } else {
      auto *p = g->add_input();
      p->set_name("p");
      p->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
      p->mutable_type()->mutable_tensor_type()->mutable_shape(); // a scalar
    }
    return m;
  };
  CheckReport ok = check(model(true, -1));
  ASSERT_TRUE(ok.ok()) << problems(ok);
  ASSERT_EQ(ok.nodes.size(), 1u); // the read is the tensor it names: an Identity of y
  EXPECT_EQ(ok.nodes[0].name, "at");
  EXPECT_EQ(ok.nodes[0].opType, "Identity");
  const std::string rule = "sequences are compiled as the tensors they hold, when built from tensors and read at "
                           "positions known at compile time";
  EXPECT_EQ(problems(check(model(true, 2))),
            "pair: its graph's sequences are not compiled: see node 'at'\nat: " + rule + ": here position 2 is outside [-2, 1]\n");
  EXPECT_EQ(problems(check(model(false, 0))),
            "pair: its graph's sequences are not compiled: see node 'at'\nat: " + rule +
                ": here its position 'p' is not a constant (only positions known at compile time are compiled)\n");
  // A sequence leaving the graph: Fractal's packages hold tensors only.
  onnx::ModelProto out = oneNodeModel("SequenceConstruct", "pair", {{"x", 1, {2}}}, "s", 0);
  EXPECT_EQ(problems(check(out)),
            "pair: " + rule + ": graph output 's' is a sequence (Fractal's packages hold tensors only)\n");
}

// Det: composed up to 4x4 matrices; larger or non-square ones are refused with the reason.
TEST(OnnxCheck, DetOfSmallSquareMatrices) {
  auto det = [](std::vector<int64_t> dims) { return check(oneNodeModel("Det", "det", {{"x", 1, dims}}, "y", 1)); };
  CheckReport ok = det({5, 4, 4});
  ASSERT_TRUE(ok.ok()) << problems(ok);
  EXPECT_EQ(ok.nodes[0].placement, Placement::Vector);
  EXPECT_EQ(problems(det({5, 5})), "det: its matrices are 5x5: the cofactor expansion is composed up to 4x4\n");
  const std::string notSquare = problems(det({2, 3, 2})); // ONNX's shape inference says it first
  EXPECT_NE(notSquare.find("The inner-most 2 dimensions must have the same size (mat_w:2 != mat_h:3)"), std::string::npos)
      << notSquare;
  EXPECT_NE(notSquare.find("det: its matrices are not square\n"), std::string::npos) << notSquare;
}
