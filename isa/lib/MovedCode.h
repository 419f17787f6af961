// Shared by the whole-kernel rewrites (SyncTransform, KernelSequence): after instructions were
// copied, dropped or inserted, each branch must reach the instruction its old target became.
#pragma once

#include "fractal/isa/KernelBinary.h"

namespace fractal::isa {

// code[first..] came from `old` instructions: code[n] from old[origin[n - first]], and its label
// operands still hold offsets relative to that old pc (a rewrite that turns an instruction into a
// branch gives it the old-relative offset it means). newPc[p] is where old pc p landed, newPc[old
// size] the end. Rewrites each label to the new offset. Errors start with `where`; `why` (may be
// empty) says what moved the code when an offset no longer fits.
Status retargetBranches(const std::vector<Instruction> &old, std::vector<Instruction> &code, size_t first,
                        const std::vector<size_t> &origin, const std::vector<size_t> &newPc, const std::string &where,
                        const std::string &why);

} // namespace fractal::isa
