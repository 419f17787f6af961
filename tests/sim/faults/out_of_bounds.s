# A vector access that runs past the end of the 256 KiB unified buffer.
  li   x1, 262144 - 128
  vadd.f16 ub[x1], ub[x1], ub[x1]
  end
