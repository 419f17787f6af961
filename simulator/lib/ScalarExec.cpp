// The scalar unit: executes scalar instructions and captures the operands of everything else.
#include "fractal/sim/Execute.h"

#include "fractal/sim/Fault.h"

#include <algorithm>
#include <cstring>

namespace fractal::sim {

using isa::Opcode;
using isa::OperandKind;

namespace {

int64_t asSigned(uint64_t v) { return static_cast<int64_t>(v); }

// Fills `op` in place (it is large: no temporary copy per instruction).
void capture(const CoreState &core, const isa::Instruction &inst, int64_t pc, DispatchedOp &op) {
  op.inst = inst;
  op.pc = pc;
  const auto &operands = inst.info().operands;
  op.regs.fill(0);
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].kind == OperandKind::Reg || operands[i].kind == OperandKind::Mem)
      op.regs[i] = core.reg(static_cast<int>(inst.values[i]));
  op.maskHi = core.maskHi;
  op.maskLo = core.maskLo;
  op.fmap = core.fmap;
}

} // namespace

bool changesOnlyItsCore(const isa::Instruction &inst) {
  switch (inst.opcode) {
  case Opcode::Nop: case Opcode::Li: case Opcode::Add: case Opcode::Sub: case Opcode::Mul: case Opcode::Div:
  case Opcode::Rem: case Opcode::Divu: case Opcode::Remu: case Opcode::And: case Opcode::Or: case Opcode::Xor:
  case Opcode::Shl: case Opcode::Shr: case Opcode::Sra: case Opcode::Min: case Opcode::Max: case Opcode::Slt:
  case Opcode::Sltu: case Opcode::Seq: case Opcode::Sne: case Opcode::Addi: case Opcode::Muli: case Opcode::Andi:
  case Opcode::Ori: case Opcode::Xori: case Opcode::Shli: case Opcode::Shri: case Opcode::Srai: case Opcode::Slti:
  case Opcode::Mfsr: case Opcode::Beq: case Opcode::Bne: case Opcode::Blt: case Opcode::Bge: case Opcode::Bltu:
  case Opcode::Bgeu: case Opcode::Jmp: case Opcode::Dbnz: case Opcode::SetMask: case Opcode::SetFmap:
    return true;
  default:
    return false;
  }
}

void stepScalar(CoreState &core, GlobalMemory &gm, const isa::KernelBinary &kernel, int64_t pc,
                const LaunchInfo &launch, uint64_t cycle, ScalarStep &step) {
  const int64_t size = static_cast<int64_t>(kernel.instructionCount());
  if (pc < 0 || pc >= size)
    throw FaultError(FaultKind::BadBranch, "fetch from pc " + std::to_string(pc) +
                                               " outside the " + std::to_string(size) +
                                               "-instruction program");
  const isa::Instruction &inst = core.fetch.fetch(kernel, pc);
  const auto &v = inst.values;
  step.kind = ScalarStep::Kind::Executed;
  step.branchTaken = step.gmAccess = step.dcacheInvalidate = false;
  step.pipe = isa::Pipe::S;
  step.nextPc = pc + 1;
  auto rd = [&](int i) { return core.reg(static_cast<int>(v[i])); };
  auto set = [&](int i, uint64_t x) { core.setReg(static_cast<int>(v[i]), x); };
  auto branch = [&](bool taken, int labelOperand) {
    if (!taken)
      return;
    step.branchTaken = true;
    step.nextPc = pc + v[labelOperand];
    if (step.nextPc < 0 || step.nextPc > size)
      throw FaultError(FaultKind::BadBranch, "branch target " + std::to_string(step.nextPc) +
                                                 " is outside the program");
  };
  auto gmWord = [&](int addrOperand, int offsetOperand, uint64_t width) -> uint8_t * {
    uint64_t address = rd(addrOperand) + static_cast<uint64_t>(v[offsetOperand]);
    if (address % width != 0)
      throw FaultError(FaultKind::Misaligned, "GM address " + std::to_string(address) +
                                                  " is not " + std::to_string(width) +
                                                  "-byte aligned");
    std::string why;
    uint8_t *p = gm.resolve(address, width, &why);
    if (!p)
      throw FaultError(FaultKind::GmAccess, why);
    step.gmAccess = true;
    step.gmAddress = address;
    step.gmBytes = static_cast<uint32_t>(width);
    return p;
  };

  switch (inst.opcode) {
  case Opcode::Nop: break;
  case Opcode::End: step.kind = ScalarStep::Kind::End; break;
  case Opcode::SyncAll: step.kind = ScalarStep::Kind::SyncAll; break;
  case Opcode::Li: set(0, static_cast<uint64_t>(v[1])); break;
  case Opcode::Add: set(0, rd(1) + rd(2)); break;
  case Opcode::Sub: set(0, rd(1) - rd(2)); break;
  case Opcode::Mul: set(0, rd(1) * rd(2)); break;
  case Opcode::Div: {
    int64_t a = asSigned(rd(1)), b = asSigned(rd(2));
    set(0, b == 0 ? ~0ull : (a == INT64_MIN && b == -1) ? static_cast<uint64_t>(a)
                                                         : static_cast<uint64_t>(a / b));
    break;
  }
  case Opcode::Rem: {
    int64_t a = asSigned(rd(1)), b = asSigned(rd(2));
    set(0, b == 0 ? static_cast<uint64_t>(a) : (a == INT64_MIN && b == -1) ? 0 : static_cast<uint64_t>(a % b));
    break;
  }
  case Opcode::Divu: set(0, rd(2) == 0 ? ~0ull : rd(1) / rd(2)); break;
  case Opcode::Remu: set(0, rd(2) == 0 ? rd(1) : rd(1) % rd(2)); break;
  case Opcode::And: set(0, rd(1) & rd(2)); break;
  case Opcode::Or: set(0, rd(1) | rd(2)); break;
  case Opcode::Xor: set(0, rd(1) ^ rd(2)); break;
  case Opcode::Shl: set(0, rd(1) << (rd(2) & 63)); break;
  case Opcode::Shr: set(0, rd(1) >> (rd(2) & 63)); break;
  case Opcode::Sra: set(0, static_cast<uint64_t>(asSigned(rd(1)) >> (rd(2) & 63))); break;
  case Opcode::Min: set(0, static_cast<uint64_t>(std::min(asSigned(rd(1)), asSigned(rd(2))))); break;
  case Opcode::Max: set(0, static_cast<uint64_t>(std::max(asSigned(rd(1)), asSigned(rd(2))))); break;
  case Opcode::Slt: set(0, asSigned(rd(1)) < asSigned(rd(2))); break;
  case Opcode::Sltu: set(0, rd(1) < rd(2)); break;
  case Opcode::Seq: set(0, rd(1) == rd(2)); break;
  case Opcode::Sne: set(0, rd(1) != rd(2)); break;
  case Opcode::Addi: set(0, rd(1) + static_cast<uint64_t>(v[2])); break;
  case Opcode::Muli: set(0, rd(1) * static_cast<uint64_t>(v[2])); break;
  case Opcode::Andi: set(0, rd(1) & static_cast<uint64_t>(v[2])); break;
  case Opcode::Ori: set(0, rd(1) | static_cast<uint64_t>(v[2])); break;
  case Opcode::Xori: set(0, rd(1) ^ static_cast<uint64_t>(v[2])); break;
  case Opcode::Shli: set(0, rd(1) << v[2]); break;
  case Opcode::Shri: set(0, rd(1) >> v[2]); break;
  case Opcode::Srai: set(0, static_cast<uint64_t>(asSigned(rd(1)) >> v[2])); break;
  case Opcode::Slti: set(0, asSigned(rd(1)) < v[2]); break;
  case Opcode::Mfsr:
    switch (static_cast<isa::SpecialReg>(v[1])) {
    case isa::SpecialReg::BlockIdx: set(0, static_cast<uint64_t>(launch.blockIdx)); break;
    case isa::SpecialReg::BlockDim: set(0, static_cast<uint64_t>(launch.blockDim)); break;
    case isa::SpecialReg::CoreId: set(0, static_cast<uint64_t>(core.coreId())); break;
    case isa::SpecialReg::Cycle: set(0, cycle); break;
    case isa::SpecialReg::DataBase: set(0, launch.dataBase); break;
    case isa::SpecialReg::Args: set(0, launch.args); break;
    }
    break;
  case Opcode::Ld: {
    uint64_t x;
    std::memcpy(&x, gmWord(1, 2, 8), 8);
    set(0, x);
    break;
  }
  case Opcode::Ldw: {
    int32_t x;
    std::memcpy(&x, gmWord(1, 2, 4), 4);
    set(0, static_cast<uint64_t>(static_cast<int64_t>(x)));
    break;
  }
  case Opcode::St: {
    uint64_t x = rd(0);
    std::memcpy(gmWord(1, 2, 8), &x, 8);
    break;
  }
  case Opcode::Stw: {
    uint32_t x = static_cast<uint32_t>(rd(0));
    std::memcpy(gmWord(1, 2, 4), &x, 4);
    break;
  }
  case Opcode::Dcci:
    // Timing only: the model's scalar loads always read GM's current bytes, so dropping the line
    // changes when the next load of it completes, never what it reads.
    step.dcacheInvalidate = true;
    step.gmAddress = rd(0) + static_cast<uint64_t>(v[1]);
    break;
  case Opcode::Trap: {
    const int64_t a = asSigned(rd(0)), b = asSigned(rd(1));
    throw FaultError(FaultKind::Trap, v[2] == 1 ? "index " + std::to_string(a) + " is out of range: the axis has " +
                                                      std::to_string(b) + " entries (valid: " + std::to_string(-b) +
                                                      " .. " + std::to_string(b - 1) + ")"
                                                : "trap " + std::to_string(v[2]) + " with " + std::to_string(a) +
                                                      ", " + std::to_string(b));
  }
  case Opcode::Beq: branch(rd(0) == rd(1), 2); break;
  case Opcode::Bne: branch(rd(0) != rd(1), 2); break;
  case Opcode::Blt: branch(asSigned(rd(0)) < asSigned(rd(1)), 2); break;
  case Opcode::Bge: branch(asSigned(rd(0)) >= asSigned(rd(1)), 2); break;
  case Opcode::Bltu: branch(rd(0) < rd(1), 2); break;
  case Opcode::Bgeu: branch(rd(0) >= rd(1), 2); break;
  case Opcode::Jmp: branch(true, 0); break;
  case Opcode::Dbnz: {
    uint64_t n = rd(0) - 1;
    set(0, n);
    branch(n != 0, 1);
    break;
  }
  case Opcode::SetMask:
    core.maskHi = rd(0);
    core.maskLo = rd(1);
    break;
  case Opcode::SetFmap: core.fmap = rd(0); break;
  case Opcode::SetFlag:
  case Opcode::WaitFlag:
  case Opcode::Barrier: {
    capture(core, inst, pc, step.op);
    step.pipe = inst.pipe();
    if (inst.opcode == Opcode::Barrier) {
      if (step.pipe == isa::Pipe::ALL)
        step.kind = ScalarStep::Kind::BarrierAll;
      else if (step.pipe == isa::Pipe::S)
        step.kind = ScalarStep::Kind::Executed; // the scalar unit is in order already
      else
        step.kind = ScalarStep::Kind::Dispatch;
    } else if (step.pipe == isa::Pipe::S) {
      step.kind = inst.opcode == Opcode::SetFlag ? ScalarStep::Kind::SetFlag
                                                 : ScalarStep::Kind::WaitFlag;
    } else {
      step.kind = ScalarStep::Kind::Dispatch;
    }
    break;
  }
  default:
    step.kind = ScalarStep::Kind::Dispatch;
    step.pipe = inst.pipe();
    capture(core, inst, pc, step.op);
    break;
  }
}

} // namespace fractal::sim
