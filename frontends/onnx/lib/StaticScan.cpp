// A Scan over scan inputs of static length, or a Loop of a trip count known at compile time that
// never stops early, becomes its body repeated once per step: Fractal compiles static graphs, and
// such a loop is a fixed chain of the body's ops (as the compiler already unrolls LSTM, GRU and
// RNN). A Scan's step slice of a scan input is a Gather at the step's index (which drops the scan
// axis, as the body expects), a Loop's iteration number a constant; the state flows from one copy
// of the body to the next; the scan outputs' slices are stacked back along their axes.
#include "OnnxModel.h"

#include <algorithm>
#include <set>

namespace fractal::onnx_frontend::detail {

namespace {

std::vector<int64_t> intsAttribute(const onnx::NodeProto &node, const std::string &name, std::vector<int64_t> fallback) {
  for (const auto &a : node.attribute())
    if (a.name() == name) return std::vector<int64_t>(a.ints().begin(), a.ints().end());
  return fallback;
}

bool hasNestedGraphs(const onnx::GraphProto &body) {
  for (const auto &node : body.node())
    for (const auto &a : node.attribute())
      if (a.has_g() || a.graphs_size() > 0) return true;
  return false;
}

// The names a body defines (its inputs, initializers and node outputs): made fresh in each copy.
std::set<std::string> definedNames(const onnx::GraphProto &body) {
  std::set<std::string> names;
  for (const auto &v : body.input()) names.insert(v.name());
  for (const auto &t : body.initializer()) names.insert(t.name());
  for (const auto &node : body.node())
    for (const auto &o : node.output()) names.insert(o);
  return names;
}

// Builds the unrolled nodes: fresh names from `prefix`, int64 index constants, the op forms of
// the model's opset.
struct Unroller {
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

} // namespace

std::string unrollStaticScan(onnx::GraphProto &graph, int index, const std::string &name, int64_t opset,
                             const std::map<std::string, std::vector<int64_t>> &shapes) {
  const onnx::NodeProto scan = graph.node(index);
  const onnx::GraphProto *body = nullptr;
  int64_t scanInputs = -1;
  for (const auto &a : scan.attribute()) {
    if (a.name() == "body" && a.has_g()) body = &a.g();
    if (a.name() == "num_scan_inputs") scanInputs = a.i();
  }
  if (!body) return "it has no body graph";
  // Opset 8: a first input of sequence lengths, and a batch axis 0 on every input and output.
  const bool batched = opset < 9;
  const int first = batched ? 1 : 0;
  if (batched && scan.input_size() > 0 && !scan.input(0).empty())
    return "sequence_lens (steps per batch entry) is not supported: every entry runs the whole sequence";
  const int64_t inputs = scan.input_size() - first;
  if (scanInputs < 1 || scanInputs > inputs) return "num_scan_inputs must be 1 to its number of inputs";
  const int64_t states = inputs - scanInputs, scanOutputs = body->output_size() - states;
  if (body->input_size() != inputs || scanOutputs < 0 || scan.output_size() > body->output_size())
    return "its body's inputs and outputs do not match the node's";
  if (hasNestedGraphs(*body)) return "its body has nested subgraphs";

  std::vector<int64_t> inAxes(size_t(scanInputs), batched ? 1 : 0), outAxes(size_t(scanOutputs), batched ? 1 : 0);
  std::vector<int64_t> inReverse = intsAttribute(scan, batched ? "directions" : "scan_input_directions",
                                                 std::vector<int64_t>(size_t(scanInputs), 0));
  std::vector<int64_t> outReverse =
      batched ? std::vector<int64_t>(size_t(scanOutputs), 0)
              : intsAttribute(scan, "scan_output_directions", std::vector<int64_t>(size_t(scanOutputs), 0));
  if (!batched) {
    inAxes = intsAttribute(scan, "scan_input_axes", inAxes);
    outAxes = intsAttribute(scan, "scan_output_axes", outAxes);
  }
  if (int64_t(inAxes.size()) != scanInputs || int64_t(inReverse.size()) != scanInputs ||
      int64_t(outAxes.size()) != scanOutputs || int64_t(outReverse.size()) != scanOutputs)
    return "its axes or directions do not list every scan input and output";

  // The sequence length (and opset 8's batch) from the scan inputs' static shapes.
  int64_t steps = -1, batch = 1;
  for (int64_t j = 0; j < scanInputs; ++j) {
    auto shape = shapes.find(scan.input(int(first + states + j)));
    if (shape == shapes.end()) return "its scan inputs need static shapes";
    const int64_t rank = int64_t(shape->second.size());
    int64_t &axis = inAxes[size_t(j)];
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return "a scan input axis is outside its input's rank";
    const int64_t length = shape->second[size_t(axis)];
    if (steps >= 0 && length != steps) return "its scan inputs have different lengths";
    steps = length;
    if (batched) batch = shape->second[0];
  }
  if (steps < 1 || batch < 1) return "its sequence is empty";
  if (steps * batch * (body->node_size() + 2) > 20000)
    return std::to_string(steps) + " steps of its body make more than 20000 nodes";
  if (batched) // the body sees a step without the batch axis
    for (int64_t &a : inAxes) --a;

  std::set<std::string> taken;
  collectValueNames(graph, taken);
  const std::set<std::string> internal = definedNames(*body);
  Unroller u{name + "/", opset, taken, {}, {}};
  const std::map<std::string, std::string> initializers = u.shareInitializers(*body);
  std::vector<std::vector<std::string>> finalStates(static_cast<size_t>(states)), scanSlices(static_cast<size_t>(scanOutputs));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<std::string> state(static_cast<size_t>(states)), sequence(static_cast<size_t>(scanInputs));
    for (int64_t i = 0; i < states; ++i) {
      const std::string &initial = scan.input(int(first + i));
      state[size_t(i)] = batched ? u.slice(initial, b, 0) : initial;
    }
    for (int64_t j = 0; j < scanInputs; ++j) {
      const std::string &x = scan.input(int(first + states + j));
      sequence[size_t(j)] = batched ? u.slice(x, b, 0) : x;
    }
    std::vector<std::vector<std::string>> slices(static_cast<size_t>(scanOutputs));
    for (int64_t t = 0; t < steps; ++t) {
      // The body's inputs in this step: the state and the step's slices.
      std::map<std::string, std::string> names = initializers;
      for (int64_t i = 0; i < states; ++i) names[body->input(int(i)).name()] = state[size_t(i)];
      for (int64_t j = 0; j < scanInputs; ++j)
        names[body->input(int(states + j)).name()] =
            u.slice(sequence[size_t(j)], inReverse[size_t(j)] ? steps - 1 - t : t, inAxes[size_t(j)]);
      const std::vector<std::string> out = u.copyBody(
          *body, internal, names, name + "/" + (batched ? "b" + std::to_string(b) + "/" : "") + "t" + std::to_string(t) + "/");
      for (int64_t i = 0; i < states; ++i) state[size_t(i)] = out[size_t(i)];
      for (int64_t k = 0; k < scanOutputs; ++k) slices[size_t(k)].push_back(out[size_t(states + k)]);
    }
    for (int64_t i = 0; i < states; ++i) finalStates[size_t(i)].push_back(state[size_t(i)]);
    for (int64_t k = 0; k < scanOutputs; ++k) {
      std::vector<std::string> &s = slices[size_t(k)];
      if (outReverse[size_t(k)]) std::reverse(s.begin(), s.end());
      if (!batched) {
        scanSlices[size_t(k)] = s;
        continue;
      }
      const std::string stacked = u.fresh("scan_output");
      u.stack(s, 0, stacked);
      scanSlices[size_t(k)].push_back(stacked);
    }
  }
  // The node's outputs: the final states (opset 8: stacked over the batch), then the scan outputs.
  for (int64_t i = 0; i < states; ++i) {
    if (i >= scan.output_size() || scan.output(int(i)).empty()) continue;
    if (batched) u.stack(finalStates[size_t(i)], 0, scan.output(int(i)));
    else u.add("Identity", {finalStates[size_t(i)][0]}, scan.output(int(i)));
  }
  for (int64_t k = 0; k < scanOutputs; ++k) {
    if (states + k >= scan.output_size() || scan.output(int(states + k)).empty()) continue;
    int64_t axis = outAxes[size_t(k)];
    if (axis < 0) return "negative scan output axes are not supported";
    u.stack(scanSlices[size_t(k)], batched ? 0 : axis, scan.output(int(states + k)));
  }

  u.splice(graph, index, batched);
  return "";
}

std::string unrollStaticLoop(onnx::GraphProto &graph, int index, const std::string &name, int64_t opset, int64_t trips) {
  const onnx::NodeProto loop = graph.node(index);
  const onnx::GraphProto *body = nullptr;
  for (const auto &a : loop.attribute())
    if (a.name() == "body" && a.has_g()) body = &a.g();
  if (!body) return "it has no body graph";
  // Body inputs: iteration number, condition, the loop-carried values; outputs: the condition,
  // the carried values, the scan outputs.
  const int64_t carried = loop.input_size() - 2, scanOutputs = body->output_size() - 1 - carried;
  if (carried < 0 || body->input_size() != carried + 2 || scanOutputs < 0)
    return "its body's inputs and outputs do not match the node's";
  if (hasNestedGraphs(*body)) return "its body has nested subgraphs";
  // Unrolled only when no iteration can stop it: the body's condition is its input's, passed on.
  std::string condition = body->output(0).name();
  for (bool traced = true; traced && condition != body->input(1).name();) {
    traced = false;
    for (const auto &node : body->node())
      if (node.op_type() == "Identity" && node.output_size() == 1 && node.output(0) == condition) {
        condition = node.input(0);
        traced = true;
      }
  }
  if (condition != body->input(1).name())
    return "its body computes whether to go on (only loops that run their whole trip count are unrolled)";
  if (trips < 1) return "it runs no iteration";
  if (trips * (body->node_size() + 2) > 20000)
    return std::to_string(trips) + " iterations of its body make more than 20000 nodes";

  std::set<std::string> taken;
  collectValueNames(graph, taken);
  const std::set<std::string> internal = definedNames(*body);
  Unroller u{name + "/", opset, taken, {}, {}};
  const std::map<std::string, std::string> initializers = u.shareInitializers(*body);
  std::string cond = loop.input(1);
  if (cond.empty()) { // no condition input: true
    onnx::TensorProto &t = u.initializers.emplace_back();
    t.set_name(u.fresh("true"));
    t.set_data_type(onnx::TensorProto::BOOL);
    t.add_int32_data(1);
    cond = t.name();
  }
  std::vector<std::string> state(loop.input().begin() + 2, loop.input().end());
  std::vector<std::vector<std::string>> slices(static_cast<size_t>(scanOutputs));
  for (int64_t t = 0; t < trips; ++t) {
    std::map<std::string, std::string> names = initializers;
    names[body->input(0).name()] = u.int64Constant({t}, true);
    names[body->input(1).name()] = cond;
    for (int64_t i = 0; i < carried; ++i) names[body->input(int(2 + i)).name()] = state[size_t(i)];
    const std::vector<std::string> out = u.copyBody(*body, internal, names, name + "/i" + std::to_string(t) + "/");
    for (int64_t i = 0; i < carried; ++i) state[size_t(i)] = out[size_t(1 + i)];
    for (int64_t k = 0; k < scanOutputs; ++k) slices[size_t(k)].push_back(out[size_t(1 + carried + k)]);
  }
  for (int64_t i = 0; i < carried; ++i)
    if (i < loop.output_size() && !loop.output(int(i)).empty()) u.add("Identity", {state[size_t(i)]}, loop.output(int(i)));
  for (int64_t k = 0; k < scanOutputs; ++k)
    if (carried + k < loop.output_size() && !loop.output(int(carried + k)).empty())
      u.stack(slices[size_t(k)], 0, loop.output(int(carried + k)));
  u.splice(graph, index, false);
  return "";
}

} // namespace fractal::onnx_frontend::detail
