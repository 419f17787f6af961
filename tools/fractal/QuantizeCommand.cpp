// `fractal quantize`: post-training quantization (OnnxQuantize.h), calibrated on the simulated
// NPU. The float model, with the activations to quantize as extra outputs, is compiled and run
// (functional mode) on each calibration sample; their ranges become the QDQ model's uint8 scales.
#include "ArgParser.h"
#include "Commands.h"
#include "ModelRun.h"

#include "fractal/config/ChipConfig.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/onnx/OnnxQuantize.h"
#include "fractal/onnx/OnnxTensor.h"
#include "fractal/support/File.h"
#include "fractal/support/Npy.h"

#include <cstdio>
#include <map>

namespace fractal::cli {

int runQuantizeCommand(const Args &args) {
  std::string model, output, target = "edge", shapes;
  std::vector<std::string> samples;
  ArgParser parser("fractal quantize", "post-training quantization: uint8 activations and int8 weights for the "
                   "matrix products, calibrated on the simulated NPU, written as a QDQ ONNX model");
  parser.positional("MODEL.onnx", "the float32 model", &model);
  parser.option("-o", "OUT.onnx", "the quantized model (QuantizeLinear/DequantizeLinear pairs)", &output);
  parser.list("--calibrate", "NAME=FILE.npy", "a calibration input; repeat a name for more samples (the k-th "
              "file of each input makes sample k)", &samples);
  parser.option("--input-shape", "SHAPES", "fix input dims as fractal compile does", &shapes);
  parser.option("--target", "NAME|FILE", "the chip the calibration runs on (default: edge)", &target);
  parser.epilog("EXIT CODES: 0 ok, 2 bad model, input or flag, 3 the device faulted.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (output.empty()) return reportError(Error::badInput("fractal quantize: give the output model with -o OUT.onnx"));
  if (samples.empty())
    return reportError(Error::badInput("fractal quantize: give calibration data with --calibrate NAME=FILE.npy"));

  Expected<std::vector<uint8_t>> bytes = readBinaryFile(model);
  if (!bytes) return reportError(bytes.error());
  onnx::ModelProto proto;
  if (!proto.ParseFromArray(bytes->data(), int(bytes->size())))
    return reportError(Error::badInput(model + ": not a valid ONNX model (the protobuf does not parse)"));
  Expected<onnx_frontend::QuantizationPlan> plan = onnx_frontend::planQuantization(proto);
  if (!plan) return reportError(Error::badInput(model + ": " + plan.error().message));

  // The calibration model: the float model with the activations as outputs, compiled once.
  Expected<onnx::ModelProto> calibration = onnx_frontend::withOutputs(proto, plan->activations);
  if (!calibration) return reportError(Error::badInput(model + ": " + calibration.error().message));
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config) return reportError(config.error());
  onnx_frontend::TemporaryModelFile file;
  if (Status s = onnx_frontend::writeTemporaryModel(*calibration, "calibration", file); !s) return reportError(s.error());
  Expected<pkg::Package> package = onnx_frontend::compileOnnxModel(file.path, shapes, *config, "");
  if (!package) return reportError(package.error());

  // Samples: the k-th file given for each input.
  Expected<std::map<std::string, std::vector<std::string>>> given =
      inputFiles(samples, *package, "fractal quantize", "--calibrate");
  if (!given) return reportError(given.error());
  std::map<std::string, std::vector<std::string>> &files = *given;
  size_t count = 0;
  for (uint32_t i : package->inputs) {
    const std::string &name = package->tensors[i].name;
    if (!files.count(name))
      return reportError(Error::badInput("fractal quantize: no calibration data for input '" + name + "'"));
    if (count && files[name].size() != count)
      return reportError(Error::badInput("fractal quantize: every input needs as many --calibrate files ('" + name +
                                         "' has " + std::to_string(files[name].size()) + ", another " +
                                         std::to_string(count) + ")"));
    count = files[name].size();
  }

  std::map<std::string, onnx_frontend::ValueRange> ranges;
  auto widen = [&](const std::string &name, const std::vector<float> &values) {
    auto [it, fresh] = ranges.emplace(name, onnx_frontend::ValueRange{});
    for (float v : values) {
      if (fresh) it->second = {v, v}, fresh = false;
      it->second.min = std::min(it->second.min, v);
      it->second.max = std::max(it->second.max, v);
    }
  };
  for (size_t k = 0; k < count; ++k) {
    std::vector<NpyArray> inputs;
    for (uint32_t i : package->inputs) {
      const pkg::Tensor &t = package->tensors[i];
      Expected<NpyArray> a = readInputNpy(files[t.name][k], t);
      if (!a) return reportError(a.error());
      if (t.dtype == pkg::DType::F32) widen(t.name, npyFloats(*a)); // an activation may be an input
      inputs.push_back(std::move(*a));
    }
    Expected<ModelRun> run = runOnDevice(*package, target, "functional", inputs, false);
    if (!run) return reportError(run.error());
    for (size_t o = 0; o < package->outputs.size(); ++o)
      if (package->tensors[package->outputs[o]].dtype == pkg::DType::F32)
        widen(package->tensors[package->outputs[o]].name, npyFloats(run->outputs[o]));
  }

  onnx_frontend::QuantizeSummary summary;
  Expected<onnx::ModelProto> quantized = onnx_frontend::quantizePlanned(proto, *plan, ranges, &summary);
  if (!quantized) return reportError(Error::badInput(model + ": " + quantized.error().message));
  std::string text;
  quantized->SerializeToString(&text);
  if (Status s = writeFileAtomically(output, text); !s) return reportError(s.error());
  std::printf("%s: %d matrix products quantized (%d activation tensors as uint8, calibrated on %zu sample(s) on %s; "
              "their weights as int8 per output channel, %.1f KB -> %.1f KB) -> %s\n",
              model.c_str(), summary.nodes, summary.activations, count, target.c_str(),
              double(summary.floatWeightBytes) / 1024, double(summary.int8WeightBytes) / 1024, output.c_str());
  return 0;
}

} // namespace fractal::cli
