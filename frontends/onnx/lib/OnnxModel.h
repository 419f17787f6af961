// Internal: the support check, keeping the checked and shape-inferred model for the importer.
#pragma once

#include "fractal/onnx/OnnxCheck.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace onnx {
class ISchemaRegistry;
}

namespace fractal::onnx_frontend::detail {
CheckReport checkAndInfer(const std::string &bytes, const std::string &name,
                          const std::vector<InputShape> &shapes, onnx::ModelProto &model);

// ONNX's operator schemas for onnx::shape_inference::InferShapes, with guards (SchemaGuards.cpp)
// in front of the inference functions of Debian's ONNX that read past the end of their own arrays
// on an ill-formed node (a convolution whose data and weight ranks differ): such a node is a
// shape-inference error naming it, not a crash. Every inference over a model the check has not
// passed yet goes through it.
const onnx::ISchemaRegistry *guardedSchemas();

// Rewrites a model of opset 1-6 to kLegacyUpgradeOpset (LegacyOpsets.cpp); empty, or why it could not.
std::string upgradeLegacyOpset(onnx::ModelProto &model);

// Replaces graph.node(index), an If (called `name` in messages), by the nodes of the branch
// `condition` selects and an Identity per output named after it (StaticIf.cpp); empty, or why it
// could not (the graph is then unchanged).
std::string inlineStaticIf(onnx::GraphProto &graph, int index, const std::string &name, bool condition);

// The most nodes a Scan, a Loop or a recurrent layer (LSTM, GRU, RNN) may unroll into: each
// step becomes graph ops, so compile time and package size grow with the steps.
constexpr int64_t kMaxUnrolledNodes = 20000;

// Replaces graph.node(index), a Scan (called `name`) whose scan inputs have static shapes in
// `shapes`, by its body once per step (StaticScan.cpp); empty, or why it could not (the graph is
// then unchanged).
std::string unrollStaticScan(onnx::GraphProto &graph, int index, const std::string &name, int64_t opset,
                             const std::map<std::string, std::vector<int64_t>> &shapes);

// Replaces graph.node(index), a Loop (called `name`) known to run `trips` iterations, by its body
// once per iteration (StaticScan.cpp): only a loop whose body passes its condition on unchanged (it
// never stops early); empty, or why it could not (the graph is then unchanged).
std::string unrollStaticLoop(onnx::GraphProto &graph, int index, const std::string &name, int64_t opset, int64_t trips);

// Sequence ops resolved at compile time (StaticSequences.cpp): every sequence built from tensors
// in the graph and used only by sequence ops at positions known now (`ints`: constant int
// tensors by name; `shapes`: static shapes by name) becomes the tensor ops its reads amount to.
// `changed` when it did; else, with sequence ops in the graph, `why` it could not (at `node`, an
// `op`; empty for a graph output), and the graph is unchanged.
struct SequenceResolution {
  bool changed = false;
  std::string node, op, why;
};
bool isSequenceOp(const std::string &op);
SequenceResolution resolveStaticSequences(onnx::GraphProto &graph, int64_t opset,
                                          const std::map<std::string, std::vector<int64_t>> &shapes,
                                          const std::map<std::string, std::vector<int64_t>> &ints);

// Replaces graph.node(index) by `replacement` (moved from), in its place.
void replaceNode(onnx::GraphProto &graph, int index, std::vector<onnx::NodeProto> &replacement);

// Every value name a graph defines or uses, its subgraphs' included (names spliced into it must be
// new).
void collectValueNames(const onnx::GraphProto &graph, std::set<std::string> &names);
} // namespace fractal::onnx_frontend::detail
