# An endless loop: run with a small --watchdog to see the watchdog stop it.
spin:
  addi x1, x1, 1
  jmp  spin
