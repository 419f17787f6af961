/* idle_rss: initialises the runtime and device 0 in timing mode, as the model example does before
 * it loads a package, and prints its resident set size then in KiB. model_bench's rss/<model>
 * subtracts it from the example's peak to show what a model adds to a process: the high-water
 * mark of a run that stops before loading would be larger, since SystemC's library start-up
 * touches memory that Fractal releases right after (simulator/lib/ScMain.cpp). */
#include "fractal/runtime/fractal_runtime.h"
#include <stdio.h>
#include <string.h>

int main(void) {
  if (frtInit("edge:timing") != FRT_SUCCESS || frtSetDevice(0) != FRT_SUCCESS) return 1;
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
