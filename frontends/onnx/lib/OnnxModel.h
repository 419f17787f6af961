// Internal: the support check, keeping the checked and shape-inferred model for the importer.
#pragma once

#include "fractal/onnx/OnnxCheck.h"

#include <onnx/onnx_pb.h>

namespace fractal::onnx_frontend::detail {
CheckReport checkAndInfer(const std::string &bytes, const std::string &name,
                          const std::vector<InputShape> &shapes, onnx::ModelProto &model);

// Rewrites a model of opset 1-6 to kLegacyUpgradeOpset (LegacyOpsets.cpp); empty, or why it could not.
std::string upgradeLegacyOpset(onnx::ModelProto &model);

// Replaces graph.node(index), an If (called `name` in messages), by the nodes of the branch
// `condition` selects and an Identity per output named after it (StaticIf.cpp); empty, or why it
// could not (the graph is then unchanged).
std::string inlineStaticIf(onnx::GraphProto &graph, int index, const std::string &name, bool condition);
} // namespace fractal::onnx_frontend::detail
