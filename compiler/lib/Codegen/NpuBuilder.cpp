// NpuKernelBuilder (NpuBuilder.h).
#include "NpuBuilder.h"

#include "fractal/compiler/Codegen/NpuKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <memory>

namespace fractal::codegen {
namespace {

// One MLIR context per compiling thread for kernel IR (cheap to reuse, costly to create).
mlir::MLIRContext &kernelContext() {
  thread_local std::unique_ptr<mlir::MLIRContext> context = [] {
    auto c = std::make_unique<mlir::MLIRContext>(mlir::MLIRContext::Threading::DISABLED);
    c->loadDialect<npu::NpuDialect, mlir::arith::ArithDialect, mlir::scf::SCFDialect, mlir::func::FuncDialect>();
    return c;
  }();
  return *context;
}

} // namespace

NpuKernelBuilder::NpuKernelBuilder(const ChipConfig &config, const std::string &name, const std::string &node)
    : config_(config), name_(name), node_(node), b_(&kernelContext()),
      loc_(mlir::NameLoc::get(b_.getStringAttr(node.empty() ? name : node))),
      module_(mlir::ModuleOp::create(loc_)) {}

void NpuKernelBuilder::begin(const std::vector<std::pair<mlir::Type, int64_t>> &args, int blockDim) {
  auto gm = npu::SpaceAttr::get(b_.getContext(), npu::Space::gm);
  std::vector<mlir::Type> types;
  for (const auto &[element, count] : args) types.push_back(mlir::MemRefType::get({count}, element, nullptr, gm));
  b_.setInsertionPointToEnd(module_->getBody());
  func_ = b_.create<mlir::func::FuncOp>(loc_, name_, b_.getFunctionType(types, {}));
  std::vector<mlir::NamedAttribute> sizes;
  for (auto [key, kind] : {std::pair{"l1", BufferKind::L1}, {"l0a", BufferKind::L0A}, {"l0b", BufferKind::L0B},
                           {"l0c", BufferKind::L0C}, {"ub", BufferKind::UB}})
    sizes.push_back(b_.getNamedAttr(key, b_.getI64IntegerAttr(config_.buffer(kind).sizeBytes)));
  func_->setAttr("npu.buffer_bytes", b_.getDictionaryAttr(sizes));
  func_->setAttr("npu.block_dim", b_.getI64IntegerAttr(blockDim));
  func_->setAttr("npu.node", b_.getStringAttr(node_));
  blockDimCount_ = blockDim;
  mlir::Block *entry = func_.addEntryBlock();
  args_.assign(entry->getArguments().begin(), entry->getArguments().end());
  b_.setInsertionPointToEnd(entry);
  blockIdx_ = b_.create<npu::BlockIdxOp>(loc_, b_.getIndexType());
  blockDim_ = b_.create<npu::BlockDimOp>(loc_, b_.getIndexType());
}

mlir::Value NpuKernelBuilder::index(int64_t v) { return b_.create<mlir::arith::ConstantIndexOp>(loc_, v); }
// Folded as they are built (x * 1, x + 0, constants): less for the canonicalizer to do.
mlir::Value NpuKernelBuilder::mul(mlir::Value a, int64_t v) { return b_.createOrFold<mlir::arith::MulIOp>(loc_, a, index(v)); }
mlir::Value NpuKernelBuilder::add(mlir::Value a, mlir::Value v) { return b_.createOrFold<mlir::arith::AddIOp>(loc_, a, v); }
mlir::Value NpuKernelBuilder::add(mlir::Value a, int64_t v) { return add(a, index(v)); }

mlir::Value NpuKernelBuilder::kernelData(const std::string &name, const std::vector<uint16_t> &halves) {
  auto tensor = mlir::RankedTensorType::get({int64_t(halves.size())}, f16());
  std::vector<llvm::APFloat> values;
  for (uint16_t h : halves) values.emplace_back(llvm::APFloat::IEEEhalf(), llvm::APInt(16, h));
  std::vector<mlir::NamedAttribute> entries;
  if (auto data = func_->getAttrOfType<mlir::DictionaryAttr>("npu.data"))
    entries.assign(data.begin(), data.end());
  entries.push_back(b_.getNamedAttr(name, mlir::DenseElementsAttr::get(tensor, values)));
  func_->setAttr("npu.data", b_.getDictionaryAttr(entries));
  auto gm = npu::SpaceAttr::get(b_.getContext(), npu::Space::gm);
  return b_.create<npu::KernelDataOp>(loc_, mlir::MemRefType::get({int64_t(halves.size())}, f16(), nullptr, gm),
                                      b_.getStringAttr(name));
}

mlir::Value NpuKernelBuilder::alloc(npu::Space space, mlir::Type element, int64_t elements) {
  return b_.create<npu::AllocOp>(
      loc_, mlir::MemRefType::get({elements}, element, nullptr, npu::SpaceAttr::get(b_.getContext(), space)), nullptr);
}

mlir::Value NpuKernelBuilder::view(mlir::Value buffer, mlir::Value offset, int64_t elements) {
  auto type = llvm::cast<mlir::MemRefType>(buffer.getType());
  return b_.create<npu::ViewOp>(loc_, mlir::MemRefType::get({elements}, type.getElementType(), nullptr, type.getMemorySpace()),
                                buffer, offset);
}

mlir::Value NpuKernelBuilder::from(mlir::Value buffer, int64_t offset) {
  return view(buffer, index(offset), llvm::cast<mlir::MemRefType>(buffer.getType()).getNumElements() - offset);
}

mlir::Value NpuKernelBuilder::f32Value(float v) {
  return b_.create<mlir::arith::ConstantOp>(loc_, f32(), b_.getF32FloatAttr(v));
}

mlir::Value NpuKernelBuilder::i64Value(int64_t v) {
  return b_.create<mlir::arith::ConstantOp>(loc_, b_.getI64IntegerAttr(v));
}

void NpuKernelBuilder::setMask(int64_t hi, int64_t lo) { b_.create<npu::SetMaskOp>(loc_, i64Value(hi), i64Value(lo)); }

void NpuKernelBuilder::dma(mlir::Value from, mlir::Value fromOffset, mlir::Value to, mlir::Value toOffset, int64_t elements) {
  b_.create<npu::DmaOp>(loc_, from, fromOffset, to, toOffset, elements);
}

void NpuKernelBuilder::vector(const std::string &mnemonic, std::vector<mlir::Value> operands, int64_t repeat,
                              const std::vector<std::pair<std::string, int64_t>> &params) {
  b_.create<npu::VectorOp>(loc_, b_.getStringAttr(mnemonic), operands, b_.getI64IntegerAttr(repeat), paramsAttr(params));
}

mlir::DictionaryAttr NpuKernelBuilder::paramsAttr(const std::vector<std::pair<std::string, int64_t>> &params) {
  if (params.empty()) return nullptr;
  std::vector<mlir::NamedAttribute> attrs;
  for (const auto &[key, value] : params) attrs.push_back(b_.getNamedAttr(key, b_.getI64IntegerAttr(value)));
  return b_.getDictionaryAttr(attrs);
}

Status NpuKernelBuilder::splitLast(mlir::Value value, int64_t last, const std::function<Status(bool last)> &body) {
  mlir::Value isLast = b_.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::eq, value, index(last));
  auto branch = b_.create<mlir::scf::IfOp>(loc_, isLast, /*withElseRegion=*/true);
  mlir::OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(branch.thenBlock()->getTerminator());
  if (Status s = body(true); !s) return s;
  b_.setInsertionPoint(branch.elseBlock()->getTerminator());
  return body(false);
}

Status NpuKernelBuilder::item(mlir::Value index, int set, int64_t items, bool splitLast, const ItemBody &body) {
  if (!splitLast) return body(index, set, false);
  return this->splitLast(index, items - 1, [&](bool last) { return body(index, set, last); });
}

Status NpuKernelBuilder::itemLoop(int64_t items, bool splitLast, const ItemBody &body) {
  return pairLoop(blockIdx_, items, blockDim_, splitLast, body);
}

Status NpuKernelBuilder::pairLoop(mlir::Value first, int64_t end, mlir::Value step, bool splitLast,
                                  const ItemBody &body) {
  mlir::Value twice = b_.create<mlir::arith::MulIOp>(loc_, step, index(2));
  auto loop = b_.create<mlir::scf::ForOp>(loc_, first, index(end), twice);
  mlir::OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(loop.getBody()->getTerminator());
  if (Status s = item(loop.getInductionVar(), 0, end, splitLast, body); !s) return s;
  mlir::Value second = add(loop.getInductionVar(), step);
  mlir::Value more = b_.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::slt, second, index(end));
  auto ifMore = b_.create<mlir::scf::IfOp>(loc_, more, /*withElseRegion=*/false);
  b_.setInsertionPoint(ifMore.thenBlock()->getTerminator());
  return item(second, 1, end, splitLast, body);
}

Status NpuKernelBuilder::pairLoopPeeled(int64_t count, bool splitLast, const ItemBody &body) {
  const int64_t looped = (count - (splitLast ? 1 : 0)) / 2 * 2; // items in whole pairs in the loop
  if (looped > 0) {
    auto loop = b_.create<mlir::scf::ForOp>(loc_, index(0), index(looped), index(2));
    mlir::OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPoint(loop.getBody()->getTerminator());
    if (Status s = body(loop.getInductionVar(), 0, false); !s) return s;
    if (Status s = body(add(loop.getInductionVar(), 1), 1, false); !s) return s;
  }
  for (int64_t i = looped; i < count; ++i)
    if (Status s = body(index(i), int(i % 2), splitLast && i == count - 1); !s) return s;
  return Status::success();
}

Status NpuKernelBuilder::pairLoopSkewed(int64_t count, bool splitLast, const ItemBody &front, const ItemBody &back) {
  auto isLast = [&](int64_t i) { return splitLast && i == count - 1; };
  if (Status s = front(index(0), 0, isLast(0)); !s) return s;
  // Items 1.. in whole pairs in the loop (the last one, with splitLast, after it).
  const int64_t looped = (count - 1 - (splitLast ? 1 : 0)) / 2 * 2;
  if (looped > 0) {
    auto loop = b_.create<mlir::scf::ForOp>(loc_, index(1), index(1 + looped), index(2));
    mlir::OpBuilder::InsertionGuard guard(b_);
    b_.setInsertionPoint(loop.getBody()->getTerminator());
    mlir::Value i = loop.getInductionVar();
    if (Status s = front(i, 1, false); !s) return s;
    if (Status s = back(add(i, -1), 0, false); !s) return s;
    if (Status s = front(add(i, 1), 0, false); !s) return s;
    if (Status s = back(i, 1, false); !s) return s;
  }
  for (int64_t i = 1 + looped; i < count; ++i) {
    if (Status s = front(index(i), int(i % 2), isLast(i)); !s) return s;
    if (Status s = back(index(i - 1), int((i - 1) % 2), false); !s) return s;
  }
  return back(index(count - 1), int((count - 1) % 2), isLast(count - 1));
}

Status NpuKernelBuilder::firstLoadsAhead(const SetBody &loads) {
  firstLoadsAhead_ = true;
  return loads(blockIdx_, 0);
}

Status NpuKernelBuilder::loadsThenCompute(int64_t items, const SetBody &loads, const SetBody &compute,
                                          const std::function<Status()> &firstTurn, int sets) {
  mlir::Value twice = sets == 1 ? blockDim_ : b_.create<mlir::arith::MulIOp>(loc_, blockDim_, index(2)).getResult();
  auto loop = b_.create<mlir::scf::ForOp>(loc_, blockIdx_, index(items), twice); // a turn: `sets` items
  mlir::OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(loop.getBody()->getTerminator());
  mlir::Value first = loop.getInductionVar(), second = add(first, blockDim_);
  if (firstTurn) {
    mlir::Value isFirst = b_.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::eq, first, blockIdx_);
    auto once = b_.create<mlir::scf::IfOp>(loc_, isFirst, /*withElseRegion=*/false);
    mlir::OpBuilder::InsertionGuard inner(b_);
    b_.setInsertionPoint(once.thenBlock()->getTerminator());
    if (Status s = firstTurn(); !s) return s;
  }
  // `body(item, set)` in a branch taken when item < items.
  auto ifItem = [&](mlir::Value item, int set, const SetBody &body) -> Status {
    mlir::Value more = b_.create<mlir::arith::CmpIOp>(loc_, mlir::arith::CmpIPredicate::slt, item, index(items));
    auto branch = b_.create<mlir::scf::IfOp>(loc_, more, /*withElseRegion=*/false);
    mlir::OpBuilder::InsertionGuard inner(b_);
    b_.setInsertionPoint(branch.thenBlock()->getTerminator());
    return body(item, set);
  };
  if (!firstLoadsAhead_)
    if (Status s = loads(first, 0); !s) return s;
  if (sets == 1) {
    if (Status s = compute(first, 0); !s) return s;
    return firstLoadsAhead_ ? ifItem(second, 0, loads) : Status::success();
  }
  if (Status s = ifItem(second, 1, loads); !s) return s;
  if (Status s = compute(first, 0); !s) return s;
  // The next turn's first item, loaded while this turn's second computes.
  if (firstLoadsAhead_)
    if (Status s = ifItem(add(first, twice), 0, loads); !s) return s;
  return ifItem(second, 1, compute);
}

Status NpuKernelBuilder::forEachItem(int64_t items, const std::function<Status(mlir::Value item)> &body) {
  auto loop = b_.create<mlir::scf::ForOp>(loc_, blockIdx_, index(items), blockDim_);
  mlir::OpBuilder::InsertionGuard guard(b_);
  b_.setInsertionPoint(loop.getBody()->getTerminator());
  return body(loop.getInductionVar());
}

Expected<GeneratedKernel> NpuKernelBuilder::finish(const std::string &header) {
  b_.create<mlir::func::ReturnOp>(loc_);
  std::string diagnostics;
  {
    mlir::ScopedDiagnosticHandler handler(b_.getContext(), [&](mlir::Diagnostic &d) {
      diagnostics += (diagnostics.empty() ? "" : "; ") + d.str();
      return mlir::success();
    });
    if (mlir::failed(mlir::verify(*module_)))
      return Error::internal(name_ + ": the kernel's npu IR does not verify: " + diagnostics);
  }
  if (Status s = finishNpuKernel(func_); !s) return s.error();
  Expected<std::string> assembly = emitNpuAssembly(func_, header + " (via the npu dialect)");
  if (!assembly) return assembly.error();
  // The IR stays alive for printing on demand (in this thread's kernel context).
  auto module = std::make_shared<mlir::OwningOpRef<mlir::ModuleOp>>(std::move(module_));
  mlir::func::FuncOp func = func_;
  return GeneratedKernel{*assembly, blockDimCount_, [module, func] { return printNpuKernel(func); }};
}

} // namespace fractal::codegen
