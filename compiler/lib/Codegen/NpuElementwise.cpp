// The element-wise kernel (KernelTemplates.h) through the npu dialect: lowered to npu ops on
// UB buffers (double-buffered chunks, a scf.for over this block's chunks), then memory planning,
// sync injection and emission (NpuKernel.h). The body's vector instructions arrive as assembly
// templates ({in0} {in1} {out} {c0}..{c3} buffers, {s0}.. scalars, {rep} repeats) and become
// npu.vector ops, checked against the ISA by the dialect's verifier.
#include "fractal/compiler/Codegen/KernelTemplates.h"
#include "fractal/compiler/Codegen/NpuKernel.h"
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <map>
#include <memory>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;

constexpr int64_t kRepeatBytes = 256;
constexpr int64_t kMaxRepeat = 255;
constexpr int kConstBuffers = 4;

// One MLIR context per compiling thread for kernel IR (cheap to reuse, costly to create).
mlir::MLIRContext &kernelContext() {
  thread_local std::unique_ptr<mlir::MLIRContext> context = [] {
    auto c = std::make_unique<mlir::MLIRContext>(mlir::MLIRContext::Threading::DISABLED);
    c->loadDialect<npu::NpuDialect, mlir::arith::ArithDialect, mlir::scf::SCFDialect, mlir::func::FuncDialect>();
    return c;
  }();
  return *context;
}

mlir::Type elementType(mlir::Builder &b, int bytes) {
  return bytes == 2 ? mlir::Type(b.getF16Type()) : bytes == 1 ? mlir::Type(b.getI8Type()) : mlir::Type(b.getF32Type());
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

class ElementwiseLowering {
public:
  ElementwiseLowering(const ChipConfig &config, const ElementwiseKernel &k) : config_(config), k_(k) {}

  Expected<GeneratedKernel> run() {
    const int64_t perRepeat = elementsPerRepeat(k_.inBytes, k_.outBytes);
    const int64_t totalRepeats = ceilDiv(std::max<int64_t>(k_.elements, 1), perRepeat);
    // UB holds two sets (double buffering) of two input chunks and one output chunk, and
    // kConstBuffers one-repeat buffers of broadcast constants; a chunk is at most 255 repeats
    // (one vector instruction) so the body never needs an inner loop.
    const int64_t ubBytes = config_.buffer(BufferKind::UB).sizeBytes;
    const int64_t inRepeatBytes = perRepeat * k_.inBytes, outRepeatBytes = perRepeat * k_.outBytes;
    const int64_t setRepeatBytes = 2 * (2 * inRepeatBytes + outRepeatBytes);
    chunkRepeats_ = std::min(kMaxRepeat, (ubBytes - kConstBuffers * kRepeatBytes) / setRepeatBytes);
    if (chunkRepeats_ < 1)
      return Error::badInput(k_.name + ": UB overflow: one repeat of the element-wise kernel needs " +
                             std::to_string(setRepeatBytes) + " bytes, UB has " + std::to_string(ubBytes));
    if (k_.scalars.size() > 8) return Error::internal(k_.name + ": more than 8 scalars in one element-wise kernel");
    chunkRepeats_ = std::min(chunkRepeats_, totalRepeats);
    chunks_ = ceilDiv(totalRepeats, chunkRepeats_);
    tailRepeats_ = totalRepeats - (chunks_ - 1) * chunkRepeats_;
    perRepeat_ = perRepeat;
    const int blockDim = int(std::min<int64_t>(config_.chip.cores, chunks_));

    mlir::MLIRContext &context = kernelContext();
    mlir::OpBuilder b(&context);
    loc_ = mlir::NameLoc::get(b.getStringAttr(k_.node.empty() ? k_.name : k_.node));
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(loc_);
    if (Status s = build(b, *module, blockDim); !s) return s.error();
    auto kernel = llvm::cast<mlir::func::FuncOp>(module->getBody()->front());
    std::string diagnostics;
    {
      mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
        diagnostics += (diagnostics.empty() ? "" : "; ") + d.str();
        return mlir::success();
      });
      if (mlir::failed(mlir::verify(*module)))
        return Error::internal(k_.name + ": the element-wise kernel's npu IR does not verify: " + diagnostics);
    }
    if (Status s = finishNpuKernel(kernel); !s) return s.error();
    const std::string header = k_.name + ": element-wise over " + std::to_string(k_.elements) + " elements, " +
                               std::to_string(chunks_) + " chunk(s) of " + std::to_string(chunkRepeats_) +
                               " repeat(s), block_dim " + std::to_string(blockDim) + " (via the npu dialect)";
    Expected<std::string> assembly = emitNpuAssembly(kernel, header);
    if (!assembly) return assembly.error();
    return GeneratedKernel{*assembly, blockDim, printNpuKernel(kernel)};
  }

private:
  const ChipConfig &config_;
  const ElementwiseKernel &k_;
  mlir::Location loc_ = mlir::UnknownLoc::get(&kernelContext());
  int64_t chunkRepeats_ = 0, chunks_ = 0, tailRepeats_ = 0, perRepeat_ = 0;
  std::vector<mlir::Value> gm_;                  // inputs..., output
  std::map<std::string, mlir::Value> sets_[2];   // "{in0}" "{in1}" "{out}" per buffer set
  std::map<std::string, mlir::Value> constants_; // "{c0}".. and "{s0}"..

  bool uses(const std::string &placeholder) const {
    for (const auto *list : {&k_.body, &k_.prologue})
      for (const std::string &line : *list)
        if (line.find(placeholder) != std::string::npos) return true;
    return false;
  }

  mlir::Value index(mlir::OpBuilder &b, int64_t v) { return b.create<mlir::arith::ConstantIndexOp>(loc_, v); }

  Status build(mlir::OpBuilder &b, mlir::ModuleOp module, int blockDim) {
    b.setInsertionPointToEnd(module.getBody());
    const int64_t padded = chunks_ * chunkRepeats_ * perRepeat_; // whole repeats (the memory plan pads)
    auto gmSpace = npu::SpaceAttr::get(b.getContext(), npu::Space::gm);
    auto ubSpace = npu::SpaceAttr::get(b.getContext(), npu::Space::ub);
    mlir::Type inType = elementType(b, k_.inBytes), outType = elementType(b, k_.outBytes);
    std::vector<mlir::Type> args(size_t(k_.numInputs), mlir::MemRefType::get({padded}, inType, nullptr, gmSpace));
    args.push_back(mlir::MemRefType::get({padded}, outType, nullptr, gmSpace));
    auto func = b.create<mlir::func::FuncOp>(loc_, k_.name, b.getFunctionType(args, {}));
    func->setAttr("npu.buffer_bytes",
                  b.getDictionaryAttr({b.getNamedAttr("ub", b.getI64IntegerAttr(config_.buffer(BufferKind::UB).sizeBytes))}));
    func->setAttr("npu.block_dim", b.getI64IntegerAttr(blockDim));
    func->setAttr("npu.node", b.getStringAttr(k_.node));
    mlir::Block *entry = func.addEntryBlock();
    for (mlir::BlockArgument a : entry->getArguments()) gm_.push_back(a);
    b.setInsertionPointToEnd(entry);

    mlir::Value blockIdx = b.create<npu::BlockIdxOp>(loc_, b.getIndexType());
    mlir::Value blockDimValue = b.create<npu::BlockDimOp>(loc_, b.getIndexType());
    const int64_t chunkElements = chunkRepeats_ * perRepeat_;
    for (int set = 0; set < 2; ++set)
      for (int i = 0; i < 3; ++i) {
        const std::string name = i == 2 ? "{out}" : "{in" + std::to_string(i) + "}";
        if (i < 2 && i >= k_.numInputs && !uses(name)) continue;
        sets_[set][name] = b.create<npu::AllocOp>(
            loc_, mlir::MemRefType::get({chunkElements}, i == 2 ? outType : inType, nullptr, ubSpace), nullptr);
      }
    mlir::Type scalarType = k_.halfScalars ? mlir::Type(b.getF16Type()) : mlir::Type(b.getF32Type());
    for (int c = 0; c < kConstBuffers; ++c)
      if (uses("{c" + std::to_string(c) + "}"))
        constants_["{c" + std::to_string(c) + "}"] = b.create<npu::AllocOp>(
            loc_, mlir::MemRefType::get({kRepeatBytes * 8 / scalarType.getIntOrFloatBitWidth()}, scalarType, nullptr, ubSpace),
            nullptr);
    for (size_t i = 0; i < k_.scalars.size(); ++i) {
      llvm::APFloat value = k_.halfScalars
                                ? llvm::APFloat(llvm::APFloat::IEEEhalf(), llvm::APInt(16, isa::floatToHalf(k_.scalars[i])))
                                : llvm::APFloat(k_.scalars[i]);
      constants_["{s" + std::to_string(i) + "}"] =
          b.create<mlir::arith::ConstantOp>(loc_, scalarType, b.getFloatAttr(scalarType, value));
    }
    for (const std::string &line : k_.prologue)
      if (Status s = vector(b, line, 1, sets_[0]); !s) return s;

    // This block's chunks, two per turn: set 0 takes chunk i, set 1 chunk i + block_dim.
    mlir::Value step = b.create<mlir::arith::MulIOp>(loc_, blockDimValue, index(b, 2));
    auto loop = b.create<mlir::scf::ForOp>(loc_, blockIdx, index(b, chunks_), step);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    if (Status s = chunk(b, loop.getInductionVar(), 0); !s) return s;
    mlir::Value second = b.create<mlir::arith::AddIOp>(loc_, loop.getInductionVar(), blockDimValue);
    mlir::Value more = b.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::slt, second, index(b, chunks_));
    auto ifMore = b.create<mlir::scf::IfOp>(loc_, more, /*withElseRegion=*/false);
    b.setInsertionPoint(ifMore.thenBlock()->getTerminator());
    if (Status s = chunk(b, second, 1); !s) return s;
    b.setInsertionPointAfter(loop);
    b.create<mlir::func::ReturnOp>(loc_);
    return Status::success();
  }

  // Chunk `c` on buffer set `set`; the last chunk may be short (its own copy of the code).
  Status chunk(mlir::OpBuilder &b, mlir::Value c, int set) {
    if (tailRepeats_ == chunkRepeats_) return chunkOf(b, c, set, chunkRepeats_);
    mlir::Value isTail = b.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::eq, c, index(b, chunks_ - 1));
    auto branch = b.create<mlir::scf::IfOp>(loc_, isTail, /*withElseRegion=*/true);
    mlir::OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(branch.thenBlock()->getTerminator());
    if (Status s = chunkOf(b, c, set, tailRepeats_); !s) return s;
    b.setInsertionPoint(branch.elseBlock()->getTerminator());
    return chunkOf(b, c, set, chunkRepeats_);
  }

  Status chunkOf(mlir::OpBuilder &b, mlir::Value c, int set, int64_t repeats) {
    mlir::Value offset = b.create<mlir::arith::MulIOp>(loc_, c, index(b, chunkRepeats_ * perRepeat_));
    mlir::Value zero = index(b, 0);
    for (int i = 0; i < k_.numInputs; ++i)
      b.create<npu::DmaOp>(loc_, gm_[size_t(i)], offset, sets_[set]["{in" + std::to_string(i) + "}"], zero,
                           repeats * perRepeat_);
    for (const std::string &line : k_.body)
      if (Status s = vector(b, line, repeats, sets_[set]); !s) return s;
    b.create<npu::DmaOp>(loc_, sets_[set]["{out}"], zero, gm_.back(), offset, repeats * perRepeat_);
    return Status::success();
  }

  // One body/prologue template line -> npu.vector.
  Status vector(mlir::OpBuilder &b, const std::string &line, int64_t repeats,
                const std::map<std::string, mlir::Value> &buffers) {
    auto bad = [&](const std::string &why) {
      return Error::internal(k_.name + ": element-wise template '" + line + "': " + why);
    };
    const size_t space = line.find(' ');
    if (space == std::string::npos) return bad("no operands");
    std::vector<mlir::Value> operands;
    std::vector<mlir::NamedAttribute> params;
    int64_t repeat = -1;
    std::string rest = line.substr(space + 1);
    for (size_t start = 0; start <= rest.size();) {
      size_t comma = rest.find(',', start);
      if (comma == std::string::npos) comma = rest.size();
      const std::string token = trim(rest.substr(start, comma - start));
      start = comma + 1;
      if (const size_t eq = token.find('='); eq != std::string::npos) {
        const std::string key = token.substr(0, eq), value = token.substr(eq + 1);
        const int64_t number = value == "{rep}" ? repeats : std::atoll(value.c_str());
        if (key == "repeat") repeat = number;
        else params.push_back(b.getNamedAttr(key, b.getI64IntegerAttr(number)));
        continue;
      }
      mlir::Value value;
      if (auto it = buffers.find(token); it != buffers.end()) value = it->second;
      else if (auto c = constants_.find(token); c != constants_.end()) value = c->second;
      if (!value) return bad("unknown operand " + token);
      operands.push_back(value);
    }
    if (repeat < 0) return bad("no repeat");
    b.create<npu::VectorOp>(loc_, b.getStringAttr(line.substr(0, space)), operands, b.getI64IntegerAttr(repeat),
                            params.empty() ? mlir::DictionaryAttr() : b.getDictionaryAttr(params));
    return Status::success();
  }
};

} // namespace

Expected<GeneratedKernel> generateElementwise(const ChipConfig &config, const ElementwiseKernel &k) {
  return ElementwiseLowering(config, k).run();
}

} // namespace fractal::codegen
