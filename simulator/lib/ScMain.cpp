// libsystemc.so carries a main() that calls sc_main(). Fractal's programs have their own main(),
// so this is never called, but every program linking SystemC needs the symbol: the library's
// link interface forces this file in (-Wl,--undefined=sc_main in CMakeLists.txt).
#include <systemc>

int sc_main(int, char **) { return 1; }
