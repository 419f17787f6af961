// Sequences of tensors resolved at compile time. A graph that builds its sequences from tensors
// (SequenceEmpty, SequenceConstruct, SplitToSequence) and edits and reads them at positions known
// at compile time (SequenceInsert, SequenceErase, SequenceAt, SequenceLength, ConcatFromSequence)
// never needs a sequence at run time: every position names one of its tensors. Each read becomes
// the tensor op it amounts to (Identity, a Constant length, Concat, Split); the sequence ops go.
// Fractal's packages and runtime hold tensors only: a sequence that leaves the graph or reaches
// another op (a Loop, an If) keeps the graph as it was, with the reason.
#include "NodeBuilder.h"
#include "OnnxModel.h"

#include <algorithm>

namespace fractal::onnx_frontend::detail {

namespace {

int64_t intAttribute(const onnx::NodeProto &node, const std::string &name, int64_t fallback) {
  for (const auto &a : node.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

onnx::NodeProto constantInt64(const onnx::NodeProto &like, int64_t value) {
  onnx::NodeProto c;
  c.set_name(like.name());
  c.set_op_type("Constant");
  c.add_output(like.output(0));
  auto *a = c.add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  a->mutable_t()->set_data_type(onnx::TensorProto::INT64);
  a->mutable_t()->add_int64_data(value); // a scalar: no dims
  return c;
}

} // namespace

bool isSequenceOp(const std::string &op) {
  static const std::set<std::string> ops = {"SequenceEmpty", "SequenceConstruct", "SequenceInsert",
                                            "SequenceErase", "SequenceAt",        "SequenceLength",
                                            "ConcatFromSequence", "SplitToSequence"};
  return ops.count(op) > 0;
}

SequenceResolution resolveStaticSequences(onnx::GraphProto &graph, int64_t opset,
                                          const std::map<std::string, std::vector<int64_t>> &shapes,
                                          const std::map<std::string, std::vector<int64_t>> &ints) {
  SequenceResolution r;
  bool any = false;
  for (const auto &node : graph.node()) any = any || (node.domain().empty() && isSequenceOp(node.op_type()));
  if (!any) return r;

  std::set<std::string> taken;
  collectValueNames(graph, taken);
  NodeBuilder b{"sequence/", opset, taken, {}, {}};
  std::map<std::string, std::vector<std::string>> sequences; // a sequence value: its tensors' names
  std::map<std::string, std::vector<int64_t>> known = shapes; // with the split slices' shapes
  google::protobuf::RepeatedPtrField<onnx::NodeProto> rewritten;
  auto fail = [&](const onnx::NodeProto &node, int index, const std::string &why) {
    r.node = node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
    r.op = node.op_type();
    r.why = why;
    return r;
  };
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    const std::string &op = node.op_type();
    // Any other op taking a sequence (or a subgraph using one) cannot be compiled.
    if (!node.domain().empty() || !isSequenceOp(op)) {
      for (const auto &in : node.input())
        if (sequences.count(in)) return fail(node, i, "it takes the sequence '" + in + "' (Fractal compiles tensors only)");
      for (const auto &a : node.attribute()) {
        std::set<std::string> used;
        if (a.has_g()) collectValueNames(a.g(), used);
        for (const auto &g : a.graphs()) collectValueNames(g, used);
        for (const auto &[name, parts] : sequences)
          if (used.count(name)) return fail(node, i, "its subgraph uses the sequence '" + name + "'");
      }
      *rewritten.Add() = node;
      continue;
    }
    if (node.output_size() < 1 || node.output(0).empty()) return fail(node, i, "it has no output");
    // The sequence input `k`, the position input `k` (optional ones: `fallback`), in range.
    auto sequenceIn = [&](int k) -> const std::vector<std::string> * {
      if (k >= node.input_size()) return nullptr;
      auto it = sequences.find(node.input(k));
      return it == sequences.end() ? nullptr : &it->second;
    };
    auto position = [&](int k, int64_t fallback, int64_t lo, int64_t hi, int64_t &at) -> std::string {
      if (k >= node.input_size() || node.input(k).empty()) {
        at = fallback;
      } else {
        auto it = ints.find(node.input(k));
        if (it == ints.end() || it->second.size() != 1)
          return "its position '" + node.input(k) + "' is not a constant (only positions known at compile time are compiled)";
        at = it->second[0];
      }
      if (at < lo || at > hi)
        return "position " + std::to_string(at) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
      return "";
    };
    const std::string &out = node.output(0);
    if (op == "SequenceEmpty") {
      sequences[out] = {};
    } else if (op == "SequenceConstruct") {
      sequences[out].assign(node.input().begin(), node.input().end());
    } else if (op == "SequenceInsert" || op == "SequenceErase" || op == "SequenceAt" || op == "SequenceLength" ||
               op == "ConcatFromSequence") {
      const std::vector<std::string> *seq = sequenceIn(0);
      if (!seq) return fail(node, i, "its sequence '" + (node.input_size() ? node.input(0) : "") + "' is not built in the graph from tensors");
      std::vector<std::string> parts = *seq;
      const int64_t n = int64_t(parts.size());
      int64_t at = 0;
      if (op == "SequenceInsert") {
        if (node.input_size() < 2 || node.input(1).empty()) return fail(node, i, "it has no tensor to insert");
        if (std::string why = position(2, n, -n, n, at); !why.empty()) return fail(node, i, why);
        parts.insert(parts.begin() + (at < 0 ? at + n : at), node.input(1));
        sequences[out] = parts;
      } else if (op == "SequenceErase") {
        if (n == 0) return fail(node, i, "its sequence is empty");
        if (std::string why = position(1, -1, -n, n - 1, at); !why.empty()) return fail(node, i, why);
        parts.erase(parts.begin() + (at < 0 ? at + n : at));
        sequences[out] = parts;
      } else if (op == "SequenceAt") {
        if (n == 0) return fail(node, i, "its sequence is empty");
        if (node.input_size() < 2) return fail(node, i, "it has no position");
        if (std::string why = position(1, 0, -n, n - 1, at); !why.empty()) return fail(node, i, why);
        onnx::NodeProto copy;
        copy.set_name(node.name());
        copy.set_op_type("Identity");
        copy.add_input(parts[size_t(at < 0 ? at + n : at)]);
        copy.add_output(out);
        *rewritten.Add() = std::move(copy);
      } else if (op == "SequenceLength") {
        *rewritten.Add() = constantInt64(node, n);
      } else { // ConcatFromSequence
        if (n == 0) return fail(node, i, "its sequence is empty");
        const bool newAxis = intAttribute(node, "new_axis", 0) != 0;
        int64_t axis = intAttribute(node, "axis", 0);
        if (newAxis) { // stacked: a new axis in [-rank - 1, rank]
          auto shape = known.find(parts[0]);
          if (axis < 0 && shape == known.end()) return fail(node, i, "a negative axis needs its tensors' static shapes");
          if (axis < 0) axis += int64_t(shape->second.size()) + 1;
          b.stack(parts, axis, out);
        } else if (n == 1) {
          b.add("Identity", parts, out);
        } else {
          NodeBuilder::setInt(b.add("Concat", parts, out), "axis", axis);
        }
        if (!node.name().empty()) b.nodes.back().set_name(node.name()); // the node giving its output
        for (auto &made : b.nodes) *rewritten.Add() = std::move(made);
        b.nodes.clear();
      }
    } else { // SplitToSequence: the input's slices along axis, as Split gives them
      auto shape = node.input_size() ? known.find(node.input(0)) : known.end();
      if (shape == known.end()) return fail(node, i, "its input needs a static shape");
      const std::vector<int64_t> dims = shape->second;
      const int64_t rank = int64_t(dims.size());
      int64_t axis = intAttribute(node, "axis", 0);
      if (axis < -rank || axis >= rank) return fail(node, i, "its axis is outside its input's rank");
      if (axis < 0) axis += rank;
      const int64_t length = dims[size_t(axis)];
      std::vector<int64_t> sizes;
      const bool given = node.input_size() > 1 && !node.input(1).empty();
      if (given) {
        auto split = ints.find(node.input(1));
        if (split == ints.end()) return fail(node, i, "its split '" + node.input(1) + "' is not a constant");
        if (split->second.size() == 1) { // chunks of that size, the last shorter
          const int64_t chunk = split->second[0];
          if (chunk < 1) return fail(node, i, "its split size is not positive");
          for (int64_t done = 0; done < length; done += chunk) sizes.push_back(std::min(chunk, length - done));
        } else {
          sizes = split->second;
        }
      } else {
        sizes.assign(size_t(length), 1);
      }
      int64_t sum = 0;
      for (int64_t s : sizes) {
        if (s < 1) return fail(node, i, "its split sizes must be positive (zero-size tensors are not supported)");
        sum += s;
      }
      if (sum != length || sizes.empty())
        return fail(node, i, "its split sizes do not add up to the axis' " + std::to_string(length));
      if (sizes.size() > 4096) return fail(node, i, "it makes more than 4096 tensors");
      std::vector<std::string> parts;
      for (size_t k = 0; k < sizes.size(); ++k) {
        parts.push_back(b.fresh(out));
        known[parts.back()] = dims;
        known[parts.back()][size_t(axis)] = sizes[k];
      }
      onnx::NodeProto &split = b.add("Split", {node.input(0)}, parts[0]);
      split.set_name(node.name());
      for (size_t k = 1; k < parts.size(); ++k) split.add_output(parts[k]);
      NodeBuilder::setInt(split, "axis", axis);
      if (opset >= 13) {
        split.add_input(b.int64Constant(sizes, false));
      } else {
        auto *a = split.add_attribute();
        a->set_name("split");
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t s : sizes) a->add_ints(s);
      }
      if (!given && intAttribute(node, "keepdims", 1) == 0) // each slice without the axis
        for (std::string &p : parts) {
          const std::string squeezed = b.fresh(out);
          if (opset >= 13) {
            b.add("Squeeze", {p, b.int64Constant({axis}, false)}, squeezed);
          } else {
            auto *a = b.add("Squeeze", {p}, squeezed).add_attribute();
            a->set_name("axes");
            a->set_type(onnx::AttributeProto::INTS);
            a->add_ints(axis);
          }
          known[squeezed] = dims;
          known[squeezed].erase(known[squeezed].begin() + axis);
          p = squeezed;
        }
      for (auto &made : b.nodes) *rewritten.Add() = std::move(made);
      b.nodes.clear();
      sequences[out] = parts;
    }
  }
  for (const auto &o : graph.output())
    if (sequences.count(o.name())) {
      r.node = "";
      r.op = "";
      r.why = "graph output '" + o.name() + "' is a sequence (Fractal's packages hold tensors only)";
      return r;
    }
  *graph.mutable_node() = std::move(rewritten);
  for (auto &t : b.initializers) *graph.add_initializer() = std::move(t);
  r.changed = true;
  return r;
}

} // namespace fractal::onnx_frontend::detail
