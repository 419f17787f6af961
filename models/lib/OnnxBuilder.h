// Internal: writing the ONNX models models/ builds (Analytics.cpp, Language.cpp): initializers,
// nodes named after their first result, inputs and outputs of static shape.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace fractal::models {

struct GraphBuilder {
  onnx::ModelProto model;
  onnx::GraphProto *g;

  explicit GraphBuilder(const char *name) {
    model.set_ir_version(8);
    model.set_producer_name("fractal models");
    model.add_opset_import()->set_version(14);
    g = model.mutable_graph();
    g->set_name(name);
  }
  void floats(const std::string &name, const std::vector<int64_t> &dims, const std::vector<float> &values) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(std::string(reinterpret_cast<const char *>(values.data()), values.size() * 4));
  }
  void ints(const std::string &name, const std::vector<int64_t> &values) {
    onnx::TensorProto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }
  onnx::NodeProto *node(const char *op, std::vector<std::string> in, std::vector<std::string> out) {
    onnx::NodeProto *n = g->add_node();
    n->set_op_type(op);
    for (const auto &o : out)
      if (!o.empty()) {
        n->set_name(o); // named after its first result
        break;
      }
    for (const auto &i : in) n->add_input(i);
    for (const auto &o : out) n->add_output(o);
    return n;
  }
  static void attr(onnx::NodeProto *n, const char *name, int64_t v) {
    auto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto *n, const char *name, const std::vector<int64_t> &v) {
    auto *a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  void io(bool input, const std::string &name, const std::vector<int64_t> &dims,
          int type = onnx::TensorProto::FLOAT) {
    onnx::ValueInfoProto *v = input ? g->add_input() : g->add_output();
    v->set_name(name);
    auto *t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  }
};

} // namespace fractal::models
