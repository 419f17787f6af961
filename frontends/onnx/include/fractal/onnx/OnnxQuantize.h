// Post-training quantization of a float32 ONNX model into the QDQ form that ONNX Runtime's
// quantization tools write and Fractal (and ONNX Runtime) run: what Ascend's AMCT does before ATC.
// The matrix products (Conv, and Gemm / MatMul with a constant 2-D weight) get uint8 activations
// (per tensor, asymmetric: the range calibration saw, widened to hold 0) and int8 weights (per
// output channel, symmetric), each quantized tensor between a QuantizeLinear and a
// DequantizeLinear; everything else stays float32. `fractal quantize` calibrates on the simulator
// (functional mode) and writes the model; `fractal run` then shows what 8-bit costs in accuracy.
#pragma once

#include "fractal/support/Error.h"

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fractal::onnx_frontend {

struct QuantizationPlan {
  std::vector<int> nodes;               // indices of the quantized nodes in the graph
  std::vector<std::string> activations; // their float data inputs, each once, in graph order
};
// The nodes quantizePlanned() would quantize; an error for a model below opset 10 (no
// QuantizeLinear) or with nothing to quantize.
Expected<QuantizationPlan> planQuantization(const onnx::ModelProto &model);

// `model` with `names` added as graph outputs (their types from ONNX shape inference), so that
// one run shows their values: the calibration run. Graph inputs among `names` are skipped (their
// values are the run's inputs).
Expected<onnx::ModelProto> withOutputs(const onnx::ModelProto &model, const std::vector<std::string> &names);

struct ValueRange {
  float min = 0, max = 0;
};
struct QuantizeSummary {
  int nodes = 0, activations = 0;
  int64_t floatWeightBytes = 0, int8WeightBytes = 0; // the quantized weights before and after
};
// The QDQ model: `ranges` (from calibration) holds every planned activation. Weights are scaled
// per output channel to [-127, 127] and dequantized as (q * 1) * scale[channel] (DequantizeLinear
// and a Mul, which opsets 10-12 express as well as 13's per-axis form).
Expected<onnx::ModelProto> quantizePlanned(const onnx::ModelProto &model, const QuantizationPlan &plan,
                                           const std::map<std::string, ValueRange> &ranges,
                                           QuantizeSummary *summary = nullptr);

} // namespace fractal::onnx_frontend
