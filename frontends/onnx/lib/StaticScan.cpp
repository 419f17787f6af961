// A Scan over scan inputs of static length, or a Loop of a trip count known at compile time that
// never stops early, becomes its body repeated once per step: Fractal compiles static graphs, and
// such a loop is a fixed chain of the body's ops (as the compiler already unrolls LSTM, GRU and
// RNN). A Scan's step slice of a scan input is a Gather at the step's index (which drops the scan
// axis, as the body expects), a Loop's iteration number a constant; the state flows from one copy
// of the body to the next; the scan outputs' slices are stacked back along their axes.
#include "NodeBuilder.h"
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
  if (steps * batch * (body->node_size() + 2) > kMaxUnrolledNodes)
    return std::to_string(steps) + " steps of its body make more than " + std::to_string(kMaxUnrolledNodes) + " nodes";
  if (batched) // the body sees a step without the batch axis
    for (int64_t &a : inAxes) --a;

  std::set<std::string> taken;
  collectValueNames(graph, taken);
  const std::set<std::string> internal = definedNames(*body);
  NodeBuilder u{name + "/", opset, taken, {}, {}};
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
  if (trips * (body->node_size() + 2) > kMaxUnrolledNodes)
    return std::to_string(trips) + " iterations of its body make more than " + std::to_string(kMaxUnrolledNodes) +
           " nodes";

  std::set<std::string> taken;
  collectValueNames(graph, taken);
  const std::set<std::string> internal = definedNames(*body);
  NodeBuilder u{name + "/", opset, taken, {}, {}};
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
