# A UB address that is not a multiple of the buffer's 32-byte alignment.
  li   x1, 16
  vadd.f16 ub[x1], ub[x0], ub[x0]
  end
