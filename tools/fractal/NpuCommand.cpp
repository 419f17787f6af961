// `fractal npu`: a kernel written in the npu dialect (an .mlir file) through the same passes and
// emitter as the compiler's own kernels (compiler/Codegen/NpuKernel.h), to assembly that
// `fractal asm` and `fractal sim` take. For people writing or studying kernels by hand.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/compiler/Codegen/NpuKernel.h"
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/config/ChipConfig.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

namespace fractal::cli {

int runNpuCommand(const Args &args) {
  std::string input, output, target = "edge", kernelName, sync = "flags", emit = "asm";
  ArgParser parser("fractal npu", "lower a kernel written in the npu dialect to Fractal assembly");
  parser.positional("KERNEL.mlir", "a module with the kernel: a func.func of npu ops (docs/compiler.md)", &input);
  parser.option("--output", "FILE", "write the result here (default: stdout)", &output, "-o");
  parser.option("--target", "NAME|FILE", "chip whose buffer sizes apply when the kernel has no npu.buffer_bytes "
                "(default: edge)", &target);
  parser.option("--kernel", "NAME", "the function to lower, when the module has several", &kernelName);
  parser.option("--sync", "MODE", "flags (from memory dependences, default) or barrier-all", &sync);
  parser.option("--emit", "WHAT", "asm (default) or npu: the kernel after memory planning and sync injection",
                &emit);
  parser.epilog("EXIT CODES: 0 ok, 2 bad input (a parse or verifier error, an overflowing buffer, too many "
                "flags: the message names the op).\n\nEXAMPLE:\n  fractal npu kernel.mlir -o kernel.s && "
                "fractal sim kernel.s --arg ...");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  if (sync != "flags" && sync != "barrier-all")
    return reportError(Error::badInput("fractal npu: --sync must be flags or barrier-all, got '" + sync + "'"));
  if (emit != "asm" && emit != "npu")
    return reportError(Error::badInput("fractal npu: --emit must be asm or npu, got '" + emit + "'"));
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config)
    return reportError(config.error());

  mlir::MLIRContext context;
  context.loadDialect<npu::NpuDialect, mlir::arith::ArithDialect, mlir::scf::SCFDialect, mlir::func::FuncDialect>();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    std::string location;
    if (auto at = llvm::dyn_cast<mlir::FileLineColLoc>(d.getLocation())) {
      location = at.getFilename().str() + ":" + std::to_string(at.getLine()) + ":" + std::to_string(at.getColumn());
    } else {
      llvm::raw_string_ostream os(location);
      d.getLocation().print(os);
    }
    diagnostics += (diagnostics.empty() ? "" : "\n") + location + ": " + d.str();
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(input, &context);
  if (!module)
    return reportError(Error::badInput(diagnostics.empty() ? input + ": cannot read the module" : diagnostics));
  std::vector<mlir::func::FuncOp> kernels;
  std::string names;
  module->walk([&](mlir::func::FuncOp f) {
    if (kernelName.empty() || f.getSymName() == kernelName) kernels.push_back(f);
    names += (names.empty() ? "" : ", ") + f.getSymName().str();
  });
  if (kernels.size() != 1)
    return reportError(Error::badInput(input + ": " +
                                       (kernels.empty() ? "no kernel function" + (kernelName.empty() ? std::string() : " '" + kernelName + "'")
                                                        : std::string("several kernels")) +
                                       " (functions: " + (names.empty() ? "none" : names) + "; choose with --kernel)"));
  mlir::func::FuncOp kernel = kernels[0];
  if (!kernel->hasAttr("npu.buffer_bytes")) {
    mlir::Builder b(&context);
    std::vector<mlir::NamedAttribute> sizes;
    for (auto [name, kind] : {std::pair{"l1", BufferKind::L1}, {"l0a", BufferKind::L0A}, {"l0b", BufferKind::L0B},
                              {"l0c", BufferKind::L0C}, {"ub", BufferKind::UB}})
      sizes.push_back(b.getNamedAttr(name, b.getI64IntegerAttr(config->buffer(kind).sizeBytes)));
    kernel->setAttr("npu.buffer_bytes", b.getDictionaryAttr(sizes));
  }
  if (Status s = codegen::finishNpuKernel(kernel, sync); !s)
    return reportError(Error::badInput(input + ": " + s.error().message));
  std::string text;
  if (emit == "npu") {
    text = codegen::printNpuKernel(kernel);
  } else {
    Expected<std::string> assembly = codegen::emitNpuAssembly(kernel, kernel.getSymName().str() + ": lowered from " + input);
    if (!assembly)
      return reportError(Error::badInput(input + ": " + assembly.error().message));
    text = *assembly;
  }
  return writeTextOutput(output, text);
}

} // namespace fractal::cli
