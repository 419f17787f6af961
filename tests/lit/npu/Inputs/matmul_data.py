# Inputs and the exact expected output of Inputs/matmul.mlir: C[16x32] = A[16x64] x B[64x32].
# Small multiples of 1/4 and 1/2: every product and partial sum is exact in f32, so the result
# does not depend on the summation order.
import struct
M, K, N = 16, 64, 32
A = [[((i * 7 + k * 3) % 11 - 5) * 0.25 for k in range(K)] for i in range(M)]
B = [[((k * 5 + j * 2) % 9 - 4) * 0.5 for j in range(N)] for k in range(K)]
open('a.bin', 'wb').write(b''.join(struct.pack('<e', v) for row in A for v in row))
open('b.bin', 'wb').write(b''.join(struct.pack('<e', v) for row in B for v in row))
C = [[sum(A[i][k] * B[k][j] for k in range(K)) for j in range(N)] for i in range(M)]
open('expected.bin', 'wb').write(b''.join(struct.pack('<f', v) for row in C for v in row))
