// An If whose condition the check has folded to a constant becomes the branch it takes: Fractal
// compiles static graphs, and exporters emit If for choices fixed at deployment (Silero VAD picks
// its 16 kHz or 8 kHz network by the sample-rate input; PyTorch's tracing guards optional state
// on its shape).
#include "OnnxModel.h"

#include <set>

namespace fractal::onnx_frontend::detail {

void collectValueNames(const onnx::GraphProto &graph, std::set<std::string> &names) {
  for (const auto &v : graph.input()) names.insert(v.name());
  for (const auto &t : graph.initializer()) names.insert(t.name());
  for (const auto &node : graph.node()) {
    names.insert(node.input().begin(), node.input().end());
    names.insert(node.output().begin(), node.output().end());
    for (const auto &a : node.attribute()) {
      if (a.has_g()) collectValueNames(a.g(), names);
      for (const auto &g : a.graphs()) collectValueNames(g, names);
    }
  }
}

std::string inlineStaticIf(onnx::GraphProto &graph, int index, const std::string &name, bool condition) {
  const onnx::NodeProto ifNode = graph.node(index);
  const onnx::GraphProto *branch = nullptr;
  for (const auto &a : ifNode.attribute())
    if (a.name() == (condition ? "then_branch" : "else_branch") && a.has_g()) branch = &a.g();
  if (!branch) return std::string("it has no ") + (condition ? "then_branch" : "else_branch") + " graph";
  if (branch->output_size() != ifNode.output_size())
    return "its branch has " + std::to_string(branch->output_size()) + " output(s), the node " +
           std::to_string(ifNode.output_size());

  // The rest of the graph (the If itself excluded) against what the branch defines.
  onnx::GraphProto rest = graph;
  rest.mutable_node()->DeleteSubrange(index, 1);
  std::set<std::string> outside;
  collectValueNames(rest, outside);
  for (const auto &t : branch->initializer())
    if (outside.count(t.name())) return "its branch's initializer '" + t.name() + "' has the name of a value outside it";
  for (const auto &node : branch->node())
    for (const auto &o : node.output())
      if (!o.empty() && outside.count(o)) return "its branch's value '" + o + "' has the name of a value outside it";

  // The branch's nodes where the If was, then an Identity per output giving it the If's name.
  std::vector<onnx::NodeProto> spliced(branch->node().begin(), branch->node().end());
  for (int i = 0; i < ifNode.output_size(); ++i) {
    if (ifNode.output(i).empty()) continue;
    onnx::NodeProto copy;
    copy.set_op_type("Identity");
    copy.set_name(name + "/" + (condition ? "then" : "else") + "_output_" + std::to_string(i));
    copy.add_input(branch->output(i).name());
    copy.add_output(ifNode.output(i));
    spliced.push_back(std::move(copy));
  }
  replaceNode(graph, index, spliced);
  for (const auto &t : branch->initializer()) *graph.add_initializer() = t;
  return "";
}

void replaceNode(onnx::GraphProto &graph, int index, std::vector<onnx::NodeProto> &replacement) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (i != index) {
      *nodes.Add() = graph.node(i);
      continue;
    }
    for (auto &n : replacement) *nodes.Add() = std::move(n);
  }
  graph.mutable_node()->Swap(&nodes);
}

} // namespace fractal::onnx_frontend::detail
