// Which lines an L2 holds: set-associative, least recently used first out, with a dirty bit per
// line. Plain data and no SystemC, so that the replacement rules are tested on their own
// (tests/unit/sim/L2LinesTest.cpp); L2Cache (MemorySystem.h) puts timing around it.
#pragma once

#include <cstdint>
#include <vector>

namespace fractal::sim::detail {

class L2Lines {
public:
  struct Lookup {
    bool hit = false;
    bool evictedDirty = false; // allocating replaced a dirty line: DRAM takes it
  };

  // Empty lines for `sets` x `ways`; forgets whatever was held.
  void shape(uint64_t sets, uint64_t ways);
  bool shaped() const { return !tags_.empty(); }

  // Looks line number `line` (address / line bytes) up and marks it used; a miss with `allocate`
  // replaces the set's least recently used line. `dirty`: the access writes the line, which
  // DRAM does not have yet (a write-back L2).
  Lookup lookup(uint64_t line, bool allocate, bool dirty);

  // Drops every line in O(1), dirty ones unwritten (a run that starts cold).
  void empty() { validAfter_ = clock_; }

  // The use stamp the next lookup takes; a test sets it near the 32-bit limit to check that
  // renumbering keeps the order of use.
  uint32_t clock() const { return clock_; }
  void setClockForTest(uint32_t clock) { clock_ = validAfter_ = clock; }

private:
  // The stamps are 32-bit (4 bytes a line rather than 8: the L2's arrays are a simulated device's
  // largest host allocation after its SRAM, issue 6's RSS budget). Before the clock would wrap,
  // the live lines' stamps are renumbered 1..n in their order, emptied ones 0.
  void renumber();

  uint64_t sets_ = 0, ways_ = 0;
  std::vector<uint32_t> tags_;    // sets * ways: line / sets (the config check keeps it 32-bit)
  std::vector<uint32_t> lastUse_; // use stamps; at or below validAfter_: empty
  std::vector<uint8_t> dirty_;    // written since DRAM last had it
  uint32_t clock_ = 0;
  uint32_t validAfter_ = 0;
};

} // namespace fractal::sim::detail
