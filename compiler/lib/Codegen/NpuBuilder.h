// Building kernels in the npu dialect (private to lib/Codegen): the func with its GM arguments
// and attributes, buffers, index arithmetic, and the double-buffered work-item loop the vector
// and data-movement kernels share; then the passes and the emitter (NpuKernel.h).
#pragma once

#include "fractal/compiler/Codegen/KernelTemplates.h"
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fractal::codegen {

class NpuKernelBuilder {
public:
  // A kernel named `name` for ONNX node(s) `node`, sized for `config`.
  NpuKernelBuilder(const ChipConfig &config, const std::string &name, const std::string &node);

  mlir::OpBuilder &builder() { return b_; }
  mlir::Location loc() const { return loc_; }
  mlir::Type f16() { return b_.getF16Type(); }
  mlir::Type f32() { return b_.getF32Type(); }

  // Starts the kernel body: GM arguments (element type, element count) in launch order, and the
  // block_dim it is launched with.
  void begin(const std::vector<std::pair<mlir::Type, int64_t>> &args, int blockDim);
  mlir::Value arg(size_t i) const { return args_[i]; }
  mlir::Value blockIdx() const { return blockIdx_; } // this core's block index (after begin())

  mlir::Value index(int64_t v);
  mlir::Value mul(mlir::Value a, int64_t b);
  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value add(mlir::Value a, int64_t b);
  // Constant f16 values in the kernel's data section (GM), as a buffer to DMA from.
  mlir::Value kernelData(const std::string &name, const std::vector<uint16_t> &halves);
  // An on-chip buffer of `elements` elements.
  mlir::Value alloc(npu::Space space, mlir::Type element, int64_t elements);
  // `elements` elements of `buffer` from element `offset`.
  mlir::Value view(mlir::Value buffer, mlir::Value offset, int64_t elements);
  // `buffer` from element `offset` to its end.
  mlir::Value from(mlir::Value buffer, int64_t offset);
  // Scalar operands: an f32 (a vector instruction's scalar) and an i64 (a mask word).
  mlir::Value f32Value(float v);
  mlir::Value i64Value(int64_t v);
  // The vector lane mask, captured by each later vector instruction: lanes 64.. in `hi`, 0..63 in
  // `lo` (all lanes: -1, -1).
  void setMask(int64_t hi, int64_t lo);
  void dma(mlir::Value from, mlir::Value fromOffset, mlir::Value to, mlir::Value toOffset, int64_t elements);
  // One vector instruction with `repeat` repeats and keyed parameters.
  void vector(const std::string &mnemonic, std::vector<mlir::Value> operands, int64_t repeat,
              const std::vector<std::pair<std::string, int64_t>> &params);
  // One instruction op (npu.copy, npu.load, ...) with keyed parameters; `named` names the keyed
  // register operands that follow the positional ones (mmad's "bias").
  template <typename Op>
  void instruction(const std::string &mnemonic, std::vector<mlir::Value> operands,
                   const std::vector<std::pair<std::string, int64_t>> &params,
                   const std::vector<llvm::StringRef> &named = {}) {
    b_.create<Op>(loc_, b_.getStringAttr(mnemonic), operands, named.empty() ? nullptr : b_.getStrArrayAttr(named),
                  paramsAttr(params));
  }

  // Work items 0..items-1 over the blocks, two per turn: item i on buffer set 0 and item
  // i + block_dim on set 1, so that sync injection lets one set's DMA overlap the other's work.
  // `body(item, set, last)` emits one item; with `splitLast` the last item gets its own copy of
  // the body (last = true), for a short tail.
  using ItemBody = std::function<Status(mlir::Value item, int set, bool last)>;
  Status itemLoop(int64_t items, bool splitLast, const ItemBody &body);
  // The same two-per-turn loop over first, first + step, ... below end (an inner loop of a work
  // item: its chunks, with first = 0 and step = 1).
  Status pairLoop(mlir::Value first, int64_t end, mlir::Value step, bool splitLast, const ItemBody &body);
  // Items 0..count-1 (count known here) on sets 0 and 1 by parity, with no branch around either
  // set's body: a loop over whole pairs, then the one or two items left (the last one, with
  // `splitLast`, as body(.., true)) after it. Sync injection treats a branch as one op with all
  // its accesses, so a body that touches both sets' buffers (tiles alternating inside it) inside
  // a branch would wait for all of the other set's work before any of its own.
  Status pairLoopPeeled(int64_t count, bool splitLast, const ItemBody &body);
  // pairLoopPeeled of items in two parts, software-pipelined: item i's `front` comes before item
  // i-1's `back` in program order (front(0) first, back(count-1) last). The scalar unit dispatches
  // in program order and stalls at a pipe whose queue is full: with back work that fills a queue
  // while it waits (a convolution epilogue's vector instructions waiting for FixPipe), the next
  // item's front work (its loads and mmads) still reaches the cube's pipes first.
  Status pairLoopSkewed(int64_t count, bool splitLast, const ItemBody &front, const ItemBody &back);
  // `body(true)` when `value` == `last`, else `body(false)`: a short last chunk or piece gets its
  // own copy of the code.
  Status splitLast(mlir::Value value, int64_t last, const std::function<Status(bool last)> &body);
  // Work items over the blocks, two per turn on sets 0 and 1 like itemLoop, but both items'
  // `loads` are issued before either's `compute` (in program order, which the scalar unit
  // dispatches in): the second item's data arrives while the first computes.
  // `firstTurn`, when given, runs once, at the start of the block's first turn (before the
  // second item's loads): loads that only the first compute needs and that should not delay the
  // flags the loop waits for before it starts (a kernel-wide load before the loop would: the
  // loop's first wait covers every load before it).
  // With `sets` 1 (buffers too small for two items' inputs), one item per turn on set 0: its
  // compute, then (after firstLoadsAhead) the next item's loads, which wait for the compute's
  // reads of the set's buffers.
  using SetBody = std::function<Status(mlir::Value item, int set)>;
  Status loadsThenCompute(int64_t items, const SetBody &loads, const SetBody &compute,
                          const std::function<Status()> &firstTurn = {}, int sets = 2);
  // The block's first item's `loads` (set 0) here, ahead of the loop, which then loads each
  // turn's first item at the end of the turn before (after the first item's compute): the first
  // loads share a memory drain with the kernel-wide loads before them instead of waiting for
  // theirs. Needs every block to have an item (block_dim <= items). Call before
  // loadsThenCompute with the same `loads`.
  Status firstLoadsAhead(const SetBody &loads);
  // This block's work items one at a time: `body(item)`.
  Status forEachItem(int64_t items, const std::function<Status(mlir::Value item)> &body);

  // Verifies the kernel, plans its memory, injects its sync and emits it, `header` first.
  Expected<GeneratedKernel> finish(const std::string &header);

private:
  const ChipConfig &config_;
  std::string name_, node_;
  mlir::OpBuilder b_;
  mlir::Location loc_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
  mlir::func::FuncOp func_;
  std::vector<mlir::Value> args_;
  mlir::Value blockIdx_, blockDim_;
  bool firstLoadsAhead_ = false; // firstLoadsAhead ran: loadsThenCompute pipelines the first loads
  int blockDimCount_ = 1;

  mlir::DictionaryAttr paramsAttr(const std::vector<std::pair<std::string, int64_t>> &params);
  Status item(mlir::Value index, int set, int64_t items, bool splitLast, const ItemBody &body);
};

// Element-wise template lines (an ElementwiseKernel's body and prologue: "vadd.f16 {out}, {in0},
// {c0}, repeat={rep}") as npu.vector ops, checked against the ISA by the dialect's verifier. The
// constructor makes the kernel's {c0}..{c3} broadcast-constant buffers (one repeat each, in UB)
// and its {s0}.. scalars (f16 with halfScalars); `lower` emits lines on the given {in0} {in1}
// {out} buffers with {rep} = `repeats`.
class VectorTemplates {
public:
  VectorTemplates(NpuKernelBuilder &kb, const ElementwiseKernel &k);
  Status lower(const std::vector<std::string> &lines, int64_t repeats,
               const std::map<std::string, mlir::Value> &buffers);

private:
  NpuKernelBuilder &kb_;
  const ElementwiseKernel &k_;
  std::map<std::string, mlir::Value> constants_; // "{c0}".. and "{s0}"..
};

} // namespace fractal::codegen
