// Binary encoding of instructions: 16 bytes, little-endian; bits 0..7 are the opcode, operand
// fields follow in table order, unused (reserved) bits must be zero.
#pragma once

#include "fractal/isa/Isa.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <string>

namespace fractal::isa {

// Checks one operand value against its table row; returns "" or the problem (naming the operand).
std::string operandProblem(const OperandSpec &operand, int64_t value, Space space);

// Checks every operand against the table (ranges, alignment, allowed spaces and types) and the
// instruction-specific rules (e.g. vconv type pairs). The message names the operand.
Status validateInstruction(const Instruction &inst);

// Encodes a valid instruction (call validateInstruction first; invalid fields are masked).
void encodeInstruction(const Instruction &inst, uint8_t out[kInstructionBytes]);

// Decodes 16 bytes. `byteOffset` is only used in error messages ("at byte offset N").
Expected<Instruction> decodeInstruction(const uint8_t *bytes, uint64_t byteOffset);
// Decodes 16 bytes known to be valid (encoded from an instruction that passed
// validateInstruction), without checking them again (half the time: ~40 ns), for code decoded
// at every use.
Instruction decodeValidInstruction(const uint8_t *bytes);

} // namespace fractal::isa
