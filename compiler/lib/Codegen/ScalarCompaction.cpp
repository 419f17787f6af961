// NonZero and Compress on the scalar unit (CompactionKernel in KernelTemplates.h): results whose
// extent along one axis depends on the data. The count comes first so that the selection can be
// stored densely in the actual shape, which is what the runtime hands out (a prefix of the
// reserved bound).
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

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
  // Coordinate d of element x13 goes to result[d][x6] = result + (d * count + x6) * 8.
  for (int d = rank - 1; d >= 0; --d)
    s << "  li x20, " << k.shape[size_t(d)] << "\n  rem x12, x18, x20\n  div x18, x18, x20\n  li x21, " << d
      << "\n  mul x21, x21, x5\n  add x21, x21, x6\n  shli x21, x21, 3\n  add x21, x21, x3\n  st x12, gm[x21]\n";
  s << "  addi x6, x6, 1\nskipped:\n  addi x13, x13, 1\n  blt x13, x19, select\n  end\n";
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
  emit::loadElement(s, 9, 21, 1, false);
  s << "  sne x9, x9, x0\n  add x5, x5, x9\n  addi x10, x10, 1\n  blt x10, x19, count\n  st x5, gm[x4]\n"
    << "  li x8, 0\nblock:\n  li x6, 0\n  li x10, 0\nslice:\n  add x21, x3, x10\n";
  emit::loadElement(s, 9, 21, 1, false);
  // Source element (x8 * axisDim + x10) * inner + x11; destination (x8 * count + x6) * inner + x11.
  s << "  beq x9, x0, skipped\n  muli x14, x8, " << k.axisDim << "\n  add x14, x14, x10\n  muli x14, x14, "
    << k.inner * b << "\n  add x14, x14, x2\n  mul x15, x8, x5\n  add x15, x15, x6\n  muli x15, x15, " << k.inner * b
    << "\n  add x15, x15, x7\n  li x11, " << k.inner << "\nelement:\n  mv x21, x14\n";
  emit::loadElement(s, 12, 21, b, false);
  s << "  mv x20, x15\n";
  emit::storeElement(s, 12, 20, b);
  s << "  addi x14, x14, " << b << "\n  addi x15, x15, " << b << "\n  dbnz x11, element\n  addi x6, x6, 1\n"
    << "skipped:\n  addi x10, x10, 1\n  blt x10, x19, slice\n  addi x8, x8, 1\n  li x20, " << k.outer
    << "\n  blt x8, x20, block\n  end\n";
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

} // namespace fractal::codegen
