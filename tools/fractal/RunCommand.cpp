// `fractal run` and `fractal info`: a model package (or an ONNX model, compiled in memory) on a
// simulated device through the runtime's model API, with .npy inputs and outputs, a JSON report,
// and an msprof-style profile (op_summary.csv + Perfetto trace).
#include "ArgParser.h"
#include "BindInputs.h"
#include "Commands.h"
#include "ModelRun.h"

#include "fractal/isa/Disassembler.h"
#include "fractal/isa/Encoding.h"
#include "fractal/isa/Numerics.h"
#include "fractal/runtime/ModelProfile.h"
#include "fractal/runtime/Roofline.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/sim/Simulator.h"
#include "fractal/support/File.h"
#include "fractal/support/Json.h"
#include "fractal/support/Npy.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

namespace fractal::cli {

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// Output file name for a tensor name: characters a file name cannot hold become '_'.
std::string fileNameFor(const std::string &name) {
  std::string out = name;
  for (char &c : out)
    if (c == '/' || c == '\\' || c == ':' || c == '\0') c = '_';
  return out.empty() || out == "." || out == ".." ? "output_" + out : out;
}

// Deterministic data for an input nobody gave: uniform in [-1, 1) (0/1 for bool, small integers).
namespace {

// The runtime's message about `what` (once: a model's failures already start with its name).
Error runtimeFailure(frtError code, const std::string &what) {
  const std::string said = frtGetRecentErrMsg();
  const std::string message = said.rfind(what + ": ", 0) == 0 ? said : what + ": " + said;
  return code == FRT_ERROR_DEVICE_FAULT ? Error::deviceFault(message)
         : code == FRT_ERROR_INTERNAL   ? Error::internal(message)
                                        : Error::badInput(message);
}

} // namespace

Expected<uint32_t> parseOpTimeout(const std::string &command, const std::string &text) {
  uint64_t ms = 0;
  if (!text.empty() && (!parseUnsigned(text, ms) || ms == 0 || ms > UINT32_MAX))
    return Error::badInput(command + ": --op-timeout must be a number of milliseconds from 1 to " +
                           std::to_string(UINT32_MAX) + ", got '" + text + "'");
  return uint32_t(ms);
}

std::string opTimeoutHelp() {
  return "stop a kernel launch still running after MS simulated milliseconds (functional mode: as many "
         "scalar instructions per core, or cycles of a pipe's work; default " +
         std::to_string(FRT_DEFAULT_OP_TIMEOUT_MS) + ")";
}

Expected<ModelRun> runOnDevice(const pkg::Package &package, const std::string &target, const std::string &mode,
                               const std::vector<NpyArray> &inputs, bool trace, const std::string &file,
                               uint32_t opTimeoutMs) {
  struct Session {
    bool up = false;
    ~Session() { if (up) frtFinalize(); }
  } session;
  const std::string device = target + ":" + mode;
  if (frtError e = frtInit(device.c_str())) return runtimeFailure(e, "device " + device);
  session.up = true;
  if (frtError e = frtSetDevice(0)) return runtimeFailure(e, "device " + device);
  if (frtError e = frtSetOpExecuteTimeOut(opTimeoutMs)) return runtimeFailure(e, "device " + device);
  frtModel handle = nullptr;
  if (file.empty()) {
    std::vector<uint8_t> bytes = pkg::serializePackage(package);
    if (frtError e = frtModelLoadFromMem(bytes.data(), bytes.size(), &handle)) return runtimeFailure(e, package.sourceModel);
  } else if (frtError e = frtModelLoadFromFile(file.c_str(), &handle)) {
    return runtimeFailure(e, file);
  }
  runtime::setModelTracing(handle, trace);
  frtDataset in = nullptr, out = nullptr;
  frtCreateDataset(&in);
  frtCreateDataset(&out);
  for (const NpyArray &a : inputs) {
    void *p = nullptr;
    size_t n = std::max<size_t>(a.data.size(), 1);
    if (frtError e = frtMalloc(&p, n, FRT_MEM_MALLOC_HUGE_FIRST)) return runtimeFailure(e, "input");
    if (!a.data.empty()) frtMemcpy(p, n, a.data.data(), a.data.size(), FRT_MEMCPY_HOST_TO_DEVICE);
    frtAddDatasetBuffer(in, p, n);
  }
  std::vector<void *> outPtrs;
  for (uint32_t i : package.outputs) {
    void *p = nullptr;
    size_t n = std::max<size_t>(package.tensors[i].dataBytes(), 1);
    if (frtError e = frtMalloc(&p, n, FRT_MEM_MALLOC_HUGE_FIRST)) return runtimeFailure(e, "output");
    frtAddDatasetBuffer(out, p, n);
    outPtrs.push_back(p);
  }
  const std::string name = file.empty() ? package.sourceModel : file;
  if (frtError e = frtModelExecute(handle, in, out)) return runtimeFailure(e, name);
  ModelRun run;
  for (size_t k = 0; k < package.outputs.size(); ++k) {
    const pkg::Tensor &t = package.tensors[package.outputs[k]];
    frtTensorDesc written; // the shape the run wrote (a data-dependent output's extent is known only now)
    if (frtError e = frtGetDatasetTensorDesc(out, k, &written)) return runtimeFailure(e, name);
    NpyArray a{pkg::npyDescr(t.dtype), std::vector<int64_t>(written.dims, written.dims + written.numDims),
               std::vector<uint8_t>(written.size)};
    if (!a.data.empty()) frtMemcpy(a.data.data(), a.data.size(), outPtrs[k], a.data.size(), FRT_MEMCPY_DEVICE_TO_HOST);
    run.outputs.push_back(std::move(a));
  }
  if (!runtime::lastModelProfile(handle, run.profile)) return Error::internal(name + ": " + frtGetRecentErrMsg());
  return run;
}

Expected<std::map<std::string, std::vector<std::string>>> inputFiles(const std::vector<std::string> &items,
                                                                     const pkg::Package &package,
                                                                     const std::string &command, const std::string &flag) {
  std::map<std::string, std::vector<std::string>> files;
  for (const std::string &item : items) {
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      return Error::badInput(command + ": " + flag + " '" + item + "' is not NAME=FILE.npy");
    files[item.substr(0, eq)].push_back(item.substr(eq + 1));
  }
  std::string names;
  for (uint32_t i : package.inputs) names += (names.empty() ? "" : ", ") + package.tensors[i].name;
  for (const auto &[name, paths] : files) {
    bool known = false;
    for (uint32_t i : package.inputs) known |= package.tensors[i].name == name;
    if (!known)
      return Error::badInput(command + ": " + flag + " " + name + ": the model has no input '" + name +
                             "' (its inputs: " + names + ")");
  }
  return files;
}

Expected<NpyArray> readInputNpy(const std::string &path, const pkg::Tensor &t) {
  Expected<NpyArray> a = readNpyFile(path);
  if (!a) return a;
  if (a->descr != pkg::npyDescr(t.dtype) || a->shape != t.shape)
    return Error::badInput(path + ": input '" + t.name + "' must be " + pkg::npyDescr(t.dtype) + shapeText(t.shape) +
                           ", the file holds " + a->descr + shapeText(a->shape));
  return a;
}

NpyArray randomInput(const pkg::Tensor &t, uint32_t seed) {
  NpyArray a{pkg::npyDescr(t.dtype), t.shape, std::vector<uint8_t>(t.dataBytes())};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int64_t n = t.elementCount();
  for (int64_t i = 0; i < n; ++i) {
    float f = uniform(rng);
    switch (t.dtype) {
    case pkg::DType::F32: std::memcpy(&a.data[size_t(i) * 4], &f, 4); break;
    case pkg::DType::F64: { const double d = f; std::memcpy(&a.data[size_t(i) * 8], &d, 8); break; }
    case pkg::DType::I64: { int64_t v = int64_t(f * 4); std::memcpy(&a.data[size_t(i) * 8], &v, 8); break; }
    case pkg::DType::I32: { int32_t v = int32_t(f * 4); std::memcpy(&a.data[size_t(i) * 4], &v, 4); break; }
    case pkg::DType::I8: a.data[size_t(i)] = uint8_t(int8_t(f * 4)); break;
    case pkg::DType::Bool: a.data[size_t(i)] = f > 0; break;
    // Other integers: small values (|v| < 4, unsigned ones from 0), in their own width.
    case pkg::DType::U8: case pkg::DType::I16: case pkg::DType::U16: case pkg::DType::U32: case pkg::DType::U64: {
      const bool isUnsigned = t.dtype != pkg::DType::I16;
      const int64_t v = isUnsigned ? int64_t((f + 1) * 2) : int64_t(f * 4);
      std::memcpy(&a.data[size_t(i) * pkg::dtypeSize(t.dtype)], &v, pkg::dtypeSize(t.dtype)); // little-endian
      break;
    }
    case pkg::DType::F16: { const uint16_t h = isa::floatToHalf(f); std::memcpy(&a.data[size_t(i) * 2], &h, 2); break; }
    }
  }
  return a;
}

Expected<std::vector<RunInput>> collectInputs(const pkg::Package &package, const std::vector<std::string> &items,
                                              bool random, const std::string &command, const std::string &dir,
                                              bool sayWhere) {
  Expected<std::map<std::string, std::vector<std::string>>> given = inputFiles(items, package, command, "--input");
  if (!given) return given.takeError();
  std::vector<RunInput> inputs;
  for (size_t k = 0; k < package.inputs.size(); ++k) {
    const pkg::Tensor &t = package.tensors[package.inputs[k]];
    auto it = given->find(t.name);
    if (it != given->end()) {
      Expected<NpyArray> a = readInputNpy(it->second.back(), t);
      if (!a) return a.takeError();
      inputs.push_back({std::move(*a), it->second.back()});
      continue;
    }
    if (!random)
      return Error::badInput(command + ": no data for input '" + t.name + "' (" + pkg::npyDescr(t.dtype) +
                             shapeText(t.shape) + "): give --input " + t.name + "=FILE.npy, or --random-inputs");
    const std::string saved = dir + "/" + fileNameFor(t.name) + ".input.npy";
    std::cerr << "fractal: warning: input '" << t.name << "' not given: using seeded random data "
              << "(uniform [-1, 1), seed " << k << ") because of --random-inputs"
              << (sayWhere ? "; saved as " + saved : "") << "\n";
    inputs.push_back({randomInput(t, uint32_t(k)), saved});
    if (Status s = createDirectories(dir); !s) return s.error();
    if (Status s = writeNpyFile(saved, inputs.back().data); !s) return s.error();
  }
  return inputs;
}

namespace {

std::string opSummaryCsv(const runtime::ModelProfile &prof) {
  std::ostringstream s;
  s << "Op Name,OP Type,Task Type,Block Dim,Task Start Time(us),Task Duration(us),aicore_time(cycles),"
       "aic_mac_ratio,aic_mte1_ratio,aic_mte2_ratio,aic_fixpipe_ratio,aiv_vec_ratio,aiv_mte2_ratio,"
       "aiv_mte3_ratio,aic_scalar_ratio,l2_hit_rate,dram_bytes,ONNX Nodes,Host Reason\n";
  double start = 0;
  // One row: a task, or a kernel sequence's part. A part's scalar share is not known (the scalar
  // unit leaves no trace slices): that column is left empty.
  // The L2 columns: the hits over the lookups of the row's GM transfers, and what DRAM moved.
  auto row = [&](const std::string &name, const std::string &opType, const char *taskType, uint32_t blockDim,
                 double us, uint64_t cycles, const std::vector<runtime::PipeUse> &pipes, bool scalarKnown,
                 uint64_t l2Hits, uint64_t l2Misses, uint64_t dramBytes,
                 const std::vector<std::string> &onnxNodes, const std::string &hostReason) {
    auto ratio = [&](const char *pipe) {
      for (const runtime::PipeUse &p : pipes)
        if (p.pipe == pipe) return p.ratio;
      return 0.0;
    };
    char line[512];
    std::snprintf(line, sizeof line, "%s,%s,%s,%u,%.3f,%.3f,%llu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,", name.c_str(),
                  opType.c_str(), taskType, blockDim, start, us, (unsigned long long)cycles, ratio("m"), ratio("mte1"),
                  ratio("mte2"), ratio("fix"), ratio("v"), ratio("mte2"), ratio("mte3"));
    s << line;
    if (scalarKnown) {
      std::snprintf(line, sizeof line, "%.4f", ratio("s"));
      s << line;
    }
    std::snprintf(line, sizeof line, ",%.4f,%llu", l2Hits + l2Misses ? double(l2Hits) / double(l2Hits + l2Misses) : 0.0,
                  (unsigned long long)dramBytes);
    s << line;
    std::string nodes;
    for (const std::string &n : onnxNodes) nodes += (nodes.empty() ? "" : ";") + n;
    s << "," << nodes << "," << hostReason << "\n";
    start += us;
  };
  for (const runtime::TaskProfile &t : prof.tasks) {
    if (t.segments.empty()) {
      row(t.name, t.opType, t.host ? "AI_CPU" : "AI_CORE", t.blockDim, t.deviceUs, t.cycles, t.pipes, true, t.l2Hits,
          t.l2Misses, t.dramBytes, t.onnxNodes, t.hostReason);
      continue;
    }
    for (size_t k = 0; k < t.segments.size(); ++k) { // a kernel sequence: a row per part (the launch is the first's)
      const runtime::SegmentProfile &g = t.segments[k];
      const double launchUs = k == 0 ? t.deviceUs - double(t.cycles) / prof.clockMhz : 0.0;
      row(g.name, g.opType, "AI_CORE", g.blockDim, double(g.cycles) / prof.clockMhz + launchUs, g.cycles, g.pipes, false,
          g.l2Hits, g.l2Misses, g.dramBytes, g.onnxNodes, "");
    }
  }
  return s.str();
}

// Chrome/Perfetto trace: one lane of tasks (and a kernel sequence's parts), then one lane per
// (core, pipe) when tracing was on, named like the simulator's own trace; each instruction slice
// carries its mnemonic, and in its args the instruction and the ONNX node it was emitted for.
std::string modelTrace(const runtime::ModelProfile &prof, const pkg::Package &package, int cores) {
  JsonWriter j(false);
  j.beginObject().key("traceEvents").beginArray();
  j.beginObject().field("name", "process_name").field("ph", "M").field("pid", 0);
  j.key("args").beginObject().field("name", "model").endObject().endObject();
  for (int tid : {0, 1}) {
    j.beginObject().field("name", "thread_name").field("ph", "M").field("pid", 0).field("tid", tid);
    j.key("args").beginObject().field("name", tid ? "host tasks" : "AI core tasks").endObject().endObject();
  }
  sim::writeCoreLaneNames(j, cores, 1);
  double at = 0;
  for (size_t i = 0; i < prof.tasks.size(); ++i) {
    const runtime::TaskProfile &t = prof.tasks[i];
    const double startUs = t.host ? at : double(t.startCycle) / prof.clockMhz;
    j.beginObject().field("name", t.name).field("cat", t.opType).field("ph", "X").field("ts", startUs)
        .field("dur", t.deviceUs).field("pid", 0).field("tid", t.host ? 1 : 0).endObject();
    for (const runtime::SegmentProfile &g : t.segments) // nested in the task's slice
      j.beginObject().field("name", g.name).field("cat", g.opType).field("ph", "X")
          .field("ts", double(g.startCycle) / prof.clockMhz).field("dur", double(g.cycles) / prof.clockMhz)
          .field("pid", 0).field("tid", 0).endObject();
    // The task's kernel, to name its instructions (a package kept encoded decodes them here).
    const isa::KernelBinary *kernel = nullptr;
    if (i < package.tasks.size() && !package.tasks[i].isHost && package.tasks[i].launch.kernel < package.kernels.size())
      kernel = &package.kernels[package.tasks[i].launch.kernel].binary;
    std::map<int64_t, std::pair<std::string, std::string>> names; // pc -> mnemonic, instruction
    auto instruction = [&](int64_t pc) -> const std::pair<std::string, std::string> * {
      if (!kernel || pc < 0 || size_t(pc) >= kernel->instructionCount()) return nullptr;
      auto [it, fresh] = names.try_emplace(pc);
      if (fresh) {
        const isa::Instruction inst = kernel->instructionAt(size_t(pc));
        it->second = {inst.info().mnemonic, isa::formatInstruction(inst)};
      }
      return &it->second;
    };
    for (const runtime::TraceEvent &e : t.trace) {
      const auto *inst = instruction(e.pc);
      j.beginObject().field("name", inst ? inst->first : "pc " + std::to_string(e.pc)).field("ph", "X")
          .field("ts", double(e.start) / prof.clockMhz).field("dur", double(e.duration) / prof.clockMhz)
          .field("pid", 1 + e.core).field("tid", e.pipe);
      j.key("args").beginObject().field("pc", e.pc);
      if (inst) {
        j.field("instruction", inst->second);
        if (!kernel->noteOf(size_t(e.pc)).empty()) j.field("node", kernel->noteOf(size_t(e.pc)));
      }
      j.endObject().endObject();
    }
    at = startUs + t.deviceUs;
  }
  j.endArray().endObject();
  return j.str();
}

// A model input or output as the run took or wrote it: its file and shape (an output's actual
// shape; `bound` its reservation when the extent is known only at run time).
struct RunTensor {
  const pkg::Tensor *tensor;
  std::string file;
  std::vector<int64_t> shape;
};

std::string runReport(const std::string &model, const pkg::Package &p, const std::string &mode,
                      const runtime::ModelProfile &prof, const runtime::WhereTimeGoes &where,
                      const std::vector<RunTensor> &inputs, const std::vector<RunTensor> &outputs) {
  JsonWriter j;
  j.beginObject().field("schema", "fractal.run/1").field("model", model).field("target", p.target)
      .field("mode", mode).field("cycles", prof.cycles).field("simulated_us", prof.simulatedUs)
      .field("wall_seconds", prof.wallSeconds).field("copied_io_bytes", prof.copiedIoBytes);
  auto tensors = [&](const char *key, const std::vector<RunTensor> &list) {
    auto dims = [&](const char *name, const std::vector<int64_t> &shape) {
      j.key(name).beginArray();
      for (int64_t d : shape) j.value(d);
      j.endArray();
    };
    j.key(key).beginArray();
    for (const RunTensor &t : list) {
      j.beginObject().field("name", t.tensor->name).field("dtype", pkg::dtypeName(t.tensor->dtype));
      dims("shape", t.shape);
      if (t.tensor->isDataDependent()) dims("bound", t.tensor->shape);
      j.field("file", t.file).endObject();
    }
    j.endArray();
  };
  tensors("inputs", inputs);
  tensors("outputs", outputs);
  if (mode == "timing") {
    j.key("roofline").beginObject().field("kernel_cycles", where.kernelCycles)
        .field("launch_cycles", where.launchCycles).field("bound_cycles", where.boundCycles)
        .field("ratio_to_roofline", where.kernelCycles > 0 ? where.boundCycles / where.kernelCycles : 0.0)
        .field("sum_of_kernel_bounds", where.sumOfKernelBounds).field("dram_bytes", where.dramBytes)
        .field("dram_cycles", where.dramCycles).field("l2_hit_rate", where.l2HitRate)
        .field("barrier_wait_cycles", where.barrierWaitCycles)
        .field("busiest_work_cycles", where.busiestWorkCycles)
        .field("ratio_to_roofline_at_best", where.busiestWorkCycles > 0 ? where.boundCycles / where.busiestWorkCycles : 0.0);
    j.key("busiest_work").beginObject();
    for (const auto &[unit, cycles] : where.busiestWork) j.field(unit, cycles);
    j.endObject();
    j.key("kernel_cycles_by_limiter").beginObject();
    for (const auto &[limiter, cycles] : where.byLimiter) j.field(limiter, cycles);
    j.endObject();
    if (where.pipesTraced) { // per core: kernel cycles with no pipe working, several, one alone
      j.key("pipes_at_work").beginObject().field("none_cycles", where.noPipeCycles)
          .field("two_or_more_cycles", where.overlappingCycles).key("alone_cycles").beginObject();
      for (const auto &[pipe, cycles] : where.aloneCycles) j.field(pipe, cycles);
      j.endObject().endObject();
    }
    j.endObject();
  }
  // A task's or a sequence part's ONNX nodes and pipe utilization.
  auto nodes = [&](const std::vector<std::string> &names) {
    j.key("onnx_nodes").beginArray();
    for (const std::string &n : names) j.value(n);
    j.endArray();
  };
  auto pipeUse = [&](const std::vector<runtime::PipeUse> &pipes) {
    j.key("pipe_utilization").beginObject();
    for (const runtime::PipeUse &u : pipes) j.field(u.pipe, u.ratio);
    j.endObject();
  };
  j.key("tasks").beginArray();
  for (size_t i = 0; i < prof.tasks.size(); ++i) {
    const runtime::TaskProfile &t = prof.tasks[i];
    j.beginObject().field("name", t.name).field("op_type", t.opType).field("unit", t.host ? "host" : "npu");
    nodes(t.onnxNodes);
    if (t.host) j.field("host_reason", t.hostReason);
    j.field("block_dim", int64_t(t.blockDim)).field("cycles", t.cycles).field("us", t.deviceUs)
        .field("macs", t.macs).field("model_macs", t.modelMacs);
    if (mode == "timing" && !t.host)
      j.field("tensor_bytes", t.tensorBytes).field("bound_cycles", where.tasks[i].cycles())
          .field("limited_by", where.tasks[i].limitedBy).field("dram_bytes", t.dramBytes)
          .field("l2_hits", t.l2Hits).field("l2_misses", t.l2Misses).field("barrier_wait_cycles", t.barrierWaitCycles);
    pipeUse(t.pipes);
    if (!t.alone.empty()) {
      j.key("pipes_at_work").beginObject().field("none", t.noPipe).field("two_or_more", t.overlapping);
      j.key("alone").beginObject();
      for (const runtime::PipeUse &u : t.alone) j.field(u.pipe, u.ratio);
      j.endObject().endObject();
    }
    if (!t.segments.empty()) {
      j.key("segments").beginArray();
      for (const runtime::SegmentProfile &g : t.segments) {
        j.beginObject().field("name", g.name).field("op_type", g.opType);
        nodes(g.onnxNodes);
        j.field("block_dim", uint64_t(g.blockDim)).field("start_cycle", g.startCycle).field("cycles", g.cycles)
            .field("dram_bytes", g.dramBytes).field("l2_hits", g.l2Hits).field("l2_misses", g.l2Misses);
        pipeUse(g.pipes);
        j.endObject();
      }
      j.endArray();
    }
    j.endObject();
  }
  j.endArray().endObject();
  return j.str() + "\n";
}

} // namespace

int runRunCommand(const Args &args) {
  std::string model, target, mode = "timing", outputDir = ".", report, profileDir, shapes, sync = "flags", opTimeout;
  std::vector<std::string> inputs, binds;
  bool randomInputs = false;
  ArgParser parser("fractal run", "run a model package (or an ONNX model) on the simulated NPU");
  parser.positional("MODEL.fpk|MODEL.onnx", "the model; an .onnx file is compiled in memory first", &model);
  parser.list("--input", "NAME=FILE.npy", "an input tensor (split at the last '=', ONNX names may "
              "contain ':')", &inputs, "-i");
  parser.option("--target", "NAME|FILE", "chip config (default: the package's target; edge for .onnx)", &target);
  parser.option("--mode", "MODE", "functional (results only) or timing (default: cycles too)", &mode);
  parser.option("--output-dir", "DIR", "where outputs go, as NAME.npy (default: .)", &outputDir);
  parser.option("--report", "FILE.json", "write the run report (schema fractal.run/1)", &report);
  parser.option("--profile", "DIR", "write op_summary.csv (msprof columns) and trace.json (Perfetto)",
                &profileDir);
  parser.option("--input-shape", "SHAPES", "for .onnx: fix input dims as fractal compile does", &shapes);
  parser.list("--bind-input", "NAME=FILE.npy|NAME=NUMBER", "for .onnx: bind a graph input at compile time as "
              "fractal compile does (then it is not a run-time input)", &binds);
  parser.option("--sync", "MODE", "flags (default) or barrier-all: run every kernel with its flags "
                "replaced by a barrier after each pipe instruction (the fractal compile debug mode)", &sync);
  parser.flag("--random-inputs", "fill inputs not given with deterministic seeded random data "
              "(said on stderr)", &randomInputs);
  parser.option("--op-timeout", "MS", opTimeoutHelp(), &opTimeout);
  parser.epilog("EXIT CODES: 0 ok, 2 bad model, input or flag, 3 the device faulted (or a launch timed out).");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (mode != "functional" && mode != "timing")
    return reportError(Error::badInput("fractal run: --mode must be functional or timing, got '" + mode + "'"));
  Expected<uint32_t> opTimeoutMs = parseOpTimeout("fractal run", opTimeout);
  if (!opTimeoutMs) return reportError(opTimeoutMs.error());

  // The package: read (fully validated) or compiled now.
  const bool isOnnx = isOnnxModel(model);
  Expected<pkg::Package> loaded = modelPackage("fractal run", model, target, shapes, binds);
  if (!loaded) return reportError(loaded.error());
  pkg::Package package = std::move(*loaded);
  if (Status s = pkg::applySyncMode(package, sync); !s) return reportError(s.error());
  warnAboutFloat64(package, model);
  if (target.empty()) target = package.target;
  if (!isOnnx) {
    Expected<ChipConfig> config = loadChipConfig(target);
    if (!config) return reportError(config.error());
    if (config->name != package.target)
      return reportError(Error::badInput(model + ": compiled for target '" + package.target +
                                         "', not '" + config->name + "'; recompile with --target " +
                                         target + " or run on --target " + package.target));
  }

  // Inputs: every NAME=FILE must name a model input; every model input needs data.
  Expected<std::vector<RunInput>> given = collectInputs(package, inputs, randomInputs, "fractal run", outputDir, true);
  if (!given) return reportError(given.error());
  std::vector<NpyArray> data;
  std::vector<RunTensor> inputsRun, outputsRun;
  for (size_t k = 0; k < given->size(); ++k) {
    const pkg::Tensor &t = package.tensors[package.inputs[k]];
    inputsRun.push_back({&t, (*given)[k].file, t.shape});
    data.push_back(std::move((*given)[k].data));
  }

  // The device: one simulator of the target, the model loaded from the file or the package.
  // (A package with its flags replaced, --sync barrier-all, runs as changed, not from its file.)
  const bool asFile = !isOnnx && sync == "flags";
  Expected<ModelRun> run =
      runOnDevice(package, target, mode, data, !profileDir.empty(), asFile ? model : "", *opTimeoutMs);
  if (!run) return reportError(run.error());
  if (Status s = createDirectories(outputDir); !s) return reportError(s.error());
  for (size_t k = 0; k < package.outputs.size(); ++k) {
    const pkg::Tensor &t = package.tensors[package.outputs[k]];
    std::string path = outputDir + "/" + fileNameFor(t.name) + ".npy";
    if (Status s = writeNpyFile(path, run->outputs[k]); !s) return reportError(s.error());
    outputsRun.push_back({&t, path, run->outputs[k].shape});
    std::cout << "output " << t.name << ": " << pkg::npyDescr(t.dtype) << shapeText(run->outputs[k].shape)
              << (t.isDataDependent() ? " (of at most " + shapeText(t.shape) + ")" : "") << " -> " << path << "\n";
  }
  const runtime::ModelProfile &prof = run->profile;
  size_t host = 0;
  for (const runtime::TaskProfile &t : prof.tasks) host += t.host;
  std::printf("%s on %s (%s): %zu task(s) (%zu on the host), %llu cycles, %.3f us simulated, %.3f s wall\n",
              model.c_str(), target.c_str(), mode.c_str(), prof.tasks.size(), host,
              (unsigned long long)prof.cycles, prof.simulatedUs, prof.wallSeconds);
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config) return reportError(config.error());
  const runtime::WhereTimeGoes where = runtime::whereTimeGoes(prof, package, *config);
  if (mode == "timing") std::printf("%s", runtime::describe(where, prof).c_str());
  if (!report.empty())
    if (Status s = writeFileAtomically(report, runReport(model, package, mode, prof, where, inputsRun, outputsRun)); !s)
      return reportError(s.error());
  if (!profileDir.empty()) {
    if (Status s = createDirectories(profileDir); !s) return reportError(s.error());
    if (Status s = writeFileAtomically(profileDir + "/op_summary.csv", opSummaryCsv(prof)); !s)
      return reportError(s.error());
    if (Status s = writeFileAtomically(profileDir + "/trace.json", modelTrace(prof, package, config->chip.cores)); !s)
      return reportError(s.error());
  }
  return 0;
}

int runCompareCommand(const Args &args) {
  std::string actualPath, expectedPath, minCosine = "0.999";
  ArgParser parser("fractal compare", "compare two tensors (.npy): max abs/relative error and cosine similarity");
  parser.positional("ACTUAL.npy", "the tensor to check", &actualPath);
  parser.positional("EXPECTED.npy", "the reference (e.g. from ONNX Runtime)", &expectedPath);
  parser.option("--min-cosine", "X", "fail below this cosine similarity (default 0.999)", &minCosine);
  parser.epilog("EXIT CODES: 0 within tolerance, 2 unreadable or different shapes, 4 below --min-cosine.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  char *end = nullptr;
  const double threshold = std::strtod(minCosine.c_str(), &end);
  if (!end || *end || !(threshold >= -1 && threshold <= 1))
    return reportError(Error::badInput("fractal compare: --min-cosine must be a number in [-1, 1]"));
  Expected<NpyArray> a = readNpyFile(actualPath), b = readNpyFile(expectedPath);
  if (!a) return reportError(a.error());
  if (!b) return reportError(b.error());
  if (a->descr != "<f4" || b->descr != "<f4" || a->shape != b->shape)
    return reportError(Error::badInput("fractal compare: " + actualPath + " is " + a->descr + shapeText(a->shape) +
                                       ", " + expectedPath + " is " + b->descr + shapeText(b->shape) +
                                       "; both must be <f4 of one shape"));
  const std::vector<float> x = npyFloats(*a), y = npyFloats(*b);
  const size_t n = x.size();
  double dot = 0, nx = 0, ny = 0, maxAbs = 0, maxRef = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double(x[i]) * y[i];
    nx += double(x[i]) * x[i];
    ny += double(y[i]) * y[i];
    const double d = std::fabs(double(x[i]) - y[i]);
    if (d > maxAbs || std::isnan(d)) { maxAbs = d; worst = i; }
    maxRef = std::max(maxRef, std::fabs(double(y[i])));
  }
  // Two all-zero tensors agree; one all-zero tensor against another does not.
  const double cosine = nx == 0 || ny == 0 ? (nx == ny ? 1.0 : 0.0) : dot / (std::sqrt(nx) * std::sqrt(ny));
  std::printf("%zu elements: cosine %.6f, max abs error %.6g at %zu (%g vs %g), max |expected| %.6g\n", n, cosine,
              maxAbs, worst, n ? x[worst] : 0.0f, n ? y[worst] : 0.0f, maxRef);
  if (!(cosine >= threshold)) {
    std::fprintf(stderr, "fractal: error: %s differs from %s: cosine %.6f below %s\n", actualPath.c_str(),
                 expectedPath.c_str(), cosine, minCosine.c_str());
    return static_cast<int>(ExitCode::Mismatch);
  }
  return 0;
}

int runInfoCommand(const Args &args) {
  std::string model, target, shapes;
  ArgParser parser("fractal info", "describe a model package: target, inputs/outputs, tasks, kernels, memory plan");
  parser.positional("MODEL.fpk|MODEL.onnx", "the package; an .onnx file is compiled in memory first (as fractal run "
                    "does: what it would deploy, without writing a package)", &model);
  parser.option("--target", "NAME|FILE", "for .onnx: chip config (default: edge)", &target);
  parser.option("--input-shape", "SHAPES", "for .onnx: fix input dims as fractal compile does", &shapes);
  parser.epilog("EXIT CODES: 0 ok, 2 not a valid package, or a model that does not compile.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (!isOnnxModel(model) && !(target.empty() && shapes.empty()))
    return reportError(Error::badInput("fractal info: --target and --input-shape are for an .onnx model; " + model +
                                       " is described as it was compiled"));
  Expected<pkg::Package> p = modelPackage("fractal info", model, target, shapes, {});
  if (!p) return reportError(p.error());
  std::cout << pkg::describePackage(*p);
  return 0;
}

} // namespace fractal::cli
