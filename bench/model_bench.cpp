// Whole-model benchmarks (issues: compiler and runtime performance). Needs `make assets`.
//
//   Compile/<model>            compile time; counters: peak RSS of the process, kernels, code bytes
//   Infer/<model>/<mode>       per-inference wall time with the model loaded once, next to ONNX
//                              Runtime's single-thread median measured in the same run, right
//                              before and right after ours (ort_ms: their mean; ratio_vs_ort =
//                              our median wall time per inference / ort_ms), simulated latency and cycles,
//                              cube utilization, and the ratio to the roofline bound (timing mode:
//                              ratio_to_roofline_at_best, the bound over the busiest units' work of a
//                              traced run's kernel parts, the best these kernels could reach)
//   MatMul1024/<mode>          a 1024^3 MatMul compiled from ONNX: cube utilization and roofline
//   rss/<model>                peak RSS of the model example (runtime/examples/model.c: load, run
//                              once in timing mode) as a child process (through peak_rss.c) over
//                              the model's device memory: weights + working memory, what
//                              frtModelQuerySize reports and loading allocates (model_MiB, split
//                              into weights_MiB and work_MiB; rss_per_model; issue 6's target is <= 3),
//                              and the resident set of a process that has the runtime and a device
//                              but no model (baseline_rss_MiB: the libraries, SystemC, a device;
//                              bench/idle_rss.c); rss_above_baseline_per_model = what the model adds;
//                              device_rss_MiB: the same process after running a tiny model and
//                              unloading it (a device that has run kernels), rss_above_device_per_model
//                              = what one more model costs such a process
//
// The roofline bound of a run is max(compute, memory): compute = the model's MACs (its Conv,
// ConvTranspose, MatMul and Gemm as ONNX defines them, not the cube's issued MACs, which include
// channel padding, depthwise zeros and fused residual steps) / (cube MACs per cycle x cores), memory = the bytes the model must move at least once (weights, inputs, outputs) / DRAM
// bytes per cycle. ratio_to_roofline = bound / simulated kernel cycles (1.0 = at the roofline);
// ratio_to_roofline_with_launches = bound / (kernel cycles + runtime.kernel_launch_us per launch).
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/runtime/ModelProfile.h"
#include "fractal/runtime/Roofline.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/support/Npy.h"

#include "onnx/onnx_pb.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sys/resource.h>

namespace {

using namespace fractal;

const std::string kAssets = FRACTAL_ASSETS_DIR;

struct Model {
  const char *name, *path, *shapes;
  int ortRuns; // ONNX Runtime's timed runs each time it is measured: about a second's worth
};

const Model kBlazeFront{"blazeface_front", "/blazeface/ONNX/face_detection_front_128x128_barracuda.onnx", "", 300};
const Model kBlazeBack{"blazeface_back", "/blazeface/ONNX/face_detection_back_256x256_barracuda.onnx", "", 100};
const Model kPpOcrDet{"ppocr_det_640", "/ocr/assets/ch_PP-OCRv4_det_infer.onnx", "x:1,3,640,640", 10};
const Model kPpOcrRec{"ppocr_rec_320", "/ocr/assets/ch_PP-OCRv4_rec_infer.onnx", "x:1,3,48,320", 40};

double peakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}

ChipConfig edge() { return *loadChipConfig("edge"); }

bool haveAssets(benchmark::State &state, const std::string &path) {
  if (std::ifstream(path).good()) return true;
  state.SkipWithError(("missing " + path + ": run make assets").c_str());
  return false;
}

void compile(benchmark::State &state, const Model &m) {
  const std::string path = kAssets + m.path;
  if (!haveAssets(state, path)) return;
  const ChipConfig config = edge();
  size_t kernels = 0, code = 0;
  for (auto _ : state) {
    Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, m.shapes, config, "");
    if (!p) {
      state.SkipWithError(p.error().message.c_str());
      return;
    }
    kernels = p->kernels.size();
    code = 0;
    for (const pkg::Kernel &k : p->kernels) code += k.binary.code.size() * 16;
  }
  state.counters["kernels"] = double(kernels);
  state.counters["code_bytes"] = double(code);
  state.counters["peak_rss_MiB"] = peakRssMiB();
}

// ONNX Runtime's median single-thread latency for `model` on `input` over `runs` runs after a
// warm-up one, measured by the reference script.
double ortMillis(const std::string &model, const std::string &inputName, const std::string &inputFile, int runs) {
  const std::string out = "/tmp/fractal-bench-ort";
  const std::string cmd = "NODE_PATH='" + kAssets + "/ort/node_modules' node '" FRACTAL_SOURCE_DIR "/scripts/ort-run.mjs' '" +
                          model + "' " + out + " '" + inputName + "=" + inputFile + "' --time " + std::to_string(runs);
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char line[256];
  double ms = 0;
  while (std::fgets(line, sizeof line, p)) std::sscanf(line, "onnxruntime: median %lf ms", &ms);
  pclose(p);
  return ms;
}

struct Loaded {
  pkg::Package package;
  frtModel model = nullptr;
  frtDataset in = nullptr, out = nullptr;
  std::string inputFile;
};

// Compiles, writes a seeded random input, loads the model on a fresh runtime in `mode`.
bool load(benchmark::State &state, const std::string &path, const std::string &shapes, const char *mode, Loaded &l) {
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, shapes, edge(), "");
  if (!p) {
    state.SkipWithError(p.error().message.c_str());
    return false;
  }
  l.package = std::move(*p);
  const pkg::Tensor &x = l.package.tensors[l.package.inputs[0]];
  NpyArray input{"<f4", x.shape, std::vector<uint8_t>(x.dataBytes())};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < input.data.size() / 4; ++i) {
    float v = u(rng);
    std::memcpy(&input.data[i * 4], &v, 4);
  }
  l.inputFile = "/tmp/fractal-bench-input.npy";
  writeNpyFile(l.inputFile, input);
  frtInit((std::string("edge:") + mode).c_str());
  frtSetDevice(0);
  std::vector<uint8_t> bytes = pkg::serializePackage(l.package);
  if (frtModelLoadFromMem(bytes.data(), bytes.size(), &l.model) != FRT_SUCCESS) {
    state.SkipWithError(frtGetRecentErrMsg());
    return false;
  }
  frtCreateDataset(&l.in);
  frtCreateDataset(&l.out);
  void *d;
  frtMalloc(&d, input.data.size(), FRT_MEM_MALLOC_HUGE_FIRST);
  frtMemcpy(d, input.data.size(), input.data.data(), input.data.size(), FRT_MEMCPY_HOST_TO_DEVICE);
  frtAddDatasetBuffer(l.in, d, input.data.size());
  for (uint32_t o : l.package.outputs) {
    frtMalloc(&d, l.package.tensors[o].dataBytes(), FRT_MEM_MALLOC_HUGE_FIRST);
    frtAddDatasetBuffer(l.out, d, l.package.tensors[o].dataBytes());
  }
  return true;
}

// Our wall time per inference over the benchmark's iterations, and ONNX Runtime's median measured
// right before and right after them (all 0: not measured).
struct WallTimes {
  double meanMs = 0, medianMs = 0;
  double ortBeforeMs = 0, ortAfterMs = 0;
};

void reportRun(benchmark::State &state, Loaded &l, const WallTimes &wall) {
  runtime::ModelProfile prof;
  if (!runtime::lastModelProfile(l.model, prof)) return;
  double macs = 0, modelMacs = 0, cube = 0;
  for (const runtime::TaskProfile &t : prof.tasks) {
    macs += double(t.macs);
    modelMacs += double(t.modelMacs);
    for (const runtime::PipeUse &u : t.pipes)
      if (u.pipe == "m") cube += u.ratio * double(t.cycles);
  }
  state.counters["simulated_us"] = prof.simulatedUs;
  state.counters["host_tasks"] = 0;
  for (const runtime::TaskProfile &t : prof.tasks) state.counters["host_tasks"] += t.host ? 1 : 0;
  if (prof.cycles) {
    state.counters["sim_cycles"] = double(prof.cycles);
    state.counters["cube_utilization"] = cube / double(prof.cycles);
    state.counters["ratio_to_roofline"] = runtime::modelRooflineCycles(l.package, edge(), modelMacs) / double(prof.cycles);
    // Where the time goes (fractal run prints the whole breakdown): the launches' share of the
    // simulated time, and the limiter holding the most kernel cycles.
    const runtime::WhereTimeGoes where = runtime::whereTimeGoes(prof, l.package, edge());
    state.counters["launch_share"] = where.launchCycles / (where.launchCycles + where.kernelCycles);
    // The bound against the whole simulated latency, launches included (what a user waits for).
    state.counters["ratio_to_roofline_with_launches"] = where.boundCycles / (where.launchCycles + where.kernelCycles);
    if (!where.byLimiter.empty()) state.SetLabel("most kernel cycles: " + where.byLimiter[0].first);
    // The best ratio these kernels could reach: the roofline over their busiest units' own work
    // (part by part when the run was traced).
    if (where.busiestWorkCycles > 0) state.counters["ratio_to_roofline_at_best"] = where.boundCycles / where.busiestWorkCycles;
  }
  state.counters["macs"] = macs;             // issued by the cube
  state.counters["model_macs"] = modelMacs;  // the model's own: what the roofline counts
  if (wall.ortBeforeMs > 0 && wall.ortAfterMs > 0 && wall.medianMs > 0) {
    // Median against median, ONNX Runtime's measured on both sides of ours so that a change in
    // this shared machine's load during the run shows in both (ort_ms is their mean; the two
    // apart say how steady the machine was).
    const double ortMs = (wall.ortBeforeMs + wall.ortAfterMs) / 2;
    state.counters["ort_ms"] = ortMs;
    state.counters["ort_ms_before"] = wall.ortBeforeMs;
    state.counters["ort_ms_after"] = wall.ortAfterMs;
    state.counters["wall_ms_median"] = wall.medianMs;
    state.counters["wall_ms_mean"] = wall.meanMs;
    state.counters["ratio_vs_ort"] = wall.medianMs / ortMs;
  }
  // The model's device memory: weights (and kernel data sections) plus the planned, reused
  // activations, as frtModelQuerySize reports them.
  state.counters["peak_rss_MiB"] = peakRssMiB();
  state.counters["model_MiB"] = double(pkg::deviceMemoryOf(l.package).totalBytes()) / (1 << 20);
}

void infer(benchmark::State &state, const Model &m, const char *mode) {
  const std::string path = kAssets + m.path;
  if (!haveAssets(state, path)) return;
  Loaded l;
  if (!load(state, path, m.shapes, mode, l)) return;
  const pkg::Tensor &x = l.package.tensors[l.package.inputs[0]];
  WallTimes wall;
  wall.ortBeforeMs = ortMillis(path, x.name, l.inputFile, m.ortRuns);
  std::vector<double> ms;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (frtModelExecute(l.model, l.in, l.out) != FRT_SUCCESS) {
      state.SkipWithError(frtGetRecentErrMsg());
      break;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  wall.ortAfterMs = ortMillis(path, x.name, l.inputFile, m.ortRuns);
  // One more run, traced and not timed, so that the profile has a kernel sequence's parts (timing
  // mode: ratio_to_roofline_at_best part by part).
  if (std::string(mode) == "timing" && !ms.empty()) {
    runtime::setModelTracing(l.model, true);
    if (frtModelExecute(l.model, l.in, l.out) != FRT_SUCCESS) state.SkipWithError(frtGetRecentErrMsg());
  }
  if (!ms.empty()) {
    for (double v : ms) wall.meanMs += v / double(ms.size());
    std::nth_element(ms.begin(), ms.begin() + std::ptrdiff_t(ms.size() / 2), ms.end());
    wall.medianMs = ms[ms.size() / 2];
  }
  reportRun(state, l, wall);
  frtFinalize();
}

// A float32 graph input or output named `name` of shape `dims`.
void floatValue(onnx::ValueInfoProto *v, const char *name, std::initializer_list<int64_t> dims) {
  v->set_name(name);
  auto *t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

// out[1024,1024] = a[1024,1024] x w[1024,1024] (constant), as an ONNX model written here.
void matmul1024(benchmark::State &state, const char *mode) {
  const std::string path = "/tmp/fractal-bench-matmul1024.onnx";
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto *g = model.mutable_graph();
  g->set_name("matmul1024");
  floatValue(g->add_input(), "a", {1024, 1024});
  floatValue(g->add_output(), "c", {1024, 1024});
  onnx::TensorProto *w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(1024);
  w->add_dims(1024);
  std::vector<float> values(1024 * 1024);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (float &v : values) v = u(rng);
  w->set_raw_data(values.data(), values.size() * 4);
  onnx::NodeProto *n = g->add_node();
  n->set_op_type("MatMul");
  n->set_name("MatMul_0");
  n->add_input("a");
  n->add_input("w");
  n->add_output("c");
  {
    std::ofstream f(path, std::ios::binary);
    model.SerializeToOstream(&f);
  }
  Loaded l;
  if (!load(state, path, "", mode, l)) return;
  // Traced, so that the kernel sequence holding the cast and the matmul reports each part.
  runtime::setModelTracing(l.model, true);
  for (auto _ : state)
    if (frtModelExecute(l.model, l.in, l.out) != FRT_SUCCESS) {
      state.SkipWithError(frtGetRecentErrMsg());
      break;
    }
  reportRun(state, l, WallTimes{});
  // The matmul kernel alone, without the input's f32 -> f16 cast.
  runtime::ModelProfile prof;
  auto matmul = [&](const std::string &opType, uint64_t cycles, const std::vector<runtime::PipeUse> &pipes) {
    if (opType != "MatMul" || !cycles) return;
    for (const runtime::PipeUse &p : pipes)
      if (p.pipe == "m") state.counters["matmul_kernel_cube_utilization"] = p.ratio;
    state.counters["matmul_kernel_cycles"] = double(cycles);
  };
  if (runtime::lastModelProfile(l.model, prof))
    for (const runtime::TaskProfile &t : prof.tasks) {
      matmul(t.opType, t.cycles, t.pipes);
      for (const runtime::SegmentProfile &g : t.segments) matmul(g.opType, g.cycles, g.pipes);
    }
  frtFinalize();
}

// The peak RSS (MiB) of `frt_example_model package`, run through peak_rss; 0 if it did not run
// successfully.
double childPeakRssMiB(const std::string &package) {
  const std::string cmd = std::string("'") + FRACTAL_PEAK_RSS + "' '" + FRACTAL_EXAMPLE_MODEL + "' '" + package + "'";
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  int status = -1;
  long kib = 0;
  const bool read = std::fscanf(p, "%d %ld", &status, &kib) == 2;
  pclose(p);
  if (!read || status != 0) return 0;
  return double(kib) / 1024.0;
}

// The resident set (MiB) of idle_rss: the runtime and a device, no model (or, given `package`, a
// device that has run it and unloaded it); 0 if it did not run.
double idleRssMiB(const std::string &package = "") {
  const std::string cmd = std::string("'") + FRACTAL_IDLE_RSS + "'" + (package.empty() ? "" : " '" + package + "'");
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  long kib = 0;
  const bool read = std::fscanf(p, "%ld", &kib) == 1;
  return pclose(p) == 0 && read ? double(kib) / 1024.0 : 0;
}

// A model package as small as a model can be that still runs every unit: a 3x3 Conv of 16 channels
// on an 8x8 map (cube, img2col, FixPipe, DMA) and a Sigmoid (vector). idle_rss runs it once to
// leave a device that has run kernels; "" if it could not be made.
std::string tinyPackage() {
  static const std::string made = [] {
    const std::string onnxPath = "/tmp/fractal-bench-tiny.onnx", package = "/tmp/fractal-bench-tiny.fpk";
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(13);
    onnx::GraphProto *g = model.mutable_graph();
    g->set_name("tiny");
    floatValue(g->add_input(), "x", {1, 16, 8, 8});
    floatValue(g->add_output(), "y", {1, 16, 8, 8});
    onnx::TensorProto *w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {16, 16, 3, 3}) w->add_dims(d);
    const std::vector<float> values(16 * 16 * 9, 0.01f);
    w->set_raw_data(values.data(), values.size() * 4);
    onnx::NodeProto *conv = g->add_node();
    conv->set_op_type("Conv");
    conv->set_name("conv");
    for (const char *in : {"x", "w"}) conv->add_input(in);
    conv->add_output("c");
    auto *pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) pads->add_ints(1);
    onnx::NodeProto *sigmoid = g->add_node();
    sigmoid->set_op_type("Sigmoid");
    sigmoid->set_name("sigmoid");
    sigmoid->add_input("c");
    sigmoid->add_output("y");
    {
      std::ofstream f(onnxPath, std::ios::binary);
      model.SerializeToOstream(&f);
    }
    Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(onnxPath, "", edge(), "");
    return p && pkg::writePackageFile(package, *p) ? package : std::string();
  }();
  return made;
}

void rss(benchmark::State &state, const Model &m) {
  const std::string path = kAssets + m.path;
  if (!haveAssets(state, path)) return;
  Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(path, m.shapes, edge(), "");
  if (!p) {
    state.SkipWithError(p.error().message.c_str());
    return;
  }
  const std::string package = std::string("/tmp/fractal-bench-") + m.name + ".fpk";
  if (Status s = pkg::writePackageFile(package, *p); !s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  const std::string tiny = tinyPackage();
  double peak = 0, baseline = 0, device = 0;
  for (auto _ : state) {
    peak = childPeakRssMiB(package);
    baseline = idleRssMiB();
    device = tiny.empty() ? 0 : idleRssMiB(tiny);
  }
  if (peak == 0 || baseline == 0) {
    state.SkipWithError("frt_example_model did not run as expected");
    return;
  }
  if (device == 0) {
    state.SkipWithError(tiny.empty() ? "the tiny model (a Conv and a Sigmoid) did not compile"
                                     : "idle_rss did not run the tiny model");
    return;
  }
  const pkg::DeviceMemorySize memory = pkg::deviceMemoryOf(*p);
  const double model = double(memory.totalBytes()) / (1 << 20);
  state.counters["peak_rss_MiB"] = peak;
  state.counters["baseline_rss_MiB"] = baseline;
  state.counters["model_MiB"] = model;
  state.counters["weights_MiB"] = double(memory.weightBytes()) / (1 << 20);
  state.counters["work_MiB"] = double(memory.workBytes) / (1 << 20);
  state.counters["rss_per_model"] = peak / model;
  state.counters["rss_above_baseline_per_model"] = (peak - baseline) / model;
  // What one more model costs a process whose device has already run kernels: the device's own
  // state (SystemC elaboration, L2 tags, instruction caches, worker threads, the runtime's code)
  // is paid once whatever the models, and a small model's ratio above would be mostly that.
  state.counters["device_rss_MiB"] = device;
  state.counters["rss_above_device_per_model"] = (peak - device) / model;
}

BENCHMARK_CAPTURE(compile, blazeface_front, kBlazeFront)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(compile, blazeface_back, kBlazeBack)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(compile, ppocr_det_640, kPpOcrDet)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(compile, ppocr_rec_320, kPpOcrRec)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, blazeface_front_functional, kBlazeFront, "functional")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, blazeface_front_timing, kBlazeFront, "timing")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, blazeface_back_timing, kBlazeBack, "timing")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, ppocr_det_640_functional, kPpOcrDet, "functional")->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(infer, ppocr_det_640_timing, kPpOcrDet, "timing")->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK_CAPTURE(infer, ppocr_rec_320_functional, kPpOcrRec, "functional")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(infer, ppocr_rec_320_timing, kPpOcrRec, "timing")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(matmul1024, timing, "timing")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(rss, blazeface_front, kBlazeFront)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(rss, blazeface_back, kBlazeBack)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(rss, ppocr_det_640, kPpOcrDet)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(rss, ppocr_rec_320, kPpOcrRec)->Unit(benchmark::kMillisecond)->Iterations(1);

} // namespace

BENCHMARK_MAIN();
