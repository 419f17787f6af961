// The L2's replacement rules on their own: LRU within a set, dirty lines written back when they
// are replaced, emptying in O(1), and the 32-bit use stamps renumbered without losing the order.
#include "L2Lines.h"

#include <gtest/gtest.h>

using fractal::sim::detail::L2Lines;

namespace {

// Two sets of two ways: lines 0, 2, 4, ... share set 0.
L2Lines twoByTwo() {
  L2Lines lines;
  lines.shape(2, 2);
  return lines;
}

} // namespace

TEST(L2Lines, LeastRecentlyUsedLeavesFirst) {
  L2Lines l = twoByTwo();
  EXPECT_FALSE(l.lookup(0, true, false).hit);
  EXPECT_FALSE(l.lookup(2, true, false).hit);
  EXPECT_FALSE(l.lookup(1, true, false).hit); // the other set: no effect on set 0
  EXPECT_TRUE(l.lookup(0, true, false).hit);  // 0 is now newer than 2
  EXPECT_FALSE(l.lookup(4, true, false).hit); // replaces 2
  EXPECT_TRUE(l.lookup(0, true, false).hit);
  EXPECT_FALSE(l.lookup(2, true, false).hit);
  EXPECT_TRUE(l.lookup(1, false, false).hit);
  EXPECT_FALSE(l.lookup(6, false, false).hit); // no allocation: 6 stays out
  EXPECT_FALSE(l.lookup(6, false, false).hit);
}

TEST(L2Lines, DirtyLinesAreWrittenBackWhenReplaced) {
  L2Lines l = twoByTwo();
  l.lookup(0, true, true); // a write: dirty
  l.lookup(2, true, false);
  EXPECT_TRUE(l.lookup(4, true, false).evictedDirty);  // replaces 0
  EXPECT_FALSE(l.lookup(6, true, false).evictedDirty); // replaces 2, clean
  EXPECT_TRUE(l.lookup(4, true, true).hit);            // a write hit makes 4 dirty
  EXPECT_FALSE(l.lookup(8, true, false).evictedDirty); // replaces 6
  EXPECT_TRUE(l.lookup(10, true, false).evictedDirty); // replaces 4
}

TEST(L2Lines, EmptyingDropsEveryLineAndItsDirt) {
  L2Lines l = twoByTwo();
  l.lookup(0, true, true);
  l.lookup(2, true, true);
  l.empty();
  const L2Lines::Lookup first = l.lookup(0, true, false);
  EXPECT_FALSE(first.hit);
  EXPECT_FALSE(first.evictedDirty);
  const L2Lines::Lookup replaced = l.lookup(2, true, false); // the second way, emptied, is replaced
  EXPECT_FALSE(replaced.hit);
  EXPECT_FALSE(replaced.evictedDirty);
}

TEST(L2Lines, StampsRenumberedBeforeTheyWrapKeepTheOrderOfUse) {
  L2Lines l = twoByTwo();
  l.setClockForTest(UINT32_MAX - 4);
  l.lookup(0, true, false);
  l.lookup(2, true, false);
  l.lookup(1, true, true);
  l.lookup(0, true, false); // stamp UINT32_MAX: 0 newer than 2
  EXPECT_EQ(l.clock(), UINT32_MAX);
  EXPECT_FALSE(l.lookup(4, true, false).hit); // renumbered first; replaces 2, the older
  EXPECT_LT(l.clock(), 16u);
  EXPECT_TRUE(l.lookup(0, true, false).hit);
  EXPECT_TRUE(l.lookup(4, true, false).hit);
  EXPECT_FALSE(l.lookup(2, true, false).hit); // replaces 0, now the older
  EXPECT_TRUE(l.lookup(4, true, false).hit);
  EXPECT_TRUE(l.lookup(1, true, false).hit); // set 1's dirty line survived the renumbering
  EXPECT_FALSE(l.lookup(3, true, false).evictedDirty); // takes set 1's empty way
  EXPECT_TRUE(l.lookup(5, true, false).evictedDirty); // 1 (dirty) is set 1's oldest now
}
