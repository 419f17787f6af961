# A branch to a target past the end of the program.
  li   x1, 1
  bne  x1, x0, .+100
  end
