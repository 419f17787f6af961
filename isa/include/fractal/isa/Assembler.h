// The assembler: Fractal assembly text (syntax in docs/isa.md) -> KernelBinary.
#pragma once

#include "fractal/isa/KernelBinary.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <map>
#include <string>

namespace fractal::isa {

// Symbols given from outside (`fractal asm -D NAME=VALUE`). A `.equ` of the same name in the source
// keeps the outside value, so a kernel's `.equ` lines act as defaults.
using Defines = std::map<std::string, int64_t>;

// Assembles `source`; `fileName` prefixes every diagnostic. On failure the Error holds every
// problem found, one per line: `file:line:col: error: in 'instruction text': reason`.
Expected<KernelBinary> assemble(const std::string &source, const std::string &fileName,
                                const Defines &defines = {});

// Parses "NAME=VALUE" (VALUE decimal or 0x hex, optionally negative) into `defines`.
Status parseDefine(const std::string &text, Defines &defines);

} // namespace fractal::isa
