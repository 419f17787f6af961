// Internal: building the nodes that replace one of a graph's (StaticScan.cpp, StaticSequences.cpp).
#pragma once

#include "OnnxModel.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace fractal::onnx_frontend::detail {

// Builds nodes to splice into a graph in place of one (an unrolled Scan or Loop, resolved
// sequence ops): fresh names from `prefix` (none of `taken`), int64 index constants, the op
// forms of the model's opset.
struct NodeBuilder {
  std::string prefix;
  int64_t opset;
  const std::set<std::string> &taken;
  std::vector<onnx::NodeProto> nodes;
  std::vector<onnx::TensorProto> initializers; // index constants (initializers: Constant nodes of opset 8 are float only)
  int counter = 0;

  std::string fresh(const std::string &what) {
    std::string name;
    do name = prefix + what + "_" + std::to_string(counter++);
    while (taken.count(name));
    return name;
  }
  onnx::NodeProto &add(const std::string &op, std::vector<std::string> inputs, const std::string &output) {
    onnx::NodeProto &n = nodes.emplace_back();
    n.set_op_type(op);
    n.set_name(prefix + op + "_" + std::to_string(nodes.size()));
    for (auto &i : inputs) n.add_input(i);
    n.add_output(output);
    return n;
  }
  static void setInt(onnx::NodeProto &n, const char *name, int64_t value) {
    auto *a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  std::string int64Constant(const std::vector<int64_t> &values, bool scalar) {
    onnx::TensorProto &t = initializers.emplace_back();
    t.set_name(fresh("index"));
    t.set_data_type(onnx::TensorProto::INT64);
    if (!scalar) t.add_dims(int64_t(values.size()));
    for (int64_t v : values) t.add_int64_data(v);
    return t.name();
  }
  // x's slice at `at` along `axis`, without that axis.
  std::string slice(const std::string &x, int64_t at, int64_t axis) {
    const std::string out = fresh("slice");
    setInt(add("Gather", {x, int64Constant({at}, true)}, out), "axis", axis);
    return out;
  }
  // A copy of `body` in which its names map through `names` (its inputs bound, its initializers
  // shared) or, for the others it defines (`internal`), to fresh ones; outer-scope names stay.
  // Nodes are named `label` + their own name. Returns the names of the body's outputs.
  std::vector<std::string> copyBody(const onnx::GraphProto &body, const std::set<std::string> &internal,
                                    std::map<std::string, std::string> names, const std::string &label) {
    auto rename = [&](const std::string &v) {
      if (v.empty() || !internal.count(v)) return v;
      auto it = names.find(v);
      return it != names.end() ? it->second : (names[v] = fresh(v));
    };
    for (int k = 0; k < body.node_size(); ++k) {
      onnx::NodeProto copy = body.node(k);
      for (auto &i : *copy.mutable_input()) i = rename(i);
      for (auto &o : *copy.mutable_output()) o = rename(o);
      copy.set_name(label + (copy.name().empty() ? copy.op_type() + "_" + std::to_string(k) : copy.name()));
      nodes.push_back(std::move(copy));
    }
    std::vector<std::string> outputs;
    for (const auto &o : body.output()) outputs.push_back(rename(o.name()));
    return outputs;
  }
  // The body's initializers, once, as graph initializers under fresh names: the name map.
  std::map<std::string, std::string> shareInitializers(const onnx::GraphProto &body) {
    std::map<std::string, std::string> names;
    for (const auto &t : body.initializer()) {
      names[t.name()] = fresh(t.name());
      initializers.push_back(t);
      initializers.back().set_name(names[t.name()]);
    }
    return names;
  }
  // Replaces graph.node(index) by the nodes built, and adds the initializers (also as graph
  // inputs when `asInputs`: models of IR version 3, opset 8's, list their initializers as graph
  // inputs too, and ONNX's shape inference reads their types there).
  void splice(onnx::GraphProto &graph, int index, bool asInputs) {
    replaceNode(graph, index, nodes);
    for (auto &t : initializers) {
      if (asInputs) {
        onnx::ValueInfoProto *v = graph.add_input();
        v->set_name(t.name());
        auto *type = v->mutable_type()->mutable_tensor_type();
        type->set_elem_type(t.data_type());
        auto *shape = type->mutable_shape();
        for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
      }
      *graph.add_initializer() = std::move(t);
    }
  }
  // `parts` (each without `axis`) stacked along `axis` into `out`.
  void stack(const std::vector<std::string> &parts, int64_t axis, const std::string &out) {
    std::vector<std::string> unsqueezed;
    for (const std::string &p : parts) {
      const std::string u = parts.size() == 1 ? out : fresh("unsqueezed");
      if (opset >= 13) {
        add("Unsqueeze", {p, int64Constant({axis}, false)}, u);
      } else {
        onnx::NodeProto &n = add("Unsqueeze", {p}, u);
        auto *a = n.add_attribute();
        a->set_name("axes");
        a->set_type(onnx::AttributeProto::INTS);
        a->add_ints(axis);
      }
      unsqueezed.push_back(u);
    }
    if (parts.size() > 1) setInt(add("Concat", unsqueezed, out), "axis", axis);
  }
};


} // namespace fractal::onnx_frontend::detail
