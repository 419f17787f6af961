// The shared memory system behind the AI cores, as SystemC modules talking TLM-2.0:
//   core.gmSocket --> L2Cache (one target socket per core) --> Dram
// Transactions carry timing only: the functional semantics have already moved the bytes. The
// returned delay is the bandwidth occupancy (including waiting for DRAM used by other cores); the
// fixed latency comes back in a GmTiming extension, so that the DMA engine can overlap latency
// with later transfers (it is pipelined).
#pragma once

#include "L2Lines.h"
#include "fractal/config/ChipConfig.h"

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <vector>

namespace fractal::sim::detail {

// Simulated time counts core cycles: one cycle is one nanosecond of SystemC time. The
// conversions work on SystemC's integer time value (sc_time(double, unit) and to_seconds() cost
// floating-point work and a look-up of the context's resolution every time).
inline uint64_t timeUnitsPerCycle() {
  static const uint64_t units = sc_core::sc_time(1, sc_core::SC_NS).value();
  return units;
}
inline sc_core::sc_time cyclesToTime(uint64_t n) { return sc_core::sc_time::from_value(n * timeUnitsPerCycle()); }
inline uint64_t timeToCycles(const sc_core::sc_time &t) { return t.value() / timeUnitsPerCycle(); }

struct GmTiming : tlm::tlm_extension<GmTiming> {
  // In: the transfer is `rows` copies of the payload's [address, +length), `rowStride` bytes apart
  // (DMA bursts, matrix rows); TLM's payload has no 2-D form of its own.
  uint64_t rows = 1;
  uint64_t rowStride = 0;
  // Out:
  uint64_t latencyCycles = 0;
  uint64_t lineHits = 0, lineMisses = 0;
  uint64_t dramBytes = 0;
  tlm::tlm_extension_base *clone() const override { return new GmTiming(*this); }
  void copy_from(const tlm::tlm_extension_base &other) override {
    *this = static_cast<const GmTiming &>(other);
  }
};

// DRAM: one shared channel of `dram.bandwidth_gbs`; requests queue behind each other.
class Dram : public sc_core::sc_module {
public:
  tlm_utils::simple_target_socket<Dram> socket;
  Dram(sc_core::sc_module_name name, const ChipConfig &config);
  void reset() { busyUntil_ = sc_core::SC_ZERO_TIME; bytes_ = 0; }
  uint64_t bytesTransferred() const { return bytes_; }

private:
  void b_transport(tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);
  double bytesPerCycle_;
  uint64_t latency_;
  sc_core::sc_time busyUntil_;
  uint64_t bytes_ = 0;
};

// L2: set-associative, LRU; with `l2.write_allocate` a write allocates the lines it covers whole
// (a partly written line is not valid data in a cache that does not fetch on writes), otherwise
// writes only refresh lines already held. With `l2.write_back` a write to a held or allocated
// line only marks it dirty and DRAM takes the line when it is evicted (a partly written line the
// L2 does not hold goes through to DRAM); otherwise every write goes through.
class L2Cache : public sc_core::sc_module {
public:
  tlm_utils::multi_passthrough_target_socket<L2Cache> cores;
  tlm_utils::simple_initiator_socket<L2Cache> dram;
  L2Cache(sc_core::sc_module_name name, const ChipConfig &config);
  // Exchanges the lines held with `lines` (shaped on first use): a run swaps its device's lines
  // in and out again; between runs the L2 holds none. The lines belong to a device (a
  // Simulator), not to the shared elaboration, so that a model's kernels find the lines its
  // earlier kernels left, whatever other devices ran in between.
  void swapLines(L2Lines &lines);
  // Drops every line in O(1): a run that starts cold (dirty lines are dropped unwritten, as if the
  // L2 had been flushed before the run, untimed).
  void empty() { lines_.empty(); }
  void resetCounters() { hits_ = misses_ = 0; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

private:
  void b_transport(int id, tlm::tlm_generic_payload &trans, sc_core::sc_time &delay);
  // Moves `bytes` of `from`'s kind through DRAM, adding its occupancy to `delay`; returns the
  // DRAM latency.
  uint64_t toDram(tlm::tlm_generic_payload &from, uint64_t bytes, sc_core::sc_time &delay);
  const ChipConfig &config_;
  const bool writeAllocate_, writeBack_;
  uint64_t lineBytes_, sets_, ways_;
  L2Lines lines_;
  uint64_t hits_ = 0, misses_ = 0;
};

} // namespace fractal::sim::detail
