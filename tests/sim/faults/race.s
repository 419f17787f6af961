# A data race: the vector unit works on UB that MTE2 is still filling; the flag that should order
# them is missing (run with --check-races).
  mfsr x2, data_base
  nop
  gm2ub ub[x0], gm[x2], len=8
  vadd.f16 ub[x0], ub[x0], ub[x0], repeat=1
  end
.data
  .zero 256
