// libsystemc.so carries a main() that calls sc_main(). Fractal's programs have their own main(),
// so this is never called, but every program linking SystemC needs the symbol: the library's
// link interface forces this file in (-Wl,--undefined=sc_main in CMakeLists.txt).
#include <systemc>

int sc_main(int, char **) { return 1; }

namespace {

// SystemC's library initialisation allocates and zeroes a 3 MiB scratch heap for concatenating
// its arbitrary-precision integer types (sc_temp_heap, used by sc_concatref only). Fractal's models
// use none of those types, and the 3 MiB was a quarter of the resident memory of a process running
// a small model (BlazeFace front: 1 MiB of device memory). A shared library's initialisers run
// before those of the program linking it, so this replaces the heap by a small one right after.
// 64 KiB still holds the digits of a 500,000-bit concatenation.
struct ShrinkSystemCTempHeap {
  ShrinkSystemCTempHeap() { sc_core::sc_temp_heap.initialize(64 * 1024); }
} shrinkSystemCTempHeap;

} // namespace
