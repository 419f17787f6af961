// fractal-npu-inject-sync: set/wait flags between pipes from the memory dependences of a kernel
// (Passes.td has the rules).
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <map>
#include <set>
#include <tuple>
#include <vector>

namespace fractal {
#define GEN_PASS_DEF_NPUINJECTSYNC
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace npu = fractal::npu;
using npu::Pipe;

// One buffer touched by one pipe, by `op` (a leaf op inside the item, at pre-order `pos`). A
// planned on-chip buffer is also its byte range: buffers whose lives do not overlap in program
// order share bytes (fractal-npu-plan-memory), yet the pipes run ahead of program order, so a
// buffer's new owner must wait for its old one like any other writer.
struct Access {
  mlir::Value buffer;
  bool write;
  Pipe pipe;
  mlir::Operation *op;
  int64_t pos;
  std::optional<npu::Space> space;
  int64_t begin = 0, end = 0; // bytes, for planned allocs
};

// Everything `root` (and what it contains) reads and writes, by pipe, in program order.
std::vector<Access> accessesOf(mlir::Operation *root) {
  std::vector<Access> out;
  int64_t pos = 0;
  root->walk<mlir::WalkOrder::PreOrder>([&](mlir::Operation *op) {
    ++pos;
    if (std::optional<Pipe> pipe = npu::pipeOf(op))
      for (const npu::BufferAccess &a : npu::bufferAccesses(op)) {
        Access access{npu::rootBuffer(a.operand->get()), a.write, *pipe, op, pos, std::nullopt};
        if (auto alloc = access.buffer.getDefiningOp<npu::AllocOp>(); alloc && alloc.getOffset()) {
          access.space = npu::spaceOf(alloc.getBuffer().getType());
          access.begin = *alloc.getOffset();
          access.end = access.begin + alloc.getSizeInBytes();
        }
        out.push_back(access);
      }
  });
  return out;
}

bool conflicts(const Access &a, const Access &b) {
  if (!a.write && !b.write) return false;
  if (a.space && b.space) return *a.space == *b.space && a.begin < b.end && b.begin < a.end;
  return a.buffer == b.buffer;
}

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

// Flags already placed inside an item (its nested loops' primes and drains included) may order
// two pipes for everything the item does: then a dependence between this item and another needs
// no flag of its own (nested loops would otherwise use up the 8 events per pipe pair).
bool isFlag(mlir::Operation *op, Pipe from, Pipe to, bool set) {
  if (set)
    if (auto f = llvm::dyn_cast<npu::SetFlagOp>(op)) return f.getFrom() == from && f.getTo() == to;
  if (!set)
    if (auto f = llvm::dyn_cast<npu::WaitFlagOp>(op)) return f.getFrom() == from && f.getTo() == to;
  return false;
}
int64_t eventOf(mlir::Operation *op) {
  if (auto f = llvm::dyn_cast<npu::SetFlagOp>(op)) return int64_t(f.getEvent());
  return int64_t(llvm::cast<npu::WaitFlagOp>(op).getEvent());
}
bool touchesPipe(mlir::Operation *op, Pipe pipe) {
  bool found = false;
  op->walk([&](mlir::Operation *inner) {
    if (npu::pipeOf(inner) == pipe && !npu::bufferAccesses(inner).empty()) found = true;
  });
  return found;
}

// What pipe `from` last did, as far as pipe `to` can know, along one control path: `handed` once
// a set_flag(from -> to) after the last `from` op has been waited on by `to`.
struct HandOff {
  bool pending = false;          // a `from` op not yet followed by a set
  std::vector<int64_t> covering; // events set after the last `from` op
  bool handed = true;            // `to` has waited on one of them (or `from` did nothing)
  bool operator==(const HandOff &o) const {
    return pending == o.pending && covering == o.covering && handed == o.handed;
  }
};
using Paths = std::vector<HandOff>; // one state per distinct path (branches and loop turns fork)
constexpr size_t kMaxPaths = 64;    // beyond: no conclusion (the flag is placed)

void addPaths(Paths &into, const Paths &more) {
  for (const HandOff &h : more)
    if (!llvm::is_contained(into, h)) into.push_back(h);
}
std::optional<Paths> walkHandOff(mlir::Block &block, Paths paths, Pipe from, Pipe to);
std::optional<Paths> stepHandOff(mlir::Operation &op, Paths paths, Pipe from, Pipe to) {
  if (paths.size() > kMaxPaths) return std::nullopt;
  if (auto ifOp = llvm::dyn_cast<mlir::scf::IfOp>(op)) {
    std::optional<Paths> thenPaths = walkHandOff(ifOp.getThenRegion().front(), paths, from, to);
    std::optional<Paths> elsePaths =
        ifOp.getElseRegion().empty() ? paths : walkHandOff(ifOp.getElseRegion().front(), paths, from, to);
    if (!thenPaths || !elsePaths) return std::nullopt;
    addPaths(*thenPaths, *elsePaths);
    return thenPaths;
  }
  if (auto forOp = llvm::dyn_cast<mlir::scf::ForOp>(op)) { // zero, one or more turns
    std::optional<Paths> once = walkHandOff(*forOp.getBody(), paths, from, to);
    if (!once) return std::nullopt;
    std::optional<Paths> twice = walkHandOff(*forOp.getBody(), *once, from, to);
    if (!twice) return std::nullopt;
    addPaths(paths, *once);
    addPaths(paths, *twice);
    return paths;
  }
  const bool set = isFlag(&op, from, to, true), wait = isFlag(&op, from, to, false);
  const bool work = npu::pipeOf(&op) == from && !npu::bufferAccesses(&op).empty();
  Paths out;
  for (HandOff h : paths) {
    if (set) {
      if (h.pending) h.covering.clear();
      h.pending = false;
      if (!llvm::is_contained(h.covering, eventOf(&op))) h.covering.push_back(eventOf(&op));
    } else if (wait) {
      if (!h.pending && llvm::is_contained(h.covering, eventOf(&op))) h.handed = true;
    } else if (work) {
      h = HandOff{true, {}, false};
    }
    if (!llvm::is_contained(out, h)) out.push_back(h);
  }
  return out;
}
std::optional<Paths> walkHandOff(mlir::Block &block, Paths paths, Pipe from, Pipe to) {
  for (mlir::Operation &op : block) {
    std::optional<Paths> next = stepHandOff(op, std::move(paths), from, to);
    if (!next) return std::nullopt;
    paths = std::move(*next);
  }
  return paths;
}

// Whether pipe `to` is ordered after everything pipe `from` does in `item`, on every path: the
// flags inside it (and the waits right after it, a loop's drains) hand every `from` op over.
bool handsOff(mlir::Operation *item, Pipe from, Pipe to) {
  if (!touchesPipe(item, from)) return false;
  std::optional<Paths> paths = stepHandOff(*item, Paths{HandOff{}}, from, to);
  for (mlir::Operation *next = item->getNextNode(); paths && next && llvm::isa<npu::WaitFlagOp>(next);
       next = next->getNextNode())
    paths = stepHandOff(*next, std::move(*paths), from, to);
  if (!paths) return false;
  for (const HandOff &h : *paths)
    if (h.pending || !h.handed) return false;
  return true;
}

// Whether every `to` op in `item` waits first for a flag(from -> to) set right before the item
// (a loop's primes): those sets follow everything `from` did before.
bool waitsFirst(mlir::Operation &op, const std::vector<int64_t> &primed, Pipe from, Pipe to, bool &waited);
bool waitsFirst(mlir::Block &block, const std::vector<int64_t> &primed, Pipe from, Pipe to, bool &waited) {
  for (mlir::Operation &op : block)
    if (!waitsFirst(op, primed, from, to, waited)) return false;
  return true;
}
bool waitsFirst(mlir::Operation &op, const std::vector<int64_t> &primed, Pipe from, Pipe to, bool &waited) {
  if (isFlag(&op, from, to, false) && llvm::is_contained(primed, eventOf(&op))) waited = true;
  if (auto ifOp = llvm::dyn_cast<mlir::scf::IfOp>(op)) {
    bool thenWaited = waited, elseWaited = waited;
    if (!waitsFirst(ifOp.getThenRegion().front(), primed, from, to, thenWaited)) return false;
    if (!ifOp.getElseRegion().empty() && !waitsFirst(ifOp.getElseRegion().front(), primed, from, to, elseWaited))
      return false;
    waited = thenWaited && elseWaited;
    return true;
  }
  if (auto forOp = llvm::dyn_cast<mlir::scf::ForOp>(op)) {
    bool inside = waited; // a loop of zero turns waits for nothing
    return waitsFirst(*forOp.getBody(), primed, from, to, inside);
  }
  return waited || !(npu::pipeOf(&op) == to && !npu::bufferAccesses(&op).empty());
}
bool waitsForPrimes(mlir::Operation *item, Pipe from, Pipe to) {
  std::vector<int64_t> primed;
  for (mlir::Operation *prev = item->getPrevNode(); prev && llvm::isa<npu::SetFlagOp>(prev); prev = prev->getPrevNode())
    if (isFlag(prev, from, to, true)) primed.push_back(eventOf(prev));
  bool waited = false;
  return !primed.empty() && touchesPipe(item, to) && waitsFirst(*item, primed, from, to, waited);
}

// The events whose set follows every `from` op of `item` on every path (empty: some `from` op
// is followed by no set, or the item does nothing on `from`).
std::vector<int64_t> endsWithSets(mlir::Operation *item, Pipe from, Pipe to) {
  if (!touchesPipe(item, from)) return {};
  HandOff start;
  start.covering = {-1}; // a path that never touches `from` keeps this marker: it constrains nothing
  std::optional<Paths> paths = stepHandOff(*item, Paths{start}, from, to);
  if (!paths) return {};
  std::optional<std::vector<int64_t>> common;
  for (const HandOff &h : *paths) {
    if (h.pending) return {};
    if (llvm::is_contained(h.covering, -1)) continue;
    if (!common) {
      common = h.covering;
      continue;
    }
    std::vector<int64_t> both;
    for (int64_t e : *common)
      if (llvm::is_contained(h.covering, e)) both.push_back(e);
    common = both;
  }
  return common ? *common : std::vector<int64_t>{};
}

// The events every `to` op of `item` waits on first, on every path (that reaches a `to` op).
std::vector<int64_t> waitsFirstOn(mlir::Operation *item, Pipe from, Pipe to) {
  if (!touchesPipe(item, to)) return {};
  std::vector<int64_t> candidates;
  item->walk([&](npu::WaitFlagOp w) {
    if (w.getFrom() == from && w.getTo() == to && !llvm::is_contained(candidates, int64_t(w.getEvent())))
      candidates.push_back(int64_t(w.getEvent()));
  });
  std::vector<int64_t> out;
  for (int64_t e : candidates) {
    bool waited = false;
    if (waitsFirst(*item, {e}, from, to, waited)) out.push_back(e);
  }
  return out;
}

// Whether a flag already orders everything `from` does in `producer` before everything `to` does
// in `consumer` (a later item): the producer ends with a set of an event the consumer waits on
// before any `to` work. Sets and waits of one event alternate in program order, so that wait
// consumes that set or a later one. (Loops that follow each other chain their carried flags this
// way.)
bool orderedByEvent(mlir::Operation *producer, mlir::Operation *consumer, Pipe from, Pipe to) {
  const std::vector<int64_t> sets = endsWithSets(producer, from, to);
  if (sets.empty()) return false;
  for (int64_t e : waitsFirstOn(consumer, from, to))
    if (llvm::is_contained(sets, e)) return true;
  return false;
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
        if (a.pipe == p.from && c.pipe == p.to && conflicts(a, c)) {
          buffers.push_back(a.buffer);
          buffers.push_back(c.buffer);
        }
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

  // Event ids. A flag set and waited in the same turn (or outside loops) gets the next id of its
  // pipe pair, counting up from 0 through the whole kernel (the branches of an scf.if share ids).
  // A loop-carried flag is a chain: primed once at the kernel's start, drained once at its end;
  // each turn waits for the previous turn's set, and a run of a loop nested in another waits for
  // the previous run's last set. Its id counts down from 7, above the ids the loops inside this
  // one use for theirs; loops that are not nested in each other share ids (one chain through
  // both: the later loop's first turn waits for the earlier one's last set, a harmless extra
  // order), so deep and repeated loop nests still fit the 8 ids of a pipe pair.
  std::set<std::tuple<Pipe, Pipe, int64_t>> chains; // primed at the start, drained at the end
  // A flag within a turn guards some buffers: the `from` pipe wrote (or read) them and the `to`
  // pipe reads (or overwrites) them. Flags guarding the same buffers the same way share an id: the
  // next set of that id follows the next `from` access to those buffers, which itself waits for
  // the `to` access of the last flag (the opposite dependence), so sets and waits alternate. (The
  // pair keys are the conflicting buffers, with who writes.)
  using Guard = std::tuple<Pipe, Pipe, std::vector<std::tuple<const void *, int64_t, int64_t, bool, bool>>>;
  std::map<Guard, int64_t> guards;
  static Guard guardOf(const std::vector<Access> &x, Pipe p, const std::vector<Access> &y, Pipe q) {
    std::vector<std::tuple<const void *, int64_t, int64_t, bool, bool>> buffers;
    for (const Access &a : x)
      for (const Access &b : y)
        if (a.pipe == p && b.pipe == q && conflicts(a, b)) {
          auto entry = a.space ? std::make_tuple((const void *)nullptr, a.begin + (int64_t(*a.space) << 40), a.end, a.write, b.write)
                               : std::make_tuple(a.buffer.getAsOpaquePointer(), int64_t(0), int64_t(0), a.write, b.write);
          if (!llvm::is_contained(buffers, entry)) buffers.push_back(entry);
        }
    std::sort(buffers.begin(), buffers.end());
    return {p, q, buffers};
  }
  Counters chainDepth;                              // chain ids in use, the kernel's deepest

  // Processes `block`; returns the chain ids its loops use per pipe pair.
  mlir::FailureOr<Counters> processBlock(mlir::Block &block, bool loop, Counters &counters) {
    // Dependences inside nested regions first; branches of one scf.if may share event ids, and
    // sibling loops chain ids.
    Counters below;
    auto deepest = [](Counters &into, const Counters &from) {
      for (auto &[key, value] : from) into[key] = std::max(into[key], value);
    };
    for (mlir::Operation &op : block) {
      if (auto ifOp = llvm::dyn_cast<mlir::scf::IfOp>(op)) {
        mlir::FailureOr<Counters> thenChains = processBlock(ifOp.getThenRegion().front(), false, counters);
        if (mlir::failed(thenChains)) return mlir::failure();
        deepest(below, *thenChains);
        if (!ifOp.getElseRegion().empty()) {
          mlir::FailureOr<Counters> elseChains = processBlock(ifOp.getElseRegion().front(), false, counters);
          if (mlir::failed(elseChains)) return mlir::failure();
          deepest(below, *elseChains);
        }
      } else if (auto forOp = llvm::dyn_cast<mlir::scf::ForOp>(op)) {
        mlir::FailureOr<Counters> bodyChains = processBlock(*forOp.getBody(), true, counters);
        if (mlir::failed(bodyChains)) return mlir::failure();
        deepest(below, *bodyChains);
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
            // So are conflicts the flags inside the items (nested loops' primes and drains)
            // already order: everything `from` did in the producer is handed over to `to`, or
            // everything `to` does in the consumer waits for primes set after the producer.
            if (handsOff(items[size_t(i)].op, from, to) || waitsForPrimes(items[size_t(j)].op, from, to) ||
                orderedByEvent(items[size_t(i)].op, items[size_t(j)].op, from, to))
              break;
            if (!covered(j - step, j, from, to)) pairs.push_back({size_t(i), size_t(j), from, to, step > j});
            break;
          }
        }
      }
    }

    Counters own; // this loop's chains
    for (const Pair &p : pairs) {
      const std::pair<Pipe, Pipe> key{p.from, p.to};
      int64_t event;
      if (p.carried) {
        event = 7 - (below[key] + own[key]++);
      } else { // one id per pipe pair, buffers and direction (see `guards`)
        auto [it, fresh] = guards.try_emplace(guardOf(items[p.producer].accesses, p.from, items[p.consumer].accesses, p.to), 0);
        if (fresh) it->second = counters[key]++;
        event = it->second;
        // Not an id set inside the producer (a loop or branch) itself: its last `from` access may
        // come before that inner set (a turn that skips the rest), and nothing would then order
        // this set after the inner flag's wait. Such a flag gets an id of its own.
        bool setInside = false;
        items[p.producer].op->walk([&](npu::SetFlagOp set) {
          setInside |= set.getFrom() == p.from && set.getTo() == p.to && static_cast<int64_t>(set.getEvent()) == event;
        });
        if (setInside) event = counters[key]++;
      }
      mlir::Operation *producer = items[p.producer].op, *consumer = items[p.consumer].op;
      if (event < 0 || event > 7 || counters[key] + std::max(chainDepth[key], below[key] + own[key]) > 8)
        return consumer->emitOpError("needs more than 8 flags from ")
               << npu::stringifyPipe(p.from) << " to " << npu::stringifyPipe(p.to) << " live at once ("
               << counters[key] << " within loop turns, " << std::max(chainDepth[key], below[key] + own[key])
               << " carried by loops)";
      mlir::OpBuilder b(producer->getContext());
      if (!(p.carried && producer == consumer && insideBranches(items[p.consumer].accesses, consumer, p, event))) {
        b.setInsertionPointAfter(producer);
        b.create<npu::SetFlagOp>(producer->getLoc(), p.from, p.to, event);
        b.setInsertionPoint(consumer);
        b.create<npu::WaitFlagOp>(consumer->getLoc(), p.from, p.to, event);
      }
      // A chain is primed and drained once for the whole kernel (runOnOperation): a prime
      // before each run of a loop could be set while the previous run's last set still waits
      // for its drain (pipes run ahead of each other).
      if (p.carried) chains.insert({p.from, p.to, event});
    }
    for (auto &[key, value] : own) below[key] += value;
    deepest(chainDepth, below);
    return below;
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
    if (mlir::failed(processBlock(func.getBody().front(), false, counters))) return signalPassFailure();
    mlir::Block &entry = func.getBody().front();
    mlir::OpBuilder b(func.getContext());
    for (const auto &[from, to, event] : chains) {
      b.setInsertionPointToStart(&entry);
      b.create<npu::SetFlagOp>(func.getLoc(), from, to, event);
      b.setInsertionPoint(entry.getTerminator());
      b.create<npu::WaitFlagOp>(func.getLoc(), from, to, event);
    }
  }
};

} // namespace
