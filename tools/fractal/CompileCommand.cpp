// `fractal compile`: ONNX model -> model package. Today only the first phase exists: the support
// check (`--check-only`), which reads the model and reports every problem and where each node
// will run. Code generation arrives with the compiler (compiler/README.md).
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/onnx/OnnxCheck.h"
#include "fractal/support/File.h"

#include <iostream>

namespace fractal::cli {

int runCompileCommand(const Args &args) {
  std::string input, output, target = "edge", shapes, report;
  bool checkOnly = false;
  ArgParser parser("fractal compile", "compile an ONNX model for the NPU");
  parser.positional("MODEL.onnx", "the model", &input);
  parser.option("--output", "FILE.fpk", "model package to write", &output, "-o");
  parser.option("--target", "NAME|FILE", "chip (default: edge)", &target);
  parser.option("--input-shape", "SHAPES", "fix input dims, ATC style: \"data:1,3,224,224;mask:1,128\"",
                &shapes);
  parser.flag("--check-only", "only run the support check: list every unsupported operator, "
              "attribute and type, and where each node would run", &checkOnly);
  parser.option("--report", "FILE.json", "write the check report as JSON", &report);
  parser.epilog("EXIT CODES: 0 the model is supported, 2 it is not (or bad input).\n\n"
                "This version runs the support check only: pass --check-only.");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  if (!checkOnly)
    return reportError(Error::badInput(
        "fractal compile: code generation is not available yet; this version runs the support "
        "check only (pass --check-only)"));
  Expected<std::vector<onnx_frontend::InputShape>> parsed = onnx_frontend::parseInputShapes(shapes);
  if (!parsed)
    return reportError(parsed.error());
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
