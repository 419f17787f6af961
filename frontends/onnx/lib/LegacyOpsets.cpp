// Models of opsets 1-6 (PyTorch 0.3-era exports, the old model zoo) rewritten to opset 9
// (kLegacyUpgradeOpset: the rest of the frontend reads 7 on, and 9 is the first whose Constant
// holds the int64 shapes those exporters emit). ONNX's own version converter does most of it (is_test,
// consumed_inputs, Reshape's shape attribute, Gemm's broadcast); two legacy meanings it gets wrong
// are mended first:
//  - Add/Sub/Mul/Div/Pow/... with broadcast=1 and `axis`: B lines up with A's dims from `axis`.
//    Debian's converter (ONNX 1.12) unsqueezes B by rank(A) - rank(B) trailing axes instead of
//    rank(A) - axis - rank(B), so a per-channel [C] onto [N, C, L] becomes [C, 1, 1] and fails.
//  - PRelu's 1-D slope applied per channel (axis 1); from opset 7 it broadcasts numpy-style, and
//    the converter leaves it alone.
// Both get the trailing unit axes that keep their meaning under numpy broadcasting: an
// initializer only that node reads is reshaped in place, anything else goes through an Unsqueeze.
#include "OnnxModel.h"

#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include <map>
#include <set>

namespace fractal::onnx_frontend::detail {

namespace {

// Ranks of every value whose shape is known (inputs, initializers, inferred values, outputs).
std::map<std::string, int> knownRanks(const onnx::GraphProto &g) {
  std::map<std::string, int> ranks;
  auto record = [&](const onnx::ValueInfoProto &v) {
    if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
      ranks[v.name()] = v.type().tensor_type().shape().dim_size();
  };
  for (const auto &v : g.input()) record(v);
  for (const auto &v : g.value_info()) record(v);
  for (const auto &v : g.output()) record(v);
  for (const auto &t : g.initializer()) ranks[t.name()] = t.dims_size();
  return ranks;
}

void inferLeniently(onnx::ModelProto &model) {
  onnx::ShapeInferenceOptions lenient{/*check_type=*/false, /*error_mode=*/0, /*enable_data_propagation=*/false};
  onnx::shape_inference::InferShapes(model, guardedSchemas(), lenient);
}

// Gives input `slot` of node `index` `count` trailing unit axes.
void appendUnitAxes(onnx::GraphProto &g, int index, int slot, int rank, int count) {
  const std::string name = g.node(index).input(slot);
  int readers = 0;
  for (const auto &n : g.node())
    for (const auto &in : n.input()) readers += in == name;
  for (auto &t : *g.mutable_initializer()) {
    if (t.name() != name || readers != 1) continue;
    for (int i = 0; i < count; ++i) t.add_dims(1);
    for (auto &in : *g.mutable_input()) // IR < 4: initializers are listed as graph inputs too
      if (in.name() == name && in.type().tensor_type().has_shape())
        for (int i = 0; i < count; ++i)
          in.mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(1);
    return;
  }
  onnx::NodeProto unsqueeze;
  unsqueeze.set_op_type("Unsqueeze");
  unsqueeze.set_name(g.node(index).name() + "/legacy_broadcast");
  unsqueeze.add_input(name);
  const std::string out = name + "/legacy_broadcast_" + std::to_string(index);
  unsqueeze.add_output(out);
  auto *axes = unsqueeze.add_attribute(); // Unsqueeze-1: axes as an attribute
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < count; ++i) axes->add_ints(rank + i);
  g.mutable_node(index)->set_input(slot, out);
  // Before its reader, keeping the node list in topological order.
  *g.add_node() = unsqueeze;
  for (int i = g.node_size() - 1; i > index; --i) g.mutable_node()->SwapElements(i, i - 1);
}

// True when a node changed (new shapes to infer).
bool mendLegacyBroadcasts(onnx::GraphProto &g) {
  static const std::set<std::string> broadcasting = {"Add", "Sub", "Mul", "Div", "Pow", "And", "Or",
                                                     "Xor", "Equal", "Greater", "Less"};
  const std::map<std::string, int> ranks = knownRanks(g);
  auto rankOf = [&](const std::string &name) {
    auto it = ranks.find(name);
    return it == ranks.end() ? -1 : it->second;
  };
  bool changed = false;
  for (int i = 0; i < g.node_size(); ++i) {
    onnx::NodeProto &n = *g.mutable_node(i);
    if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
    if (n.op_type() == "PRelu" && n.input_size() == 2) {
      const int x = rankOf(n.input(0)), slope = rankOf(n.input(1));
      bool perChannel = slope == 1 && x > 2;
      for (const auto &t : g.initializer()) // a single shared slope broadcasts as it is
        if (t.name() == n.input(1) && t.dims_size() == 1 && t.dims(0) == 1) perChannel = false;
      if (perChannel) {
        appendUnitAxes(g, i, 1, slope, x - 2);
        changed = true;
      }
      continue;
    }
    if (!broadcasting.count(n.op_type()) || n.input_size() != 2) continue;
    int64_t axis = -1;
    bool hasAxis = false, broadcast = false;
    for (const auto &a : n.attribute()) {
      if (a.name() == "axis") hasAxis = true, axis = a.i();
      if (a.name() == "broadcast") broadcast = a.i() != 0;
    }
    if (!hasAxis) continue;
    // The converter's axis handling is the faulty part: drop `axis` once B lines up by itself.
    for (int a = n.attribute_size() - 1; a >= 0; --a)
      if (n.attribute(a).name() == "axis") n.mutable_attribute()->DeleteSubrange(a, 1);
    changed = true;
    const int ra = rankOf(n.input(0)), rb = rankOf(n.input(1));
    if (!broadcast || ra < 0 || rb < 0) continue;
    if (axis < 0) axis += ra;
    const int trailing = ra - int(axis) - rb;
    if (trailing > 0) appendUnitAxes(g, i, 1, rb, trailing);
  }
  return changed;
}

} // namespace

std::string upgradeLegacyOpset(onnx::ModelProto &model) {
  try {
    inferLeniently(model); // the mending and the converter need ranks and shapes
    if (mendLegacyBroadcasts(*model.mutable_graph())) {
      model.mutable_graph()->clear_value_info();
      inferLeniently(model);
    }
    model = onnx::version_conversion::ConvertVersion(model, int(kLegacyUpgradeOpset));
  } catch (const std::exception &e) {
    // ONNX's assertions carry their source position before the reason: keep the reason.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (size_t failed = what.find("failed: "); failed != std::string::npos) what = what.substr(failed + 8);
    return what;
  }
  return "";
}

} // namespace fractal::onnx_frontend::detail
