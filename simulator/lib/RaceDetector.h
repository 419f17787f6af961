// The data race detector (`--check-races`): two pipes touching the same bytes, at least one of
// them writing, with no flag or barrier ordering them.
//
// Ordering is tracked with vector clocks, one per unit (scalar unit + six pipes): an instruction
// inherits the scalar unit's clock at dispatch; set_flag publishes its pipe's clock in the flag and
// wait_flag joins it; `barrier all` (and `end`) makes the scalar unit join every pipe. Memory keeps,
// per 32-byte granule, the last write and the last read of each unit (FastTrack-style epochs).
#pragma once

#include "fractal/sim/Execute.h"
#include "fractal/sim/Simulator.h"

#include <array>
#include <optional>
#include <unordered_map>
#include <vector>

namespace fractal::sim::detail {

class RaceDetector {
public:
  using Clock = std::array<uint32_t, kNumPipes>;

  struct Race {
    int otherPipe;
    int64_t otherPc;
    bool otherWrote;
    MemoryAccess access; // the access that found the race
  };

  explicit RaceDetector(const ChipConfig &config);
  void reset();

  const Clock &scalarClock() const { return clocks_[0]; }
  void scalarStep() { ++clocks_[0][0]; }
  // A pipe starts an instruction dispatched with `dispatched`.
  void beginOp(int pipe, const Clock &dispatched);
  std::optional<Race> access(int pipe, int64_t pc, const MemoryAccess &a);
  void setFlag(int pipe, int flag);
  void waitFlag(int pipe, int flag);
  void joinAllIntoScalar();

private:
  struct Granule {
    uint32_t writeClock = 0;
    int8_t writePipe = -1;
    int32_t writePc = -1;
    std::array<uint32_t, kNumPipes> readClock{};
    std::array<int32_t, kNumPipes> readPc{};
  };
  Granule &granule(isa::Space space, uint64_t index);

  std::array<std::vector<Granule>, kNumBufferKinds> local_;
  std::unordered_map<uint64_t, Granule> gm_;
  std::array<Clock, kNumPipes> clocks_{};
  std::unordered_map<int, Clock> flags_;
};

} // namespace fractal::sim::detail
