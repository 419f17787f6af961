// `fractal compile`: ONNX model -> model package (.fpk). The support check (`--check-only`), the
// graph phases (import, optimize, placement; `--compile-to`, `--dump-ir`, `--report`), then kernel
// lowering, memory planning and packaging (compiler/lib/Codegen). `fractal run model.onnx` uses
// compileOnnxModel to compile in memory.
#include "ArgParser.h"
#include "BindInputs.h"
#include "Commands.h"

#include "fractal/isa/Disassembler.h"
#include "fractal/onnx/OnnxCheck.h"
#include "fractal/support/File.h"

#ifdef FRACTAL_HAS_MLIR
#include "fractal/compiler/CompileReport.h"
#include "mlir/IR/OperationSupport.h"
#include "llvm/Support/raw_ostream.h"
#endif
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/onnx/OnnxTensor.h"
#include "fractal/support/Npy.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <iostream>
#include <sys/stat.h>

namespace fractal::cli {

namespace {

using onnx_frontend::kCompilePhases;

using onnx_frontend::kCodegenPhases;

std::string phaseList() {
  std::string list;
  for (const char *phase : kCompilePhases)
    list += std::string(list.empty() ? "" : ", ") + phase;
  for (const char *phase : kCodegenPhases)
    list += std::string(", ") + phase;
  return list;
}

// `--compile-to=npu`: each kernel's npu dialect IR (kernels not yet lowered through it say so).
// `--compile-to=kernel`: each kernel's generated assembly, after the tasks that launch it.
// `--compile-to=isa`: each kernel's machine code as the package holds it (after --sync).
std::string renderCodegenPhase(const pkg::Package &package, const std::vector<std::string> &assembly,
                               const std::vector<std::string> &npu, const std::string &phase) {
  std::string text;
  for (size_t k = 0; k < package.kernels.size(); ++k) {
    std::string users;
    for (const pkg::Task &t : package.tasks)
      if (!t.isHost && t.launch.kernel == k)
        users += (users.empty() ? "" : ", ") + t.name + " (block_dim " + std::to_string(t.launch.blockDim) + ")";
    text += "// ===== kernel " + package.kernels[k].name + ", " +
            std::to_string(package.kernels[k].binary.code.size()) + " instructions; launched by " + users + "\n";
    if (phase == "npu")
      text += k < npu.size() && !npu[k].empty()
                  ? npu[k]
                  : "// generated directly as assembly, not through the npu dialect (--compile-to=kernel shows it)\n";
    else if (phase == "kernel")
      text += k < assembly.size() ? assembly[k] : "";
    else {
      isa::DisassemblyOptions options;
      options.showEncoding = true;
      text += isa::disassemble(package.kernels[k].binary, options);
    }
    text += "\n";
  }
  return text;
}

} // namespace

int runCompileCommand(const Args &args) {
  std::string input, output, target = "edge", shapes, report, compileTo, dumpIr, sync = "flags", sequences = "on";
  std::vector<std::string> binds;
  bool checkOnly = false;
  ArgParser parser("fractal compile", "compile an ONNX model for the NPU");
  parser.positional("MODEL.onnx", "the model", &input);
  parser.option("--output", "FILE.fpk", "model package to write", &output, "-o");
  parser.option("--target", "NAME|FILE", "chip (default: edge)", &target);
  parser.option("--input-shape", "SHAPES", "fix input dims, ATC style: \"data:1,3,224,224;mask:1,128\"",
                &shapes);
  parser.list("--bind-input", "NAME=FILE.npy|NAME=NUMBER",
              "bind a graph input to a value at compile time (a constant: for inputs the compiler needs "
              "as constants, e.g. Reshape shapes, Clip bounds, reduction axes, an If's condition; a number "
              "for a one-element input, in its type, e.g. sr=16000); repeatable",
              &binds);
  parser.flag("--check-only", "only run the support check: list every unsupported operator, "
              "attribute and type, and where each node would run", &checkOnly);
  parser.option("--report", "FILE.json", "write the report as JSON: the check's with --check-only, "
                "otherwise every graph op with its ONNX nodes, unit and reason", &report);
  parser.option("--compile-to", "PHASE", "stop after PHASE and write its IR: graph (the "
                "imported model), optimize (constants folded, data movement cancelled, "
                "BatchNorm folded into Conv, Relu/Clip into the cube epilogue), placement (each op's "
                "unit and why), npu (the kernels lowered through the npu dialect, after memory "
                "planning and sync injection), kernel (each generated kernel's assembly with its "
                "tiling) or isa "
                "(the package's machine code: every instruction with its encoding and ONNX node); "
                "without it the package is written", &compileTo);
  parser.option("--dump-ir", "DIR", "write the IR of every phase into DIR, with locations "
                "(ONNX node names)", &dumpIr);
  parser.option("--sync", "MODE", "flags (default) or barrier-all: a debug mode that replaces every "
                "kernel's set/wait flags by a barrier after each pipe instruction (slow, but needs no "
                "flags: if results change, a kernel's synchronisation is wrong)", &sync);
  parser.option("--kernel-sequences", "on|off", "on (default): every run of consecutive kernels is joined into "
                "one launch on the cores its widest kernel uses, with a cross-core barrier between them (saves "
                "a kernel launch each; docs/compiler.md); off: one launch per kernel, e.g. to profile each "
                "kernel on its own", &sequences);
  parser.epilog("EXIT CODES: 0 ok, 2 unsupported model or bad input.\n\n"
                "NPU kernels exist for convolutions (grouped, depthwise, transposed), MatMul and Gemm, element-wise\n"
                "ops and activations, pooling, normalization, Resize, softmax and the data-movement ops (LSTM, GRU\n"
                "and RNN unroll into them); shape\n"
                "bookkeeping runs on the host. An op with neither is listed with the reason (the ops after it that read its\n"
                "result are counted, not listed) and the command exits 2\n"
                "(docs/compiler.md has the kernels and their limits, docs/conformance.md the ONNX test suite's results).");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  onnx_frontend::TemporaryModelFile bound;
  const std::string model = input; // what the package records as its source
  if (!binds.empty()) {
    if (Status s = bindModelInputs(input, binds, bound); !s) return reportError(s.error());
    input = bound.path;
  }
  const auto *lastPhase = std::find(std::begin(kCompilePhases), std::end(kCompilePhases), compileTo);
  const bool codegenPhase =
      std::find(std::begin(kCodegenPhases), std::end(kCodegenPhases), compileTo) != std::end(kCodegenPhases);
  if (!checkOnly && !compileTo.empty() && lastPhase == std::end(kCompilePhases) && !codegenPhase)
    return reportError(Error::badInput("fractal compile: unknown phase '" + compileTo +
                                       "' for --compile-to; the phases are: " + phaseList() +
                                       " (without --compile-to: the whole compile to a package)"));
  Expected<std::vector<onnx_frontend::InputShape>> parsed = onnx_frontend::parseInputShapes(shapes);
  if (!parsed)
    return reportError(parsed.error());
  if (!checkOnly && (compileTo.empty() || codegenPhase)) {
    if (!codegenPhase && (output.empty() || output == "-"))
      return reportError(Error::badInput("fractal compile: give the package file with -o FILE.fpk "
                                         "(or --compile-to=PHASE to print IR)"));
    if (sequences != "on" && sequences != "off")
      return reportError(Error::badInput("fractal compile: --kernel-sequences must be on or off, got '" + sequences + "'"));
    Expected<ChipConfig> config = loadChipConfig(target);
    if (!config)
      return reportError(config.error());
    std::vector<std::string> assembly, npu; // each kernel's generated source, for --compile-to=kernel|npu
    std::string compileReport; // the --report JSON of the whole compile
#ifdef FRACTAL_HAS_MLIR
    // The texts are collected only for the phase that prints them (printing IR costs time).
    Expected<pkg::Package> package = onnx_frontend::compileOnnxModel(
        input, shapes, *config, dumpIr, compileTo == "kernel" ? &assembly : nullptr, compileTo == "npu" ? &npu : nullptr,
        sequences == "on", report.empty() ? nullptr : &compileReport);
#else
    Expected<pkg::Package> package = Error::badInput(
        "fractal compile: this build has no MLIR compiler (FRACTAL_ENABLE_MLIR=OFF); only "
        "--check-only works");
#endif
    if (!package)
      return reportError(aboutModel(package.error(), bound, model));
    if (Status s = pkg::applySyncMode(*package, sync); !s)
      return reportError(s.error());
    package->sourceModel = model;
    warnAboutFloat64(*package, model);
    if (!report.empty())
      if (Status s = writeFileAtomically(report, compileReport); !s) return reportError(s.error());
    if (codegenPhase)
      return writeTextOutput(output, renderCodegenPhase(*package, assembly, npu, compileTo));
    if (Status s = pkg::writePackageFile(output, *package); !s)
      return reportError(s.error());
    std::cout << pkg::describePackage(*package);
    return 0;
  }
  if (!checkOnly) {
#ifndef FRACTAL_HAS_MLIR
    return reportError(Error::badInput("fractal compile: this build has no MLIR compiler "
                                       "(FRACTAL_ENABLE_MLIR=OFF); only --check-only works"));
#else
    mlir::MLIRContext context;
    mlir::OwningOpRef<mlir::ModuleOp> module;
    if (Status s = onnx_frontend::runGraphPhases(context, module, input, *parsed,
                                                 lastPhase - std::begin(kCompilePhases), dumpIr);
        !s)
      return reportError(aboutModel(s.error(), bound, model));
    if (!report.empty())
      if (Status s = writeFileAtomically(
              report, fractal::compiler::compileReportJson(*module, input, compileTo));
          !s)
        return reportError(s.error());
    return writeTextOutput(output, onnx_frontend::renderModule(*module, false));
#endif
  }
  Expected<onnx_frontend::CheckReport> result = onnx_frontend::checkOnnxModel(input, *parsed);
  if (!result)
    return reportError(aboutModel(result.error(), bound, model));
  std::cout << aboutModel(result->text(), bound, model);
  if (!report.empty())
    if (Status s = writeFileAtomically(report, result->json()); !s)
      return reportError(s.error());
  if (!result->ok()) {
    std::cerr << "fractal: error: " << model << " is not supported: " << result->problems.size()
              << " problem(s), listed above\n";
    return static_cast<int>(ExitCode::BadInput);
  }
  return 0;
}

} // namespace fractal::cli
