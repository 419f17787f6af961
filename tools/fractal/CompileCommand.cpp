// `fractal compile`: ONNX model -> model package. Today: the support check (`--check-only`) and
// the graph phases (import, optimize, placement; `--compile-to`, `--dump-ir`, `--report`).
// Code generation arrives with the compiler (compiler/README.md, docs/compiler.md).
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/onnx/OnnxCheck.h"
#include "fractal/support/File.h"

#ifdef FRACTAL_HAS_MLIR
#include "fractal/compiler/CompileReport.h"
#include "fractal/compiler/Transforms/Pipelines.h"
#include "fractal/onnx/OnnxImport.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"
#endif

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sys/stat.h>

namespace fractal::cli {

namespace {

// The compiler's phases in order; --compile-to stops after one, --dump-ir writes each as
// NN-name.mlir. "graph" is the import itself; every later phase is a pass pipeline.
constexpr const char *kPhases[] = {"graph", "optimize", "placement"};

std::string phaseList() {
  std::string list;
  for (const char *phase : kPhases)
    list += std::string(list.empty() ? "" : ", ") + phase;
  return list;
}


} // namespace

int runCompileCommand(const Args &args) {
  std::string input, output, target = "edge", shapes, report, compileTo, dumpIr;
  bool checkOnly = false;
  ArgParser parser("fractal compile", "compile an ONNX model for the NPU");
  parser.positional("MODEL.onnx", "the model", &input);
  parser.option("--output", "FILE.fpk", "model package to write", &output, "-o");
  parser.option("--target", "NAME|FILE", "chip (default: edge)", &target);
  parser.option("--input-shape", "SHAPES", "fix input dims, ATC style: \"data:1,3,224,224;mask:1,128\"",
                &shapes);
  parser.flag("--check-only", "only run the support check: list every unsupported operator, "
              "attribute and type, and where each node would run", &checkOnly);
  parser.option("--report", "FILE.json", "write the report as JSON: the check's with --check-only, "
                "otherwise every graph op with its ONNX nodes, unit and reason", &report);
  parser.option("--compile-to", "PHASE", "stop after PHASE and write its IR: graph (the "
                "imported model), optimize (constants folded, data movement cancelled, "
                "BatchNorm folded into Conv, Relu/Clip into the cube epilogue) or placement (each op's "
                "unit and why)", &compileTo);
  parser.option("--dump-ir", "DIR", "write the IR of every phase into DIR, with locations "
                "(ONNX node names)", &dumpIr);
  parser.epilog("EXIT CODES: 0 ok, 2 unsupported model or bad input.\n\n"
                "Available today: --check-only (the support check) and --compile-to=graph|optimize|"
                "placement (the graph dialect IR after each phase);\nlowering to the NPU is being built.");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  const auto *lastPhase = std::find(std::begin(kPhases), std::end(kPhases), compileTo);
  if (!checkOnly && lastPhase == std::end(kPhases))
    return reportError(Error::badInput(
        compileTo.empty()
            ? "fractal compile: code generation is not available yet; this version runs the "
              "support check (--check-only) and the graph phases (--compile-to=PHASE, one of: " +
                  phaseList() + ")"
            : "fractal compile: unknown phase '" + compileTo +
                  "' for --compile-to; the phases available are: " + phaseList()));
  Expected<std::vector<onnx_frontend::InputShape>> parsed = onnx_frontend::parseInputShapes(shapes);
  if (!parsed)
    return reportError(parsed.error());
  if (!checkOnly) {
#ifndef FRACTAL_HAS_MLIR
    return reportError(Error::badInput("fractal compile: this build has no MLIR compiler "
                                       "(FRACTAL_ENABLE_MLIR=OFF); only --check-only works"));
#else
    mlir::MLIRContext context;
    Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
        onnx_frontend::importOnnxModel(context, input, *parsed);
    if (!module)
      return reportError(module.error());
    auto render = [&](bool locations) {
      std::string text;
      llvm::raw_string_ostream os(text);
      mlir::OpPrintingFlags flags;
      flags.elideLargeResourceString(64); // weights stay in the package, not in IR dumps
      if (locations)
        flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/false);
      (*module)->print(os, flags);
      return text;
    };
    if (!dumpIr.empty())
      ::mkdir(dumpIr.c_str(), 0755);
    for (const auto *phase = std::begin(kPhases); phase <= lastPhase; ++phase) {
      mlir::PassManager pm(&context);
      fractal::addPhasePasses(pm, *phase); // none for "graph": the import already ran
      // Passes emit their own diagnostics (at the ONNX node's location) before failing.
      if (mlir::failed(pm.run(**module)))
        return reportError(Error::badInput("fractal compile: phase '" + std::string(*phase) +
                                           "' failed for " + input));
      if (!dumpIr.empty()) {
        char name[64];
        std::snprintf(name, sizeof name, "/%02d-%s.mlir",
                      static_cast<int>(phase - std::begin(kPhases)) + 1, *phase);
        if (Status s = writeFileAtomically(dumpIr + name, render(true)); !s)
          return reportError(s.error());
      }
    }
    if (!report.empty())
      if (Status s = writeFileAtomically(
              report, fractal::compiler::compileReportJson(**module, input, compileTo));
          !s)
        return reportError(s.error());
    if (output.empty() || output == "-") {
      std::cout << render(false);
      return 0;
    }
    if (Status s = writeFileAtomically(output, render(false)); !s)
      return reportError(s.error());
    return 0;
#endif
  }
  Expected<onnx_frontend::CheckReport> result = onnx_frontend::checkOnnxModel(input, *parsed);
  if (!result)
    return reportError(result.error());
  std::cout << result->text();
  if (!report.empty())
    if (Status s = writeFileAtomically(report, result->json()); !s)
      return reportError(s.error());
  if (!result->ok()) {
    std::cerr << "fractal: error: " << input << " is not supported: " << result->problems.size()
              << " problem(s), listed above\n";
    return static_cast<int>(ExitCode::BadInput);
  }
  return 0;
}

} // namespace fractal::cli
