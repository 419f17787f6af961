#include "fractal/onnx/OnnxCheck.h"

#include "OnnxModel.h"
#include "Einsum.h"
#include "NodeAttributes.h"
#include "TfIdf.h"
#include "TreeEnsemble.h"
#include "OpSupport.h"

#include <limits>

#include "fractal/compiler/PlacementReasons.h"
#include "fractal/support/File.h"
#include "fractal/onnx/OnnxTensor.h"
#include "fractal/support/Json.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <map>
#include <set>
#include <sstream>

namespace fractal::onnx_frontend {

using detail::findOpRule;
using detail::OpRule;

const char *placementName(Placement p) {
  switch (p) {
  case Placement::Cube: return "cube";
  case Placement::Vector: return "vector";
  case Placement::Scalar: return "scalar";
  case Placement::Dma: return "dma";
  case Placement::Host: return "host";
  }
  return "?";
}

Expected<std::vector<InputShape>> parseInputShapes(const std::string &text) {
  std::vector<InputShape> shapes;
  std::stringstream all(text);
  for (std::string item; std::getline(all, item, ';');) {
    if (item.empty())
      continue;
    size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return Error::badInput("--input-shape: expected NAME:D1,D2,... in '" + item + "'");
    InputShape s{item.substr(0, colon), {}};
    std::stringstream dims(item.substr(colon + 1));
    for (std::string d; std::getline(dims, d, ',');) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(d.c_str(), &end, 10);
      if (d.empty() || *end != '\0' || errno == ERANGE || v <= 0)
        return Error::badInput("--input-shape: dimension '" + d + "' of input '" + s.name +
                               "' must be a positive integer");
      s.dims.push_back(v);
    }
    if (s.dims.empty())
      return Error::badInput("--input-shape: input '" + s.name + "' has no dimensions");
    shapes.push_back(std::move(s));
  }
  return shapes;
}

namespace {

// Operand positions the compiler needs as constants, by operator.
const std::map<std::string, std::vector<int>> &constantInputSlots() {
  static const std::map<std::string, std::vector<int>> slots = {
      {"Clip", {1, 2}}, {"Slice", {1, 2, 3, 4}}, {"Pad", {1, 2}}, {"ConstantOfShape", {0}},
      {"Reshape", {1}}, {"Resize", {1, 2, 3}}, {"Upsample", {1}}, {"ConvTranspose", {1}}, {"Expand", {1}}, {"Squeeze", {1}}, {"Unsqueeze", {1}},
      {"ReduceSum", {1}}, {"ReduceMean", {1}}, {"ReduceMax", {1}}, {"ReduceMin", {1}}, {"ReduceL1", {1}},
      {"ReduceL2", {1}}, {"ReduceSumSquare", {1}}, {"ReduceLogSum", {1}}, {"ReduceLogSumExp", {1}}, {"ReduceProd", {1}},
      {"Split", {1}}, {"Trilu", {1}}, {"LSTM", {4}}, {"GRU", {4}}, {"RNN", {4}},
      {"Tile", {1}}, {"TopK", {1}}, {"Range", {0, 1, 2}}, {"HannWindow", {0}}, {"HammingWindow", {0}},
      {"BlackmanWindow", {0}}, {"OneHot", {1, 2}}, {"If", {0}}, {"DFT", {1}}, {"STFT", {1, 3}}, {"MelWeightMatrix", {0, 1, 2, 3, 4}},
      {"MaxUnpool", {2}}, {"CumSum", {1}}, {"Loop", {0, 1}}};
  return slots;
}

// A node's operand positions the compiler needs as constants: its operator's, and Dropout's
// training mode and, when it has one, its ratio (training with a ratio other than 0 is refused).
std::vector<int> constantSlotsOf(const onnx::NodeProto &node) {
  if (node.op_type() == "Dropout")
    return node.input_size() > 2 && !node.input(2).empty() ? std::vector<int>{1, 2} : std::vector<int>{};
  const auto c = constantInputSlots().find(node.op_type());
  return c == constantInputSlots().end() ? std::vector<int>{} : c->second;
}

std::string nodeName(const onnx::NodeProto &node, int index) {
  return node.name().empty() ? node.op_type() + "_" + std::to_string(index) : node.name();
}

// A string attribute's value, "" when the node has none of that name.
std::string stringAttribute(const onnx::NodeProto &node, const char *name) {
  const onnx::AttributeProto *a = detail::attribute(node, name);
  return a ? a->s() : "";
}

// An integer attribute's value, `def` when the node has none of that name.
int64_t intAttribute(const onnx::NodeProto &node, const char *name, int64_t def) {
  const onnx::AttributeProto *a = detail::attribute(node, name);
  return a ? a->i() : def;
}

// A shape as the report writes it: 2x3x4.
std::string dimsText(const std::vector<int64_t> &dims) {
  std::string text;
  for (int64_t d : dims) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

std::string attributeValue(const onnx::AttributeProto &a) {
  switch (a.type()) {
  case onnx::AttributeProto::INT: return std::to_string(a.i());
  case onnx::AttributeProto::STRING: return a.s();
  case onnx::AttributeProto::FLOAT: return std::to_string(a.f());
  default: return "";
  }
}

// The largest tensor a model may hold, in bytes: beyond any device's memory (the edge chip has
// 8 GiB); only a corrupt model's dims reach it.
constexpr int64_t kMaxTensorBytes = int64_t(1) << 40;

// Product of dims (a TensorProto's or an inferred shape), or -1 on overflow or a negative dim.
template <typename Dims> int64_t elementCount(const Dims &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > INT64_MAX / d))
      return -1;
    n *= d;
  }
  return n;
}

int elementBytes(int type) {
  switch (type) {
  case 1: case 6: case 12: return 4;
  case 2: case 3: case 9: return 1;
  case 4: case 5: case 10: case 16: return 2;
  case 7: case 11: case 13: return 8;
  default: return 0;
  }
}

// How many elements a typed (non-raw) initializer carries.
int64_t typedCount(const onnx::TensorProto &t) {
  switch (t.data_type()) {
  case 1: return t.float_data_size();
  case 7: return t.int64_data_size();
  case 11: return t.double_data_size();
  case 13: case 12: return t.uint64_data_size();
  default: return t.int32_data_size(); // int8/16/32, uint8/16, bool, float16 live in int32_data
  }
}

class Checker {
public:
  Checker(CheckReport &report, const std::vector<InputShape> &shapes)
      : report_(report), shapes_(shapes) {}

  void run(const std::string &bytes) {
    if (bytes.size() > static_cast<size_t>(INT_MAX) || !model_.ParseFromString(bytes)) {
      problem("", "", "not a valid ONNX model: the protobuf does not parse (a truncated or corrupt "
                      "file?)");
      return;
    }
    report_.producer = model_.producer_name() + (model_.producer_version().empty()
                                                     ? ""
                                                     : " " + model_.producer_version());
    if (!model_.has_graph() || model_.graph().node_size() == 0) {
      problem("", "", "the model has no graph nodes");
      return;
    }
    checkOpset();
    if (!report_.ok())
      return;
    // Before anything follows the graph's edges or infers shapes: ONNX's version converter (an
    // old opset's upgrade, which infers shapes first) dereferences a value nothing defines, and
    // its inference divides by a zero stride.
    checkTensors();
    checkInputs();
    checkStructure();
    checkSchemas();
    if (!report_.ok())
      return; // shape inference needs a well-formed graph
    upgradeOldOpset();
    if (!report_.ok())
      return;
    if (report_.upgradedFrom) { // again, with the converter's own nodes and initializers
      types_.clear();
      report_.inputs.clear();
      checkTensors();
      checkInputs();
      checkStructure();
      checkSchemas();
      if (!report_.ok())
        return;
    }
    inferShapes();
    checkInferredShapes();
    checkNodes();
    for (const auto &[value, type] : types_)
      if (type == onnx::TensorProto::DOUBLE) {
        report_.notes.push_back("float64 values (e.g. '" + value + "') are computed in float32: the NPU has no float64 "
                                "arithmetic, so results differ from a float64 computation by float32 rounding");
        break;
      }
  }

  // The model with the --input-shape dims and ONNX's inferred value types.
  onnx::ModelProto takeModel() { return std::move(model_); }

private:
  void problem(const std::string &node, const std::string &op, const std::string &message) {
    report_.problems.push_back({node, op, message});
  }

  void checkOpset() {
    bool found = false;
    for (const auto &o : model_.opset_import())
      if (o.domain().empty() || o.domain() == "ai.onnx") {
        found = true;
        report_.opset = o.version();
      }
    if (!found)
      problem("", "", "the model imports no opset of the default ONNX domain");
    else if (report_.opset < kOldestOpset || report_.opset > kMaxOpset)
      problem("", "", "opset " + std::to_string(report_.opset) + " is not supported (Fractal "
                      "supports opsets " + std::to_string(kOldestOpset) + " to " +
                      std::to_string(kMaxOpset) + ")");
  }

  // A model older than kMinOpset is rewritten to kLegacyUpgradeOpset (LegacyOpsets.cpp), so that
  // everything after this (inference, support check, import) sees one set of operator semantics.
  void upgradeOldOpset() {
    if (report_.opset >= kMinOpset)
      return;
    const int64_t from = report_.opset;
    if (std::string why = detail::upgradeLegacyOpset(model_); !why.empty()) {
      problem("", "", "opset " + std::to_string(from) + " could not be upgraded to opset " +
                          std::to_string(kLegacyUpgradeOpset) + " by ONNX's version converter: " + why);
      return;
    }
    report_.upgradedFrom = from;
    report_.opset = kLegacyUpgradeOpset;
  }

  void checkTensors() {
    for (const auto &t : model_.graph().initializer()) {
      types_[t.name()] = t.data_type();
      const int64_t count = elementCount(t.dims());
      if (count < 0) {
        problem("", "", "initializer '" + t.name() + "' has negative or overflowing dimensions");
        continue;
      }
      if (t.data_location() == onnx::TensorProto::EXTERNAL) {
        problem("", "", "initializer '" + t.name() + "' keeps its data in an external file, "
                        "which Fractal does not read yet");
        continue;
      }
      const int size = elementBytes(t.data_type());
      if (size == 0) {
        problem("", "", "initializer '" + t.name() + "' has unsupported element type " +
                            detail::elementTypeName(t.data_type()));
        continue;
      }
      const bool raw = t.has_raw_data();
      const int64_t have = raw ? static_cast<int64_t>(t.raw_data().size()) : typedCount(t);
      const int64_t need = raw ? (count > INT64_MAX / size ? -1 : count * size) : count;
      if (have != need)
        problem("", "", "initializer '" + t.name() + "' holds " + std::to_string(have) +
                            (raw ? " bytes" : " values") + " but its dimensions need " +
                            std::to_string(need));
    }
  }

  void checkInputs() {
    std::set<std::string> graphInputs, initializers;
    for (const auto &t : model_.graph().initializer()) initializers.insert(t.name());
    for (auto &input : *model_.mutable_graph()->mutable_input()) {
      graphInputs.insert(input.name());
      if (initializers.count(input.name()))
        continue; // an initializer listed as an input (old exporters)
      if (!input.type().has_tensor_type()) {
        problem("", "", "graph input '" + input.name() + "' is not a tensor");
        continue;
      }
      auto *tensor = input.mutable_type()->mutable_tensor_type();
      types_[input.name()] = tensor->elem_type();
      bool hasShape = tensor->has_shape();
      auto *shape = tensor->mutable_shape();
      for (const InputShape &s : shapes_) {
        if (s.name != input.name())
          continue;
        if (hasShape && shape->dim_size() != static_cast<int>(s.dims.size())) {
          problem("", "", "--input-shape gives input '" + s.name + "' " +
                              std::to_string(s.dims.size()) + " dimensions; the model says " +
                              std::to_string(shape->dim_size()));
          continue;
        }
        shape->clear_dim();
        for (int64_t d : s.dims)
          shape->add_dim()->set_dim_value(d);
        hasShape = true;
      }
      // No shape at all is an unknown rank (a scalar has a shape without dims); ONNX's shape
      // inference would also crash on it in some operators (ConvTranspose).
      if (!hasShape) {
        tensor->clear_shape();
        problem("", "", "input '" + input.name() + "' has no shape, not even a rank; give it with --input-shape " +
                            input.name() + ":DIMS, e.g. " + input.name() + ":1,3,224,224");
        continue;
      }
      std::string dims;
      for (int i = 0; i < shape->dim_size(); ++i) {
        const auto &d = shape->dim(i);
        if (!d.has_dim_value() || d.dim_value() <= 0) {
          std::string example;
          for (int j = 0; j < shape->dim_size(); ++j)
            example += (j ? "," : "") + (shape->dim(j).has_dim_value() && shape->dim(j).dim_value() > 0
                                             ? std::to_string(shape->dim(j).dim_value())
                                             : std::string("1"));
          problem("", "", "input '" + input.name() + "' has a dynamic dimension " +
                              std::to_string(i) +
                              (d.has_dim_param() ? " ('" + d.dim_param() + "')" : "") +
                              "; fix it with --input-shape " + input.name() + ":" + example);
          dims.clear();
          break;
        }
        dims += (i ? "x" : "") + std::to_string(d.dim_value());
      }
      // Before shape inference, which would try to hold such an input's values (a shape input
      // of 2^62 elements: ONNX's data propagation allocated until the process was killed).
      if (!dims.empty()) {
        std::vector<int64_t> values;
        for (const auto &d : shape->dim()) values.push_back(d.dim_value());
        if (std::string why = tooLarge(input.name(), values); !why.empty()) problem("", "", "input " + why);
      }
      report_.inputs.push_back(input.name() + ": " + (dims.empty() ? "?" : dims) + " " +
                               detail::elementTypeName(tensor->elem_type()));
    }
    for (const InputShape &s : shapes_)
      if (!graphInputs.count(s.name)) {
        std::string names;
        for (const auto &n : graphInputs)
          if (!types_.count(n) || !isInitializer(n))
            names += (names.empty() ? "" : ", ") + n;
        problem("", "", "--input-shape names '" + s.name + "', which is not a graph input "
                        "(inputs: " + names + ")");
      }
  }

  bool isInitializer(const std::string &name) const {
    for (const auto &t : model_.graph().initializer())
      if (t.name() == name)
        return true;
    return false;
  }

  // Every node input and graph output must come from a graph input, an initializer or a node, and
  // the nodes must form an acyclic graph.
  void checkStructure() {
    const auto &nodes = model_.graph().node();
    std::set<std::string> defined; // graph inputs and initializers
    for (const auto &t : model_.graph().initializer()) defined.insert(t.name());
    for (const auto &input : model_.graph().input()) defined.insert(input.name());
    std::map<std::string, int> producer;
    for (int i = 0; i < nodes.size(); ++i)
      for (const auto &out : nodes[i].output()) {
        if (out.empty())
          continue;
        auto [it, inserted] = producer.emplace(out, i);
        if (!inserted)
          problem(nodeName(nodes[i], i), nodes[i].op_type(),
                  "output '" + out + "' is also produced by node '" +
                      nodeName(nodes[it->second], it->second) + "'");
        if (defined.count(out))
          problem(nodeName(nodes[i], i), nodes[i].op_type(),
                  "output '" + out + "' has the name of a graph input or initializer");
      }
    for (const auto &out : model_.graph().output())
      if (!defined.count(out.name()) && !producer.count(out.name()))
        problem("", "", "graph output '" + out.name() + "' is not a graph input, an initializer or any node's output");
    std::vector<int> pending(nodes.size(), 0);
    std::map<int, std::vector<int>> users;
    for (int i = 0; i < nodes.size(); ++i)
      for (const auto &in : nodes[i].input()) {
        if (in.empty() || defined.count(in))
          continue;
        auto it = producer.find(in);
        if (it == producer.end()) {
          problem(nodeName(nodes[i], i), nodes[i].op_type(),
                  "input '" + in + "' is not a graph input, an initializer or any node's output "
                                   "(a missing initializer?)");
          continue;
        }
        ++pending[i];
        users[it->second].push_back(i);
      }
    std::vector<int> ready;
    for (int i = 0; i < nodes.size(); ++i)
      if (pending[i] == 0)
        ready.push_back(i);
    size_t done = 0;
    while (!ready.empty()) {
      int n = ready.back();
      ready.pop_back();
      ++done;
      for (int u : users[n])
        if (--pending[u] == 0)
          ready.push_back(u);
    }
    if (done < static_cast<size_t>(nodes.size()) && report_.problems.empty()) {
      std::string cycle;
      for (int i = 0; i < nodes.size(); ++i)
        if (pending[i] > 0)
          cycle += (cycle.empty() ? "" : ", ") + nodeName(nodes[i], i);
      problem("", "", "the graph has a cycle through nodes " + cycle);
    }
    sorted_ = done == static_cast<size_t>(nodes.size());
  }

  // Every node of ONNX's own domains against its operator's definition at the model's opset: the
  // number of inputs and outputs and the types of the attributes it defines. Shape inference and
  // the importer read inputs and attributes by position and type, and would fail on a node with
  // too few (an ONNX-internal check or a crash, not a message naming the node). Attributes the
  // operator does not define and operators without a definition are left to checkNodes, which
  // names them as unsupported.
  void checkSchemas() {
    std::map<std::string, int> opsets; // by domain, "" for ai.onnx
    for (const auto &o : model_.opset_import())
      opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = int(o.version());
    opsets[""] = int(report_.opset); // after an upgrade, the upgraded opset
    const auto &nodes = model_.graph().node();
    for (int i = 0; i < nodes.size(); ++i) {
      const onnx::NodeProto &node = nodes[i];
      const std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
      auto opset = opsets.find(domain);
      const onnx::OpSchema *schema =
          opset == opsets.end() ? nullptr : onnx::OpSchemaRegistry::Schema(node.op_type(), opset->second, domain);
      if (!schema)
        continue;
      auto range = [](int low, int high) {
        return high == low ? std::to_string(low)
               : high == std::numeric_limits<int>::max() ? std::to_string(low) + " or more"
                                                          : std::to_string(low) + " to " + std::to_string(high);
      };
      const std::string at = " at opset " + std::to_string(opset->second);
      if (node.input_size() < schema->min_input() || node.input_size() > schema->max_input())
        problem(nodeName(node, i), node.op_type(),
                "has " + std::to_string(node.input_size()) + " input(s); " + node.op_type() + at + " takes " +
                    range(schema->min_input(), schema->max_input()));
      if (node.output_size() < schema->min_output() || node.output_size() > schema->max_output())
        problem(nodeName(node, i), node.op_type(),
                "has " + std::to_string(node.output_size()) + " output(s); " + node.op_type() + at + " gives " +
                    range(schema->min_output(), schema->max_output()));
      for (const auto &a : node.attribute()) {
        auto defined = schema->attributes().find(a.name());
        if (defined != schema->attributes().end() && a.type() != defined->second.type)
          problem(nodeName(node, i), node.op_type(),
                  "attribute '" + a.name() + "' is of type " + onnx::AttributeProto_AttributeType_Name(a.type()) +
                      "; " + node.op_type() + at + " defines it as " +
                      onnx::AttributeProto_AttributeType_Name(defined->second.type));
        // Flags ONNX defines as 0 or 1: ONNX's inference and the importer read other values
        // differently (keepdims 2 is "drop" to one, "keep" to the other).
        static const std::set<std::string> kFlags = {
            "keepdims", "select_last_index", "noop_with_empty_axes", "transA", "transB", "exclusive", "reverse",
            "ceil_mode", "count_include_pad", "center_point_box", "sorted", "largest", "onesided", "training_mode",
            "upper", "allowzero", "layout", "linear_before_reset", "input_forget", "storage_order", "detect_negative",
            "detect_positive", "fmod", "saturate"};
        if (kFlags.count(a.name()) && a.type() == onnx::AttributeProto::INT && a.i() != 0 && a.i() != 1 &&
            defined != schema->attributes().end())
          problem(nodeName(node, i), node.op_type(),
                  "attribute '" + a.name() + "' is " + std::to_string(a.i()) + "; " + node.op_type() + " takes 0 or 1");
        // Window geometry: ONNX's inference divides by strides, dilations and squared block
        // sizes (a zero stride and a block size of 2^62 crashed it) and checks neither signs nor
        // overflow; the extents of real tensors stay far below 2^31.
        const bool positive = a.name() == "strides" || a.name() == "dilations" || a.name() == "kernel_shape" ||
                              a.name() == "group" || a.name() == "blocksize";
        const bool nonNegative = (a.name() == "pads" && node.op_type() != "Pad") || a.name() == "output_padding";
        if ((positive || nonNegative) && defined != schema->attributes().end()) {
          std::vector<int64_t> values(a.ints().begin(), a.ints().end());
          if (a.type() == onnx::AttributeProto::INT) values = {a.i()};
          for (int64_t v : values)
            if (v < (positive ? 1 : 0) || v > INT32_MAX) {
              problem(nodeName(node, i), node.op_type(),
                      "attribute '" + a.name() + "' holds " + std::to_string(v) + "; " + node.op_type() + "'s " +
                          a.name() + (positive ? " must be in 1 .. 2^31-1" : " must be in 0 .. 2^31-1"));
              break;
            }
        }
      }
    }
  }

  // The static shapes of every input of `node`; nothing when one is not known.
  static std::optional<std::vector<std::vector<int64_t>>>
  inputShapes(const onnx::NodeProto &node, const std::map<std::string, std::vector<int64_t>> &shapes) {
    std::vector<std::vector<int64_t>> operands;
    for (const std::string &in : node.input()) {
      auto it = shapes.find(in);
      if (it == shapes.end()) return std::nullopt;
      operands.push_back(it->second);
    }
    return operands;
  }
  // The static shapes once inference is over (staticShapes(), built once): the checks after
  // inference read them and change nothing in the model.
  const std::map<std::string, std::vector<int64_t>> &inferredShapes() {
    if (!inferred_) inferred_ = staticShapes();
    return *inferred_;
  }
  // Static shapes known so far (inputs, initializers, inferred values), by value name.
  std::map<std::string, std::vector<int64_t>> staticShapes() const {
    std::map<std::string, std::vector<int64_t>> shapes;
    auto record = [&](const onnx::ValueInfoProto &v) {
      if (!v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
      std::vector<int64_t> dims;
      for (const auto &d : v.type().tensor_type().shape().dim()) {
        if (!d.has_dim_value()) return;
        dims.push_back(d.dim_value());
      }
      shapes[v.name()] = dims;
    };
    for (const auto &v : model_.graph().input()) record(v);
    for (const auto &v : model_.graph().value_info()) record(v);
    for (const auto &v : model_.graph().output()) record(v);
    for (const auto &t : model_.graph().initializer())
      shapes[t.name()] = std::vector<int64_t>(t.dims().begin(), t.dims().end());
    return shapes;
  }

  // What ONNX's shape inference lets through: a negative extent (a Pad that crops more than its
  // axis holds), a Squeeze axis outside the input's rank (it ignores the axis; ONNX Runtime
  // refuses the model), Gather indices known at compile time out of range, GatherElements'
  // indices larger than the data.
  // What no device could hold: dims whose product overflows, or more than kMaxTensorBytes (a
  // corrupt model's input axis of 2^62 made code generation emit instructions for hours); "" when
  // `value` of those dims fits.
  std::string tooLarge(const std::string &value, const std::vector<int64_t> &dims) const {
    const int64_t count = elementCount(dims);
    auto type = types_.find(value);
    const int64_t size = std::max(1, type == types_.end() ? 4 : elementBytes(type->second));
    if (count >= 0 && count <= kMaxTensorBytes / size) return "";
    return "'" + value + "' would have the shape " + dimsText(dims) + ": " +
           (count < 0 ? std::string("its element count overflows") : "more than 2^40 bytes, larger than any device memory");
  }

  void checkInferredShapes() {
    const std::map<std::string, std::vector<int64_t>> &shapes = inferredShapes();
    std::set<std::string> huge; // named where they start, not again at each node after them
    for (const auto &input : model_.graph().input())
      if (auto shape = shapes.find(input.name()); shape != shapes.end())
        if (std::string why = tooLarge(input.name(), shape->second); !why.empty()) {
          problem("", "", "input " + why);
          huge.insert(input.name());
        }
    const auto &nodes = model_.graph().node();
    for (int i = 0; i < nodes.size(); ++i) {
      const onnx::NodeProto &node = nodes[i];
      const bool fromHuge = std::any_of(node.input().begin(), node.input().end(),
                                        [&](const std::string &in) { return huge.count(in) > 0; });
      for (const std::string &out : node.output()) {
        auto shape = shapes.find(out);
        if (shape == shapes.end()) continue;
        if (std::any_of(shape->second.begin(), shape->second.end(), [](int64_t d) { return d < 0; })) {
          problem(nodeName(node, i), node.op_type(), "its output '" + out + "' would have the shape " + dimsText(shape->second) +
                                                         ": a negative extent");
        } else if (std::string why = tooLarge(out, shape->second); !why.empty()) {
          if (!fromHuge) problem(nodeName(node, i), node.op_type(), "its output " + why);
          huge.insert(out);
        }
      }
      // Indices known at compile time are checked here rather than by the kernel's trap at run time.
      if ((node.op_type() == "Gather" || node.op_type() == "GatherElements") && node.input_size() == 2)
        if (auto data = shapes.find(node.input(0)); data != shapes.end())
          if (const onnx::TensorProto *t = constantValue(node.input(1))) {
            int64_t axis = intAttribute(node, "axis", 0);
            const int64_t rank = int64_t(data->second.size());
            if (axis < 0) axis += rank;
            std::optional<std::vector<int64_t>> indices = tensorInts(*t);
            if (indices && axis >= 0 && axis < rank) {
              const int64_t extent = data->second[size_t(axis)];
              for (int64_t index : *indices)
                if (index < -extent || index >= extent) {
                  problem(nodeName(node, i), node.op_type(),
                          "index " + std::to_string(index) + " in '" + node.input(1) + "' is out of range: axis " +
                              std::to_string(axis) + " of '" + node.input(0) + "' has " + std::to_string(extent) +
                              " entries");
                  break;
                }
            }
          }
      // GatherElements' and ScatterElements' indices address the data at their own coordinates
      // on every other axis, so they must not be larger there (ONNX Runtime checks this too).
      if ((node.op_type() == "GatherElements" || node.op_type() == "ScatterElements" || node.op_type() == "Scatter") &&
          node.input_size() >= 2) {
        auto data = shapes.find(node.input(0)), indices = shapes.find(node.input(1));
        if (data != shapes.end() && indices != shapes.end()) {
          const int64_t rank = int64_t(data->second.size());
          int64_t axis = intAttribute(node, "axis", 0);
          if (axis < 0) axis += rank;
          bool fits = indices->second.size() == data->second.size();
          for (int64_t d = 0; fits && d < rank; ++d)
            fits = d == axis || indices->second[size_t(d)] <= data->second[size_t(d)];
          if (!fits)
            problem(nodeName(node, i), node.op_type(),
                    "indices '" + node.input(1) + "' (" + dimsText(indices->second) + ") must have the rank of '" +
                        node.input(0) + "' (" + dimsText(data->second) + ") and no larger extent on any axis but " +
                        std::to_string(axis));
        }
      }
      if (node.op_type() != "Squeeze" || node.input_size() == 0) continue;
      auto in = shapes.find(node.input(0));
      if (in == shapes.end()) continue;
      std::vector<int64_t> axes = detail::intsOf(node, "axes");
      if (node.input_size() > 1 && !node.input(1).empty())
        if (const onnx::TensorProto *t = constantValue(node.input(1)))
          if (std::optional<std::vector<int64_t>> v = tensorInts(*t)) axes = *v;
      const int64_t rank = int64_t(in->second.size());
      for (int64_t axis : axes)
        if (axis < -rank || axis >= rank) {
          problem(nodeName(node, i), node.op_type(), "axis " + std::to_string(axis) + " is outside the input's rank " +
                                                         std::to_string(rank) + " (" + dimsText(in->second) + ")");
          break;
        }
    }
  }

  // A small int64 tensor known at compile time (an initializer, a Constant node, a folded node).
  // (int64 or int32: exporters such as paddle2onnx cast shapes to int32 and back; booleans, 0 or
  // 1: the comparisons that decide an If.)
  struct IntTensor {
    std::vector<int64_t> dims, values;
    int type = onnx::TensorProto::INT64;
  };
  static onnx::TensorProto toProto(const IntTensor &t) {
    onnx::TensorProto value;
    value.set_data_type(t.type);
    for (int64_t d : t.dims) value.add_dims(d);
    for (int64_t v : t.values) {
      if (t.type == onnx::TensorProto::INT32 || t.type == onnx::TensorProto::BOOL) value.add_int32_data(int32_t(v));
      else value.add_int64_data(v);
    }
    return value;
  }
  static std::optional<IntTensor> fromProto(const onnx::TensorProto &t) {
    std::optional<std::vector<int64_t>> values;
    if (t.data_type() == onnx::TensorProto::BOOL) {
      if (std::optional<std::vector<char>> bytes = tensorData(t))
        values = std::vector<int64_t>(bytes->begin(), bytes->end());
    } else {
      values = tensorInts(t);
    }
    if (!values || values->size() > 64) return std::nullopt;
    return IntTensor{std::vector<int64_t>(t.dims().begin(), t.dims().end()), std::move(*values), t.data_type()};
  }

  // The value of a shape computation on compile-time int64 tensors (the arithmetic ONNX functions
  // such as LayerNormalization's body do on shapes), or nullopt.
  std::optional<onnx::TensorProto> evaluate(const onnx::NodeProto &node,
                                            const std::map<std::string, std::vector<int64_t>> &shapes,
                                            const std::map<std::string, IntTensor> &known) {
    const std::string &op = node.op_type();
    auto in = [&](int i) -> const IntTensor * {
      if (i >= node.input_size() || node.input(i).empty()) return nullptr;
      auto it = known.find(node.input(i));
      return it == known.end() ? nullptr : &it->second;
    };
    if (op == "Shape" || op == "Size") {
      auto it = shapes.find(node.input(0));
      if (it == shapes.end()) return std::nullopt;
      const int64_t rank = int64_t(it->second.size());
      if (op == "Size") {
        int64_t n = 1;
        for (int64_t d : it->second) n *= d;
        return toProto({{}, {n}});
      }
      int64_t start = intAttribute(node, "start", 0), end = intAttribute(node, "end", rank);
      start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
      end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
      IntTensor t{{std::max<int64_t>(0, end - start)}, {}};
      for (int64_t d = start; d < end; ++d) t.values.push_back(it->second[size_t(d)]);
      return toProto(t);
    }
    static const std::map<std::string, int64_t (*)(int64_t, int64_t)> kBinary = {
        {"Add", [](int64_t x, int64_t y) { return x + y; }},
        {"Sub", [](int64_t x, int64_t y) { return x - y; }},
        {"Mul", [](int64_t x, int64_t y) { return x * y; }},
        {"Div", [](int64_t x, int64_t y) { return x / y; }},
        {"Equal", [](int64_t x, int64_t y) { return int64_t(x == y); }},
        {"Less", [](int64_t x, int64_t y) { return int64_t(x < y); }},
        {"LessOrEqual", [](int64_t x, int64_t y) { return int64_t(x <= y); }},
        {"Greater", [](int64_t x, int64_t y) { return int64_t(x > y); }},
        {"GreaterOrEqual", [](int64_t x, int64_t y) { return int64_t(x >= y); }},
        {"And", [](int64_t x, int64_t y) { return int64_t(x && y); }},
        {"Or", [](int64_t x, int64_t y) { return int64_t(x || y); }}};
    if (auto f = kBinary.find(op); f != kBinary.end()) {
      const IntTensor *a = in(0), *b = in(1);
      if (!a || !b) return std::nullopt;
      const bool aScalar = a->values.size() == 1, bScalar = b->values.size() == 1;
      if (a->values.size() != b->values.size() && !aScalar && !bScalar) return std::nullopt;
      // The broadcast shape: the larger operand's, or of equal sizes the higher rank's.
      const bool useA = a->values.size() != b->values.size() ? a->values.size() > b->values.size()
                                                              : a->dims.size() >= b->dims.size();
      const bool arithmetic = op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
      IntTensor out{useA ? a->dims : b->dims, {}, arithmetic ? a->type : int(onnx::TensorProto::BOOL)};
      for (size_t i = 0; i < std::max(a->values.size(), b->values.size()); ++i) {
        const int64_t x = a->values[aScalar ? 0 : i], y = b->values[bScalar ? 0 : i];
        if (op == "Div" && y == 0) return std::nullopt;
        out.values.push_back(f->second(x, y));
      }
      return toProto(out);
    }
    if (op == "Neg" || op == "Not") {
      const IntTensor *a = in(0);
      if (!a) return std::nullopt;
      IntTensor out = *a;
      for (int64_t &v : out.values) v = op == "Neg" ? -v : int64_t(!v);
      return toProto(out);
    }
    if (op == "Cast") { // between the integer types shapes travel in, and to a condition
      const IntTensor *a = in(0);
      const int64_t to = intAttribute(node, "to", 0);
      if (!a || (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32 && to != onnx::TensorProto::BOOL))
        return std::nullopt;
      IntTensor out = *a;
      out.type = int(to);
      if (to == onnx::TensorProto::BOOL)
        for (int64_t &v : out.values) v = v != 0;
      return toProto(out);
    }
    if (op == "Gather") { // from a 1-D tensor
      const IntTensor *data = in(0), *index = in(1);
      const int64_t axis = intAttribute(node, "axis", 0);
      if (!data || !index || data->dims.size() != 1 || (axis != 0 && axis != -1))
        return std::nullopt;
      const int64_t n = int64_t(data->values.size());
      IntTensor out{index->dims, {}, data->type};
      for (int64_t i : index->values) {
        if (i < -n || i >= n) return std::nullopt;
        out.values.push_back(data->values[size_t(i < 0 ? i + n : i)]);
      }
      return toProto(out);
    }
    if (op == "Squeeze" || op == "Unsqueeze") { // the values stay; axes as an input (opset 13+) or attribute
      const IntTensor *data = in(0);
      if (!data) return std::nullopt;
      std::vector<int64_t> axes;
      if (node.input_size() > 1 && !node.input(1).empty()) {
        const IntTensor *a = in(1);
        if (!a) return std::nullopt;
        axes = a->values;
      } else {
        axes = detail::intsOf(node, "axes");
      }
      const int64_t rank = int64_t(data->dims.size()) + (op == "Unsqueeze" ? int64_t(axes.size()) : 0);
      std::set<int64_t> at;
      for (int64_t a : axes) {
        if (a < -rank || a >= rank) return std::nullopt;
        at.insert(a < 0 ? a + rank : a);
      }
      if (at.size() != axes.size()) return std::nullopt; // a repeated axis: invalid, left to inference
      IntTensor out{{}, data->values, data->type};
      if (op == "Squeeze") {
        for (int64_t d = 0; d < int64_t(data->dims.size()); ++d)
          if (!(data->dims[size_t(d)] == 1 && (at.empty() || at.count(d)))) out.dims.push_back(data->dims[size_t(d)]);
      } else {
        for (int64_t d = 0, from = 0; d < rank; ++d) out.dims.push_back(at.count(d) ? 1 : data->dims[size_t(from++)]);
      }
      return toProto(out);
    }
    if (op == "Concat") {
      IntTensor out{{0}, {}, in(0) ? in(0)->type : int(onnx::TensorProto::INT64)};
      for (int i = 0; i < node.input_size(); ++i) {
        const IntTensor *a = in(i);
        if (!a || a->dims.size() != 1) return std::nullopt;
        out.values.insert(out.values.end(), a->values.begin(), a->values.end());
      }
      out.dims[0] = int64_t(out.values.size());
      return toProto(out);
    }
    if (op == "Slice") { // of a 1-D tensor: ranges as inputs (opset 10+) or attributes (before)
      const IntTensor *data = in(0);
      std::vector<int64_t> starts, ends;
      if (node.input_size() > 1) {
        const IntTensor *st = in(1), *en = in(2), *axes = in(3), *steps = in(4);
        if (!st || !en || (node.input_size() > 3 && !node.input(3).empty() && !axes) ||
            (node.input_size() > 4 && !node.input(4).empty() && !steps) || (steps && steps->values[0] != 1))
          return std::nullopt;
        starts = st->values;
        ends = en->values;
      } else {
        starts = detail::intsOf(node, "starts");
        ends = detail::intsOf(node, "ends");
        const std::vector<int64_t> axes = detail::intsOf(node, "axes");
        if (!axes.empty() && (axes.size() != 1 || (axes[0] != 0 && axes[0] != -1))) return std::nullopt;
      }
      if (!data || data->dims.size() != 1 || starts.size() != 1 || ends.size() != 1) return std::nullopt;
      const int64_t n = int64_t(data->values.size());
      int64_t s = starts[0], e = ends[0];
      s = std::clamp<int64_t>(s < 0 ? s + n : s, 0, n);
      e = std::clamp<int64_t>(e < 0 ? e + n : e, 0, n);
      IntTensor out{{std::max<int64_t>(0, e - s)}, {}, data->type};
      for (int64_t i = s; i < e; ++i) out.values.push_back(data->values[size_t(i)]);
      return toProto(out);
    }
    if (op == "ConstantOfShape") {
      const IntTensor *shape = in(0);
      if (!shape) return std::nullopt;
      int64_t count = 1;
      for (int64_t d : shape->values) count *= d;
      if (count < 0 || count > 64) return std::nullopt;
      onnx::TensorProto value;
      value.set_data_type(onnx::TensorProto::FLOAT);
      value.add_float_data(0.0f);
      for (const auto &a : node.attribute())
        if (a.name() == "value") value = a.t();
      std::optional<std::vector<char>> one = tensorData(value);
      if (!one || one->empty()) return std::nullopt;
      onnx::TensorProto out;
      out.set_data_type(value.data_type());
      for (int64_t d : shape->values) out.add_dims(d);
      std::string raw;
      for (int64_t i = 0; i < count; ++i) raw.append(one->data(), one->size());
      out.set_raw_data(raw);
      return out;
    }
    return std::nullopt;
  }

  // The values whose extent along an axis is known only at run time: the outputs of NonZero,
  // Compress, Unique (but its inverse_indices) and NonMaxSuppression, and everything computed
  // from them. Their types hold bounds, which are not their shapes: nothing folds from them.
  std::set<std::string> dataDependentValues() const {
    std::set<std::string> values;
    const auto &nodes = model_.graph().node();
    for (const auto &n : nodes)
      if (detail::hasDataDependentExtent(n.op_type()))
        for (int o = 0; o < n.output_size(); ++o)
          if (!n.output(o).empty() && !(n.op_type() == "Unique" && o == 2)) values.insert(n.output(o));
    for (bool grew = !values.empty(); grew;) { // (the node list need not be in order)
      grew = false;
      for (const auto &n : nodes)
        if (std::any_of(n.input().begin(), n.input().end(), [&](const std::string &i) { return values.count(i) > 0; }))
          for (const std::string &o : n.output()) grew = values.insert(o).second || grew;
    }
    return values;
  }

  // Types the outputs of NonZero, Compress, Unique and NonMaxSuppression with their bounds, once
  // their inputs' shapes are known, so that inference gives the nodes after them static shapes
  // (they run over the bound); true when it typed one.
  bool pinDataDependentBounds() {
    const auto &nodes = model_.graph().node();
    if (std::none_of(nodes.begin(), nodes.end(),
                     [](const onnx::NodeProto &n) { return detail::hasDataDependentExtent(n.op_type()); }))
      return false;
    const auto shapes = staticShapes();
    auto shapeOf = [&](const std::string &name) -> std::optional<std::vector<int64_t>> {
      auto it = shapes.find(name);
      return it == shapes.end() ? std::nullopt : std::optional<std::vector<int64_t>>(it->second);
    };
    auto constantInts = [&](const std::string &name) -> std::optional<std::vector<int64_t>> {
      const onnx::TensorProto *t = constantValue(name);
      return t ? tensorInts(*t) : std::nullopt;
    };
    bool pinned = false;
    for (const auto &n : model_.graph().node()) {
      if (!detail::hasDataDependentExtent(n.op_type())) continue;
      const auto bounds = detail::dataDependentBounds(n, shapeOf, constantInts);
      if (!bounds) continue;
      for (int o = 0; o < n.output_size() && o < int(bounds->size()); ++o) {
        // (A declared shape is replaced: the bound is what the compiler reserves and runs over.)
        const auto known = shapes.find(n.output(o));
        if (n.output(o).empty() || (known != shapes.end() && known->second == (*bounds)[size_t(o)])) continue;
        onnx::ValueInfoProto *v = nullptr;
        for (auto &info : *model_.mutable_graph()->mutable_value_info())
          if (info.name() == n.output(o)) v = &info;
        for (auto &info : *model_.mutable_graph()->mutable_output())
          if (info.name() == n.output(o)) v = &info;
        if (!v) {
          v = model_.mutable_graph()->add_value_info();
          v->set_name(n.output(o));
        }
        auto *tensor = v->mutable_type()->mutable_tensor_type();
        if (tensor->elem_type() == onnx::TensorProto::UNDEFINED) {
          const auto input = types_.find(n.input(0)); // NonMaxSuppression's, NonZero's, Unique's indices: int64
          const bool keepsType = (n.op_type() == "Compress" || n.op_type() == "Unique") && o == 0;
          tensor->set_elem_type(keepsType && input != types_.end() ? input->second : onnx::TensorProto::INT64);
        }
        tensor->mutable_shape()->clear_dim();
        for (int64_t d : (*bounds)[size_t(o)]) tensor->mutable_shape()->add_dim()->set_dim_value(d);
        pinned = true;
      }
    }
    return pinned;
  }

  // Shape computations the compiler can do now become Constant nodes (same position, so unnamed
  // nodes keep their names): Shape and Size of values with static shapes, and small int64
  // arithmetic on constants. Shapes computed from them (Reshape(x, Shape(y))) then infer
  // statically. True when any node changed.
  bool foldStaticShapes() {
    const auto shapes = staticShapes();
    const std::set<std::string> dataDependent = dataDependentValues();
    std::map<std::string, IntTensor> known;
    for (const auto &t : model_.graph().initializer())
      if (auto v = fromProto(t)) known[t.name()] = *v;
    bool changed = false;
    for (auto &node : *model_.mutable_graph()->mutable_node()) {
      if (node.op_type() == "Constant") {
        for (const auto &a : node.attribute())
          if (a.name() == "value" && node.output_size() == 1)
            if (auto v = fromProto(a.t())) known[node.output(0)] = *v;
        continue;
      }
      if (node.output_size() != 1 || (!node.domain().empty() && node.domain() != "ai.onnx") ||
          dataDependent.count(node.output(0)))
        continue;
      std::optional<onnx::TensorProto> value = evaluate(node, shapes, known);
      if (!value) continue;
      if (auto v = fromProto(*value)) known[node.output(0)] = *v;
      node.clear_input();
      node.clear_attribute();
      node.set_op_type("Constant");
      auto *attr = node.add_attribute();
      attr->set_name("value");
      attr->set_type(onnx::AttributeProto::TENSOR);
      *attr->mutable_t() = *value;
      changed = true;
    }
    // An If whose condition is now known becomes the branch it takes (its nodes may fold next round).
    auto &nodes = *model_.mutable_graph()->mutable_node();
    for (int i = 0; i < nodes.size(); ++i) {
      if (nodes[i].op_type() != "If" || nodes[i].input_size() < 1) continue;
      auto cond = known.find(nodes[i].input(0));
      if (cond == known.end() || cond->second.values.size() != 1) continue;
      const std::string name = nodeName(nodes[i], i);
      if (std::string why = detail::inlineStaticIf(*model_.mutable_graph(), i, name, cond->second.values[0] != 0);
          !why.empty()) {
        problem(name, "If", "its condition is known at compile time, but its branch cannot replace it: " + why);
        return false;
      }
      return true; // the node list changed under the loop: the next round goes on
    }
    // A Loop whose trip count and condition are now known becomes its body once per iteration.
    for (int i = 0; i < nodes.size(); ++i) {
      if (nodes[i].op_type() != "Loop" || nodes[i].input_size() < 2 || nodes[i].input(0).empty()) continue;
      auto trips = known.find(nodes[i].input(0));
      auto cond = nodes[i].input(1).empty() ? known.end() : known.find(nodes[i].input(1));
      if (trips == known.end() || trips->second.values.size() != 1 ||
          (!nodes[i].input(1).empty() && (cond == known.end() || cond->second.values.size() != 1)))
        continue;
      const std::string name = nodeName(nodes[i], i);
      const int64_t count = cond != known.end() && cond->second.values[0] == 0 ? 0 : trips->second.values[0];
      if (std::string why = detail::unrollStaticLoop(*model_.mutable_graph(), i, name, report_.opset, count); !why.empty()) {
        problem(name, "Loop", "cannot be unrolled: " + why);
        notUnrolled_.insert(name);
        return false;
      }
      return true;
    }
    // A Scan whose sequence length is now known becomes its body once per step.
    for (int i = 0; i < nodes.size(); ++i) {
      if (nodes[i].op_type() != "Scan") continue;
      bool shaped = true; // (else later rounds may fix the shapes)
      for (const auto &in : nodes[i].input()) shaped = shaped && (in.empty() || shapes.count(in));
      if (!shaped) continue;
      const std::string name = nodeName(nodes[i], i);
      if (std::string why = detail::unrollStaticScan(*model_.mutable_graph(), i, name, report_.opset, shapes);
          !why.empty()) {
        problem(name, "Scan", "cannot be unrolled: " + why);
        notUnrolled_.insert(name);
        return false;
      }
      return true;
    }
    // Sequences built and read at positions now known become the tensors they hold (else why
    // not is kept for the support check, as later rounds may know more).
    {
      std::map<std::string, std::vector<int64_t>> ints;
      for (const auto &[name, t] : known) ints[name] = t.values;
      detail::SequenceResolution r = detail::resolveStaticSequences(*model_.mutable_graph(), report_.opset, shapes, ints);
      if (r.changed) return true;
      sequenceProblem_ = r;
    }
    // Einsum's result shape (ONNX's inference gives only its rank), from the equation, and the
    // ai.onnx.ml operators' (ONNX's inference gives at most their type): a TreeEnsembleRegressor's
    // and a LinearRegressor's [rows, targets], a TreeEnsembleClassifier's labels [rows] and scores
    // [rows, classes], a LinearClassifier's labels [rows] and scores [rows, classes (one: 2)], a
    // Scaler's, a Binarizer's and a Normalizer's the input's.
    for (const auto &node : nodes) {
      const bool ml = node.domain() == "ai.onnx.ml";
      bool shaped = true; // (every output; a classifier's scores may lack a shape its label has)
      for (const auto &o : node.output()) shaped = shaped && (o.empty() || shapes.count(o));
      if ((node.op_type() != "Einsum" && !ml) || node.output_size() < 1 || shaped) continue;
      const std::optional<std::vector<std::vector<int64_t>>> known = inputShapes(node, shapes);
      if (!known || known->empty()) continue;
      const std::vector<std::vector<int64_t>> &operands = *known;
      std::vector<std::pair<std::vector<int64_t>, int>> results; // per output: dims, element type
      const int64_t rows = operands[0].empty() ? 0 : operands[0][0];
      if (node.op_type() == "TreeEnsembleRegressor" || node.op_type() == "LinearRegressor") {
        if (operands[0].size() != 2) continue; // (reported by the support check)
        const int64_t targets = intAttribute(node, node.op_type() == "LinearRegressor" ? "targets" : "n_targets", 1);
        results.push_back({{rows, std::max<int64_t>(1, targets)}, onnx::TensorProto::FLOAT});
      } else if (node.op_type() == "TreeEnsembleClassifier") {
        int64_t classes = 0;
        for (const auto &a : node.attribute())
          if (a.name() == "classlabels_int64s") classes = a.ints_size();
        if (operands[0].size() != 2 || classes < 1) continue;
        results.push_back({{rows}, onnx::TensorProto::INT64});
        results.push_back({{rows, classes}, onnx::TensorProto::FLOAT});
      } else if (node.op_type() == "LinearClassifier") { // the intercepts give the classes; one scores two
        int64_t classes = 0;
        for (const auto &a : node.attribute())
          if (a.name() == "intercepts") classes = a.floats_size();
        if (operands[0].size() != 2 || classes < 1) continue; // (reported by the support check)
        results.push_back({{rows}, onnx::TensorProto::INT64});
        results.push_back({{rows, classes == 1 ? 2 : classes}, onnx::TensorProto::FLOAT});
      } else if (ml) { // Scaler, Binarizer, Normalizer: the input's shape
        results.push_back({operands[0], onnx::TensorProto::FLOAT});
      } else {
        auto parsed = detail::parseEinsum(stringAttribute(node, "equation"), operands);
        auto *labels = std::get_if<detail::EinsumLabels>(&parsed);
        if (!labels) continue; // (reported by the support check)
        std::vector<int64_t> dims;
        for (char label : labels->result) dims.push_back(labels->sizes.at(label));
        results.push_back({dims, onnx::TensorProto::FLOAT});
      }
      for (size_t r = 0; r < results.size() && int(r) < node.output_size(); ++r) {
        if (node.output(int(r)).empty()) continue;
        onnx::ValueInfoProto *info = nullptr;
        for (auto *list : {model_.mutable_graph()->mutable_value_info(), model_.mutable_graph()->mutable_output()})
          for (auto &v : *list)
            if (v.name() == node.output(int(r))) info = &v;
        if (!info) info = model_.mutable_graph()->add_value_info(), info->set_name(node.output(int(r)));
        if (!info->type().tensor_type().has_elem_type())
          info->mutable_type()->mutable_tensor_type()->set_elem_type(results[r].second);
        auto *shape = info->mutable_type()->mutable_tensor_type()->mutable_shape();
        shape->clear_dim();
        for (int64_t d : results[r].first) shape->add_dim()->set_dim_value(d);
      }
      changed = true;
    }
    return changed;
  }

  // Nodes renamed for the length of ONNX's shape inference, which passes over operators it does
  // not know; their names come back when it is done, or when it throws.
  struct HiddenFromInference {
    std::vector<std::pair<onnx::NodeProto *, std::string>> nodes;
    explicit HiddenFromInference(std::vector<std::pair<onnx::NodeProto *, std::string>> n) : nodes(std::move(n)) {}
    HiddenFromInference(const HiddenFromInference &) = delete;
    HiddenFromInference &operator=(const HiddenFromInference &) = delete;
    void restore() {
      for (auto &[node, op] : nodes) node->set_op_type(op);
      nodes.clear();
    }
    ~HiddenFromInference() { restore(); }
  };

  // ONNX's LayerNormalization inference indexes its input's dims at an axis outside the rank
  // without checking it (crashes, found by mutating the backend suite's models: an axis below
  // -rank, and one of 2^31), and the rank of an input inside the graph is known only from
  // inference. So inference sees -1 for any other axis (Y's shape does not depend on it) until
  // checkLayerNormAxes has compared each axis with its input's rank;
  // Mean's and InvStdDev's shapes, which do, are left to a last round with the model's axes
  // (their declared types put aside meanwhile, so that the guarded round does not contradict them).
  class AxesFromInference {
  public:
    explicit AxesFromInference(onnx::GraphProto &graph) : graph_(graph) {
      std::set<std::string> secondary;
      for (auto &node : *graph.mutable_node())
        if (node.op_type() == "LayerNormalization")
          for (auto &a : *node.mutable_attribute())
            if (a.name() == "axis" && a.i() != -1) {
              attributes_.push_back({&a, a.i()});
              a.set_i(-1);
              for (int o = 1; o < node.output_size(); ++o) secondary.insert(node.output(o));
            }
      for (auto &out : *graph.mutable_output())
        if (secondary.count(out.name())) {
          declared_.push_back({&out, out.type()});
          out.mutable_type()->mutable_tensor_type()->clear_shape();
        }
      secondary_ = std::move(secondary);
    }
    AxesFromInference(const AxesFromInference &) = delete;
    AxesFromInference &operator=(const AxesFromInference &) = delete;
    bool any() const { return !attributes_.empty(); }
    void restore() {
      for (auto &[attribute, value] : attributes_) attribute->set_i(value);
      for (auto &[out, type] : declared_) *out->mutable_type() = type;
      auto *infos = graph_.mutable_value_info();
      for (int v = infos->size() - 1; v >= 0; --v)
        if (secondary_.count(infos->Get(v).name())) infos->DeleteSubrange(v, 1);
      attributes_.clear();
      declared_.clear();
      secondary_.clear();
    }
    ~AxesFromInference() { restore(); }

  private:
    onnx::GraphProto &graph_;
    std::vector<std::pair<onnx::AttributeProto *, int64_t>> attributes_; // with the model's values
    std::vector<std::pair<onnx::ValueInfoProto *, onnx::TypeProto>> declared_;
    std::set<std::string> secondary_; // Mean and InvStdDev of the guarded nodes
  };
  // False (with a problem named at the node) when an axis lies outside its input's rank.
  bool checkLayerNormAxes() {
    bool ok = true;
    std::optional<std::map<std::string, std::vector<int64_t>>> shapes;
    const auto &nodes = model_.graph().node();
    for (int i = 0; i < nodes.size(); ++i) {
      if (nodes[i].op_type() != "LayerNormalization" || nodes[i].input_size() == 0) continue;
      if (!shapes) shapes = staticShapes();
      auto x = shapes->find(nodes[i].input(0));
      if (x == shapes->end()) continue; // no static shape: inferShapes names it
      const int64_t rank = int64_t(x->second.size()), axis = intAttribute(nodes[i], "axis", -1);
      if (axis < -rank || axis >= rank) {
        problem(nodeName(nodes[i], i), nodes[i].op_type(),
                "axis " + std::to_string(axis) + " is outside its input's rank " + std::to_string(rank));
        ok = false;
      }
    }
    return ok;
  }

  // ONNX 1.12's STFT shape inference takes onesided's default as 0 (the operator's is 1) and counts
  // the frames from the bins rather than the frame length (onnx/onnx#4920), and models exported
  // with it declare those shapes. So the check types STFT outputs itself, [batch, (samples -
  // frame_length) / frame_step + 1, onesided ? frame_length / 2 + 1 : frame_length, 2] once the
  // signal's shape and frame_step and frame_length (or the window's length) are known, replacing
  // a declared shape, and hides the nodes from ONNX's inference. What stops an STFT (a frame
  // longer than the signal, a window of another length, ...) is kept for checkNodes to report.
  std::vector<std::pair<onnx::NodeProto *, std::string>> typeStftOutputs() {
    std::vector<std::pair<onnx::NodeProto *, std::string>> hidden;
    onnx::GraphProto &graph = *model_.mutable_graph();
    std::map<std::string, std::vector<int64_t>> shapes;
    std::map<std::string, IntTensor> known;
    std::map<std::string, int> types;
    stftWaiting_.clear();
    for (auto &node : *graph.mutable_node()) {
      if (node.op_type() != "STFT" || !(node.domain().empty() || node.domain() == "ai.onnx") || node.input_size() < 2 ||
          node.output_size() < 1)
        continue;
      if (hidden.empty()) { // once per round, for a model that has STFT nodes
        shapes = staticShapes();
        for (const auto &t : graph.initializer())
          if (auto v = fromProto(t)) known[t.name()] = *v;
        for (const auto &c : graph.node())
          if (c.op_type() == "Constant" && c.output_size() == 1)
            if (const onnx::AttributeProto *a = detail::attribute(c, "value"))
              if (auto v = fromProto(a->t())) known[c.output(0)] = *v;
        for (const auto *list : {&graph.input(), &graph.value_info(), &graph.output()})
          for (const auto &v : *list)
            if (v.type().has_tensor_type()) types[v.name()] = v.type().tensor_type().elem_type();
      }
      hidden.push_back({&node, node.op_type()});
      node.set_op_type("STFT (typed by Fractal's check)");
      // Plain values, kUnknown until known (GCC 12 warns falsely about optionals passed around here).
      constexpr int64_t kUnknown = std::numeric_limits<int64_t>::min();
      auto scalar = [&](int i) {
        auto it = node.input_size() > i ? known.find(node.input(i)) : known.end();
        return it == known.end() || it->second.values.size() != 1 ? kUnknown : it->second.values[0];
      };
      auto given = [&](int i) { return node.input_size() > i && !node.input(i).empty(); };
      std::string &why = stftProblems_[node.output(0)];
      why.clear();
      auto signal = shapes.find(node.input(0));
      auto window = given(2) ? shapes.find(node.input(2)) : shapes.end();
      const int64_t step = scalar(1);
      int64_t length = kUnknown;
      if (given(3)) length = scalar(3);
      else if (window != shapes.end() && window->second.size() == 1) length = window->second[0];
      const int64_t onesided = intAttribute(node, "onesided", 1);
      if (signal == shapes.end() || signal->second.size() != 3 || (signal->second[2] != 1 && signal->second[2] != 2) ||
          !types.count(node.input(0))) {
        why = "its signal needs a static shape [batch, samples, 1 or 2]";
        if (signal == shapes.end()) stftWaiting_.push_back(node.input(0));
      } else if (!given(2) && !given(3))
        why = "it needs a frame_length or a window";
      else if (step == kUnknown || length == kUnknown)
        continue; // the check names the operands needed as constants (or the window's missing shape)
      else if (step < 1)
        why = "frame_step " + std::to_string(step) + " must be at least 1";
      else if (length < 1 || length > signal->second[1])
        why = "frame_length " + std::to_string(length) + " must be between 1 and the signal's " +
              std::to_string(signal->second[1]) + " samples";
      else if (given(2) && (window == shapes.end() || window->second != std::vector<int64_t>{length}))
        why = "its window must be [" + std::to_string(length) + "], one weight per sample of a frame";
      else if (onesided && signal->second[2] == 2)
        why = "onesided needs a real signal (its last dimension 1), this one is complex";
      if (!why.empty()) continue;
      const std::vector<int64_t> dims = {signal->second[0], (signal->second[1] - length) / step + 1,
                                         onesided ? length / 2 + 1 : length, 2};
      onnx::ValueInfoProto *typed = nullptr;
      for (auto *list : {graph.mutable_output(), graph.mutable_value_info()})
        for (auto &v : *list)
          if (v.name() == node.output(0)) typed = &v;
      if (!typed) {
        typed = graph.add_value_info();
        typed->set_name(node.output(0));
      }
      auto *tensor = typed->mutable_type()->mutable_tensor_type();
      tensor->set_elem_type(types[node.input(0)]);
      tensor->mutable_shape()->clear_dim();
      for (int64_t d : dims) tensor->mutable_shape()->add_dim()->set_dim_value(d);
    }
    return hidden;
  }

  void inferShapes() {
    try {
      // ONNX's own inference, strict: type and shape conflicts are errors naming the node. Shapes
      // that become known let Shape nodes fold, which can fix more shapes: a few rounds.
      onnx::ShapeInferenceOptions options{/*check_type=*/true, /*error_mode=*/1,
                                          /*enable_data_propagation=*/true};
      // (An If that folds to one branch takes rounds of its own, nested ones one each.)
      bool axesGuarded = false;
      for (int round = 0; round < 64; ++round) {
        HiddenFromInference hidden(typeStftOutputs());
        AxesFromInference axes(*model_.mutable_graph());
        axesGuarded = axesGuarded || axes.any();
        onnx::shape_inference::InferShapes(model_, detail::guardedSchemas(), options);
        hidden.restore();
        axes.restore();
        // (An STFT whose signal this inference typed is typed the next round.)
        bool stftSignalTyped = false;
        if (!stftWaiting_.empty()) {
          const auto shapes = staticShapes();
          for (const std::string &signal : stftWaiting_) stftSignalTyped = stftSignalTyped || shapes.count(signal);
        }
        if (!pinDataDependentBounds() && !foldStaticShapes() && !stftSignalTyped) break;
      }
      if (!checkLayerNormAxes()) return;
      if (axesGuarded) // Mean's and InvStdDev's shapes, with the model's own axes (now in range)
        onnx::shape_inference::InferShapes(model_, detail::guardedSchemas(), options);
    } catch (const std::exception &e) {
      std::string what = e.what();
      problem("", "", "shape inference failed: " + what.substr(0, what.find('\n')));
      return;
    }
    for (const auto &v : model_.graph().value_info())
      if (v.type().has_tensor_type())
        types_[v.name()] = v.type().tensor_type().elem_type();
    for (const auto &v : model_.graph().output())
      if (v.type().has_tensor_type())
        types_[v.name()] = v.type().tensor_type().elem_type();
    // Every node result needs a static shape (the compiler plans memory and tiles from it); one
    // that inference could not fix depends on run-time data (e.g. a Reshape to a computed shape).
    const auto &fixed = inferredShapes();
    const auto &nodes = model_.graph().node();
    for (int i = 0; i < nodes.size(); ++i) {
      // Constants are typed by their value; an unknown operator is reported as such; an Einsum
      // of static inputs has its shape unless its equation is wrong, which the check names;
      // NonZero's, Compress's, Unique's and NonMaxSuppression's extent is known at run time (bounded
      // by their inputs' shapes).
      if (nodes[i].op_type() == "Constant" || nodes[i].op_type() == "Einsum" ||
          detail::hasDataDependentExtent(nodes[i].op_type()) ||
          nodes[i].domain() == "ai.onnx.ml" || !findOpRule(nodes[i].op_type())) continue;
      for (const auto &o : nodes[i].output())
        if (!o.empty() && !fixed.count(o)) {
          problem(nodeName(nodes[i], i), nodes[i].op_type(),
                  "output '" + o + "' has no static shape after shape inference: shapes computed from "
                  "run-time data are not supported");
          break;
        }
    }
  }

  void checkNodes() {
    const auto &nodes = model_.graph().node();
    const std::map<std::string, std::vector<int64_t>> &shapes = inferredShapes();
    const std::set<std::string> dataDependent = dataDependentValues();
    for (int i = 0; i < nodes.size(); ++i) {
      const onnx::NodeProto &node = nodes[i];
      const std::string name = nodeName(node, i);
      if (!node.domain().empty() && node.domain() != "ai.onnx" &&
          !(node.domain() == "ai.onnx.ml" && detail::isMlOperator(node.op_type()))) {
        // ZipMap (which scikit-learn converters append to classifiers by default) makes a
        // sequence of maps from its input's probabilities: the message says how to do without.
        const bool zipMap = node.domain() == "ai.onnx.ml" && node.op_type() == "ZipMap";
        problem(name, node.op_type(),
                "operator " + node.domain() + "." + node.op_type() +
                    (zipMap ? " is not supported: its output is a sequence of maps and Fractal's packages hold "
                              "tensors only; its input '" + (node.input_size() ? node.input(0) : std::string()) +
                              "' holds the same probabilities (convert with skl2onnx's options={'zipmap': False}, or "
                              "make that tensor the graph output)"
                     : node.domain() == "ai.onnx.ml" ? " is not supported"
                                                     : " (a custom domain) is not supported"));
        continue;
      }
      if (node.op_type() == "If" && node.input_size() > 0) { // one whose condition folded is gone
        const std::vector<std::string> from = graphInputsBehind(node.input(0));
        std::string names;
        for (const std::string &n : from) names += (names.empty() ? "'" : ", '") + n + "'";
        problem(name, node.op_type(),
                "its condition '" + node.input(0) + "' is only known at run time" +
                    (from.empty() ? std::string(": ") : " (it depends on input " + names + "): ") +
                    "Fractal compiles the branch a condition known at compile time selects" +
                    (from.empty() ? std::string("") : "; bind " + names + " with --bind-input NAME=FILE.npy"));
        continue;
      }
      if (node.op_type() == "Scan" || node.op_type() == "Loop") { // one of static length is gone (unrolled)
        if (!notUnrolled_.count(name))
          problem(name, node.op_type(),
                  node.op_type() == "Scan" ? "cannot be unrolled: its inputs need static shapes"
                                           : "cannot be unrolled: its trip count and condition must be known at compile "
                                             "time (constants, or graph inputs bound with --bind-input)");
        continue;
      }
      if (detail::isSequenceOp(node.op_type())) { // one resolved at compile time is gone
        const detail::SequenceResolution &why = sequenceProblem_;
        // The reason once, at the node it concerns (a graph output's: at every sequence op).
        const std::string rule = "sequences are compiled as the tensors they hold, when built from tensors and read "
                                 "at positions known at compile time";
        problem(name, node.op_type(),
                why.why.empty()         ? rule
                : why.node == name      ? rule + ": here " + why.why
                : why.node.empty()      ? rule + ": " + why.why
                                        : "its graph's sequences are not compiled: see node '" + why.node + "'");
        continue;
      }
      const OpRule *rule = findOpRule(node.op_type());
      if (!rule) {
        problem(name, node.op_type(), "operator " + node.op_type() + " is not supported");
        continue;
      }
      bool ok = true;
      for (const auto &a : node.attribute()) {
        auto it = std::find_if(rule->attributes.begin(), rule->attributes.end(),
                               [&](const detail::AttributeRule &r) { return r.name == a.name(); });
        if (it == rule->attributes.end()) {
          problem(name, node.op_type(), "attribute '" + a.name() + "' is not supported");
          ok = false;
          continue;
        }
        if (it->allowed.empty())
          continue;
        const std::string value = attributeValue(a);
        if (std::find(it->allowed.begin(), it->allowed.end(), value) == it->allowed.end()) {
          std::string allowed;
          for (const auto &v : it->allowed)
            allowed += (allowed.empty() ? "" : ", ") + v;
          problem(name, node.op_type(), "attribute " + a.name() + "='" + value +
                                            "' is not supported (supported: " + allowed + ")");
          ok = false;
        }
      }
      // Dropout is the identity (its mask all true) in inference, or in training with ratio 0;
      // training with another ratio drops elements at random, which a compiled model does not.
      if (node.op_type() == "Dropout" && node.input_size() > 2 && !node.input(2).empty()) {
        const onnx::TensorProto *training = constantValue(node.input(2));
        const std::optional<std::vector<char>> flag = training ? tensorData(*training) : std::nullopt;
        const onnx::TensorProto *ratio = node.input(1).empty() ? nullptr : constantValue(node.input(1));
        const std::optional<std::vector<float>> r = ratio ? tensorFloats(*ratio) : std::nullopt;
        if (flag && !flag->empty() && flag->front() && !(r && r->size() == 1 && r->front() == 0.0f)) {
          problem(name, node.op_type(), "Dropout in training mode drops elements at random: only a constant ratio of 0 "
                                        "(the identity) is supported there");
          ok = false;
        }
      }
      // Inputs the compiler needs as constants: they become attributes (bounds, pads, slice
      // ranges) or fix a shape. A graph input here would make shapes depend on runtime data.
      for (int idx : constantSlotsOf(node)) {
        if (idx >= node.input_size() || node.input(idx).empty() || isConstant(node.input(idx)))
          continue;
        problem(name, node.op_type(), "input '" + node.input(idx) + "' must be a constant (an "
                                      "initializer or a Constant node), not runtime data");
        ok = false;
      }
      // Pow: a constant exponent the importer rewrites (detail::powerExponent), or any other
      // float32 or integer one, per element on the vector unit (exp(y ln|x|) with the sign fixed
      // up); only exponents of other types are refused. An integer base takes integer exponents
      // only (by squaring on the scalar unit).
      if (node.op_type() == "Pow" && node.input_size() > 1) {
        const onnx::TensorProto *y = constantValue(node.input(1));
        const auto type = types_.find(node.input(1));
        const bool accepted = y ? std::holds_alternative<double>(detail::powerExponent(*y)) || tensorFloats(*y) || tensorInts(*y)
                                : type == types_.end() || type->second == onnx::TensorProto::FLOAT ||
                                      ((detail::kIntegers >> type->second) & 1u);
        const auto base = types_.find(node.input(0));
        const bool integerBase = base != types_.end() && ((detail::kIntegers >> base->second) & 1u);
        if (!accepted) {
          problem(name, node.op_type(), y ? "the exponent must be float32, int32 or int64"
                                          : "a run-time exponent must be float32 or an integer type");
          ok = false;
        } else if (integerBase && type != types_.end() && !((detail::kIntegers >> type->second) & 1u)) {
          problem(name, node.op_type(), "an integer base needs an integer exponent (ONNX Runtime computes a "
                                        "float exponent's power in double precision, which Fractal has not)");
          ok = false;
        }
      }
      // NonZero's, Compress's, Unique's (but its inverse_indices) and NonMaxSuppression's results
      // have an extent known only at run time: the package carries it for a model output (package
      // Tensor::dynamicAxis). The ops after them run over its bound; those that would read the
      // bound as the extent cannot (detail::carriesDataDependentExtent; the compiler checks the
      // axes). Compress and Unique keep their data's type, which float16 and float64 (computed as
      // float32) would not.
      if (!detail::carriesDataDependentExtent(node.op_type()) && !dataDependent.empty())
        for (const std::string &in : node.input())
          if (dataDependent.count(in)) {
            problem(name, node.op_type(), "reads '" + in + "', whose extent is known only at run time (it comes from "
                                          "NonZero, Compress, Unique or NonMaxSuppression), which a " + node.op_type() +
                                          " cannot take: reshaping, transposing, slicing, gathering, casting, "
                                          "element-wise ops and reductions and matrix products along other axes can");
            ok = false;
            break;
          }
      if (detail::hasDataDependentExtent(node.op_type())) {
        const auto t = types_.find(node.input(0));
        if ((node.op_type() == "Compress" || node.op_type() == "Unique") && t != types_.end() &&
            (t->second == onnx::TensorProto::FLOAT16 || t->second == onnx::TensorProto::DOUBLE)) {
          problem(name, node.op_type(), "input '" + node.input(0) + "' has type " + detail::elementTypeName(t->second) +
                                            ", which is computed as float32: " + node.op_type() + " keeps its data's type");
          ok = false;
        }
      }
      // Its limit and thresholds, when constants, are one value each; ONNX Runtime refuses an IoU
      // threshold outside [0, 1]. (Run-time ones are read as they come.)
      if (node.op_type() == "NonMaxSuppression")
        for (int slot : {2, 3, 4}) {
          const onnx::TensorProto *t =
              node.input_size() > slot && !node.input(slot).empty() ? constantValue(node.input(slot)) : nullptr;
          if (!t) continue;
          const std::optional<std::vector<float>> v = slot == 2 ? std::nullopt : tensorFloats(*t);
          const std::optional<std::vector<int64_t>> n = slot == 2 ? tensorInts(*t) : std::nullopt;
          const char *what = slot == 2 ? "max_output_boxes_per_class must be one int64"
                             : slot == 3 ? "iou_threshold must be one value in [0, 1]"
                                         : "score_threshold must be one float32";
          const bool one = slot == 2 ? n && n->size() == 1 : v && v->size() == 1;
          if (!one || (slot == 3 && !((*v)[0] >= 0.0f && (*v)[0] <= 1.0f))) {
            problem(name, node.op_type(), what);
            ok = false;
          }
        }
      // RoiAlign samples each bin on a fixed grid; sampling_ratio 0 (the default) would size it from
      // each run-time region (ceil(region / output)), a shape no static compile can give.
      if (node.op_type() == "RoiAlign") {
        const int64_t ratio = intAttribute(node, "sampling_ratio", 0);
        if (ratio <= 0) {
          problem(name, node.op_type(), "sampling_ratio " + std::to_string(ratio) + " (samples per bin from each "
                                        "region's run-time size) is not supported: give sampling_ratio > 0");
          ok = false;
        }
      }
      // Where's rule checks its condition (bool); the selected values must be float32 or
      // integers (OneHot's values input: float32 or int32).
      if (const int selected = node.op_type() == "OneHot" ? 2 : 1;
          (node.op_type() == "Where" || node.op_type() == "OneHot") && node.input_size() > selected)
        if (auto t = types_.find(node.input(selected));
            t != types_.end() && t->second != onnx::TensorProto::FLOAT && t->second != onnx::TensorProto::INT32 &&
            !(((detail::kScalarIntegers >> t->second) & 1u) && node.op_type() == "Where")) {
          problem(name, node.op_type(), "input '" + node.input(selected) + "' has type " +
                                            detail::elementTypeName(t->second) + ", which this operator does not support (" +
                                            (node.op_type() == "Where" ? "float32 or integers)" : "float32 or int32)"));
          ok = false;
        }
      const bool treeEnsemble = node.op_type() == "TreeEnsembleRegressor" || node.op_type() == "TreeEnsembleClassifier";
      if (node.domain() == "ai.onnx.ml" && !treeEnsemble) {
        auto x = shapes.find(node.input(0));
        if (std::string why = x == shapes.end() ? "" : detail::mlOperatorProblem(node, x->second); !why.empty()) {
          problem(name, node.op_type(), why);
          ok = false;
        }
      }
      if (treeEnsemble) {
        auto x = shapes.find(node.input(0));
        const auto parsed = x == shapes.end() || x->second.size() != 2
                                ? std::variant<detail::TreeTables, std::string>("the input must be a matrix [rows, features]")
                                : detail::readTreeEnsemble(node, x->second[1]);
        if (auto *why = std::get_if<std::string>(&parsed)) {
          problem(name, node.op_type(), *why);
          ok = false;
        }
      }
      if (node.op_type() == "Einsum") {
        const std::string equation = stringAttribute(node, "equation");
        const auto operands = inputShapes(node, shapes);
        const auto parsed = operands ? detail::parseEinsum(equation, *operands)
                                     : std::variant<detail::EinsumLabels, std::string>("an input has no static shape");
        if (auto *why = std::get_if<std::string>(&parsed)) {
          problem(name, node.op_type(), *why);
          ok = false;
        }
      }
      if (node.op_type() == "TfIdfVectorizer") {
        auto x = shapes.find(node.input(0));
        const auto parsed = x != shapes.end() && (x->second.size() == 1 || x->second.size() == 2)
                                ? detail::readTfIdf(node)
                                : std::variant<detail::TfIdfTables, std::string>("its input must be [tokens] or [rows, tokens]");
        if (auto *why = std::get_if<std::string>(&parsed)) {
          problem(name, node.op_type(), *why);
          ok = false;
        }
      }
      if (node.op_type() == "STFT" && node.output_size() > 0) {
        if (auto why = stftProblems_.find(node.output(0)); why != stftProblems_.end() && !why->second.empty()) {
          problem(name, node.op_type(), why->second);
          ok = false;
        }
      }
      if (node.op_type() == "Det") { // a cofactor expansion: M! products, composed for small M
        auto x = shapes.find(node.input(0));
        std::string why;
        if (x == shapes.end() || x->second.size() < 2) why = "its input needs a static shape [..., M, M]";
        else if (x->second.back() != x->second[x->second.size() - 2]) why = "its matrices are not square";
        else if (x->second.back() < 1 || x->second.back() > detail::kMaxDetOrder)
          why = "its matrices are " + std::to_string(x->second.back()) + "x" + std::to_string(x->second.back()) +
                ": the cofactor expansion is composed up to " + std::to_string(detail::kMaxDetOrder) + "x" +
                std::to_string(detail::kMaxDetOrder);
        if (!why.empty()) {
          problem(name, node.op_type(), why);
          ok = false;
        }
      }
      if (node.op_type() == "LSTM" || node.op_type() == "GRU" || node.op_type() == "RNN") {
        if (std::string why = recurrentProblem(node, shapes); !why.empty()) {
          problem(name, node.op_type(), why);
          ok = false;
        }
      }
      // Optional extra outputs: an inference BatchNormalization's statistics of opsets before 14
      // have no NPU kernel; a training-mode BatchNormalization's running mean and variance
      // (outputs 1 and 2) do, and MaxPool's indices (composed from the window's taps) for a 2-D
      // float pooling whose flat indices float32 holds exactly.
      int usedOutputs = 0;
      for (const auto &o : node.output())
        usedOutputs += !o.empty();
      const bool training = intAttribute(node, "training_mode", 0) != 0;
      if (usedOutputs > 1 && node.op_type() == "BatchNormalization" && !training) {
        problem(name, node.op_type(), "only the first output is supported (this node uses " +
                                          std::to_string(usedOutputs) + ")");
        ok = false;
      }
      if (usedOutputs > 1 && node.op_type() == "MaxPool") {
        auto x = shapes.find(node.input(0));
        auto t = types_.find(node.input(0));
        int64_t elements = 1;
        if (x != shapes.end())
          for (int64_t d : x->second) elements *= d;
        const bool floats = t != types_.end() && (t->second == onnx::TensorProto::FLOAT || t->second == onnx::TensorProto::FLOAT16 ||
                                                  t->second == onnx::TensorProto::DOUBLE);
        if (x == shapes.end() || x->second.size() != 4 || !floats || elements >= (int64_t(1) << 24)) {
          problem(name, node.op_type(), "the Indices output is supported for 2-D float pooling (float32, float16, "
                                        "float64) of fewer than 2^24 elements only");
          ok = false;
        }
      }
      // The data input's type (and CastLike's target type, its second input's). Float16 and
      // float64 are computed as float32 (the importer converts them), so an operator of float32
      // takes them too.
      const unsigned dataTypes = rule->dataTypes | (rule->dataTypes & detail::kFloat ? detail::kFloat16 | detail::kDouble : 0u);
      for (int idx : {0, node.op_type() == "CastLike" ? 1 : -1}) {
        if (idx < 0 || node.input_size() <= idx || node.input(idx).empty()) continue;
        auto t = types_.find(node.input(idx));
        if (t != types_.end() && !(dataTypes & (1u << t->second))) {
          problem(name, node.op_type(), "input '" + node.input(idx) + "' has type " +
                                            detail::elementTypeName(t->second) +
                                            ", which this operator does not support");
          ok = false;
        }
      }
      if (ok && integerOnScalarUnit(node))
        report_.nodes.push_back({name, node.op_type(), Placement::Scalar, kScalarIntegerReason});
      else if (ok)
        report_.nodes.push_back({name, node.op_type(), rule->placement, rule->reason});
    }
  }

  // Whether the compiler runs this node element by element on the scalar unit, as its placement
  // pass (graph::scalarIntegerOperand) does: arithmetic, comparisons and bit shifts (by the data
  // input) and Where (by its values) on integers other than int32 (int32 division and powers too), casts
  // between integers of which one is such, and casts between float32 and int64, uint32, uint64.
  bool integerOnScalarUnit(const onnx::NodeProto &node) const {
    static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Mod", "Equal", "Greater",
                                               "GreaterOrEqual", "Less", "LessOrEqual", "Where", "BitShift",
                                               "Clip", "Cast", "Pow"};
    const int decides = node.op_type() == "Where" ? 1 : 0;
    if (!kOps.count(node.op_type()) || node.input_size() <= decides) return false;
    auto t = types_.find(node.input(decides));
    if (t == types_.end()) return false;
    auto scalarInteger = [](int type) { return (detail::kScalarIntegers >> type) & 1u; };
    auto integer = [&](int type) { return scalarInteger(type) || type == onnx::TensorProto::INT32 || type == onnx::TensorProto::BOOL; };
    if (node.op_type() == "Cast") {
      int to = 0;
      for (const auto &a : node.attribute())
        if (a.name() == "to") to = int(a.i());
      auto wide = [&](int type) {
        return type == onnx::TensorProto::INT64 || type == onnx::TensorProto::UINT32 || type == onnx::TensorProto::UINT64;
      };
      auto float32 = [](int type) { return type == onnx::TensorProto::FLOAT || type == onnx::TensorProto::DOUBLE; };
      if ((float32(t->second) && wide(to)) || (wide(t->second) && float32(to)))
        return true;
      return integer(t->second) && integer(to) && (scalarInteger(t->second) || scalarInteger(to));
    }
    return scalarInteger(t->second) ||
           ((node.op_type() == "Div" || node.op_type() == "Pow") && t->second == onnx::TensorProto::INT32);
  }

  // What the importer's unrolling of an LSTM, GRU or RNN does not do, or "": activations other
  // than Sigmoid, Tanh and Relu, and sequence_lens that are not all the full sequence (the check
  // above has made sure they are a constant).
  std::string recurrentProblem(const onnx::NodeProto &node,
                               const std::map<std::string, std::vector<int64_t>> &shapes) const {
    for (const auto &a : node.attribute())
      if (a.name() == "activations")
        for (const std::string &f : a.strings())
          if (f != "Sigmoid" && f != "Tanh" && f != "Relu")
            return "activation " + f + " is not supported (Sigmoid, Tanh and Relu are)";
    auto x = shapes.find(node.input(0));
    if (x == shapes.end() || x->second.size() != 3) return "";
    const int64_t layout = intAttribute(node, "layout", 0);
    const int64_t seq = x->second[layout ? 1 : 0], batch = x->second[layout ? 0 : 1], features = x->second[2];
    // The weights' and states' shapes follow from X, the gates, the direction and hidden_size
    // (ONNX's inference does not compare them; the importer slices the gates out of them).
    const int64_t gates = node.op_type() == "LSTM" ? 4 : node.op_type() == "GRU" ? 3 : 1;
    int64_t dirs = 1, hidden = intAttribute(node, "hidden_size", -1);
    for (const auto &a : node.attribute())
      if (a.name() == "direction" && a.s() == "bidirectional") dirs = 2;
    if (auto r = shapes.find(node.input_size() > 2 ? node.input(2) : ""); hidden < 0 && r != shapes.end() && r->second.size() == 3)
      hidden = r->second[2];
    if (hidden <= 0) return "";
    // Unrolled per step and direction into about 4 ops a gate and 6 more (slices, products,
    // activations, the state update).
    const int64_t perStep = 4 * gates + 6;
    if (seq > detail::kMaxUnrolledNodes / (dirs * perStep))
      return "its " + std::to_string(seq) + " steps would unroll into more than " + std::to_string(detail::kMaxUnrolledNodes) +
             " nodes (about " + std::to_string(perStep) + " a step and direction)";
    const std::vector<int64_t> state = layout ? std::vector<int64_t>{batch, dirs, hidden} : std::vector<int64_t>{dirs, batch, hidden};
    const std::vector<std::pair<int, std::vector<int64_t>>> expected = {
        {1, {dirs, gates * hidden, features}}, {2, {dirs, gates * hidden, hidden}}, {3, {dirs, 2 * gates * hidden}},
        {5, state}, {6, state}, {7, {dirs, 3 * hidden}}};
    for (const auto &[index, want] : expected) {
      if (node.input_size() <= index || node.input(index).empty()) continue;
      auto have = shapes.find(node.input(index));
      if (have != shapes.end() && have->second != want)
        return "input " + std::to_string(index) + " ('" + node.input(index) + "') is " + dimsText(have->second) + "; X " +
               dimsText(x->second) + " with hidden_size " + std::to_string(hidden) + " and " + std::to_string(dirs) +
               " direction(s) needs " + dimsText(want);
    }
    if (node.input_size() <= 4 || node.input(4).empty()) return "";
    const onnx::TensorProto *lens = constantValue(node.input(4));
    if (!lens) return "";
    std::optional<std::vector<int64_t>> values = tensorInts(*lens);
    if (!values || std::any_of(values->begin(), values->end(), [&](int64_t v) { return v != seq; }))
      return "sequence_lens must give every batch entry the full sequence (" + std::to_string(seq) +
             " steps): shorter sequences are not supported";
    return "";
  }

  // The graph inputs (initializers aside) a value is computed from.
  std::vector<std::string> graphInputsBehind(const std::string &value) const {
    std::map<std::string, const onnx::NodeProto *> producer;
    for (const auto &n : model_.graph().node())
      for (const auto &o : n.output()) producer[o] = &n;
    std::set<std::string> inputs, seen;
    for (const auto &i : model_.graph().input())
      if (!isInitializer(i.name())) inputs.insert(i.name());
    std::vector<std::string> found, work = {value};
    while (!work.empty()) {
      const std::string v = work.back();
      work.pop_back();
      if (v.empty() || !seen.insert(v).second) continue;
      if (inputs.count(v)) found.push_back(v);
      if (auto p = producer.find(v); p != producer.end())
        work.insert(work.end(), p->second->input().begin(), p->second->input().end());
    }
    std::sort(found.begin(), found.end());
    return found;
  }

  // The value of an initializer or a Constant node's output; nullptr for anything else.
  const onnx::TensorProto *constantValue(const std::string &name) const {
    for (const auto &t : model_.graph().initializer())
      if (t.name() == name)
        return &t;
    for (const auto &n : model_.graph().node())
      if (n.op_type() == "Constant" && n.output_size() > 0 && n.output(0) == name)
        for (const auto &a : n.attribute())
          if (a.name() == "value" && a.has_t())
            return &a.t();
    return nullptr;
  }

  // An initializer, or the output of a Constant or Shape node (static shapes make Shape constant).
  bool isConstant(const std::string &name) const {
    if (isInitializer(name))
      return true;
    for (const auto &n : model_.graph().node())
      if ((n.op_type() == "Constant" || n.op_type() == "Shape") && n.output_size() > 0 &&
          n.output(0) == name)
        return true;
    return false;
  }

  CheckReport &report_;
  const std::vector<InputShape> &shapes_;
  std::set<std::string> notUnrolled_; // Scan and Loop nodes whose unrolling failed (reported then)
  detail::SequenceResolution sequenceProblem_; // why the graph's sequences could not be resolved (last round)
  std::map<std::string, std::string> stftProblems_; // by STFT output: why it cannot be computed (last round)
  std::vector<std::string> stftWaiting_; // STFT signals without a static shape before the last inference
  onnx::ModelProto model_;
  std::map<std::string, int> types_;
  std::optional<std::map<std::string, std::vector<int64_t>>> inferred_; // inferredShapes()
  bool sorted_ = false;
};

} // namespace

CheckReport checkOnnxBytes(const std::string &bytes, const std::string &name,
                           const std::vector<InputShape> &shapes) {
  onnx::ModelProto unused;
  return detail::checkAndInfer(bytes, name, shapes, unused);
}

CheckReport detail::checkAndInfer(const std::string &bytes, const std::string &name,
                                  const std::vector<InputShape> &shapes, onnx::ModelProto &model) {
  CheckReport report;
  report.model = name;
  Checker checker(report, shapes);
  checker.run(bytes);
  model = checker.takeModel();
  return report;
}

std::vector<std::string> inputsNeededAsConstants(const std::string &modelBytes) {
  onnx::ModelProto model;
  std::vector<std::string> names;
  if (!model.ParseFromString(modelBytes)) return names;
  std::set<std::string> initializers;
  for (const auto &t : model.graph().initializer()) initializers.insert(t.name());
  for (const auto &in : model.graph().input()) {
    if (initializers.count(in.name())) continue;
    bool needed = false;
    for (const auto &node : model.graph().node())
      for (int idx : constantSlotsOf(node)) needed |= idx < node.input_size() && node.input(idx) == in.name();
    if (needed) names.push_back(in.name());
  }
  return names;
}

Expected<CheckReport> checkOnnxModel(const std::string &path,
                                     const std::vector<InputShape> &shapes) {
  Expected<std::string> bytes = readTextFile(path);
  if (!bytes)
    return bytes.takeError();
  return checkOnnxBytes(*bytes, path, shapes);
}

std::string CheckReport::text() const {
  std::ostringstream os;
  os << model << ": opset " << opset;
  if (upgradedFrom)
    os << " (upgraded from opset " << upgradedFrom << " by ONNX's version converter)";
  if (!producer.empty())
    os << ", from " << producer;
  os << "\n";
  for (const std::string &i : inputs)
    os << "  input " << i << "\n";
  std::map<std::string, int> perPlacement;
  for (const NodeReport &n : nodes)
    ++perPlacement[placementName(n.placement)];
  for (const std::string &n : notes)
    os << "  note: " << n << "\n";
  os << "  " << nodes.size() << " supported node(s):";
  for (const auto &[where, count] : perPlacement)
    os << " " << count << " " << where;
  os << "\n";
  if (!problems.empty()) {
    os << "  " << problems.size() << " problem(s):\n";
    for (const Problem &p : problems) {
      os << "    ";
      if (!p.node.empty())
        os << "node '" << p.node << "' (" << p.opType << "): ";
      os << p.message << "\n";
    }
  }
  return os.str();
}

std::string CheckReport::json() const {
  JsonWriter j;
  j.beginObject().field("schema", "fractal.compile.check/1").field("model", model)
      .field("opset", opset).field("producer", producer).field("supported", ok());
  if (upgradedFrom)
    j.field("upgraded_from_opset", upgradedFrom);
  j.key("inputs").beginArray();
  for (const std::string &i : inputs)
    j.value(i);
  j.endArray().key("nodes").beginArray();
  for (const NodeReport &n : nodes)
    j.beginObject().field("node", n.name).field("op", n.opType)
        .field("placement", placementName(n.placement)).field("reason", n.reason).endObject();
  j.endArray().key("notes").beginArray();
  for (const std::string &n : notes)
    j.value(n);
  j.endArray().key("problems").beginArray();
  for (const Problem &p : problems)
    j.beginObject().field("node", p.node).field("op", p.opType).field("message", p.message).endObject();
  j.endArray().endObject();
  return j.str() + "\n";
}

} // namespace fractal::onnx_frontend
