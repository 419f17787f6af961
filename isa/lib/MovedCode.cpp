#include "MovedCode.h"

#include "fractal/isa/Disassembler.h"

namespace fractal::isa {

Status retargetBranches(const std::vector<Instruction> &old, std::vector<Instruction> &code, size_t first,
                        const std::vector<size_t> &origin, const std::vector<size_t> &newPc, const std::string &where,
                        const std::string &why) {
  for (size_t n = first; n < code.size(); ++n) {
    Instruction &inst = code[n];
    const size_t from = origin[n - first];
    const InstructionSpec &spec = inst.info();
    for (size_t o = 0; o < spec.operands.size(); ++o) {
      if (spec.operands[o].kind != OperandKind::Label)
        continue;
      const int64_t target = int64_t(from) + inst.values[o];
      if (target < 0 || target > int64_t(old.size()))
        return Error::badInput(where + ": pc " + std::to_string(from) + " `" + formatInstruction(old[from]) +
                               "` branches outside the kernel");
      const int64_t offset = int64_t(newPc[size_t(target)]) - int64_t(n);
      if (offset < spec.operands[o].min || offset > spec.operands[o].max)
        return Error::badInput(where + ": pc " + std::to_string(from) + " `" + formatInstruction(old[from]) + "`: " +
                               why + "the branch offset " + std::to_string(offset) + " no longer fits the instruction");
      inst.values[o] = offset;
    }
  }
  return Status::success();
}

} // namespace fractal::isa
