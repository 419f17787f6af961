// Graph module -> model package (BuildPackage.h). Three steps over the function `main`:
//   1. tensors: one per value that tasks read or write (inputs, constants, activations, views);
//   2. tasks: one per op, in program order, from the kernel generators or the host fallbacks;
//   3. memory plan: offsets by first fit over the tasks' live ranges (tensors whose ranges do not
//      overlap share bytes), constants first so their region is written once at load.
#include "fractal/compiler/Codegen/BuildPackage.h"

#include "fractal/compiler/CompileReport.h"
#include "fractal/compiler/Codegen/KernelTemplates.h"
#include "fractal/compiler/Dialect/Graph/Constants.h"
#include "fractal/compiler/Dialect/Graph/DataDependence.h"

#include "EmitUtil.h"
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"
#include "fractal/support/File.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace fractal::compiler {
namespace {

namespace g = fractal::graph;
using pkg::DType;
using pkg::TensorKind;
using namespace fractal::codegen;

std::optional<DType> dtypeOf(mlir::Type type) {
  if (type.isF32()) return DType::F32;
  if (type.isF16()) return DType::F16;
  if (type.isF64()) return DType::F64;
  if (type.isUnsignedInteger(8)) return DType::U8;
  if (type.isUnsignedInteger(16)) return DType::U16;
  if (type.isUnsignedInteger(32)) return DType::U32;
  if (type.isUnsignedInteger(64)) return DType::U64;
  if (type.isInteger(64)) return DType::I64;
  if (type.isInteger(32)) return DType::I32;
  if (type.isInteger(16)) return DType::I16;
  if (type.isInteger(8)) return DType::I8;
  if (type.isInteger(1)) return DType::Bool;
  return std::nullopt;
}

std::string joined(const std::vector<std::string> &names) {
  std::string out;
  for (const std::string &n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

class Builder {
public:
  Builder(const ChipConfig &config, const std::string &source, const std::string &kernelDir,
          std::vector<std::string> *kernelAssembly, std::vector<std::string> *kernelNpu)
      : config_(config), source_(source), kernelDir_(kernelDir), kernelAssembly_(kernelAssembly),
        kernelNpu_(kernelNpu) {}

  Expected<pkg::Package> run(mlir::func::FuncOp func) {
    p_.producer = "fractal 0.1.0";
    p_.sourceModel = source_;
    p_.target = config_.name;
    p_.targetDigest = pkg::targetDigest(config_);
    for (unsigned i = 0; i < func.getNumArguments(); ++i) {
      auto name = func.getArgAttrOfType<mlir::StringAttr>(i, "onnx.name");
      uint32_t t = newTensor(func.getArgument(i), name ? name.str() : "input" + std::to_string(i),
                             TensorKind::Input);
      p_.inputs.push_back(t);
    }
    dependences_ = g::dataDependences(func.getBody().front());
    // Ops that recorded a problem, and how many of the problems say only that an operand has no
    // tensor because the op producing it failed: those are not listed (a convolution too large
    // for L1 would otherwise bury its own message under every op downstream of it).
    std::set<mlir::Operation *> failed;
    size_t consequences = 0;
    for (mlir::Operation &op : func.getBody().front()) {
      if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
        outputs(func, ret);
        continue;
      }
      const size_t before = problems_.size();
      lower(op);
      if (problems_.size() == before) continue;
      failed.insert(&op);
      const bool afterFailure = llvm::any_of(op.getOperands(), [&](mlir::Value v) { return failed.count(v.getDefiningOp()) > 0; });
      if (!afterFailure) continue;
      const size_t kept = size_t(std::remove_if(problems_.begin() + std::ptrdiff_t(before), problems_.end(),
                                                [](const std::string &p) { return missingOperand(p); }) -
                                 problems_.begin());
      consequences += problems_.size() - kept;
      problems_.resize(kept);
    }
    if (problems_.empty()) finishConvKernels();
    if (problems_.empty()) writeResultsInPlace();
    if (!problems_.empty()) {
      std::string message = source_ + ": " + std::to_string(problems_.size()) +
                            " op(s) have no NPU kernel or host fallback yet:";
      for (const std::string &p : problems_) message += "\n  " + p;
      if (consequences)
        message += "\n  (and " + std::to_string(consequences) +
                   " op(s) after them, which read what those would have produced)";
      return Error::badInput(message);
    }
    dropUnusedKernels();
    dropUnreferencedTensors();
    if (Status s = planMemory(); !s) return s.error();
    return std::move(p_);
  }

private:
  // A feature map with fewer than 16 channels as a convolution's band loads read it
  // (ConvKernel::inputChannels): its tensor, channels, whether it holds f32 (converted by the
  // load) and whether it is NCHW planes rather than NHWC pixels.
  struct UnpaddedInput {
    uint32_t tensor = 0;
    int64_t channels = 0;
    bool f32 = false, planar = false;
  };
  // Channel concatenations held gapped (each input on its own 16-channel boundary): the gapped
  // NHWC tensor, where each input's channels landed (gapped offset, count), whether its padding
  // channels are zero. A convolution reads it with zero weights for the gaps; the compacted
  // NHWC16 form is made only for other consumers.
  struct Slotted {
    uint32_t gapped;
    std::vector<std::pair<int64_t, int64_t>> placed;
    bool zeroPadded;
  };

  // ---- tensors ----
  uint32_t newTensor(mlir::Value value, const std::string &name, TensorKind kind) {
    auto type = llvm::cast<mlir::RankedTensorType>(value.getType());
    pkg::Tensor t;
    t.name = name;
    t.dtype = dtypeOf(type.getElementType()).value_or(DType::F32);
    t.shape.assign(type.getShape().begin(), type.getShape().end());
    t.kind = kind;
    p_.tensors.push_back(std::move(t));
    uint32_t index = uint32_t(p_.tensors.size() - 1);
    if (value) tensorOf_[value] = index;
    return index;
  }

  uint32_t scratch(const std::string &name, DType dtype, std::vector<int64_t> shape) {
    pkg::Tensor t;
    t.name = name;
    t.dtype = dtype;
    t.shape = std::move(shape);
    p_.tensors.push_back(std::move(t));
    return uint32_t(p_.tensors.size() - 1);
  }

  uint32_t constant(const std::string &name, DType dtype, std::vector<int64_t> shape,
                    std::vector<uint8_t> data) {
    uint32_t t = scratch(name, dtype, std::move(shape));
    p_.tensors[t].kind = TensorKind::Constant;
    p_.tensors[t].data = std::move(data);
    return t;
  }

  // A 1-D f16 constant of raw half bits (packed weights).
  uint32_t halfConstant(const std::string &name, const std::vector<uint16_t> &halves) {
    std::vector<uint8_t> bytes(halves.size() * 2);
    std::memcpy(bytes.data(), halves.data(), bytes.size());
    return constant(name, DType::F16, {int64_t(halves.size())}, std::move(bytes));
  }
  // A 1-D f32 constant tensor holding `values`.
  uint32_t f32Constant(const std::string &name, const std::vector<float> &values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return constant(name, DType::F32, {int64_t(values.size())}, std::move(bytes));
  }

  // The tensor holding `value`; graph.constant results become constant tensors on first use.
  std::optional<uint32_t> tensor(mlir::Value value) {
    auto it = tensorOf_.find(value);
    if (it != tensorOf_.end()) return it->second;
    if (auto f = nhwc16Of_.find(value); f != nhwc16Of_.end()) return toNchw(value, f->second);
    if (unpaddedNhwcOf_.count(value) || slottedOf_.count(value))
      if (std::optional<uint32_t> padded = nhwc16(value)) return toNchw(value, *padded);
    auto c = value.getDefiningOp<g::ConstantOp>();
    if (!c) return std::nullopt;
    std::optional<std::vector<char>> bytes = g::readConstantBytes(c.getValue());
    if (!bytes || !dtypeOf(c.getType().getElementType())) return std::nullopt;
    uint32_t t = newTensor(value, opName(c), TensorKind::Constant);
    p_.tensors[t].data.assign(bytes->begin(), bytes->end());
    return t;
  }

  uint32_t result(mlir::Operation &op) { return newTensor(op.getResult(0), opName(op), TensorKind::Activation); }

  // ---- layouts ----
  // Besides its ONNX form (NCHW, as typed), a rank-4 float value can live as NHWC16: f16, NHWC, with
  // channels padded to a multiple of 16 (zeros). Convolutions read and write NHWC16; element-wise
  // ops on NHWC16 values stay in it; each form is made on first demand (once), so a chain of
  // convolutions never converts back and forth.
  static int64_t pad16(int64_t c) { return (c + 15) / 16 * 16; }

  // f16 [rows, cols] with ones on the diagonal: the cube's operand for layout changes.
  uint32_t identity(int64_t rows, int64_t cols) {
    auto key = std::make_pair(rows, cols);
    if (auto it = identities_.find(key); it != identities_.end()) return it->second;
    std::vector<uint8_t> bytes(size_t(rows * cols) * 2, 0);
    const uint16_t one = isa::floatToHalf(1.0f);
    for (int64_t i = 0; i < std::min(rows, cols); ++i) std::memcpy(&bytes[size_t(i * cols + i) * 2], &one, 2);
    uint32_t t = constant("identity_" + std::to_string(rows) + "x" + std::to_string(cols), DType::F16,
                          {rows, cols}, std::move(bytes));
    identities_[key] = t;
    return t;
  }

  // The op a conversion of v is named after and attributed to: v's producer, or for a graph input
  // its first consumer (so a graph input's cast and layout change carry that node's name in
  // reports and profiles, not the function's).
  mlir::Operation &ownerOf(mlir::Value v) {
    if (mlir::Operation *op = v.getDefiningOp()) return *op;
    for (mlir::Operation *user : v.getUsers()) return *user;
    return *v.getParentBlock()->getParentOp();
  }

  // A per-image layout change on the cube: out = op(A) x op(B) with an identity on one side.
  // Batched over the images; `toHalf` for an NHWC16 result. False (with a problem) on failure.
  bool layoutKernel(mlir::Operation &op, const std::string &what, int64_t images, int64_t m, int64_t kk,
                    int64_t n, bool transA, bool transB, bool toHalf, std::vector<uint32_t> args) {
    MatMulKernel k;
    k.name = opName(op) + " (" + what + ")";
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.m = m;
    k.k = kk;
    k.n = n;
    k.transA = transA;
    k.transB = transB;
    k.batch = images;
    k.strideA = transA ? m * kk : 0; // the identity is the shared operand
    k.strideB = transB ? n * kk : 0;
    k.strideC = m * n;
    k.outHalf = toHalf;
    return addMatMulTask(op, "TransData", k, std::move(args));
  }

  // NHWC16 -> NCHW f32: per image, out[C, HW] = I[C, Cp] x X^T with X = [HW, Cp] (transB). The
  // pixels are cut into chunks that are separate products (columns of out, ldc = HW), so a map
  // with few channels still spreads over the cores.
  std::optional<uint32_t> toNchw(mlir::Value value, uint32_t nhwc) {
    const std::vector<int64_t> shape = shapeOf(value);
    const int64_t c = shape[1], hw = shape[2] * shape[3], cp = pad16(c);
    mlir::Operation &op = ownerOf(value);
    uint32_t out = newTensor(value, opName(op), TensorKind::Activation);
    int64_t chunk = hw;
    for (int64_t candidate = 4096; candidate >= 256; candidate -= 16)
      if (hw > candidate && hw % candidate == 0) {
        chunk = candidate;
        break;
      }
    MatMulKernel k;
    k.name = opName(op) + " (to NCHW)";
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.m = c;
    k.k = cp;
    k.n = chunk;
    k.transB = true;
    k.batch = shape[0] * (hw / chunk);
    k.strideB = chunk * cp; // consecutive chunks of pixels, image after image
    k.strideC = chunk;      // the chunk's columns of out ...
    k.ldc = hw;             // ... in rows of hw
    if (shape[0] > 1) { // images are c*hw apart in out: one product per image
      k.n = hw;
      k.batch = shape[0];
      k.strideB = hw * cp;
      k.strideC = c * hw;
      k.ldc = 0;
    }
    addMatMulTask(op, "TransData", k, {identity(c, cp), nhwc, out});
    return out;
  }

  // The NHWC16 form of a rank-4 f32 value: NCHW -> f16 (vector) -> per image out[HW, Cp] =
  // X^T x I[C, Cp] with X = [C, HW] (transA).
  std::optional<uint32_t> nhwc16(mlir::Value value) {
    if (auto it = nhwc16Of_.find(value); it != nhwc16Of_.end()) return it->second;
    if (auto it = slottedOf_.find(value); it != slottedOf_.end()) return compacted(value, it->second);
    if (auto it = unpaddedNhwcOf_.find(value); it != unpaddedNhwcOf_.end()) { // pad its channels now
      const std::vector<int64_t> shape = shapeOf(value); // NCHW
      const UnpaddedInput in = it->second;
      const int64_t c = in.channels, cp = pad16(c);
      mlir::Operation &op = ownerOf(value);
      const uint32_t half = in.f32 ? castToHalf(op, in.tensor) : in.tensor;
      uint32_t out = scratch(opName(op), DType::F16, {shape[0], shape[2], shape[3], cp});
      p_.tensors[out].layout = "NHWC16";
      if (!layoutKernel(op, "pad channels", 1, shape[0] * shape[2] * shape[3], c, cp, false, false, true,
                        {half, identity(c, cp), out}))
        return std::nullopt;
      nhwc16Of_[value] = out;
      zeroPadded_.insert(out);
      return out;
    }
    const std::vector<int64_t> shape = shapeOf(value);
    if (shape.size() != 4 || !isF32(value)) return std::nullopt;
    mlir::Operation &op = ownerOf(value);
    std::optional<uint32_t> half = halfOperand(op, value);
    if (!half) return std::nullopt;
    const int64_t c = shape[1], hw = shape[2] * shape[3], cp = pad16(c);
    uint32_t out = scratch(opName(op) + "/nhwc16", DType::F16, {shape[0], shape[2], shape[3], cp});
    p_.tensors[out].layout = "NHWC16";
    if (!layoutKernel(op, "to NHWC16", shape[0], hw, c, cp, true, false, true, {*half, identity(c, cp), out}))
      return std::nullopt;
    nhwc16Of_[value] = out;
    zeroPadded_.insert(out);
    return out;
  }

  // An f32 NCHW feature map with fewer than 16 channels as a convolution reads it, padding the
  // channels band by band: a model's NHWC input as it is (transpose()); else the map itself, whose
  // bands load plane by plane (`gm2l1_nz planar=1 from_f32=1`, AIPP's conversion of an NCHW
  // image), or, for a constant or planes too far apart for the load's stride, an NHWC f16 copy
  // made by a layout kernel (per image, out[HW, C] = X^T x I[C, C]).
  std::optional<UnpaddedInput> unpaddedNhwc(mlir::Value value) {
    if (auto it = unpaddedNhwcOf_.find(value); it != unpaddedNhwcOf_.end()) return it->second;
    const std::vector<int64_t> shape = shapeOf(value);
    if (shape.size() != 4 || !isF32(value) || shape[1] >= 16) return std::nullopt;
    const int64_t c = shape[1], hw = shape[2] * shape[3];
    if (hw <= ConvKernel::kMaxPlaneStride && !g::readF32Constant(value))
      if (std::optional<uint32_t> planes = tensor(value)) return UnpaddedInput{*planes, c, true, true};
    mlir::Operation &op = ownerOf(value);
    std::optional<uint32_t> half = halfOperand(op, value);
    if (!half) return std::nullopt;
    uint32_t out = scratch(opName(op) + "/nhwc", DType::F16, {shape[0], shape[2], shape[3], c});
    if (!layoutKernel(op, "to NHWC", shape[0], hw, c, c, true, false, true, {*half, identity(c, c), out}))
      return std::nullopt;
    return unpaddedNhwcOf_[value] = UnpaddedInput{out, c};
  }

  // An f16 copy of an f32 tensor, by a Cast kernel.
  uint32_t castToHalf(mlir::Operation &op, uint32_t f32) {
    const std::vector<int64_t> shape = p_.tensors[f32].shape;
    uint32_t half = scratch(opName(op) + "/f16_" + std::to_string(p_.tensors.size()), DType::F16, shape);
    elementwise(op, "Cast", castKernel(true, p_.tensors[f32].elementCount()), {f32, half});
    return half;
  }

  // True when v exists only as NHWC16 (made by a convolution), so consumers should stay in it.
  bool onlyNhwc16(mlir::Value v) const { return nhwc16Of_.count(v) && !tensorOf_.count(v); }

  static std::string opName(mlir::Operation *op) {
    std::vector<std::string> names = onnxNodeNames(op->getLoc());
    return names.empty() ? op->getName().stripDialect().str() : names.front();
  }
  static std::string opName(mlir::Operation &op) { return opName(&op); }

  // The multiply-accumulates an ONNX matrix op defines (pkg::Task::modelMacs), from its shapes.
  static uint64_t modelMacsOf(mlir::Operation &op) {
    auto elements = [](mlir::Value v) { return uint64_t(llvm::cast<mlir::RankedTensorType>(v.getType()).getNumElements()); };
    auto dims = [](mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getShape(); };
    return llvm::TypeSwitch<mlir::Operation *, uint64_t>(&op)
        .Case<g::ConvOp>([&](auto o) { // every output x (input channels per group x kernel taps)
          return elements(o.getResult()) * uint64_t(elements(o.getWeight()) / dims(o.getWeight())[0]);
        })
        .Case<g::ConvTransposeOp>([&](auto o) { // every input x (output channels per group x taps)
          return elements(o.getInput()) * uint64_t(elements(o.getWeight()) / dims(o.getWeight())[0]);
        })
        .Case<g::MatMulOp>([&](auto o) { return elements(o.getResult()) * uint64_t(dims(o.getLhs()).back()); })
        .Case<g::GemmOp>([&](auto o) {
          return elements(o.getResult()) * uint64_t(dims(o.getA())[o.getTransA() ? 0 : 1]);
        })
        .Default([](mlir::Operation *) { return uint64_t(0); });
  }

  // ---- tasks ----
  // The package's kernel for `k` (one per distinct assembly), added on first use; nothing (with a
  // problem recorded) when the generated code does not assemble.
  std::optional<uint32_t> kernelIndex(const std::string &name, const std::string &opType, const GeneratedKernel &k) {
    if (auto it = kernelOf_.find(k.assembly); it != kernelOf_.end()) return it->second;
    Expected<isa::KernelBinary> bin = isa::assemble(k.assembly, "<" + name + " kernel>");
    if (!bin) {
      problems_.push_back(name + " (" + opType + "): internal error: generated kernel does not assemble: " +
                          bin.error().message);
      return std::nullopt;
    }
    bin->target = config_.name;
    bin->source = source_;
    const uint32_t index = uint32_t(p_.kernels.size());
    p_.kernels.push_back({opType + "_" + std::to_string(index), std::move(*bin)});
    kernelOf_[k.assembly] = index;
    if (!kernelDir_.empty())
      if (Status s = writeFileAtomically(kernelDir_ + "/" + p_.kernels.back().name + ".s", k.assembly); !s)
        problems_.push_back(s.error().message);
    if (kernelAssembly_) kernelAssembly_->push_back(k.assembly);
    if (kernelNpu_) kernelNpu_->push_back(k.npu());
    return index;
  }

  void addKernelTask(mlir::Operation &op, const std::string &opType, const GeneratedKernel &k,
                     std::vector<uint32_t> args, uint64_t modelMacs = 0) {
    std::optional<uint32_t> index = kernelIndex(opName(op), opType, k);
    if (!index) return;
    pushKernelTask(op, opType, *index, uint32_t(k.blockDim), std::move(args), modelMacs);
  }

  // A kernel launch of `op`: kernel index and block_dim (kKernelLater and 0 for a convolution
  // whose kernel finishConvKernels makes).
  void pushKernelTask(mlir::Operation &op, const std::string &opType, uint32_t kernel, uint32_t blockDim,
                      std::vector<uint32_t> args, uint64_t modelMacs) {
    pkg::Task task;
    task.name = opName(op);
    task.opType = opType;
    task.onnxNodes = onnxNodeNames(op.getLoc());
    task.launch = {kernel, blockDim, std::move(args), {}};
    task.modelMacs = modelMacs;
    p_.tasks.push_back(std::move(task));
  }

  // A matmul kernel's task; false (with the generator's problem recorded) when it cannot be made.
  bool addMatMulTask(mlir::Operation &op, const std::string &opType, const MatMulKernel &k, std::vector<uint32_t> args,
                     uint64_t modelMacs = 0) {
    Expected<GeneratedKernel> gen = generateMatMul(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return false;
    }
    addKernelTask(op, opType, *gen, std::move(args), modelMacs);
    return true;
  }

  // A kernel whose DMAs move whole 32-byte blocks past unaligned row ends (the reduction, expand,
  // segment, gather and layer-norm kernels): its tensors get kTailSlackBytes in the memory plan.
  void addSpillingKernelTask(mlir::Operation &op, const std::string &opType, const GeneratedKernel &k,
                             std::vector<uint32_t> args) {
    for (uint32_t t : args) tailSlack_.insert(t);
    addKernelTask(op, opType, k, std::move(args));
  }

  void addHostTask(mlir::Operation &op, const std::string &opType, std::vector<uint32_t> inputs,
                   std::vector<uint32_t> outputs, const std::string &reason) {
    pkg::Task task;
    task.name = opName(op);
    task.opType = opType;
    task.onnxNodes = onnxNodeNames(op.getLoc());
    task.isHost = true;
    task.host.opType = opType;
    task.host.inputs = std::move(inputs);
    task.host.outputs = std::move(outputs);
    task.host.reason = reason;
    p_.tasks.push_back(std::move(task));
  }

  void unsupported(mlir::Operation &op, const std::string &why) {
    problems_.push_back(opName(op) + " (" + op.getName().getStringRef().str() + "): " + why);
  }
  // The problems that only say an operand has no tensor (or no NHWC16 form): an op after a failed
  // one records these when it finds nothing to read.
  static constexpr const char *kNoOperand = "an operand is neither a tensor nor a readable constant";
  static constexpr const char *kNoInput = "input is not a tensor";
  static constexpr const char *kNoNhwc16 = "cannot be converted to NHWC16";
  static bool missingOperand(const std::string &problem) {
    for (const char *why : {kNoOperand, kNoInput, kNoNhwc16})
      if (problem.find(why) != std::string::npos) return true;
    return false;
  }

  bool require(mlir::Operation &op, std::initializer_list<mlir::Value> values,
               std::vector<uint32_t> &out) {
    for (mlir::Value v : values) {
      std::optional<uint32_t> t = tensor(v);
      if (!t) {
        unsupported(op, kNoOperand);
        return false;
      }
      out.push_back(*t);
    }
    return true;
  }

  // One element-wise kernel (or an error recorded for op).
  void elementwise(mlir::Operation &op, const std::string &opType, ElementwiseKernel k,
                   std::vector<uint32_t> args) {
    k.name = opName(op);
    if (k.node.empty()) k.node = joined(onnxNodeNames(op.getLoc()));
    Expected<GeneratedKernel> gen = generateElementwise(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    addKernelTask(op, opType, *gen, std::move(args));
  }

  // Whether ops other than the function's return read a result of `op` (a data-dependent root's
  // slices past its extent must then be valid values).
  static bool readByOps(mlir::Operation &op) {
    for (mlir::Value r : op.getResults())
      for (mlir::Operation *user : r.getUsers())
        if (!llvm::isa<mlir::func::ReturnOp>(user)) return true;
    return false;
  }

  static bool isF32(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isF32();
  }
  static int64_t elements(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType()).getNumElements();
  }

  void lower(mlir::Operation &op) {
    if (llvm::isa<g::ConstantOp>(op)) return; // materialised by first use
    // An op after a data-dependent extent runs over the bound (DataDependence.h), if it can.
    if (op.getNumResults() > 0)
      if (auto d = dependences_.find(op.getResult(0)); d != dependences_.end() && !d->second.unsupported.empty()) {
        if (d->second.inherited) return; // the op that could not carry it is listed
        return unsupported(op, "reads a result of " + opName(*d->second.root) + ", whose extent is known only at run "
                               "time, and " + d->second.unsupported);
      }
    if (llvm::isa<g::NonZeroOp, g::CompressOp>(op)) return compaction(op);
    if (auto u = llvm::dyn_cast<g::UniqueOp>(op)) return unique(op, u);
    if (auto nms = llvm::dyn_cast<g::NmsSelectOp>(op)) return nmsSelect(op, nms);
    if (!llvm::isa<g::AddOp>(op)) // (an Add may take a deferred scale into its upsample-add)
      for (mlir::Value v : op.getOperands()) materializeScale(v);
    if (llvm::isa<g::ReshapeOp>(op)) {
      std::optional<uint32_t> in = tensor(op.getOperand(0));
      if (!in) return unsupported(op, kNoInput);
      uint32_t out = result(op);
      p_.tensors[out].aliasOf = *in; // same bytes, new shape: no task
      return;
    }
    if (scalarInteger(op)) return;
    llvm::TypeSwitch<mlir::Operation *>(&op)
        .Case<g::AddOp>([&](auto o) { binary(op, "Add", "vadd.f32", o.getLhs(), o.getRhs()); })
        .Case<g::SubOp>([&](auto o) { binary(op, "Sub", "vsub.f32", o.getLhs(), o.getRhs()); })
        .Case<g::MulOp>([&](auto o) { binary(op, "Mul", "vmul.f32", o.getLhs(), o.getRhs()); })
        .Case<g::DivOp>([&](auto o) { binary(op, "Div", "vdiv.f32", o.getLhs(), o.getRhs()); })
        .Case<g::MaxOp>([&](auto o) { binary(op, "Max", "vmax.f32", o.getLhs(), o.getRhs()); })
        .Case<g::MinOp>([&](auto o) { binary(op, "Min", "vmin.f32", o.getLhs(), o.getRhs()); })
        .Case<g::ReluOp>([&](auto o) { unary(op, "Relu", {"vrelu.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::NegOp>([&](auto o) { unary(op, "Neg", {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}"}, {-1.0f}); })
        .Case<g::AbsOp>([&](auto o) { unary(op, "Abs", {"vabs.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::SqrtOp>([&](auto o) { unary(op, "Sqrt", {"vsqrt.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::ReciprocalOp>([&](auto o) { unary(op, "Reciprocal", {"vrec.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::ExpOp>([&](auto o) { unary(op, "Exp", {"vexp.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::LogOp>([&](auto o) { unary(op, "Log", {"vln.f32 {out}, {in0}, repeat={rep}"}, {}); })
        .Case<g::ActivationOp>([&](auto o) { activation(op, o); })
        .Case<g::SigmoidOp>([&](auto o) {
          // 1 / (1 + exp(-x)), in fp32 on the vector unit.
          unary(op, "Sigmoid",
                {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}", "vexp.f32 {out}, {out}, repeat={rep}",
                 "vadds.f32 {out}, {out}, {s1}, repeat={rep}", "vrec.f32 {out}, {out}, repeat={rep}"},
                {-1.0f, 1.0f});
        })
        .Case<g::ClipOp>([&](auto o) {
          unary(op, "Clip",
                {"vmaxs.f32 {out}, {in0}, {s0}, repeat={rep}", "vmins.f32 {out}, {out}, {s1}, repeat={rep}"},
                {o.getMin().convertToFloat(), o.getMax().convertToFloat()});
        })
        .Case<g::FakeQuantOp>([&](auto o) { fakeQuant(op, o); })
        .Case<g::HardSigmoidOp>([&](auto o) {
          unary(op, "HardSigmoid",
                {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}", "vadds.f32 {out}, {out}, {s1}, repeat={rep}",
                 "vmaxs.f32 {out}, {out}, {s2}, repeat={rep}", "vmins.f32 {out}, {out}, {s3}, repeat={rep}"},
                {o.getAlpha().convertToFloat(), o.getBeta().convertToFloat(), 0.0f, 1.0f});
        })
        .Case<g::PowOp>([&](auto o) { pow(op, o.getLhs(), o.getRhs()); })
        .Case<g::ModOp>([&](auto o) { mod(op, o); })
        .Case<g::ErfOp>([&](auto o) { erf(op); })
        .Case<g::SignOp>([&](auto o) { sign(op); })
        .Case<g::RoundingOp>([&](auto o) { rounding(op, o.getMode()); })
        .Case<g::TrigonometricOp>([&](auto o) { trigonometric(op, o.getFunction()); })
        .Case<g::CompareOp>([&](auto o) { compare(op, o); })
        .Case<g::LogicalOp>([&](auto o) { logical(op, o.getKind(), {o.getLhs(), o.getRhs()}); })
        .Case<g::NotOp>([&](auto o) { logical(op, "not", {o.getInput()}); })
        .Case<g::WhereOp>([&](auto o) { where(op, o); })
        .Case<g::CastOp>([&](auto o) { cast(op, o.getInput()); })
        .Case<g::MatMulOp>([&](auto o) { matmul(op, o.getLhs(), o.getRhs()); })
        .Case<g::ConvOp>([&](auto o) { conv(op, o); })
        .Case<g::TransposeOp>([&](auto o) { transpose(op, o); })
        .Case<g::GlobalAvgPoolOp>([&](auto o) { globalAvgPool(op, o.getInput()); })
        .Case<g::ReduceOp>([&](auto o) {
          static const std::map<std::string, ReduceKernel::Kind> kinds = {
              {"sum", ReduceKernel::Kind::Sum},        {"mean", ReduceKernel::Kind::Mean},
              {"max", ReduceKernel::Kind::Max},        {"min", ReduceKernel::Kind::Min},
              {"l1", ReduceKernel::Kind::L1},          {"l2", ReduceKernel::Kind::L2},
              {"sum_square", ReduceKernel::Kind::SumSquare}, {"log_sum", ReduceKernel::Kind::LogSum},
              {"log_sum_exp", ReduceKernel::Kind::LogSumExp}};
          reduce(op, o.getInput(), o.getAxes(), kinds.at(o.getKind().str()), "Reduce");
        })
        .Case<g::LayerNormOp>([&](auto o) { layerNorm(op, o); })
        .Case<g::SoftmaxOp>([&](auto o) {
          if (o.getKind() == "hardmax") return reduce(op, o.getInput(), o.getAxes(), ReduceKernel::Kind::Hardmax, "Hardmax");
          const bool log = o.getKind() == "log_softmax";
          reduce(op, o.getInput(), o.getAxes(), log ? ReduceKernel::Kind::LogSoftmax : ReduceKernel::Kind::Softmax,
                 log ? "LogSoftmax" : "Softmax");
        })
        .Case<g::SliceOp>([&](auto o) {
          llvm::ArrayRef<int64_t> starts = o.getStarts(), steps = o.getSteps();
          moveMapped(op, "Slice", o.getInput(), 0, [&](size_t d, int64_t i) { return starts[d] + i * steps[d]; });
        })
        .Case<g::PadOp>([&](auto o) {
          llvm::ArrayRef<int64_t> pads = o.getPads();
          const std::vector<int64_t> in = shapeOf(o.getInput());
          const float value = o.getValue().convertToFloat();
          if (!isF32(o.getInput()) && value != 0.0f)
            return unsupported(op, "padding a non-float tensor with a value other than 0 has no kernel yet");
          const std::string mode = o.getMode().str();
          if (mode != "constant" && mode != "edge" && mode != "reflect")
            return unsupported(op, "padding mode '" + mode + "' has no kernel");
          moveMapped(op, "Pad", o.getInput(), emit::floatBits(value), [&](size_t d, int64_t i) -> int64_t {
            int64_t s = i - pads[d];
            if (s >= 0 && s < in[d]) return s;
            if (mode == "edge") return std::clamp<int64_t>(s, 0, in[d] - 1);
            if (mode == "reflect" && in[d] > 1) { // mirror without repeating the edge element
              const int64_t period = 2 * (in[d] - 1);
              s = ((s % period) + period) % period;
              return s < in[d] ? s : period - s;
            }
            return mode == "reflect" ? 0 : -1;
          });
        })
        .Case<g::TriluOp>([&](auto o) { trilu(op, o); })
        .Case<g::GatherOp>([&](auto o) { gather(op, o); })
        .Case<g::ScatterOp>([&](auto o) {
          ScatterKernel k;
          k.nd = o.getNd();
          k.axis = o.getAxis();
          k.reduction = o.getReduction().str();
          scatter(op, k, o.getData(), o.getIndices(), o.getUpdates());
        })
        .Case<g::GatherNdOp>([&](auto o) {
          ScatterKernel k;
          k.gatherNd = true;
          k.batchDims = int64_t(o.getBatchDims());
          scatter(op, k, o.getData(), o.getIndices(), mlir::Value());
        })
        .Case<g::NllLossOp>([&](auto o) { nllLoss(op, o); })
        .Case<g::TopKOp>([&](auto o) { topK(op, o); })
        .Case<g::ArgReduceOp>([&](auto o) {
          const bool max = o.getKind() == "max";
          const int64_t axis = o.getAxis();
          reduce(op, o.getInput(), llvm::ArrayRef<int64_t>(axis), max ? ReduceKernel::Kind::ArgMax : ReduceKernel::Kind::ArgMin,
                 max ? "ArgMax" : "ArgMin", o.getSelectLastIndex());
        })
        .Case<g::BatchNormOp>([&](auto o) { batchNorm(op, o); })
        .Case<g::ResizeOp>([&](auto o) { resize(op, o); })
        .Case<g::ConvTransposeOp>([&](auto o) { convTranspose(op, o); })
        .Case<g::ConcatOp>([&](auto o) { concat(op, o); })
        .Case<g::MaxPoolOp>([&](auto o) {
          for (int64_t d : o.getDilations())
            if (d != 1) return unsupported(op, "dilated pooling has no kernel yet");
          pool(op, o.getInput(), o.getKernel(), o.getStrides(), o.getPads(), true);
        })
        .Case<g::AvgPoolOp>([&](auto o) {
          bool pads = false;
          for (int64_t p : o.getPads()) pads |= p != 0;
          if (pads && !o.getCountIncludePad())
            return unsupported(op, "average pooling that excludes padding has no kernel yet");
          if (o.getCeilMode())
            return unsupported(op, "average pooling with ceil_mode has no kernel yet (partial windows)");
          pool(op, o.getInput(), o.getKernel(), o.getStrides(), o.getPads(), false);
        })
        .Case<g::GemmOp>([&](auto o) { gemm(op, o); })
        .Default([&](mlir::Operation *) {
          unsupported(op, "no kernel generator for this op yet");
        });
  }

  void conv(mlir::Operation &op, g::ConvOp o) {
    const std::vector<int64_t> in = shapeOf(o.getInput()), w = shapeOf(o.getWeight()), out = shapeOf(o.getResult());
    if (in.size() != 4 || !isF32(o.getInput())) return unsupported(op, "only 2-D float32 convolutions have a kernel");
    std::optional<std::vector<float>> weights = g::readF32Constant(o.getWeight());
    std::optional<std::vector<float>> bias;
    if (o.getBias()) bias = g::readF32Constant(o.getBias());
    const int64_t group = o.getGroup(), cin = in[1], cout = out[1], cinPerGroup = w[1];
    const int64_t coutPerGroup = cout / group, taps = w[2] * w[3];
    ConvKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.n = in[0];
    k.h = in[2];
    k.w = in[3];
    k.cip = pad16(cin);
    k.cop = pad16(cout);
    k.kh = w[2];
    k.kw = w[3];
    k.sh = o.getStrides()[0];
    k.sw = o.getStrides()[1];
    k.dh = o.getDilations()[0];
    k.dw = o.getDilations()[1];
    k.pt = o.getPads()[0];
    k.pl = o.getPads()[1];
    k.pb = o.getPads()[2];
    k.pr = o.getPads()[3];
    k.ho = out[2];
    k.wo = out[3];
    k.depthwise = group > 1 && group == cin && group == cout;
    const float inf = std::numeric_limits<float>::infinity();
    auto lo = o.getClampMinAttr(), hi = o.getClampMaxAttr();
    const float min = lo ? float(lo.getValueAsDouble()) : -inf, max = hi ? float(hi.getValueAsDouble()) : inf;
    k.relu = min == 0.0f && max == inf;
    k.residual = bool(o.getResidual());
    if (k.residual) k.residualChannels = pad16(shapeOf(o.getResidual())[1]); // may be fewer than cop
    // A result whose only use is its NHWC transpose (a detection head's output), with no padding
    // channels or fewer than 16: the FixPipe writes that NHWC f32 tensor itself (only the real
    // channels), and no layout kernel follows.
    g::TransposeOp toNhwc;
    if (o->hasOneUse() && (cout == k.cop || cout < 16) && (!(lo || hi) || k.relu))
      if (auto t = llvm::dyn_cast<g::TransposeOp>(*o->getUsers().begin());
          t && t.getPerm() == llvm::ArrayRef<int64_t>{0, 2, 3, 1} && isF32(t.getResult()))
        toNhwc = t;
    k.outF32 = bool(toNhwc);
    k.outChannels = toNhwc ? cout : 0;
    // An 8-bit integer product (ConvInteger, QLinearConv): exact only if its float32 accumulators
    // leave the cube as float32 (the importer takes them through this NHWC output).
    if (op.hasAttr("fractal.exact_f32") && !k.outF32)
      return unsupported(op, "an 8-bit integer convolution's float32 sums must leave the cube as float32 (its NHWC "
                             "output form), which this convolution cannot take");
    // A gapped channel concatenation (concatCompacted) read as it is: its input channel i is
    // gapped channel channelOf[i], the gaps get zero weights (and hold zeros).
    std::optional<Slotted> slotted;
    std::vector<int64_t> channelOf;
    if (auto it = slottedOf_.find(o.getInput());
        it != slottedOf_.end() && it->second.zeroPadded && group == 1 && weights && !toNhwc) {
      slotted = it->second;
      for (auto [from, c] : slotted->placed)
        for (int64_t i = 0; i < c; ++i) channelOf.push_back(from + i);
      k.cip = p_.tensors[slotted->gapped].shape[3];
    }
    const int64_t cinHeld = slotted ? k.cip : cin; // input channels as the kernel reads them
    // An input with fewer than 16 channels (a model's image): read with only its channels (NHWC
    // pixels or NCHW planes, f32 or f16), padded band by band.
    std::optional<uint32_t> input;
    std::optional<UnpaddedInput> unpadded;
    if (!k.depthwise && k.cip == 16 && !nhwc16Of_.count(o.getInput()) && !slotted) unpadded = unpaddedNhwc(o.getInput());
    if (unpadded) {
      k.inputChannels = unpadded->channels;
      k.inputF32 = unpadded->f32;
      k.inputPlanar = unpadded->planar;
    }
    // At most 4 of them, with the weights known now: the small-channel (C04) form, 4 channels a
    // pixel in L1 and K = taps x 4 (ATC's --enable_small_channel), not 16 channels with zeros.
    k.c04 = unpadded && unpadded->channels <= 4 && weights;
    Expected<ConvTiling> tiling = planConv(config_, k);
    if (!tiling) {
      problems_.push_back(tiling.error().message);
      return;
    }
    if (slotted) {
      input = slotted->gapped;
    } else if (unpadded) {
      input = unpadded->tensor;
    } else {
      input = nhwc16(o.getInput());
    }
    if (!input) return unsupported(op, "input cannot be converted to NHWC16");
    std::optional<uint32_t> residual;
    if (k.residual && !(residual = nhwc16(o.getResidual())))
      return unsupported(op, "the residual cannot be converted to NHWC16");
    const pkg::ConvWeightLayout layout = convWeightLayout(k, *tiling, cout, cinHeld);
    uint32_t wt, bt;
    if (weights) {
      // Grouped (incl. depthwise) convolutions run as one dense convolution whose weights are zero
      // outside each group's block: exact, at the cost of cube work for the zeros. (Read from the
      // ONNX weights by the packer, the dense form is never built.)
      std::vector<int64_t> channelHeldAt(size_t(cinHeld), -1); // held slot -> input channel
      for (int64_t channel = 0; channel < cin; ++channel)
        channelHeldAt[size_t(slotted ? channelOf[size_t(channel)] : channel)] = channel;
      auto weight = [&](int64_t oc, int64_t held, int64_t t) {
        const int64_t channel = channelHeldAt[size_t(held)], ic = channel - (oc / coutPerGroup) * cinPerGroup;
        return channel < 0 || ic < 0 || ic >= cinPerGroup ? 0.0f : (*weights)[size_t((oc * cinPerGroup + ic) * taps + t)];
      };
      wt = halfConstant(opName(op) + "/weight", pkg::packConvWeights(layout, weight));
    } else {
      // Weights given at run time: the host packs them (a layout change, like CANN's TransData
      // for weights) before the kernel runs.
      std::optional<uint32_t> raw = tensor(o.getWeight());
      if (!raw) return unsupported(op, "the weights are neither constant nor a tensor");
      wt = scratch(opName(op) + "/weight", DType::F16, {pkg::packedConvWeightCount(layout)});
      addHostTask(op, "PackConvWeights", {*raw}, {wt}, "layout change of run-time weights");
      p_.tasks.back().host.ints = {{"layout", {cout, cin, k.kh, k.kw, k.cop, k.cip, layout.nt, layout.kc1,
                                               layout.depthwise ? 1 : 0}},
                                   {"group", {group}}};
    }
    if (!o.getBias() || bias) {
      std::vector<float> b(size_t(k.cop), 0.0f);
      if (bias) std::copy(bias->begin(), bias->end(), b.begin());
      bt = f32Constant(opName(op) + "/bias", b);
    } else {
      std::optional<uint32_t> raw = tensor(o.getBias());
      if (!raw) return unsupported(op, "the bias is neither constant nor a tensor");
      bt = scratch(opName(op) + "/bias", DType::F32, {k.cop});
      addHostTask(op, "PadBias", {*raw}, {bt}, "zero-padding of a run-time bias to 16-channel blocks");
    }
    // The kernel is made once the neighbours it may fuse with are known (finishConvKernels). A
    // head output's task keeps its dense weights and bias, for a head on the same input to join.
    if (toNhwc) {
      std::vector<uint32_t> args = {*input, wt, bt, result(*toNhwc)};
      if (residual) args.insert(args.begin() + 3, *residual);
      pushKernelTask(op, "Conv", kKernelLater, 0, std::move(args), modelMacsOf(op));
      convOfTask_[p_.tasks.size() - 1] = k;
      writtenByProducer_.insert(toNhwc);
      if (weights && bias.has_value() == bool(o.getBias()) && !residual && group == 1) {
        Head &head = headOfTask_[p_.tasks.size() - 1];
        head.weights = std::move(*weights);
        head.bias = bias.value_or(std::vector<float>(size_t(cout), 0.0f));
        head.cout = cout;
        head.cin = cin;
      }
      return;
    }
    uint32_t result = scratch(opName(op), DType::F16, {k.n, k.ho, k.wo, k.cop});
    p_.tensors[result].layout = "NHWC16";
    std::vector<uint32_t> args = {*input, wt, bt, result};
    if (residual) args.insert(args.begin() + 3, *residual);
    pushKernelTask(op, "Conv", kKernelLater, 0, std::move(args), modelMacsOf(op));
    convOfTask_[p_.tasks.size() - 1] = k;
    nhwc16Of_[o.getResult()] = result;
    // Zero weights and bias (and a residual's zero padding channels): 0 stays 0.
    if (min <= 0.0f && max >= 0.0f && (!residual || zeroPadded_.count(*residual))) zeroPadded_.insert(result);
    if ((lo || hi) && !k.relu) {
      ElementwiseKernel clip;
      clip.elements = k.n * k.ho * k.wo * k.cop;
      clip.inBytes = clip.outBytes = 2;
      clip.halfScalars = true;
      clip.scalars = {min, max};
      clip.body = {"vmaxs.f16 {out}, {in0}, {s0}, repeat={rep}", "vmins.f16 {out}, {out}, {s1}, repeat={rep}"};
      elementwise(op, "Clip", std::move(clip), {result, result});
    }
  }

  // ---- data movement and pooling ----
  // Names a feature-map kernel after op and fills its NHWC16 input geometry from `in` (NCHW).
  template <typename Kernel> Kernel featureMapKernel(mlir::Operation &op, const std::vector<int64_t> &in) {
    Kernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.n = in[0];
    k.h = in[2];
    k.w = in[3];
    k.cp = pad16(in[1]);
    return k;
  }

  // The task of a kernel that makes op's result as NHWC16 of `shape`; `zeros` when its padding
  // channels are zero.
  void nhwc16Task(mlir::Operation &op, const std::string &opType, Expected<GeneratedKernel> gen,
                  std::vector<uint32_t> args, std::vector<int64_t> shape, bool zeros) {
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    uint32_t result = scratch(opName(op), DType::F16, std::move(shape));
    p_.tensors[result].layout = "NHWC16";
    args.push_back(result);
    addKernelTask(op, opType, *gen, std::move(args));
    nhwc16Of_[op.getResult(0)] = result;
    if (zeros) zeroPadded_.insert(result);
  }
  // Batched 2-D transposes of this many elements or more go to the vector unit before DMA tries
  // them an element per piece (about 25 cycles each; the vector kernel's setup is a few hundred).
  static constexpr int64_t kVectorTransposeFrom = 64;

  void transpose(mlir::Operation &op, g::TransposeOp o) {
    if (writtenByProducer_.count(&op)) return; // the convolution wrote the result (conv())
    llvm::ArrayRef<int64_t> perm = o.getPerm();
    const std::vector<int64_t> in = shapeOf(o.getInput());
    // Whether only convolutions read the result, as their input: they take it in f16 anyway.
    auto onlyConvolutionsRead = [](mlir::Value v) {
      for (mlir::OpOperand &use : v.getUses())
        if (!llvm::isa<g::ConvOp>(use.getOwner()) || use.getOperandNumber() != 0) return false;
      return !v.use_empty();
    };
    if (in.size() == 4 && isF32(o.getInput()) && perm == llvm::ArrayRef<int64_t>{0, 3, 1, 2} &&
        onlyConvolutionsRead(o.getResult())) {
      // NHWC -> NCHW into convolutions (a model's NHWC image): the result's NHWC16 form is the
      // input in f16 with channels padded. Fewer than 16 channels are padded by a layout kernel
      // only when a consumer needs that form (nhwc16()): a convolution reads the NHWC tensor
      // itself (ConvKernel::inputChannels), converting the f32 on the way (ConvKernel::inputF32)
      // unless it is a constant. Any other reader gets the f32 transpose below (it would have
      // read the f16 form back: a RoiAlign's result rounded to 11 bits).
      const int64_t c = in[3], cp = pad16(c);
      if (c != cp) {
        const bool constant = bool(g::readF32Constant(o.getInput()));
        std::optional<uint32_t> source = constant ? halfOperand(op, o.getInput()) : tensor(o.getInput());
        if (!source) return unsupported(op, kNoInput);
        unpaddedNhwcOf_[o.getResult()] = UnpaddedInput{*source, c, !constant};
        return;
      }
      std::optional<uint32_t> half = halfOperand(op, o.getInput());
      if (!half) return unsupported(op, kNoInput);
      uint32_t out = scratch(opName(op), DType::F16, {in[0], in[1], in[2], cp});
      p_.tensors[out].layout = "NHWC16";
      p_.tensors[out].aliasOf = *half;
      nhwc16Of_[o.getResult()] = out;
      zeroPadded_.insert(out);
      return;
    }
    if (in.size() == 4 && perm == llvm::ArrayRef<int64_t>{0, 2, 3, 1} && nhwc16Of_.count(o.getInput())) {
      // NCHW -> NHWC of a value held as NHWC16: drop the padding channels, back to f32.
      const int64_t c = in[1], cp = pad16(c);
      uint32_t out = result(op);
      layoutKernel(op, "drop channel padding", 1, in[0] * in[2] * in[3], cp, c, false, false, false,
                   {nhwc16Of_[o.getInput()], identity(cp, c), out});
      return;
    }
    // A float32 batched 2-D transpose (the innermost axis moves): on the vector unit, a masked
    // vcgmax per result row (PP-OCRv4 rec's [120, 40] transposes: 294k and 1.06M cycles element by
    // element on the scalar unit, whose loads miss its cache, -> 3.3k). DMA would move it an
    // element per piece (Silero VAD's [27, 64] regrouping: 43k cycles), so it goes first but for
    // the smallest, where the vector kernel's setup is not worth it.
    const std::optional<std::array<int64_t, 3>> brc = isF32(o.getInput()) ? batchedTranspose(in, perm) : std::nullopt;
    auto onVector = [&] {
      std::vector<uint32_t> args;
      if (!brc || !require(op, {o.getInput()}, args)) return false;
      VectorTransposeKernel k{opName(op), joined(onnxNodeNames(op.getLoc())), (*brc)[0], (*brc)[1], (*brc)[2]};
      Expected<GeneratedKernel> gen = generateVectorTranspose(config_, k);
      if (!gen) return false;
      args.push_back(result(op));
      addSpillingKernelTask(op, "Transpose", *gen, std::move(args));
      return true;
    };
    if (elements(o.getResult()) >= kVectorTransposeFrom && onVector()) return;
    // Any other permutation: by DMA segments (runs of consecutive source elements) when that
    // takes few enough pieces, else on the host.
    {
      const int64_t size = elementBytes(o.getInput()), rank = int64_t(in.size());
      std::vector<int64_t> inStride(in.size(), 1), out(in.size());
      for (int64_t d = rank - 1; d > 0; --d) inStride[size_t(d - 1)] = inStride[size_t(d)] * in[size_t(d)];
      for (int64_t d = 0; d < rank; ++d) out[size_t(d)] = in[size_t(perm[size_t(d)])];
      std::vector<SegmentCopyKernel::Segment> segments;
      std::vector<int64_t> index(size_t(rank), 0);
      const int64_t total = elements(o.getResult());
      for (int64_t i = 0; i < total && int64_t(segments.size()) <= kMaxSegmentPieces; ++i) {
        int64_t src = 0;
        for (int64_t d = 0; d < rank; ++d) src += index[size_t(d)] * inStride[size_t(perm[size_t(d)])];
        appendElement(segments, src * size, i * size, size);
        for (int64_t d = rank - 1; d >= 0; --d) { // odometer over the result's axes
          if (++index[size_t(d)] < out[size_t(d)]) break;
          index[size_t(d)] = 0;
        }
      }
      if (int64_t(segments.size()) <= kMaxSegmentPieces &&
          segmentTask(op, "Transpose", o.getInput(), std::move(segments), 0, /*orHost=*/true))
        return;
    }
    std::vector<uint32_t> args;
    if (!require(op, {o.getInput()}, args)) return;
    // Else element by element on the scalar unit, a few cycles an element (up to
    // 2^20 elements: a larger one would hold the core for milliseconds; the host takes those).
    if (elements(o.getResult()) <= (int64_t(1) << 20)) {
      ScalarPermuteKernel k{opName(op), joined(onnxNodeNames(op.getLoc())), in,
                            std::vector<int64_t>(perm.begin(), perm.end()), int(elementBytes(o.getInput()))};
      if (Expected<GeneratedKernel> gen = generateScalarPermute(k)) {
        args.push_back(result(op));
        addKernelTask(op, "Transpose", *gen, std::move(args));
        return;
      }
    }
    addHostTask(op, "Transpose", args, {result(op)}, "permutation with more than 2048 separate runs and more than 2^20 "
                                                     "elements, 1- or 2-byte elements or a rank above 6: no NPU kernel yet");
    p_.tasks.back().host.ints["perm"] = std::vector<int64_t>(perm.begin(), perm.end());
  }

  // A permutation that is [batch, rows, cols] -> [batch, cols, rows] once the input axes that
  // stay together are merged and unit axes dropped: those sizes, else nullopt.
  static std::optional<std::array<int64_t, 3>> batchedTranspose(const std::vector<int64_t> &in, llvm::ArrayRef<int64_t> perm) {
    // Result-order groups of input axes that stay adjacent, unit axes left out.
    std::vector<std::pair<int64_t, int64_t>> groups; // (first input axis, size)
    int64_t last = -2;
    for (int64_t a : perm) {
      if (in[size_t(a)] == 1) continue;
      if (a == last + 1 && !groups.empty()) groups.back().second *= in[size_t(a)];
      else groups.push_back({a, in[size_t(a)]});
      last = a;
    }
    auto inputOrder = [&](size_t i, size_t j) { return groups[i].first < groups[j].first; };
    if (groups.size() == 2 && inputOrder(1, 0)) return std::array<int64_t, 3>{1, groups[1].second, groups[0].second};
    if (groups.size() == 3 && inputOrder(0, 2) && inputOrder(2, 1))
      return std::array<int64_t, 3>{groups[0].second, groups[2].second, groups[1].second};
    return std::nullopt;
  }

  static bool allZero(mlir::Value v) {
    std::optional<std::vector<float>> values = g::readF32Constant(v);
    if (!values) return false;
    for (float x : *values)
      if (x != 0.0f) return false;
    return true;
  }

  void concat(mlir::Operation &op, g::ConcatOp o) {
    const std::vector<int64_t> out = shapeOf(o.getResult());
    const int64_t axis = int64_t(o.getAxis()); // the importer made it non-negative
    if (out.size() == 4 && axis == 1 && isF32(o.getResult()) &&
        (concatNhwc16(op, o, out) || concatCompacted(op, o, out)))
      return;
    std::vector<uint32_t> args;
    for (mlir::Value v : o.getInputs())
      if (!require(op, {v}, args)) return;
    // Any axis by DMA segments: each result row over the axis is the inputs' rows in turn.
    std::string why = "concatenation of more than 12 inputs: no NPU kernel yet";
    if (args.size() <= 12) {
      SegmentCopyKernel k;
      k.name = opName(op);
      k.node = joined(onnxNodeNames(op.getLoc()));
      k.numSources = int(args.size());
      const int64_t size = elementBytes(o.getResult());
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= out[size_t(d)];
      std::vector<int64_t> rowBytes; // per input: its slab (axis and inner dims) in bytes
      for (mlir::Value v : o.getInputs()) rowBytes.push_back(outer ? elements(v) / outer * size : 0);
      int64_t at = 0;
      for (int64_t r = 0; r < outer; ++r)
        for (size_t i = 0; i < rowBytes.size(); ++i) {
          if (rowBytes[i]) k.segments.push_back({r * rowBytes[i], at, rowBytes[i], int(i)});
          at += rowBytes[i];
        }
      k.totalBytes = at;
      Expected<GeneratedKernel> gen = generateSegmentCopy(config_, k);
      if (gen && at > 0) {
        args.push_back(result(op));
        addSpillingKernelTask(op, "Concat", *gen, std::move(args));
        return;
      }
      why = gen ? "an empty concatenation" : gen.error().message;
    }
    addHostTask(op, "Concat", args, {result(op)}, why);
    p_.tasks.back().host.ints["axis"] = {axis};
  }

  // Channel concatenation in NHWC16 when every input starts on a 16-channel boundary, or is an
  // all-zero constant following an input whose padding channels are zero (BlazeFace's channel
  // padding). False when that does not hold (nothing emitted).
  bool concatNhwc16(mlir::Operation &op, g::ConcatOp o, const std::vector<int64_t> &out) {
    // Channel padding that stays inside x's own 16-channel padding, which is already zero:
    // nothing to do, the result is x's NHWC16 tensor.
    if (o.getInputs().size() == 2 && onlyNhwc16(o.getInputs()[0]) && allZero(o.getInputs()[1]) &&
        zeroPadded_.count(nhwc16Of_[o.getInputs()[0]]) && pad16(out[1]) == pad16(shapeOf(o.getInputs()[0])[1])) {
      uint32_t view = scratch(opName(op), DType::F16, {out[0], out[2], out[3], pad16(out[1])});
      p_.tensors[view].layout = "NHWC16";
      p_.tensors[view].aliasOf = nhwc16Of_[o.getInputs()[0]];
      nhwc16Of_[o.getResult()] = view;
      zeroPadded_.insert(view);
      return true;
    }
    ChannelConcatKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.pixels = out[0] * out[2] * out[3];
    k.outBlocks = pad16(out[1]) / 16;
    std::vector<mlir::Value> sources;
    int64_t offset = 0;
    bool lastZeroPadded = true; // the channels after the previous input up to its 16-boundary are 0
    for (mlir::Value v : o.getInputs()) {
      const int64_t c = shapeOf(v)[1];
      if (allZero(v)) {
        const int64_t firstBlock = pad16(offset) / 16, endBlock = pad16(offset + c) / 16;
        if (offset % 16 && !lastZeroPadded) return false;
        if (endBlock > firstBlock) k.pieces.push_back({-1, 0, endBlock - firstBlock, firstBlock});
        lastZeroPadded = true;
      } else {
        if (offset % 16 || !onlyNhwc16(v)) return false;
        sources.push_back(v);
        const int64_t blocks = pad16(c) / 16;
        k.pieces.push_back({int(sources.size() - 1), blocks, blocks, offset / 16});
        lastZeroPadded = zeroPadded_.count(nhwc16Of_[v]) > 0;
      }
      offset += c;
    }
    std::vector<uint32_t> args;
    for (mlir::Value v : sources) args.push_back(nhwc16Of_[v]);
    k.numInputs = int(args.size());
    Expected<GeneratedKernel> gen = generateChannelConcat(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return true;
    }
    uint32_t result = scratch(opName(op), DType::F16, {out[0], out[2], out[3], pad16(out[1])});
    p_.tensors[result].layout = "NHWC16";
    args.push_back(result);
    addKernelTask(op, "Concat", *gen, std::move(args));
    nhwc16Of_[o.getResult()] = result;
    if (lastZeroPadded) zeroPadded_.insert(result);
    return true;
  }

  // Channel concatenation when inputs do not start on 16-channel boundaries (PP-OCR's 4 x 24):
  // DMA places each input at its own block boundary ("gapped"), then the cube compacts the
  // channels with a 0/1 selection matrix, exact in fp32 accumulation.
  // An input made by a nearest upsampling that nothing else reads writes its slot itself
  // (ResizeNearestKernel::outCp/outOffset): the DMA copies only the other inputs.
  bool concatCompacted(mlir::Operation &op, g::ConcatOp o, const std::vector<int64_t> &out) {
    std::vector<std::pair<mlir::Value, uint32_t>> inputs; // with their NHWC16 tensors
    for (mlir::Value v : o.getInputs()) {
      std::optional<uint32_t> x = shapeOf(v).size() == 4 && isF32(v) ? nhwc16(v) : std::nullopt;
      if (!x) return false;
      inputs.push_back({v, *x});
    }
    int64_t g = 0;
    for (auto [v, x] : inputs) g += pad16(shapeOf(v)[1]);
    uint32_t gapped = scratch(opName(op) + "/gapped", DType::F16, {out[0], out[2], out[3], g});
    std::vector<uint32_t> args;
    ChannelConcatKernel k;
    k.name = opName(op) + " (gapped)";
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.pixels = out[0] * out[2] * out[3];
    k.outBlocks = g / 16;
    std::vector<std::pair<int64_t, int64_t>> placed; // (gapped channel offset, channels)
    bool zeros = true; // the gapped tensor's padding channels are zero
    int64_t at = 0;
    for (auto [v, x] : inputs) {
      const int64_t c = shapeOf(v)[1], blocks = pad16(c) / 16;
      zeros &= zeroPadded_.count(x) > 0;
      placed.push_back({at, c});
      if (!writesIntoSlot(resizeOfTask_, generateResizeNearest, v, x, gapped, g, at) &&
          !writesIntoSlot(channelOpOfTask_, generateChannelOp, v, x, gapped, g, at)) {
        k.pieces.push_back({int(args.size()), blocks, blocks, at / 16});
        args.push_back(x);
      }
      at += blocks * 16;
    }
    if (!args.empty()) {
      k.numInputs = int(args.size());
      Expected<GeneratedKernel> gen = generateChannelConcat(config_, k);
      if (!gen) {
        problems_.push_back(gen.error().message);
        return true;
      }
      args.push_back(gapped);
      addKernelTask(op, "Concat", *gen, std::move(args));
    }
    slottedOf_[o.getResult()] = {gapped, std::move(placed), zeros};
    return true;
  }

  // x + up(y) where up(y) is a nearest upsampling's NHWC16 result that only this Add reads (a
  // feature pyramid's top-down path): the upsampling's task becomes one kernel that adds x to y
  // upsampled on the way into UB (UpsampleAddKernel), so the upsampled map never goes through
  // GM (PP-OCRv4 det: three Resize + Add pairs). The task keeps its place in the task list, so
  // x must be made by an op before the upsampling.
  bool upsampleAdd(mlir::Operation &op, mlir::Value lhs, mlir::Value rhs) {
    for (auto [x, up] : {std::pair{lhs, rhs}, std::pair{rhs, lhs}}) {
      auto resize = up.getDefiningOp<g::ResizeOp>();
      auto deferred = deferredScales_.find(x); // x = a per-channel product scaled in the kernel
      const bool scaled = deferred != deferredScales_.end();
      if (!resize || !up.hasOneUse() || !onlyNhwc16(up) || x.getType() != up.getType() ||
          !(scaled || (onlyNhwc16(x) && x.getDefiningOp() && x.getDefiningOp()->isBeforeInBlock(resize))))
        continue;
      const uint32_t xTensor = scaled ? deferred->second.x : nhwc16Of_[x];
      if (auto it = resizeTaskWriting(nhwc16Of_[up]); it != resizeOfTask_.end() && !it->second.outCp) {
        pkg::Task &task = p_.tasks[it->first];
        const ResizeNearestKernel &r = it->second;
        std::vector<std::string> nodes = onnxNodeNames(resize.getLoc());
        if (scaled)
          for (const std::string &node : onnxNodeNames(deferred->second.op->getLoc())) nodes.push_back(node);
        for (const std::string &node : onnxNodeNames(op.getLoc())) nodes.push_back(node);
        const std::string opType = scaled ? "Mul+Resize+Add" : "Resize+Add";
        UpsampleAddKernel k{opName(op), joined(nodes), r.n, r.h, r.w, r.cp, r.fy, r.fx, scaled,
                            scaled && deferred->second.perImage};
        Expected<GeneratedKernel> gen = generateUpsampleAdd(config_, k);
        if (!gen) return false; // (the plain Add then)
        std::optional<uint32_t> kernelAt = kernelIndex(opName(op), opType, *gen);
        if (!kernelAt) return false;
        const uint32_t yTensor = task.launch.tensors.front();
        uint32_t out = scratch(opName(op), DType::F16, p_.tensors[xTensor].shape);
        p_.tensors[out].layout = "NHWC16";
        task.name = opName(op);
        task.opType = opType;
        task.onnxNodes = nodes;
        task.launch.kernel = *kernelAt;
        task.launch.blockDim = uint32_t(gen->blockDim);
        task.launch.tensors = {xTensor, yTensor, out};
        if (scaled) {
          task.launch.tensors.insert(task.launch.tensors.begin() + 1, deferred->second.vector);
          deferredScales_.erase(deferred);
        }
        resizeOfTask_.erase(it);
        nhwc16Of_[op.getResult(0)] = out;
        if (zeroPadded_.count(xTensor) && zeroPadded_.count(yTensor)) zeroPadded_.insert(out);
        inPlaceCandidates_.push_back({xTensor, out});
        return true;
      }
    }
    return false;
  }

  // The nearest upsampling task that writes NHWC16 tensor x (resizeOfTask_.end() if none).
  std::map<size_t, ResizeNearestKernel>::iterator resizeTaskWriting(uint32_t x) {
    auto it = resizeOfTask_.begin();
    while (it != resizeOfTask_.end() && (p_.tasks[it->first].isHost || p_.tasks[it->first].launch.tensors.back() != x)) ++it;
    return it;
  }

  // Whether v (NHWC16 tensor x) came from a task of `kernels` (nearest upsamplings, per-channel
  // operations) that now writes channels [slot, slot + its channels) of `into` (outCp channels
  // per pixel) instead of x: its kernel made again by `generate` with the wider output. For a
  // per-channel operation, PP-OCRv4's finest FPN level times its squeeze-excitation scale, this
  // leaves its FPN concatenation no input to copy.
  template <typename Kernel>
  bool writesIntoSlot(std::map<size_t, Kernel> &kernels,
                      Expected<GeneratedKernel> (*generate)(const ChipConfig &, const Kernel &), mlir::Value v,
                      uint32_t x, uint32_t into, int64_t outCp, int64_t slot) {
    if (!v.hasOneUse()) return false;
    auto it = kernels.begin();
    while (it != kernels.end() && (p_.tasks[it->first].isHost || p_.tasks[it->first].launch.tensors.back() != x)) ++it;
    if (it == kernels.end()) return false;
    pkg::Task &task = p_.tasks[it->first];
    Kernel k = it->second;
    k.outCp = outCp;
    k.outOffset = slot;
    Expected<GeneratedKernel> gen = generate(config_, k);
    if (!gen) return false;
    std::optional<uint32_t> kernelAt = kernelIndex(task.name + " (slot)", task.opType, *gen);
    if (!kernelAt) return false;
    task.launch.kernel = *kernelAt;
    task.launch.blockDim = uint32_t(gen->blockDim);
    task.launch.tensors.back() = into;
    it->second = k;
    return true;
  }

  // The compacted NHWC16 form of a gapped concatenation (concatCompacted), made when a consumer
  // needs it: the cube multiplies by a 0/1 selection matrix S[gapped channel][output channel].
  std::optional<uint32_t> compacted(mlir::Value value, const Slotted &slotted) {
    const std::vector<int64_t> out = shapeOf(value);
    mlir::Operation &op = ownerOf(value);
    const int64_t g = p_.tensors[slotted.gapped].shape[3], cp = pad16(out[1]);
    std::vector<uint8_t> select(size_t(g * cp) * 2, 0);
    const uint16_t one = isa::floatToHalf(1.0f);
    int64_t offset = 0;
    for (auto [from, c] : slotted.placed) {
      for (int64_t i = 0; i < c; ++i) std::memcpy(&select[size_t((from + i) * cp + offset + i) * 2], &one, 2);
      offset += c;
    }
    uint32_t selection = constant(opName(op) + "/select", DType::F16, {g, cp}, std::move(select));
    uint32_t result = scratch(opName(op), DType::F16, {out[0], out[2], out[3], cp});
    p_.tensors[result].layout = "NHWC16";
    if (!layoutKernel(op, "compact channels", 1, out[0] * out[2] * out[3], g, cp, false, false, true,
                      {slotted.gapped, selection, result}))
      return std::nullopt;
    nhwc16Of_[value] = result;
    zeroPadded_.insert(result);
    return result;
  }

  void pool(mlir::Operation &op, mlir::Value input, llvm::ArrayRef<int64_t> kernel, llvm::ArrayRef<int64_t> strides,
            llvm::ArrayRef<int64_t> pads, bool max) {
    const std::vector<int64_t> in = shapeOf(input), out = shapeOf(op.getResult(0));
    if (in.size() != 4 || !isF32(input)) return unsupported(op, "only 2-D float32 pooling has a kernel");
    std::optional<uint32_t> x = nhwc16(input);
    if (!x) return unsupported(op, "input cannot be converted to NHWC16");
    PoolKernel k = featureMapKernel<PoolKernel>(op, in);
    k.kh = kernel[0];
    k.kw = kernel[1];
    k.sh = strides[0];
    k.sw = strides[1];
    k.pt = pads[0];
    k.pl = pads[1];
    k.pb = pads[2];
    k.pr = pads[3];
    k.ho = out[2];
    k.wo = out[3];
    k.max = max;
    const size_t tasks = p_.tasks.size();
    nhwc16Task(op, max ? "MaxPool" : "AveragePool", generatePool(config_, k), {*x}, {k.n, k.ho, k.wo, k.cp},
               zeroPadded_.count(*x) > 0);
    // A 2x2 stride-2 max pooling without pads: the convolution before it may write it too.
    if (p_.tasks.size() > tasks && max && k.kh == 2 && k.kw == 2 && k.sh == 2 && k.sw == 2 && !k.pt && !k.pl &&
        !k.pb && !k.pr && k.ho * 2 == in[2] && k.wo * 2 == in[3])
      maxPool2x2Tasks_.insert(tasks);
  }

  // A [cp] f16 constant from per-channel f32 values (zero padded).
  uint32_t channelVector(mlir::Operation &op, const std::string &what, const std::vector<float> &values, int64_t cp) {
    std::vector<uint8_t> bytes(size_t(cp) * 2, 0);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t h = isa::floatToHalf(values[i]);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
    return constant(opName(op) + "/" + what, DType::F16, {cp}, std::move(bytes));
  }

  // Emits a per-channel kernel; the result is NHWC16 like x.
  void channelOp(mlir::Operation &op, const std::string &opType, uint32_t x, std::vector<ChannelOpKernel::Step> steps,
                 std::vector<uint32_t> vectors, bool keepsZeros) {
    const pkg::Tensor &in = p_.tensors[x];
    ChannelOpKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.n = in.shape[0];
    k.pixels = in.shape[1] * in.shape[2];
    k.cp = in.shape[3];
    k.steps = std::move(steps);
    Expected<GeneratedKernel> gen = generateChannelOp(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    uint32_t out = scratch(opName(op), DType::F16, in.shape);
    p_.tensors[out].layout = "NHWC16";
    std::vector<uint32_t> args{x};
    args.insert(args.end(), vectors.begin(), vectors.end());
    args.push_back(out);
    const bool zeros = keepsZeros && zeroPadded_.count(x);
    const size_t tasks = p_.tasks.size();
    addKernelTask(op, opType, *gen, std::move(args));
    if (p_.tasks.size() > tasks) {
      channelOpOfTask_[tasks] = k;
      inPlaceCandidates_.push_back({x, out});
    }
    nhwc16Of_[op.getResult(0)] = out;
    if (zeros) zeroPadded_.insert(out);
  }

  // x [N,C,H,W] op v with v per channel ([N|1, C, 1, 1] or [C, 1, 1]): the NHWC16 per-channel kernel.
  bool channelBroadcast(mlir::Operation &op, const std::string &opType, const std::string &instr, mlir::Value lhs,
                        mlir::Value rhs) {
    auto perChannel = [](const std::vector<int64_t> &v, const std::vector<int64_t> &x) {
      if (v.size() == 4) return (v[0] == x[0] || v[0] == 1) && v[1] == x[1] && v[2] == 1 && v[3] == 1;
      return v.size() == 3 && v[0] == x[1] && v[1] == 1 && v[2] == 1;
    };
    const std::vector<int64_t> ls = shapeOf(lhs), rs = shapeOf(rhs), out = shapeOf(op.getResult(0));
    const bool vectorRight = ls == out && ls.size() == 4 && perChannel(rs, ls);
    const bool vectorLeft = !vectorRight && rs == out && rs.size() == 4 && perChannel(ls, rs);
    if (!vectorRight && !vectorLeft) return false;
    mlir::Value x = vectorRight ? lhs : rhs, v = vectorRight ? rhs : lhs;
    const std::vector<int64_t> xs = shapeOf(x), vs = shapeOf(v);
    // Division must not meet the zero padding channels (0/0 would poison later convolutions):
    // only x / constant, whose padding divides by one.
    const bool divide = opType == "Div";
    if (divide && (vectorLeft || !g::readF32Constant(v))) return false;
    std::optional<uint32_t> xt = nhwc16(x);
    if (!xt) return false;
    ChannelOpKernel::Step step{instr, false, vectorLeft};
    uint32_t vt;
    if (std::optional<std::vector<float>> values = g::readF32Constant(v)) {
      if (vs.size() == 4 && vs[0] != 1) return false; // per-image constants: rare, not handled
      std::vector<float> padded(*values);
      if (divide) padded.resize(size_t(pad16(xs[1])), 1.0f);
      vt = channelVector(op, "vector", padded, pad16(xs[1]));
    } else {
      std::optional<uint32_t> vn = vs.size() == 4 ? nhwc16(v) : std::nullopt;
      if (!vn) return false;
      vt = *vn;
      step.perImage = vs[0] > 1;
    }
    if (opType == "Mul" && scalesAnUpsampledSum(op, x, v)) { // upsampleAdd will scale x itself
      deferredScales_[op.getResult(0)] = {&op, *xt, vt, step.perImage};
      return true;
    }
    channelOp(op, opType, *xt, {step}, {vt}, opType == "Mul");
    return true;
  }

  // A per-channel x * v whose only reader is an Add with a nearest upsampling that only that Add
  // reads (PP-OCRv4's FPN: a lateral map times its squeeze-excitation scale, plus the coarser
  // level upsampled): the product need not exist, the upsample-add kernel (upsampleAdd) can scale
  // x on its way through UB, when x and v are made before the upsampling (whose task slot that
  // kernel takes).
  bool scalesAnUpsampledSum(mlir::Operation &op, mlir::Value x, mlir::Value v) {
    mlir::Value product = op.getResult(0);
    auto add = product.hasOneUse() ? llvm::dyn_cast<g::AddOp>(*product.getUsers().begin()) : g::AddOp();
    if (!add) return false;
    mlir::Value other = add.getLhs() == product ? add.getRhs() : add.getLhs();
    auto resize = other.getDefiningOp<g::ResizeOp>();
    if (!resize || !other.hasOneUse() || other.getType() != product.getType()) return false;
    for (mlir::Value in : {x, v})
      if (!in.getDefiningOp() || !in.getDefiningOp()->isBeforeInBlock(resize)) return false;
    return true;
  }

  // A deferred per-channel Mul (scalesAnUpsampledSum) that is read after all (its Add did not
  // become an upsample-add): its kernel now.
  void materializeScale(mlir::Value v) {
    auto it = deferredScales_.find(v);
    if (it == deferredScales_.end()) return;
    const DeferredScale d = it->second;
    deferredScales_.erase(it);
    channelOp(*d.op, "Mul", d.x, {{"vmul.f16", d.perImage, false}}, {d.vector}, true);
  }

  // Reductions and softmax over axes: the input as [outer, r, inner] (the reduced axes must be
  // adjacent once size-1 axes are ignored), one vector kernel (ReduceKernels.cpp).
  void reduce(mlir::Operation &op, mlir::Value input, llvm::ArrayRef<int64_t> axes, ReduceKernel::Kind kind,
              const std::string &opType, bool selectLast = false) {
    if (!isF32(input)) return unsupported(op, "only float32 reductions have a kernel");
    if (shapeOf(input).empty()) return unsupported(op, "reduction of a scalar has no kernel yet");
    const std::vector<int64_t> shape = shapeOf(input);
    ReduceKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.kind = kind;
    k.selectLast = selectLast;
    k.outer = k.r = k.inner = 1;
    int stage = 0; // 0 before the reduced axes, 1 inside them, 2 after
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      const bool reduced = llvm::is_contained(axes, int64_t(d));
      if (reduced && stage == 2)
        return unsupported(op, "reduction over axes that are not adjacent has no kernel yet");
      if (reduced) stage = 1;
      else if (stage == 1) stage = 2;
      (stage == 0 ? k.outer : stage == 1 ? k.r : k.inner) *= shape[d];
    }
    std::vector<uint32_t> args;
    if (!require(op, {input}, args)) return;
    Expected<GeneratedKernel> gen = generateReduce(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    const bool arg = kind == ReduceKernel::Kind::ArgMax || kind == ReduceKernel::Kind::ArgMin;
    if (arg || kind == ReduceKernel::Kind::Hardmax) args.push_back(indexRow(op, k.r));
    args.push_back(result(op));
    if (arg) args.push_back(scratch(opName(op) + "/int32_indices", DType::I32, {k.outer * k.inner}));
    addSpillingKernelTask(op, opType, *gen, std::move(args));
  }

  // The constant index row 0, 1, ... of `n` values in whole 64-lane repeats, which the arg
  // reductions and TopK compare lanes against.
  uint32_t indexRow(mlir::Operation &op, int64_t n) {
    std::vector<float> iota(size_t((n + 63) / 64 * 64));
    for (size_t i = 0; i < iota.size(); ++i) iota[i] = float(i);
    return f32Constant(opName(op) + "/index_row", iota);
  }

  // TopK along the last axis (trailing dimensions of 1 included; the importer moves another axis
  // last) on the vector unit; over rows too long for UB, or along another axis in IR written by
  // hand, the runtime's host kernel.
  void topK(mlir::Operation &op, g::TopKOp o) {
    std::vector<uint32_t> args;
    if (!require(op, {o.getInput()}, args)) return;
    if (!isF32(o.getInput())) return unsupported(op, "only float32 inputs have a TopK kernel");
    const std::vector<int64_t> shape = shapeOf(o.getInput());
    const int64_t axis = o.getAxis(), n = shape[size_t(axis)];
    TopKKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.r = n;
    k.k = o.getK();
    k.largest = o.getLargest();
    for (int64_t d = 0; d < axis; ++d) k.outer *= shape[size_t(d)];
    std::string why = g::TopKOp::getPlacementReason().str();
    if (g::topKAlongLastAxis(o) && k.k > 0 && k.outer > 0) {
      Expected<GeneratedKernel> gen = generateTopK(config_, k);
      if (gen) {
        args.push_back(indexRow(op, n));
        args.push_back(newTensor(o.getValues(), opName(op), TensorKind::Activation));
        args.push_back(newTensor(o.getIndices(), opName(op) + "/indices", TensorKind::Activation));
        args.push_back(scratch(opName(op) + "/int32_indices", DType::I32, {k.outer * k.k}));
        return addSpillingKernelTask(op, "TopK", *gen, std::move(args));
      }
      const std::string problem = gen.error().message; // "name: UB overflow: ..."
      why = problem.substr(problem.find(": ") + 2) + "; sorts on the host (AI CPU)";
    }
    const uint32_t values = newTensor(o.getValues(), opName(op), TensorKind::Activation);
    const uint32_t indices = newTensor(o.getIndices(), opName(op) + "/indices", TensorKind::Activation);
    addHostTask(op, "TopK", args, {values, indices}, why);
    auto &ints = p_.tasks.back().host.ints;
    ints["axis"] = {axis};
    ints["k"] = {int64_t(o.getK())};
    ints["largest"] = {o.getLargest() ? 1 : 0};
  }

  // ---- data movement by segments (SegmentKernel.cpp) ----
  static int64_t elementBytes(mlir::Value v) {
    return int64_t(pkg::dtypeSize(dtypeOf(llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType()).value_or(DType::F32)));
  }

  // Appends one element (source byte offset, or -1 for the fill) at the end of `segments`,
  // extending the last segment when it continues it (the next source element, or more fill), so
  // segment counts stay those of runs, not of elements.
  static void appendElement(std::vector<SegmentCopyKernel::Segment> &segments, int64_t src, int64_t dst,
                            int64_t size) {
    if (!segments.empty()) {
      SegmentCopyKernel::Segment &last = segments.back();
      if ((src < 0 && last.src < 0) || (src >= 0 && last.src >= 0 && last.src + last.bytes == src)) {
        last.bytes += size;
        return;
      }
    }
    segments.push_back({src, dst, size});
  }

  // One segment-copy task from `input` to op's result. When the kernel cannot take that many
  // pieces: a problem recorded, or with `orHost`, false and nothing done (the caller falls back).
  bool segmentTask(mlir::Operation &op, const std::string &opType, mlir::Value input,
                   std::vector<SegmentCopyKernel::Segment> segments, uint32_t fillWord, bool orHost = false) {
    std::vector<uint32_t> args;
    if (!require(op, {input}, args)) return true;
    SegmentCopyKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.segments = std::move(segments);
    k.totalBytes = elements(op.getResult(0)) * elementBytes(op.getResult(0));
    k.fillWord = fillWord;
    Expected<GeneratedKernel> gen = generateSegmentCopy(config_, k);
    if (!gen && orHost) return false;
    args.push_back(result(op));
    if (k.totalBytes == 0) return true; // an empty result: nothing to move
    if (!gen) {
      unsupported(op, gen.error().message);
      return true;
    }
    addSpillingKernelTask(op, opType, *gen, std::move(args));
    return true;
  }

  // Result element (o_0, ..., o_n) = input element (map(0, o_0), ..., map(n, o_n)), or the fill when
  // any map gives -1 (Slice, Pad): rows of the result become segments, runs of consecutive source
  // elements merging into one.
  template <typename Map>
  void moveMapped(mlir::Operation &op, const std::string &opType, mlir::Value input, uint32_t fillWord, Map map) {
    const std::vector<int64_t> in = shapeOf(input), out = shapeOf(op.getResult(0));
    const int64_t size = elementBytes(input), rank = int64_t(out.size());
    std::vector<int64_t> inStride(in.size(), 1);
    for (int64_t d = rank - 1; d > 0; --d) inStride[size_t(d - 1)] = inStride[size_t(d)] * in[size_t(d)];
    std::vector<SegmentCopyKernel::Segment> segments;
    const int64_t total = elements(op.getResult(0)), cols = rank ? out.back() : 1;
    std::vector<int64_t> index(size_t(std::max<int64_t>(rank, 1)), 0);
    for (int64_t row = 0; row * cols < total; ++row) {
      int64_t base = 0;
      for (int64_t d = 0; d + 1 < rank && base >= 0; ++d) {
        const int64_t s = map(size_t(d), index[size_t(d)]);
        base = s < 0 ? -1 : base + s * inStride[size_t(d)];
      }
      for (int64_t j = 0; j < cols; ++j) {
        const int64_t s = rank ? map(size_t(rank - 1), j) : 0;
        appendElement(segments, base < 0 || s < 0 ? -1 : (base + s) * size, (row * cols + j) * size, size);
      }
      if (int64_t(segments.size()) > kMaxSegmentPieces)
        return unsupported(op, "data movement with more than " + std::to_string(kMaxSegmentPieces) +
                                   " separate runs has no kernel yet");
      for (int64_t d = rank - 2; d >= 0; --d) { // odometer over the outer axes
        if (++index[size_t(d)] < out[size_t(d)]) break;
        index[size_t(d)] = 0;
      }
    }
    segmentTask(op, opType, input, std::move(segments), fillWord);
  }

  // Gather / GatherElements with run-time indices (LossKernels.cpp).
  void gather(mlir::Operation &op, g::GatherOp o) {
    const std::vector<int64_t> data = shapeOf(o.getData()), indices = shapeOf(o.getIndices());
    GatherKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.elements = o.getElements();
    k.axis = o.getAxis();
    k.axisDim = data[size_t(k.axis)];
    k.elementBytes = int(elementBytes(o.getData()));
    k.indexBytes = int(elementBytes(o.getIndices()));
    k.count = elements(o.getIndices());
    for (size_t d = 0; d < data.size(); ++d)
      if (int64_t(d) < k.axis) k.outer *= data[d];
      else if (int64_t(d) > k.axis) k.inner *= data[d];
    k.shape = indices;
    k.dataShape = data;
    std::vector<uint32_t> args;
    if (!require(op, {o.getData(), o.getIndices()}, args)) return;
    args.push_back(result(op));
    if (elements(o.getResult()) == 0) return;
    Expected<GeneratedKernel> gen = generateGather(config_, k);
    if (!gen) return unsupported(op, gen.error().message);
    addSpillingKernelTask(op, o.getElements() ? "GatherElements" : "Gather", *gen, std::move(args));
  }

  // ScatterElements / ScatterND, and GatherND (`updates` null) on the same kernel's tuple loop,
  // with run-time indices (LossKernels.cpp).
  void scatter(mlir::Operation &op, ScatterKernel k, mlir::Value data, mlir::Value indices, mlir::Value updates) {
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.dataShape = shapeOf(data);
    k.indicesShape = shapeOf(indices);
    k.elementBytes = int(elementBytes(data));
    k.floats = isF32(data);
    k.indexBytes = int(elementBytes(indices));
    std::vector<uint32_t> args;
    if (!(updates ? require(op, {data, indices, updates}, args) : require(op, {data, indices}, args))) return;
    args.push_back(result(op));
    if (elements(op.getResult(0)) == 0) return;
    Expected<GeneratedKernel> gen = generateScatter(config_, k);
    if (!gen) return unsupported(op, gen.error().message);
    // The scatter's copy stores whole blocks past the data's end; GatherND's scalar stores do not.
    if (k.gatherNd) addKernelTask(op, "GatherND", *gen, std::move(args));
    else addSpillingKernelTask(op, k.nd ? "ScatterND" : "ScatterElements", *gen, std::move(args));
  }

  // Trilu: per matrix row i, keep columns j <= i + k (lower) or j >= i + k (upper), zero the rest.
  void trilu(mlir::Operation &op, g::TriluOp o) {
    const std::vector<int64_t> shape = shapeOf(o.getInput());
    if (shape.size() < 2) return unsupported(op, "Trilu needs a matrix");
    const int64_t size = elementBytes(o.getInput()), rows = shape[shape.size() - 2], cols = shape.back();
    const int64_t k = o.getK(), matrices = elements(o.getInput()) / std::max<int64_t>(rows * cols, 1);
    std::vector<SegmentCopyKernel::Segment> segments;
    for (int64_t m = 0; m < matrices; ++m)
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t at = (m * rows + i) * cols * size;
        // Columns [0, split) and [split, cols): the first kept for lower, the second for upper.
        const int64_t split = std::clamp<int64_t>(o.getUpper() ? i + k : i + k + 1, 0, cols);
        const bool firstKept = !o.getUpper();
        segments.push_back({firstKept ? at : -1, at, split * size});
        segments.push_back({firstKept ? -1 : at + split * size, at + split * size, (cols - split) * size});
      }
    segmentTask(op, "Trilu", o.getInput(), std::move(segments), 0);
  }

  // NegativeLogLikelihoodLoss: the scalar unit gathers x = input[n, t, d] and w = weight[t]
  // (LossKernels.cpp), the vector unit forms -x * w, then sums it (sum), or divides that sum by
  // the sum of w (mean).
  void nllLoss(mlir::Operation &op, g::NllLossOp o) {
    if (!isF32(o.getInput()) || (o.getWeight() && !isF32(o.getWeight())))
      return unsupported(op, "only float32 losses have a kernel");
    if (!llvm::cast<mlir::RankedTensorType>(o.getTarget().getType()).getElementType().isInteger(64))
      return unsupported(op, "only int64 targets have a kernel");
    const std::vector<int64_t> in = shapeOf(o.getInput());
    NllGatherKernel g;
    g.name = opName(op);
    g.node = joined(onnxNodeNames(op.getLoc()));
    g.n = in[0];
    g.c = in[1];
    for (size_t d = 2; d < in.size(); ++d) g.d *= in[d];
    g.hasWeight = bool(o.getWeight());
    g.hasIgnore = o.getIgnoreIndex().has_value();
    if (g.hasIgnore) g.ignoreIndex = *o.getIgnoreIndex();
    const int64_t m = g.n * g.d;
    std::vector<uint32_t> args;
    if (!require(op, {o.getInput(), o.getTarget()}, args)) return;
    if (o.getWeight() && !require(op, {o.getWeight()}, args)) return;
    Expected<GeneratedKernel> gather = generateNllGather(config_, g);
    if (!gather) return unsupported(op, gather.error().message);
    const uint32_t x = scratch(opName(op) + "/picked", DType::F32, {m}), w = scratch(opName(op) + "/weights", DType::F32, {m});
    args.push_back(x);
    args.push_back(w);
    addKernelTask(op, "NllGather", *gather, std::move(args));
    const std::string reduction = o.getReduction().str();
    const uint32_t loss = reduction == "none" ? result(op) : scratch(opName(op) + "/losses", DType::F32, {m});
    ElementwiseKernel k;
    k.numInputs = 2;
    k.elements = m;
    k.scalars = {-1.0f};
    k.body = {"vmul.f32 {out}, {in0}, {in1}, repeat={rep}", "vmuls.f32 {out}, {out}, {s0}, repeat={rep}"};
    elementwise(op, "Mul", std::move(k), {x, w, loss});
    if (reduction == "none") return;
    auto sum = [&](uint32_t from, uint32_t to) {
      ReduceKernel r;
      r.name = opName(op) + " (sum)";
      r.node = joined(onnxNodeNames(op.getLoc()));
      r.kind = ReduceKernel::Kind::Sum;
      r.r = m;
      Expected<GeneratedKernel> gen = generateReduce(config_, r);
      if (!gen) return problems_.push_back(gen.error().message);
      addSpillingKernelTask(op, "ReduceSum", *gen, {from, to});
    };
    if (reduction == "sum") return sum(loss, result(op));
    const uint32_t total = scratch(opName(op) + "/loss_sum", DType::F32, {1});
    const uint32_t weightTotal = scratch(opName(op) + "/weight_sum", DType::F32, {1});
    sum(loss, total);
    sum(w, weightTotal);
    ElementwiseKernel div;
    div.numInputs = 2;
    div.elements = 1;
    div.body = {"vdiv.f32 {out}, {in0}, {in1}, repeat={rep}"};
    elementwise(op, "Div", std::move(div), {total, weightTotal, result(op)});
  }

  // LayerNormalization over the trailing axes: one lane-reduction kernel per row (ReduceKernels.cpp)
  // writing y and both statistics.
  void layerNorm(mlir::Operation &op, g::LayerNormOp o) {
    if (!isF32(o.getInput()) || !isF32(o.getScale())) return unsupported(op, "only float32 layer norm has a kernel");
    const std::vector<int64_t> shape = shapeOf(o.getInput());
    ReduceKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.kind = ReduceKernel::Kind::LayerNorm;
    k.outer = k.r = 1;
    for (size_t d = 0; d < shape.size(); ++d) (int64_t(d) < int64_t(o.getAxis()) ? k.outer : k.r) *= shape[d];
    k.epsilon = o.getEpsilon().convertToFloat();
    k.hasScale = true;
    k.hasBias = bool(o.getBias());
    k.meanOut = k.invStdOut = true;
    std::vector<uint32_t> args;
    if (!require(op, {o.getInput(), o.getScale()}, args)) return;
    if (o.getBias() && !require(op, {o.getBias()}, args)) return;
    Expected<GeneratedKernel> gen = generateReduce(config_, k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    args.push_back(result(op));
    args.push_back(newTensor(o.getMean(), opName(op) + "/mean", TensorKind::Activation));
    args.push_back(newTensor(o.getInvStdDev(), opName(op) + "/inv_std_dev", TensorKind::Activation));
    addSpillingKernelTask(op, "LayerNormalization", *gen, std::move(args));
  }

  void globalAvgPool(mlir::Operation &op, mlir::Value input) {
    const std::vector<int64_t> in = shapeOf(input);
    if (in.size() != 4 || !isF32(input)) return unsupported(op, "only 4-D float32 global pooling has a kernel");
    std::optional<uint32_t> x = nhwc16(input);
    if (!x) return unsupported(op, "input cannot be converted to NHWC16");
    GlobalAvgPoolKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.n = in[0];
    k.pixels = in[2] * in[3];
    k.cp = pad16(in[1]);
    const bool zeros = zeroPadded_.count(*x) > 0;
    if (k.pixels >= kCubeGlobalPoolPixels) {
      // A large map on the cube: each image's mean is ones[1, HW] x X[HW, C] (the NHWC16 map as
      // it is) times 1 / HW in FixPipe, the products exact and the sums in fp32 as the vector
      // kernel's; MTE2 streams the map where the vector unit converted and added every value.
      MatMulKernel mm;
      mm.name = k.name;
      mm.node = k.node;
      mm.m = 1, mm.k = k.pixels, mm.n = k.cp;
      mm.batch = k.n, mm.strideA = 0, mm.strideB = k.pixels * k.cp, mm.strideC = k.cp;
      mm.alpha = 1.0f / float(k.pixels);
      mm.outHalf = true;
      if (Expected<GeneratedKernel> gen = generateMatMul(config_, mm)) { // (else the vector kernel below)
        auto [ones, fresh] = onesOf_.try_emplace(k.pixels, 0);
        if (fresh) ones->second = halfConstant("ones" + std::to_string(k.pixels), std::vector<uint16_t>(size_t(k.pixels), 0x3c00));
        return nhwc16Task(op, "GlobalAveragePool", std::move(gen), {ones->second, *x}, {k.n, 1, 1, k.cp}, zeros);
      }
    }
    nhwc16Task(op, "GlobalAveragePool", generateGlobalAvgPool(config_, k), {*x}, {k.n, 1, 1, k.cp}, zeros);
  }
  // Maps of this many pixels and more are averaged on the cube (globalAvgPool): it was faster for
  // every map PP-OCRv4 has, from 20x20 up.
  static constexpr int64_t kCubeGlobalPoolPixels = 256;

  // Inference batch norm that was not folded into a convolution: x * s + t per channel.
  void batchNorm(mlir::Operation &op, g::BatchNormOp o) {
    const std::vector<int64_t> in = shapeOf(o.getInput());
    auto scale = g::readF32Constant(o.getScale()), bias = g::readF32Constant(o.getBias());
    auto mean = g::readF32Constant(o.getMean()), var = g::readF32Constant(o.getVariance());
    if (in.size() != 4 || !scale || !bias || !mean || !var)
      return unsupported(op, "only 4-D batch norm with constant parameters has a kernel");
    std::optional<uint32_t> x = nhwc16(o.getInput());
    if (!x) return unsupported(op, "input cannot be converted to NHWC16");
    const float eps = o.getEpsilon().convertToFloat();
    std::vector<float> s(scale->size()), t(scale->size());
    for (size_t c = 0; c < s.size(); ++c) {
      s[c] = (*scale)[c] / std::sqrt((*var)[c] + eps);
      t[c] = (*bias)[c] - (*mean)[c] * s[c];
    }
    const int64_t cp = pad16(in[1]);
    channelOp(op, "BatchNormalization", *x, {{"vmul.f16", false, false}, {"vadd.f16", false, false}},
              {channelVector(op, "scale", s, cp), channelVector(op, "shift", t, cp)}, true);
  }

  // Transposed convolution with kernel == stride == f: input pixel (y, x) makes the f x f output
  // pixels (f*y + a, f*x + b). One matmul over the input rows (batch) with f row phases of
  // columns: phase a's columns (b, channel) of row x are output pixels f*x .. f*x + f-1 of output
  // row f*y + a, so FixPipe writes every output row in place and no pixel shuffle follows, and
  // the input is read once. With one output channel the rows are the NCHW f32 result itself
  // (PP-OCRv4 det's last layer, whose NHWC16 form would be 16x wider than the data; each phase's
  // f columns padded to 16 in the product), else NHWC16 f16 (padding channels zero: zero
  // weights and bias).
  void convTransposeByRowPhase(mlir::Operation &op, g::ConvTransposeOp o, uint32_t x, const std::vector<float> &weights,
                               const std::optional<std::vector<float>> &bias, bool relu) {
    const std::vector<int64_t> in = shapeOf(o.getInput()), out = shapeOf(o.getResult());
    const int64_t f = shapeOf(o.getWeight())[2], cin = in[1], cout = out[1], cip = pad16(cin);
    const bool nchw = cout == 1;
    const int64_t cw = nchw ? 1 : pad16(cout);  // channels per output pixel
    const int64_t written = f * cw, phaseWidth = pad16(written), cols = f * phaseWidth; // per phase; in all
    uint32_t y = nchw ? result(op) : scratch(opName(op), DType::F16, {in[0], out[2], out[3], cw});
    std::vector<uint8_t> packed(size_t(cip * cols) * 2, 0); // B[ci][a * phaseWidth + b * cw + co] = W[ci][co][a][b]
    std::vector<float> biasRow(size_t(cols), 0.0f);
    for (int64_t a = 0; a < f; ++a)
      for (int64_t b = 0; b < f; ++b)
        for (int64_t co = 0; co < cout; ++co) {
          const int64_t column = a * phaseWidth + b * cw + co;
          if (bias) biasRow[size_t(column)] = (*bias)[size_t(co)];
          for (int64_t ci = 0; ci < cin; ++ci) {
            uint16_t h = isa::floatToHalf(weights[size_t(((ci * cout + co) * f + a) * f + b)]);
            std::memcpy(&packed[size_t(ci * cols + column) * 2], &h, 2);
          }
        }
    uint32_t wt = constant(opName(op) + "/weight", DType::F16, {cip, cols}, std::move(packed));
    uint32_t bt = f32Constant(opName(op) + "/bias", biasRow);
    MatMulKernel mm;
    mm.name = opName(op);
    mm.node = joined(onnxNodeNames(op.getLoc()));
    mm.m = in[3];
    mm.k = cip;
    mm.n = cols;
    mm.batch = in[0] * in[2];
    mm.strideA = in[3] * cip;
    mm.strideC = f * out[3] * cw; // an input row's f output rows
    mm.ldc = written;             // input pixel x -> output pixels f*x.. of its row
    mm.phases = f;
    mm.phaseCols = written;
    mm.phaseOffset = out[3] * cw; // phase a: output row f*y + a
    mm.hasBias = true;
    mm.relu = relu;
    mm.outHalf = !nchw;
    if (!addMatMulTask(op, "ConvTranspose", mm, {x, wt, bt, y}, modelMacsOf(op))) return;
    if (nchw) return;
    p_.tensors[y].layout = "NHWC16";
    nhwc16Of_[o.getResult()] = y;
    zeroPadded_.insert(y);
  }

  void resize(mlir::Operation &op, g::ResizeOp o) {
    const std::vector<int64_t> in = shapeOf(o.getInput()), out = shapeOf(o.getResult());
    const bool nearestFloor = o.getMode() == "nearest" && o.getNearestMode() == "floor" &&
                              o.getCoordinateTransformationMode() == "asymmetric";
    if (in.size() != 4 || !isF32(o.getInput()) || !nearestFloor || out[0] != in[0] || out[1] != in[1] ||
        out[2] % in[2] || out[3] % in[3])
      return unsupported(op, "only nearest (asymmetric, floor) resizing by integer factors has a kernel yet");
    std::optional<uint32_t> x = nhwc16(o.getInput());
    if (!x) return unsupported(op, "input cannot be converted to NHWC16");
    ResizeNearestKernel k = featureMapKernel<ResizeNearestKernel>(op, in);
    k.fy = out[2] / in[2];
    k.fx = out[3] / in[3];
    const size_t tasks = p_.tasks.size();
    nhwc16Task(op, "Resize", generateResizeNearest(config_, k), {*x}, {k.n, out[2], out[3], k.cp},
               zeroPadded_.count(*x) > 0);
    if (p_.tasks.size() > tasks) resizeOfTask_[tasks] = k;
  }

  // Transposed convolution with kernel == stride (no overlap), no pads: one matmul with a row
  // phase per kernel row (convTransposeByRowPhase).
  void convTranspose(mlir::Operation &op, g::ConvTransposeOp o) {
    const std::vector<int64_t> in = shapeOf(o.getInput()), w = shapeOf(o.getWeight()), out = shapeOf(o.getResult());
    std::optional<std::vector<float>> weights = g::readF32Constant(o.getWeight());
    std::optional<std::vector<float>> bias;
    if (o.getBias()) bias = g::readF32Constant(o.getBias());
    bool simple = in.size() == 4 && isF32(o.getInput()) && weights && (!o.getBias() || bias) && o.getGroup() == 1 &&
                  w[2] == w[3] && o.getStrides()[0] == w[2] && o.getStrides()[1] == w[3];
    for (int64_t v : o.getPads()) simple &= v == 0;
    for (int64_t v : o.getOutputPadding()) simple &= v == 0;
    for (int64_t v : o.getDilations()) simple &= v == 1;
    // A fused clamp is ReLU only (fractal-fuse-epilogue fuses nothing else): FixPipe's.
    const bool relu = o.getClampMinAttr() && o.getClampMinAttr().getValueAsDouble() == 0.0 && !o.getClampMaxAttr();
    if ((o.getClampMinAttr() || o.getClampMaxAttr()) && !relu)
      return unsupported(op, "a transposed convolution's fused clamp other than ReLU has no kernel");
    if (!simple)
      return unsupported(op, "only 2-D transposed convolutions with kernel == stride, no pads, groups or dilations, "
                             "and constant weights have a kernel yet (the importer makes other 1-D to 3-D ones with "
                             "constant float32 weights convolutions)");
    std::optional<uint32_t> x = nhwc16(o.getInput());
    if (!x) return unsupported(op, "input cannot be converted to NHWC16");
    convTransposeByRowPhase(op, o, *x, *weights, bias, relu);
  }

  // An element-wise op whose inputs exist only as NHWC16 runs on NHWC16 in f16 and yields NHWC16
  // (padding channels take whatever the op makes of zeros; convolutions ignore them, the
  // conversion to NCHW drops them). `f32Body` is rewritten to .f16.
  bool elementwiseNhwc16(mlir::Operation &op, const std::string &opType, std::vector<mlir::Value> inputs,
                         ElementwiseKernel k) {
    if (inputs.empty()) return false;
    for (mlir::Value v : inputs)
      if (!onlyNhwc16(v) || v.getType() != inputs[0].getType()) return false;
    if (shapeOf(op.getResult(0)) != shapeOf(inputs[0])) return false;
    std::vector<uint32_t> args;
    for (mlir::Value v : inputs) args.push_back(nhwc16Of_[v]);
    const pkg::Tensor &first = p_.tensors[args[0]];
    uint32_t out = scratch(opName(op), DType::F16, first.shape);
    p_.tensors[out].layout = "NHWC16";
    args.push_back(out);
    k.elements = p_.tensors[out].elementCount();
    k.inBytes = k.outBytes = 2;
    k.halfScalars = true;
    for (std::vector<std::string> *list : {&k.body, &k.prologue})
      for (std::string &line : *list)
        for (size_t pos; (pos = line.find(".f32")) != std::string::npos;) line.replace(pos, 4, ".f16");
    // Ops that map zeros to zero keep the padding channels zero.
    // (FakeQuant: 0 / scale rounds to 0, and a zero point within the clip range comes back off.)
    bool zeros = opType == "Add" || opType == "Sub" || opType == "Mul" || opType == "Relu" || opType == "FakeQuant";
    for (size_t i = 0; i + 1 < args.size(); ++i) zeros &= zeroPadded_.count(args[i]) > 0;
    if (k.numInputs == 1 && inputs.size() == 1 && !k.scalars.empty() && opType != "Mul" && opType != "FakeQuant")
      zeros = false;
    std::vector<std::string> nodes = onnxNodeNames(op.getLoc());
    bool outZeros = zeros;
    if (fuseIntoPending(op, opType, inputs, k, args, zeros, nodes)) {
      outZeros = pending_->zeros; // every op fused into the kernel must keep zeros
    } else {
      const size_t before = p_.tasks.size();
      elementwise(op, opType, k, args);
      // Only a kernel actually emitted can take later ops (a failed one left a problem instead).
      pending_.reset();
      if (p_.tasks.size() > before) pending_ = Pending{p_.tasks.size() - 1, k, args, op.getResult(0), opType, nodes, zeros};
    }
    if (pending_ && pending_->task + 1 == p_.tasks.size()) elementwiseOfTask_[pending_->task] = pending_->k;
    nhwc16Of_[op.getResult(0)] = out;
    if (outZeros) zeroPadded_.insert(out);
    return true;
  }

  // Element-wise fusion on NHWC16: when op's input is the result of the element-wise kernel just
  // emitted, and op is its only user, op's instructions join that kernel (one pass through UB
  // instead of two through GM). A binary op brings its other operand in as the kernel's second
  // input. Kernels with a prologue (a broadcast scalar in UB) are not fused.
  struct Pending {
    size_t task;
    ElementwiseKernel k;
    std::vector<uint32_t> args; // inputs..., output
    mlir::Value result;
    std::string opType;
    std::vector<std::string> nodes;
    bool zeros;
  };
  std::optional<Pending> pending_;

  bool fuseIntoPending(mlir::Operation &op, const std::string &opType, const std::vector<mlir::Value> &inputs,
                       ElementwiseKernel k, const std::vector<uint32_t> &args, bool zeros,
                       const std::vector<std::string> &nodes) {
    if (!pending_ || pending_->task + 1 != p_.tasks.size() || !pending_->result.hasOneUse()) return false;
    // Broadcast constants ({cN}) of the two kernels are renumbered; four fit.
    auto constants = [](const ElementwiseKernel &e) {
      int used = 0;
      for (const auto *list : {&e.body, &e.prologue})
        for (const std::string &line : *list)
          for (int j = 0; j < 4; ++j)
            if (line.find("{c" + std::to_string(j) + "}") != std::string::npos) used = std::max(used, j + 1);
      return used;
    };
    const int constBase = constants(pending_->k);
    if (constBase + constants(k) > 4 || pending_->k.scalars.size() + k.scalars.size() > 8) return false;
    int which = -1;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i] == pending_->result) which = int(i);
    if (which < 0 || (inputs.size() == 2 && (inputs[0] == inputs[1] || pending_->k.numInputs != 1))) return false;
    Pending merged = *pending_;
    const size_t base = merged.k.scalars.size();
    auto rename = [](std::string line, const std::string &from, const std::string &to) {
      for (size_t pos; (pos = line.find(from)) != std::string::npos;) line.replace(pos, from.size(), to);
      return line;
    };
    auto renumber = [&](std::string line) {
      for (size_t j = k.scalars.size(); j-- > 0;)
        line = rename(line, "{s" + std::to_string(j) + "}", "{S" + std::to_string(base + j) + "}");
      for (int j = 4; j-- > 0;)
        line = rename(line, "{c" + std::to_string(j) + "}", "{C" + std::to_string(constBase + j) + "}");
      return rename(rename(line, "{S", "{s"), "{C", "{c");
    };
    for (std::string line : k.body) {
      line = renumber(line);
      // The pending result is already in {out}; a second operand arrives as {in1}.
      line = rename(line, "{in" + std::to_string(which) + "}", "{OUT}");
      if (inputs.size() == 2) line = rename(line, "{in" + std::to_string(1 - which) + "}", "{in1}");
      merged.k.body.push_back(rename(line, "{OUT}", "{out}"));
    }
    for (const std::string &line : k.prologue) merged.k.prologue.push_back(renumber(line));
    merged.k.scalars.insert(merged.k.scalars.end(), k.scalars.begin(), k.scalars.end());
    std::vector<uint32_t> mergedArgs(merged.args.begin(), merged.args.end() - 1);
    if (inputs.size() == 2) {
      mergedArgs.push_back(args[size_t(1 - which)]);
      merged.k.numInputs = 2;
    }
    mergedArgs.push_back(args.back());
    // The intermediate tensor is never written now: it views the fused kernel's output.
    p_.tensors[merged.args.back()].aliasOf = args.back();
    p_.tasks.pop_back();
    merged.opType += "+" + opType;
    merged.nodes.insert(merged.nodes.end(), nodes.begin(), nodes.end());
    merged.k.node = joined(merged.nodes);
    elementwise(op, merged.opType, merged.k, mergedArgs);
    p_.tasks.back().onnxNodes = merged.nodes;
    merged.task = p_.tasks.size() - 1;
    merged.args = mergedArgs;
    merged.result = op.getResult(0);
    merged.zeros = merged.zeros && zeros;
    pending_ = merged;
    return true;
  }

  // Parameterised activations from the vector unit's instructions; {in1} is scratch (one input).
  void activation(mlir::Operation &op, g::ActivationOp o) {
    const std::string kind = o.getKind().str();
    const float alpha = o.getAlpha().convertToFloat(), beta = o.getBeta().convertToFloat();
    // max(x, 0) + min(alpha * (exp(x) - 1), 0): exp(x) - 1 <= 0 exactly when x <= 0.
    const std::vector<std::string> elu = {
        "vexp.f32 {in1}, {in0}, repeat={rep}", "vadds.f32 {in1}, {in1}, {s0}, repeat={rep}",
        "vmuls.f32 {in1}, {in1}, {s1}, repeat={rep}", "vmins.f32 {in1}, {in1}, {s2}, repeat={rep}",
        "vmaxs.f32 {out}, {in0}, {s2}, repeat={rep}", "vadd.f32 {out}, {out}, {in1}, repeat={rep}"};
    if (kind == "tanh") // 1 - 2 / (exp(2x) + 1)
      return unary(op, "Tanh",
                   {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}", "vexp.f32 {out}, {out}, repeat={rep}",
                    "vadds.f32 {out}, {out}, {s1}, repeat={rep}", "vrec.f32 {out}, {out}, repeat={rep}",
                    "vmuls.f32 {out}, {out}, {s2}, repeat={rep}", "vadds.f32 {out}, {out}, {s1}, repeat={rep}"},
                   {2.0f, 1.0f, -2.0f});
    if (kind == "leaky_relu") // max(x, 0) + alpha * min(x, 0)
      return unary(op, "LeakyRelu",
                   {"vmins.f32 {in1}, {in0}, {s1}, repeat={rep}", "vmuls.f32 {in1}, {in1}, {s0}, repeat={rep}",
                    "vmaxs.f32 {out}, {in0}, {s1}, repeat={rep}", "vadd.f32 {out}, {out}, {in1}, repeat={rep}"},
                   {alpha, 0.0f});
    if (kind == "elu") return unary(op, "Elu", elu, {-1.0f, alpha, 0.0f});
    if (kind == "selu") {
      std::vector<std::string> body = elu;
      body.push_back("vmuls.f32 {out}, {out}, {s3}, repeat={rep}");
      return unary(op, "Selu", body, {-1.0f, alpha, 0.0f, beta});
    }
    if (kind == "softplus") // ln(exp(x) + 1)
      return unary(op, "Softplus",
                   {"vexp.f32 {out}, {in0}, repeat={rep}", "vadds.f32 {out}, {out}, {s0}, repeat={rep}",
                    "vln.f32 {out}, {out}, repeat={rep}"},
                   {1.0f});
    if (kind == "softsign") // x / (1 + |x|)
      return unary(op, "Softsign",
                   {"vabs.f32 {in1}, {in0}, repeat={rep}", "vadds.f32 {in1}, {in1}, {s0}, repeat={rep}",
                    "vdiv.f32 {out}, {in0}, {in1}, repeat={rep}"},
                   {1.0f});
    if (kind == "hard_swish") // x * clip(x / 6 + 1/2, 0, 1)
      return unary(op, "HardSwish",
                   {"vmuls.f32 {in1}, {in0}, {s0}, repeat={rep}", "vadds.f32 {in1}, {in1}, {s1}, repeat={rep}",
                    "vmaxs.f32 {in1}, {in1}, {s2}, repeat={rep}", "vmins.f32 {in1}, {in1}, {s3}, repeat={rep}",
                    "vmul.f32 {out}, {in0}, {in1}, repeat={rep}"},
                   {1.0f / 6.0f, 0.5f, 0.0f, 1.0f});
    unsupported(op, "activation '" + kind + "' has no kernel");
  }

  void unary(mlir::Operation &op, const std::string &opType, std::vector<std::string> body,
             std::vector<float> scalars) {
    {
      ElementwiseKernel k;
      k.numInputs = 1;
      k.body = body;
      k.scalars = scalars;
      if (elementwiseNhwc16(op, opType, {op.getOperand(0)}, std::move(k))) return;
    }
    if (!isF32(op.getOperand(0))) return unsupported(op, "only float32 tensors have a kernel");
    std::vector<uint32_t> args;
    if (!require(op, {op.getOperand(0)}, args)) return;
    args.push_back(result(op));
    ElementwiseKernel k;
    k.numInputs = 1;
    k.elements = elements(op.getResult(0));
    k.body = std::move(body);
    k.scalars = std::move(scalars);
    elementwise(op, opType, std::move(k), std::move(args));
  }

  void cast(mlir::Operation &op, mlir::Value input) {
    auto from = dtypeOf(llvm::cast<mlir::RankedTensorType>(input.getType()).getElementType());
    auto to = dtypeOf(llvm::cast<mlir::RankedTensorType>(op.getResult(0).getType()).getElementType());
    std::vector<uint32_t> args;
    if (!require(op, {input}, args)) return;
    if (from == to) {
      p_.tensors[result(op)].aliasOf = args[0];
      return;
    }
    const int64_t n = elements(input);
    args.push_back(result(op));
    if (from == DType::Bool && to == DType::F32) return elementwise(op, "Cast", booleansToFloats(n), std::move(args));
    if (from == DType::F32 && to == DType::Bool) return elementwise(op, "Cast", floatsToBooleans(n), std::move(args));
    // Integers of 1 or 2 bytes: widened to int32 on the scalar unit first (exact), then as int32.
    const bool narrowInteger = from == DType::U8 || from == DType::I8 || from == DType::U16 || from == DType::I16;
    if (narrowInteger && to == DType::F32) {
      const uint32_t wide = scratch(opName(op) + "/as_int32", DType::I32, shapeOf(input));
      scalarCast(op, args[0], integerElement(input), wide, {4, true}, shapeOf(input));
      args[0] = wide;
      from = DType::I32;
    }
    if (from == DType::I32 && to == DType::F32) { // exact below 2^24, nearest-even above, as C casts
      ElementwiseKernel k;
      k.elements = n;
      k.body = {"vconv.s32.f32 {out}, {in0}, repeat={rep}"};
      return elementwise(op, "Cast", std::move(k), std::move(args));
    }
    const bool toNarrowInteger = to == DType::U8 || to == DType::I8 || to == DType::U16 || to == DType::I16;
    if (from == DType::F32 && (to == DType::I32 || toNarrowInteger)) {
      // Toward zero, as C casts (ONNX leaves values out of range undefined: beyond int32 they
      // saturate, then a narrower type keeps the low bits): |x| rounded to nearest even, one
      // less where that rounded up, the sign put back; then the int32 narrowed on the scalar unit.
      const uint32_t out = args[1];
      if (toNarrowInteger) args[1] = scratch(opName(op) + "/as_int32", DType::I32, shapeOf(input));
      ElementwiseKernel k;
      k.elements = n;
      k.scalars = {8388608.0f, -1.0f, 0.0f};
      k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1", "vdup.f32 {c1}, {s2}, repeat=1"};
      k.scratch = {{"{a}", emit::kRepeatBytes}, {"{r}", emit::kRepeatBytes}, {"{tmp}", emit::kRepeatBytes},
                   {"{mask}", kF32MaskBytes}};
      k.body = truncSteps("{in0}", "{r}", "{a}", "{tmp}", "{c0}", "{c1}", "{s1}");
      k.body.push_back("vconv.f32.s32 {out}, {r}, repeat={rep}");
      elementwise(op, "Cast", std::move(k), args);
      if (toNarrowInteger) scalarCast(op, args[1], {4, true}, out, integerElement(op.getResult(0)), shapeOf(input));
      return;
    }
    if (!((from == DType::F32 && to == DType::F16) || (from == DType::F16 && to == DType::F32)))
      return unsupported(op, "casts between float16 and integers have no kernel yet (float32 and every integer "
                             "type do)");
    ElementwiseKernel k = castKernel(from == DType::F32, n);
    elementwise(op, "Cast", std::move(k), std::move(args));
  }

  static ElementwiseKernel castKernel(bool toHalf, int64_t count) {
    ElementwiseKernel k;
    k.numInputs = 1;
    k.elements = count;
    k.inBytes = toHalf ? 4 : 2;
    k.outBytes = toHalf ? 2 : 4;
    // A conversion repeat holds 64 elements: 128 bytes on the fp16 side (4 blocks apart).
    k.body = {toHalf ? "vconv.f32.f16 {out}, {in0}, repeat={rep}, dst_rep=4"
                     : "vconv.f16.f32 {out}, {in0}, repeat={rep}, src_rep=4"};
    return k;
  }

  // ---- element-wise functions with bitmask steps ----
  // These run on float32 only (NCHW: a feature map in NHWC16 is converted back first), since
  // their bodies convert to int32 and keep scratch buffers, which the f16 path and its fusion of
  // consecutive kernels do not have.
  static constexpr int64_t kF32MaskBytes = emit::kRepeatBytes / 4 / 8; // a bit per f32 element of a repeat

  void unaryF32(mlir::Operation &op, const std::string &opType, ElementwiseKernel k) {
    if (!isF32(op.getOperand(0))) return unsupported(op, "only float32 tensors have a kernel");
    std::vector<uint32_t> args;
    if (!require(op, {op.getOperand(0)}, args)) return;
    args.push_back(result(op));
    k.numInputs = 1;
    k.elements = elements(op.getResult(0));
    elementwise(op, opType, std::move(k), std::move(args));
  }

  // Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): for a = |x|, t = 1 / (1 + p a),
  // erf = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-a^2), negated for x < 0.
  void erf(mlir::Operation &op) {
    ElementwiseKernel k;
    k.scalars = {0.3275911f, 1.0f, 1.061405429f, -1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f, -1.0f};
    k.scratch = {{"{a}", emit::kRepeatBytes}, {"{t}", emit::kRepeatBytes}, {"{q}", emit::kRepeatBytes}, {"{mask}", kF32MaskBytes}};
    k.body = {"vabs.f32 {a}, {in0}, repeat={rep}",
              "vmuls.f32 {t}, {a}, {s0}, repeat={rep}", "vadds.f32 {t}, {t}, {s1}, repeat={rep}",
              "vrec.f32 {t}, {t}, repeat={rep}",
              "vmuls.f32 {q}, {t}, {s2}, repeat={rep}", "vadds.f32 {q}, {q}, {s3}, repeat={rep}",
              "vmul.f32 {q}, {q}, {t}, repeat={rep}", "vadds.f32 {q}, {q}, {s4}, repeat={rep}",
              "vmul.f32 {q}, {q}, {t}, repeat={rep}", "vadds.f32 {q}, {q}, {s5}, repeat={rep}",
              "vmul.f32 {q}, {q}, {t}, repeat={rep}", "vadds.f32 {q}, {q}, {s6}, repeat={rep}",
              "vmul.f32 {q}, {q}, {t}, repeat={rep}",
              "vmul.f32 {t}, {a}, {a}, repeat={rep}", "vmuls.f32 {t}, {t}, {s7}, repeat={rep}",
              "vexp.f32 {t}, {t}, repeat={rep}",
              "vmul.f32 {q}, {q}, {t}, repeat={rep}", "vmuls.f32 {q}, {q}, {s7}, repeat={rep}",
              "vadds.f32 {q}, {q}, {s1}, repeat={rep}",
              // x < |x| exactly when x < 0 (false for NaN, which stays NaN either way)
              "vcmp.lt.f32 {mask}, {in0}, {a}, repeat={rep}", "vmuls.f32 {t}, {q}, {s7}, repeat={rep}",
              "vsel.f32 {out}, {t}, {q}, {mask}, repeat={rep}"};
    unaryF32(op, "Erf", std::move(k));
  }

  // x ** y per element: |x| ** y = exp(y ln|x|), then a sign s: 1 for x >= 0; for x < 0, -1 when
  // y is an odd integer, 1 when even, NaN when not an integer (as C's pow). y is an integer when
  // rounding it (through int32, values from 2^23 up kept: all integers) leaves it unchanged, and
  // odd when y / 2 is not. x ** 0 is 1, NaN x included.
  void pow(mlir::Operation &op, mlir::Value x, mlir::Value y) {
    if (!isF32(x) || !isF32(y)) return unsupported(op, "only float32 powers have a kernel");
    std::optional<uint32_t> a = expanded(op, x), b = a ? expanded(op, y) : std::nullopt;
    if (!a || !b) return unsupported(op, "this broadcast of the base or exponent has no kernel yet");
    ElementwiseKernel k;
    k.numInputs = 2;
    k.elements = elements(op.getResult(0));
    k.scalars = {1.0f, 0.0f, std::numeric_limits<float>::quiet_NaN(), 8388608.0f, 0.5f, 2.0f, -1.0f};
    k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1", "vdup.f32 {c1}, {s1}, repeat=1", "vdup.f32 {c2}, {s2}, repeat=1",
                  "vdup.f32 {c3}, {s3}, repeat=1"};
    k.scratch = {{"{t}", emit::kRepeatBytes}, {"{r}", emit::kRepeatBytes}, {"{s}", emit::kRepeatBytes},
                 {"{mask}", kF32MaskBytes}};
    auto append = [&k](const std::vector<std::string> &lines) { k.body.insert(k.body.end(), lines.begin(), lines.end()); };
    // {mask} = whether `v` holds integers: unchanged by rounding (into {r}; `tmp` is scratch).
    auto isInteger = [&](const std::string &v, const std::string &tmp) {
      append(roundHalfEven(v, "{r}", tmp, "{c3}"));
      k.body.push_back("vcmp.eq.f32 {mask}, {r}, " + v + ", repeat={rep}");
    };
    append({"vabs.f32 {t}, {in0}, repeat={rep}", "vln.f32 {t}, {t}, repeat={rep}", "vmul.f32 {t}, {t}, {in1}, repeat={rep}",
            "vexp.f32 {out}, {t}, repeat={rep}", "vmuls.f32 {t}, {in1}, {s4}, repeat={rep}"});
    isInteger("{t}", "{s}"); // y / 2 an integer: y even
    append({"vsel.f32 {s}, {c0}, {c1}, {mask}, repeat={rep}, src0_rep=0, src1_rep=0",
            "vmuls.f32 {s}, {s}, {s5}, repeat={rep}", "vadds.f32 {s}, {s}, {s6}, repeat={rep}"}); // even ? 1 : -1
    isInteger("{in1}", "{t}");
    append({"vsel.f32 {s}, {s}, {c2}, {mask}, repeat={rep}, src1_rep=0",   // not an integer: NaN
            "vcmp.lt.f32 {mask}, {in0}, {c1}, repeat={rep}, src1_rep=0",
            "vsel.f32 {s}, {s}, {c0}, {mask}, repeat={rep}, src1_rep=0",   // x >= 0: 1
            "vmul.f32 {out}, {out}, {s}, repeat={rep}",
            "vcmp.eq.f32 {mask}, {in1}, {c1}, repeat={rep}, src1_rep=0",
            "vsel.f32 {out}, {c0}, {out}, {mask}, repeat={rep}, src0_rep=0"}); // x ** 0 = 1
    elementwise(op, "Pow", std::move(k), {*a, *b, result(op)});
  }

  // The remainder. Float32 (fmod): x - trunc(x / y) y, moved by |y| toward x's sign where the
  // rounded quotient overshot (a remainder of the wrong sign, or of |y| or more); y = +-inf gives
  // x. Int32: the quotient estimated in float32 and the remainder taken exactly in int32, twice
  // (the second on the first's remainder: exact below 2^24, where the int32 -> float32 conversion
  // is, and a small remainder left above), then moved by y (floor: the sign of y) or by |y|
  // toward x's sign (fmod: the sign of x) where it has the wrong sign or reaches |y|. y = 0 gives
  // an unspecified value, as ONNX leaves it.
  void mod(mlir::Operation &op, g::ModOp o) {
    const bool ints = isI32(o.getLhs()), fmod = o.getFmod();
    std::optional<uint32_t> a = expanded(op, o.getLhs()), b = a ? expanded(op, o.getRhs()) : std::nullopt;
    if (!a || !b) return unsupported(op, "this broadcast of the operands has no kernel yet");
    ElementwiseKernel k;
    k.numInputs = 2;
    k.elements = elements(op.getResult(0));
    k.scalars = {-1.0f, 8388608.0f, 0.0f, std::numeric_limits<float>::infinity()};
    k.prologue = {"vdup.f32 {c0}, {s1}, repeat=1", "vdup.f32 {c1}, {s2}, repeat=1", "vdup.f32 {c2}, {s3}, repeat=1"};
    k.scratch = {{"{q}", emit::kRepeatBytes}, {"{t}", emit::kRepeatBytes}, {"{r}", emit::kRepeatBytes},
                 {"{s}", emit::kRepeatBytes}, {"{yf}", emit::kRepeatBytes}, {"{mask}", kF32MaskBytes}};
    auto append = [&k](const std::vector<std::string> &lines) { k.body.insert(k.body.end(), lines.begin(), lines.end()); };
    // {t} = trunc (or floor) of the float quotient in {q}; {r}, {s} scratch.
    auto integral = [&](bool floor) {
      if (floor) {
        append(roundHalfEven("{q}", "{t}", "{s}", "{c0}"));
        append({"vcmp.gt.f32 {mask}, {t}, {q}, repeat={rep}", "vadds.f32 {s}, {t}, {s0}, repeat={rep}",
                "vsel.f32 {t}, {s}, {t}, {mask}, repeat={rep}"});
        return;
      }
      append(truncSteps("{q}", "{t}", "{r}", "{s}", "{c0}", "{c1}", "{s0}"));
    };
    if (!ints) {
      append({"vdiv.f32 {q}, {in0}, {in1}, repeat={rep}"});
      integral(false);
      append({"vmul.f32 {t}, {t}, {in1}, repeat={rep}", "vsub.f32 {out}, {in0}, {t}, repeat={rep}",
              // {s} = |y| with x's sign
              "vabs.f32 {s}, {in1}, repeat={rep}", "vmuls.f32 {t}, {s}, {s0}, repeat={rep}",
              "vcmp.lt.f32 {mask}, {in0}, {c1}, repeat={rep}, src1_rep=0", "vsel.f32 {s}, {t}, {s}, {mask}, repeat={rep}",
              "vmul.f32 {t}, {out}, {in0}, repeat={rep}", "vcmp.lt.f32 {mask}, {t}, {c1}, repeat={rep}, src1_rep=0",
              "vadd.f32 {t}, {out}, {s}, repeat={rep}", "vsel.f32 {out}, {t}, {out}, {mask}, repeat={rep}",
              "vabs.f32 {t}, {out}, repeat={rep}", "vabs.f32 {r}, {in1}, repeat={rep}",
              "vcmp.ge.f32 {mask}, {t}, {r}, repeat={rep}", "vsub.f32 {t}, {out}, {s}, repeat={rep}",
              "vsel.f32 {out}, {t}, {out}, {mask}, repeat={rep}",
              "vcmp.eq.f32 {mask}, {r}, {c2}, repeat={rep}, src1_rep=0", "vsel.f32 {out}, {in0}, {out}, {mask}, repeat={rep}"});
      elementwise(op, "Mod", std::move(k), {*a, *b, result(op)});
      return;
    }
    append({"vconv.s32.f32 {yf}, {in1}, repeat={rep}"});
    for (const char *source : {"{in0}", "{out}"}) { // {out} = source - q y, q from float32
      append({std::string("vconv.s32.f32 {q}, ") + source + ", repeat={rep}", "vdiv.f32 {q}, {q}, {yf}, repeat={rep}"});
      integral(!fmod);
      append({"vconv.f32.s32 {t}, {t}, repeat={rep}", "vmul.s32 {t}, {t}, {in1}, repeat={rep}",
              std::string("vsub.s32 {out}, ") + source + ", {t}, repeat={rep}"});
    }
    // {s} = the step toward the remainder's sign: y (floor), or |y| with x's sign (fmod)
    if (fmod)
      append({"vabs.s32 {s}, {in1}, repeat={rep}", "vsub.s32 {t}, {c1}, {s}, repeat={rep}, src0_rep=0",
              "vconv.s32.f32 {q}, {in0}, repeat={rep}", "vcmp.lt.f32 {mask}, {q}, {c1}, repeat={rep}, src1_rep=0",
              "vsel.s32 {s}, {t}, {s}, {mask}, repeat={rep}"});
    else
      append({"vmov.s32 {s}, {in1}, repeat={rep}"});
    append({"vconv.s32.f32 {q}, {out}, repeat={rep}", "vconv.s32.f32 {r}, {s}, repeat={rep}",
            "vmul.f32 {q}, {q}, {r}, repeat={rep}", "vcmp.lt.f32 {mask}, {q}, {c1}, repeat={rep}, src1_rep=0",
            "vadd.s32 {t}, {out}, {s}, repeat={rep}", "vsel.s32 {out}, {t}, {out}, {mask}, repeat={rep}",
            "vabs.s32 {t}, {out}, repeat={rep}", "vabs.s32 {r}, {in1}, repeat={rep}",
            "vcmp.ge.s32 {mask}, {t}, {r}, repeat={rep}", "vsub.s32 {t}, {out}, {s}, repeat={rep}",
            "vsel.s32 {out}, {t}, {out}, {mask}, repeat={rep}"});
    elementwise(op, "Mod", std::move(k), {*a, *b, result(op)});
  }

  // 1 above zero, -1 below, else x itself (zeros and NaN).
  void sign(mlir::Operation &op) {
    ElementwiseKernel k;
    k.scalars = {1.0f, -1.0f, 0.0f};
    k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1", "vdup.f32 {c1}, {s1}, repeat=1", "vdup.f32 {c2}, {s2}, repeat=1"};
    k.scratch = {{"{mask}", kF32MaskBytes}};
    k.body = {"vcmp.gt.f32 {mask}, {in0}, {c2}, repeat={rep}, src1_rep=0",
              "vsel.f32 {out}, {c0}, {in0}, {mask}, repeat={rep}, src0_rep=0",
              "vcmp.lt.f32 {mask}, {in0}, {c2}, repeat={rep}, src1_rep=0",
              "vsel.f32 {out}, {c1}, {out}, {mask}, repeat={rep}, src0_rep=0"};
    unaryF32(op, "Sign", std::move(k));
  }

  // `v` rounded half to even into `r`: through int32 (vconv rounds to nearest even), except where
  // |v| >= 2^23 (`big`: a one-repeat buffer of 2^23), already an integer (and past int32 it would
  // saturate): kept, as infinities and NaN are. `tmp` is scratch; {mask} is overwritten.
  static std::vector<std::string> roundHalfEven(const std::string &v, const std::string &r, const std::string &tmp,
                                                const std::string &big) {
    return {"vconv.f32.s32 " + r + ", " + v + ", repeat={rep}", "vconv.s32.f32 " + r + ", " + r + ", repeat={rep}",
            "vabs.f32 " + tmp + ", " + v + ", repeat={rep}",
            "vcmp.lt.f32 {mask}, " + tmp + ", " + big + ", repeat={rep}, src1_rep=0",
            "vsel.f32 " + r + ", " + r + ", " + v + ", {mask}, repeat={rep}"};
  }

  // `t` = v truncated toward zero: |v| rounded half to even (into scratch `a`, with `s`), one less
  // where that rounded up, the sign put back. `big` holds 2^23, `zero` zeros, `minusOne` is a
  // scalar register holding -1; writes {mask}.
  static std::vector<std::string> truncSteps(const std::string &v, const std::string &t, const std::string &a,
                                             const std::string &s, const std::string &big, const std::string &zero,
                                             const std::string &minusOne) {
    std::vector<std::string> steps = {"vabs.f32 " + a + ", " + v + ", repeat={rep}"};
    const std::vector<std::string> round = roundHalfEven(a, t, s, big);
    steps.insert(steps.end(), round.begin(), round.end());
    steps.insert(steps.end(), {"vcmp.gt.f32 {mask}, " + t + ", " + a + ", repeat={rep}",
                               "vadds.f32 " + s + ", " + t + ", " + minusOne + ", repeat={rep}",
                               "vsel.f32 " + t + ", " + s + ", " + t + ", {mask}, repeat={rep}",
                               "vcmp.lt.f32 {mask}, " + v + ", " + zero + ", repeat={rep}, src1_rep=0",
                               "vmuls.f32 " + s + ", " + t + ", " + minusOne + ", repeat={rep}",
                               "vsel.f32 " + t + ", " + s + ", " + t + ", {mask}, repeat={rep}"});
    return steps;
  }

  // x / scale (a division, as ONNX's QuantizeLinear), rounded half to even, plus the zero point,
  // clipped, minus the zero point, times the scale: a Q/DQ pair in one pass over UB. Rounding adds
  // and subtracts 1.5 x 2^23 (fp32) or 1.5 x 2^10 (fp16): for |v| below 2^22 (2^9) the sum lands
  // where the spacing is 1, so it rounds v to nearest even; past that the clip to 8 bits decides.
  void fakeQuant(mlir::Operation &op, g::FakeQuantOp o) {
    auto kernel = [&](float magic) {
      const float scale = o.getScale().convertToFloat(), zero = o.getZeroPoint().convertToFloat();
      ElementwiseKernel k;
      k.numInputs = 1;
      k.scalars = {magic, scale, zero, o.getMin().convertToFloat(), o.getMax().convertToFloat(), -zero, -magic};
      k.prologue = {"vdup.f32 {c1}, {s1}, repeat=1"};
      k.body = {"vdiv.f32 {out}, {in0}, {c1}, repeat={rep}, src1_rep=0", "vadds.f32 {out}, {out}, {s0}, repeat={rep}",
                "vadds.f32 {out}, {out}, {s6}, repeat={rep}", "vadds.f32 {out}, {out}, {s2}, repeat={rep}",
                "vmaxs.f32 {out}, {out}, {s3}, repeat={rep}", "vmins.f32 {out}, {out}, {s4}, repeat={rep}",
                "vadds.f32 {out}, {out}, {s5}, repeat={rep}", "vmuls.f32 {out}, {out}, {s1}, repeat={rep}"};
      return k;
    };
    // A convolution's NHWC16 output stays in that form: the pair computed in fp16 (the cube reads
    // fp16 anyway), fused into the producing kernel where it can be.
    if (elementwiseNhwc16(op, "FakeQuant", {op.getOperand(0)}, kernel(1536.0f))) return;
    unaryF32(op, "FakeQuant", kernel(12582912.0f));
  }

  // Round (half to even), then for Floor one step down where that rounded up, for Ceil one step
  // up where it rounded down.
  void rounding(mlir::Operation &op, llvm::StringRef mode) {
    ElementwiseKernel k;
    k.scalars = {8388608.0f, mode == "ceil" ? 1.0f : -1.0f};
    k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1"};
    k.scratch = {{"{tmp}", emit::kRepeatBytes}, {"{mask}", kF32MaskBytes}};
    k.body = roundHalfEven("{in0}", "{out}", "{tmp}", "{c0}");
    if (mode != "round")
      k.body.insert(k.body.end(), {std::string("vcmp.") + (mode == "floor" ? "gt" : "lt") + ".f32 {mask}, {out}, {in0}, repeat={rep}",
                                   "vadds.f32 {tmp}, {out}, {s1}, repeat={rep}",
                                   "vsel.f32 {out}, {tmp}, {out}, {mask}, repeat={rep}"});
    unaryF32(op, mode == "floor" ? "Floor" : mode == "ceil" ? "Ceil" : "Round", std::move(k));
  }

  // ---- trigonometric functions ----
  // sin(x) = (-1)^n sin(r) for n = round(x / pi), r = x - n pi in [-pi/2, pi/2], with pi in three
  // parts (Cody and Waite: n times the 8-bit first part is exact, so r stays within a few 1e-7 up
  // to |x| ~ 1e5; past that the error grows with |x|, 3e-2 at 1e6, docs/compiler.md), and sin(r)
  // by its Taylor series to r^11 (error below 6e-8 on that range).
  // cos(x) = sin(x + pi/2) = (-1)^n sin(x - (n - 1/2) pi) for n = round(x / pi + 1/2).
  // Scalars s0..s10 and constants {c0} = 2^23, {c1} = 1, {c2} = -1 as trigonometric() sets them.
  static std::vector<std::string> sineSteps(const std::string &x, const std::string &out, bool cosine) {
    std::vector<std::string> body = {"vmuls.f32 {t}, " + x + ", {s0}, repeat={rep}"};
    if (cosine) body.push_back("vadds.f32 {t}, {t}, {s1}, repeat={rep}");
    auto append = [&body](const std::vector<std::string> &lines) { body.insert(body.end(), lines.begin(), lines.end()); };
    append(roundHalfEven("{t}", "{n}", "{z}", "{c0}"));
    // the sign: n even (n / 2 unchanged by rounding) -> 1, odd -> -1
    body.push_back("vmuls.f32 {t}, {n}, {s1}, repeat={rep}");
    append(roundHalfEven("{t}", "{r}", "{z}", "{c0}"));
    append({"vcmp.eq.f32 {mask}, {r}, {t}, repeat={rep}",
            "vsel.f32 {sg}, {c1}, {c2}, {mask}, repeat={rep}, src0_rep=0, src1_rep=0"});
    if (cosine) body.push_back("vadds.f32 {n}, {n}, {s10}, repeat={rep}");
    append({"vmuls.f32 {t}, {n}, {s2}, repeat={rep}", "vadd.f32 {r}, " + x + ", {t}, repeat={rep}",
            "vmuls.f32 {t}, {n}, {s3}, repeat={rep}", "vadd.f32 {r}, {r}, {t}, repeat={rep}",
            "vmuls.f32 {t}, {n}, {s4}, repeat={rep}", "vadd.f32 {r}, {r}, {t}, repeat={rep}",
            "vmul.f32 {z}, {r}, {r}, repeat={rep}",
            "vmuls.f32 {t}, {z}, {s5}, repeat={rep}", "vadds.f32 {t}, {t}, {s6}, repeat={rep}",
            "vmul.f32 {t}, {t}, {z}, repeat={rep}", "vadds.f32 {t}, {t}, {s7}, repeat={rep}",
            "vmul.f32 {t}, {t}, {z}, repeat={rep}", "vadds.f32 {t}, {t}, {s8}, repeat={rep}",
            "vmul.f32 {t}, {t}, {z}, repeat={rep}", "vadds.f32 {t}, {t}, {s9}, repeat={rep}",
            "vmul.f32 {t}, {t}, {z}, repeat={rep}", "vmul.f32 {t}, {t}, {r}, repeat={rep}",
            "vadd.f32 {t}, {t}, {r}, repeat={rep}", "vmul.f32 " + out + ", {t}, {sg}, repeat={rep}"});
    return body;
  }

  // atan(x) as Cephes' atanf (relative error ~1e-7): for a = |x| above tan(3 pi / 8), pi/2 +
  // atan(-1/a); above tan(pi / 8), pi/4 + atan((a - 1) / (a + 1)); else atan(a); the reduced
  // argument t by an odd polynomial in t^2; negated for x < 0. Infinities give +-pi/2.
  // Scalars s0 = -1, s1 = 1, s2 = pi/4, s3 = pi/2, s4..s7 the polynomial; {c0} = tan(3 pi / 8),
  // {c1} = tan(pi / 8), {c2} = 0.
  static std::vector<std::string> arctangentSteps(const std::string &x, const std::string &out) {
    return {"vabs.f32 {a}, " + x + ", repeat={rep}",
            "vadds.f32 {u}, {a}, {s0}, repeat={rep}", "vadds.f32 {t}, {a}, {s1}, repeat={rep}",
            "vdiv.f32 {u}, {u}, {t}, repeat={rep}",
            "vcmp.gt.f32 {mask}, {a}, {c1}, repeat={rep}, src1_rep=0",
            "vsel.f32 {t}, {u}, {a}, {mask}, repeat={rep}",
            "vdup.f32 {y}, {s2}, repeat={rep}", "vsel.f32 {y}, {y}, {c2}, {mask}, repeat={rep}, src1_rep=0",
            "vrec.f32 {u}, {a}, repeat={rep}", "vmuls.f32 {u}, {u}, {s0}, repeat={rep}",
            "vcmp.gt.f32 {mask}, {a}, {c0}, repeat={rep}, src1_rep=0",
            "vsel.f32 {t}, {u}, {t}, {mask}, repeat={rep}",
            "vdup.f32 {u}, {s3}, repeat={rep}", "vsel.f32 {y}, {u}, {y}, {mask}, repeat={rep}",
            "vmul.f32 {z}, {t}, {t}, repeat={rep}",
            "vmuls.f32 {u}, {z}, {s4}, repeat={rep}", "vadds.f32 {u}, {u}, {s5}, repeat={rep}",
            "vmul.f32 {u}, {u}, {z}, repeat={rep}", "vadds.f32 {u}, {u}, {s6}, repeat={rep}",
            "vmul.f32 {u}, {u}, {z}, repeat={rep}", "vadds.f32 {u}, {u}, {s7}, repeat={rep}",
            "vmul.f32 {u}, {u}, {z}, repeat={rep}", "vmul.f32 {u}, {u}, {t}, repeat={rep}",
            "vadd.f32 {u}, {u}, {t}, repeat={rep}", "vadd.f32 {u}, {u}, {y}, repeat={rep}",
            "vcmp.lt.f32 {mask}, " + x + ", {c2}, repeat={rep}, src1_rep=0",
            "vmuls.f32 {t}, {u}, {s0}, repeat={rep}", "vsel.f32 " + out + ", {t}, {u}, {mask}, repeat={rep}"};
  }

  // tan = sin / cos; asin(x) = atan(x / sqrt((1 - x)(1 + x))); acos(x) = 2 atan(sqrt((1 - x) /
  // (1 + x))), which stays accurate near x = 1 (pi/2 - asin(x) would cancel). Outside [-1, 1]
  // the square root gives NaN, as the functions do.
  void trigonometric(mlir::Operation &op, llvm::StringRef function) {
    ElementwiseKernel k;
    k.scratch = {{"{t}", emit::kRepeatBytes}, {"{z}", emit::kRepeatBytes}, {"{mask}", kF32MaskBytes}};
    if (function == "sin" || function == "cos" || function == "tan") {
      const float pi1 = 3.140625f, pi2 = 9.67502593994140625e-4f, pi3 = 1.509957990978376e-7f;
      k.scalars = {float(1.0 / M_PI), 0.5f, -pi1, -pi2, -pi3, float(-1.0 / 39916800), float(1.0 / 362880),
                   float(-1.0 / 5040), float(1.0 / 120), float(-1.0 / 6), -0.5f};
      k.scratch.insert(k.scratch.end(), {{"{n}", emit::kRepeatBytes}, {"{r}", emit::kRepeatBytes}, {"{sg}", emit::kRepeatBytes}});
      if (function == "tan") {
        k.scratch.push_back({"{sn}", emit::kRepeatBytes});
        k.body = sineSteps("{in0}", "{sn}", false);
        const std::vector<std::string> cosine = sineSteps("{in0}", "{out}", true);
        k.body.insert(k.body.end(), cosine.begin(), cosine.end());
        k.body.push_back("vdiv.f32 {out}, {sn}, {out}, repeat={rep}");
      } else {
        k.body = sineSteps("{in0}", "{out}", function == "cos");
      }
      // {c0} = 2^23 (rounding), {c1} = 1, {c2} = -1: scalars the prologue alone reads.
      k.scalars.insert(k.scalars.end(), {8388608.0f, 1.0f, -1.0f});
      k.prologue = {"vdup.f32 {c0}, {s11}, repeat=1", "vdup.f32 {c1}, {s12}, repeat=1", "vdup.f32 {c2}, {s13}, repeat=1"};
    } else {
      k.scalars = {-1.0f, 1.0f, float(M_PI / 4), float(M_PI / 2), 8.05374449538e-2f, -1.38776856032e-1f,
                   1.99777106478e-1f, -3.33329491539e-1f, 2.0f, 2.414213562373095f, 0.41421356237309503f, 0.0f};
      k.prologue = {"vdup.f32 {c0}, {s9}, repeat=1", "vdup.f32 {c1}, {s10}, repeat=1", "vdup.f32 {c2}, {s11}, repeat=1"};
      k.scratch.insert(k.scratch.end(), {{"{u}", emit::kRepeatBytes}, {"{a}", emit::kRepeatBytes}, {"{y}", emit::kRepeatBytes}});
      if (function == "atan") {
        k.body = arctangentSteps("{in0}", "{out}");
      } else {
        k.scratch.insert(k.scratch.end(), {{"{w}", emit::kRepeatBytes}, {"{v}", emit::kRepeatBytes}});
        k.body = {"vmuls.f32 {w}, {in0}, {s0}, repeat={rep}", "vadds.f32 {w}, {w}, {s1}, repeat={rep}",
                  "vadds.f32 {v}, {in0}, {s1}, repeat={rep}"};
        if (function == "asin")
          k.body.insert(k.body.end(), {"vmul.f32 {w}, {w}, {v}, repeat={rep}", "vsqrt.f32 {w}, {w}, repeat={rep}",
                                       "vdiv.f32 {w}, {in0}, {w}, repeat={rep}"});
        else
          k.body.insert(k.body.end(), {"vdiv.f32 {w}, {w}, {v}, repeat={rep}", "vsqrt.f32 {w}, {w}, repeat={rep}"});
        const std::vector<std::string> atan = arctangentSteps("{w}", "{out}");
        k.body.insert(k.body.end(), atan.begin(), atan.end());
        if (function == "acos") k.body.push_back("vmuls.f32 {out}, {out}, {s8}, repeat={rep}");
      }
    }
    static const std::map<std::string, std::string> kOpTypes = {{"sin", "Sin"}, {"cos", "Cos"}, {"tan", "Tan"},
                                                                {"asin", "Asin"}, {"acos", "Acos"}, {"atan", "Atan"}};
    unaryF32(op, kOpTypes.at(function.str()), std::move(k));
  }

  // ---- booleans (one byte per element, 0 or 1) ----
  // The vector unit compares into a bitmask (vcmp: bit i for element i, whatever the width) and
  // selects with one (vsel); it has no byte arithmetic, so booleans are widened to f16 (vconv
  // s8 -> f16), and 0/1 results are made as f16 and narrowed (vconv f16 -> s8). These kernels
  // count 128 elements per {rep}: one f16 or s8 repeat, two 4-byte ones ({rep2}).
  static constexpr int64_t kBoolRepeat = 128;

  // A boolean kernel's constants: {c0} f16 ones (an f32 1 in {c3}, converted twice into the two
  // halves of {c0}), {c1} zeros (the same bits at any width). Scalars s0 = 1, s1 = 0.
  static ElementwiseKernel booleanKernel(int64_t elements) {
    ElementwiseKernel k;
    k.elements = elements;
    k.repeatElements = kBoolRepeat;
    k.scalars = {1.0f, 0.0f};
    k.prologue = {"vdup.f32 {c3}, {s0}, repeat=1", "vconv.f32.f16 {c0}, {c3}, repeat=2, src_rep=0, dst_rep=4",
                  "vdup.f32 {c1}, {s1}, repeat=1"};
    return k;
  }
  // The body's tail: the bitmask {mask} as 0/1 bytes in {out}.
  static void maskToBooleans(ElementwiseKernel &k) {
    k.scratch.push_back({"{half}", kBoolRepeat * 2});
    k.body.push_back("vsel.f16 {half}, {c0}, {c1}, {mask}, repeat={rep}, src0_rep=0, src1_rep=0");
    k.body.push_back("vconv.f16.s8 {out}, {half}, repeat={rep}, dst_rep=4");
  }
  // Arithmetic, comparisons, selection, shifts and casts on integers other than int32
  // (ScalarElementwiseKernel): element by element on the scalar unit, whose registers are 64-bit
  // (the vector unit's integer lanes are int32 only). False for any other op (or type).
  bool scalarInteger(mlir::Operation &op) {
    mlir::Value decides = g::scalarIntegerOperand(&op);
    if (!decides) return false;
    std::string opType = op.getName().stripDialect().str(), kind = opType;
    if (auto mod = llvm::dyn_cast<g::ModOp>(op); mod && mod.getFmod()) kind = "fmod";
    if (auto compare = llvm::dyn_cast<g::CompareOp>(op)) kind = compare.getKind().str();
    if (auto shift = llvm::dyn_cast<g::BitShiftOp>(op)) opType = "BitShift", kind = shift.getLeft() ? "shl" : "shr";
    const bool f64In = elementOf(decides).isF64(), f64Out = elementOf(op.getResult(0)).isF64();
    if (llvm::isa<g::CastOp>(op))
      kind = f64In ? "f64_to_f32" : f64Out ? "f32_to_f64" : isBool(op.getResult(0)) ? "nonzero"
             : isF32(op.getResult(0)) ? "to_f32" : isF32(decides) ? "from_f32" : "cast";
    opType[0] = char(std::toupper(opType[0]));
    ScalarElementwiseKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.kind = kind;
    k.shape = shapeOf(op.getResult(0));
    k.out = f64Out ? IntegerElement{8, false} : integerElement(op.getResult(0));
    k.isUnsigned = !integerElement(decides).isSigned;
    std::vector<uint32_t> args;
    for (mlir::Value v : op.getOperands()) {
      if (llvm::isa<g::CastOp>(op) && !elementOf(v).isInteger()) { // a float's bits, as an unsigned integer of its width
        k.inputStrides.push_back(g::broadcastStrides(shapeOf(v), k.shape.size()));
        k.inputs.push_back({f64In ? 8 : 4, false});
        args.push_back(*tensor(v));
        continue;
      }
      if (!elementOf(v).isInteger()) {
        unsupported(op, "an integer " + kind + " needs integer operands (and a boolean condition)");
        return true;
      }
      k.inputStrides.push_back(g::broadcastStrides(shapeOf(v), k.shape.size()));
      k.inputs.push_back(integerElement(v));
      std::optional<uint32_t> t = tensor(v);
      if (!t) {
        unsupported(op, kNoOperand);
        return true;
      }
      args.push_back(*t);
    }
    args.push_back(result(op));
    addScalarElementwise(op, opType, k, std::move(args));
    return true;
  }

  // NonZero and Compress (CompactionKernel): the result reserves its bound; the kernel writes the
  // actual extent into an int64 tensor (extentOf_), which a model output after it names.
  void compaction(mlir::Operation &op) {
    mlir::Value input = op.getOperand(0);
    CompactionKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    mlir::Type element = elementOf(input);
    k.elementBytes = std::max(1, int(element.getIntOrFloatBitWidth() / 8));
    std::vector<uint32_t> args;
    for (mlir::Value v : op.getOperands())
      if (!require(op, {v}, args)) return;
    if (auto c = llvm::dyn_cast<g::CompressOp>(op)) {
      const std::vector<int64_t> shape = shapeOf(input);
      const size_t axis = size_t(c.getAxis());
      for (size_t d = 0; d < axis; ++d) k.outer *= shape[d];
      for (size_t d = axis + 1; d < shape.size(); ++d) k.inner *= shape[d];
      k.axisDim = shape[axis];
      k.bound = shapeOf(op.getResult(0))[axis];
    } else {
      k.nonZero = true;
      k.shape = shapeOf(input);
      if (element.isF16() || element.isF32() || element.isF64()) k.floatBits = int(element.getIntOrFloatBitWidth());
    }
    k.fillRemainder = readByOps(op);
    Expected<GeneratedKernel> gen = generateCompaction(k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    const uint32_t out = result(op);
    const uint32_t extent = scratch(opName(op) + "/extent", DType::I64, {});
    extentOf_[&op] = extent;
    args.push_back(out);
    args.push_back(extent);
    const std::string opType = k.nonZero ? "NonZero" : "Compress";
    if (k.elementBytes < 4 || !k.nonZero) // booleans (the condition) and narrow elements: whole words
      addSpillingKernelTask(op, opType, *gen, std::move(args));
    else
      addKernelTask(op, opType, *gen, std::move(args));
  }

  // Unique (UniqueKernel): four results, three of them as long as the unique slices are many,
  // which the kernel writes into one int64 extent tensor that all three name.
  void unique(mlir::Operation &op, g::UniqueOp o) {
    UniqueKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    const std::vector<int64_t> shape = shapeOf(o.getInput());
    const size_t axis = size_t(o.getAxis());
    for (size_t d = 0; d < axis; ++d) k.outer *= shape[d];
    for (size_t d = axis + 1; d < shape.size(); ++d) k.inner *= shape[d];
    k.slices = shape[axis];
    k.sorted = o.getSorted();
    mlir::Type element = elementOf(o.getInput());
    k.isFloat = element.isF32();
    k.elementBytes = std::max(1, int(element.getIntOrFloatBitWidth() / 8));
    if (llvm::isa<mlir::FloatType>(element) && !k.isFloat)
      return unsupported(op, "Unique of floats other than float32 has no kernel");
    if (element.isUnsignedInteger(64))
      return unsupported(op, "Unique of uint64 values has no kernel (its comparisons are signed)");
    k.isSigned = !element.isUnsignedInteger();
    std::vector<uint32_t> args;
    if (!require(op, {o.getInput()}, args)) return;
    k.fillRemainder = readByOps(op);
    Expected<GeneratedKernel> gen = generateUnique(k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    const uint32_t extent = scratch(opName(op) + "/extent", DType::I64, {});
    extentOf_[&op] = extent;
    for (mlir::Value r : op.getResults())
      args.push_back(newTensor(r, opName(op) + "/" + std::to_string(args.size() - 1), TensorKind::Activation));
    args.push_back(extent);
    args.push_back(scratch(opName(op) + "/first", DType::I64, {k.slices}));
    args.push_back(scratch(opName(op) + "/rank", DType::I64, {k.slices}));
    addSpillingKernelTask(op, "Unique", *gen, std::move(args));
  }

  // NonMaxSuppression's selection (NmsSelectKernel): its overlaps were composed from graph ops.
  void nmsSelect(mlir::Operation &op, g::NmsSelectOp o) {
    NmsSelectKernel k;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    const std::vector<int64_t> scores = shapeOf(o.getScores());
    k.batches = scores[0];
    k.classes = scores[1];
    k.boxes = scores[2];
    k.maxPerClass = int64_t(o.getMaxOutputBoxesPerClass());
    if (std::optional<llvm::APFloat> t = o.getScoreThreshold()) {
      k.hasScoreThreshold = true;
      k.scoreThreshold = t->convertToFloat();
    }
    std::vector<uint32_t> args;
    if (!require(op, {o.getScores(), o.getSuppress()}, args)) return;
    for (mlir::Value v : {o.getLimit(), o.getScoreLimit()})
      if (v && !require(op, {v}, args)) return;
    k.runtimeLimit = bool(o.getLimit());
    k.runtimeScoreThreshold = bool(o.getScoreLimit());
    k.fillRemainder = readByOps(op);
    k.bound = shapeOf(o.getResult())[0];
    Expected<GeneratedKernel> gen = generateNmsSelect(k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    const uint32_t out = result(op), extent = scratch(opName(op) + "/extent", DType::I64, {});
    extentOf_[&op] = extent;
    args.insert(args.end(), {out, extent, scratch(opName(op) + "/state", DType::I64, {k.boxes}),
                             scratch(opName(op) + "/selected", DType::I64, {k.boxes})});
    addSpillingKernelTask(op, "NonMaxSuppression", *gen, std::move(args)); // the booleans: whole words
  }

  static mlir::Type elementOf(mlir::Value v) { return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType(); }
  static IntegerElement integerElement(mlir::Value v) {
    mlir::Type t = llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType();
    return IntegerElement{std::max(1, int(t.getIntOrFloatBitWidth() / 8)), !t.isUnsignedInteger() && !t.isInteger(1)};
  }

  void addScalarElementwise(mlir::Operation &op, const std::string &opType, const ScalarElementwiseKernel &k,
                            std::vector<uint32_t> args) {
    Expected<GeneratedKernel> gen = generateScalarElementwise(k);
    if (!gen) {
      problems_.push_back(gen.error().message);
      return;
    }
    // Elements of 1 or 2 bytes are read and written as the 8-byte words that hold them: up to 7
    // bytes past a tensor's end (the plan's tail slack).
    auto narrow = [](IntegerElement e) { return e.bytes < 4; };
    if (narrow(k.out) || std::any_of(k.inputs.begin(), k.inputs.end(), narrow))
      addSpillingKernelTask(op, opType, *gen, std::move(args));
    else
      addKernelTask(op, opType, *gen, std::move(args));
  }

  // Tensor `from` (integers `fromType`) cast into tensor `to` (integers `toType`, wrapping) of
  // `shape`, element by element on the scalar unit.
  void scalarCast(mlir::Operation &op, uint32_t from, IntegerElement fromType, uint32_t to, IntegerElement toType,
                  const std::vector<int64_t> &shape) {
    ScalarElementwiseKernel k;
    k.name = opName(op) + (fromType.bytes == 4 && fromType.isSigned ? "/from_int32" : "/to_int32");
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.kind = "cast";
    k.shape = shape;
    k.inputStrides = {g::broadcastStrides(shape, shape.size())};
    k.inputs = {fromType};
    k.out = toType;
    addScalarElementwise(op, "Cast", k, {from, to});
  }

  static bool isBool(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isInteger(1);
  }
  static bool isI64(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isInteger(64);
  }
  static bool isI32(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType()).getElementType().isInteger(32);
  }

  // Equal, Greater, ...: float32 or int32 operands (each broadcast by the expand kernel when it
  // must be) compared into a bitmask, then 0/1 bytes.
  void compare(mlir::Operation &op, g::CompareOp o) {
    const bool i32 = isI32(o.getLhs());
    if (!i32 && !isF32(o.getLhs())) return unsupported(op, "only float32 and int32 comparisons have a kernel");
    std::optional<uint32_t> a = expanded(op, o.getLhs()), b = a ? expanded(op, o.getRhs()) : std::nullopt;
    if (!a || !b) return unsupported(op, "this broadcast of the compared tensors has no kernel yet");
    ElementwiseKernel k = booleanKernel(elements(op.getResult(0)));
    k.numInputs = 2;
    k.inputBytes = {4, 4};
    k.outBytes = 1;
    k.scratch = {{"{mask}", kBoolRepeat / 8}};
    k.body = {"vcmp." + o.getKind().str() + (i32 ? ".s32" : ".f32") + " {mask}, {in0}, {in1}, repeat={rep2}"};
    maskToBooleans(k);
    elementwise(op, "Compare", std::move(k), {*a, *b, result(op)});
  }

  // And, Or, Xor (min, max, |difference| of 0/1 values) and Not (equal to 0), in f16.
  void logical(mlir::Operation &op, llvm::StringRef kind, std::vector<mlir::Value> operands) {
    const int64_t n = elements(op.getResult(0));
    std::vector<uint32_t> args;
    for (mlir::Value v : operands) {
      std::optional<uint32_t> t = broadcastBooleans(op, v);
      if (!t) return unsupported(op, "this broadcast of booleans has no kernel yet");
      args.push_back(*t);
    }
    args.push_back(result(op));
    ElementwiseKernel k = booleanKernel(n);
    k.numInputs = int(operands.size());
    k.inBytes = k.outBytes = 1;
    k.scratch = {{"{h0}", kBoolRepeat * 2}, {"{h1}", kBoolRepeat * 2}};
    k.body = {"vconv.s8.f16 {h0}, {in0}, repeat={rep}, src_rep=4"};
    if (kind == "not") {
      k.scratch.push_back({"{mask}", kBoolRepeat / 8});
      k.body.push_back("vcmp.eq.f16 {mask}, {h0}, {c1}, repeat={rep}, src1_rep=0");
      maskToBooleans(k);
      return elementwise(op, "Not", std::move(k), std::move(args));
    }
    k.body.push_back("vconv.s8.f16 {h1}, {in1}, repeat={rep}, src_rep=4");
    if (kind == "and") k.body.push_back("vmin.f16 {h0}, {h0}, {h1}, repeat={rep}");
    else if (kind == "or") k.body.push_back("vmax.f16 {h0}, {h0}, {h1}, repeat={rep}");
    else k.body.insert(k.body.end(), {"vsub.f16 {h0}, {h0}, {h1}, repeat={rep}", "vabs.f16 {h0}, {h0}, repeat={rep}"});
    k.body.push_back("vconv.f16.s8 {out}, {h0}, repeat={rep}, dst_rep=4");
    elementwise(op, kind == "and" ? "And" : kind == "or" ? "Or" : "Xor", std::move(k), std::move(args));
  }

  // condition ? x : y for float32 or int32 x and y, each operand broadcast to the result first.
  void where(mlir::Operation &op, g::WhereOp o) {
    const bool i32 = isI32(o.getX());
    if (!i32 && !isF32(o.getX())) return unsupported(op, "only float32 and int32 selection has a kernel");
    std::optional<uint32_t> c = broadcastBooleans(op, o.getCondition());
    std::optional<uint32_t> x = c ? expanded(op, o.getX()) : std::nullopt, y = x ? expanded(op, o.getY()) : std::nullopt;
    if (!y) return unsupported(op, "this broadcast of the condition, x or y has no kernel yet");
    ElementwiseKernel k = booleanKernel(elements(op.getResult(0)));
    k.numInputs = 3;
    k.inputBytes = {1, 4, 4};
    k.scratch = {{"{mask}", kBoolRepeat / 8}, {"{half}", kBoolRepeat * 2}};
    k.body = {"vconv.s8.f16 {half}, {in0}, repeat={rep}, src_rep=4",
              "vcmp.ne.f16 {mask}, {half}, {c1}, repeat={rep}, src1_rep=0",
              std::string(i32 ? "vsel.s32" : "vsel.f32") + " {out}, {in1}, {in2}, {mask}, repeat={rep2}"};
    elementwise(op, "Where", std::move(k), {*c, *x, *y, result(op)});
  }

  // Booleans `v` broadcast to op's result shape: v's tensor when the shapes agree, else widened to
  // float32 0/1, expanded like any 4-byte tensor, and narrowed back (three small kernels).
  std::optional<uint32_t> broadcastBooleans(mlir::Operation &op, mlir::Value v) {
    std::optional<uint32_t> t = tensor(v);
    const std::vector<int64_t> shape = shapeOf(v), out = shapeOf(op.getResult(0));
    if (!t || shape == out) return t;
    const uint32_t wide = scratch(opName(op) + "/as_float", DType::F32, shape);
    elementwise(op, "Cast", booleansToFloats(elements(v)), {*t, wide});
    std::optional<uint32_t> e = expanded(op, wide, shape);
    if (!e) return std::nullopt;
    const uint32_t narrow = scratch(opName(op) + "/broadcast_bool", DType::Bool, out);
    elementwise(op, "Cast", floatsToBooleans(elements(op.getResult(0))), {*e, narrow});
    return narrow;
  }

  // Float32 as booleans: x != 0 (NaN too, as ONNX casts it).
  static ElementwiseKernel floatsToBooleans(int64_t elements) {
    ElementwiseKernel k = booleanKernel(elements);
    k.inBytes = 4;
    k.outBytes = 1;
    k.scratch = {{"{mask}", kBoolRepeat / 8}};
    k.body = {"vcmp.ne.f32 {mask}, {in0}, {c1}, repeat={rep2}, src1_rep=0"};
    maskToBooleans(k);
    return k;
  }

  // Booleans (bytes) as float32 0/1.
  static ElementwiseKernel booleansToFloats(int64_t elements) {
    ElementwiseKernel k;
    k.elements = elements;
    k.repeatElements = kBoolRepeat;
    k.inBytes = 1;
    k.scratch = {{"{half}", kBoolRepeat * 2}};
    k.body = {"vconv.s8.f16 {half}, {in0}, repeat={rep}, src_rep=4", "vconv.f16.f32 {out}, {half}, repeat={rep2}, src_rep=4"};
    return k;
  }

  void binary(mlir::Operation &op, const std::string &opType, const std::string &instr,
              mlir::Value lhs, mlir::Value rhs) {
    if (isI32(lhs) && isI32(rhs) && opType != "Div") { // the vector unit's s32 forms (wrapping), operands expanded
      std::optional<uint32_t> a = expanded(op, lhs), b = a ? expanded(op, rhs) : std::nullopt;
      if (!a || !b) return unsupported(op, "this broadcast of the operands has no kernel yet");
      ElementwiseKernel k;
      k.elements = elements(op.getResult(0));
      k.numInputs = 2;
      k.body = {std::string(instr).replace(instr.find(".f32"), 4, ".s32") + " {out}, {in0}, {in1}, repeat={rep}"};
      return elementwise(op, opType, std::move(k), {*a, *b, result(op)});
    }
    if (!isF32(lhs) || !isF32(rhs)) return unsupported(op, "only float32 and int32 (but for Div) operands have a vector kernel");
    const int64_t n = elements(op.getResult(0));
    {
      ElementwiseKernel k;
      k.numInputs = 2;
      k.body = {instr + " {out}, {in0}, {in1}, repeat={rep}"};
      if (opType == "Add" && upsampleAdd(op, lhs, rhs)) return;
      materializeScale(lhs);
      materializeScale(rhs);
      // Not for Div: the zero padding channels would become NaN and poison later convolutions.
      if (opType != "Div" && elementwiseNhwc16(op, opType, {lhs, rhs}, k)) return;
      const bool right = elements(rhs) == 1 && g::readF32Constant(rhs);
      const bool left = elements(lhs) == 1 && g::readF32Constant(lhs);
      if (right || left) {
        k.numInputs = 1;
        const float c = (*g::readF32Constant(right ? rhs : lhs))[0];
        k.scalars = {c};
        // Scalar forms where they are exact rewrites (x - c = x + (-c), c - x = -x + c, the
        // commutative ones either way); division keeps the broadcast block in UB.
        if (opType == "Add" || opType == "Mul" || opType == "Max" || opType == "Min") {
          const std::string scalarInstr = opType == "Add" ? "vadds" : opType == "Mul" ? "vmuls" : opType == "Max" ? "vmaxs" : "vmins";
          k.body = {scalarInstr + ".f32 {out}, {in0}, {s0}, repeat={rep}"};
        } else if (opType == "Sub" && right) {
          k.scalars = {-c};
          k.body = {"vadds.f32 {out}, {in0}, {s0}, repeat={rep}"};
        } else if (opType == "Sub") {
          k.scalars = {-1.0f, c};
          k.body = {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}", "vadds.f32 {out}, {out}, {s1}, repeat={rep}"};
        } else {
          k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1"};
          k.body = {instr + (right ? " {out}, {in0}, {c0}, repeat={rep}, src1_rep=0"
                                   : " {out}, {c0}, {in0}, repeat={rep}, src0_rep=0")};
        }
        if ((opType != "Div" || right) && elementwiseNhwc16(op, opType, {right ? lhs : rhs}, k)) return;
      }
    }
    ElementwiseKernel k;
    k.elements = n;
    std::vector<uint32_t> args;
    if (elements(lhs) == n && elements(rhs) == n && lhs.getType() == rhs.getType()) {
      if (!require(op, {lhs, rhs}, args)) return;
      k.numInputs = 2;
      k.body = {instr + " {out}, {in0}, {in1}, repeat={rep}"};
    } else if (bool right = elements(rhs) == 1 && elements(lhs) == n && g::readF32Constant(rhs);
               right || (elements(lhs) == 1 && elements(rhs) == n && g::readF32Constant(lhs))) {
      // x op c or c op x: the scalar is broadcast from a one-repeat UB block read with repeat
      // stride 0, so the operand order (which matters for sub and div) stays as written.
      mlir::Value tensorSide = right ? lhs : rhs, scalarSide = right ? rhs : lhs;
      if (!require(op, {tensorSide}, args)) return;
      k.numInputs = 1;
      k.scalars = {(*g::readF32Constant(scalarSide))[0]};
      k.prologue = {"vdup.f32 {c0}, {s0}, repeat=1"};
      k.body = {instr + (right ? " {out}, {in0}, {c0}, repeat={rep}, src1_rep=0"
                               : " {out}, {c0}, {in0}, repeat={rep}, src0_rep=0")};
    } else if (channelBroadcast(op, opType, std::string(instr).replace(instr.find(".f32"), 4, ".f16"), lhs, rhs)) {
      return;
    } else if (std::optional<uint32_t> a = expanded(op, lhs), b = a ? expanded(op, rhs) : std::nullopt; a && b) {
      // General numpy broadcasting: each broadcast operand expanded by DMA, then element-wise.
      args = {*a, *b};
      k.numInputs = 2;
      k.body = {instr + " {out}, {in0}, {in1}, repeat={rep}"};
    } else {
      // Broadcasts the expand kernel cannot take (it reports why): the host's element-wise kernel (AI CPU).
      if (!require(op, {lhs, rhs}, args)) return;
      addHostTask(op, opType, args, {result(op)}, "broadcast pattern without an NPU kernel yet");
      return;
    }
    args.push_back(result(op));
    elementwise(op, opType, std::move(k), std::move(args));
  }

  // `v` broadcast to op's result shape (f32): v's tensor when the shapes already agree, else a
  // scratch tensor filled by an expand kernel; nullopt (and no problem recorded) when the
  // expand kernel cannot take it.
  std::optional<uint32_t> expanded(mlir::Operation &op, mlir::Value v) {
    std::optional<uint32_t> src = tensor(v);
    if (!src) return src;
    return expanded(op, *src, shapeOf(v));
  }
  // The same for a 4-byte tensor of shape `in` already in the package.
  std::optional<uint32_t> expanded(mlir::Operation &op, uint32_t src, const std::vector<int64_t> &in) {
    const std::vector<int64_t> out = shapeOf(op.getResult(0));
    if (in == out) return src;
    ExpandKernel k;
    k.name = opName(op) + " (broadcast)";
    k.node = joined(onnxNodeNames(op.getLoc()));
    k.shape = out;
    k.strides = g::broadcastStrides(in, out.size());
    Expected<GeneratedKernel> gen = generateExpand(config_, k);
    if (!gen) return std::nullopt;
    uint32_t t = scratch(opName(op) + "/broadcast", p_.tensors[src].dtype, out); // any 4-byte type
    addSpillingKernelTask(op, "Expand", *gen, {src, t});
    return t;
  }

  // A fused clamp other than ReLU (which rides on FixPipe): an in-place vector clip after the cube.
  void clampAfterCube(mlir::Operation &op, uint32_t out, float min, float max) {
    ElementwiseKernel k;
    k.numInputs = 1;
    k.elements = p_.tensors[out].elementCount();
    k.scalars = {min, max};
    k.body = {"vmaxs.f32 {out}, {in0}, {s0}, repeat={rep}", "vmins.f32 {out}, {out}, {s1}, repeat={rep}"};
    elementwise(op, "Clip", std::move(k), {out, out});
  }

  // An f16 copy of an f32 operand for the cube: converted now for a constant (bit-exact to the
  // vector unit's RNE conversion), by a Cast kernel otherwise. Layout unchanged.
  std::optional<uint32_t> halfOperand(mlir::Operation &op, mlir::Value v) {
    auto type = llvm::cast<mlir::RankedTensorType>(v.getType());
    std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
    if (std::optional<std::vector<float>> values = g::readF32Constant(v)) {
      std::vector<uint8_t> packed(values->size() * 2);
      for (size_t i = 0; i < values->size(); ++i) {
        uint16_t h = isa::floatToHalf((*values)[i]);
        std::memcpy(&packed[i * 2], &h, 2);
      }
      return constant(opName(op) + "/f16_" + std::to_string(p_.tensors.size()), DType::F16, shape,
                      std::move(packed));
    }
    std::optional<uint32_t> in = tensor(v);
    if (!in) return std::nullopt;
    return castToHalf(op, *in);
  }

  // A cube operand as the matmul kernel reads it: a small runtime f32 tensor as it is (`f32` set:
  // the kernel's loads convert it), else an f16 copy (halfOperand). A Cast kernel of a few
  // thousand values costs ~1k cycles of GM round trips (PP-OCRv4 rec ran 18 of them, 21k cycles);
  // a large operand is cast once rather than read at twice the bytes by every tile that loads it.
  std::optional<uint32_t> cubeOperand(mlir::Operation &op, mlir::Value v, bool &f32) {
    constexpr int64_t kDirectF32Elements = 1 << 16;
    f32 = isF32(v) && elements(v) <= kDirectF32Elements && !v.getDefiningOp<g::ConstantOp>(); // (constants: halfOperand reads them once)
    return f32 ? tensor(v) : halfOperand(op, v);
  }

  // One cube kernel for op: `spec` has the shapes and options; a and b are the operands as stored.
  void cube(mlir::Operation &op, const std::string &opType, mlir::Value a, mlir::Value b, MatMulKernel spec,
            std::optional<uint32_t> bias, mlir::FloatAttr lo, mlir::FloatAttr hi) {
    std::optional<uint32_t> a16 = cubeOperand(op, a, spec.aF32);
    std::optional<uint32_t> b16 = cubeOperand(op, b, spec.bF32);
    if (!a16 || !b16) return unsupported(op, "operands must be tensors or readable constants");
    std::vector<uint32_t> args{*a16, *b16};
    if (bias) args.push_back(*bias);
    uint32_t out = result(op);
    args.push_back(out);
    spec.name = opName(op);
    spec.node = joined(onnxNodeNames(op.getLoc()));
    spec.hasBias = bias.has_value();
    const float inf = std::numeric_limits<float>::infinity();
    const float min = lo ? float(lo.getValueAsDouble()) : -inf, max = hi ? float(hi.getValueAsDouble()) : inf;
    spec.relu = min == 0.0f && max == inf;
    if (!addMatMulTask(op, opType, spec, std::move(args), modelMacsOf(op))) return;
    if ((lo || hi) && !spec.relu) clampAfterCube(op, out, min, max);
  }

  static std::vector<int64_t> shapeOf(mlir::Value v) {
    auto t = llvm::cast<mlir::RankedTensorType>(v.getType());
    return std::vector<int64_t>(t.getShape().begin(), t.getShape().end());
  }

  void matmul(mlir::Operation &op, mlir::Value lhs, mlir::Value rhs) {
    auto mm = llvm::cast<g::MatMulOp>(op);
    if (!isF32(lhs) || !isF32(rhs)) return unsupported(op, "only float32 matmul has a kernel");
    std::vector<int64_t> ls = shapeOf(lhs), rs = shapeOf(rhs);
    if (ls.size() >= 2 && rs.size() >= 2) {
      MatMulKernel spec;
      spec.k = ls.back();
      spec.n = rs.back();
      const int64_t m = ls[ls.size() - 2];
      std::vector<int64_t> lb(ls.begin(), ls.end() - 2), rb(rs.begin(), rs.end() - 2);
      auto product = [](const std::vector<int64_t> &v) {
        int64_t p = 1;
        for (int64_t d : v) p *= d;
        return p;
      };
      bool ok = spec.k > 0 && spec.n > 0 && m > 0;
      if (rb.empty()) { // [..., M, K] x [K, N]: leading dims fold into M (row-major)
        spec.m = m * product(lb);
      } else if (lb == rb || product(lb) == 1 || product(rb) == 1) { // same batch, or one shared
        spec.m = m;
        spec.batch = std::max(product(lb), product(rb));
        spec.strideA = product(lb) == 1 && !lb.empty() && lb != rb ? 0 : m * spec.k;
        spec.strideB = product(rb) == 1 && lb != rb ? 0 : spec.k * spec.n;
        spec.strideC = m * spec.n;
        if (lb.size() != rb.size() && product(lb) != 1 && product(rb) != 1) ok = false;
      } else {
        ok = false;
      }
      if (ok)
        return cube(op, "MatMul", lhs, rhs, spec, std::nullopt, mm.getClampMinAttr(), mm.getClampMaxAttr());
    }
    if (mm.getClampMinAttr() || mm.getClampMaxAttr())
      return unsupported(op, "a fused clamp on a broadcast or 1-D matmul has no kernel yet");
    std::vector<uint32_t> args;
    if (!require(op, {lhs, rhs}, args)) return;
    addHostTask(op, "MatMul", args, {result(op)}, "1-D or mixed-broadcast matmul without an NPU kernel yet");
  }

  void gemm(mlir::Operation &op, g::GemmOp o) {
    if (!isF32(o.getA()) || !isF32(o.getB())) return unsupported(op, "only float32 gemm has a kernel");
    std::vector<int64_t> as = shapeOf(o.getA()), bs = shapeOf(o.getB());
    MatMulKernel spec;
    spec.transA = o.getTransA();
    spec.transB = o.getTransB();
    spec.m = spec.transA ? as[1] : as[0];
    spec.k = spec.transA ? as[0] : as[1];
    spec.n = spec.transB ? bs[0] : bs[1];
    spec.alpha = o.getAlpha().convertToFloat();
    std::optional<uint32_t> bias;
    if (o.getC()) {
      const float beta = o.getBeta().convertToFloat();
      const int64_t cElements = elements(o.getC());
      if (std::optional<std::vector<float>> c = g::readF32Constant(o.getC());
          c && (cElements == 1 || cElements == spec.n) && spec.alpha != 0.0f) {
        // One value per column: the cube's bias. FixPipe's alpha scales the bias too, so it is
        // stored divided by alpha.
        std::vector<float> values(size_t(spec.n));
        for (int64_t j = 0; j < spec.n; ++j)
          values[size_t(j)] = beta * (*c)[cElements == 1 ? 0 : size_t(j)] / spec.alpha;
        bias = f32Constant(opName(op) + "/bias", values);
      } else if (cElements == spec.n && spec.alpha != 0.0f && isF32(o.getC())) {
        // A runtime row of biases feeds the cube, scaled by beta / alpha on the vector unit first.
        bias = tensor(o.getC());
        if (bias && beta != spec.alpha) {
          uint32_t scaled = scratch(opName(op) + "/bias", DType::F32, {spec.n});
          ElementwiseKernel k;
          k.elements = spec.n;
          k.scalars = {beta / spec.alpha};
          k.body = {"vmuls.f32 {out}, {in0}, {s0}, repeat={rep}"};
          elementwise(op, "Mul", std::move(k), {*bias, scaled});
          bias = scaled;
        }
      } else {
        return gemmWithRuntimeC(op, o, spec);
      }
    }
    cube(op, "Gemm", o.getA(), o.getB(), spec, bias, o.getClampMinAttr(), o.getClampMaxAttr());
  }

  void gemmWithRuntimeC(mlir::Operation &op, g::GemmOp o, const MatMulKernel &spec) {
    if (o.getClampMinAttr() || o.getClampMaxAttr())
      return unsupported(op, "a fused clamp on a gemm with a runtime C has no kernel yet");
    const float beta = o.getBeta().convertToFloat();
    std::optional<uint32_t> a16 = halfOperand(op, o.getA()), b16 = halfOperand(op, o.getB());
    std::optional<uint32_t> c = tensor(o.getC());
    if (!a16 || !b16 || !c) return unsupported(op, "operands must be tensors or readable constants");
    MatMulKernel k = spec;
    k.name = opName(op);
    k.node = joined(onnxNodeNames(op.getLoc()));
    uint32_t product = scratch(opName(op) + "/product", DType::F32, {spec.m, spec.n});
    if (!addMatMulTask(op, "Gemm", k, {*a16, *b16, product}, modelMacsOf(op))) return;
    // C broadcast to [m, n] by DMA first when it is smaller (a bias row, a scalar).
    std::optional<uint32_t> full = p_.tensors[*c].elementCount() == spec.m * spec.n ? c : expanded(op, o.getC());
    uint32_t out = result(op);
    if (full) {
      // out = product + beta * C, on the vector unit (C is scaled in UB, not in GM).
      ElementwiseKernel add;
      add.numInputs = 2;
      add.elements = spec.m * spec.n;
      add.scalars = {beta};
      add.body = {"vmuls.f32 {in1}, {in1}, {s0}, repeat={rep}", "vadd.f32 {out}, {in0}, {in1}, repeat={rep}"};
      elementwise(op, "Add", std::move(add), {product, *full, out});
    } else if (beta == 1.0f) {
      addHostTask(op, "Add", {product, *c}, {out}, "broadcast of Gemm's C that the expand kernel cannot take");
    } else {
      unsupported(op, "beta != 1 with a broadcast runtime C has no kernel yet");
    }
  }

  void outputs(mlir::func::FuncOp func, mlir::func::ReturnOp ret) {
    for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
      auto name = func.getResultAttrOfType<mlir::StringAttr>(i, "onnx.name");
      std::string outName = name ? name.str() : "output" + std::to_string(i);
      std::optional<uint32_t> t = tensor(ret.getOperand(i));
      if (!t) {
        if (problems_.empty()) // otherwise the op that failed to produce it is already listed
          problems_.push_back(outName + ": output is not a tensor");
        continue;
      }
      pkg::Tensor &tensor = p_.tensors[*t];
      const uint32_t base = memoryOf(*t);
      // An activation, or a view (Reshape) of one, is the output as it is; the runtime copies it
      // out of the region after the last task (an extent known at run time: its actual shape).
      bool ownedActivation = tensor.kind == TensorKind::Activation && p_.tensors[base].kind == TensorKind::Activation;
      const auto dependence = dependences_.find(ret.getOperand(i));
      const bool dataDependent = dependence != dependences_.end() && dependence->second.unsupported.empty();
      if (ownedActivation) {
        tensor.kind = TensorKind::Output;
        tensor.name = outName;
        if (dataDependent) {
          auto extent = extentOf_.find(dependence->second.root);
          if (extent == extentOf_.end()) { // (its root has no kernel: listed already)
            if (problems_.empty()) problems_.push_back(outName + ": its extent has no kernel to write it");
            continue;
          }
          tensor.dynamicAxis = dependence->second.axis;
          tensor.extentTensor = extent->second;
        }
        p_.outputs.push_back(*t);
        continue;
      }
      if (dataDependent) {
        problems_.push_back(outName + ": a data-dependent output (" + tensor.name + ") can be one model output only");
        continue;
      }
      // Inputs, constants, views and repeated outputs get their own copy, so each output owns
      // exactly its bytes.
      uint32_t copy = scratch(outName, tensor.dtype, tensor.shape);
      p_.tensors[copy].kind = TensorKind::Output;
      pkg::Task task;
      task.name = outName;
      task.opType = "Copy";
      task.isHost = true;
      task.host.opType = "Copy";
      task.host.inputs = {*t};
      task.host.outputs = {copy};
      p_.tasks.push_back(std::move(task));
      p_.outputs.push_back(copy);
    }
  }

  // Every convolution's kernel (conv() leaves them for now), fused with its neighbours where the
  // pair's intermediate feature map is read by nothing else:
  // - the element-wise kernel after it as its epilogue, when that kernel's inputs are only the
  //   convolution's result (PP-OCRv4's hardswish and affine after each conv): ConvKernel::epilogue
  //   runs the body on each output tile in UB and the convolution writes the element-wise result;
  // - the depthwise convolution before a 1x1 one (BlazeFace's blocks): ConvKernel::depthwiseFirst
  //   runs it band by band into L1, where the 1x1 reads it.
  // Same bits; a task and a trip of a feature map through GM fewer each. A fused kernel that
  // cannot be made (the buffers too small for both) leaves the kernels as they were.
  void finishConvKernels() {
    for (size_t j = p_.tasks.size(); j-- > 0;) { // erasing task j + 1 keeps j and below in place
      auto conv = convOfTask_.find(j);
      if (conv == convOfTask_.end()) continue;
      if (mergeHeads(j)) { // task j - 1 is gone, the merged task is there: go on with j - 2
        --j;
        continue;
      }
      const pkg::Task &task = p_.tasks[j];
      const uint32_t mid = task.launch.tensors.back();
      // The element-wise kernel after it, when it may be the epilogue.
      std::optional<ElementwiseKernel> epilogue;
      if (auto ew = elementwiseOfTask_.find(j + 1);
          ew != elementwiseOfTask_.end() && j + 1 < p_.tasks.size() && !conv->second.outF32) {
        const pkg::Task &next = p_.tasks[j + 1];
        const std::vector<uint32_t> &ewArgs = next.launch.tensors;
        bool onlyMid = !next.isHost && ewArgs.size() >= 2;
        for (size_t a = 0; a + 1 < ewArgs.size(); ++a) onlyMid &= ewArgs[a] == mid;
        if (onlyMid && !readElsewhere(mid, j, j + 1)) epilogue = ew->second;
      }
      // The 2x2 max pooling of its result after it: written by the convolution too.
      const bool poolNext = !epilogue && maxPool2x2Tasks_.count(j + 1) && j + 1 < p_.tasks.size() &&
                            p_.tasks[j + 1].launch.tensors.front() == mid && !conv->second.outF32;
      // The depthwise convolution before it, when it may run first.
      std::optional<ConvKernel> depthwise;
      if (auto dw = j > 0 ? convOfTask_.find(j - 1) : convOfTask_.end(); dw != convOfTask_.end()) {
        const ConvKernel &d = dw->second, &k = conv->second;
        const std::vector<uint32_t> &args = task.launch.tensors;
        const uint32_t dwOut = p_.tasks[j - 1].launch.tensors.back();
        const bool chains = d.depthwise && !d.residual && !k.depthwise && k.kh == 1 && k.kw == 1 && k.sh == 1 &&
                            k.sw == 1 && k.pt == 0 && k.pl == 0 && k.pb == 0 && k.pr == 0;
        if (chains && args[0] == dwOut && std::count(args.begin(), args.end(), dwOut) == 1 &&
            !readElsewhere(dwOut, j - 1, j))
          depthwise = d;
      }
      // The most fused kernel that can be made.
      std::optional<GeneratedKernel> gen;
      ConvKernel made;
      std::vector<std::string> madeNodes;
      for (int withDw = depthwise ? 1 : 0; withDw >= 0 && !gen; --withDw)
        for (int withEpilogue = epilogue || poolNext ? 1 : 0; withEpilogue >= 0 && !gen; --withEpilogue) {
          ConvKernel k = conv->second;
          std::vector<std::string> nodes = withDw ? p_.tasks[j - 1].onnxNodes : std::vector<std::string>{};
          auto addNodes = [&](const pkg::Task &t) {
            for (const std::string &node : t.onnxNodes)
              if (!llvm::is_contained(nodes, node)) nodes.push_back(node);
          };
          addNodes(task);
          if (withEpilogue) { // the element-wise kernel after it, or the pooling
            k.epilogue = epilogue;
            k.maxPool2x2 = poolNext;
            addNodes(p_.tasks[j + 1]);
          }
          if (withDw) k.depthwiseFirst = std::make_shared<const ConvKernel>(*depthwise);
          k.node = joined(nodes); // the debug map: every instruction answers to all of them
          Expected<GeneratedKernel> attempt = generateConv(config_, k);
          if (attempt) {
            gen = std::move(*attempt);
            made = std::move(k);
            madeNodes = std::move(nodes);
          } else if (!withDw && !withEpilogue) {
            problems_.push_back(attempt.error().message);
          }
        }
      if (!gen) continue;
      pkg::Task &t = p_.tasks[j];
      std::string opType = (made.depthwiseFirst ? p_.tasks[j - 1].opType + "+" : std::string()) + t.opType +
                           (made.epilogue || made.maxPool2x2 ? "+" + p_.tasks[j + 1].opType : std::string());
      if (made.depthwiseFirst) t.name = p_.tasks[j - 1].name + "+" + t.name;
      std::optional<uint32_t> index = kernelIndex(t.name, opType, *gen);
      if (!index) continue;
      t.launch.kernel = *index;
      t.launch.blockDim = uint32_t(gen->blockDim);
      t.opType = opType;
      if (made.depthwiseFirst) t.modelMacs += p_.tasks[j - 1].modelMacs;
      t.onnxNodes = std::move(madeNodes);
      if (made.maxPool2x2) { // the pooling's output becomes the kernel's last argument
        t.launch.tensors.push_back(p_.tasks[j + 1].launch.tensors.back());
        p_.tasks.erase(p_.tasks.begin() + std::ptrdiff_t(j + 1));
      }
      if (made.epilogue) {
        // The convolution's own result is never written now: it views the fused kernel's output.
        const uint32_t out = p_.tasks[j + 1].launch.tensors.back();
        p_.tensors[mid].aliasOf = out;
        t.launch.tensors.back() = out;
        p_.tasks.erase(p_.tasks.begin() + std::ptrdiff_t(j + 1));
      }
      if (made.depthwiseFirst) {
        // The depthwise's input, weights and bias replace the 1x1's input; its result is never
        // written (nothing reads it: no GM is planned for it).
        const std::vector<uint32_t> &dwArgs = p_.tasks[j - 1].launch.tensors;
        t.launch.tensors.erase(t.launch.tensors.begin());
        t.launch.tensors.insert(t.launch.tensors.begin(), dwArgs.begin(), dwArgs.begin() + 3);
        p_.tasks.erase(p_.tasks.begin() + std::ptrdiff_t(j - 1));
        convOfTask_.erase(j - 1);
        --j; // task j - 1 is gone: the loop goes on with j - 2
      }
    }
  }

  // Two detection heads on the same input (tasks j - 1 and j, same geometry, constant weights):
  // one convolution whose output channels are both heads' (each padded to 16), writing each
  // head's NHWC f32 output (ConvKernel::secondFrom). Same bits, one launch fewer. False (nothing
  // changed) when they do not qualify or the merged kernel does not fit one N tile.
  bool mergeHeads(size_t j) {
    if (j == 0) return false;
    auto ha = headOfTask_.find(j - 1), hb = headOfTask_.find(j);
    if (ha == headOfTask_.end() || hb == headOfTask_.end() || !convOfTask_.count(j - 1)) return false;
    const ConvKernel &a = convOfTask_.at(j - 1), &b = convOfTask_.at(j);
    const pkg::Task &ta = p_.tasks[j - 1], &tb = p_.tasks[j];
    auto geometry = [](const ConvKernel &k) {
      return std::make_tuple(k.n, k.h, k.w, k.cip, k.kh, k.kw, k.sh, k.sw, k.dh, k.dw, k.pt, k.pl, k.pb, k.pr, k.ho,
                             k.wo, k.relu);
    };
    if (ta.launch.tensors[0] != tb.launch.tensors[0] || geometry(a) != geometry(b) || a.residual || b.residual ||
        a.depthwise || b.depthwise || !a.outF32 || !b.outF32 || ha->second.cin != hb->second.cin)
      return false;
    ConvKernel k = a;
    k.name = a.name + "+" + b.name;
    k.node = joined(ta.onnxNodes) + "," + joined(tb.onnxNodes);
    k.cop = a.cop + b.cop;
    k.secondFrom = a.cop;
    k.secondChannels = b.outChannels;
    Expected<ConvTiling> tiling = planConv(config_, k);
    if (!tiling || tiling->nt < k.cop) return false;
    const int64_t cin = ha->second.cin, taps = k.kh * k.kw, rowA = cin * taps;
    std::vector<float> dense(size_t(k.cop * rowA), 0.0f), bias(size_t(k.cop), 0.0f);
    std::copy(ha->second.weights.begin(), ha->second.weights.end(), dense.begin());
    std::copy(hb->second.weights.begin(), hb->second.weights.end(), dense.begin() + std::ptrdiff_t(k.secondFrom * rowA));
    std::copy(ha->second.bias.begin(), ha->second.bias.end(), bias.begin());
    std::copy(hb->second.bias.begin(), hb->second.bias.end(), bias.begin() + std::ptrdiff_t(k.secondFrom));
    Expected<GeneratedKernel> gen = generateConv(config_, k);
    if (!gen) return false;
    const std::string name = ta.name + "+" + tb.name;
    const uint32_t wt = halfConstant(name + "/weight", packConvWeights(k, *tiling, dense, k.cop, cin));
    const uint32_t bt = f32Constant(name + "/bias", bias);
    std::optional<uint32_t> index = kernelIndex(name, "Conv+Conv", *gen);
    if (!index) return false;
    pkg::Task merged = tb;
    merged.name = name;
    merged.opType = "Conv+Conv";
    merged.onnxNodes = ta.onnxNodes;
    for (const std::string &node : tb.onnxNodes)
      if (!llvm::is_contained(merged.onnxNodes, node)) merged.onnxNodes.push_back(node);
    merged.modelMacs = ta.modelMacs + tb.modelMacs;
    merged.launch.kernel = *index;
    merged.launch.blockDim = uint32_t(gen->blockDim);
    merged.launch.tensors = {ta.launch.tensors[0], wt, bt, ta.launch.tensors.back(), tb.launch.tensors.back()};
    p_.tasks[j] = std::move(merged);
    p_.tasks.erase(p_.tasks.begin() + std::ptrdiff_t(j - 1));
    for (size_t at : {j - 1, j}) {
      convOfTask_.erase(at);
      headOfTask_.erase(at);
    }
    return true;
  }

  // A kernel's result takes the memory of its first operand when nothing after it reads that
  // memory and the kernel can run in place (inPlaceCandidates_: each of its items loads its part
  // of the operand before it stores the same part of the result, and items are disjoint). The L2
  // then holds one feature map where it held two (PP-OCRv4 det's 160x160x96 level is 4.9 MB in an
  // 8 MB L2), and the memory plan needs one fewer. Never a model input's memory (the runtime
  // reads inputs from the caller's buffers in place: runtime.md).
  void writeResultsInPlace() {
    for (auto [x, out] : inPlaceCandidates_) {
      size_t j = 0;
      while (j < p_.tasks.size() && (p_.tasks[j].isHost || p_.tasks[j].launch.tensors.empty() ||
                                     p_.tasks[j].launch.tensors.back() != out))
        ++j;
      const uint32_t memory = memoryOf(x);
      if (j == p_.tasks.size() || memory == out || p_.tensors[memory].kind != TensorKind::Activation ||
          p_.tensors[out].aliasOf != pkg::kNoAlias || p_.tensors[out].isDataDependent() ||
          p_.tensors[x].dataBytes() != p_.tensors[out].dataBytes() ||
          p_.tensors[memory].dataBytes() < p_.tensors[out].dataBytes())
        continue;
      // Read (or written) by nothing after task j, returned by nothing, and no other argument of
      // task j (the upsampled map, the scales) in the same memory.
      bool alone = true;
      for (uint32_t o : p_.outputs) alone = alone && memoryOf(o) != memory;
      const std::vector<uint32_t> &args = p_.tasks[j].launch.tensors;
      for (size_t a = 1; a + 1 < args.size(); ++a) alone = alone && memoryOf(args[a]) != memory;
      for (size_t k = j + 1; k < p_.tasks.size() && alone; ++k) {
        const pkg::Task &t = p_.tasks[k];
        for (const std::vector<uint32_t> *list : {&t.launch.tensors, &t.host.inputs, &t.host.outputs})
          for (uint32_t v : *list) alone = alone && memoryOf(v) != memory;
      }
      if (!alone) continue;
      p_.tensors[out].aliasOf = memory;
      if (tailSlack_.count(out)) tailSlack_.insert(memory);
    }
  }

  // The tensor whose memory `t` is: itself, or the end of its chain of views.
  uint32_t memoryOf(uint32_t t) const {
    while (p_.tensors[t].aliasOf != pkg::kNoAlias) t = p_.tensors[t].aliasOf;
    return t;
  }

  // Whether any task but `a` and `b` reads tensor `t` (or a view of it), or the model returns it.
  bool readElsewhere(uint32_t t, size_t a, size_t b) const {
    auto isT = [&](uint32_t x) {
      while (x != t && p_.tensors[x].aliasOf != pkg::kNoAlias) x = p_.tensors[x].aliasOf;
      return x == t;
    };
    for (uint32_t o : p_.outputs)
      if (isT(o)) return true;
    for (size_t j = 0; j < p_.tasks.size(); ++j) {
      if (j == a || j == b) continue;
      const pkg::Task &task = p_.tasks[j];
      for (uint32_t x : task.isHost ? task.host.inputs : task.launch.tensors)
        if (isT(x)) return true;
      if (task.isHost)
        for (uint32_t x : task.host.outputs)
          if (isT(x)) return true;
    }
    return false;
  }

  // Tensors no task, input or output refers to (directly or as the base of a view): the
  // intermediate results fused kernels keep on chip. Removed, the rest renumbered in order.
  void dropUnreferencedTensors() {
    std::vector<bool> used(p_.tensors.size(), false);
    auto use = [&](uint32_t t) {
      for (; !used[t]; t = p_.tensors[t].aliasOf) {
        used[t] = true;
        if (p_.tensors[t].aliasOf == pkg::kNoAlias) break;
      }
    };
    for (const pkg::Task &t : p_.tasks)
      for (const std::vector<uint32_t> *list : {&t.launch.tensors, &t.host.inputs, &t.host.outputs})
        for (uint32_t x : *list) use(x);
    for (uint32_t x : p_.inputs) use(x);
    for (uint32_t x : p_.outputs) use(x);
    std::vector<uint32_t> newIndex(p_.tensors.size(), UINT32_MAX);
    std::vector<pkg::Tensor> kept;
    for (size_t i = 0; i < p_.tensors.size(); ++i)
      if (used[i]) {
        newIndex[i] = uint32_t(kept.size());
        kept.push_back(std::move(p_.tensors[i]));
      }
    if (kept.size() == p_.tensors.size()) {
      p_.tensors = std::move(kept);
      return;
    }
    for (pkg::Tensor &t : kept) {
      if (t.aliasOf != pkg::kNoAlias) t.aliasOf = newIndex[t.aliasOf];
      if (t.extentTensor != pkg::kNoAlias) t.extentTensor = newIndex[t.extentTensor];
    }
    auto renumber = [&](std::vector<uint32_t> &list) {
      for (uint32_t &x : list) x = newIndex[x];
    };
    for (pkg::Task &t : p_.tasks) {
      renumber(t.launch.tensors);
      renumber(t.host.inputs);
      renumber(t.host.outputs);
    }
    renumber(p_.inputs);
    renumber(p_.outputs);
    p_.tensors = std::move(kept);
    // The builder's own tables by tensor index (for planMemory).
    std::set<uint32_t> slack;
    for (uint32_t t : tailSlack_)
      if (newIndex[t] != UINT32_MAX) slack.insert(newIndex[t]);
    tailSlack_ = std::move(slack);
  }

  // Kernels whose tasks were replaced by a fused kernel: removed; the others numbered in the
  // order the tasks first launch them (convolutions' kernels are made last), task indices
  // renumbered.
  void dropUnusedKernels() {
    const std::vector<uint32_t> newIndex = pkg::renumberKernelsByFirstLaunch(p_);
    const size_t kept = p_.kernels.size();
    // The listings (--compile-to=kernel|npu) are indexed like the kernels.
    for (std::vector<std::string> *listing : {kernelAssembly_, kernelNpu_})
      if (listing) {
        std::vector<std::string> keptText(kept);
        for (size_t i = 0; i < listing->size() && i < newIndex.size(); ++i)
          if (newIndex[i] != UINT32_MAX) keptText[newIndex[i]] = std::move((*listing)[i]);
        *listing = std::move(keptText);
      }
  }

  // ---- memory plan ----
  Status planMemory() {
    const size_t n = p_.tensors.size();
    // Live range [first, last] in task indices; inputs live from the start, outputs to the end.
    const int end = int(p_.tasks.size());
    std::vector<int> first(n, std::numeric_limits<int>::max()), last(n, -1);
    auto touch = [&](uint32_t t, int at) {
      t = memoryOf(t);
      first[t] = std::min(first[t], at);
      last[t] = std::max(last[t], at);
    };
    for (int i = 0; i < end; ++i) {
      const pkg::Task &task = p_.tasks[size_t(i)];
      for (uint32_t t : task.isHost ? task.host.inputs : task.launch.tensors) touch(t, i);
      for (uint32_t t : task.host.outputs) touch(t, i);
    }
    for (uint32_t t : p_.inputs) touch(t, -1);
    for (uint32_t t : p_.outputs) {
      touch(t, end);
      // A data-dependent output's extent is read with it, after the last task.
      if (p_.tensors[t].extentTensor != pkg::kNoAlias) touch(p_.tensors[t].extentTensor, end);
    }

    uint64_t top = 0;
    std::set<uint32_t> slack; // by base tensor
    for (uint32_t t : tailSlack_) slack.insert(memoryOf(t));
    auto reserve = [&](const pkg::Tensor &t) {
      const uint32_t index = uint32_t(&t - p_.tensors.data());
      uint64_t bytes = std::max<uint64_t>(t.dataBytes(), 1) + (slack.count(index) ? uint64_t(kTailSlackBytes) : 0);
      return (bytes + pkg::kTensorAlignment - 1) / pkg::kTensorAlignment * pkg::kTensorAlignment;
    };
    for (pkg::Tensor &t : p_.tensors)
      if (t.kind == TensorKind::Constant) {
        t.offset = top;
        t.bytes = reserve(t);
        top += t.bytes;
      }
    const uint64_t dynamicBase = top;
    // First fit, largest first, against every already placed tensor whose range overlaps.
    std::vector<uint32_t> order;
    for (uint32_t i = 0; i < n; ++i)
      if (p_.tensors[i].kind != TensorKind::Constant && p_.tensors[i].aliasOf == pkg::kNoAlias &&
          last[i] >= first[i])
        order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return reserve(p_.tensors[a]) > reserve(p_.tensors[b]); });
    std::vector<uint32_t> placed;
    for (uint32_t t : order) {
      pkg::Tensor &tensor = p_.tensors[t];
      tensor.bytes = reserve(tensor);
      std::vector<std::pair<uint64_t, uint64_t>> busy;
      for (uint32_t o : placed)
        if (first[o] <= last[t] && first[t] <= last[o])
          busy.push_back({p_.tensors[o].offset, p_.tensors[o].offset + p_.tensors[o].bytes});
      std::sort(busy.begin(), busy.end());
      uint64_t at = dynamicBase;
      for (auto [lo, hi] : busy) {
        if (at + tensor.bytes <= lo) break;
        at = std::max(at, hi);
      }
      tensor.offset = at;
      top = std::max(top, at + tensor.bytes);
      placed.push_back(t);
    }
    for (uint32_t i = 0; i < n; ++i)
      if (p_.tensors[i].aliasOf != pkg::kNoAlias) {
        const pkg::Tensor &b = p_.tensors[memoryOf(i)];
        p_.tensors[i].offset = b.offset;
        p_.tensors[i].bytes = b.bytes;
      }
    p_.gmBytes = top;
    if (top > uint64_t(config_.chip.gmSizeBytes))
      return Error::badInput(source_ + ": GM overflow: the model needs " + std::to_string(top) +
                             " bytes of global memory, target '" + config_.name + "' has " +
                             std::to_string(config_.chip.gmSizeBytes));
    return Status::success();
  }

  const ChipConfig &config_;
  std::string source_;
  std::string kernelDir_;
  // For finishConvKernels, by task index: convolutions still without a kernel, and element-wise
  // kernels on NHWC16 (the whole fused chain).
  static constexpr uint32_t kKernelLater = UINT32_MAX;
  std::map<size_t, ConvKernel> convOfTask_;
  std::map<size_t, ResizeNearestKernel> resizeOfTask_; // nearest upsamplings, by task index
  std::map<size_t, ChannelOpKernel> channelOpOfTask_;   // per-channel operations, by task index
  // Per-channel products not emitted (scalesAnUpsampledSum): the Mul, its NHWC16 input and vector.
  struct DeferredScale {
    mlir::Operation *op;
    uint32_t x, vector;
    bool perImage;
  };
  llvm::DenseMap<mlir::Value, DeferredScale> deferredScales_;
  std::set<size_t> maxPool2x2Tasks_;                   // 2x2 stride-2 max poolings, by task index
  // Detection heads' convolutions (NHWC f32 outputs) with constant weights: their dense weights
  // [cout][cin][kh][kw] and bias, by task index.
  struct Head {
    std::vector<float> weights, bias;
    int64_t cout = 0, cin = 0;
  };
  std::map<size_t, Head> headOfTask_;
  std::map<size_t, ElementwiseKernel> elementwiseOfTask_;
  // Ops whose result the producing kernel wrote in their layout already (nothing left to do).
  std::set<mlir::Operation *> writtenByProducer_;
  std::vector<std::string> *kernelAssembly_;
  std::vector<std::string> *kernelNpu_;
  pkg::Package p_;
  llvm::DenseMap<mlir::Value, uint32_t> tensorOf_;  // ONNX form (NCHW for feature maps)
  // Values after an extent known only at run time, and the int64 tensor each root writes it to.
  llvm::DenseMap<mlir::Value, g::DataDependence> dependences_;
  std::map<mlir::Operation *, uint32_t> extentOf_;
  llvm::DenseMap<mlir::Value, uint32_t> nhwc16Of_;  // NHWC16 form, when made
  // NCHW views of a model's NHWC input with fewer than 16 channels: the NHWC tensor (f32 as the
  // model hands it in, or f16) and its channels (the NHWC16 form is made only when a consumer asks
  // for it).
  llvm::DenseMap<mlir::Value, UnpaddedInput> unpaddedNhwcOf_;
  llvm::DenseMap<mlir::Value, Slotted> slottedOf_; // (see Slotted)
  std::map<std::pair<int64_t, int64_t>, uint32_t> identities_;
  std::set<uint32_t> zeroPadded_; // NHWC16 tensors whose padding channels are known to be 0
  std::map<int64_t, uint32_t> onesOf_; // f16 rows of ones by length (cube global pooling)
  std::set<uint32_t> tailSlack_;  // tensors that kernels read or write up to kTailSlackBytes past the end
  // (first operand, result) of kernels that may run in place: upsample-adds (generateUpsampleAdd)
  // and per-channel ops (generateChannelOp) whose result has the operand's layout; their task is
  // the one whose last argument is the result (one writing a concatenation's slot instead is not).
  std::vector<std::pair<uint32_t, uint32_t>> inPlaceCandidates_;
  std::map<std::string, uint32_t> kernelOf_;
  std::vector<std::string> problems_;
};

} // namespace

Expected<pkg::Package> buildPackage(mlir::ModuleOp module, const ChipConfig &config,
                                    const std::string &sourceModel, const std::string &kernelDir,
                                    std::vector<std::string> *kernelAssembly, std::vector<std::string> *kernelNpu) {
  auto func = module.lookupSymbol<mlir::func::FuncOp>("main");
  if (!func) return Error::badInput(sourceModel + ": no function 'main' to compile");
  if (!kernelDir.empty())
    if (Status s = createDirectories(kernelDir); !s) return s.error();
  return Builder(config, sourceModel, kernelDir, kernelAssembly, kernelNpu).run(func);
}

} // namespace fractal::compiler
