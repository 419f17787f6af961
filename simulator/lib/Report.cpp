// The run report (JSON, schema in docs/simulator.md) and the Perfetto trace.
#include "fractal/sim/Simulator.h"

#include "fractal/isa/Disassembler.h"
#include "fractal/support/Json.h"

#include <algorithm>
#include <map>

namespace fractal::sim {

namespace {

double ratio(uint64_t part, double whole) { return whole > 0 ? static_cast<double>(part) / whole : 0.0; }

void writeBytes(JsonWriter &j, const std::array<uint64_t, kNumDataPaths> &bytes) {
  j.beginObject();
  for (int p = 0; p < kNumDataPaths; ++p)
    j.field(dataPathName(static_cast<DataPath>(p)), bytes[p]);
  j.endObject();
}

void writeFault(JsonWriter &j, const Fault &f) {
  j.beginObject()
      .field("kind", faultKindName(f.kind))
      .field("core", f.core)
      .field("block", f.block)
      .field("pipe", f.pipe)
      .field("pc", f.pc)
      .field("instruction", f.instruction)
      .field("node", f.note)
      .field("cause", f.cause)
      .field("cycle", f.cycle)
      .field("message", f.message())
      .endObject();
}

} // namespace

std::string runReportJson(const RunResult &r, const ChipConfig &config) {
  const int activeCores = static_cast<int>(std::min<int64_t>(r.blockDim, config.chip.cores));
  const double coreCycles = static_cast<double>(r.cycles) * activeCores;
  const double macsPerCycle = config.fp16MacsPerCycle();
  CoreStats total;
  for (const CoreStats &c : r.cores) {
    for (int p = 0; p < kNumPipes; ++p) {
      total.pipes[p].instructions += c.pipes[p].instructions;
      total.pipes[p].busyCycles += c.pipes[p].busyCycles;
      total.pipes[p].flagWaitCycles += c.pipes[p].flagWaitCycles;
      total.pipes[p].memoryStallCycles += c.pipes[p].memoryStallCycles;
    }
    total.queueFullStallCycles += c.queueFullStallCycles;
    total.barrierStallCycles += c.barrierStallCycles;
    total.scalarGmCycles += c.scalarGmCycles;
    total.flagSpinCycles += c.flagSpinCycles;
    total.macs += c.macs;
    total.l2Hits += c.l2Hits;
    total.l2Misses += c.l2Misses;
    for (int p = 0; p < kNumDataPaths; ++p)
      total.bytes[p] += c.bytes[p];
  }
  auto pipes = [&](JsonWriter &j, const CoreStats &s, double cycles) {
    j.beginObject();
    for (int p = 0; p < kNumPipes; ++p) {
      j.key(pipeLabel(p)).beginObject();
      j.field("instructions", s.pipes[p].instructions)
          .field("busy_cycles", s.pipes[p].busyCycles)
          .field("utilization", ratio(s.pipes[p].busyCycles, cycles))
          .endObject();
    }
    j.endObject();
  };
  auto stalls = [&](JsonWriter &j, const CoreStats &s) {
    j.beginObject();
    j.key("flag_wait").beginObject();
    for (int p = 0; p < kNumPipes; ++p)
      j.field(pipeLabel(p), s.pipes[p].flagWaitCycles);
    j.endObject();
    j.key("memory").beginObject();
    for (int p = 1; p < kNumPipes; ++p)
      j.field(pipeLabel(p), s.pipes[p].memoryStallCycles);
    j.endObject();
    j.field("queue_full", s.queueFullStallCycles)
        .field("barrier", s.barrierStallCycles)
        .field("scalar_gm", s.scalarGmCycles)
        .field("flag_spin", s.flagSpinCycles)
        .field("sync_wait", s.syncWaitCycles)
        .endObject();
  };

  JsonWriter j;
  j.beginObject()
      .field("schema", "fractal.sim.report/1")
      .field("config", r.config)
      .field("mode", simModeName(r.mode))
      .field("clock_mhz", config.chip.clockMhz)
      .field("cores", static_cast<int64_t>(config.chip.cores))
      .field("block_dim", r.blockDim)
      .field("cycles", r.cycles)
      .field("latency_us", r.latencyUs)
      .field("wall_seconds", r.wallSeconds)
      .field("instructions", r.instructions)
      .field("macs", total.macs)
      .field("cube_utilization", ratio(total.macs, coreCycles * macsPerCycle));
  j.key("bytes");
  writeBytes(j, total.bytes);
  j.field("dram_bytes", r.dramBytes);
  j.key("l2").beginObject()
      .field("hits", total.l2Hits)
      .field("misses", total.l2Misses)
      .field("hit_rate", ratio(total.l2Hits, static_cast<double>(total.l2Hits + total.l2Misses)))
      .endObject();
  if (r.mode == SimMode::Rtl) {
    uint64_t instructions = 0, tileCycles = 0, mismatches = 0;
    for (const CoreStats &c : r.cores) {
      instructions += c.rtlInstructions;
      tileCycles += c.rtlTileCycles;
      mismatches += c.rtlCycleMismatches;
    }
    j.key("rtl").beginObject()
        .field("instructions", instructions)
        .field("tile_cycles", tileCycles)
        .field("cycle_mismatches", mismatches)
        .endObject();
  }
  j.key("pipes");
  pipes(j, total, coreCycles);
  j.key("stalls");
  stalls(j, total);
  j.key("per_core").beginArray();
  for (size_t i = 0; i < r.cores.size(); ++i) {
    const CoreStats &c = r.cores[i];
    j.beginObject()
        .field("core", static_cast<int64_t>(i))
        .field("blocks", c.blocks)
        .field("finish_cycle", c.finishCycle)
        .field("macs", c.macs);
    j.key("pipes");
    pipes(j, c, static_cast<double>(r.cycles));
    j.key("stalls");
    stalls(j, c);
    j.key("bytes");
    writeBytes(j, c.bytes);
    j.endObject();
  }
  j.endArray();
  j.key("fault");
  if (r.fault)
    writeFault(j, *r.fault);
  else
    j.null();
  j.endObject();
  return j.str() + "\n";
}

void writeCoreLaneNames(JsonWriter &j, int cores, int firstPid) {
  for (int c = 0; c < cores; ++c) {
    j.beginObject().field("name", "process_name").field("ph", "M").field("pid", firstPid + c);
    j.key("args").beginObject().field("name", "core " + std::to_string(c)).endObject().endObject();
    for (int p = 0; p < kNumPipes; ++p) {
      j.beginObject().field("name", "thread_name").field("ph", "M").field("pid", firstPid + c).field("tid", p);
      j.key("args").beginObject().field("name", pipeLabel(p)).endObject().endObject();
    }
  }
}

std::string traceJson(const RunResult &r, const ChipConfig &config,
                      const isa::KernelBinary &kernel) {
  // Perfetto reads the Chrome trace format: "X" slices with ts/dur in microseconds. Very long runs
  // are batched: consecutive slices of a lane merge into one until the trace has at most
  // kMaxSlices slices.
  constexpr size_t kMaxSlices = 500000;
  const double usPerCycle = 1.0 / config.chip.clockMhz;
  std::map<std::pair<int, int>, std::vector<const TraceSlice *>> lanes;
  for (const TraceSlice &s : r.trace)
    lanes[{s.core, s.pipe}].push_back(&s);
  const size_t batch = std::max<size_t>(1, (r.trace.size() + kMaxSlices - 1) / kMaxSlices);

  JsonWriter j(false);
  j.beginObject().key("traceEvents").beginArray();
  writeCoreLaneNames(j, config.chip.cores, 0);
  for (const auto &[lane, slices] : lanes)
    for (size_t i = 0; i < slices.size(); i += batch) {
      const TraceSlice &first = *slices[i];
      const TraceSlice &last = *slices[std::min(slices.size(), i + batch) - 1];
      const isa::Instruction inst = kernel.instructionAt(static_cast<size_t>(first.pc));
      std::string name = batch == 1 ? inst.info().mnemonic
                                    : std::string(inst.info().mnemonic) + " +" +
                                          std::to_string(std::min(batch, slices.size() - i) - 1);
      j.beginObject()
          .field("name", name)
          .field("ph", "X")
          .field("pid", lane.first)
          .field("tid", lane.second)
          .field("ts", static_cast<double>(first.start) * usPerCycle)
          .field("dur", static_cast<double>(last.start + last.duration - first.start) * usPerCycle);
      j.key("args").beginObject().field("pc", first.pc);
      if (batch == 1) {
        j.field("instruction", isa::formatInstruction(inst));
        if (!kernel.noteOf(size_t(first.pc)).empty())
          j.field("node", kernel.noteOf(size_t(first.pc)));
      }
      // A GM transfer's L2 lines and what DRAM moved for it (a batch: summed).
      uint64_t dram = 0, hits = 0, misses = 0;
      for (size_t s = i; s < std::min(slices.size(), i + batch); ++s) {
        dram += slices[s]->dramBytes;
        hits += slices[s]->l2Hits;
        misses += slices[s]->l2Misses;
      }
      if (hits + misses > 0) j.field("l2_hits", hits).field("l2_misses", misses).field("dram_bytes", dram);
      j.endObject().endObject();
    }
  j.endArray().field("displayTimeUnit", "ns").endObject();
  return j.str() + "\n";
}

} // namespace fractal::sim
