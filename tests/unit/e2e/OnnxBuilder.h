// Small ONNX graphs built in code for the end-to-end tests: models, declared tensors,
// initializers, nodes and their attributes.
#pragma once

#include "onnx/onnx_pb.h"

#include <string>
#include <vector>

namespace fractal::test {

// A tensor's name, element type (onnx::TensorProto::DataType) and static shape (a graph input or
// output).
inline void declareTensor(onnx::ValueInfoProto *v, const char *name, const std::vector<int64_t> &dims, int type) {
  v->set_name(name);
  auto *t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  t->mutable_shape(); // (dims {}: a scalar, rank 0, not an unknown shape)
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}
inline void declareFloat(onnx::ValueInfoProto *v, const char *name, const std::vector<int64_t> &dims) {
  declareTensor(v, name, dims, onnx::TensorProto::FLOAT);
}

inline onnx::TensorProto *floatInitializer(onnx::GraphProto *g, const char *name, const std::vector<int64_t> &dims,
                                    const std::vector<float> &values) {
  onnx::TensorProto *t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
  return t;
}

// An integer initializer of `type` (any integer type; dims {} for a scalar; uint64 values as their
// int64 bit patterns).
inline onnx::TensorProto *intInitializer(onnx::GraphProto *g, const char *name, int type, const std::vector<int64_t> &dims,
                                  const std::vector<int64_t> &values) {
  onnx::TensorProto *t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values)
    if (type == onnx::TensorProto::INT64) t->add_int64_data(v);
    else if (type == onnx::TensorProto::UINT32 || type == onnx::TensorProto::UINT64) t->add_uint64_data(uint64_t(v));
    else t->add_int32_data(int32_t(v));
  return t;
}

inline onnx::NodeProto *addNode(onnx::GraphProto *g, const char *op, std::vector<std::string> inputs, const char *output) {
  onnx::NodeProto *n = g->add_node();
  n->set_op_type(op);
  n->set_name(output);
  for (const std::string &i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

inline onnx::NodeProto *setInts(onnx::NodeProto *n, const char *name, const std::vector<int64_t> &values) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
  return n;
}
inline onnx::NodeProto *setInt(onnx::NodeProto *n, const char *name, int64_t value) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
  return n;
}
inline onnx::NodeProto *setString(onnx::NodeProto *n, const char *name, const std::string &value) {
  auto *a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
  return n;
}

// An IR-8 model of `opset` whose graph is called `graphName`, to be filled in.
inline onnx::ModelProto newModel(int64_t opset, const char *graphName) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  m.mutable_graph()->set_name(graphName);
  return m;
}

} // namespace fractal::test
