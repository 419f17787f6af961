// Artifacts generated from the instruction table: the reference table in docs/isa.md and the
// SystemVerilog package the RTL decodes with.
#pragma once

#include <string>

namespace fractal::isa {

std::string isaMarkdownTable();       // every instruction: mnemonic, pipe, operands, bits, meaning
std::string isaSystemVerilogPackage(); // package fractal_isa_pkg: opcodes and field positions

} // namespace fractal::isa
