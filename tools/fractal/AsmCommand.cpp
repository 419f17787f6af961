// `fractal asm`, `fractal disasm` and `fractal isa`: the ISA's command-line face.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/config/ChipConfig.h"
#include "fractal/isa/Assembler.h"
#include "fractal/isa/Disassembler.h"
#include "fractal/isa/Generators.h"
#include "fractal/support/File.h"

#include <iostream>

namespace fractal::cli {

namespace {

std::string defaultOutput(const std::string &input, const std::string &ext) {
  std::string base = input;
  if (size_t dot = base.rfind('.'); dot != std::string::npos && base.find('/', dot) == std::string::npos)
    base = base.substr(0, dot);
  return base + ext;
}

} // namespace

int runAsmCommand(const Args &args) {
  std::string input, output, target;
  std::vector<std::string> defineArgs;
  ArgParser parser("fractal asm", "assemble Fractal assembly into a kernel binary");
  parser.list("--define", "NAME=VALUE", "define a symbol; overrides a .equ of that name", &defineArgs, "-D");
  parser.positional("INPUT.s", "assembly source (syntax: docs/isa.md)", &input);
  parser.option("--output", "FILE", "output kernel binary (default: INPUT with .bin)", &output, "-o");
  parser.option("--target", "NAME|FILE",
                "chip the kernel is for; must agree with a .target directive (default: the "
                "directive, else none)",
                &target);
  parser.epilog("EXAMPLE:\n  fractal asm tests/sim/kernels/gemm_fp16.s -o gemm.bin");
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  Expected<std::string> text = readTextFile(input);
  if (!text)
    return reportError(text.error());
  isa::Defines defines;
  for (const std::string &d : defineArgs)
    if (Status s = isa::parseDefine(d, defines); !s)
      return reportError(s.error());
  Expected<isa::KernelBinary> kernel = isa::assemble(*text, input, defines);
  if (!kernel)
    return reportError(kernel.error());
  if (!target.empty()) {
    Expected<ChipConfig> config = loadChipConfig(target);
    if (!config)
      return reportError(config.error());
    if (!kernel->target.empty() && kernel->target != config->name)
      return reportError(Error::badInput(input + ": .target " + kernel->target +
                                         " disagrees with --target " + config->name));
    kernel->target = config->name;
  }
  if (output.empty())
    output = defaultOutput(input, ".bin");
  if (Status s = isa::writeKernelFile(output, *kernel); !s)
    return reportError(s.error());
  return 0;
}

int runDisasmCommand(const Args &args) {
  std::string input, output;
  bool showEncoding = false;
  ArgParser parser("fractal disasm", "disassemble a kernel binary into assembly that reassembles "
                                     "to the same code, data and symbols");
  parser.positional("INPUT.bin", "kernel binary", &input);
  parser.option("--output", "FILE", "write the assembly here (default: standard output)", &output,
                "-o");
  parser.flag("--show-encoding", "append each instruction's index and 128-bit word as a comment",
              &showEncoding);
  if (std::optional<int> exit = parseArguments(parser, args))
    return *exit;
  Expected<isa::KernelBinary> kernel = isa::readKernelFile(input);
  if (!kernel)
    return reportError(kernel.error());
  std::string text = isa::disassemble(*kernel, {showEncoding});
  if (output.empty()) {
    std::cout << text;
    return 0;
  }
  if (Status s = writeFileAtomically(output, text); !s)
    return reportError(s.error());
  return 0;
}

int runIsaCommand(const Args &args) {
  const char *usage = "OVERVIEW: print artifacts generated from the instruction table\n\n"
                      "USAGE: fractal isa <table|sv>\n\n"
                      "  table   Markdown table of every instruction (docs/isa.md)\n"
                      "  sv      SystemVerilog package fractal_isa_pkg (opcodes, field positions)\n";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << usage;
    return 0;
  }
  if (args.size() != 1)
    return reportError(Error::badInput("fractal isa: expected one action: table or sv"));
  if (args[0] == "table") {
    std::cout << isa::isaMarkdownTable();
    return 0;
  }
  if (args[0] == "sv") {
    std::cout << isa::isaSystemVerilogPackage();
    return 0;
  }
  return reportError(Error::badInput("fractal isa: unknown action '" + args[0] +
                                     "' (expected table or sv)"));
}

} // namespace fractal::cli
