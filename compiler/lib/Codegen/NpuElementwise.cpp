// The element-wise kernel (KernelTemplates.h) through the npu dialect: chunks of the tensors go
// through two UB buffer sets (NpuKernelBuilder::itemLoop), then memory planning, sync injection
// and emission (NpuKernel.h). The body's vector instructions arrive as assembly templates
// ({in0} {in1} {out} {c0}..{c3} buffers, {s0}.. scalars, {rep} repeats) and become npu.vector
// ops, checked against the ISA by the dialect's verifier.
#include "NpuBuilder.h"

#include "EmitUtil.h"

#include "fractal/isa/Numerics.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <map>

namespace fractal::codegen {
namespace {

using emit::ceilDiv;
using emit::kMaxRepeat;
using emit::kRepeatBytes;

constexpr int kConstBuffers = 4;

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(' '));
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

bool usesPlaceholder(const ElementwiseKernel &k, const std::string &placeholder) {
  for (const auto *list : {&k.body, &k.prologue})
    for (const std::string &line : *list)
      if (line.find(placeholder) != std::string::npos) return true;
  return false;
}

class ElementwiseLowering {
public:
  ElementwiseLowering(const ChipConfig &config, const ElementwiseKernel &k)
      : config_(config), k_(k), kb_(config, k.name, k.node) {}

  Expected<GeneratedKernel> run() {
    if (k_.numInputs < 1 || k_.numInputs > 3 || (!k_.inputBytes.empty() && int(k_.inputBytes.size()) != k_.numInputs))
      return Error::internal(k_.name + ": an element-wise kernel takes 1 to 3 inputs, each with its element size");
    int widest = k_.outBytes;
    for (int i = 0; i < k_.numInputs; ++i) widest = std::max(widest, inputBytes(i));
    const int64_t perRepeat = k_.repeatElements > 0 ? k_.repeatElements : elementsPerRepeat(widest, k_.outBytes);
    const int64_t totalRepeats = ceilDiv(std::max<int64_t>(k_.elements, 1), perRepeat);
    // UB holds two sets (double buffering) of the input chunks (two at least: a unary body may
    // use {in1} as scratch), the output chunk and the scratch buffers, and kConstBuffers
    // one-repeat buffers of broadcast constants; a chunk is at most 255 vector repeats (one
    // instruction, {rep2} counting double) so the body never needs an inner loop.
    const int64_t ubBytes = config_.buffer(BufferKind::UB).sizeBytes;
    int64_t setRepeatBytes = perRepeat * k_.outBytes;
    for (int i = 0; i < std::max(k_.numInputs, 2); ++i) setRepeatBytes += perRepeat * inputBytes(std::min(i, k_.numInputs - 1));
    for (const auto &[name, bytes] : k_.scratch) setRepeatBytes += bytes;
    setRepeatBytes *= 2;
    const int64_t maxRepeat = usesPlaceholder(k_, "{rep2}") ? kMaxRepeat / 2 : kMaxRepeat;
    int64_t chunkRepeats = std::min(maxRepeat, (ubBytes - kConstBuffers * kRepeatBytes) / setRepeatBytes);
    if (chunkRepeats < 1)
      return Error::badInput(k_.name + ": UB overflow: one repeat of the element-wise kernel needs " +
                             std::to_string(setRepeatBytes) + " bytes, UB has " + std::to_string(ubBytes));
    // Scalars live in registers through the loop (those only the prologue reads are freed after it).
    if (k_.scalars.size() > 14) return Error::internal(k_.name + ": more than 14 scalars in one element-wise kernel");
    chunkRepeats = std::min(chunkRepeats, totalRepeats);
    const int64_t chunks = ceilDiv(totalRepeats, chunkRepeats);
    const int64_t tailRepeats = totalRepeats - (chunks - 1) * chunkRepeats;
    const int blockDim = int(std::min<int64_t>(config_.chip.cores, chunks));
    const int64_t chunkElements = chunkRepeats * perRepeat;

    // GM arguments padded to whole chunks (the memory plan pads tensors to whole repeats).
    std::vector<std::pair<mlir::Type, int64_t>> args;
    for (int i = 0; i < k_.numInputs; ++i) args.push_back({elementType(inputBytes(i)), chunks * chunkElements});
    args.push_back({elementType(k_.outBytes), chunks * chunkElements});
    kb_.begin(args, blockDim);
    for (int set = 0; set < 2; ++set) {
      for (int i = 0; i < 4; ++i) {
        const bool out = i == 3;
        const std::string name = out ? "{out}" : "{in" + std::to_string(i) + "}";
        if (!out && i >= k_.numInputs && !usesPlaceholder(k_, name)) continue;
        const int bytes = out ? k_.outBytes : inputBytes(std::min(i, k_.numInputs - 1));
        sets_[set][name] = kb_.alloc(npu::Space::ub, elementType(bytes), chunkElements);
      }
      for (const auto &[name, bytes] : k_.scratch)
        sets_[set][name] = kb_.alloc(npu::Space::ub, kb_.builder().getI8Type(), chunkRepeats * bytes);
    }
    VectorTemplates templates(kb_, k_);
    if (Status s = templates.lower(k_.prologue, 1, sets_[0]); !s) return s.error();

    // Chunk c on buffer set `set`: load the inputs, run the body, store the output.
    auto chunk = [&](mlir::Value c, int set, bool last) -> Status {
      const int64_t repeats = last ? tailRepeats : chunkRepeats;
      mlir::Value offset = kb_.mul(c, chunkElements), zero = kb_.index(0);
      for (int i = 0; i < k_.numInputs; ++i)
        kb_.dma(kb_.arg(size_t(i)), offset, sets_[set]["{in" + std::to_string(i) + "}"], zero, repeats * perRepeat);
      if (Status s = templates.lower(k_.body, repeats, sets_[set]); !s) return s;
      kb_.dma(sets_[set]["{out}"], zero, kb_.arg(size_t(k_.numInputs)), offset, repeats * perRepeat);
      return Status::success();
    };
    if (Status s = kb_.itemLoop(chunks, tailRepeats != chunkRepeats, chunk); !s) return s.error();
    return kb_.finish(k_.name + ": element-wise over " + std::to_string(k_.elements) + " elements, " +
                      std::to_string(chunks) + " chunk(s) of " + std::to_string(chunkRepeats) + " repeat(s), block_dim " +
                      std::to_string(blockDim));
  }

private:
  const ChipConfig &config_;
  const ElementwiseKernel &k_;
  NpuKernelBuilder kb_;
  std::map<std::string, mlir::Value> sets_[2];   // "{in0}" .. "{out}" and the scratch buffers, per buffer set

  int inputBytes(int i) const { return k_.inputBytes.empty() ? k_.inBytes : k_.inputBytes[size_t(i)]; }

  mlir::Type elementType(int bytes) {
    return bytes == 2 ? kb_.f16() : bytes == 1 ? mlir::Type(kb_.builder().getI8Type()) : kb_.f32();
  }
};

} // namespace

VectorTemplates::VectorTemplates(NpuKernelBuilder &kb, const ElementwiseKernel &k) : kb_(kb), k_(k) {
  mlir::OpBuilder &b = kb_.builder();
  mlir::Type scalarType = k_.halfScalars ? kb_.f16() : kb_.f32();
  for (int c = 0; c < kConstBuffers; ++c)
    if (usesPlaceholder(k_, "{c" + std::to_string(c) + "}"))
      constants_["{c" + std::to_string(c) + "}"] =
          kb_.alloc(npu::Space::ub, scalarType, kRepeatBytes * 8 / scalarType.getIntOrFloatBitWidth());
  for (size_t i = 0; i < k_.scalars.size(); ++i) {
    llvm::APFloat value = k_.halfScalars
                              ? llvm::APFloat(llvm::APFloat::IEEEhalf(), llvm::APInt(16, isa::floatToHalf(k_.scalars[i])))
                              : llvm::APFloat(k_.scalars[i]);
    constants_["{s" + std::to_string(i) + "}"] =
        b.create<mlir::arith::ConstantOp>(kb_.loc(), scalarType, b.getFloatAttr(scalarType, value));
  }
}

Status VectorTemplates::lower(const std::vector<std::string> &lines, int64_t repeats,
                              const std::map<std::string, mlir::Value> &buffers) {
  for (const std::string &line : lines) {
    auto bad = [&](const std::string &why) {
      return Error::internal(k_.name + ": element-wise template '" + line + "': " + why);
    };
    const size_t space = line.find(' ');
    if (space == std::string::npos) return bad("no operands");
    mlir::OpBuilder &b = kb_.builder();
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
        const int64_t number = value == "{rep}" ? repeats : value == "{rep2}" ? 2 * repeats : std::atoll(value.c_str());
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
    b.create<npu::VectorOp>(kb_.loc(), b.getStringAttr(line.substr(0, space)), operands, b.getI64IntegerAttr(repeat),
                            params.empty() ? mlir::DictionaryAttr() : b.getDictionaryAttr(params));
  }
  return Status::success();
}

Expected<GeneratedKernel> generateElementwise(const ChipConfig &config, const ElementwiseKernel &k) {
  return ElementwiseLowering(config, k).run();
}

} // namespace fractal::codegen
