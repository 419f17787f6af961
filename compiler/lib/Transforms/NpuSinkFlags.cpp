// fractal-npu-sink-flags: let one drain of a DMA pipe cover several of its flags (Passes.td).
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <vector>

namespace fractal {
#define GEN_PASS_DEF_NPUSINKFLAGS
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace npu = fractal::npu;
using npu::Pipe;

bool isDmaPipe(Pipe pipe) { return pipe == Pipe::mte2 || pipe == Pipe::mte3; }

// The bytes a copy on a DMA pipe moves: npu.dma's elements; an instruction's bursts of 32-byte
// blocks (`nburst` x `len`); otherwise (a layout copy such as gm2l1_nz) the buffer it writes.
int64_t bytesMoved(mlir::Operation *op) {
  if (auto dma = llvm::dyn_cast<npu::DmaOp>(op))
    return dma.getElements() * llvm::cast<mlir::MemRefType>(dma.getSource().getType()).getElementTypeBitWidth() / 8;
  int64_t nburst = 1, len = 0;
  if (std::optional<npu::InstructionText> text = npu::instructionText(op))
    for (const auto &[key, value] : text->params) {
      if (key == "nburst") nburst = value;
      if (key == "len") len = value;
    }
  if (len > 0) return nburst * len * 32;
  for (const npu::BufferAccess &a : npu::bufferAccesses(op))
    if (a.write) return npu::bytesOf(llvm::cast<mlir::MemRefType>(a.operand->get().getType()));
  return 0;
}

// Where `set` (a flag from a DMA pipe) may move to: right before the next set_flag of the same
// pipe in its block, if everything between may be passed and the copies between move at most
// `budget` bytes; null otherwise.
mlir::Operation *mergePoint(npu::SetFlagOp set, int64_t budget) {
  const Pipe from = set.getFrom(), to = set.getTo();
  int64_t bytes = 0;
  bool passesWork = false;
  for (mlir::Operation *op = set->getNextNode(); op; op = op->getNextNode()) {
    if (auto next = llvm::dyn_cast<npu::SetFlagOp>(op)) {
      if (next.getFrom() == from) return passesWork ? op : nullptr;
      continue; // another pipe's set: not in this pipe's queue
    }
    if (auto wait = llvm::dyn_cast<npu::WaitFlagOp>(op)) {
      // Never past its own wait. A wait in this pipe's queue delays the set until the pipe it
      // waits for has got there, which costs nothing only when that is the consumer itself
      // (it sets that flag before it waits for this one).
      if (wait.getFrom() == from && wait.getTo() == to && wait.getEvent() == set.getEvent()) return nullptr;
      if (wait.getTo() == from && wait.getFrom() != to) return nullptr;
      continue;
    }
    if (op->getNumRegions() > 0 || op->hasTrait<mlir::OpTrait::IsTerminator>() || llvm::isa<npu::BarrierOp>(op))
      return nullptr;
    if (npu::pipeOf(op) == from && !npu::bufferAccesses(op).empty()) {
      passesWork = true;
      bytes += bytesMoved(op);
      if (bytes > budget) return nullptr;
    }
  }
  return nullptr;
}

struct NpuSinkFlagsPass : fractal::impl::NpuSinkFlagsBase<NpuSinkFlagsPass> {
  using NpuSinkFlagsBase::NpuSinkFlagsBase;

  void runOnOperation() override {
    std::vector<npu::SetFlagOp> sets;
    getOperation().walk([&](npu::SetFlagOp set) {
      if (isDmaPipe(set.getFrom())) sets.push_back(set);
    });
    // Last first: a set that moves down stops at the next one, which may itself have moved on.
    for (auto it = sets.rbegin(); it != sets.rend(); ++it)
      if (mlir::Operation *point = mergePoint(*it, maxBytes)) (*it)->moveBefore(point);
  }
};

} // namespace
