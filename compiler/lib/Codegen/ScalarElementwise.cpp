// Integer element-wise ops on the scalar unit (ScalarElementwiseKernel in KernelTemplates.h): one
// loop over the result's elements, each input's address from the element's coordinates (div/rem
// by the result's dims, innermost first) and the input's strides (0 along a broadcast axis).
// Scalar GM accesses are aligned words: an element of 1 or 2 bytes is read from, and written
// into, the 8-byte word that holds it (one block, so no other core writes that word meanwhile; up
// to 7 bytes past a tensor's end, which the memory plan's tail slack covers).
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include "EmitUtil.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>

namespace fractal::codegen {

namespace {

void loadElement(std::ostringstream &s, int to, int at, IntegerElement e) { emit::loadElement(s, to, at, e.bytes, e.isSigned); }
using emit::storeElement;

// x12 = the float32 bits of the integer in x9 (signed, or unsigned when `isUnsigned`), rounded
// to nearest even as C's conversion: the magnitude normalised until its top bit is bit 63 (six
// halving steps), the top 24 bits kept and rounded on the 40 below them (x14..x19 scratch).
void integerToFloat(std::ostringstream &s, bool isUnsigned) {
  s << "  li x14, 0\n  mv x15, x9\n";
  if (!isUnsigned) s << "  bge x9, x0, magnitude\n  li x14, 1\n  sub x15, x0, x9\nmagnitude:\n";
  s << "  li x12, 0\n  beq x15, x0, converted\n  li x16, 63\n";
  for (int step : {32, 16, 8, 4, 2, 1})
    s << "  shri x17, x15, " << 64 - step << "\n  bne x17, x0, normal" << step << "\n  shli x15, x15, " << step
      << "\n  addi x16, x16, " << -step << "\nnormal" << step << ":\n";
  s << "  shri x12, x15, 40\n  shli x17, x15, 24\n  shri x17, x17, 24\n  li x18, " << (int64_t(1) << 39) << "\n"
    << "  blt x17, x18, rounded\n  bne x17, x18, round_up\n  andi x19, x12, 1\n  beq x19, x0, rounded\nround_up:\n"
    << "  addi x12, x12, 1\n  shri x19, x12, 24\n  beq x19, x0, rounded\n  shri x12, x12, 1\n  addi x16, x16, 1\n"
    << "rounded:\n  li x19, 8388607\n  and x12, x12, x19\n  addi x16, x16, 127\n  shli x16, x16, 23\n"
    << "  or x12, x12, x16\n  shli x14, x14, 31\n  or x12, x12, x14\nconverted:\n";
}

// x12 = the float32 whose bits are in x9, toward zero, into a `bits`-bit integer (signed or not):
// NaN gives 0; beyond the type's range (infinities too) it saturates, so a negative value gives 0
// in an unsigned type (x14..x17 scratch).
void floatToInteger(std::ostringstream &s, int bits, bool isSigned) {
  const int64_t high = isSigned ? INT64_MAX : bits == 64 ? -1 : (int64_t(1) << bits) - 1;
  s << "  shri x14, x9, 31\n  shri x15, x9, 23\n  andi x15, x15, 255\n  li x16, 8388607\n  and x16, x9, x16\n"
    << "  li x12, 0\n  li x17, 255\n  bne x15, x17, finite\n  bne x16, x0, converted\n  jmp saturate\nfinite:\n"
    << "  li x17, 127\n  blt x15, x17, converted\n  addi x15, x15, -127\n  li x17, " << (isSigned ? bits - 1 : bits)
    << "\n  bge x15, x17, saturate\n  li x17, 8388608\n  or x16, x16, x17\n  addi x17, x15, -23\n"
    << "  blt x17, x0, right\n  shl x12, x16, x17\n  jmp signed\nright:\n  sub x17, x0, x17\n  shr x12, x16, x17\n"
    << "signed:\n  beq x14, x0, converted\n"
    << (isSigned ? "  sub x12, x0, x12\n" : "  li x12, 0\n") << "  jmp converted\nsaturate:\n  li x12, " << high
    << "\n  beq x14, x0, converted\n  li x12, " << (isSigned ? INT64_MIN : 0) << "\nconverted:\n";
}

// x12 = the float32 bits of the float64 whose bits are in x9, rounded to nearest even (x14..x20
// scratch). A float64 beyond float32's range gives an infinity, one below half its smallest
// subnormal a zero (float64 subnormals too), NaN a quiet NaN; the sign is kept. The 53-bit
// significand is shifted right by 29 for a normal result (whose biased exponent E >= 1 is added
// above its 23 fraction bits: E - 1, as the significand's leading one carries into it), by
// 30 - E for a subnormal one; a carry of the rounding into the exponent is the right result.
void float64ToFloat32(std::ostringstream &s) {
  s << "  shri x14, x9, 63\n  shli x14, x14, 31\n  shri x15, x9, 52\n  andi x15, x15, 2047\n  shli x16, x9, 12\n"
    << "  shri x16, x16, 12\n  li x17, 2047\n  bne x15, x17, finite\n  li x12, 2139095040\n  beq x16, x0, signed\n"
    << "  shri x16, x16, 29\n  li x17, 4194304\n  or x16, x16, x17\n  or x12, x12, x16\n  jmp signed\nfinite:\n"
    << "  li x12, 0\n  beq x15, x0, signed\n  addi x15, x15, -896\n  li x17, 255\n  bge x15, x17, infinity\n"
    << "  li x17, 1\n  shli x17, x17, 52\n  or x16, x16, x17\n  blt x0, x15, normal\n  li x17, 30\n"
    << "  sub x17, x17, x15\n  li x18, 62\n  blt x18, x17, signed\n  jmp shift\nnormal:\n  addi x12, x15, -1\n"
    << "  shli x12, x12, 23\n  li x17, 29\nshift:\n  shr x18, x16, x17\n  add x12, x12, x18\n  li x19, 1\n"
    << "  shl x19, x19, x17\n  addi x19, x19, -1\n  and x19, x16, x19\n  addi x17, x17, -1\n  li x20, 1\n"
    << "  shl x20, x20, x17\n  bltu x19, x20, signed\n  bne x19, x20, round_up\n  andi x20, x12, 1\n"
    << "  beq x20, x0, signed\nround_up:\n  addi x12, x12, 1\n  jmp signed\ninfinity:\n  li x12, 2139095040\n"
    << "signed:\n  or x12, x12, x14\n";
}

// x12 = the float64 bits of the float32 whose bits are in x9, exactly (x14..x17 scratch): the
// exponent rebiased (an infinity's or NaN's to 2047), the fraction moved up 29 bits; a subnormal
// normalised first (shifted up until its leading one is bit 23, the exponent lowered as far).
void float32ToFloat64(std::ostringstream &s) {
  s << "  shri x14, x9, 31\n  shli x14, x14, 63\n  shri x15, x9, 23\n  andi x15, x15, 255\n  li x16, 8388607\n"
    << "  and x16, x9, x16\n  li x12, 0\n  li x17, 255\n  bne x15, x17, finite\n  li x15, 2047\n  jmp packed\n"
    << "finite:\n  bne x15, x0, normal\n  beq x16, x0, signed\n  li x15, 1\n  li x17, 8388608\n"
    << "normalise:\n  bgeu x16, x17, normalised\n  shli x16, x16, 1\n  addi x15, x15, -1\n  jmp normalise\n"
    << "normalised:\n  addi x17, x17, -1\n  and x16, x16, x17\nnormal:\n  addi x15, x15, 896\npacked:\n"
    << "  shli x12, x15, 52\n  shli x16, x16, 29\n  or x12, x12, x16\nsigned:\n  or x12, x12, x14\n";
}

// x12 = x9 ** x10 in integers (wrapping): by squaring for an exponent from 0 up; a negative one
// (signed exponents only) truncates the fraction: 1 for a base of 1, +-1 for -1 by the exponent's
// parity, else 0 (0 ** -n too, where C's pow gives infinity). x14 scratch; x9, x10 consumed.
void integerPower(std::ostringstream &s, bool signedExponent) {
  s << "  li x12, 1\n";
  if (signedExponent) s << "  blt x10, x0, negative\n";
  s << "power:\n  beq x10, x0, powered\n  andi x14, x10, 1\n  beq x14, x0, squared\n  mul x12, x12, x9\nsquared:\n"
    << "  mul x9, x9, x9\n  shri x10, x10, 1\n  jmp power\n";
  if (signedExponent)
    s << "negative:\n  beq x9, x12, powered\n  li x12, 0\n  li x14, -1\n  bne x9, x14, powered\n  andi x14, x10, 1\n"
      << "  li x12, 1\n  beq x14, x0, powered\n  li x12, -1\n";
  s << "powered:\n";
}

} // namespace

// Argument order: the inputs, the result. Registers: x2.. the inputs' bases, x5 the result's,
// x6.. the inputs' byte offsets, x9.. their values, x12 the result, x13 the element.
Expected<GeneratedKernel> generateScalarElementwise(const ScalarElementwiseKernel &k) {
  static const std::map<std::string, int> kInputs = {
      {"add", 2}, {"sub", 2}, {"mul", 2}, {"div", 2}, {"max", 2}, {"min", 2}, {"mod", 2}, {"fmod", 2},
      {"eq", 2},  {"lt", 2},  {"le", 2},  {"gt", 2},  {"ge", 2},  {"where", 3}, {"shl", 2}, {"shr", 2},
      {"cast", 1}, {"nonzero", 1}, {"to_f32", 1}, {"from_f32", 1}, {"pow", 2},
      {"f64_to_f32", 1}, {"f32_to_f64", 1}};
  const auto arity = kInputs.find(k.kind);
  if (arity == kInputs.end()) return Error::internal(k.name + ": no integer scalar-unit kernel for '" + k.kind + "'");
  const size_t inputs = size_t(arity->second), rank = k.shape.size();
  if (k.inputStrides.size() != inputs || k.inputs.size() != inputs)
    return Error::internal(k.name + ": " + k.kind + " takes " + std::to_string(inputs) + " inputs");
  auto validWidth = [](IntegerElement e) { return e.bytes == 1 || e.bytes == 2 || e.bytes == 4 || e.bytes == 8; };
  if (!validWidth(k.out) || !std::all_of(k.inputs.begin(), k.inputs.end(), validWidth))
    return Error::internal(k.name + ": integer elements are 1, 2, 4 or 8 bytes");
  for (const std::vector<int64_t> &s : k.inputStrides)
    if (s.size() != rank) return Error::internal(k.name + ": input strides of another rank than the result");
  int64_t count = 1;
  for (int64_t d : k.shape) count *= d;
  if (count < 1) return Error::badInput(k.name + ": an integer " + k.kind + " of no elements has no kernel");
  if (count > (int64_t(1) << 20))
    return Error::badInput(k.name + ": integer element-wise ops run element by element on the scalar unit, up to 2^20 "
                                    "elements; this one has " + std::to_string(count));
  std::ostringstream s;
  s << "# " << k.name << ": integer " << k.kind << " of " << count << " element(s), element by element on the scalar unit\n"
    << ".node \"" << k.node << "\"\n.text\n  mfsr x1, args\n";
  for (size_t i = 0; i < inputs; ++i) s << "  ld x" << 2 + i << ", gm[x1], offset=" << 8 * i << "\n";
  s << "  ld x5, gm[x1], offset=" << 8 * inputs << "\n  li x13, 0\nelement:\n  mv x18, x13\n";
  for (size_t i = 0; i < inputs; ++i) s << "  li x" << 6 + i << ", 0\n";
  for (size_t d = rank; d-- > 0;) {
    bool used = false;
    for (size_t i = 0; i < inputs; ++i) used |= k.inputStrides[i][d] != 0;
    if (!used) continue;
    s << "  li x19, " << k.shape[d] << "\n  rem x20, x18, x19\n  div x18, x18, x19\n";
    for (size_t i = 0; i < inputs; ++i)
      if (k.inputStrides[i][d])
        s << "  muli x21, x20, " << k.inputStrides[i][d] * k.inputs[i].bytes << "\n  add x" << 6 + i << ", x" << 6 + i
          << ", x21\n";
  }
  for (size_t i = 0; i < inputs; ++i) {
    s << "  add x21, x" << 2 + i << ", x" << 6 + i << "\n";
    loadElement(s, int(9 + i), 21, k.inputs[i]);
  }
  const std::string &op = k.kind;
  const bool u = k.isUnsigned;
  if (op == "add" || op == "sub" || op == "mul" || (!u && (op == "div" || op == "max" || op == "min")))
    s << "  " << op << " x12, x9, x10\n";
  else if (op == "div")
    s << "  divu x12, x9, x10\n";
  else if (op == "max" || op == "min") // unsigned: x9 unless the other is larger (smaller)
    s << "  mv x12, x9\n  " << (op == "max" ? "bgeu x9, x10" : "bltu x9, x10") << ", kept\n  mv x12, x10\nkept:\n";
  else if (op == "shl" || op == "shr")
    s << "  " << op << " x12, x9, x10\n";
  else if (op == "cast")
    s << "  mv x12, x9\n";
  else if (op == "pow")
    integerPower(s, k.inputs[1].isSigned);
  else if (op == "to_f32")
    integerToFloat(s, u);
  else if (op == "from_f32")
    floatToInteger(s, 8 * k.out.bytes, k.out.isSigned);
  else if (op == "f64_to_f32")
    float64ToFloat32(s);
  else if (op == "f32_to_f64")
    float32ToFloat64(s);
  else if (op == "nonzero")
    s << "  sne x12, x9, x0\n";
  else if (u && (op == "mod" || op == "fmod")) // no signs to fix
    s << "  remu x12, x9, x10\n";
  else if (op == "fmod")
    s << "  rem x12, x9, x10\n";
  else if (op == "mod") // a non-zero remainder whose sign differs from the divisor's moves by it
    s << "  rem x12, x9, x10\n  beq x12, x0, stored_sign\n  xor x21, x12, x10\n  bge x21, x0, stored_sign\n"
         "  add x12, x12, x10\nstored_sign:\n";
  else if (op == "eq")
    s << "  seq x12, x9, x10\n";
  else if (op == "lt" || op == "ge")
    s << (u ? "  sltu" : "  slt") << " x12, x9, x10\n" << (op == "ge" ? "  xori x12, x12, 1\n" : "");
  else if (op == "gt" || op == "le")
    s << (u ? "  sltu" : "  slt") << " x12, x10, x9\n" << (op == "le" ? "  xori x12, x12, 1\n" : "");
  else // where
    s << "  mv x12, x10\n  bne x9, x0, picked\n  mv x12, x11\npicked:\n";
  s << "  muli x21, x13, " << k.out.bytes << "\n  add x21, x21, x5\n";
  storeElement(s, 12, 21, k.out.bytes);
  s << "  addi x13, x13, 1\n  li x19, " << count << "\n  blt x13, x19, element\n  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
