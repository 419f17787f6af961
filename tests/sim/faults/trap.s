# A kernel's own check of a run-time index: 5 is outside an axis of 3 entries, so it stops with
# `trap` (code 1), which reports the index and the axis length.
  li   x14, 5
  li   x9, 3
  bge  x14, x9, bad
  end
bad:
  trap x14, x9, code=1
  end
