// Model API (frtModel*, frtDataset*): loading packages onto a device and running their task graphs.
// A loaded model owns one GM region (the package's memory plan: weights, activations, inputs and
// outputs at planned offsets) and its kernels' data sections. An execution runs every task in
// order on the dataset's input and output buffers in place where they can stand in for their
// planned places (placeInputsAndOutputs), copying the others into and out of the region.
#include "HostKernels.h"
#include "RuntimeState.h"

#include "fractal/package/Package.h"
#include "fractal/runtime/ModelProfile.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <malloc.h>

using namespace fractal;
using namespace fractal::runtime;

struct frtModelImpl {
  Device *device = nullptr;
  pkg::Package package;
  std::string name;                 // file name, for messages
  uint64_t region = 0;              // GM base of the memory plan
  std::vector<uint64_t> kernelData; // per kernel: GM address of its data section (0 = none)
  std::mutex runMutex;              // one execution at a time: they share the region
  bool tracing = false;
  bool hasProfile = false;
  ModelProfile profile;             // of the last finished execution
};

// What the last execution that wrote a dataset's buffers found them to hold: each output's actual
// shape (a data-dependent output's extent is known only then). Shared with queued executions, so
// that one finishing after frtDestroyDataset writes into memory that is still there.
struct WrittenOutputs {
  std::mutex mutex;
  bool written = false;
  std::vector<frtTensorDesc> descs;
};

// A dataset buffer as an execution sees it: its GM address and the size it was added with.
struct IoBuffer {
  uint64_t address = 0;
  uint64_t size = 0;
};

struct frtDatasetImpl {
  std::vector<std::pair<void *, size_t>> buffers;
  std::shared_ptr<WrittenOutputs> written = std::make_shared<WrittenOutputs>();
};

namespace {

frtDataType toApi(pkg::DType t) {
  switch (t) {
  case pkg::DType::F32: return FRT_FLOAT;
  case pkg::DType::F16: return FRT_FLOAT16;
  case pkg::DType::I8: return FRT_INT8;
  case pkg::DType::I32: return FRT_INT32;
  case pkg::DType::I64: return FRT_INT64;
  case pkg::DType::Bool: return FRT_BOOL;
  case pkg::DType::U8: return FRT_UINT8;
  case pkg::DType::I16: return FRT_INT16;
  case pkg::DType::U16: return FRT_UINT16;
  case pkg::DType::U32: return FRT_UINT32;
  case pkg::DType::U64: return FRT_UINT64;
  case pkg::DType::F64: return FRT_DOUBLE;
  }
  return FRT_FLOAT;
}

// Frees what the model holds in `gm`; call with the device lock held.
void releaseMemoryLocked(const frtModelImpl &m, sim::GlobalMemory &gm) {
  if (m.region) gm.release(m.region);
  for (uint64_t a : m.kernelData)
    if (a) gm.release(a);
}

// Frees a model's device memory; call with the runtime lock held and no execution running.
void releaseModel(frtModelImpl *m) {
  std::lock_guard<std::mutex> lock(m->device->mutex);
  releaseMemoryLocked(*m, simulatorOf(*m->device).gm());
}

frtError loadModel(Expected<pkg::Package> package, const std::string &name, frtModel *model) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(model, FRT_ERROR_INVALID_PARAM, "frtModelLoad: model is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtModelLoad: no current context on this thread: call frtSetDevice first");
  if (!package) return fail(FRT_ERROR_INVALID_FILE, package.error().message);
  Device &d = *currentContext->device;
  if (package->target != d.config.name || package->targetDigest != pkg::targetDigest(d.config))
    return fail(FRT_ERROR_INVALID_FILE,
                name + ": compiled for target '" + package->target + "' (config digest " +
                    std::to_string(package->targetDigest) + "), but device " + std::to_string(d.id) +
                    " is '" + d.config.name + "' (digest " + std::to_string(pkg::targetDigest(d.config)) +
                    "); recompile with --target " + d.config.name);
  // Blocks that wait for each other at cross-core barriers must all be running at once.
  for (const pkg::Task &t : package->tasks)
    if (!t.isHost && t.launch.barrierFlagBytes && t.launch.blockDim > uint32_t(d.config.chip.cores))
      return fail(FRT_ERROR_INVALID_FILE, name + ": task '" + t.name + "' synchronises " +
                                              std::to_string(t.launch.blockDim) + " blocks across cores, but device " +
                                              std::to_string(d.id) + " has " + std::to_string(d.config.chip.cores) +
                                              " cores");
  auto m = std::make_unique<frtModelImpl>();
  m->device = &d;
  m->name = name;
  m->package = std::move(*package);
  // A model's code stays encoded (16 bytes an instruction; decoded, 72: BlazeFace front's 1.5 MB
  // was a third of what the model added to a process's peak RSS, issue 6), and the simulator's
  // cores decode what they fetch (sim::FetchCache). A package read from a file or memory comes
  // encoded; one compiled in memory (`fractal run model.onnx`) is encoded here, before the device
  // memory is allocated, so that the decoded code and the region are never held at once.
  for (pkg::Kernel &k : m->package.kernels) {
    if (k.binary.code.empty()) continue; // already encoded
    k.binary.encoded = k.binary.encodedCode();
    std::vector<isa::Instruction>().swap(k.binary.code);
  }
  // Its labels are for disassembly: running, faults and profiles name pcs, instructions and ONNX
  // nodes (the debug map). BlazeFace back's 2,544 took 0.1 MB.
  for (pkg::Kernel &k : m->package.kernels) std::vector<isa::Symbol>().swap(k.binary.symbols);
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    sim::Simulator &sim = simulatorOf(d);
    m->region = allocateLocked(d, std::max<uint64_t>(m->package.gmBytes, 512), "model " + name);
    if (!m->region)
      return fail(FRT_ERROR_OUT_OF_MEMORY, name + ": no room for the model's " +
                                               std::to_string(m->package.gmBytes) +
                                               " bytes of device memory on device " + std::to_string(d.id));
    // Once on the device, the host copies of the weights and of the kernels' data sections are
    // dropped: everything reads them from device memory, and keeping them would hold the model's
    // weights twice (peak RSS, issue 6).
    for (pkg::Tensor &t : m->package.tensors)
      if (t.kind == pkg::TensorKind::Constant && !t.data.empty()) {
        sim.gm().write(m->region + t.offset, t.data.data(), t.data.size());
        std::vector<uint8_t>().swap(t.data);
      }
    for (pkg::Kernel &k : m->package.kernels) {
      Expected<uint64_t> data = sim.loadKernelData(k.binary, name + ": kernel " + k.name);
      if (!data) {
        releaseMemoryLocked(*m, sim.gm());
        return fail(FRT_ERROR_OUT_OF_MEMORY, data.error().message);
      }
      m->kernelData.push_back(*data);
      std::vector<uint8_t>().swap(k.binary.data);
    }
  }
  *model = m.get();
  r.models.insert(m.release());
  // Parsing held the file, the protobuf message and the package at once; glibc keeps such freed
  // blocks in its heap, where they would count as the process's memory for as long as it runs.
  malloc_trim(0);
  return ok();
}

bool liveModel(Runtime &r, frtModel m) { return m && r.models.count(m); }

frtTensorDesc tensorDesc(const pkg::Tensor &t, const std::vector<int64_t> &shape) {
  frtTensorDesc desc;
  std::memset(&desc, 0, sizeof desc);
  std::strncpy(desc.name, t.name.c_str(), sizeof desc.name - 1);
  desc.dataType = toApi(t.dtype);
  desc.numDims = uint32_t(std::min<size_t>(shape.size(), FRT_MAX_DIMS));
  uint64_t elements = 1;
  for (int64_t d : shape) elements *= uint64_t(d);
  for (uint32_t i = 0; i < desc.numDims; ++i) desc.dims[i] = shape[i];
  desc.size = size_t(elements * pkg::dtypeSize(t.dtype));
  return desc;
}

frtError describe(frtModel model, size_t index, frtTensorDesc *desc, bool input) {
  FRT_LOCKED_INIT(r);
  const char *fn = input ? "frtModelGetInputDesc" : "frtModelGetOutputDesc";
  FRT_REQUIRE(liveModel(r, model), FRT_ERROR_INVALID_HANDLE, std::string(fn) + ": not a loaded model");
  FRT_REQUIRE(desc, FRT_ERROR_INVALID_PARAM, std::string(fn) + ": desc is NULL");
  const std::vector<uint32_t> &list = input ? model->package.inputs : model->package.outputs;
  FRT_REQUIRE(index < list.size(), FRT_ERROR_INVALID_PARAM,
              std::string(fn) + ": index " + std::to_string(index) + " out of range (the model has " +
                  std::to_string(list.size()) + ")");
  const pkg::Tensor &t = model->package.tensors[list[index]];
  // A data-dependent extent is -1 (as AscendCL shows a dynamic dimension); size is the bound's.
  *desc = tensorDesc(t, t.shape);
  if (t.isDataDependent() && t.dynamicAxis < desc->numDims) desc->dims[t.dynamicAxis] = -1;
  return ok();
}

// Checks a dataset against the model's inputs or outputs; collects the GM addresses.
frtError checkDataset(frtModel model, frtDataset ds, bool input, std::vector<IoBuffer> &buffers) {
  const char *what = input ? "inputs" : "outputs";
  const std::vector<uint32_t> &list = input ? model->package.inputs : model->package.outputs;
  FRT_REQUIRE(ds->buffers.size() == list.size(), FRT_ERROR_INVALID_PARAM,
              std::string("frtModelExecute: the ") + what + " dataset has " +
                  std::to_string(ds->buffers.size()) + " buffer(s), the model has " +
                  std::to_string(list.size()) + " " + what);
  for (size_t i = 0; i < list.size(); ++i) {
    const pkg::Tensor &t = model->package.tensors[list[i]];
    const uint64_t need = t.dataBytes();
    FRT_REQUIRE(ds->buffers[i].second >= need, FRT_ERROR_INVALID_PARAM,
                std::string("frtModelExecute: ") + what + " buffer " + std::to_string(i) + " ('" +
                    t.name + "') holds " + std::to_string(ds->buffers[i].second) + " bytes, the tensor needs " +
                    std::to_string(need));
    Device *d = nullptr;
    uint64_t address = 0;
    if (frtError e = checkDeviceRange(ds->buffers[i].first, need, d, address, t.name.c_str())) return e;
    FRT_REQUIRE(d == model->device, FRT_ERROR_INVALID_POINTER,
                "frtModelExecute: buffer for '" + t.name + "' is on another device than the model");
    buffers.push_back({address, ds->buffers[i].second});
  }
  return ok();
}

std::string nodesOf(const pkg::Task &t) {
  std::string s;
  for (const std::string &n : t.onnxNodes) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? t.name : s;
}

// Through a bounce buffer of at most 64 KiB: a whole-tensor one (PP-OCRv4's 4.9 MB input) was
// the largest host allocation of a run, on top of the device memory that holds the tensor twice.
void gmCopy(sim::GlobalMemory &gm, uint64_t dst, uint64_t src, uint64_t n) {
  constexpr uint64_t kBounceBytes = 64 << 10;
  std::vector<uint8_t> bounce(std::min(n, kBounceBytes));
  for (uint64_t done = 0; done < n; done += bounce.size()) {
    const uint64_t piece = std::min<uint64_t>(bounce.size(), n - done);
    gm.read(src + done, bounce.data(), piece);
    gm.write(dst + done, bounce.data(), piece);
  }
}

// A trace slice that is a stall at a flag, not work. A loaded model keeps its code encoded
// (`code` is empty): ask the binary, in either form.
bool isFlagWait(const isa::KernelBinary &kernel, int64_t pc) {
  return pc >= 0 && size_t(pc) < kernel.instructionCount() &&
         kernel.instructionAt(size_t(pc)).opcode == isa::Opcode::WaitFlag;
}

// From a traced run: per core that ran, a sweep over its pipes' working slices (scalar unit and
// flag waits aside) sorts every cycle into none working, one alone (which) or several; the shares
// of the run's cycles, averaged over the cores.
void pipeOverlap(const isa::KernelBinary &kernel, const sim::RunResult &run, size_t cores, TaskProfile &tp) {
  if (run.cycles == 0 || cores == 0) return;
  struct Edge { uint64_t at; int pipe; int delta; };
  std::vector<std::vector<Edge>> edges(cores);
  for (const sim::TraceSlice &sl : run.trace) {
    if (sl.pipe <= 0 || sl.pipe >= sim::kNumPipes || sl.core < 0 || size_t(sl.core) >= cores || sl.duration == 0 ||
        isFlagWait(kernel, sl.pc))
      continue;
    edges[size_t(sl.core)].push_back({sl.start, sl.pipe, +1});
    edges[size_t(sl.core)].push_back({sl.start + sl.duration, sl.pipe, -1});
  }
  uint64_t none = 0, several = 0;
  std::array<uint64_t, sim::kNumPipes> alone{};
  for (std::vector<Edge> &core : edges) {
    std::sort(core.begin(), core.end(), [](const Edge &a, const Edge &b) { return a.at < b.at; });
    std::array<int, sim::kNumPipes> open{};
    int working = 0, last = 0; // pipes with an open slice; the last one to open (alone: the one)
    uint64_t t = 0;
    auto account = [&](uint64_t until) {
      if (until <= t) return;
      const uint64_t span = until - t;
      if (working == 0) none += span;
      else if (working > 1) several += span;
      else alone[size_t(last)] += span;
      t = until;
    };
    for (const Edge &e : core) {
      account(std::min<uint64_t>(e.at, run.cycles));
      int &n = open[size_t(e.pipe)];
      if (e.delta > 0 && n++ == 0) ++working;
      if (e.delta < 0 && --n == 0) --working;
      if (working == 1) // the one still open
        for (int p = 1; p < sim::kNumPipes; ++p)
          if (open[size_t(p)] > 0) last = p;
    }
    account(run.cycles);
  }
  const double capacity = double(run.cycles) * double(cores);
  tp.noPipe = double(none) / capacity;
  tp.overlapping = double(several) / capacity;
  for (int p = 1; p < sim::kNumPipes; ++p) tp.alone.push_back({sim::pipeLabel(p), double(alone[size_t(p)]) / capacity});
}

// A kernel sequence's parts in a traced timing run (parts one after another, a barrier between
// them): each part ends with its last instruction slice on any core and starts where the one
// before ended; its pipes are busy for its own instructions' slices (not the scalar unit's: it
// leaves none), averaged over the cores that ran it (its block_dim, at most the launch's cores).
std::vector<SegmentProfile> segmentProfiles(const pkg::Package &package, const pkg::KernelLaunch &launch,
                                            const sim::RunResult &run, uint64_t taskStart, size_t cores) {
  const std::vector<pkg::KernelSegment> &segments = launch.segments;
  const isa::KernelBinary &kernel = package.kernels[launch.kernel].binary;
  // One pass over the slices: each goes to the segment whose code holds its pc (in pc order).
  std::vector<uint64_t> lastEnd(segments.size(), 0);
  std::vector<std::array<uint64_t, sim::kNumPipes>> busy(segments.size());
  std::vector<std::array<uint64_t, 3>> memory(segments.size()); // DRAM bytes, L2 hits, L2 misses
  for (const sim::TraceSlice &sl : run.trace) {
    auto after = std::upper_bound(segments.begin(), segments.end(), sl.pc,
                                  [](int64_t pc, const pkg::KernelSegment &g) { return pc < int64_t(g.entryPc); });
    if (after == segments.begin() || sl.pc >= int64_t(std::prev(after)->endPc)) continue; // between segments
    const size_t k = size_t(after - segments.begin()) - 1;
    lastEnd[k] = std::max(lastEnd[k], sl.start + sl.duration);
    // wait_flag slices are stalls, not work; so are the scalar unit's (dispatch stalls: not attributed)
    if (!isFlagWait(kernel, sl.pc) && sl.pipe > 0 && sl.pipe < sim::kNumPipes) busy[k][size_t(sl.pipe)] += sl.duration;
    memory[k][0] += sl.dramBytes;
    memory[k][1] += sl.l2Hits;
    memory[k][2] += sl.l2Misses;
  }
  std::vector<SegmentProfile> out;
  uint64_t start = 0;
  size_t argument = 0; // the segment's first argument tensor (the package checked the counts)
  for (size_t k = 0; k < segments.size(); ++k) {
    const pkg::KernelSegment &g = segments[k];
    const uint64_t end = std::max(k + 1 == segments.size() ? run.cycles : 0, std::max(start, lastEnd[k]));
    const uint32_t blocks = uint32_t(std::min<size_t>(std::max<uint32_t>(g.blockDim, 1), cores));
    SegmentProfile p{g.name, g.opType, g.onnxNodes, taskStart + start, end - start, {}, g.modelMacs, 0, blocks};
    for (uint32_t a = 0; a < g.tensors; ++a) p.tensorBytes += package.tensors[launch.tensors[argument++]].dataBytes();
    p.dramBytes = memory[k][0];
    p.l2Hits = memory[k][1];
    p.l2Misses = memory[k][2];
    for (int pipe = 1; pipe < sim::kNumPipes; ++pipe)
      p.pipes.push_back({sim::pipeLabel(pipe), p.cycles ? double(busy[k][size_t(pipe)]) / double(p.cycles * blocks) : 0.0});
    out.push_back(std::move(p));
    start = end;
  }
  return out;
}

// Where each tensor of a model is during one execution, and which inputs and outputs are their
// dataset buffers themselves.
struct TensorPlacement {
  std::vector<uint64_t> address;          // per tensor
  std::vector<bool> inputInPlace, outputInPlace; // per input / output: no copy
};

// The tensor whose memory `t` is (following views); kNoAlias for a chain that does not end (the
// loader checks that a view lies inside what it aliases, not that the chain ends).
uint32_t memoryOwner(const pkg::Package &p, uint32_t t) {
  for (size_t steps = 0; steps <= p.tensors.size(); ++steps) {
    if (p.tensors[t].aliasOf == pkg::kNoAlias) return t;
    t = p.tensors[t].aliasOf;
  }
  return pkg::kNoAlias;
}

// Zero-copy inputs and outputs, as AscendCL's model execution reads and writes the dataset's
// buffers: an input or output (static shape, owning its memory or the one view of an activation)
// runs on its dataset buffer instead of its place in the region when that buffer can stand in for
// it: aligned like the plan, and the tensor's whole reservation (kernels read and write whole
// repeats past the data) inside the buffer, or past it only into the unaddressable tail of its
// frtMalloc allocation, and overlapping no other buffer of the execution. Kernels never write an
// input's memory (the compiler plans none in place). The rest are copied in and out as before.
// Call with the device lock held.
TensorPlacement placeInputsAndOutputs(const frtModelImpl &m, const sim::GlobalMemory &gm,
                                      const std::vector<IoBuffer> &in, const std::vector<IoBuffer> &out) {
  const pkg::Package &p = m.package;
  TensorPlacement place;
  place.address.resize(p.tensors.size());
  for (size_t t = 0; t < p.tensors.size(); ++t) place.address[t] = m.region + p.tensors[t].offset;
  place.inputInPlace.assign(in.size(), false);
  place.outputInPlace.assign(out.size(), false);

  // Every buffer of the execution, inputs then outputs, by the size it was given.
  std::vector<IoBuffer> all(in);
  all.insert(all.end(), out.begin(), out.end());
  struct Candidate {
    size_t slot;       // in `all`
    uint32_t owner;    // the tensor whose memory the buffer would be
    uint64_t reserved; // bytes the kernels may touch from the buffer's address
  };
  std::vector<Candidate> candidates;
  std::map<uint32_t, int> claims; // by owner: how many inputs and outputs are its memory
  const Device &d = *m.device;
  for (size_t slot = 0; slot < all.size(); ++slot) {
    const uint32_t index = slot < in.size() ? p.inputs[slot] : p.outputs[slot - in.size()];
    const IoBuffer &b = all[slot];
    const uint32_t owner = memoryOwner(p, index);
    if (owner == pkg::kNoAlias) continue;
    ++claims[owner];
    const pkg::Tensor &o = p.tensors[owner];
    if (p.tensors[index].isDataDependent() || o.kind == pkg::TensorKind::Constant ||
        p.tensors[index].offset != o.offset || b.address % pkg::kTensorAlignment != 0)
      continue;
    const sim::Allocation *a = gm.find(b.address);
    auto user = d.allocations.upper_bound(b.address); // the frtMalloc allocation holding it
    if (!a || user == d.allocations.begin()) continue;
    --user;
    const uint64_t end = b.address + o.bytes;
    const bool intoTailOnly = o.bytes <= b.size || b.address + b.size >= user->first + user->second;
    if (end < b.address || end > a->address + a->size || !intoTailOnly) continue;
    candidates.push_back({slot, owner, o.bytes});
  }
  auto overlap = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) { return a < b + bn && b < a + an; };
  std::vector<uint64_t> ownerAddress(p.tensors.size(), 0);
  bool any = false;
  for (const Candidate &c : candidates) {
    const uint64_t at = all[c.slot].address;
    bool alone = claims[c.owner] == 1;
    for (size_t other = 0; other < all.size(); ++other)
      if (other != c.slot)
        alone = alone && !overlap(at, c.reserved, all[other].address, std::max<uint64_t>(all[other].size, 1));
    for (const Candidate &e : candidates)
      if (e.slot != c.slot) alone = alone && !overlap(at, c.reserved, all[e.slot].address, e.reserved);
    if (!alone) continue;
    ownerAddress[c.owner] = at;
    any = true;
    if (c.slot < in.size()) place.inputInPlace[c.slot] = true;
    else place.outputInPlace[c.slot - in.size()] = true;
  }
  for (uint32_t t = 0; any && t < p.tensors.size(); ++t) {
    const uint32_t owner = memoryOwner(p, t);
    if (owner != pkg::kNoAlias && ownerAddress[owner])
      place.address[t] = ownerAddress[owner] + (p.tensors[t].offset - p.tensors[owner].offset);
  }
  return place;
}

// One execution; returns a failure or fills `prof`. Runs with the model's run lock held.
std::optional<Failure> execute(frtModelImpl &m, const std::vector<IoBuffer> &in, const std::vector<IoBuffer> &out,
                               ModelProfile &prof, std::vector<frtTensorDesc> &written) {
  const auto wallStart = std::chrono::steady_clock::now();
  Device &d = *m.device;
  const pkg::Package &p = m.package;
  std::lock_guard<std::mutex> lock(d.mutex);
  sim::Simulator &sim = simulatorOf(d);
  sim::GlobalMemory &gm = sim.gm();
  prof.clockMhz = d.config.chip.clockMhz;
  const TensorPlacement place = placeInputsAndOutputs(m, gm, in, out);
  const std::vector<uint64_t> &at = place.address;
  for (size_t i = 0; i < p.inputs.size(); ++i)
    if (!place.inputInPlace[i]) {
      const uint64_t bytes = p.tensors[p.inputs[i]].dataBytes();
      gmCopy(gm, at[p.inputs[i]], in[i].address, bytes);
      prof.copiedIoBytes += bytes;
    }
  bool afterKernel = false;
  for (const pkg::Task &task : p.tasks) {
    TaskProfile tp;
    tp.name = task.name;
    tp.opType = task.opType;
    tp.onnxNodes = task.onnxNodes;
    tp.modelMacs = task.modelMacs;
    tp.startCycle = prof.cycles;
    if (task.isHost) {
      afterKernel = false;
      const auto start = std::chrono::steady_clock::now();
      std::vector<HostTensor> ins, outs;
      for (uint32_t x : task.host.inputs) {
        HostTensor h{&p.tensors[x], std::vector<uint8_t>(p.tensors[x].dataBytes())};
        gm.read(at[x], h.bytes.data(), h.bytes.size());
        ins.push_back(std::move(h));
      }
      for (uint32_t x : task.host.outputs)
        outs.push_back({&p.tensors[x], std::vector<uint8_t>(p.tensors[x].dataBytes())});
      if (Status s = runHostOp(task, ins, outs); !s)
        return Failure{FRT_ERROR_INVALID_FILE, m.name + ": " + s.error().message};
      for (size_t o = 0; o < outs.size(); ++o) gm.write(at[task.host.outputs[o]], outs[o].bytes.data(), outs[o].bytes.size());
      tp.host = true;
      tp.hostReason = task.host.reason;
      tp.deviceUs = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      prof.simulatedUs += tp.deviceUs;
      prof.tasks.push_back(std::move(tp));
      continue;
    }
    std::vector<uint64_t> words;
    for (uint32_t x : task.launch.tensors) {
      words.push_back(at[x]);
      tp.tensorBytes += p.tensors[x].dataBytes();
    }
    // A sequence on several cores finds its barrier flags zeroed after its argument words.
    words.resize(words.size() + task.launch.barrierFlagBytes / 8, 0);
    sim::LaunchInfo launch;
    launch.dataBase = m.kernelData[task.launch.kernel];
    launch.args = gm.findFree(words.size() * 8, 512, 0x1000);
    if (!launch.args || !gm.allocate(launch.args, words.size() * 8, "kernel arguments"))
      return Failure{FRT_ERROR_OUT_OF_MEMORY, m.name + ": no device memory for kernel arguments"};
    gm.write(launch.args, words.data(), words.size() * 8);
    sim::SimOptions options;
    options.mode = d.mode;
    options.blockDim = task.launch.blockDim;
    options.backend = d.rtl.get();
    options.trace = m.tracing;
    options.watchdog = launchWatchdog(d);
    // A kernel after a kernel finds the L2 as that one left it (ATC's l2_optimize); the first
    // kernel, and one after a host task (whose writes bypass the L2), start cold.
    options.warmL2 = afterKernel;
    afterKernel = true;
    const isa::KernelBinary &binary = p.kernels[task.launch.kernel].binary;
    Expected<sim::RunResult> result = sim::RunResult{};
    if (options.mode == sim::SimMode::Functional && !task.launch.segments.empty()) {
      // A kernel sequence, functionally: its parts one after another, each on the cores it was
      // made for (the same bits as the launch; no time is simulated in this mode, and the
      // functional engine's cores could not spin on each other's barrier flags). Untraced: the
      // engine that runs segments keeps no trace, and this mode has no times to show.
      options.trace = false;
      for (const pkg::KernelSegment &g : task.launch.segments) {
        launch.entryPc = g.entryPc;
        launch.endPc = g.endPc;
        options.blockDim = g.blockDim;
        result = sim.run(binary, launch, options);
        if (!result) break;
        if (&g != &task.launch.segments.back()) // the last segment's MACs are counted below
          for (const sim::CoreStats &c : result->cores) tp.macs += c.macs;
      }
    } else {
      result = sim.run(binary, launch, options);
    }
    gm.release(launch.args);
    if (!result) {
      return Failure{launchErrorCode(result.error().code), m.name + ": task '" + task.name + "' (" + task.opType + ", ONNX nodes: " +
                               nodesOf(task) + "), kernel " + p.kernels[task.launch.kernel].name +
                               ": " + withTimeoutHint(d, result.error().message)};
    }
    tp.blockDim = task.launch.blockDim;
    tp.cycles = result->cycles;
    tp.deviceUs = result->latencyUs + d.config.runtime.kernelLaunchUs;
    tp.dramBytes = result->dramBytes;
    for (const sim::CoreStats &c : result->cores) {
      tp.macs += c.macs;
      tp.l2Hits += c.l2Hits;
      tp.l2Misses += c.l2Misses;
    }
    // Averaged over the cores that ran blocks: a block_dim 1 kernel's cube can be 100% busy.
    const size_t active = std::min<size_t>(result->cores.size(), std::max<uint32_t>(task.launch.blockDim, 1));
    uint64_t waited = 0;
    for (const sim::CoreStats &c : result->cores) waited += c.flagSpinCycles + c.syncWaitCycles;
    tp.barrierWaitCycles = waited / std::max<size_t>(active, 1);
    for (int pipe = 0; pipe < sim::kNumPipes; ++pipe) {
      uint64_t busy = 0;
      for (const sim::CoreStats &c : result->cores) busy += c.pipes[pipe].busyCycles;
      const double capacity = double(result->cycles) * double(std::max<size_t>(active, 1));
      tp.pipes.push_back({sim::pipeLabel(pipe), capacity > 0 ? double(busy) / capacity : 0.0});
    }
    for (const sim::TraceSlice &sl : result->trace)
      tp.trace.push_back({sl.core, sl.pipe, prof.cycles + sl.start, sl.duration, sl.pc});
    if (options.mode != sim::SimMode::Functional && options.trace) {
      tp.segments = segmentProfiles(p, task.launch, *result, prof.cycles, std::max<size_t>(active, 1));
      pipeOverlap(binary, *result, std::max<size_t>(active, 1), tp);
    }
    prof.cycles += result->cycles;
    prof.simulatedUs += tp.deviceUs;
    prof.tasks.push_back(std::move(tp));
  }
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    const pkg::Tensor &t = p.tensors[p.outputs[i]];
    if (!t.isDataDependent()) {
      written.push_back(tensorDesc(t, t.shape));
      if (!place.outputInPlace[i]) {
        gmCopy(gm, out[i].address, at[p.outputs[i]], written.back().size);
        prof.copiedIoBytes += written.back().size;
      }
      continue;
    }
    // The extent its kernel wrote, checked against the bound it was given; the data is in the
    // bound's layout: each block before the axis holds `extent` of its `bound` slices.
    int64_t extent = -1;
    gm.read(at[t.extentTensor], &extent, sizeof extent);
    const int64_t bound = t.shape[t.dynamicAxis];
    if (extent < 0 || extent > bound)
      return Failure{FRT_ERROR_DEVICE_FAULT, m.name + ": output '" + t.name + "': its kernel wrote the extent " +
                                                 std::to_string(extent) + " along axis " + std::to_string(t.dynamicAxis) +
                                                 ", outside 0.." + std::to_string(bound)};
    written.push_back(tensorDesc(t, t.shapeWithExtent(extent)));
    uint64_t blocks = 1, sliceBytes = pkg::dtypeSize(t.dtype);
    for (size_t d = 0; d < t.shape.size(); ++d)
      if (d < t.dynamicAxis) blocks *= uint64_t(t.shape[d]);
      else if (d > t.dynamicAxis) sliceBytes *= uint64_t(t.shape[d]);
    const uint64_t kept = uint64_t(extent) * sliceBytes;
    for (uint64_t b = 0; b < blocks && kept > 0; ++b)
      gmCopy(gm, out[i].address + b * kept, at[p.outputs[i]] + b * uint64_t(bound) * sliceBytes, kept);
    prof.copiedIoBytes += blocks * kept;
  }
  prof.wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
  return std::nullopt;
}

void executeAndRecord(frtModelImpl *m, const std::vector<IoBuffer> &in, const std::vector<IoBuffer> &out,
                      WrittenOutputs &outputs, std::optional<Failure> &failure) {
  std::lock_guard<std::mutex> run(m->runMutex);
  ModelProfile prof;
  std::vector<frtTensorDesc> written;
  failure = execute(*m, in, out, prof, written);
  if (!failure) {
    {
      std::lock_guard<std::mutex> lock(outputs.mutex);
      outputs.descs = std::move(written);
      outputs.written = true;
    }
    m->profile = std::move(prof);
    m->hasProfile = true;
  }
}

} // namespace

namespace fractal::runtime {

void releaseModelsLocked(Device *device) {
  Runtime &r = state();
  std::vector<frtModelImpl *> doomed;
  for (frtModelImpl *m : r.models)
    if (!device || m->device == device) doomed.push_back(m);
  for (frtModelImpl *m : doomed) {
    if (device) releaseModel(m); // after frtFinalize the devices are gone with their memory
    r.models.erase(m);
    delete m;
  }
  if (!device) {
    for (frtDatasetImpl *ds : r.datasets) delete ds;
    r.datasets.clear();
  }
}

bool lastModelProfile(frtModel model, ModelProfile &out) {
  {
    Runtime &r = state();
    std::lock_guard<std::mutex> lock(r.mutex);
    if (!liveModel(r, model)) {
      fail(FRT_ERROR_INVALID_HANDLE, "lastModelProfile: not a loaded model");
      return false;
    }
  }
  std::lock_guard<std::mutex> run(model->runMutex);
  if (!model->hasProfile) {
    fail(FRT_ERROR_INVALID_PARAM, "lastModelProfile: the model has not finished an execution yet");
    return false;
  }
  out = model->profile;
  return true;
}

void setModelTracing(frtModel model, bool on) {
  Runtime &r = state();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (liveModel(r, model)) {
    std::lock_guard<std::mutex> run(model->runMutex);
    model->tracing = on;
  }
}

} // namespace fractal::runtime

extern "C" {

frtError frtModelLoadFromFile(const char *path, frtModel *model) {
  if (!path) return fail(FRT_ERROR_INVALID_PARAM, "frtModelLoadFromFile: path is NULL");
  return loadModel(pkg::readPackageFile(path, isa::CodeForm::Encoded), path, model);
}

frtError frtModelLoadFromMem(const void *data, size_t size, frtModel *model) {
  if (!data || size == 0) return fail(FRT_ERROR_INVALID_PARAM, "frtModelLoadFromMem: no data");
  return loadModel(pkg::parsePackage(static_cast<const uint8_t *>(data), size, "<memory>", isa::CodeForm::Encoded),
                   "<memory>", model);
}

static frtError querySize(Expected<pkg::Package> package, const char *fn, size_t *workSize,
                          size_t *weightSize) {
  FRT_REQUIRE(workSize && weightSize, FRT_ERROR_INVALID_PARAM,
              std::string(fn) + ": workSize or weightSize is NULL");
  if (!package) return fail(FRT_ERROR_INVALID_FILE, package.error().message);
  const pkg::DeviceMemorySize m = pkg::deviceMemoryOf(*package);
  *workSize = static_cast<size_t>(m.workBytes);
  *weightSize = static_cast<size_t>(m.weightBytes());
  return ok();
}

frtError frtModelQuerySize(const char *path, size_t *workSize, size_t *weightSize) {
  {
    FRT_LOCKED_INIT(r);
  }
  if (!path) return fail(FRT_ERROR_INVALID_PARAM, "frtModelQuerySize: path is NULL");
  // Parsed without the runtime lock (a package of megabytes takes a while), as loading does.
  return querySize(pkg::readPackageFile(path, isa::CodeForm::Encoded), "frtModelQuerySize", workSize,
                   weightSize);
}

frtError frtModelQuerySizeFromMem(const void *data, size_t size, size_t *workSize, size_t *weightSize) {
  {
    FRT_LOCKED_INIT(r);
  }
  if (!data || size == 0) return fail(FRT_ERROR_INVALID_PARAM, "frtModelQuerySizeFromMem: no data");
  return querySize(pkg::parsePackage(static_cast<const uint8_t *>(data), size, "<memory>", isa::CodeForm::Encoded),
                   "frtModelQuerySizeFromMem", workSize, weightSize);
}

frtError frtModelUnload(frtModel model) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(liveModel(r, model), FRT_ERROR_INVALID_HANDLE,
              "frtModelUnload: not a loaded model (unloaded twice?)");
  // Queued executions use the model: let the device's streams finish first.
  for (frtStreamImpl *s : r.streams)
    if (s->context->device == model->device)
      if (std::unique_ptr<Failure> f = drain(s)) streamFailed(s, *f);
  releaseModel(model);
  r.models.erase(model);
  delete model;
  return ok();
}

frtError frtModelGetNumInputs(frtModel model, size_t *count) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(liveModel(r, model), FRT_ERROR_INVALID_HANDLE, "frtModelGetNumInputs: not a loaded model");
  FRT_REQUIRE(count, FRT_ERROR_INVALID_PARAM, "frtModelGetNumInputs: count is NULL");
  *count = model->package.inputs.size();
  return ok();
}

frtError frtModelGetNumOutputs(frtModel model, size_t *count) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(liveModel(r, model), FRT_ERROR_INVALID_HANDLE, "frtModelGetNumOutputs: not a loaded model");
  FRT_REQUIRE(count, FRT_ERROR_INVALID_PARAM, "frtModelGetNumOutputs: count is NULL");
  *count = model->package.outputs.size();
  return ok();
}

frtError frtModelGetInputDesc(frtModel model, size_t index, frtTensorDesc *desc) {
  return describe(model, index, desc, true);
}

frtError frtModelGetOutputDesc(frtModel model, size_t index, frtTensorDesc *desc) {
  return describe(model, index, desc, false);
}

frtError frtCreateDataset(frtDataset *dataset) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(dataset, FRT_ERROR_INVALID_PARAM, "frtCreateDataset: dataset is NULL");
  auto *ds = new frtDatasetImpl;
  r.datasets.insert(ds);
  *dataset = ds;
  return ok();
}

frtError frtDestroyDataset(frtDataset dataset) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(dataset && r.datasets.count(dataset), FRT_ERROR_INVALID_HANDLE,
              "frtDestroyDataset: not a live dataset (destroyed twice?)");
  r.datasets.erase(dataset);
  delete dataset;
  return ok();
}

frtError frtAddDatasetBuffer(frtDataset dataset, void *devPtr, size_t size) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(dataset && r.datasets.count(dataset), FRT_ERROR_INVALID_HANDLE,
              "frtAddDatasetBuffer: not a live dataset");
  FRT_REQUIRE(devPtr && size > 0, FRT_ERROR_INVALID_PARAM, "frtAddDatasetBuffer: no buffer");
  dataset->buffers.push_back({devPtr, size});
  return ok();
}

frtError frtGetDatasetNumBuffers(frtDataset dataset, size_t *count) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(dataset && r.datasets.count(dataset), FRT_ERROR_INVALID_HANDLE,
              "frtGetDatasetNumBuffers: not a live dataset");
  FRT_REQUIRE(count, FRT_ERROR_INVALID_PARAM, "frtGetDatasetNumBuffers: count is NULL");
  *count = dataset->buffers.size();
  return ok();
}

frtError frtGetDatasetTensorDesc(frtDataset dataset, size_t index, frtTensorDesc *desc) {
  std::shared_ptr<WrittenOutputs> written;
  {
    FRT_LOCKED_INIT(r);
    FRT_REQUIRE(dataset && r.datasets.count(dataset), FRT_ERROR_INVALID_HANDLE,
                "frtGetDatasetTensorDesc: not a live dataset");
    FRT_REQUIRE(desc, FRT_ERROR_INVALID_PARAM, "frtGetDatasetTensorDesc: desc is NULL");
    written = dataset->written;
  }
  std::lock_guard<std::mutex> lock(written->mutex);
  FRT_REQUIRE(written->written, FRT_ERROR_INVALID_PARAM,
              "frtGetDatasetTensorDesc: no finished execution has written this dataset's outputs");
  FRT_REQUIRE(index < written->descs.size(), FRT_ERROR_INVALID_PARAM,
              "frtGetDatasetTensorDesc: index " + std::to_string(index) + " out of range (the execution wrote " +
                  std::to_string(written->descs.size()) + " outputs)");
  *desc = written->descs[index];
  return ok();
}

frtError frtModelExecuteAsync(frtModel model, frtDataset inputs, frtDataset outputs, frtStream stream) {
  frtStreamImpl *s = nullptr;
  std::vector<IoBuffer> in, out;
  std::shared_ptr<WrittenOutputs> written; // taken under the lock: the dataset may be destroyed after it
  {
    FRT_LOCKED_INIT(r);
    FRT_REQUIRE(liveModel(r, model), FRT_ERROR_INVALID_HANDLE, "frtModelExecute: not a loaded model");
    FRT_REQUIRE(inputs && r.datasets.count(inputs) && outputs && r.datasets.count(outputs),
                FRT_ERROR_INVALID_HANDLE, "frtModelExecute: inputs or outputs is not a live dataset");
    if (frtError e = resolveStream(stream, s)) return e;
    FRT_REQUIRE(s->context->device == model->device, FRT_ERROR_INVALID_HANDLE,
                "frtModelExecute: the model is loaded on another device than the stream's");
    if (frtError e = checkDataset(model, inputs, true, in)) return e;
    if (frtError e = checkDataset(model, outputs, false, out)) return e;
    written = outputs->written;
  }
  enqueue(s, [model, in, out, s, written] {
    std::optional<Failure> failure;
    executeAndRecord(model, in, out, *written, failure);
    if (failure) {
      streamFailed(s, *failure);
      return;
    }
    double us;
    {
      std::lock_guard<std::mutex> run(model->runMutex);
      us = model->profile.simulatedUs;
    }
    std::lock_guard<std::mutex> streamLock(s->mutex);
    s->simulatedUs += us;
  });
  return ok();
}

frtError frtModelExecute(frtModel model, frtDataset inputs, frtDataset outputs) {
  frtStreamImpl *s = nullptr;
  {
    FRT_LOCKED_INIT(r);
    if (frtError e = resolveStream(nullptr, s)) return e;
  }
  if (frtError e = frtModelExecuteAsync(model, inputs, outputs, nullptr)) return e;
  if (std::unique_ptr<Failure> f = drain(s)) return fail(*f);
  return ok();
}

} // extern "C"
