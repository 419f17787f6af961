// Gathers and scatters with run-time indices on the scalar unit (KernelTemplates.h): the NLL
// loss's target gather (NllGatherKernel), Gather and GatherElements (GatherKernel), ScatterElements
// and ScatterND (ScatterKernel); and permutations element by element (ScalarPermuteKernel). Every scalar access is a 4- or 8-byte GM word, so nothing needs
// alignment.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <sstream>

namespace fractal::codegen {

Expected<GeneratedKernel> generateNllGather(const ChipConfig &, const NllGatherKernel &k) {
  if (k.n < 1 || k.c < 1 || k.d < 1) return Error::badInput(k.name + ": loss over an empty tensor has no kernel");
  std::ostringstream s;
  s << "# " << k.name << ": NLL gather of " << k.n * k.d << " targets over " << k.c << " classes (scalar unit)\n.node \""
    << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  int arg = 2;
  if (k.hasWeight) s << "  ld x4, gm[x1], offset=" << 8 * arg++ << "\n";
  s << "  ld x5, gm[x1], offset=" << 8 * arg << "\n  ld x6, gm[x1], offset=" << 8 * (arg + 1) << "\n";
  arg += 2;
  s << "  li x7, " << k.n * k.d << "\n  li x8, 0\n  li x9, " << k.d << "\n  li x10, " << k.c << "\n  li x11, "
    << k.ignoreIndex << "\n  li x12, " << emit::floatBits(1.0f) << "\n  li x23, " << 0x7fc00000 << "\n";
  s << "target:\n  beq x8, x7, done\n  shli x13, x8, 3\n  add x13, x13, x3\n  ld x14, gm[x13]\n  shli x15, x8, 2\n";
  if (k.hasIgnore) s << "  bne x14, x11, valid\n  li x19, 0\n  li x21, 0\n  jmp store\nvalid:\n";
  // t outside [0, c) (unsigned compare catches negatives): x = NaN, w = 1.
  s << "  mv x19, x23\n  mv x21, x12\n  bgeu x14, x10, store\n";
  s << "  div x16, x8, x9\n  rem x17, x8, x9\n  mul x18, x16, x10\n  add x18, x18, x14\n  mul x18, x18, x9\n"
       "  add x18, x18, x17\n  shli x18, x18, 2\n  add x18, x18, x2\n  ldw x19, gm[x18]\n";
  if (k.hasWeight) s << "  shli x20, x14, 2\n  add x20, x20, x4\n  ldw x21, gm[x20]\n";
  s << "store:\n  add x22, x5, x15\n  stw x19, gm[x22]\n  add x22, x6, x15\n  stw x21, gm[x22]\n  addi x8, x8, 1\n"
       "  jmp target\ndone:\n  end\n";
  return GeneratedKernel{s.str(), 1};
}

Expected<GeneratedKernel> generateGather(const ChipConfig &config, const GatherKernel &k) {
  if (k.elementBytes != 4 && k.elementBytes != 8)
    return Error::badInput(k.name + ": gather of " + std::to_string(k.elementBytes) + "-byte elements has no kernel");
  if (k.outer < 1 || k.axisDim < 1 || k.inner < 1 || k.count < 1)
    return Error::badInput(k.name + ": gather over an empty tensor has no kernel");
  const char *loadIndex = k.indexBytes == 8 ? "ld" : "ldw";
  const char *load = k.elementBytes == 8 ? "ld" : "ldw", *store = k.elementBytes == 8 ? "st" : "stw";
  std::ostringstream s;
  s << "# " << k.name << ": " << (k.elements ? "GatherElements" : "Gather") << " of " << k.count
    << " index(es), addresses on the scalar unit\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n"
    << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n  ld x4, gm[x1], offset=16\n  li x9, " << k.axisDim << "\n";
  // x14 = the index at x3 + x13 * indexBytes, made non-negative; out of range traps (x28 keeps
  // the index as read, for the trap's message).
  auto readIndex = [&]() {
    s << "  muli x15, x13, " << k.indexBytes << "\n  add x15, x15, x3\n  " << loadIndex << " x14, gm[x15]\n"
      << "  mv x28, x14\n  bge x14, x0, nonneg\n  add x14, x14, x9\nnonneg:\n  blt x14, x0, bad\n  bge x14, x9, bad\n";
  };
  if (!k.elements) {
    const int64_t rowBytes = k.inner * k.elementBytes;
    if (rowBytes > config.buffer(BufferKind::UB).sizeBytes)
      return Error::badInput(k.name + ": UB overflow: a gathered row of " + std::to_string(rowBytes) + " bytes");
    // x5 outer slice, x13 index number, x7 output row address; rows ascend, so store spills land
    // on rows written next.
    s << "  li x5, 0\n  mv x7, x4\nslice:\n  li x13, 0\nrow:\n";
    readIndex();
    s << "  muli x16, x5, " << k.axisDim << "\n  add x16, x16, x14\n  muli x16, x16, " << rowBytes
      << "\n  add x16, x16, x2\n  gm2ub ub[x0], gm[x16], len=" << (rowBytes + 31) / 32
      << "\n  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n  ub2gm gm[x7], ub[x0], len=" << (rowBytes + 31) / 32
      << "\n  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n  addi x7, x7, " << rowBytes
      << "\n  addi x13, x13, 1\n  li x17, " << k.count << "\n  blt x13, x17, row\n  addi x5, x5, 1\n  li x17, "
      << k.outer << "\n  blt x5, x17, slice\n  end\n";
  } else {
    const size_t rank = k.shape.size();
    if (rank == 0 || k.dataShape.size() != rank || k.axis < 0 || k.axis >= int64_t(rank))
      return Error::internal(k.name + ": GatherElements needs indices and data of the same rank");
    std::vector<int64_t> dataStride(rank, 1);
    for (size_t d = rank - 1; d > 0; --d) dataStride[d - 1] = dataStride[d] * k.dataShape[d];
    // x13 output element; its coordinates by div/rem over the indices' shape, innermost first.
    s << "  li x13, 0\nelement:\n";
    readIndex();
    s << "  mv x18, x13\n  li x16, 0\n";
    for (size_t d = rank; d-- > 0;) {
      s << "  li x19, " << k.shape[d] << "\n  rem x20, x18, x19\n  div x18, x18, x19\n";
      if (int64_t(d) == k.axis) s << "  mv x20, x14\n";
      s << "  muli x20, x20, " << dataStride[d] << "\n  add x16, x16, x20\n";
    }
    s << "  muli x16, x16, " << k.elementBytes << "\n  add x16, x16, x2\n  " << load << " x21, gm[x16]\n"
      << "  muli x17, x13, " << k.elementBytes << "\n  add x17, x17, x4\n  " << store << " x21, gm[x17]\n"
      << "  addi x13, x13, 1\n  li x17, " << k.count << "\n  blt x13, x17, element\n  end\n";
  }
  s << "bad:\n  trap x28, x9, code=1\n  end\n"; // index out of range (docs/isa.md)
  return GeneratedKernel{s.str(), 1};
}

// Argument order: data, indices, updates, result (GatherND: data, indices, result).
Expected<GeneratedKernel> generateScatter(const ChipConfig &config, const ScatterKernel &k) {
  const char *what = k.gatherNd ? "GatherND" : k.nd ? "ScatterND" : "ScatterElements";
  if (k.elementBytes != 4 && k.elementBytes != 8)
    return Error::badInput(k.name + ": " + what + " of " + std::to_string(k.elementBytes) + "-byte elements has no kernel");
  const size_t rank = k.dataShape.size();
  int64_t dataElements = 1, indexElements = 1;
  for (int64_t d : k.dataShape) dataElements *= d;
  for (int64_t d : k.indicesShape) indexElements *= d;
  if (dataElements < 1) return Error::badInput(k.name + ": " + what + " of an empty tensor has no kernel");
  std::vector<int64_t> dataStride(rank, 1);
  for (size_t d = rank; d-- > 1;) dataStride[d - 1] = dataStride[d] * k.dataShape[d];
  const char *loadIndex = k.indexBytes == 8 ? "ld" : "ldw";
  const char *load = k.elementBytes == 8 ? "ld" : "ldw", *store = k.elementBytes == 8 ? "st" : "stw";
  const bool reduce = !k.gatherNd && k.reduction != "none";
  const bool inUb = reduce && k.floats; // float32 reductions: the data in UB, combined by the vector unit
  if (reduce && k.reduction != "add" && k.reduction != "mul" && k.reduction != "max" && k.reduction != "min")
    return Error::badInput(k.name + ": " + what + " with reduction '" + k.reduction + "' has no kernel");
  if (inUb && k.elementBytes != 4)
    return Error::badInput(k.name + ": " + what + " with a reduction of " + std::to_string(k.elementBytes) +
                           "-byte floats has no kernel");
  std::ostringstream s;
  s << "# " << k.name << ": " << what << (reduce ? " (reduction " + k.reduction + ")" : "")
    << (k.gatherNd ? "" : inUb ? ", the data copied into UB, then" : ", the data copied by DMA, then")
    << " addresses and copies on the scalar unit" << (inUb ? ", each update combined by a masked vector op" : "")
    << "\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n"
    << "  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n  ld x4, gm[x1], offset=16\n";
  const int64_t blocks = (dataElements * k.elementBytes + 31) / 32;
  const int64_t ubBytes = config.buffer(BufferKind::UB).sizeBytes;
  if (inUb) {
    // The data stays in UB at address 0 while the updates are combined into it: it must fit, with
    // a repeat (256 bytes) of slack, since each op reads a whole repeat from its element's block.
    if (blocks * 32 + 256 > ubBytes || blocks > 65535)
      return Error::badInput(k.name + ": " + what + " with reduction '" + k.reduction + "' into " +
                             std::to_string(dataElements * k.elementBytes) + " bytes of float32 has no kernel yet " +
                             "(the data must fit UB, " + std::to_string(ubBytes - 256) + " bytes)");
    s << "  ld x5, gm[x1], offset=24\n  gm2ub ub[x0], gm[x2], len=" << blocks
      << "\n  set_flag mte2, v, 0\n  wait_flag mte2, v, 0\n";
  } else if (!k.gatherNd) {
    s << "  ld x5, gm[x1], offset=24\n";
    // The copy: chunks as large as UB, whole 32-byte blocks (the plan leaves slack past the ends).
    const int64_t chunkBlocks = std::min<int64_t>(65535, ubBytes / 32);
    if (blocks > chunkBlocks * 1024)
      return Error::badInput(k.name + ": scatter into more than " + std::to_string(chunkBlocks * 32 * 1024) +
                             " bytes has no kernel yet");
    for (int64_t first = 0; first < blocks; first += chunkBlocks) {
      const int64_t len = std::min(chunkBlocks, blocks - first);
      s << "  addi x16, x2, " << first * 32 << "\n  gm2ub ub[x0], gm[x16], len=" << len
        << "\n  set_flag mte2, mte3, 0\n  wait_flag mte2, mte3, 0\n  addi x17, x5, " << first * 32
        << "\n  ub2gm gm[x17], ub[x0], len=" << len << "\n  set_flag mte3, mte2, 0\n  wait_flag mte3, mte2, 0\n";
    }
    s << "  barrier all\n"; // the copy has landed before the scalar unit's stores
  }
  // The update in x21 into the data element at byte offset x16 (from the data's start): stored,
  // or combined with the element (integers: loaded, combined and stored by the scalar unit;
  // float32: in UB, by a vector op masked to the element's lane of its 32-byte block).
  auto combine = [&]() {
    if (inUb) {
      const char *op = k.reduction == "add" ? "vadds" : k.reduction == "mul" ? "vmuls" : k.reduction == "max" ? "vmaxs" : "vmins";
      s << "  shri x22, x16, 5\n  shli x22, x22, 5\n  andi x23, x16, 31\n  shri x23, x23, 2\n  li x24, 1\n"
        << "  shl x24, x24, x23\n  setmask x0, x24\n  " << op << ".f32 ub[x22], ub[x22], x21, repeat=1\n";
      return;
    }
    s << "  add x16, x16, x5\n";
    if (reduce) {
      const char *op = k.reduction == "add" ? "add" : k.reduction == "mul" ? "mul" : k.reduction == "max" ? "max" : "min";
      s << "  " << load << " x22, gm[x16]\n  " << op << " x21, x22, x21\n";
    }
    s << "  " << store << " x21, gm[x16]\n";
  };
  int labels = 0;
  // x14 = the index at byte address x15, made non-negative against `dim`; out of range traps
  // (x28 keeps the index as read, for the trap's message).
  auto readIndex = [&](int64_t dim) {
    const std::string ok = "nonneg" + std::to_string(labels++);
    s << "  " << loadIndex << " x14, gm[x15]\n  mv x28, x14\n  li x9, " << dim << "\n  bge x14, x0, " << ok
      << "\n  add x14, x14, x9\n"
      << ok << ":\n  blt x14, x0, bad\n  bge x14, x9, bad\n";
  };
  if (indexElements > 0 && !k.nd && !k.gatherNd) {
    // x13 update element; its coordinates by div/rem over the indices' shape, innermost first.
    s << "  li x13, 0\nelement:\n  muli x15, x13, " << k.indexBytes << "\n  add x15, x15, x3\n";
    readIndex(k.dataShape[size_t(k.axis)]);
    s << "  mv x18, x13\n  li x16, 0\n";
    for (size_t d = rank; d-- > 0;) {
      s << "  li x19, " << k.indicesShape[d] << "\n  rem x20, x18, x19\n  div x18, x18, x19\n";
      if (int64_t(d) == k.axis) s << "  mv x20, x14\n";
      s << "  muli x20, x20, " << dataStride[d] << "\n  add x16, x16, x20\n";
    }
    s << "  muli x16, x16, " << k.elementBytes << "\n  muli x17, x13, " << k.elementBytes
      << "\n  add x17, x17, x4\n  " << load << " x21, gm[x17]\n";
    combine();
    s << "  addi x13, x13, 1\n  li x17, " << indexElements << "\n  blt x13, x17, element\n";
  } else if (indexElements > 0) {
    // Index tuples: tuple x13 names the data slice at x16 (after its batch's offset); the slices
    // are laid out in tuple order at x17 (ScatterND's updates, GatherND's result).
    const int64_t b = k.gatherNd ? k.batchDims : 0, tupleSize = k.indicesShape.back(),
                  tuples = indexElements / tupleSize;
    int64_t slice = 1, batches = 1;
    for (size_t d = size_t(b + tupleSize); d < rank; ++d) slice *= k.dataShape[d];
    for (int64_t d = 0; d < b; ++d) batches *= k.dataShape[size_t(d)];
    s << "  li x13, 0\ntuple:\n  li x16, 0\n";
    if (b > 0)
      s << "  li x19, " << tuples / batches << "\n  div x16, x13, x19\n  muli x16, x16, " << dataStride[size_t(b - 1)] << "\n";
    for (int64_t i = 0; i < tupleSize; ++i) {
      s << "  muli x15, x13, " << tupleSize * k.indexBytes << "\n  addi x15, x15, " << i * k.indexBytes
        << "\n  add x15, x15, x3\n";
      readIndex(k.dataShape[size_t(b + i)]);
      s << "  muli x14, x14, " << dataStride[size_t(b + i)] << "\n  add x16, x16, x14\n";
    }
    // x16: the data slice's byte offset (GatherND: its address), x17: the slice of updates
    // (GatherND: of the result); x25 walks the data slice.
    s << "  muli x16, x16, " << k.elementBytes << "\n";
    if (k.gatherNd) s << "  add x16, x16, x2\n";
    s << "  muli x17, x13, " << slice * k.elementBytes << "\n  add x17, x17, x4\n  li x18, 0\n  mv x25, x16\nslice:\n";
    if (k.gatherNd) {
      s << "  " << load << " x21, gm[x25]\n  " << store << " x21, gm[x17]\n";
    } else {
      s << "  " << load << " x21, gm[x17]\n  mv x16, x25\n";
      combine();
    }
    s << "  addi x17, x17, " << k.elementBytes << "\n  addi x25, x25, " << k.elementBytes
      << "\n  addi x18, x18, 1\n  li x19, " << slice << "\n  blt x18, x19, slice\n  addi x13, x13, 1\n  li x19, "
      << tuples << "\n  blt x13, x19, tuple\n";
  }
  if (inUb) // every lane again, then the combined data out once the vector unit is done
    s << "  li x24, -1\n  setmask x24, x24\n  set_flag v, mte3, 0\n  wait_flag v, mte3, 0\n  ub2gm gm[x5], ub[x0], len="
      << blocks << "\n";
  s << "  end\nbad:\n  trap x28, x9, code=1\n  end\n"; // index out of range (docs/isa.md)
  return GeneratedKernel{s.str(), 1};
}

// Argument order: input, result.
Expected<GeneratedKernel> generateScalarPermute(const ScalarPermuteKernel &k) {
  const size_t rank = k.inShape.size();
  if (k.elementBytes != 4 && k.elementBytes != 8)
    return Error::badInput(k.name + ": a scalar permutation of " + std::to_string(k.elementBytes) +
                           "-byte elements has no kernel");
  if (rank < 1 || rank > 6 || k.perm.size() != rank)
    return Error::badInput(k.name + ": a scalar permutation of rank " + std::to_string(rank) + " has no kernel");
  std::vector<int64_t> inStride(rank, 1);
  for (size_t d = rank; d-- > 1;) inStride[d - 1] = inStride[d] * k.inShape[d];
  const char *load = k.elementBytes == 8 ? "ld" : "ldw", *store = k.elementBytes == 8 ? "st" : "stw";
  std::ostringstream s;
  s << "# " << k.name << ": permutation element by element on the scalar unit\n.node \"" << k.node
    << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x4, gm[x1], offset=8\n  mv x22, x2\n";
  // Axis d: counter x(10 + d), source pointer x(22 + d); the result pointer x4 only ascends.
  for (size_t d = 0; d < rank; ++d) {
    if (d > 0) s << "  mv x" << 22 + d << ", x" << 21 + d << "\n";
    s << "  li x" << 10 + d << ", 0\naxis" << d << ":\n";
  }
  s << "  " << load << " x9, gm[x" << 21 + rank << "]\n  " << store << " x9, gm[x4]\n  addi x4, x4, " << k.elementBytes
    << "\n";
  for (size_t d = rank; d-- > 0;) {
    const int64_t axis = k.perm[d];
    s << "  addi x" << 22 + d << ", x" << 22 + d << ", " << inStride[size_t(axis)] * k.elementBytes << "\n  addi x"
      << 10 + d << ", x" << 10 + d << ", 1\n  li x9, " << k.inShape[size_t(axis)] << "\n  blt x" << 10 + d << ", x9, axis"
      << d << "\n";
  }
  s << "  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
