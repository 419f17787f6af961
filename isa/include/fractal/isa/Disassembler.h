// The disassembler: KernelBinary -> assembly text that reassembles to the same code, data and
// symbols. Also formats single instructions for traces and fault messages.
#pragma once

#include "fractal/isa/KernelBinary.h"

#include <string>

namespace fractal::isa {

struct DisassemblyOptions {
  bool showEncoding = false; // append `# [pc] 0x<128-bit word>` to every instruction
};

std::string disassemble(const KernelBinary &kernel, const DisassemblyOptions &options = {});

// One instruction in assembly syntax; branch targets are written relative (`.+3`, `.-2`).
std::string formatInstruction(const Instruction &inst);

} // namespace fractal::isa
