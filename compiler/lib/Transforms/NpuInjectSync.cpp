// fractal-npu-inject-sync: set/wait flags between pipes from the memory dependences of a kernel
// (Passes.td has the rules).
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <map>
#include <vector>

namespace fractal {
#define GEN_PASS_DEF_NPUINJECTSYNC
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace npu = fractal::npu;
using npu::Pipe;

// One buffer touched by one pipe, by `op` (a leaf op inside the item, at pre-order `pos`).
struct Access {
  mlir::Value buffer;
  bool write;
  Pipe pipe;
  mlir::Operation *op;
  int64_t pos;
};

// Everything `root` (and what it contains) reads and writes, by pipe, in program order.
std::vector<Access> accessesOf(mlir::Operation *root) {
  std::vector<Access> out;
  int64_t pos = 0;
  root->walk<mlir::WalkOrder::PreOrder>([&](mlir::Operation *op) {
    ++pos;
    if (std::optional<Pipe> pipe = npu::pipeOf(op))
      for (const npu::BufferAccess &a : npu::bufferAccesses(op))
        out.push_back({npu::rootBuffer(a.operand->get()), a.write, *pipe, op, pos});
  });
  return out;
}

bool conflicts(const Access &a, const Access &b) { return a.buffer == b.buffer && (a.write || b.write); }

// Whether `later` runs whenever `earlier` has (its op is in a block enclosing earlier's op).
bool onPath(const Access &later, const Access &earlier) {
  return later.op->getBlock()->findAncestorOpInBlock(*earlier.op) != nullptr;
}

// Whether item y's accesses on pipe q must wait for item x's on pipe p. Not when the item's
// own (already synchronised) ops order them: y's access is preceded inside y by a conflicting
// access of pipe p (which runs after all of x's), or x's access is followed inside x by a
// conflicting access of pipe q (which runs before all of y's).
enum class Dependence { None, Covered, Flag };
Dependence dependence(const std::vector<Access> &x, Pipe p, const std::vector<Access> &y, Pipe q) {
  Dependence found = Dependence::None;
  for (const Access &a : x) {
    if (a.pipe != p) continue;
    for (const Access &b : y) {
      if (b.pipe != q || !conflicts(a, b)) continue;
      bool inside = false;
      for (const Access &a2 : y)
        inside |= a2.pipe == p && a2.pos < b.pos && conflicts(a2, b) && onPath(a2, b);
      for (const Access &b2 : x)
        inside |= b2.pipe == q && b2.pos > a.pos && conflicts(a, b2) && onPath(b2, a);
      if (!inside) return Dependence::Flag;
      found = Dependence::Covered;
    }
  }
  return found;
}

constexpr Pipe kPipes[] = {Pipe::v, Pipe::m, Pipe::mte1, Pipe::mte2, Pipe::mte3, Pipe::fix};
using Counters = std::map<std::pair<Pipe, Pipe>, int64_t>;

struct NpuInjectSyncPass : fractal::impl::NpuInjectSyncBase<NpuInjectSyncPass> {
  using NpuInjectSyncBase::NpuInjectSyncBase;

  // A flag from item `producer` (pipe from) to item `consumer` (pipe to); carried: the producer
  // is in the previous iteration of the loop around the block.
  struct Pair {
    size_t producer, consumer;
    Pipe from, to;
    bool carried;
  };

  // A conditional op that depends on itself across loop turns (its pipe-to pipe reads what its
  // pipe-from wrote last turn, or overwrites what it read): the wait goes at the start and the set
  // at the end of each branch that touches those buffers, not around the scf.if. Around it, a
  // turn that skips the branch would set the flag with nothing ordering that after the wait of
  // the turn before (a flag set twice); inside, the branch's own flags order its pipe-to access
  // before its pipe-from access. False (nothing placed) when a branch touches the buffers from
  // only one of the two pipes, or the op is no scf.if.
  bool insideBranches(const std::vector<Access> &accesses, mlir::Operation *op, const Pair &p, int64_t event) {
    auto ifOp = llvm::dyn_cast<mlir::scf::IfOp>(op);
    if (!ifOp) return false;
    std::vector<mlir::Value> buffers; // those on which the two pipes conflict
    for (const Access &a : accesses)
      for (const Access &c : accesses)
        if (a.pipe == p.from && c.pipe == p.to && conflicts(a, c)) buffers.push_back(a.buffer);
    std::vector<mlir::Block *> branches;
    for (mlir::Region *region : {&ifOp.getThenRegion(), &ifOp.getElseRegion()}) {
      if (region->empty()) continue;
      bool from = false, to = false;
      for (const Access &a : accesses)
        if (region->isAncestor(a.op->getParentRegion()) && llvm::is_contained(buffers, a.buffer)) {
          from |= a.pipe == p.from;
          to |= a.pipe == p.to;
        }
      if (from != to) return false;
      if (from) branches.push_back(&region->front());
    }
    mlir::OpBuilder b(op->getContext());
    for (mlir::Block *branch : branches) {
      b.setInsertionPointToStart(branch);
      b.create<npu::WaitFlagOp>(op->getLoc(), p.from, p.to, event);
      b.setInsertionPoint(branch->getTerminator());
      b.create<npu::SetFlagOp>(op->getLoc(), p.from, p.to, event);
    }
    return true;
  }

  mlir::LogicalResult processBlock(mlir::Block &block, bool loop, Counters &counters) {
    // Dependences inside nested regions first; branches of one scf.if may share event ids.
    for (mlir::Operation &op : block) {
      if (auto ifOp = llvm::dyn_cast<mlir::scf::IfOp>(op)) {
        Counters thenCounters = counters, elseCounters = counters;
        if (mlir::failed(processBlock(ifOp.getThenRegion().front(), false, thenCounters))) return mlir::failure();
        if (!ifOp.getElseRegion().empty() &&
            mlir::failed(processBlock(ifOp.getElseRegion().front(), false, elseCounters)))
          return mlir::failure();
        for (auto &[key, value] : elseCounters) thenCounters[key] = std::max(thenCounters[key], value);
        counters = thenCounters;
      } else if (auto forOp = llvm::dyn_cast<mlir::scf::ForOp>(op)) {
        if (mlir::failed(processBlock(*forOp.getBody(), true, counters))) return mlir::failure();
      } else if (op.getNumRegions() > 0 && !accessesOf(&op).empty()) {
        return op.emitOpError("npu-inject-sync handles scf.for and scf.if only around pipe ops");
      }
    }

    struct Item {
      mlir::Operation *op;
      std::vector<Access> accesses;
    };
    std::vector<Item> items;
    for (mlir::Operation &op : block)
      if (std::vector<Access> a = accessesOf(&op); !a.empty()) items.push_back({&op, std::move(a)});
    const int64_t n = int64_t(items.size());

    // For each consumer and pipe pair, the nearest conflicting producer (searching back, around
    // the loop when in one), unless a flag already placed between the same pipes covers it.
    std::vector<Pair> pairs;
    auto covered = [&](int64_t producerTime, int64_t consumerTime, Pipe from, Pipe to) {
      for (const Pair &p : pairs) {
        if (p.from != from || p.to != to) continue;
        const int64_t setTime = int64_t(p.producer) - (p.carried ? n : 0), waitTime = int64_t(p.consumer);
        for (int64_t shift : {int64_t(0), -n, n})
          if (producerTime <= setTime + shift && waitTime + shift <= consumerTime) return true;
      }
      return false;
    };
    for (int64_t j = 0; j < n; ++j) {
      for (Pipe to : kPipes) {
        bool touches = false;
        for (const Access &a : items[size_t(j)].accesses) touches |= a.pipe == to;
        if (!touches) continue;
        for (Pipe from : kPipes) {
          if (from == to) continue;
          for (int64_t step = 1; step <= (loop ? n : j); ++step) {
            const int64_t i = ((j - step) % n + n) % n;
            // Items whose conflicts their own flags already order are passed over.
            if (dependence(items[size_t(i)].accesses, from, items[size_t(j)].accesses, to) != Dependence::Flag)
              continue;
            if (!covered(j - step, j, from, to)) pairs.push_back({size_t(i), size_t(j), from, to, step > j});
            break;
          }
        }
      }
    }

    for (const Pair &p : pairs) {
      const int64_t event = counters[{p.from, p.to}]++;
      mlir::Operation *producer = items[p.producer].op, *consumer = items[p.consumer].op;
      if (event > 7)
        return consumer->emitOpError("needs more than 8 flags from ")
               << npu::stringifyPipe(p.from) << " to " << npu::stringifyPipe(p.to) << " live at once";
      mlir::OpBuilder b(producer->getContext());
      if (!(p.carried && producer == consumer && insideBranches(items[p.consumer].accesses, consumer, p, event))) {
        b.setInsertionPointAfter(producer);
        b.create<npu::SetFlagOp>(producer->getLoc(), p.from, p.to, event);
        b.setInsertionPoint(consumer);
        b.create<npu::WaitFlagOp>(consumer->getLoc(), p.from, p.to, event);
      }
      if (p.carried) {
        // The first iteration's wait finds the flag primed; the last iteration's set is drained.
        mlir::Operation *loopOp = block.getParentOp();
        b.setInsertionPoint(loopOp);
        b.create<npu::SetFlagOp>(loopOp->getLoc(), p.from, p.to, event);
        b.setInsertionPointAfter(loopOp);
        b.create<npu::WaitFlagOp>(loopOp->getLoc(), p.from, p.to, event);
      }
    }
    return mlir::success();
  }

  void runOnOperation() override {
    mlir::func::FuncOp func = getOperation();
    if (func.isExternal()) return;
    mlir::Operation *synced = nullptr;
    func.walk([&](mlir::Operation *op) {
      if (!synced && llvm::isa<npu::SetFlagOp, npu::WaitFlagOp, npu::BarrierOp>(op)) synced = op;
    });
    if (synced) {
      synced->emitOpError("in a kernel given to fractal-npu-inject-sync, which places all sync ops itself");
      return signalPassFailure();
    }
    if (mode == "barrier-all") {
      func.walk([&](mlir::Operation *op) {
        if (!npu::pipeOf(op)) return;
        mlir::OpBuilder b(op->getContext());
        b.setInsertionPointAfter(op);
        b.create<npu::BarrierOp>(op->getLoc(), Pipe::all);
      });
      return;
    }
    if (mode != "flags") {
      func.emitOpError("unknown sync mode '") << mode << "' (flags or barrier-all)";
      return signalPassFailure();
    }
    Counters counters;
    if (mlir::failed(processBlock(func.getBody().front(), false, counters))) signalPassFailure();
  }
};

} // namespace
