// int64 element-wise ops on the scalar unit (ScalarElementwiseKernel in KernelTemplates.h): one
// loop over the result's elements, each input's address from the element's coordinates (div/rem
// by the result's dims, innermost first) and the input's strides (0 along a broadcast axis).
// Scalar GM accesses are aligned words: a boolean is read from, and written into, the 8-byte word
// that holds it (one block, so no other core writes that word meanwhile; up to 7 bytes past a
// boolean tensor's end, which the memory plan's tail slack covers).
#include "fractal/compiler/Codegen/KernelTemplates.h"

#include <map>
#include <sstream>

namespace fractal::codegen {

namespace {

// x`to` = the byte at address x`at` (x22..x24 scratch).
void loadByte(std::ostringstream &s, int to, int at) {
  s << "  andi x22, x" << at << ", -8\n  ld x23, gm[x22]\n  andi x24, x" << at << ", 7\n  shli x24, x24, 3\n"
    << "  shr x23, x23, x24\n  andi x" << to << ", x23, 255\n";
}

// The byte at address x`at` = the low byte of x`from` (x22..x26 scratch): its word read,
// the byte replaced, the word written back.
void storeByte(std::ostringstream &s, int from, int at) {
  s << "  andi x22, x" << at << ", -8\n  ld x23, gm[x22]\n  andi x24, x" << at << ", 7\n  shli x24, x24, 3\n"
    << "  li x25, 255\n  shl x25, x25, x24\n  xori x25, x25, -1\n  and x23, x23, x25\n  andi x26, x" << from
    << ", 255\n  shl x26, x26, x24\n  or x23, x23, x26\n  st x23, gm[x22]\n";
}

} // namespace

// Argument order: the inputs, the result. Registers: x2.. the inputs' bases, x5 the result's,
// x6.. the inputs' byte offsets, x9.. their values, x12 the result, x13 the element.
Expected<GeneratedKernel> generateScalarElementwise(const ScalarElementwiseKernel &k) {
  static const std::map<std::string, int> kInputs = {
      {"add", 2}, {"sub", 2}, {"mul", 2}, {"div", 2}, {"max", 2}, {"min", 2}, {"mod", 2}, {"fmod", 2},
      {"eq", 2},  {"lt", 2},  {"le", 2},  {"gt", 2},  {"ge", 2},  {"where", 3}};
  const auto arity = kInputs.find(k.kind);
  if (arity == kInputs.end()) return Error::internal(k.name + ": no int64 scalar-unit kernel for '" + k.kind + "'");
  const size_t inputs = size_t(arity->second), rank = k.shape.size();
  if (k.inputStrides.size() != inputs || k.inputBytes.size() != inputs)
    return Error::internal(k.name + ": " + k.kind + " takes " + std::to_string(inputs) + " inputs");
  for (const std::vector<int64_t> &s : k.inputStrides)
    if (s.size() != rank) return Error::internal(k.name + ": input strides of another rank than the result");
  int64_t count = 1;
  for (int64_t d : k.shape) count *= d;
  if (count < 1) return Error::badInput(k.name + ": an int64 " + k.kind + " of no elements has no kernel");
  if (count > (int64_t(1) << 20))
    return Error::badInput(k.name + ": int64 element-wise ops run element by element on the scalar unit, up to 2^20 "
                                    "elements; this one has " + std::to_string(count));
  std::ostringstream s;
  s << "# " << k.name << ": int64 " << k.kind << " of " << count << " element(s), element by element on the scalar unit\n"
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
        s << "  muli x21, x20, " << k.inputStrides[i][d] * k.inputBytes[i] << "\n  add x" << 6 + i << ", x" << 6 + i
          << ", x21\n";
  }
  for (size_t i = 0; i < inputs; ++i) {
    s << "  add x21, x" << 2 + i << ", x" << 6 + i << "\n";
    if (k.inputBytes[i] == 1) loadByte(s, int(9 + i), 21);
    else s << "  ld x" << 9 + i << ", gm[x21]\n";
  }
  const std::string &op = k.kind;
  if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "max" || op == "min")
    s << "  " << op << " x12, x9, x10\n";
  else if (op == "fmod")
    s << "  rem x12, x9, x10\n";
  else if (op == "mod") // a non-zero remainder whose sign differs from the divisor's moves by it
    s << "  rem x12, x9, x10\n  beq x12, x0, stored_sign\n  xor x21, x12, x10\n  bge x21, x0, stored_sign\n"
         "  add x12, x12, x10\nstored_sign:\n";
  else if (op == "eq")
    s << "  seq x12, x9, x10\n";
  else if (op == "lt" || op == "ge")
    s << "  slt x12, x9, x10\n" << (op == "ge" ? "  xori x12, x12, 1\n" : "");
  else if (op == "gt" || op == "le")
    s << "  slt x12, x10, x9\n" << (op == "le" ? "  xori x12, x12, 1\n" : "");
  else // where
    s << "  mv x12, x10\n  bne x9, x0, picked\n  mv x12, x11\npicked:\n";
  if (k.outBytes == 1) {
    s << "  add x21, x5, x13\n";
    storeByte(s, 12, 21);
  } else {
    s << "  shli x21, x13, 3\n  add x21, x21, x5\n  st x12, gm[x21]\n";
  }
  s << "  addi x13, x13, 1\n  li x19, " << count << "\n  blt x13, x19, element\n  end\n";
  return GeneratedKernel{s.str(), 1};
}

} // namespace fractal::codegen
