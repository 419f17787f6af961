// The assembler: Fractal assembly text (syntax in docs/isa.md) -> KernelBinary.
#pragma once

#include "fractal/isa/KernelBinary.h"
#include "fractal/support/Error.h"

#include <string>

namespace fractal::isa {

// Assembles `source`; `fileName` prefixes every diagnostic. On failure the Error holds every
// problem found, one per line: `file:line:col: error: in 'instruction text': reason`.
Expected<KernelBinary> assemble(const std::string &source, const std::string &fileName);

} // namespace fractal::isa
