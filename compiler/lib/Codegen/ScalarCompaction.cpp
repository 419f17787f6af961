// NonZero, Compress (CompactionKernel in KernelTemplates.h), Unique (UniqueKernel) and
// NonMaxSuppression's selection (NmsSelectKernel) on the scalar unit: results whose extent along
// one axis depends on the data. They are stored in their bounds' layout, so that later ops can
// read them as any tensor of that shape; the runtime copies a model output's actual shape out.
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <cmath>
#include <sstream>

namespace fractal::codegen {

namespace {

constexpr int64_t kMaxElements = int64_t(1) << 24;

// x9 = 1 when the element at x21 is non-zero, else 0 (x22..x24 scratch): a float's bits without
// its sign (so -0 is zero and NaN is not), an integer's or boolean's value.
void loadNonZero(std::ostringstream &s, int bytes, int floatBits) {
  emit::loadElement(s, 9, 21, bytes, false);
  if (floatBits) s << "  shli x9, x9, " << 64 - floatBits + 1 << "\n";
  s << "  sne x9, x9, x0\n";
}

// Zeroes, in each of `outer` rows of `rowBytes` from x`base`, slices x`from` (a register: the
// count) up to `to` of `sliceBytes` each, element by element of `bytes` (x27..x31 and
// storeElement's x22..x26 scratch; labels start with `p`): what ops reading the result over its
// bound find there, zeros being valid indices.
void zeroRemainder(std::ostringstream &s, int base, int from, int64_t outer, int64_t rowBytes, int64_t sliceBytes,
                   int64_t to, int bytes, const std::string &p) {
  s << "  li x27, 0\n" << p << "_row:\n  muli x28, x27, " << rowBytes << "\n  add x28, x28, x" << base
    << "\n  muli x29, x" << from << ", " << sliceBytes << "\n  add x29, x29, x28\n  li x30, " << to * sliceBytes
    << "\n  add x30, x30, x28\n  bge x29, x30, " << p << "_next\n" << p << "_element:\n";
  emit::storeElement(s, 0, 29, bytes);
  s << "  addi x29, x29, " << bytes << "\n  blt x29, x30, " << p << "_element\n" << p << "_next:\n  addi x27, x27, 1\n"
    << "  li x31, " << outer << "\n  blt x27, x31, " << p << "_row\n";
}

// Registers: x2 input, x3 result, x4 extent, x5 the count, x6 the selected so far, x13 the
// element, x19 the element count.
std::string nonZero(const CompactionKernel &k, int64_t elements) {
  std::ostringstream s;
  const int rank = int(k.shape.size());
  s << "# " << k.name << ": NonZero of " << elements << " element(s) on the scalar unit: count, then coordinates\n"
    << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n"
    << "  ld x4, gm[x1], offset=16\n  li x19, " << elements << "\n  li x5, 0\n  li x13, 0\ncount:\n"
    << "  muli x21, x13, " << k.elementBytes << "\n  add x21, x21, x2\n";
  loadNonZero(s, k.elementBytes, k.floatBits);
  s << "  add x5, x5, x9\n  addi x13, x13, 1\n  blt x13, x19, count\n  st x5, gm[x4]\n"
    << "  li x6, 0\n  li x13, 0\nselect:\n  muli x21, x13, " << k.elementBytes << "\n  add x21, x21, x2\n";
  loadNonZero(s, k.elementBytes, k.floatBits);
  s << "  beq x9, x0, skipped\n  mv x18, x13\n";
  // Coordinate d of element x13 goes to result[d][x6] = result + (d * bound + x6) * 8.
  for (int d = rank - 1; d >= 0; --d)
    s << "  li x20, " << k.shape[size_t(d)] << "\n  rem x12, x18, x20\n  div x18, x18, x20\n  li x21, " << d * elements
      << "\n  add x21, x21, x6\n  shli x21, x21, 3\n  add x21, x21, x3\n  st x12, gm[x21]\n";
  s << "  addi x6, x6, 1\nskipped:\n  addi x13, x13, 1\n  blt x13, x19, select\n";
  if (k.fillRemainder) zeroRemainder(s, 3, 5, rank, elements * 8, 8, elements, 8, "fill");
  s << "  end\n";
  return s.str();
}

// Registers: x2 input, x3 condition, x7 result, x4 extent, x5 the count, x6 the selected slice,
// x8 the outer block, x10 the slice, x11 the element within it, x12 the element's bits.
std::string compress(const CompactionKernel &k) {
  std::ostringstream s;
  const int b = k.elementBytes;
  s << "# " << k.name << ": Compress of " << k.outer << " block(s) of " << k.bound << " slice(s) of " << k.inner
    << " element(s) on the scalar unit: count, then the selected slices\n"
    << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n"
    << "  ld x7, gm[x1], offset=16\n  ld x4, gm[x1], offset=24\n  li x5, 0\n  li x10, 0\n  li x19, " << k.bound
    << "\ncount:\n  add x21, x3, x10\n";
  loadNonZero(s, 1, 0);
  s << "  add x5, x5, x9\n  addi x10, x10, 1\n  blt x10, x19, count\n  st x5, gm[x4]\n"
    << "  li x8, 0\nblock:\n  li x6, 0\n  li x10, 0\nslice:\n  add x21, x3, x10\n";
  loadNonZero(s, 1, 0);
  // Source element (x8 * axisDim + x10) * inner + x11; destination (x8 * bound + x6) * inner + x11.
  s << "  beq x9, x0, skipped\n  muli x14, x8, " << k.axisDim << "\n  add x14, x14, x10\n  muli x14, x14, "
    << k.inner * b << "\n  add x14, x14, x2\n  muli x15, x8, " << k.bound << "\n  add x15, x15, x6\n  muli x15, x15, "
    << k.inner * b
    << "\n  add x15, x15, x7\n  li x11, " << k.inner << "\nelement:\n  mv x21, x14\n";
  emit::loadElement(s, 12, 21, b, false);
  s << "  mv x20, x15\n";
  emit::storeElement(s, 12, 20, b);
  s << "  addi x14, x14, " << b << "\n  addi x15, x15, " << b << "\n  dbnz x11, element\n  addi x6, x6, 1\n"
    << "skipped:\n  addi x10, x10, 1\n  blt x10, x19, slice\n  addi x8, x8, 1\n  li x20, " << k.outer
    << "\n  blt x8, x20, block\n";
  if (k.fillRemainder) zeroRemainder(s, 7, 5, k.outer, k.bound * k.inner * b, k.inner * b, k.bound, b, "fill");
  s << "  end\n";
  return s.str();
}

// x`to` (a float32's bits, sign-extended) = its ordering key (x22 scratch): the bits made to
// order as the values do (a negative one's magnitude bits flipped, -0 and +0 both 0).
void floatKey(std::ostringstream &s, int to, const std::string &label) {
  const std::string x = "x" + std::to_string(to);
  s << "  shli x22, " << x << ", 33\n  bne x22, x0, " << label << "\n  li " << x << ", 0\n" << label << ":\n"
    << "  srai x22, " << x << ", 63\n  andi x22, x22, 2147483647\n  xor " << x << ", " << x << ", x22\n";
}

// x`to` = the ordering key of Unique's element at x21 (x22..x24 scratch): an integer's value, a
// float32's floatKey.
void loadKey(std::ostringstream &s, const UniqueKernel &k, int to, const std::string &label) {
  emit::loadElement(s, to, 21, k.elementBytes, k.isFloat || k.isSigned);
  if (k.isFloat) floatKey(s, to, label);
}

// x12 = -1, 0 or 1 as slice x`a` is before, equal to or after slice x`b` (x9, x10, x14..x17,
// x21..x24 scratch; labels start with `p`).
void compareSlices(std::ostringstream &s, const UniqueKernel &k, int a, int b, const std::string &p) {
  auto address = [&](int slice) {
    s << "  add x17, x16, x" << slice << "\n  muli x17, x17, " << k.inner << "\n  add x17, x17, x15\n  muli x21, x17, "
      << k.elementBytes << "\n  add x21, x21, x2\n";
  };
  s << "  li x12, 0\n  li x14, 0\n" << p << "_o:\n  li x15, 0\n" << p << "_i:\n  muli x16, x14, " << k.slices << "\n";
  address(a);
  loadKey(s, k, 9, p + "_ka");
  address(b);
  loadKey(s, k, 10, p + "_kb");
  s << "  beq x9, x10, " << p << "_same\n  li x12, -1\n  blt x9, x10, " << p << "_done\n  li x12, 1\n  jmp " << p
    << "_done\n" << p << "_same:\n  addi x15, x15, 1\n  li x17, " << k.inner << "\n  blt x15, x17, " << p << "_i\n"
    << "  addi x14, x14, 1\n  li x17, " << k.outer << "\n  blt x14, x17, " << p << "_o\n" << p << "_done:\n";
}

// x21 = the address of int64 element x`index` of the tensor at x`base`.
void int64At(std::ostringstream &s, int base, int index) {
  s << "  shli x21, x" << index << ", 3\n  add x21, x21, x" << base << "\n";
}

// Registers: x2 input, x3 unique slices, x4 indices, x5 inverse_indices, x6 counts, x7 extent,
// x8 first (each slice's first equal slice), x11 rank (of each first one), x13 the unique count,
// x18 and x19 slices, x20 a first slice, x30 a rank.
std::string unique(const UniqueKernel &k) {
  std::ostringstream s;
  const int b = k.elementBytes;
  s << "# " << k.name << ": Unique of " << k.slices << " slice(s) of " << k.outer << "x" << k.inner
    << " element(s) on the scalar unit: first occurrences, " << (k.sorted ? "ranks by order" : "ranks by occurrence")
    << ", then the results\n.node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  const int argRegs[] = {2, 3, 4, 5, 6, 7, 8, 11};
  for (int i = 0; i < 8; ++i) s << "  ld x" << argRegs[i] << ", gm[x1], offset=" << 8 * i << "\n";
  // Each slice's first equal slice; a first one is the next unique one (its rank in occurrence order).
  s << "  li x13, 0\n  li x18, 0\nfirst_loop:\n  mv x20, x18\n  li x19, 0\nfirst_scan:\n  bge x19, x18, first_found\n";
  compareSlices(s, k, 19, 18, "eq");
  s << "  beq x12, x0, first_equal\n  addi x19, x19, 1\n  jmp first_scan\nfirst_equal:\n  mv x20, x19\nfirst_found:\n";
  int64At(s, 8, 18);
  s << "  st x20, gm[x21]\n  bne x20, x18, first_next\n";
  int64At(s, 11, 18);
  s << "  st x13, gm[x21]\n  addi x13, x13, 1\nfirst_next:\n  addi x18, x18, 1\n  li x31, " << k.slices
    << "\n  blt x18, x31, first_loop\n  st x13, gm[x7]\n";
  if (k.sorted) { // a first slice's rank: how many first slices order before it
    s << "  li x18, 0\nrank_loop:\n";
    int64At(s, 8, 18);
    s << "  ld x20, gm[x21]\n  bne x20, x18, rank_next\n  li x30, 0\n  li x19, 0\nrank_scan:\n";
    int64At(s, 8, 19);
    s << "  ld x20, gm[x21]\n  bne x20, x19, rank_skip\n";
    compareSlices(s, k, 19, 18, "lt");
    s << "  bge x12, x0, rank_skip\n  addi x30, x30, 1\nrank_skip:\n  addi x19, x19, 1\n  li x31, " << k.slices
      << "\n  blt x19, x31, rank_scan\n";
    int64At(s, 11, 18);
    s << "  st x30, gm[x21]\nrank_next:\n  addi x18, x18, 1\n  li x31, " << k.slices << "\n  blt x18, x31, rank_loop\n";
  }
  // The counts from zero (with `fillRemainder`, the slots past the unique count too).
  s << "  li x18, 0\n  " << (k.fillRemainder ? "li x19, " + std::to_string(k.slices) : std::string("mv x19, x13"))
    << "\nzero_counts:\n  bge x18, x19, counted\n";
  int64At(s, 6, 18);
  s << "  st x0, gm[x21]\n  addi x18, x18, 1\n  jmp zero_counts\ncounted:\n  li x18, 0\nout_loop:\n";
  int64At(s, 8, 18);
  s << "  ld x20, gm[x21]\n";
  int64At(s, 11, 20);
  s << "  ld x30, gm[x21]\n";
  int64At(s, 5, 18);
  s << "  st x30, gm[x21]\n";
  int64At(s, 6, 30);
  s << "  ld x31, gm[x21]\n  addi x31, x31, 1\n  st x31, gm[x21]\n  bne x20, x18, out_next\n";
  int64At(s, 4, 30);
  // Slice x18 to unique slot x30: element (o, i) at (o * slices + x30) * inner + i.
  s << "  st x18, gm[x21]\n  li x27, 0\ncopy_o:\n  muli x29, x27, " << k.slices << "\n  add x29, x29, x18\n  muli x29, x29, "
    << k.inner * b << "\n  add x29, x29, x2\n  muli x28, x27, " << k.slices << "\n  add x28, x28, x30\n  muli x28, x28, "
    << k.inner * b
    << "\n  add x28, x28, x3\n  li x14, " << k.inner << "\ncopy_i:\n  mv x21, x29\n";
  emit::loadElement(s, 9, 21, b, false);
  emit::storeElement(s, 9, 28, b);
  s << "  addi x29, x29, " << b << "\n  addi x28, x28, " << b << "\n  dbnz x14, copy_i\n  addi x27, x27, 1\n  li x31, "
    << k.outer << "\n  blt x27, x31, copy_o\nout_next:\n  addi x18, x18, 1\n  li x31, " << k.slices
    << "\n  blt x18, x31, out_loop\n";
  if (k.fillRemainder) {
    zeroRemainder(s, 3, 13, k.outer, k.slices * k.inner * b, k.inner * b, k.slices, b, "fill_unique");
    zeroRemainder(s, 4, 13, 1, k.slices * 8, 8, k.slices, 8, "fill_indices");
  }
  s << "  end\n";
  return s.str();
}

// Registers: x2 scores, x3 suppress, x4 selected, x5 extent, x6 state (per box: 0 a candidate
// not yet taken), x7 the class's selected boxes, x26 the limit per class, x27 the score
// threshold's key; x8 the rows written, x9 the batch, x10 the
// class, x11 its scores, x12 its selected count, x13 the best candidate, x14 its key, x15 a box,
// x16 its key, x17 a selected box's position.
std::string nmsSelect(const NmsSelectKernel &k) {
  std::ostringstream s;
  const int64_t n = k.boxes;
  // score > threshold as keys (a NaN threshold admits nothing)
  int64_t thresholdKey = INT64_MIN;
  if (k.hasScoreThreshold) {
    const int32_t bits = int32_t(emit::floatBits(k.scoreThreshold));
    const int64_t wide = bits;
    thresholdKey = std::isnan(k.scoreThreshold) ? INT64_MAX
                   : (wide & 0x7fffffff) == 0   ? 0
                                                : wide ^ ((wide >> 63) & 0x7fffffff);
  }
  s << "# " << k.name << ": NonMaxSuppression's selection over " << k.batches << " batch(es) x " << k.classes
    << " class(es) x " << n << " box(es), at most " << k.maxPerClass << " per class, on the scalar unit\n.node \""
    << k.node << "\"\n.text\n  mfsr x1, args\n  ld x2, gm[x1]\n  ld x3, gm[x1], offset=8\n";
  int arg = 2;
  // x26 = the limit per class: the bound, or no more than a run-time limit says (a negative one is 0)
  s << "  li x26, " << k.maxPerClass << "\n";
  if (k.runtimeLimit)
    s << "  ld x19, gm[x1], offset=" << 8 * arg++ << "\n  ld x19, gm[x19]\n  max x19, x19, x0\n  min x26, x26, x19\n";
  // x27 = the key a score must exceed (a NaN threshold admits nothing)
  if (k.runtimeScoreThreshold) {
    s << "  ld x19, gm[x1], offset=" << 8 * arg++ << "\n  ldw x27, gm[x19]\n  andi x19, x27, 2147483647\n"
      << "  li x20, 2139095040\n  bge x20, x19, threshold_number\n  li x27, " << INT64_MAX << "\n  jmp threshold_keyed\n"
      << "threshold_number:\n";
    floatKey(s, 27, "threshold_key");
    s << "threshold_keyed:\n";
  } else {
    s << "  li x27, " << thresholdKey << "\n";
  }
  for (int i = 4; i < 8; ++i) s << "  ld x" << i << ", gm[x1], offset=" << 8 * arg++ << "\n";
  s << "  li x8, 0\n  li x9, 0\nbatch:\n  li x10, 0\nclass:\n  muli x11, x9, " << k.classes << "\n  add x11, x11, x10\n"
    << "  muli x11, x11, " << n * 4 << "\n  add x11, x11, x2\n  li x15, 0\ninit:\n  shli x21, x15, 2\n  add x21, x21, x11\n"
    << "  ldw x16, gm[x21]\n  li x18, 1\n  andi x19, x16, 2147483647\n  li x20, 2139095040\n  blt x20, x19, init_store\n";
  floatKey(s, 16, "init_key");
  if (k.hasScoreThreshold || k.runtimeScoreThreshold) s << "  bge x27, x16, init_store\n";
  s << "  li x18, 0\ninit_store:\n";
  int64At(s, 6, 15);
  s << "  st x18, gm[x21]\n  addi x15, x15, 1\n  li x19, " << n << "\n  blt x15, x19, init\n  li x12, 0\n"
    << "pick:\n  bge x12, x26, class_next\n  li x13, -1\n  li x15, 0\nscan:\n";
  int64At(s, 6, 15);
  s << "  ld x18, gm[x21]\n  bne x18, x0, scan_next\n  shli x21, x15, 2\n  add x21, x21, x11\n  ldw x16, gm[x21]\n";
  floatKey(s, 16, "scan_key");
  // the first candidate, or a higher score (an equal one keeps the lower index)
  s << "  blt x13, x0, take\n  bge x14, x16, scan_next\ntake:\n  mv x13, x15\n  mv x14, x16\nscan_next:\n"
    << "  addi x15, x15, 1\n  li x19, " << n << "\n  blt x15, x19, scan\n  blt x13, x0, class_next\n";
  int64At(s, 6, 13);
  s << "  li x18, 1\n  st x18, gm[x21]\n  li x17, 0\ncheck:\n  bge x17, x12, keep\n";
  int64At(s, 7, 17);
  // suppress[batch][selected][best]
  s << "  ld x18, gm[x21]\n  muli x19, x9, " << n << "\n  add x19, x19, x18\n  muli x19, x19, " << n
    << "\n  add x19, x19, x13\n  add x21, x19, x3\n";
  emit::loadElement(s, 20, 21, 1, false);
  s << "  bne x20, x0, pick\n  addi x17, x17, 1\n  jmp check\nkeep:\n";
  int64At(s, 7, 12);
  s << "  st x13, gm[x21]\n  addi x12, x12, 1\n  muli x21, x8, 24\n  add x21, x21, x4\n  st x9, gm[x21]\n"
    << "  st x10, gm[x21], offset=8\n  st x13, gm[x21], offset=16\n  addi x8, x8, 1\n  jmp pick\nclass_next:\n"
    << "  addi x10, x10, 1\n  li x19, " << k.classes << "\n  blt x10, x19, class\n  addi x9, x9, 1\n  li x19, " << k.batches
    << "\n  blt x9, x19, batch\n  st x8, gm[x5]\n";
  if (k.fillRemainder) zeroRemainder(s, 4, 8, 1, k.bound * 24, 24, k.bound, 8, "fill");
  s << "  end\n";
  return s.str();
}

} // namespace

Expected<GeneratedKernel> generateCompaction(const CompactionKernel &k) {
  if (k.elementBytes != 1 && k.elementBytes != 2 && k.elementBytes != 4 && k.elementBytes != 8)
    return Error::internal(k.name + ": elements are 1, 2, 4 or 8 bytes");
  int64_t elements = 1;
  for (int64_t d : k.nonZero ? k.shape : std::vector<int64_t>{k.outer, k.axisDim, k.inner}) elements *= d;
  if (elements > kMaxElements)
    return Error::badInput(k.name + ": " + (k.nonZero ? "NonZero" : "Compress") + " runs element by element on the "
                           "scalar unit, up to 2^24 elements; this one has " + std::to_string(elements));
  if (k.nonZero) {
    if (elements < 1) return Error::badInput(k.name + ": a NonZero of no elements has no kernel");
    return GeneratedKernel{nonZero(k, elements), 1};
  }
  if (k.outer < 1 || k.inner < 1 || k.bound < 1 || k.bound > k.axisDim)
    return Error::badInput(k.name + ": a Compress of no elements has no kernel");
  return GeneratedKernel{compress(k), 1};
}

Expected<GeneratedKernel> generateUnique(const UniqueKernel &k) {
  if (k.elementBytes != 1 && k.elementBytes != 2 && k.elementBytes != 4 && k.elementBytes != 8)
    return Error::internal(k.name + ": elements are 1, 2, 4 or 8 bytes");
  if (k.isFloat && k.elementBytes != 4) return Error::internal(k.name + ": float Unique is float32");
  if (k.outer < 1 || k.inner < 1 || k.slices < 1)
    return Error::badInput(k.name + ": a Unique of no elements has no kernel");
  const int64_t length = k.outer * k.inner;
  if (k.slices > 4096 || length > (int64_t(1) << 20) || k.slices * k.slices > (int64_t(1) << 26) / length)
    return Error::badInput(k.name + ": Unique compares every pair of slices on the scalar unit, up to 2^26 element "
                           "comparisons (and 4096 slices); this one has " + std::to_string(k.slices) + " slices of " +
                           std::to_string(length) + " element(s)");
  return GeneratedKernel{unique(k), 1};
}

Expected<GeneratedKernel> generateNmsSelect(const NmsSelectKernel &k) {
  if (k.batches < 1 || k.classes < 1 || k.boxes < 1 || k.maxPerClass < 0)
    return Error::badInput(k.name + ": a NonMaxSuppression of no boxes has no kernel");
  if (k.boxes > 4096 || k.batches * k.classes * k.boxes * k.boxes > (int64_t(1) << 26))
    return Error::badInput(k.name + ": NonMaxSuppression's selection scans every box for every pick on the scalar unit, "
                           "up to 2^26 box visits (and 4096 boxes); this one has " + std::to_string(k.batches) +
                           " x " + std::to_string(k.classes) + " x " + std::to_string(k.boxes) + " x " +
                           std::to_string(k.boxes));
  return GeneratedKernel{nmsSelect(k), 1};
}

} // namespace fractal::codegen
