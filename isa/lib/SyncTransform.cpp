#include "fractal/isa/SyncTransform.h"

#include "MovedCode.h"

namespace fractal::isa {

Expected<KernelBinary> serializeSync(const KernelBinary &kernel, std::vector<size_t> *newPcOut) {
  const std::vector<Instruction> &code = kernel.code;
  KernelBinary out = kernel;
  out.code.clear();
  out.debug.clear(); // `notes` stay: the entries below keep their indices
  // newPc[i]: where old instruction i (or, for a dropped flag, the next kept one) lands.
  std::vector<size_t> newPc(code.size() + 1, 0);
  std::vector<size_t> origin; // old pc of each new instruction
  Instruction barrier = makeInstruction(Opcode::Barrier);
  barrier.values[barrier.operandIndex("pipe")] = static_cast<int64_t>(Pipe::ALL);
  for (size_t pc = 0; pc < code.size(); ++pc) {
    newPc[pc] = out.code.size();
    const Instruction &inst = code[pc];
    if (inst.opcode == Opcode::SetFlag || inst.opcode == Opcode::WaitFlag)
      continue;
    out.code.push_back(inst);
    origin.push_back(pc);
    const Pipe pipe = inst.pipe();
    if (pipe != Pipe::S && pipe != Pipe::ALL) {
      out.code.push_back(barrier);
      origin.push_back(pc);
    }
  }
  newPc[code.size()] = out.code.size();
  if (Status s = retargetBranches(code, out.code, 0, origin, newPc, kernel.source,
                                  "with a barrier after every pipe instruction ");
      !s)
    return s.error();
  for (Symbol &s : out.symbols)
    if (s.section == Symbol::Section::Code)
      s.value = static_cast<uint32_t>(newPc[std::min<size_t>(s.value, code.size())]);
  if (!kernel.debug.empty())
    for (size_t pc : origin) out.debug.push_back(kernel.debug[pc]);
  if (newPcOut) *newPcOut = std::move(newPc);
  return out;
}

} // namespace fractal::isa
