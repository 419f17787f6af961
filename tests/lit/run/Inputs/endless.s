# A kernel that never ends: its scalar unit branches to itself.
.target edge
.node "Relu_0"
.text
spin:
  jmp spin
  end
