# A DMA from a GM address that no allocation covers.
  li   x1, 0x7000000
  gm2ub ub[x0], gm[x1], len=4
  end
