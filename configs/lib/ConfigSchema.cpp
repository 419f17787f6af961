// Every key of a chip config, in the order `fractal config show` prints them. The numbers in the
// presets come from ../shared/docs/npu-facts.md; docs/config.md is generated from this table.
#include "ConfigSchema.h"

namespace fractal::config_detail {

namespace {

#define FRACTAL_INT(path, member, unit, flags, maxv, doc)                                          \
  FieldSpec{path, FieldType::Integer, unit, flags, maxv, doc,                                      \
            [](ChipConfig &c) -> int64_t & { return c.member; }, nullptr, nullptr}
#define FRACTAL_NUM(path, member, unit, minv, maxv, doc)                                           \
  FieldSpec{path, FieldType::Number, unit, kNone, maxv, doc, nullptr,                              \
            [](ChipConfig &c) -> double & { return c.member; }, nullptr, minv}
#define FRACTAL_STR(path, member, doc)                                                             \
  FieldSpec{path, FieldType::String, "", kNone, 0, doc, nullptr, nullptr,                          \
            [](ChipConfig &c) -> std::string & { return c.member; }}

template <int Kind> void addBufferFields(std::vector<FieldSpec> &out, const char *what) {
  std::string p = std::string("buffers.") + bufferKindName(static_cast<BufferKind>(Kind)) + ".";
  out.push_back({p + "size_bytes", FieldType::Integer, "bytes", kNone, kMaxBufferBytes,
                 std::string("capacity of ") + what, [](ChipConfig &c) -> int64_t & {
                   return c.buffers[Kind].sizeBytes;
                 }});
  out.push_back({p + "alignment_bytes", FieldType::Integer, "bytes", kPowerOfTwo, 0,
                 "every operand address and the size must be a multiple of this",
                 [](ChipConfig &c) -> int64_t & { return c.buffers[Kind].alignmentBytes; }});
  out.push_back({p + "read_bytes_per_cycle", FieldType::Integer, "bytes/cycle", kNone, 0,
                 "read port bandwidth",
                 [](ChipConfig &c) -> int64_t & { return c.buffers[Kind].readBytesPerCycle; }});
  out.push_back({p + "write_bytes_per_cycle", FieldType::Integer, "bytes/cycle", kNone, 0,
                 "write port bandwidth",
                 [](ChipConfig &c) -> int64_t & { return c.buffers[Kind].writeBytesPerCycle; }});
}

template <int Cls> void addVectorTiming(std::vector<FieldSpec> &out, const char *which) {
  std::string p = std::string("vector.timing.") +
                  vectorTimingClassName(static_cast<VectorTimingClass>(Cls)) + ".";
  out.push_back({p + "bytes_per_cycle", FieldType::Integer, "bytes/cycle", kNone, 0,
                 std::string("parallel bytes per cycle of ") + which,
                 [](ChipConfig &c) -> int64_t & { return c.vector.timing[Cls].bytesPerCycle; }});
  out.push_back({p + "latency_cycles", FieldType::Integer, "cycles", kNone, kMaxCycles,
                 std::string("latency of ") + which,
                 [](ChipConfig &c) -> int64_t & { return c.vector.timing[Cls].latencyCycles; }});
}

std::vector<FieldSpec> buildSchema() {
  std::vector<FieldSpec> s;
  s.push_back(FRACTAL_STR("name", name, "short name of the chip, shown in reports and packages"));
  s.push_back(FRACTAL_STR("description", description, "one line for humans"));

  s.push_back(FRACTAL_INT("chip.cores", chip.cores, "", kNone, 4096, "number of AI cores"));
  s.push_back(FRACTAL_NUM("chip.clock_mhz", chip.clockMhz, "MHz", 1, 100000, "AI core clock"));
  s.push_back(FRACTAL_INT("chip.gm_size_bytes", chip.gmSizeBytes, "bytes", kNone, 0,
                          "device global memory (GM) addressable by kernels"));
  s.push_back(FRACTAL_INT("chip.cross_core_sync_cycles", chip.crossCoreSyncCycles, "cycles", kAllowZero, kMaxCycles,
                          "hardware synchronisation of all AI cores (Ascend 910B's cross-core flags, AscendC "
                          "SyncAll; the `sync_all` instruction): cycles from the last core's arrival until every "
                          "core goes on; 0: none, cores synchronise in software through GM (kernel sequences' "
                          "barriers spin on flags there)"));

  s.push_back(FRACTAL_INT("core.pipe_queue_depth", core.pipeQueueDepth, "instructions", kNone, 0,
                          "depth of each pipe's in-order queue; a full queue stalls the scalar unit"));
  s.push_back(FRACTAL_INT("core.scalar_cycles_per_instruction", core.scalarCyclesPerInstruction,
                          "cycles", kNone, kMaxCycles, "scalar unit issue cost of one instruction"));
  s.push_back(FRACTAL_INT("core.branch_taken_penalty_cycles", core.branchTakenPenaltyCycles,
                          "cycles", kAllowZero, kMaxCycles, "extra cycles of a taken branch"));
  s.push_back(FRACTAL_INT("core.scalar_gm_latency_cycles", core.scalarGmLatencyCycles, "cycles",
                          kNone, kMaxCycles, "latency of a scalar load/store to GM (one that misses the scalar data cache)"));
  s.push_back(FRACTAL_INT("core.scalar_dcache_lines", core.scalarDcacheLines, "lines", kAllowZero, 0,
                          "the scalar unit's data cache, LRU (0: none): a load/store to a line it holds costs no "
                          "GM latency; it starts empty at every kernel launch"));
  s.push_back(FRACTAL_INT("core.scalar_dcache_line_bytes", core.scalarDcacheLineBytes, "bytes", kPowerOfTwo, 0,
                          "line size of the scalar data cache"));
  s.push_back(FRACTAL_INT("core.sync_latency_cycles", core.syncLatencyCycles, "cycles", kAllowZero,
                          kMaxCycles, "cycles between set_flag completing and the waiting pipe seeing it"));

  s.push_back(FRACTAL_INT("cube.fp16.m", cube.fp16.m, "elements", kNone, 0,
                          "fp16 cube: rows of A and C per cycle"));
  s.push_back(FRACTAL_INT("cube.fp16.k", cube.fp16.k, "elements", kNone, 0,
                          "fp16 cube: reduction depth per cycle (the fp16 k step)"));
  s.push_back(FRACTAL_INT("cube.fp16.n", cube.fp16.n, "elements", kNone, 0,
                          "fp16 cube: columns of B and C per cycle"));
  s.push_back(FRACTAL_INT("cube.int8.m", cube.int8.m, "elements", kNone, 0,
                          "int8 cube: rows of A and C per cycle"));
  s.push_back(FRACTAL_INT("cube.int8.k", cube.int8.k, "elements", kNone, 0,
                          "int8 cube: reduction depth per cycle (the int8 k step)"));
  s.push_back(FRACTAL_INT("cube.int8.n", cube.int8.n, "elements", kNone, 0,
                          "int8 cube: columns of B and C per cycle"));
  s.push_back(FRACTAL_INT("cube.fp32_k_step", cube.fp32KStep, "elements", kNone, 0,
                          "fp32 cube reduction depth per cycle (quarter rate)"));
  s.push_back(FRACTAL_INT("cube.mmad_latency_cycles", cube.mmadLatencyCycles, "cycles", kAllowZero,
                          kMaxCycles, "fixed cost added to every mmad (pipeline fill and drain)"));

  s.push_back(FRACTAL_INT("vector.bytes_per_repeat", vector.bytesPerRepeat, "bytes", kPowerOfTwo,
                          0, "bytes one vector repeat processes (8 blocks)"));
  s.push_back(FRACTAL_INT("vector.block_bytes", vector.blockBytes, "bytes", kPowerOfTwo, 0,
                          "block size; strides are counted in blocks"));
  s.push_back(FRACTAL_INT("vector.mask_bits", vector.maskBits, "bits", kNone, 0,
                          "width of the vector mask (one bit per element of a repeat)"));
  s.push_back(FRACTAL_INT("vector.max_repeat", vector.maxRepeat, "repeats", kNone, 255,
                          "largest repeat count of one vector instruction (encoded in 8 bits)"));
  s.push_back(FRACTAL_INT("vector.pipeline_delay_cycles", vector.pipelineDelayCycles, "cycles",
                          kAllowZero, kMaxCycles, "vector pipeline delay added to every instruction"));
  addVectorTiming<0>(s, "simple ops (add, sub, max, min, abs, relu, compare, select, dup)");
  addVectorTiming<1>(s, "mul and muls");
  addVectorTiming<2>(s, "exp");
  addVectorTiming<3>(s, "ln");
  addVectorTiming<4>(s, "sqrt and div");
  addVectorTiming<5>(s, "reciprocal and rsqrt");
  addVectorTiming<6>(s, "reductions");
  addVectorTiming<7>(s, "conversions");

  addBufferFields<0>(s, "L1, the cube's staging buffer");
  addBufferFields<1>(s, "L0A, the cube's left operand buffer");
  addBufferFields<2>(s, "L0B, the cube's right operand buffer");
  addBufferFields<3>(s, "L0C, the cube's accumulator buffer");
  addBufferFields<4>(s, "UB, the vector unit's unified buffer");

  s.push_back(FRACTAL_INT("dma.issue_cycles", dma.issueCycles, "cycles", kAllowZero, kMaxCycles,
                          "fixed cost of issuing any DMA"));
  s.push_back(FRACTAL_INT("dma.load2d_cycles", dma.load2dCycles, "cycles", kAllowZero, kMaxCycles,
                          "fixed cost of an MTE1 load2d"));
  s.push_back(FRACTAL_INT("dma.load3d_cycles", dma.load3dCycles, "cycles", kAllowZero, kMaxCycles,
                          "fixed cost of an MTE1 load3d (img2col)"));
  s.push_back(FRACTAL_INT("dma.gm_read_bytes_per_cycle", dma.gmReadBytesPerCycle, "bytes/cycle",
                          kNone, 0, "one core's GM read bandwidth"));
  s.push_back(FRACTAL_INT("dma.gm_write_bytes_per_cycle", dma.gmWriteBytesPerCycle, "bytes/cycle",
                          kNone, 0, "one core's GM write bandwidth"));
  s.push_back(FRACTAL_INT("dma.gm_read_path_latency_cycles", dma.gmReadPathLatencyCycles, "cycles",
                          kAllowZero, kMaxCycles, "core-to-L2 path latency of a read, before the L2 lookup"));
  s.push_back(FRACTAL_INT("dma.gm_write_path_latency_cycles", dma.gmWritePathLatencyCycles,
                          "cycles", kAllowZero, kMaxCycles,
                          "core-to-L2 path latency of a write, before the L2 lookup"));

  s.push_back(FRACTAL_INT("l2.size_bytes", l2.sizeBytes, "bytes", kNone, 0, "shared L2 capacity"));
  s.push_back(FRACTAL_INT("l2.line_bytes", l2.lineBytes, "bytes", kPowerOfTwo, 0, "L2 line size"));
  s.push_back(FRACTAL_INT("l2.hit_latency_cycles", l2.hitLatencyCycles, "cycles", kAllowZero, kMaxCycles,
                          "latency of an L2 hit"));
  s.push_back(FRACTAL_INT("l2.write_allocate", l2.writeAllocate, "", kAllowZero, 1,
                          "1: a GM write allocates the L2 lines it covers whole, and a model's next "
                          "kernel finds them (ATC's default "
                          "--buffer_optimize=l2_optimize); 0: writes only refresh lines already held"));
  s.push_back(FRACTAL_INT("l2.write_back", l2.writeBack, "", kAllowZero, 1,
                          "1: write-back: a write to a line the L2 holds (or allocates) only marks it "
                          "dirty, and DRAM takes the line when it is evicted; 0: write-through, DRAM "
                          "takes every write"));

  s.push_back(FRACTAL_NUM("dram.bandwidth_gbs", dram.bandwidthGBs, "GB/s", 0.01, 1000000,
                          "DRAM bandwidth shared by all cores (10^9 bytes per second)"));
  s.push_back(FRACTAL_INT("dram.latency_cycles", dram.latencyCycles, "cycles", kAllowZero, kMaxCycles,
                          "DRAM access latency; an L2 miss costs l2.hit_latency_cycles + this"));

  s.push_back(FRACTAL_NUM("runtime.kernel_launch_us", runtime.kernelLaunchUs, "µs", 0, 1000000,
                          "host-side cost of launching one kernel on the device"));
  return s;
}

#undef FRACTAL_INT
#undef FRACTAL_NUM
#undef FRACTAL_STR

} // namespace

const std::vector<FieldSpec> &chipConfigSchema() {
  static const std::vector<FieldSpec> schema = buildSchema();
  return schema;
}

} // namespace fractal::config_detail
