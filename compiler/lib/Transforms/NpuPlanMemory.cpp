// fractal-npu-plan-memory: byte offsets for the npu.alloc buffers of a kernel (Passes.td).
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"


#include <algorithm>
#include <vector>

namespace fractal {
#define GEN_PASS_DEF_NPUPLANMEMORY
#include "fractal/compiler/Transforms/Passes.h.inc"
} // namespace fractal

namespace {

namespace npu = fractal::npu;

int64_t alignmentOf(npu::Space space) {
  return space == npu::Space::l0a || space == npu::Space::l0b || space == npu::Space::l0c ? 512 : 32;
}

struct Buffer {
  npu::AllocOp op;
  npu::Space space;
  int64_t bytes;
  int64_t first, last; // live range in op order
  int64_t offset = -1;
};

// The lowest aligned offset where `b` fits below the buffers already placed in its space: all
// of them, or only those whose lives overlap b's (the bytes b may share with the others).
int64_t firstFit(const std::vector<Buffer> &buffers, const Buffer &b, bool onlyOverlappingLives) {
  std::vector<std::pair<int64_t, int64_t>> taken;
  for (const Buffer &other : buffers)
    if (other.offset >= 0 && other.space == b.space &&
        (!onlyOverlappingLives || (other.first <= b.last && b.first <= other.last)))
      taken.push_back({other.offset, other.offset + other.bytes});
  std::sort(taken.begin(), taken.end());
  const int64_t align = alignmentOf(b.space);
  int64_t offset = 0;
  for (auto [begin, end] : taken) {
    if (offset + b.bytes <= begin) break;
    offset = std::max(offset, (end + align - 1) / align * align);
  }
  return offset;
}

struct NpuPlanMemoryPass : fractal::impl::NpuPlanMemoryBase<NpuPlanMemoryPass> {
  void runOnOperation() override {
    mlir::func::FuncOp func = getOperation();
    // Each buffer lives from its allocation to its last use (through loops it is used in).
    const npu::ProgramOrder order(func);
    std::vector<Buffer> buffers;
    func.walk([&](npu::AllocOp alloc) {
      const int64_t at = order.position.lookup(alloc);
      buffers.push_back({alloc, *npu::spaceOf(alloc.getBuffer().getType()), alloc.getSizeInBytes(), at,
                         std::max(at, order.lastUse(alloc.getBuffer()))});
    });
    if (buffers.empty()) return;

    auto capacities = func->getAttrOfType<mlir::DictionaryAttr>("npu.buffer_bytes");
    std::vector<Buffer *> largestFirst;
    for (Buffer &b : buffers) largestFirst.push_back(&b);
    std::stable_sort(largestFirst.begin(), largestFirst.end(),
                     [](const Buffer *a, const Buffer *b) { return a->bytes > b->bytes; });
    // Sharing bytes is not free: the pipes run ahead of program order, so a buffer's new owner
    // waits for its old one (fractal-npu-inject-sync orders them), which serialises a kernel's
    // prologue against its loop when the loop's tiles reuse the bytes of weights already moved
    // on. So a buffer gets bytes of its own while the space has room, and shares only the
    // bytes it must; if that greedy choice runs out of room, the plan starts over sharing
    // wherever lives allow (never failing where plain sharing would succeed).
    for (bool preferOwnBytes : {true, false}) {
      for (Buffer &b : buffers) b.offset = -1;
      bool fits = true;
      for (Buffer *b : largestFirst) {
        const std::string spaceName = npu::stringifySpace(b->space).str();
        auto capacity = capacities ? capacities.getAs<mlir::IntegerAttr>(spaceName) : mlir::IntegerAttr();
        if (!capacity) {
          b->op.emitOpError("kernel '") << func.getSymName() << "' has no npu.buffer_bytes entry for " << spaceName
                                        << " (the target's buffer size)";
          return signalPassFailure();
        }
        int64_t offset = firstFit(buffers, *b, /*onlyOverlappingLives=*/!preferOwnBytes);
        if (preferOwnBytes && offset + b->bytes > capacity.getInt())
          offset = firstFit(buffers, *b, /*onlyOverlappingLives=*/true);
        if (offset + b->bytes > capacity.getInt()) {
          fits = false;
          if (preferOwnBytes) break;
          b->op.emitOpError() << spaceName << " overflow in kernel '" << func.getSymName() << "': this buffer of "
                              << b->bytes << " bytes needs " << offset + b->bytes << " bytes of " << spaceName
                              << ", the target has " << capacity.getInt();
          return signalPassFailure();
        }
        b->offset = offset;
      }
      if (fits) break;
    }
    mlir::Builder builder(func.getContext());
    for (Buffer &b : buffers) b.op.setOffsetAttr(builder.getI64IntegerAttr(b.offset));
  }
};

} // namespace
