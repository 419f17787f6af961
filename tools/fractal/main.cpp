// `fractal`: the one command-line entry point of the toolchain. Subcommands live in *Command.cpp.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/support/File.h"

#include <cstdio>
#include <iostream>

namespace fractal::cli {

int reportError(const Error &error) {
  std::cerr << "fractal: error: " << error.message << "\n";
  return static_cast<int>(error.code);
}

int writeTextOutput(const std::string &output, const std::string &text) {
  if (output.empty() || output == "-") {
    std::cout << text;
    return 0;
  }
  if (Status s = writeFileAtomically(output, text); !s)
    return reportError(s.error());
  return 0;
}

void warnAboutFloat64(const pkg::Package &package, const std::string &model) {
  std::string names;
  for (const std::vector<uint32_t> *list : {&package.inputs, &package.outputs})
    for (uint32_t i : *list)
      if (package.tensors[i].dtype == pkg::DType::F64) names += (names.empty() ? "'" : ", '") + package.tensors[i].name + "'";
  if (!names.empty())
    std::cerr << "fractal: warning: " << model << ": float64 " << names << " computed in float32 inside the model (the "
              << "NPU has no float64 arithmetic): results differ from a float64 computation by float32 rounding\n";
}

std::optional<int> parseArguments(ArgParser &parser, const Args &args) {
  if (Status s = parser.parse(args); !s)
    return reportError(s.error());
  if (parser.helpRequested()) {
    std::cout << parser.helpText();
    return 0;
  }
  return std::nullopt;
}

namespace {

struct Subcommand {
  const char *name;
  const char *summary;
  int (*run)(const Args &);
};

const Subcommand kSubcommands[] = {
    {"compile", "compile an ONNX model into a model package (.fpk), or check it (--check-only)", runCompileCommand},
    {"run", "run a model package (or an ONNX model) on the simulated NPU with .npy inputs", runRunCommand},
    {"info", "describe a model package (or an ONNX model, compiled in memory)", runInfoCommand},
    {"compare", "compare two .npy tensors (cosine similarity, max error)", runCompareCommand},
    {"prep", "turn an image into a model input tensor (.npy)", runPrepCommand},
    {"detect", "decode face or text detections from a model's output tensors", runDetectCommand},
    {"analytics", "build (train) and score the predictive-analytics models: a forecaster, an anomaly detector", runAnalyticsCommand},
    {"nlp", "build and score the NLP model: a byte-level encoder that tells a line's language", runNlpCommand},
    {"vad", "find speech in a WAV file with Silero VAD (chunk by chunk, its state carried on the device)", runVadCommand},
#ifdef FRACTAL_HAS_MLIR
    {"npu", "lower a kernel written in the npu dialect (MLIR) to assembly: plan memory, inject sync, emit", runNpuCommand},
    {"sweep", "compile and time a model on every combination of chip-config values", runSweepCommand},
    {"verify", "compare a model's results on the NPU with ONNX Runtime's, output by output or layer by layer", runVerifyCommand},
    {"quantize", "quantize a model to uint8 activations and int8 weights (QDQ ONNX), calibrated on the NPU", runQuantizeCommand},
#endif
#ifdef FRACTAL_HAS_CONFORMANCE
    {"conformance", "run the ONNX backend test suite on the simulated NPU and classify every test", runConformanceCommand},
#endif
    {"sim", "run a kernel on the simulated NPU (functional or timing mode)", runSimCommand},
    {"asm", "assemble Fractal assembly into a kernel binary", runAsmCommand},
    {"disasm", "disassemble a kernel binary", runDisasmCommand},
    {"isa", "print the instruction table as Markdown or a SystemVerilog package", runIsaCommand},
    {"config", "show, check or document chip configs", runConfigCommand},
};

void printHelp() {
  std::cout << "OVERVIEW: Fractal, an open Ascend-style NPU toolchain\n\n"
               "USAGE: fractal <command> [options]\n\nCOMMANDS:\n";
  for (const Subcommand &c : kSubcommands)
    std::printf("  %-14s%s\n", c.name, c.summary);
  std::cout << "\nRun 'fractal <command> --help' for a command's options.\n\n"
               "EXIT CODES: 0 ok, 1 internal error, 2 bad input or usage, "
               "3 simulated-device fault, 4 results differ beyond a tolerance (compare, verify),\n"
               "5 the reference (ONNX Runtime) could not run (verify)\n";
}

} // namespace
} // namespace fractal::cli

int main(int argc, char **argv) {
  using namespace fractal::cli;
  if (argc < 2) {
    printHelp();
    return 2;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    printHelp();
    return 0;
  }
  if (command == "--version") {
    std::cout << "fractal " FRACTAL_VERSION "\n";
    return 0;
  }
  Args rest(argv + 2, argv + argc);
  for (const Subcommand &c : kSubcommands)
    if (command == c.name) {
      try {
        return c.run(rest);
      } catch (const std::exception &e) {
        // Anything that escapes a command is a bug in Fractal, not bad input.
        return reportError(fractal::Error::internal(std::string("internal error: ") + e.what()));
      }
    }
  return reportError(fractal::Error::badInput("unknown command '" + command +
                                              "' (see 'fractal --help')"));
}
