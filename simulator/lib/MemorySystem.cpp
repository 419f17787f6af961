#include "MemorySystem.h"

#include <algorithm>
#include <cmath>

namespace fractal::sim::detail {

using sc_core::sc_time;
using sc_core::SC_NS;

// SystemC time counts core cycles: 1 ns of simulated time is one cycle (see AiCore.h).
static sc_time cycles(double n) { return cyclesToTime(static_cast<uint64_t>(n)); } // n is whole

Dram::Dram(sc_core::sc_module_name name, const ChipConfig &config)
    : sc_module(name), socket("socket"), bytesPerCycle_(config.dramBytesPerCycle()),
      latency_(static_cast<uint64_t>(config.dram.latencyCycles)) {
  socket.register_b_transport(this, &Dram::b_transport);
}

void Dram::b_transport(tlm::tlm_generic_payload &trans, sc_time &delay) {
  sc_time arrival = sc_core::sc_time_stamp() + delay;
  sc_time start = std::max(arrival, busyUntil_);
  sc_time occupancy = cycles(std::ceil(trans.get_data_length() / bytesPerCycle_));
  busyUntil_ = start + occupancy;
  delay += (start - arrival) + occupancy;
  bytes_ += trans.get_data_length();
  if (auto *t = trans.get_extension<GmTiming>()) {
    t->latencyCycles += latency_;
    t->dramBytes += trans.get_data_length();
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

L2Cache::L2Cache(sc_core::sc_module_name name, const ChipConfig &config)
    : sc_module(name), cores("cores"), dram("dram"), config_(config),
      writeAllocate_(config.l2.writeAllocate != 0), writeBack_(config.l2.writeBack != 0) {
  lineBytes_ = static_cast<uint64_t>(config.l2.lineBytes);
  ways_ = static_cast<uint64_t>(config.l2Ways());
  sets_ = static_cast<uint64_t>(config.l2Sets());
  cores.register_b_transport(this, &L2Cache::b_transport);
}

void L2Cache::swapLines(L2Lines &lines) {
  // The L2 holds lines only between a run's swaps (its own would be a second copy that nothing
  // reads), so a swap in with none on either side is a device's first run: an empty cache of
  // this shape.
  if (!lines.shaped() && !lines_.shaped())
    lines.shape(sets_, ways_);
  std::swap(lines_, lines);
}

uint64_t L2Cache::toDram(tlm::tlm_generic_payload &from, uint64_t bytes, sc_time &delay) {
  tlm::tlm_generic_payload down;
  down.set_command(from.get_command());
  down.set_address(from.get_address());
  down.set_data_ptr(from.get_data_ptr());
  down.set_data_length(static_cast<unsigned int>(bytes));
  down.set_streaming_width(static_cast<unsigned int>(bytes));
  down.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  GmTiming dramTiming;
  down.set_extension(&dramTiming);
  dram->b_transport(down, delay);
  down.clear_extension(&dramTiming);
  return dramTiming.latencyCycles;
}

void L2Cache::b_transport(int id, tlm::tlm_generic_payload &trans, sc_time &delay) {
  (void)id;
  const bool write = trans.is_write();
  const uint64_t address = trans.get_address();
  GmTiming *timing = trans.get_extension<GmTiming>();
  uint64_t length = trans.get_data_length(), rows = timing ? timing->rows : 1;
  const uint64_t stride = timing ? timing->rowStride : 0;
  if (rows > 1 && stride == length) { // back-to-back rows are one range (whole lines across rows)
    length *= rows;
    rows = 1;
  }
  uint64_t missLines = 0, hitLines = 0, evictedLines = 0;
  uint64_t throughBytes = 0;      // written bytes DRAM takes now
  uint64_t lastLine = UINT64_MAX; // rows closer than a line share it: count each line once
  bool lastHeld = false;          // the L2 holds lastLine (after its lookup)
  for (uint64_t r = 0; r < rows && length > 0; ++r) {
    const uint64_t start = address + r * stride;
    for (uint64_t line = start / lineBytes_; line <= (start + length - 1) / lineBytes_; ++line) {
      const uint64_t lineStart = line * lineBytes_;
      const uint64_t covered = std::min(start + length, lineStart + lineBytes_) - std::max(start, lineStart);
      if (line == lastLine) {
        if (write && !(writeBack_ && lastHeld))
          throughBytes += covered;
        continue;
      }
      lastLine = line;
      // Reads allocate on a miss; writes allocate only lines they cover whole (with
      // l2.write_allocate), else refresh lines already held. Write-through: DRAM takes every
      // write; write-back: only what lands on no line (a partial line the L2 does not hold).
      const bool whole = covered == lineBytes_;
      const L2Lines::Lookup l = lines_.lookup(line, !write || (writeAllocate_ && whole), write && writeBack_);
      if (l.hit)
        ++hitLines;
      else
        ++missLines;
      evictedLines += l.evictedDirty;
      lastHeld = l.hit || (writeAllocate_ && whole);
      if (write && !(writeBack_ && lastHeld))
        throughBytes += covered;
    }
  }
  hits_ += hitLines;
  misses_ += missLines;
  if (timing) {
    timing->lineHits += hitLines;
    timing->lineMisses += missLines;
    timing->latencyCycles += static_cast<uint64_t>(
        (write ? config_.dma.gmWritePathLatencyCycles : config_.dma.gmReadPathLatencyCycles) +
        config_.l2.hitLatencyCycles);
  }
  // The requester waits for its own DRAM transfer (the read's lines, the write-through bytes).
  // Evicted dirty lines are written back after it, posted: they occupy DRAM for whoever comes
  // next, not the requester.
  const uint64_t ownBytes = write ? throughBytes : missLines * lineBytes_;
  if (ownBytes > 0) {
    const uint64_t latency = toDram(trans, ownBytes, delay);
    if (timing) {
      // The DRAM latency is seen once per transfer (the lines stream behind the first), by a read.
      if (!write)
        timing->latencyCycles += latency;
      timing->dramBytes += ownBytes;
    }
  }
  if (evictedLines > 0) {
    sc_time posted = delay;
    tlm::tlm_generic_payload writeback;
    writeback.set_command(tlm::TLM_WRITE_COMMAND);
    writeback.set_data_ptr(trans.get_data_ptr()); // timing only: no bytes are read
    toDram(writeback, evictedLines * lineBytes_, posted);
    if (timing)
      timing->dramBytes += evictedLines * lineBytes_;
  }
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

} // namespace fractal::sim::detail
