# A large vector workload for benchmarks: REPS passes over 64 KiB of fp16 in UB (4 x 255 repeats
# of 128 lanes), each pass a multiply-add, an exp, a max-reduction and a conversion to fp32.
.equ REPS, 64
.text
  li   x1, 0                   # src (64 KiB f16)
  li   x2, 65536               # dst (64 KiB f16)
  li   x3, 131072              # f32 results (128 KiB)
  lif16 x4, 0.5
  lif16 x5, 0.25
  li   x6, REPS
pass:
  vmuls.f16 ub[x2], ub[x1], x4, repeat=255
  vadds.f16 ub[x2], ub[x2], x5, repeat=255
  vexp.f16  ub[x2], ub[x2], repeat=255
  vmax.f16  ub[x2], ub[x2], ub[x1], repeat=255
  vcadd.f16 ub[x3], ub[x2], repeat=255
  vconv.f16.f32 ub[x3], ub[x2], repeat=255
  dbnz x6, pass
  end
