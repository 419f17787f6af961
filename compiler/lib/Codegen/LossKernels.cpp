// The scalar-unit gather of NegativeLogLikelihoodLoss (KernelTemplates.h, NllGatherKernel). One
// pass over the targets; every access is a 4- or 8-byte GM word, so nothing needs alignment.
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
  s << "  ld x5, gm[x1], offset=" << 8 * arg++ << "\n  ld x6, gm[x1], offset=" << 8 * arg++ << "\n";
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

} // namespace fractal::codegen
