# A 64-bit scalar load from an address that is not 8-byte aligned (the args block is aligned).
  mfsr x1, args
  ld   x2, gm[x1], offset=4
  end
