/* idle_rss [PACKAGE]: initialises the runtime and device 0 in timing mode, as the model example
 * does before it loads a package, and prints its resident set size then in KiB. model_bench's
 * rss/<model> subtracts it from the example's peak to show what a model adds to a process: the
 * high-water mark of a run that stops before loading would be larger, since SystemC's library
 * start-up touches memory that Fractal releases right after (simulator/lib/ScMain.cpp).
 *
 * With PACKAGE (a tiny model), it is loaded, run once on zeros and unloaded first: what is left is
 * a device that has run kernels (its SystemC elaboration, L2 tags, decoded-instruction caches, the
 * stream's worker, the code of the paths a model takes) and no model, so the example's peak over
 * this is what one more model costs (rss_above_device_per_model). */
#include "fractal/runtime/fractal_runtime.h"
#include <stdio.h>
#include <string.h>

#define MAX_BUFFERS 16

static int runOnce(const char *path) {
  frtModel model;
  if (frtModelLoadFromFile(path, &model) != FRT_SUCCESS) return 0;
  size_t nin = 0, nout = 0;
  frtModelGetNumInputs(model, &nin);
  frtModelGetNumOutputs(model, &nout);
  frtDataset sets[2];
  frtCreateDataset(&sets[0]);
  frtCreateDataset(&sets[1]);
  void *buffers[MAX_BUFFERS];
  size_t count = 0;
  int ok = nin + nout <= MAX_BUFFERS;
  for (size_t i = 0; ok && i < nin + nout; ++i) {
    frtTensorDesc d;
    ok = (i < nin ? frtModelGetInputDesc(model, i, &d) : frtModelGetOutputDesc(model, i - nin, &d)) == FRT_SUCCESS &&
         frtMalloc(&buffers[i], d.size, FRT_MEM_MALLOC_HUGE_FIRST) == FRT_SUCCESS;
    if (!ok) break;
    count = i + 1; /* buffers to free */
    ok = frtMemset(buffers[i], d.size, 0, d.size) == FRT_SUCCESS &&
         frtAddDatasetBuffer(sets[i < nin ? 0 : 1], buffers[i], d.size) == FRT_SUCCESS;
  }
  ok = ok && frtModelExecute(model, sets[0], sets[1]) == FRT_SUCCESS;
  for (size_t i = 0; i < count; ++i) frtFree(buffers[i]);
  frtDestroyDataset(sets[0]);
  frtDestroyDataset(sets[1]);
  return frtModelUnload(model) == FRT_SUCCESS && ok;
}

int main(int argc, char **argv) {
  if (frtInit("edge:timing") != FRT_SUCCESS || frtSetDevice(0) != FRT_SUCCESS) return 1;
  if (argc > 1 && !runOnce(argv[1])) {
    fprintf(stderr, "idle_rss: %s did not run: %s\n", argv[1], frtGetRecentErrMsg());
    return 1;
  }
  FILE *status = fopen("/proc/self/status", "r");
  if (!status) return 1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, status))
    if (strncmp(line, "VmRSS:", 6) == 0) sscanf(line + 6, "%ld", &kib);
  fclose(status);
  frtFinalize();
  if (kib < 0) return 1;
  printf("%ld\n", kib);
  return 0;
}
