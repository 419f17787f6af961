#include "RaceDetector.h"

#include <algorithm>

namespace fractal::sim::detail {

namespace {
constexpr uint64_t kGranule = 32;

void join(RaceDetector::Clock &into, const RaceDetector::Clock &from) {
  for (int i = 0; i < kNumPipes; ++i)
    into[i] = std::max(into[i], from[i]);
}
} // namespace

RaceDetector::RaceDetector(const ChipConfig &config) {
  for (int i = 0; i < kNumBufferKinds; ++i)
    local_[i].resize(static_cast<size_t>(config.buffers[i].sizeBytes) / kGranule + 1);
  reset();
}

void RaceDetector::reset() {
  for (auto &buffer : local_)
    std::fill(buffer.begin(), buffer.end(), Granule{});
  gm_.clear();
  flags_.clear();
  for (int p = 0; p < kNumPipes; ++p) {
    clocks_[p].fill(0);
    clocks_[p][p] = 1; // epoch 0 means "never accessed"
  }
}

RaceDetector::Granule &RaceDetector::granule(isa::Space space, uint64_t index) {
  if (space == isa::Space::GM)
    return gm_[index];
  return local_[static_cast<int>(bufferKindOf(space))][index];
}

void RaceDetector::beginOp(int pipe, const Clock &dispatched) {
  join(clocks_[pipe], dispatched);
  ++clocks_[pipe][pipe];
}

std::optional<RaceDetector::Race> RaceDetector::access(int pipe, int64_t pc, const MemoryAccess &a) {
  const Clock &now = clocks_[pipe];
  for (uint64_t g = a.address / kGranule; g <= (a.address + a.length - 1) / kGranule; ++g) {
    Granule &s = granule(a.space, g);
    // The last write must happen before this access (unless it was this pipe's own).
    if (s.writePipe >= 0 && s.writePipe != pipe && now[s.writePipe] < s.writeClock)
      return Race{s.writePipe, s.writePc, true, a};
    if (a.write) {
      for (int r = 0; r < kNumPipes; ++r)
        if (r != pipe && s.readClock[r] && now[r] < s.readClock[r])
          return Race{r, s.readPc[r], false, a};
      s.writePipe = static_cast<int8_t>(pipe);
      s.writeClock = now[pipe];
      s.writePc = static_cast<int32_t>(pc);
      s.readClock.fill(0); // every earlier read is ordered before this write
    } else {
      s.readClock[pipe] = now[pipe];
      s.readPc[pipe] = static_cast<int32_t>(pc);
    }
  }
  return std::nullopt;
}

void RaceDetector::setFlag(int pipe, int flag) {
  flags_[flag] = clocks_[pipe];
  ++clocks_[pipe][pipe];
}

void RaceDetector::waitFlag(int pipe, int flag) {
  if (auto it = flags_.find(flag); it != flags_.end())
    join(clocks_[pipe], it->second);
}

void RaceDetector::joinAllIntoScalar() {
  for (int p = 1; p < kNumPipes; ++p)
    join(clocks_[0], clocks_[p]);
  ++clocks_[0][0];
}

} // namespace fractal::sim::detail
