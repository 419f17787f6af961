// `fractal vad`: voice activity detection with Silero VAD (models/ speech family) on the simulated
// NPU. The model is stateful (its LSTM state goes from one chunk to the next), so this command
// loads the package once and runs it chunk by chunk through the runtime's C++ API.
#include "ArgParser.h"
#include "BindInputs.h"
#include "Commands.h"

#include "fractal/models/Speech.h"
#ifdef FRACTAL_HAS_MLIR
#include "fractal/onnx/OnnxCompile.h"
#endif
#include "fractal/package/Package.h"
#include "fractal/runtime/ModelProfile.h"
#include "fractal/runtime/Runtime.hpp"
#include "fractal/support/Npy.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>

namespace fractal::cli {
namespace {

constexpr int kRate = 16000; // the package's `sr` is bound to this at compile time

std::string dimsText(const std::vector<int64_t> &dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : ",") + std::to_string(d);
  return "[" + s + "]";
}

// The package's tensors by name: Silero VAD's inputs `input` [1, chunk], `h` and `c` (its LSTM
// state) and outputs `output` (the speech probability), `hn` and `cn` (the next state).
struct VadTensors {
  size_t input = 0, h = 0, c = 0, output = 0, hn = 0, cn = 0; // indices in the package's order
  int64_t chunk = 0, stateElements = 0;
};

Expected<VadTensors> vadTensors(const pkg::Package &p, const std::string &path) {
  std::map<std::string, size_t> in, out;
  for (size_t k = 0; k < p.inputs.size(); ++k) in[p.tensors[p.inputs[k]].name] = k;
  for (size_t k = 0; k < p.outputs.size(); ++k) out[p.tensors[p.outputs[k]].name] = k;
  const char *expected = " (a Silero VAD package: inputs input [1, chunk], h and c [2, 1, 64] float32, sr bound; "
                         "outputs output, hn, cn; fractal compile silero_vad.onnx --input-shape "
                         "'input:1,1536;h:2,1,64;c:2,1,64' --bind-input sr=16000)";
  for (const char *name : {"input", "h", "c"})
    if (!in.count(name)) return Error::badInput(path + ": no input '" + name + "'" + expected);
  for (const char *name : {"output", "hn", "cn"})
    if (!out.count(name)) return Error::badInput(path + ": no output '" + name + "'" + expected);
  if (p.inputs.size() != 3) return Error::badInput(path + ": " + std::to_string(p.inputs.size()) + " inputs" + expected);
  VadTensors t{in["input"], in["h"], in["c"], out["output"], out["hn"], out["cn"], 0, 0};
  const pkg::Tensor &x = p.tensors[p.inputs[t.input]], &h = p.tensors[p.inputs[t.h]];
  if (x.dtype != pkg::DType::F32 || x.shape.size() != 2 || x.shape[0] != 1)
    return Error::badInput(path + ": input 'input' is " + dimsText(x.shape) + expected);
  t.chunk = x.shape[1];
  t.stateElements = h.elementCount();
  for (size_t k : {t.h, t.c})
    if (p.tensors[p.inputs[k]].shape != h.shape || p.tensors[p.inputs[k]].dtype != pkg::DType::F32)
      return Error::badInput(path + ": inputs 'h' and 'c' differ" + expected);
  for (size_t k : {t.hn, t.cn})
    if (p.tensors[p.outputs[k]].elementCount() != t.stateElements)
      return Error::badInput(path + ": outputs 'hn' and 'cn' are not the size of 'h'" + expected);
  if (p.tensors[p.outputs[t.output]].elementCount() != 1)
    return Error::badInput(path + ": output 'output' is not one probability" + expected);
  return t;
}

} // namespace

int runVadCommand(const Args &args) {
  std::string model, audio, mode = "functional", thresholdText = "0.5", probabilities, samplesOut;
  ArgParser parser("fractal vad", "find speech in a WAV file with Silero VAD on the simulated NPU");
  parser.positional("MODEL.fpk|MODEL.onnx", "Silero VAD compiled for 16 kHz (fractal compile silero_vad.onnx "
                    "--input-shape 'input:1,1536;h:2,1,64;c:2,1,64' --bind-input sr=16000 -o vad.fpk), or the .onnx, "
                    "compiled so in memory first", &model);
  parser.positional("AUDIO.wav", "speech (PCM or float WAV, any rate and channels: mixed to mono, resampled to 16 kHz)",
                    &audio);
  parser.option("--mode", "MODE", "functional (default) or timing (simulated time per chunk too)", &mode);
  parser.option("--threshold", "P", "speech starts at this probability (default 0.5; ends below P - 0.15)",
                &thresholdText);
  parser.option("--probabilities", "FILE.npy", "write the speech probability of every chunk", &probabilities);
  parser.option("--samples", "FILE.npy", "write the 16 kHz mono samples the model was given (float32)", &samplesOut);
  parser.epilog("EXIT CODES: 0 ok, 2 bad model, audio or flag, 3 the device faulted.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (mode != "functional" && mode != "timing")
    return reportError(Error::badInput("fractal vad: --mode must be functional or timing, got '" + mode + "'"));
  char *end = nullptr;
  const float threshold = std::strtof(thresholdText.c_str(), &end);
  if (!end || *end || !(threshold > 0.15f && threshold < 1.0f))
    return reportError(Error::badInput("fractal vad: --threshold must be a number in (0.15, 1)"));

  Expected<pkg::Package> package = Error::badInput("");
  const bool isOnnx = isOnnxModel(model);
  if (isOnnx) {
#ifdef FRACTAL_HAS_MLIR
    onnx_frontend::TemporaryModelFile bound;
    if (Status s = bindModelInputs(model, {"sr=" + std::to_string(kRate)}, bound); !s)
      return reportError(s.error().withContext("fractal vad (Silero VAD, its sample rate input sr bound to 16000)"));
    Expected<ChipConfig> config = loadChipConfig("edge");
    if (!config) return reportError(config.error());
    package = onnx_frontend::compileOnnxModel(bound.path, "input:1,1536;h:2,1,64;c:2,1,64", *config, "");
    if (package) package->sourceModel = model;
#else
    return reportError(Error::badInput("fractal vad: this build has no MLIR compiler: give a compiled package"));
#endif
  } else {
    package = pkg::readPackageFile(model);
  }
  if (!package) return reportError(isOnnx ? package.error().withContext(model) : package.error());
  Expected<VadTensors> io = vadTensors(*package, model);
  if (!io) return reportError(io.error());
  Expected<models::Audio> wav = models::loadWav(audio);
  if (!wav) return reportError(wav.error());
  const models::Audio samples = models::resample(*wav, kRate);
  if (!samplesOut.empty())
    if (Status s = writeNpyFile(samplesOut, floatNpy({int64_t(samples.samples.size())}, samples.samples)); !s)
      return reportError(s.error());
  const size_t chunk = size_t(io->chunk), chunks = samples.samples.size() / chunk;
  if (chunks == 0)
    return reportError(Error::badInput(audio + ": " + std::to_string(samples.samples.size()) +
                                       " samples at 16 kHz, fewer than one chunk of " + std::to_string(chunk)));

  std::vector<float> speech(chunks);
  double simulatedUs = 0;
  try {
    const std::string device = package->target + ":" + mode;
    rt::Runtime runtime(device.c_str());
    rt::setDevice(0);
    const std::vector<uint8_t> bytes = pkg::serializePackage(*package);
    rt::Model vad(bytes.data(), bytes.size());
    std::vector<rt::DeviceBuffer> inputs, outputs;
    for (uint32_t i : package->inputs) inputs.emplace_back(std::max<size_t>(package->tensors[i].dataBytes(), 1));
    for (uint32_t i : package->outputs) outputs.emplace_back(std::max<size_t>(package->tensors[i].dataBytes(), 1));
    std::vector<const rt::DeviceBuffer *> in, out;
    for (const auto &b : inputs) in.push_back(&b);
    for (const auto &b : outputs) out.push_back(&b);
    std::vector<float> state(size_t(io->stateElements), 0.0f); // zero state before the first chunk
    inputs[io->h].upload(state.data(), state.size() * 4);
    inputs[io->c].upload(state.data(), state.size() * 4);
    for (size_t k = 0; k < chunks; ++k) {
      inputs[io->input].upload(samples.samples.data() + k * chunk, chunk * 4);
      vad.execute(in, out);
      outputs[io->output].download(&speech[k], 4);
      // The next chunk's state: hn and cn copied on the device, not through the host.
      for (auto [from, to] : {std::pair{io->hn, io->h}, std::pair{io->cn, io->c}})
        rt::check(frtMemcpy(inputs[to].get(), inputs[to].size(), outputs[from].get(), state.size() * 4,
                            FRT_MEMCPY_DEVICE_TO_DEVICE),
                  "frtMemcpy");
      runtime::ModelProfile profile;
      if (mode == "timing" && runtime::lastModelProfile(vad.get(), profile)) simulatedUs += profile.simulatedUs;
    }
  } catch (const rt::Error &e) {
    return reportError(e.code() == FRT_ERROR_DEVICE_FAULT ? Error::deviceFault(model + ": " + e.what())
                                                          : Error::badInput(model + ": " + e.what()));
  }
  if (!probabilities.empty())
    if (Status s = writeNpyFile(probabilities, floatNpy({int64_t(chunks)}, speech)); !s)
      return reportError(s.error());
  const double chunkSeconds = double(chunk) / kRate, seconds = double(chunks) * chunkSeconds;
  const std::vector<models::SpeechSegment> segments = models::speechSegments(speech, chunkSeconds, threshold);
  std::printf("%zu chunk(s) of %zu samples (%.3f s of 16 kHz audio): %zu speech segment(s)\n", chunks, chunk, seconds,
              segments.size());
  std::cout << models::formatSegments(segments);
  if (mode == "timing")
    std::printf("simulated NPU time %.3f ms for %.3f s of audio: %.1fx faster than real time\n", simulatedUs / 1000,
                seconds, seconds * 1e6 / std::max(simulatedUs, 1e-9));
  return 0;
}

} // namespace fractal::cli
