// `fractal conformance`: the ONNX backend test suite (Debian's libonnx-testdata) through the whole
// toolchain. Each test directory's model.onnx is compiled for the target, every test_data_set_*
// is run through the runtime on the simulator and compared with its output_*.pb, and the test is
// classified pass / fail / unsupported / error / skipped. Every test runs in its own process
// (fork) with a time limit, so a crash or a hang costs one test, not the run.
//
// Tolerances (docs/conformance.md): integers and booleans exactly; float32 outputs
// |got - want| <= rtol * |want| + atol * max|want| with rtol 1e-5, atol 1e-6 when the package
// computes in fp32, and rtol 2e-3 (4 fp16 ulps), atol 2e-3 when any of its tensors is fp16 (cube
// operands, NHWC16 feature maps) or a kernel multiplies matrices (the cube's operands are fp16
// even where a small float32 one is converted by the kernel's own loads): fp16 rounds inputs and
// outputs and accumulation errors scale with the magnitudes involved, not with each output;
// reference outputs printed to 4 decimals (printedReferenceTolerance) also within 1e-4 of them.
#include "ArgParser.h"
#include "Commands.h"
#include "ModelRun.h"

#include "fractal/onnx/OnnxCheck.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/onnx/OnnxTensor.h"
#include "fractal/runtime/fractal_runtime.h"
#include "fractal/support/File.h"
#include "fractal/support/Json.h"

#include "onnx/onnx_pb.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <map>
#include <poll.h>
#include <regex>
#include <set>
#include <signal.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fractal::cli {
namespace {

const char *const kDataRoot = "/usr/share/libonnx-testdata/data/";
const char *const kSuites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

struct Outcome {
  std::string suite, name, status, detail; // status: pass fail unsupported error skipped
  double seconds = 0;
};

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> out;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(e->d_name);
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool readTensor(const std::string &path, onnx::TensorProto &t) {
  std::ifstream f(path, std::ios::binary);
  return f && t.ParseFromIstream(&f);
}

// The tensor's bytes (empty for element types the reader does not know: the sizes then differ).
std::vector<uint8_t> tensorBytes(const onnx::TensorProto &t) {
  std::optional<std::vector<char>> bytes = onnx_frontend::tensorData(t);
  return bytes ? std::vector<uint8_t>(bytes->begin(), bytes->end()) : std::vector<uint8_t>();
}

// Training-only operators are out of scope.
std::string trainingOp(const std::string &modelPath) {
  onnx::ModelProto m;
  std::ifstream f(modelPath, std::ios::binary);
  if (!f || !m.ParseFromIstream(&f)) return "";
  for (const auto &n : m.graph().node())
    if (n.op_type() == "Adam" || n.op_type() == "Adagrad" || n.op_type() == "Momentum" || n.op_type() == "Gradient")
      return n.op_type();
  return "";
}

// Host ops that only copy outputs or lay out run-time weights; any other host op (arithmetic,
// concatenation, permutation) means the test did not run on the NPU.
bool bookkeeping(const std::string &op) {
  return op == "Copy" || op == "PackConvWeights" || op == "PadBias";
}

// Tests whose reference outputs contradict the operator's definition in the test data Debian
// ships: the window functions' were computed with pi = 3.1415 (onnx/onnx#5316; upstream
// regenerated them later), 7e-5 away from the definition and from what Fractal computes.
std::string testName(const std::string &dir) { return dir.substr(dir.find_last_of('/') + 1); }

std::string wrongReference(const std::string &dir) {
  const std::string name = testName(dir);
  for (const char *prefix : {"test_hannwindow", "test_hammingwindow", "test_blackmanwindow"})
    if (name.rfind(prefix, 0) == 0) return "reference outputs computed with pi = 3.1415 (onnx/onnx#5316)";
  if (name == "test_maxunpool_export_with_output_shape")
    return "the reference places the values by the default output shape's coordinates, then pads to output_shape; "
           "ONNX Runtime (and PyTorch) index the output_shape tensor itself";
  return "";
}

// Tests whose reference outputs are decimal literals rounded to 4 places (ONNX's test generator
// took them from a printout): an output within 1e-4 of them, one unit of the last printed place,
// passes too. GridSample's bicubic 2.96875 (exact, and ONNX Runtime's) is stored as 2.9688;
// RoiAlign's 0.972784 (ONNX Runtime's too) as 0.9727.
double printedReferenceTolerance(const std::string &dir) {
  const std::string name = testName(dir);
  return name == "test_gridsample_bicubic" || name == "test_roialign_aligned_false" ||
                 name == "test_roialign_aligned_true"
             ? 1e-4
             : 0.0;
}

// Runs one test in this process; the outcome as "status\tdetail".
std::string runTest(const std::string &dir, const ChipConfig &config, const std::string &target, const std::string &mode) {
  const std::string modelPath = dir + "/model.onnx";
  if (std::string op = trainingOp(modelPath); !op.empty()) return "skipped\ttraining operator " + op;
  if (std::string why = wrongReference(dir); !why.empty()) return "skipped\t" + why;
  // Inputs the compiler needs as constants (Clip bounds, shapes, axes) are bound from each data
  // set at compile time, as a deployment would fix them; the others stay runtime inputs.
  Expected<std::string> modelBytes = readTextFile(modelPath);
  if (!modelBytes) return "error\t" + modelBytes.error().message;
  onnx::ModelProto proto;
  if (!proto.ParseFromString(*modelBytes)) return "error\t" + modelPath + ": not a valid ONNX model";
  const std::vector<std::string> bound = onnx_frontend::inputsNeededAsConstants(*modelBytes);
  std::vector<std::string> runtimeInputs; // graph inputs without initializers: input_<k>.pb
  {
    std::set<std::string> initialized;
    for (const auto &t : proto.graph().initializer()) initialized.insert(t.name());
    for (const auto &in : proto.graph().input())
      if (!initialized.count(in.name())) runtimeInputs.push_back(in.name());
  }
  auto inputIndex = [&](const std::string &name) {
    return size_t(std::find(runtimeInputs.begin(), runtimeInputs.end(), name) - runtimeInputs.begin());
  };
  std::vector<std::string> sets;
  for (const std::string &set : listDir(dir))
    if (set.rfind("test_data_set_", 0) == 0) sets.push_back(set);
  if (sets.empty()) return "error\tno test_data_set_* directories";
  auto compile = [&](const std::string &set) -> Expected<pkg::Package> {
    if (bound.empty()) return onnx_frontend::compileOnnxModel(modelPath, "", config, "");
    onnx::ModelProto copy = proto;
    std::vector<onnx::TensorProto> values;
    for (const std::string &name : bound) {
      onnx::TensorProto t;
      if (!readTensor(dir + "/" + set + "/input_" + std::to_string(inputIndex(name)) + ".pb", t))
        return Error::badInput(set + ": no data for input '" + name + "'");
      t.set_name(name);
      values.push_back(std::move(t));
    }
    if (Status s = onnx_frontend::bindInputs(copy, values); !s) return s.error();
    onnx_frontend::TemporaryModelFile file;
    if (Status s = onnx_frontend::writeTemporaryModel(copy, "conformance", file); !s) return s.error();
    Expected<pkg::Package> p = onnx_frontend::compileOnnxModel(file.path, "", config, "");
    if (!p) { // messages name the test's model, not the temporary copy
      std::string message = p.error().message;
      for (size_t at = message.find(file.path); at != std::string::npos; at = message.find(file.path, at + modelPath.size()))
        message.replace(at, file.path.size(), modelPath);
      return Error{p.error().code, message};
    }
    return p;
  };
  Expected<pkg::Package> p = compile(sets.front());
  if (!p) {
    std::string message = p.error().message;
    // The support check and the code generator both say what is missing; anything else is an error.
    const bool unsupported = message.find("is not supported") != std::string::npos ||
                             message.find("no NPU kernel") != std::string::npos ||
                             message.find("not supported") != std::string::npos ||
                             message.find("unsupported") != std::string::npos;
    if (p.error().code == ExitCode::Internal) return "error\t" + message;
    return std::string(unsupported ? "unsupported" : "error") + "\t" + message;
  }
  for (const pkg::Task &t : p->tasks)
    if (t.isHost && !bookkeeping(t.opType))
      return "unsupported\t" + t.opType + " '" + t.name + "' runs on the host: " + t.host.reason;
  bool half = false;
  for (const pkg::Tensor &t : p->tensors) half |= t.dtype == pkg::DType::F16;
  for (const pkg::Task &t : p->tasks) { // the cube multiplies in fp16 (modelMacs: a matrix op's kernel)
    half |= !t.isHost && t.modelMacs > 0;
    for (const pkg::KernelSegment &s : t.launch.segments) half |= s.modelMacs > 0;
  }
  const double rtol = half ? 2e-3 : 1e-5, atol = half ? 2e-3 : 1e-6, printed = printedReferenceTolerance(dir);

  const std::string device = target + ":" + mode;
  if (frtInit(device.c_str()) != FRT_SUCCESS) return std::string("error\tfrtInit: ") + frtGetRecentErrMsg();
  frtSetDevice(0);
  std::string result = "pass\t";
  for (const std::string &set : sets) {
    if (!bound.empty() && set != sets.front()) { // other bound values: compile again
      p = compile(set);
      if (!p) {
        frtFinalize();
        return "error\t" + set + ": " + p.error().message;
      }
    }
    std::vector<uint8_t> bytes = pkg::serializePackage(*p);
    frtModel model = nullptr;
    if (frtModelLoadFromMem(bytes.data(), bytes.size(), &model) != FRT_SUCCESS) {
      std::string message = frtGetRecentErrMsg();
      frtFinalize();
      return "error\tload: " + message;
    }
    const std::string data = dir + "/" + set + "/";
    frtDataset in = nullptr, out = nullptr;
    frtCreateDataset(&in);
    frtCreateDataset(&out);
    std::vector<void *> buffers;
    auto device = [&](const std::vector<uint8_t> &b, size_t size) {
      void *ptr = nullptr;
      frtMalloc(&ptr, std::max<size_t>(size, 1), FRT_MEM_MALLOC_HUGE_FIRST);
      if (!b.empty()) frtMemcpy(ptr, b.size(), b.data(), b.size(), FRT_MEMCPY_HOST_TO_DEVICE);
      buffers.push_back(ptr);
      return ptr;
    };
    for (size_t i = 0; i < p->inputs.size(); ++i) {
      onnx::TensorProto t;
      const size_t k = inputIndex(p->tensors[p->inputs[i]].name);
      if (!readTensor(data + "input_" + std::to_string(k) + ".pb", t)) return "error\t" + set + ": no input_" + std::to_string(k);
      std::vector<uint8_t> b = tensorBytes(t);
      frtAddDatasetBuffer(in, device(b, b.size()), std::max<size_t>(b.size(), 1));
    }
    std::vector<void *> outs;
    for (uint32_t o : p->outputs) {
      outs.push_back(device({}, p->tensors[o].dataBytes()));
      frtAddDatasetBuffer(out, outs.back(), std::max<size_t>(p->tensors[o].dataBytes(), 1));
    }
    if (frtModelExecute(model, in, out) != FRT_SUCCESS) {
      std::string message = frtGetRecentErrMsg();
      frtFinalize();
      return "error\t" + set + ": " + message;
    }
    for (size_t i = 0; i < outs.size() && result == "pass\t"; ++i) {
      onnx::TensorProto want;
      if (!readTensor(data + "output_" + std::to_string(i) + ".pb", want)) return "error\t" + set + ": no output_" + std::to_string(i);
      const pkg::Tensor &t = p->tensors[p->outputs[i]];
      frtTensorDesc written; // what the run wrote: a data-dependent output's actual shape
      if (frtGetDatasetTensorDesc(out, i, &written) != FRT_SUCCESS) return std::string("error\t") + frtGetRecentErrMsg();
      std::vector<int64_t> shape(written.dims, written.dims + written.numDims), wantShape(want.dims().begin(), want.dims().end());
      if (t.isDataDependent() && shape != wantShape) {
        result = "fail\t" + set + " output " + std::to_string(i) + ": shape " + shapeText(shape) + ", reference " +
                 shapeText(wantShape);
        break;
      }
      std::vector<uint8_t> ref = tensorBytes(want), got(written.size);
      if (!got.empty()) frtMemcpy(got.data(), got.size(), outs[i], got.size(), FRT_MEMCPY_DEVICE_TO_HOST);
      if (ref.size() != got.size()) {
        result = "fail\t" + set + " output " + std::to_string(i) + ": " + std::to_string(got.size()) + " bytes, reference " +
                 std::to_string(ref.size());
        break;
      }
      if (t.dtype != pkg::DType::F32 && t.dtype != pkg::DType::F64) {
        if (ref != got) result = "fail\t" + set + " output " + std::to_string(i) + " differs (exact dtype " + pkg::dtypeName(t.dtype) + ")";
        continue;
      }
      // Float64 outputs are computed in float32 (the NPU has no float64): float32's tolerance.
      auto values = [&](const std::vector<uint8_t> &bytes) {
        std::vector<double> v(bytes.size() / pkg::dtypeSize(t.dtype));
        for (size_t e = 0; e < v.size(); ++e) {
          float f;
          if (t.dtype == pkg::DType::F64) std::memcpy(&v[e], &bytes[e * 8], 8);
          else std::memcpy(&f, &bytes[e * 4], 4), v[e] = f;
        }
        return v;
      };
      const std::vector<double> a = values(got), b = values(ref);
      if (t.dtype == pkg::DType::F64) {
        auto outOfRange = [](double x) {
          return std::isfinite(x) && x != 0 && (std::fabs(x) > FLT_MAX || std::fabs(x) < FLT_MIN);
        };
        if (auto it = std::find_if(b.begin(), b.end(), outOfRange); it != b.end()) {
          char text[256];
          std::snprintf(text, sizeof text, "unsupported\t%s output %zu: the reference holds %g, beyond float32's range, "
                        "which float64 values are computed in", set.c_str(), i, *it);
          result = text;
          break;
        }
      }
      double scale = 0;
      for (double x : b) scale = std::max(scale, std::fabs(x));
      double worst = 0;
      size_t at = 0;
      bool bad = false;
      for (size_t e = 0; e < a.size(); ++e) {
        if (std::isnan(a[e]) && std::isnan(b[e])) continue;
        const double d = std::fabs(a[e] - b[e]);
        if (!(d <= rtol * std::fabs(b[e]) + atol * scale || d <= printed)) bad = true;
        if (!(d <= worst)) worst = d, at = e;
      }
      if (bad) {
        char text[256];
        std::snprintf(text, sizeof text, "fail\t%s output %zu: max error %.3g at element %zu (got %g, expected %g)", set.c_str(), i,
                      worst, at, a[at], b[at]);
        result = text;
      }
    }
    for (void *b : buffers) frtFree(b);
    frtDestroyDataset(in);
    frtDestroyDataset(out);
    frtModelUnload(model);
    if (result != "pass\t") break;
  }
  frtFinalize();
  if (result == "pass\t" && !bound.empty()) {
    result += "inputs bound at compile time:";
    for (const std::string &name : bound) result += " " + name;
  }
  return result;
}

// Runs tests in child processes, `jobs` at a time, each limited to `timeout` seconds.
std::vector<Outcome> runAll(const std::vector<Outcome> &tests, int jobs, int timeout, const ChipConfig &config,
                            const std::string &target, const std::string &mode, bool progress) {
  struct Child {
    pid_t pid;
    int fd;
    size_t index;
    std::chrono::steady_clock::time_point start;
    std::string output;
  };
  std::vector<Outcome> results = tests;
  std::vector<Child> running;
  size_t next = 0, done = 0;
  while (done < tests.size()) {
    while (int(running.size()) < jobs && next < tests.size()) {
      int pipeFds[2];
      if (pipe(pipeFds) != 0) break;
      pid_t pid = fork();
      if (pid == 0) {
        close(pipeFds[0]);
        std::string r = runTest(std::string(kDataRoot) + tests[next].suite + "/" + tests[next].name, config, target, mode);
        if (write(pipeFds[1], r.data(), r.size()) < 0) _exit(2);
        _exit(0);
      }
      close(pipeFds[1]);
      running.push_back({pid, pipeFds[0], next++, std::chrono::steady_clock::now(), ""});
    }
    std::vector<pollfd> fds;
    for (const Child &c : running) fds.push_back({c.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < running.size();) {
      Child &c = running[i];
      char buf[4096];
      ssize_t n = 0;
      if (fds[i].revents & (POLLIN | POLLHUP)) n = read(c.fd, buf, sizeof buf);
      if (n > 0) {
        c.output.append(buf, size_t(n));
        ++i;
        continue;
      }
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.start).count();
      Outcome &o = results[c.index];
      bool finished = false;
      if (n == 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        int status = 0;
        waitpid(c.pid, &status, 0);
        finished = true;
        size_t tab = c.output.find('\t');
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && tab != std::string::npos) {
          o.status = c.output.substr(0, tab);
          o.detail = c.output.substr(tab + 1);
        } else {
          o.status = "error";
          o.detail = WIFSIGNALED(status) ? "crashed with signal " + std::to_string(WTERMSIG(status))
                                         : "exited with status " + std::to_string(WEXITSTATUS(status));
        }
      } else if (elapsed > timeout) {
        kill(c.pid, SIGKILL);
        waitpid(c.pid, nullptr, 0);
        finished = true;
        o.status = "error";
        o.detail = "timed out after " + std::to_string(timeout) + " s";
      }
      if (!finished) {
        ++i;
        continue;
      }
      o.seconds = elapsed;
      close(c.fd);
      running.erase(running.begin() + long(i));
      fds.erase(fds.begin() + long(i));
      ++done;
      if (progress) std::fprintf(stderr, "\r%zu/%zu", done, tests.size());
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  return results;
}

} // namespace

int runConformanceCommand(const Args &args) {
  std::string suite = "node", filter, target = "edge", jobsText = "2", report, markdown, expected, timeoutText = "60",
              mode = "functional";
  ArgParser parser("fractal conformance", "run the ONNX backend test suite on the simulated NPU");
  parser.option("--suite", "NAME", "node (default), pytorch-converted, pytorch-operator, simple or all", &suite);
  parser.option("--filter", "REGEX", "only tests whose name matches", &filter);
  parser.option("--target", "NAME|FILE", "chip (default: edge)", &target);
  parser.option("--mode", "MODE", "simulator mode: functional (default) or timing", &mode);
  parser.option("--jobs", "N", "tests run at once, each in its own process (default 2)", &jobsText);
  parser.option("--timeout", "SECONDS", "per-test time limit (default 60)", &timeoutText);
  parser.option("--report", "FILE.json", "every test's class and detail as JSON", &report);
  parser.option("--markdown", "FILE.md", "the summary as Markdown (docs/conformance.md)", &markdown);
  parser.option("--expected-pass", "FILE", "fail (exit 4) if a test listed in FILE does not pass", &expected);
  parser.epilog("EXIT CODES: 0 ok, 2 bad flag, 4 a test of --expected-pass did not pass.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  const int jobs = std::atoi(jobsText.c_str()), timeout = std::atoi(timeoutText.c_str());
  if (jobs < 1 || jobs > 256 || timeout < 1) return reportError(Error::badInput("fractal conformance: bad --jobs or --timeout"));
  if (mode != "functional" && mode != "timing")
    return reportError(Error::badInput("fractal conformance: --mode must be functional or timing"));
  std::vector<std::string> suites;
  for (const char *s : kSuites)
    if (suite == "all" || suite == s) suites.push_back(s);
  if (suites.empty()) return reportError(Error::badInput("fractal conformance: unknown suite '" + suite + "'"));
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config) return reportError(config.error());
  std::regex re;
  try {
    re = std::regex(filter.empty() ? ".*" : filter);
  } catch (const std::regex_error &) {
    return reportError(Error::badInput("fractal conformance: --filter is not a valid regular expression"));
  }
  std::vector<Outcome> tests;
  for (const std::string &s : suites)
    for (const std::string &name : listDir(std::string(kDataRoot) + s))
      if (std::regex_search(name, re)) tests.push_back({s, name, "", "", 0});
  const auto start = std::chrono::steady_clock::now();
  std::vector<Outcome> results = runAll(tests, jobs, timeout, *config, target, mode, isatty(2));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // Summary per suite, and the most common reasons for unsupported tests.
  const char *classes[] = {"pass", "fail", "unsupported", "error", "skipped"};
  std::map<std::string, std::map<std::string, int>> counts;
  std::map<std::string, int> missing;
  for (const Outcome &o : results) {
    ++counts[o.suite][o.status];
    if (o.status == "unsupported") {
      // The first op type the reason names: "operator X is not supported" or "node 'n' (X):" (the
      // support check), "(graph.x)" (the code generator), "X 'n' runs on the host".
      std::smatch m;
      if (std::regex_search(o.detail, m, std::regex("operator ([A-Za-z]+) is not supported")) ||
          std::regex_search(o.detail, m, std::regex("node '[^']*' \\(([A-Za-z]+)\\):")) ||
          std::regex_search(o.detail, m, std::regex("\\((graph\\.[a-z_]+)\\)")) ||
          std::regex_search(o.detail, m, std::regex("^([A-Za-z]+) '.*' runs on the host")))
        ++missing[m[1]];
      else if (std::regex_search(o.detail, m, std::regex("(opset [0-9]+) is not supported")))
        ++missing[m[1].str()];
      else if (o.detail.find("could not be upgraded") != std::string::npos)
        ++missing["opset upgrade"];
      else
        ++missing["(other)"];
    }
  }
  std::ostringstream md;
  md << "| suite | tests | pass | fail | unsupported | error | skipped | pass rate (non-skipped) |\n|---|---|---|---|---|---|---|---|\n";
  for (const std::string &s : suites) {
    auto &c = counts[s];
    int total = 0;
    for (const char *k : classes) total += c[k];
    const int considered = total - c["skipped"];
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f%%", considered ? 100.0 * c["pass"] / considered : 0.0);
    md << "| " << s << " | " << total << " | " << c["pass"] << " | " << c["fail"] << " | " << c["unsupported"] << " | "
       << c["error"] << " | " << c["skipped"] << " | " << rate << " |\n";
  }
  std::vector<std::pair<int, std::string>> top;
  for (auto &[op, n] : missing) top.push_back({-n, op});
  std::sort(top.begin(), top.end());
  std::ostringstream topText;
  for (size_t i = 0; i < std::min<size_t>(10, top.size()); ++i)
    topText << (i ? ", " : "") << top[i].second << " (" << -top[i].first << ")";
  std::cout << md.str() << "\nmost common reasons for unsupported tests: " << topText.str() << "\n";
  std::printf("%zu tests in %.1f s with %d job(s)\n", results.size(), seconds, jobs);

  if (!report.empty()) {
    JsonWriter j;
    j.beginObject().field("schema", "fractal.conformance/1").field("target", config->name).field("seconds", seconds);
    j.key("tests").beginArray();
    for (const Outcome &o : results)
      j.beginObject().field("suite", o.suite).field("name", o.name).field("status", o.status).field("detail", o.detail)
          .field("seconds", o.seconds).endObject();
    j.endArray().endObject();
    if (Status s = writeFileAtomically(report, j.str() + "\n"); !s) return reportError(s.error());
  }
  if (!markdown.empty()) {
    int boundPasses = 0;
    for (const Outcome &o : results) boundPasses += o.status == "pass" && o.detail.rfind("inputs bound", 0) == 0;
    std::ostringstream doc;
    doc << "# Conformance: the ONNX backend test suite\n\n"
        << "Generated by `fractal conformance --suite " << suite << " --target " << config->name
        << " --markdown docs/conformance.md` (Debian's libonnx-testdata 1.12); do not edit by hand.\n\n"
        << "Each test's model is compiled for the `" << config->name << "` chip and every data set run on the simulator "
        << "(functional mode) through the runtime, in its own process with a time limit. Classes: **pass** (every output "
        << "within tolerance), **fail** (wrong numbers), **unsupported** (the support check or the code generator "
        << "names what is missing, or any op other than an output copy or run-time weight packing would run on the host), **error** (a crash, a time-out or "
        << "an unexpected diagnostic), **skipped** (training operators; the window functions, whose reference outputs in this test data were computed with pi = 3.1415, onnx/onnx#5316; "
        << "test_maxunpool_export_with_output_shape, whose reference places the values by the default output shape's "
        << "coordinates and then pads to `output_shape`, where ONNX Runtime and PyTorch index the `output_shape` tensor "
        << "itself, as Fractal does).\n\n"
        << "Tolerances: integers and booleans exactly. float32: `|got - want| <= rtol * |want| + atol * max|want|`, "
        << "rtol 1e-5 and atol 1e-6 when the package computes in fp32; rtol 2e-3 (about 4 fp16 ulps) and atol 2e-3 "
        << "when any of its tensors is fp16 (cube operands, NHWC16 feature maps) or a kernel multiplies matrices (the "
        << "cube's operands are fp16, also where the kernel's loads convert a small float32 one), since fp16 rounds "
        << "every input and output and accumulation errors scale with the magnitudes summed. float64 outputs, which "
        << "Fractal computes "
        << "in float32 (the NPU has no float64 arithmetic), as float32; a test whose float64 reference holds a value "
        << "beyond float32's range (above 3.4e38, or non-zero below 1.2e-38) counts as unsupported, naming the value. "
        << "float16 outputs exactly. test_gridsample_bicubic's and "
        << "test_roialign_aligned_false/true's reference outputs are decimals rounded to 4 places (2.96875 stored as "
        << "2.9688; RoiAlign's 0.972784, ONNX Runtime's value too, as 0.9727): within 1e-4 of them passes too.\n\n"
        << "Compile-time inputs: Fractal compiles static graphs, so graph inputs that feed operands the compiler "
        << "needs as constants (Clip bounds, Reshape shapes, Slice ranges, reduction axes, Resize scales, an If's condition, a Loop's trip count and condition; "
        << "`inputsNeededAsConstants` in frontends/onnx) are bound from each data set at compile time, as "
        << "`fractal compile --bind-input` does for a deployment; the test's JSON detail names them. "
        << boundPasses << " of the passes below bound inputs this way.\n\n"
        << md.str() << "\nMost common reasons for unsupported tests (the compiler's to-do list): " << topText.str() << ".\n";
    if (Status s = writeFileAtomically(markdown, doc.str()); !s) return reportError(s.error());
  }
  if (!expected.empty()) {
    Expected<std::string> list = readTextFile(expected);
    if (!list) return reportError(list.error());
    std::map<std::string, const Outcome *> byName;
    for (const Outcome &o : results) byName[o.suite + "/" + o.name] = &o;
    std::istringstream lines(*list);
    int lost = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      auto it = byName.find(line);
      if (it == byName.end()) continue; // filtered out of this run
      if (it->second->status != "pass") {
        std::fprintf(stderr, "fractal: error: regression: %s passed before, now %s: %s\n", line.c_str(),
                     it->second->status.c_str(), it->second->detail.c_str());
        ++lost;
      }
    }
    if (lost) return static_cast<int>(ExitCode::Mismatch);
  }
  return 0;
}

} // namespace fractal::cli
