#include "L2Lines.h"

#include <algorithm>

namespace fractal::sim::detail {

void L2Lines::shape(uint64_t sets, uint64_t ways) {
  sets_ = sets;
  ways_ = ways;
  tags_.assign(sets * ways, 0);
  lastUse_.assign(sets * ways, 0); // 0 <= validAfter_: empty
  dirty_.assign(sets * ways, 0);
  clock_ = validAfter_ = 0;
}

void L2Lines::renumber() {
  std::vector<uint32_t> live;
  for (uint32_t u : lastUse_)
    if (u > validAfter_)
      live.push_back(u);
  std::sort(live.begin(), live.end()); // each lookup stamps one line: live stamps are distinct
  for (uint32_t &u : lastUse_)
    u = u > validAfter_ ? uint32_t(std::lower_bound(live.begin(), live.end(), u) - live.begin()) + 1 : 0;
  clock_ = uint32_t(live.size());
  validAfter_ = 0;
}

L2Lines::Lookup L2Lines::lookup(uint64_t line, bool allocate, bool dirty) {
  if (clock_ == UINT32_MAX)
    renumber();
  const uint64_t set = line % sets_;
  const uint32_t tag = static_cast<uint32_t>(line / sets_);
  uint32_t *tags = &tags_[set * ways_];
  uint32_t *use = &lastUse_[set * ways_];
  uint8_t *dirtyBits = &dirty_[set * ways_];
  ++clock_;
  Lookup result;
  for (uint64_t w = 0; w < ways_; ++w)
    if (tags[w] == tag && use[w] > validAfter_) {
      use[w] = clock_;
      dirtyBits[w] |= uint8_t(dirty);
      result.hit = true;
      return result;
    }
  if (allocate) {
    const uint64_t victim = std::min_element(use, use + ways_) - use;
    result.evictedDirty = dirtyBits[victim] && use[victim] > validAfter_;
    tags[victim] = tag;
    use[victim] = clock_;
    dirtyBits[victim] = uint8_t(dirty);
  }
  return result;
}

} // namespace fractal::sim::detail
