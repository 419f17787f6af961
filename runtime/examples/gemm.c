/* The complete example of docs/runtime.md: a 64x64x64 GEMM on a simulated edge device through
 * the C API. Build: part of the CMake build (frt_example_gemm). Run: frt_example_gemm gemm.bin,
 * with gemm.bin from `fractal asm tests/sim/kernels/gemm_fp16.s -o gemm.bin`. */
#include "fractal/runtime/fractal_runtime.h"
#include <stdio.h>

#define CHECK(call) do { frtError e = (call); if (e != FRT_SUCCESS) { \
  fprintf(stderr, "%s failed (%d): %s\n", #call, e, frtGetRecentErrMsg()); return 1; } } while (0)

int main(int argc, char **argv) {
  const char *kernelPath = argc > 1 ? argv[1] : "gemm.bin";
  /* C (64x64 f32) = A x B with A = B = 1.0: the GEMM kernel of tests/sim/kernels/gemm_fp16.s,
     assembled with `fractal asm tests/sim/kernels/gemm_fp16.s -o gemm.bin`. */
  unsigned short ones[64 * 64];
  float c_host[64 * 64];
  for (int i = 0; i < 64 * 64; ++i) ones[i] = 0x3c00; /* 1.0 in fp16 */

  CHECK(frtInit(NULL));                 /* one edge device, timing mode */
  CHECK(frtSetDevice(0));
  void *a, *b, *c;
  CHECK(frtMalloc(&a, sizeof ones, FRT_MEM_MALLOC_HUGE_FIRST));
  CHECK(frtMalloc(&b, sizeof ones, FRT_MEM_MALLOC_HUGE_FIRST));
  CHECK(frtMalloc(&c, sizeof c_host, FRT_MEM_MALLOC_HUGE_FIRST));
  CHECK(frtMemcpy(a, sizeof ones, ones, sizeof ones, FRT_MEMCPY_HOST_TO_DEVICE));
  CHECK(frtMemcpy(b, sizeof ones, ones, sizeof ones, FRT_MEMCPY_HOST_TO_DEVICE));

  frtKernel gemm;
  frtStream stream;
  frtEvent start, end;
  CHECK(frtLoadKernelFromFile(kernelPath, &gemm));
  CHECK(frtCreateStream(&stream));
  CHECK(frtCreateEvent(&start));
  CHECK(frtCreateEvent(&end));

  uint64_t args[3] = {(uint64_t)a, (uint64_t)b, (uint64_t)c};
  CHECK(frtRecordEvent(start, stream));
  CHECK(frtLaunchKernel(gemm, 1, args, 3, stream));
  CHECK(frtRecordEvent(end, stream));
  CHECK(frtSynchronizeStream(stream));  /* a device fault would be reported here */

  float ms;
  CHECK(frtEventElapsedTime(&ms, start, end));
  CHECK(frtMemcpy(c_host, sizeof c_host, c, sizeof c_host, FRT_MEMCPY_DEVICE_TO_HOST));
  printf("C[0] = %g (expect 64), %.3f simulated ms\n", c_host[0], ms);

  CHECK(frtDestroyEvent(start));
  CHECK(frtDestroyEvent(end));
  CHECK(frtDestroyStream(stream));
  CHECK(frtUnloadKernel(gemm));
  CHECK(frtFree(a));
  CHECK(frtFree(b));
  CHECK(frtFree(c));
  CHECK(frtResetDevice(0));
  CHECK(frtFinalize());
  return 0;
}
