// npu dialect -> Fractal assembly (NpuKernel.h). Register conventions of the emitted code:
//   x1 the argument block; x8, x9 DMA addresses; x15..x19 constants materialised at their use
//   (numbers, and the addresses of planned buffers and of their views at constant offsets);
//   every other register holds one SSA value (a GM base, a buffer address, an index) from its
//   definition to its last use, a use inside a loop keeping it for the whole loop.
// A kernel whose live values outnumber the registers (a fused kernel with small L0 tiles: more
// buffers and indices at once) is emitted again with the values that are cheap to recompute --
// kernel arguments (a load from the argument block, which the scalar cache keeps), the block
// index and count, the data section's base, and those plus or times a constant -- recomputed
// into a scratch register at each use instead of held (Emitter::Recompute). Kernels that fit are
// emitted as before: recomputing costs an instruction or two per use.
#include "fractal/compiler/Codegen/NpuKernel.h"

#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <vector>

namespace fractal::codegen {
namespace {

namespace npu = fractal::npu;

std::string locationText(mlir::Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  loc.print(os);
  return text;
}

class Emitter {
  static constexpr int kScratch = 15, kScratchCount = 5;
  static constexpr int kRegisters = 32 - 4 - kScratchCount; // x0, x1, x8 and x9 are taken too

public:
  // Which values are recomputed at each use rather than held in a register.
  enum class Recompute { none, cheap };

  Emitter(mlir::func::FuncOp func, Recompute recompute) : func_(func), order_(func), recompute_(recompute) {}

  // True when emission failed only for want of registers (the caller may try Recompute::cheap).
  bool outOfRegisters() const { return outOfRegisters_; }

  Expected<std::string> run(const std::string &header) {
    std::istringstream lines(header);
    for (std::string line; std::getline(lines, line);) s_ << "# " << line << "\n";
    if (auto node = func_->getAttrOfType<mlir::StringAttr>("npu.node")) s_ << ".node \"" << node.str() << "\"\n";
    s_ << ".text\n";
    number();
    for (int r = 2; r < 32; ++r)
      if (r != 8 && r != 9 && (r < kScratch || r >= kScratch + kScratchCount)) free_.push_back(r);
    s_ << "  mfsr x1, args\n";
    for (mlir::BlockArgument arg : func_.getArguments()) {
      if (npu::spaceOf(arg.getType()) != npu::Space::gm) return fail(func_, "kernel arguments must be GM memrefs");
      if (arg.use_empty() || recomputed(arg)) continue;
      Expected<int> r = define(arg);
      if (!r) return r.error();
      s_ << "  ld x" << *r << ", gm[x1], offset=" << 8 * arg.getArgNumber() << "\n";
    }
    if (Status st = block(func_.getBody().front()); !st) return st.error();
    s_ << "  end\n";
    if (auto data = func_->getAttrOfType<mlir::DictionaryAttr>("npu.data")) { // npu.kernel_data's values
      s_ << ".data\n";
      for (mlir::NamedAttribute entry : data) {
        auto values = llvm::cast<mlir::DenseElementsAttr>(entry.getValue());
        if (!values.getElementType().isF16()) return fail(func_, "kernel data other than f16");
        s_ << entry.getName().str() << ":\n";
        int64_t i = 0;
        for (const llvm::APFloat &v : values.getValues<llvm::APFloat>())
          s_ << (i++ % 16 == 0 ? (i > 1 ? "\n  .half " : "  .half ") : ", ") << v.bitcastToAPInt().getZExtValue();
        s_ << "\n";
      }
    }
    return s_.str();
  }

private:
  mlir::func::FuncOp func_;
  std::ostringstream s_;
  npu::ProgramOrder order_;
  llvm::DenseMap<mlir::Value, int64_t> lastUse_;
  llvm::DenseMap<mlir::Value, int> reg_;
  std::vector<int> free_;
  int labels_ = 0, scratch_ = 0;
  Recompute recompute_;
  bool outOfRegisters_ = false;

  Error fail(mlir::Operation *op, const std::string &what) {
    return Error::internal("npu kernel '" + func_.getSymName().str() + "': " + what + " (" +
                           op->getName().getStringRef().str() + " at " + locationText(op->getLoc()) + ")");
  }

  // Every value's last use (NpuDialect.h: ProgramOrder); a loop's induction variable lives
  // through the loop, whose end increments it.
  void number() {
    for (mlir::BlockArgument arg : func_.getArguments()) lastUse_[arg] = order_.lastUse(arg);
    func_.walk([&](mlir::Operation *op) {
      for (mlir::Value r : op->getResults()) lastUse_[r] = order_.lastUse(r);
      if (auto loop = llvm::dyn_cast<mlir::scf::ForOp>(op)) lastUse_[loop.getInductionVar()] = order_.end.lookup(op);
    });
  }

  Expected<int> define(mlir::Value v) {
    if (free_.empty()) {
      outOfRegisters_ = true;
      return Error::internal("npu kernel '" + func_.getSymName().str() + "': more live scalar values than registers (" +
                             std::to_string(kRegisters) +
                             (recompute_ == Recompute::cheap
                                  ? ", with kernel arguments and block indices recomputed at each use)"
                                  : ")"));
    }
    const int r = free_.back();
    free_.pop_back();
    reg_[v] = r;
    return r;
  }

  // Frees the registers of values whose last use is at or before `at`, in register order (the
  // map's order follows pointers: the same kernel must get the same registers every time).
  void release(int64_t at) {
    std::vector<mlir::Value> dead;
    for (auto &[value, r] : reg_)
      if (lastUse_.lookup(value) <= at) dead.push_back(value);
    std::vector<int> regs;
    for (mlir::Value v : dead) {
      regs.push_back(reg_[v]);
      reg_.erase(v);
    }
    std::sort(regs.begin(), regs.end(), std::greater<int>());
    free_.insert(free_.end(), regs.begin(), regs.end());
  }

  static std::optional<int64_t> constantInt(mlir::Value v) {
    if (auto c = v.getDefiningOp<mlir::arith::ConstantOp>())
      if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(c.getValue())) return i.getValue().getSExtValue();
    return std::nullopt;
  }

  // The byte address of a planned buffer, or of a view of one at a constant offset.
  static std::optional<int64_t> staticAddress(mlir::Value v) {
    if (auto alloc = v.getDefiningOp<npu::AllocOp>()) return alloc.getOffset();
    if (auto view = v.getDefiningOp<npu::ViewOp>()) {
      std::optional<int64_t> base = staticAddress(view.getSource()), offset = constantInt(view.getOffset());
      if (base && offset)
        return *base + *offset * llvm::cast<mlir::MemRefType>(view.getSource().getType()).getElementTypeBitWidth() / 8;
    }
    return std::nullopt;
  }

  // The next scratch register (instructions have at most five operands).
  int nextScratch() {
    const int r = kScratch + scratch_;
    scratch_ = (scratch_ + 1) % kScratchCount;
    return r;
  }

  // A scratch register loaded with `bits` here.
  int scratch(int64_t bits) {
    const int r = nextScratch();
    s_ << "  li x" << r << ", " << bits << "\n";
    return r;
  }

  // `v` as an operand plus or times a constant that fits an immediate (`addi`, `muli`; a
  // subtraction adds the negated constant).
  struct ImmediateOp {
    mlir::Value operand;
    int64_t immediate;
    bool product;
  };
  static std::optional<ImmediateOp> immediateOp(mlir::Value v) {
    mlir::Operation *op = v.getDefiningOp();
    if (!op || !llvm::isa<mlir::arith::AddIOp, mlir::arith::SubIOp, mlir::arith::MulIOp>(op)) return std::nullopt;
    const std::optional<int64_t> imm = constantInt(op->getOperand(1));
    const bool sub = llvm::isa<mlir::arith::SubIOp>(op);
    if (!imm || *imm < (sub ? INT32_MIN + int64_t(1) : INT32_MIN) || *imm > INT32_MAX) return std::nullopt;
    return ImmediateOp{op->getOperand(0), sub ? -*imm : *imm, llvm::isa<mlir::arith::MulIOp>(op)};
  }

  // Under Recompute::cheap: a value computed again at each use (into one scratch register) and
  // never held: a kernel argument, the block index or count, the data section's base, or one of
  // those plus or times constants (a short chain).
  bool recomputed(mlir::Value v, int depth = 0) {
    if (recompute_ == Recompute::none || depth > 3) return false;
    if (auto arg = llvm::dyn_cast<mlir::BlockArgument>(v)) return arg.getOwner()->getParentOp() == func_.getOperation();
    if (v.getDefiningOp<npu::BlockIdxOp>() || v.getDefiningOp<npu::BlockDimOp>()) return true;
    if (auto data = v.getDefiningOp<npu::KernelDataOp>()) return data.getData() == v;
    if (std::optional<ImmediateOp> chain = immediateOp(v)) return recomputed(chain->operand, depth + 1);
    return false;
  }

  // Computes a recomputed value into scratch register r.
  void recompute(mlir::Value v, int r) {
    if (auto arg = llvm::dyn_cast<mlir::BlockArgument>(v)) {
      s_ << "  ld x" << r << ", gm[x1], offset=" << 8 * arg.getArgNumber() << "\n";
    } else if (v.getDefiningOp<npu::BlockIdxOp>()) {
      s_ << "  mfsr x" << r << ", block_idx\n";
    } else if (v.getDefiningOp<npu::BlockDimOp>()) {
      s_ << "  mfsr x" << r << ", block_dim\n";
    } else if (auto data = v.getDefiningOp<npu::KernelDataOp>()) {
      s_ << "  mfsr x" << r << ", data_base\n  addi x" << r << ", x" << r << ", " << data.getName().str() << "\n";
    } else {
      const ImmediateOp chain = *immediateOp(v);
      recompute(chain.operand, r);
      s_ << "  " << (chain.product ? "muli" : "addi") << " x" << r << ", x" << r << ", " << chain.immediate << "\n";
    }
  }

  // The register holding v; constants and static buffer addresses are loaded into a scratch
  // register here.
  Expected<int> use(mlir::Value v) {
    if (auto c = v.getDefiningOp<mlir::arith::ConstantOp>()) {
      if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(c.getValue())) return scratch(i.getValue().getSExtValue());
      if (auto f = llvm::dyn_cast<mlir::FloatAttr>(c.getValue()))
        return scratch(int64_t(f.getValue().bitcastToAPInt().getZExtValue()));
      return fail(c, "constant of an unsupported type");
    }
    if (std::optional<int64_t> address = staticAddress(v)) return scratch(*address);
    if (recomputed(v)) {
      const int r = nextScratch();
      recompute(v, r);
      return r;
    }
    auto it = reg_.find(v);
    if (it == reg_.end()) {
      std::string text;
      llvm::raw_string_ostream os(text);
      v.print(os);
      return Error::internal("npu kernel '" + func_.getSymName().str() + "': value used without a register: " + text);
    }
    return it->second;
  }

  Status block(mlir::Block &b) {
    for (mlir::Operation &op : b) {
      if (Status st = operation(op); !st) return st;
      release(order_.end.lookup(&op));
    }
    return Status::success();
  }

  Status operation(mlir::Operation &op) {
    if (llvm::isa<mlir::arith::ConstantOp, mlir::scf::YieldOp, mlir::func::ReturnOp>(op)) return Status::success();
    if (op.getNumResults() == 1 && op.getResult(0).use_empty() && mlir::isPure(&op)) return Status::success();
    for (mlir::Value result : op.getResults())
      if (recomputed(result)) return Status::success(); // computed where it is used
    if (auto x = llvm::dyn_cast<npu::BlockIdxOp>(op)) return special(x.getResult(), "block_idx");
    if (auto x = llvm::dyn_cast<npu::BlockDimOp>(op)) return special(x.getResult(), "block_dim");
    if (auto x = llvm::dyn_cast<npu::KernelDataOp>(op)) { // the data section's base + the label's offset
      if (Status st = special(x.getData(), "data_base"); !st) return st;
      s_ << "  addi x" << reg_[x.getData()] << ", x" << reg_[x.getData()] << ", " << x.getName().str() << "\n";
      return Status::success();
    }
    if (auto alloc = llvm::dyn_cast<npu::AllocOp>(op)) { // its address is loaded where it is used
      if (!alloc.getOffset()) return fail(&op, "buffer without an offset (run fractal-npu-plan-memory)");
      return Status::success();
    }
    if (auto view = llvm::dyn_cast<npu::ViewOp>(op)) {
      if (staticAddress(view.getResult())) return Status::success(); // loaded where it is used
      const int64_t elementBytes = llvm::cast<mlir::MemRefType>(view.getSource().getType()).getElementTypeBitWidth() / 8;
      Expected<int> r = define(view.getResult());
      if (!r) return r.error();
      Expected<int> at = address(*r, view.getSource(), view.getOffset(), elementBytes);
      if (!at) return at.error();
      if (*at != *r) s_ << "  add x" << *r << ", x" << *at << ", x0\n"; // offset 0: a copy of the base
      return Status::success();
    }
    if (auto dma = llvm::dyn_cast<npu::DmaOp>(op)) return emitDma(dma);
    if (std::optional<npu::InstructionText> instruction = npu::instructionText(&op))
      return emitInstruction(op, *instruction);
    if (auto mask = llvm::dyn_cast<npu::SetMaskOp>(op)) {
      Expected<int> hi = use(mask.getHi());
      if (!hi) return hi.error();
      Expected<int> lo = use(mask.getLo());
      if (!lo) return lo.error();
      s_ << "  setmask x" << *hi << ", x" << *lo << "\n";
      return Status::success();
    }
    if (auto fmap = llvm::dyn_cast<npu::SetFmapOp>(op)) {
      Expected<int> r = use(fmap.getValue());
      if (!r) return r.error();
      s_ << "  setfmap x" << *r << "\n";
      return Status::success();
    }
    if (auto set = llvm::dyn_cast<npu::SetFlagOp>(op)) {
      s_ << "  set_flag " << npu::stringifyPipe(set.getFrom()).str() << ", " << npu::stringifyPipe(set.getTo()).str()
         << ", " << set.getEvent() << "\n";
      return Status::success();
    }
    if (auto wait = llvm::dyn_cast<npu::WaitFlagOp>(op)) {
      s_ << "  wait_flag " << npu::stringifyPipe(wait.getFrom()).str() << ", "
         << npu::stringifyPipe(wait.getTo()).str() << ", " << wait.getEvent() << "\n";
      return Status::success();
    }
    if (auto barrier = llvm::dyn_cast<npu::BarrierOp>(op)) {
      s_ << "  barrier " << npu::stringifyPipe(barrier.getPipe()).str() << "\n";
      return Status::success();
    }
    if (auto loop = llvm::dyn_cast<mlir::scf::ForOp>(op)) return emitFor(loop);
    if (auto branch = llvm::dyn_cast<mlir::scf::IfOp>(op)) return emitIf(branch);
    if (auto cmp = llvm::dyn_cast<mlir::arith::CmpIOp>(op)) return emitCmp(cmp);
    if (llvm::isa<mlir::arith::AddIOp, mlir::arith::SubIOp, mlir::arith::MulIOp, mlir::arith::DivSIOp,
                  mlir::arith::RemSIOp, mlir::arith::MinSIOp, mlir::arith::MaxSIOp, mlir::arith::AndIOp,
                  mlir::arith::OrIOp, mlir::arith::XOrIOp>(op))
      return emitBinary(op);
    return fail(&op, "no instruction for this op");
  }

  Status special(mlir::Value v, const char *name) {
    Expected<int> r = define(v);
    if (!r) return r.error();
    s_ << "  mfsr x" << *r << ", " << name << "\n";
    return Status::success();
  }

  Status emitBinary(mlir::Operation &op) {
    static const std::pair<llvm::StringRef, const char *> kNames[] = {
        {"arith.addi", "add"}, {"arith.subi", "sub"},   {"arith.muli", "mul"}, {"arith.divsi", "div"},
        {"arith.remsi", "rem"}, {"arith.minsi", "min"}, {"arith.maxsi", "max"}, {"arith.andi", "and"},
        {"arith.ori", "or"},    {"arith.xori", "xor"}};
    const char *name = nullptr;
    for (const auto &[opName, instr] : kNames)
      if (op.getName().getStringRef() == opName) name = instr;
    Expected<int> a = use(op.getOperand(0));
    if (!a) return a.error();
    const std::optional<ImmediateOp> immediate = immediateOp(op.getResult(0));
    int b = 0;
    if (!immediate) {
      Expected<int> rb = use(op.getOperand(1));
      if (!rb) return rb.error();
      b = *rb;
    }
    Expected<int> d = define(op.getResult(0));
    if (!d) return d.error();
    if (immediate) {
      s_ << "  " << (immediate->product ? "muli" : "addi") << " x" << *d << ", x" << *a << ", " << immediate->immediate
         << "\n";
    } else {
      s_ << "  " << name << " x" << *d << ", x" << *a << ", x" << b << "\n";
    }
    return Status::success();
  }

  Status emitCmp(mlir::arith::CmpIOp cmp) {
    using P = mlir::arith::CmpIPredicate;
    Expected<int> a = use(cmp.getLhs());
    if (!a) return a.error();
    Expected<int> b = use(cmp.getRhs());
    if (!b) return b.error();
    Expected<int> d = define(cmp.getResult());
    if (!d) return d.error();
    const std::string x = "x" + std::to_string(*a), y = "x" + std::to_string(*b), r = "x" + std::to_string(*d);
    switch (cmp.getPredicate()) {
    case P::eq: s_ << "  seq " << r << ", " << x << ", " << y << "\n"; break;
    case P::ne: s_ << "  sne " << r << ", " << x << ", " << y << "\n"; break;
    case P::slt: s_ << "  slt " << r << ", " << x << ", " << y << "\n"; break;
    case P::sgt: s_ << "  slt " << r << ", " << y << ", " << x << "\n"; break;
    case P::sle: s_ << "  slt " << r << ", " << y << ", " << x << "\n  xori " << r << ", " << r << ", 1\n"; break;
    case P::sge: s_ << "  slt " << r << ", " << x << ", " << y << "\n  xori " << r << ", " << r << ", 1\n"; break;
    case P::ult: s_ << "  sltu " << r << ", " << x << ", " << y << "\n"; break;
    case P::ugt: s_ << "  sltu " << r << ", " << y << ", " << x << "\n"; break;
    case P::ule: s_ << "  sltu " << r << ", " << y << ", " << x << "\n  xori " << r << ", " << r << ", 1\n"; break;
    case P::uge: s_ << "  sltu " << r << ", " << x << ", " << y << "\n  xori " << r << ", " << r << ", 1\n"; break;
    }
    return Status::success();
  }

  Status emitFor(mlir::scf::ForOp loop) {
    if (loop.getNumRegionIterArgs() != 0) return fail(loop, "loops carrying values are not supported");
    Expected<int> lb = use(loop.getLowerBound());
    if (!lb) return lb.error();
    Expected<int> iv = define(loop.getInductionVar());
    if (!iv) return iv.error();
    const int id = labels_++;
    s_ << "  add x" << *iv << ", x" << *lb << ", x0\nfor" << id << ":\n";
    Expected<int> ub = use(loop.getUpperBound());
    if (!ub) return ub.error();
    s_ << "  bge x" << *iv << ", x" << *ub << ", for" << id << "_end\n";
    // The step's register is looked up before the body, whose end releases it (a recomputed
    // step after the body, which reuses the scratch registers).
    const std::optional<int64_t> constantStep = constantInt(loop.getStep());
    const bool immediateStep = constantStep && *constantStep >= INT32_MIN && *constantStep <= INT32_MAX;
    const bool recomputedStep = !immediateStep && recomputed(loop.getStep());
    int stepReg = 0;
    if (!immediateStep && !recomputedStep) {
      if (loop.getStep().getDefiningOp<mlir::arith::ConstantOp>())
        return fail(loop, "a loop step beyond 32 bits");
      Expected<int> st = use(loop.getStep());
      if (!st) return st.error();
      stepReg = *st;
    }
    if (Status st = block(*loop.getBody()); !st) return st;
    if (recomputedStep) {
      stepReg = nextScratch();
      recompute(loop.getStep(), stepReg);
    }
    if (immediateStep)
      s_ << "  addi x" << *iv << ", x" << *iv << ", " << *constantStep << "\n";
    else
      s_ << "  add x" << *iv << ", x" << *iv << ", x" << stepReg << "\n";
    s_ << "  jmp for" << id << "\nfor" << id << "_end:\n";
    return Status::success();
  }

  Status emitIf(mlir::scf::IfOp branch) {
    if (branch.getNumResults() != 0) return fail(branch, "scf.if with results is not supported");
    Expected<int> c = use(branch.getCondition());
    if (!c) return c.error();
    const int id = labels_++;
    const bool hasElse = !branch.getElseRegion().empty();
    s_ << "  beq x" << *c << ", x0, if" << id << (hasElse ? "_else" : "_end") << "\n";
    if (Status st = block(branch.getThenRegion().front()); !st) return st;
    if (hasElse) {
      s_ << "  jmp if" << id << "_end\nif" << id << "_else:\n";
      if (Status st = block(branch.getElseRegion().front()); !st) return st;
    }
    s_ << "if" << id << "_end:\n";
    return Status::success();
  }

  // The register holding base register + offset (elements) * element bytes: the base's own for
  // offset 0, else `target`.
  Expected<int> address(int target, mlir::Value buffer, mlir::Value offset, int64_t elementBytes) {
    Expected<int> base = use(buffer);
    if (!base) return base.error();
    if (std::optional<int64_t> c = constantInt(offset); c && *c * elementBytes <= INT32_MAX) {
      if (*c == 0) return *base;
      s_ << "  addi x" << target << ", x" << *base << ", " << *c * elementBytes << "\n";
      return target;
    }
    Expected<int> off = use(offset);
    if (!off) return off.error();
    s_ << "  muli x" << target << ", x" << *off << ", " << elementBytes << "\n  add x" << target << ", x" << target
       << ", x" << *base << "\n";
    return target;
  }

  Status emitDma(npu::DmaOp dma) {
    auto source = llvm::cast<mlir::MemRefType>(dma.getSource().getType());
    const int64_t elementBytes = source.getElementTypeBitWidth() / 8;
    const int64_t blocks = int64_t(dma.getElements()) * elementBytes / 32;
    if (blocks > 65535) return fail(dma, "copy of " + std::to_string(blocks) + " blocks exceeds one DMA's 65535");
    Expected<int> from = address(8, dma.getSource(), dma.getSourceOffset(), elementBytes);
    if (!from) return from.error();
    Expected<int> to = address(9, dma.getTarget(), dma.getTargetOffset(), elementBytes);
    if (!to) return to.error();
    const npu::Space fromSpace = *npu::spaceOf(source), toSpace = *npu::spaceOf(dma.getTarget().getType());
    const std::string instr = fromSpace == npu::Space::ub ? "ub2gm" : toSpace == npu::Space::l1 ? "gm2l1" : "gm2ub";
    s_ << "  " << instr << " " << npu::stringifySpace(toSpace).str() << "[x" << *to << "], "
       << npu::stringifySpace(fromSpace).str() << "[x" << *from << "], len=" << blocks << "\n";
    return Status::success();
  }

  // A vector, copy, load, cube or fixpipe op: its mnemonic, buffers as space[xN], scalars as xN,
  // then its keyed parameters.
  Status emitInstruction(mlir::Operation &op, const npu::InstructionText &instruction) {
    std::string text = "  " + instruction.mnemonic;
    const size_t positional = op.getNumOperands() - instruction.named.size();
    for (auto [i, v] : llvm::enumerate(op.getOperands())) {
      Expected<int> r = use(v);
      if (!r) return r.error();
      const std::optional<npu::Space> space = npu::spaceOf(v.getType());
      const std::string reg = "x" + std::to_string(*r);
      if (i >= positional) // a named register operand: a buffer's address or a scalar
        text += ", " + instruction.named[i - positional] + "=" + reg;
      else
        text += std::string(i == 0 ? " " : ", ") + (space ? npu::stringifySpace(*space).str() + "[" + reg + "]" : reg);
    }
    for (const auto &[key, value] : instruction.params) text += ", " + key + "=" + std::to_string(value);
    s_ << text << "\n";
    return Status::success();
  }
};

} // namespace

Status finishNpuKernel(mlir::func::FuncOp kernel, const std::string &sync) {
  mlir::PassManager pm(kernel.getContext(), mlir::func::FuncOp::getOperationName());
  pm.enableVerifier(false); // the builder verified the kernel; the passes keep it valid
  // Constants hoisted and shared first: the IR people read (--compile-to=npu) stays short.
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(mlir::createCSEPass());
  pm.addPass(createNpuPlanMemory());
  NpuInjectSyncOptions options;
  options.mode = sync;
  pm.addPass(createNpuInjectSync(options));
  if (sync == "flags") pm.addPass(createNpuSinkFlags());
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(kernel.getContext(), [&](mlir::Diagnostic &d) {
    diagnostics += (diagnostics.empty() ? "" : "; ") + d.str();
    return mlir::success();
  });
  if (mlir::failed(pm.run(kernel)))
    return Error::badInput(kernel.getSymName().str() + ": " + diagnostics);
  return Status::success();
}

Expected<std::string> emitNpuAssembly(mlir::func::FuncOp kernel, const std::string &header) {
  Emitter first(kernel, Emitter::Recompute::none);
  Expected<std::string> assembly = first.run(header);
  if (assembly || !first.outOfRegisters()) return assembly;
  return Emitter(kernel, Emitter::Recompute::cheap).run(header);
}

std::string printNpuKernel(mlir::func::FuncOp kernel) {
  std::string text;
  llvm::raw_string_ostream os(text);
  kernel.print(os);
  return text + "\n";
}

} // namespace fractal::codegen
