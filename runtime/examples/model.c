/* The model example of docs/runtime.md: load a compiled package, describe it, run it on inputs of
 * ones, print the outputs' first values and the simulated time. Build: part of the CMake build
 * (frt_example_model). Run: frt_example_model model.fpk, with model.fpk from
 * `fractal compile model.onnx -o model.fpk`. */
#include "fractal/runtime/fractal_runtime.h"
#include <stdio.h>

#define CHECK(call) do { frtError e = (call); if (e != FRT_SUCCESS) { \
  fprintf(stderr, "%s failed (%d): %s\n", #call, e, frtGetRecentErrMsg()); return 1; } } while (0)

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "model.fpk";
  CHECK(frtInit("edge:timing"));
  CHECK(frtSetDevice(0));
  frtModel model;
  CHECK(frtModelLoadFromFile(path, &model));
  size_t nin, nout;
  CHECK(frtModelGetNumInputs(model, &nin));
  CHECK(frtModelGetNumOutputs(model, &nout));
  frtDataset inputs, outputs;
  CHECK(frtCreateDataset(&inputs));
  CHECK(frtCreateDataset(&outputs));
  void *buffers[16];
  frtTensorDesc descs[16];
  if (nin + nout > 16) { fprintf(stderr, "too many inputs and outputs for this example\n"); return 1; }
  for (size_t i = 0; i < nin + nout; ++i) {
    frtTensorDesc *d = &descs[i];
    if (i < nin) CHECK(frtModelGetInputDesc(model, i, d));
    else CHECK(frtModelGetOutputDesc(model, i - nin, d));
    printf("%s %s: type %d, %u dims, %zu bytes\n", i < nin ? "input" : "output", d->name, (int)d->dataType,
           d->numDims, d->size);
    CHECK(frtMalloc(&buffers[i], d->size, FRT_MEM_MALLOC_HUGE_FIRST));
    if (i < nin) {
      float *host;
      CHECK(frtMallocHost((void **)&host, d->size));
      for (size_t e = 0; e < d->size / sizeof(float); ++e) host[e] = 1.0f; /* float32 inputs of ones */
      CHECK(frtMemcpy(buffers[i], d->size, host, d->size, FRT_MEMCPY_HOST_TO_DEVICE));
      CHECK(frtFreeHost(host));
      CHECK(frtAddDatasetBuffer(inputs, buffers[i], d->size));
    } else {
      CHECK(frtAddDatasetBuffer(outputs, buffers[i], d->size));
    }
  }
  frtStream stream;
  frtEvent start, end;
  CHECK(frtCreateStream(&stream));
  CHECK(frtCreateEvent(&start));
  CHECK(frtCreateEvent(&end));
  CHECK(frtRecordEvent(start, stream));
  CHECK(frtModelExecuteAsync(model, inputs, outputs, stream));
  CHECK(frtRecordEvent(end, stream));
  CHECK(frtSynchronizeStream(stream));
  float ms;
  CHECK(frtEventElapsedTime(&ms, start, end));
  for (size_t o = 0; o < nout; ++o) {
    float first;
    CHECK(frtMemcpy(&first, sizeof first, buffers[nin + o], sizeof first, FRT_MEMCPY_DEVICE_TO_HOST));
    printf("%s[0] = %g\n", descs[nin + o].name, first);
  }
  printf("%.4f simulated ms\n", ms);
  for (size_t i = 0; i < nin + nout; ++i) CHECK(frtFree(buffers[i]));
  CHECK(frtDestroyDataset(inputs));
  CHECK(frtDestroyDataset(outputs));
  CHECK(frtModelUnload(model));
  CHECK(frtFinalize());
  return 0;
}
