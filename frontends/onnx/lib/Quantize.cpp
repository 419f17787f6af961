// Post-training quantization into the QDQ form (OnnxQuantize.h).
#include "fractal/onnx/OnnxQuantize.h"
#include "fractal/onnx/OnnxTensor.h"

#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace fractal::onnx_frontend {
namespace {

int64_t defaultOpset(const onnx::ModelProto &model) {
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

const onnx::TensorProto *floatInitializer(const onnx::GraphProto &g, const std::string &name) {
  for (const auto &t : g.initializer())
    if (t.name() == name && t.data_type() == onnx::TensorProto::FLOAT) return &t;
  return nullptr;
}

// The output-channel axis of a quantized node's weight: Conv's first, Gemm's by transB, MatMul's
// columns.
int weightAxis(const onnx::NodeProto &n) {
  if (n.op_type() == "Conv") return 0;
  if (n.op_type() == "Gemm")
    for (const auto &a : n.attribute())
      if (a.name() == "transB" && a.i() != 0) return 0;
  return 1;
}

onnx::TensorProto scalarTensor(const std::string &name, int type, double value) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  if (type == onnx::TensorProto::FLOAT) t.add_float_data(float(value));
  else t.add_int32_data(int32_t(value)); // uint8 / int8 live in int32_data
  return t;
}

onnx::NodeProto node(const std::string &op, const std::string &name, std::vector<std::string> inputs,
                     const std::string &output) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (const std::string &i : inputs) n.add_input(i);
  n.add_output(output);
  return n;
}

} // namespace

Expected<QuantizationPlan> planQuantization(const onnx::ModelProto &model) {
  if (defaultOpset(model) < 10)
    return Error::badInput("quantization needs opset 10 or later (QuantizeLinear); this model is opset " +
                           std::to_string(defaultOpset(model)));
  const onnx::GraphProto &g = model.graph();
  QuantizationPlan plan;
  std::set<std::string> seen;
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &n = g.node(i);
    const bool product = n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul";
    if (!product || n.input_size() < 2 || n.domain().size()) continue;
    const onnx::TensorProto *w = floatInitializer(g, n.input(1));
    const int rank = w ? w->dims_size() : 0;
    if (!w || (n.op_type() == "Conv" ? rank < 3 : rank != 2) || floatInitializer(g, n.input(0))) continue;
    plan.nodes.push_back(i);
    if (seen.insert(n.input(0)).second) plan.activations.push_back(n.input(0));
  }
  if (plan.nodes.empty())
    return Error::badInput("nothing to quantize: no Conv, Gemm or MatMul with a constant float32 weight");
  return plan;
}

Expected<onnx::ModelProto> withOutputs(const onnx::ModelProto &model, const std::vector<std::string> &names) {
  onnx::ModelProto copy = model;
  try {
    onnx::shape_inference::InferShapes(copy);
  } catch (const std::exception &e) {
    return Error::badInput(std::string("shape inference failed: ") + e.what());
  }
  onnx::GraphProto &g = *copy.mutable_graph();
  std::set<std::string> present;
  for (const auto &v : g.input()) present.insert(v.name());
  for (const auto &v : g.output()) present.insert(v.name());
  for (const std::string &name : names) {
    if (present.count(name)) continue;
    auto it = std::find_if(g.value_info().begin(), g.value_info().end(),
                           [&](const onnx::ValueInfoProto &v) { return v.name() == name; });
    if (it == g.value_info().end() || !it->type().has_tensor_type())
      return Error::badInput("tensor '" + name + "' has no type after shape inference");
    *g.add_output() = *it;
    present.insert(name);
  }
  return copy;
}

Expected<onnx::ModelProto> quantizePlanned(const onnx::ModelProto &model, const QuantizationPlan &plan,
                                           const std::map<std::string, ValueRange> &ranges, QuantizeSummary *summary) {
  onnx::ModelProto out = model;
  onnx::GraphProto &g = *out.mutable_graph();
  QuantizeSummary sum;
  const std::string one = "fractal_quantize/one", zero8 = "fractal_quantize/int8_zero";
  *g.add_initializer() = scalarTensor(one, onnx::TensorProto::FLOAT, 1.0);
  *g.add_initializer() = scalarTensor(zero8, onnx::TensorProto::INT8, 0);

  // Each activation: scale and zero point from its range (which must hold 0, so that zero
  // padding and ReLU's zeros are exact), then its QuantizeLinear / DequantizeLinear pair.
  std::map<std::string, std::vector<onnx::NodeProto>> activationNodes;
  for (const std::string &a : plan.activations) {
    auto r = ranges.find(a);
    if (r == ranges.end()) return Error::internal("no calibration range for '" + a + "'");
    const double lo = std::min(0.0, double(r->second.min)), hi = std::max(0.0, double(r->second.max));
    if (!std::isfinite(lo) || !std::isfinite(hi))
      return Error::badInput("tensor '" + a + "' took non-finite values in calibration; it cannot be quantized");
    const double scale = hi > lo ? (hi - lo) / 255.0 : 1.0;
    const double zero = std::clamp(std::nearbyint(-lo / scale), 0.0, 255.0);
    *g.add_initializer() = scalarTensor(a + "/scale", onnx::TensorProto::FLOAT, scale);
    *g.add_initializer() = scalarTensor(a + "/zero_point", onnx::TensorProto::UINT8, zero);
    activationNodes[a] = {node("QuantizeLinear", a + "/QuantizeLinear", {a, a + "/scale", a + "/zero_point"}, a + "/quantized"),
                          node("DequantizeLinear", a + "/DequantizeLinear", {a + "/quantized", a + "/scale", a + "/zero_point"},
                               a + "/dequantized")};
    ++sum.activations;
  }

  // Each weight: int8 per output channel, dequantized by a DequantizeLinear (scale 1) and a Mul by
  // the channels' scales, shaped to broadcast along the channel axis.
  std::map<std::string, std::vector<onnx::NodeProto>> weightNodes;
  std::set<std::string> quantizedWeights;
  for (int index : plan.nodes) {
    const onnx::NodeProto &n = g.node(index);
    const std::string &wName = n.input(1);
    if (weightNodes.count(wName + "#" + std::to_string(weightAxis(n)))) continue;
    const onnx::TensorProto *w = floatInitializer(g, wName);
    std::optional<std::vector<float>> values = w ? tensorFloats(*w) : std::nullopt;
    if (!values) return Error::badInput("weight '" + wName + "' of node '" + n.name() + "' is not readable float32");
    const int axis = weightAxis(n);
    std::vector<int64_t> dims(w->dims().begin(), w->dims().end());
    const int64_t channels = dims[size_t(axis)];
    int64_t inner = 1;
    for (size_t d = size_t(axis) + 1; d < dims.size(); ++d) inner *= dims[d];
    auto channelOf = [&](size_t i) { return int64_t(i) / inner % channels; };
    std::vector<double> maxAbs(size_t(channels), 0.0);
    for (size_t i = 0; i < values->size(); ++i)
      maxAbs[size_t(channelOf(i))] = std::max(maxAbs[size_t(channelOf(i))], std::fabs(double((*values)[i])));
    std::vector<float> scales(static_cast<size_t>(channels), 1.0f);
    for (int64_t c = 0; c < channels; ++c) scales[size_t(c)] = maxAbs[size_t(c)] > 0 ? float(maxAbs[size_t(c)] / 127.0) : 1.0f;
    std::string q(values->size(), '\0');
    for (size_t i = 0; i < values->size(); ++i)
      q[i] = char(int8_t(std::clamp(std::nearbyint(double((*values)[i]) / scales[size_t(channelOf(i))]), -127.0, 127.0)));
    const std::string tag = wName + (axis ? "/axis1" : "");
    onnx::TensorProto qt;
    qt.set_name(tag + "/quantized");
    qt.set_data_type(onnx::TensorProto::INT8);
    for (int64_t d : dims) qt.add_dims(d);
    qt.set_raw_data(q);
    *g.add_initializer() = qt;
    onnx::TensorProto st;
    st.set_name(tag + "/channel_scale");
    st.set_data_type(onnx::TensorProto::FLOAT);
    st.add_dims(channels);
    if (axis == 0)
      for (size_t d = 1; d < dims.size(); ++d) st.add_dims(1);
    for (float s : scales) st.add_float_data(s);
    *g.add_initializer() = st;
    weightNodes[wName + "#" + std::to_string(axis)] = {
        node("DequantizeLinear", tag + "/DequantizeLinear", {tag + "/quantized", one, zero8}, tag + "/integers"),
        node("Mul", tag + "/Scale", {tag + "/integers", tag + "/channel_scale"}, tag + "/dequantized")};
    quantizedWeights.insert(wName);
    sum.floatWeightBytes += int64_t(values->size()) * 4;
    sum.int8WeightBytes += int64_t(values->size()) + channels * 4;
  }

  // The nodes again, each quantized one after the pairs it reads (its activation's producer came
  // before it, so the order stays topological), its inputs the dequantized tensors.
  std::set<int> quantized(plan.nodes.begin(), plan.nodes.end());
  std::set<std::string> emitted;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i = 0; i < g.node_size(); ++i) {
    onnx::NodeProto n = g.node(i);
    if (quantized.count(i)) {
      const std::string a = n.input(0), w = n.input(1) + "#" + std::to_string(weightAxis(n));
      for (const std::string &key : {a, w})
        if (emitted.insert(key).second)
          for (const onnx::NodeProto &extra : key == a ? activationNodes[a] : weightNodes[w]) *nodes.Add() = extra;
      n.set_input(0, a + "/dequantized");
      n.set_input(1, weightNodes[w].back().output(0));
      ++sum.nodes;
    }
    *nodes.Add() = n;
  }
  g.mutable_node()->Swap(&nodes);

  // The float32 weights nobody reads any more go.
  std::set<std::string> read;
  for (const auto &n : g.node())
    for (const std::string &i : n.input()) read.insert(i);
  for (const auto &o : g.output()) read.insert(o.name());
  auto *inits = g.mutable_initializer();
  inits->erase(std::remove_if(inits->begin(), inits->end(),
                              [&](const onnx::TensorProto &t) { return quantizedWeights.count(t.name()) && !read.count(t.name()); }),
               inits->end());
  if (summary) *summary = sum;
  return out;
}

} // namespace fractal::onnx_frontend
