# Deadlock: MTE1 waits for a flag from MTE2 that is never set; `end` waits for MTE1 forever.
  wait_flag mte2, mte1, 0
  load2d l0a[x0], l1[x0]
  end
