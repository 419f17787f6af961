// `fractal verify`: a model's accuracy on the simulated NPU against ONNX Runtime (the project's
// reference, evaluation.md), output by output or layer by layer: with --layers every intermediate
// tensor becomes an output of both runs and the first one that drifts from the reference is named,
// as Ascend's accuracy-comparison tools do with dumped layers.
#include "ArgParser.h"
#include "BindInputs.h"
#include "Commands.h"
#include "ModelRun.h"

#include "fractal/isa/Numerics.h"
#include "fractal/onnx/OnnxCheck.h"
#include "fractal/onnx/OnnxCompile.h"
#include "fractal/support/File.h"
#include "fractal/support/Json.h"
#include "fractal/support/Npy.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace fractal::cli {
namespace {

// A tensor both runs give: a model output, or an intermediate kept as one.
struct Compared {
  std::string name, node, opType; // the node that makes it (opType "" for a graph input)
  size_t nodeIndex = 0;           // its place in the graph's order (display, first divergence)
  bool intermediate = false;
  // The comparison.
  std::string descr;                   // the NPU's dtype (the reference's must match)
  std::vector<int64_t> shape;
  bool isFloat = false;
  size_t elements = 0;
  double cosine = 1, maxAbs = 0, maxRef = 0; // floats: over the elements both hold finite
  uint64_t differing = 0;                     // elements not equal (integers), or non-finite in one only
  std::string problem;                        // a dtype or shape that differs
  bool ok = true;
};

// A work directory: the model as both runs see it, the inputs, both runs' outputs. Removed at the
// end unless the user named it (--work-dir).
struct WorkDir {
  std::string path;
  bool keep = false;
  ~WorkDir() {
    if (!keep && !path.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }
};

Status makeWorkDir(const std::string &given, WorkDir &dir) {
  if (!given.empty()) {
    dir.path = given;
    dir.keep = true;
    return createDirectories(given);
  }
  std::string name = "/tmp/fractal-verify-XXXXXX";
  if (!mkdtemp(name.data())) return Error::internal("cannot create a work directory in /tmp");
  dir.path = name;
  return Status::success();
}

// The tensors to compare: the model's outputs, then (`layers`) every output of a top-level node
// but a Constant's, or the `names` given, each added to `model` as a graph output typed as ONNX's
// shape inference types it (its shape left to each runtime: a dim the inference could not fix is
// known to both once inputs are given). In graph order.
Expected<std::vector<Compared>> chooseTensors(onnx::ModelProto &model, bool layers, const std::vector<std::string> &names,
                                              size_t *untyped) {
  onnx::GraphProto &g = *model.mutable_graph();
  std::map<std::string, std::pair<size_t, const onnx::NodeProto *>> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string &out : g.node(i).output())
      if (!out.empty()) producer[out] = {size_t(i), &g.node(i)};
  std::set<std::string> seen;
  std::vector<Compared> list;
  auto add = [&](const std::string &name, bool intermediate) {
    Compared c;
    c.name = name;
    c.intermediate = intermediate;
    if (auto it = producer.find(name); it != producer.end()) {
      c.nodeIndex = it->second.first + 1; // 0: an input
      c.node = it->second.second->name();
      c.opType = it->second.second->op_type();
    }
    list.push_back(std::move(c));
  };
  for (const auto &out : g.output())
    if (seen.insert(out.name()).second) add(out.name(), false);
  std::vector<std::string> wanted;
  if (layers) {
    for (const onnx::NodeProto &n : g.node())
      if (n.op_type() != "Constant")
        for (const std::string &out : n.output())
          if (!out.empty() && !seen.count(out)) wanted.push_back(out);
  } else {
    for (const std::string &n : names) {
      if (!producer.count(n))
        return Error::badInput("fractal verify: --tensors " + n + ": no node of the model's graph makes a tensor '" +
                               n + "'");
      if (!seen.count(n)) wanted.push_back(n);
    }
  }
  if (wanted.empty()) return list;
  onnx::ModelProto typed = model;
  try {
    onnx::shape_inference::InferShapes(typed);
  } catch (const std::exception &e) {
    std::string what = e.what();
    return Error::badInput("fractal verify: ONNX shape inference failed, so intermediate tensors cannot be typed: " +
                           what.substr(0, what.find('\n')));
  }
  std::map<std::string, int> types;
  for (const auto &v : typed.graph().value_info())
    if (v.type().has_tensor_type() && v.type().tensor_type().elem_type() != 0)
      types[v.name()] = v.type().tensor_type().elem_type();
  for (const std::string &name : wanted) {
    if (!seen.insert(name).second) continue;
    auto type = types.find(name);
    if (type == types.end()) {
      if (!layers)
        return Error::badInput("fractal verify: --tensors " + name + ": ONNX shape inference gives it no type, so it "
                               "cannot be made an output");
      ++*untyped;
      continue;
    }
    onnx::ValueInfoProto *out = g.add_output();
    out->set_name(name);
    out->mutable_type()->mutable_tensor_type()->set_elem_type(type->second);
    add(name, true);
  }
  std::stable_sort(list.begin(), list.end(), [](const Compared &a, const Compared &b) { return a.nodeIndex < b.nodeIndex; });
  return list;
}

// The elements of `a` as doubles (false: not a dtype this reads).
bool elementsOf(const NpyArray &a, std::vector<double> &out, bool &isFloat) {
  const std::string &d = a.descr;
  const size_t size = d == "<f8" || d == "<i8" || d == "<u8" ? 8 : d == "<f4" || d == "<i4" || d == "<u4" ? 4
                      : d == "<f2" || d == "<i2" || d == "<u2"                                         ? 2
                      : d == "|i1" || d == "|u1" || d == "|b1"                                         ? 1
                                                                                                       : 0;
  if (!size || a.data.size() % size) return false;
  isFloat = d[1] == 'f';
  const size_t n = a.data.size() / size;
  out.resize(n);
  const uint8_t *p = a.data.data();
  for (size_t i = 0; i < n; ++i, p += size) {
    if (d == "<f4") { float v; std::memcpy(&v, p, 4); out[i] = v; }
    else if (d == "<f8") std::memcpy(&out[i], p, 8);
    else if (d == "<f2") { uint16_t h; std::memcpy(&h, p, 2); out[i] = isa::halfToFloat(h); }
    else if (d == "<i8") { int64_t v; std::memcpy(&v, p, 8); out[i] = double(v); }
    else if (d == "<u8") { uint64_t v; std::memcpy(&v, p, 8); out[i] = double(v); }
    else if (d == "<i4") { int32_t v; std::memcpy(&v, p, 4); out[i] = v; }
    else if (d == "<u4") { uint32_t v; std::memcpy(&v, p, 4); out[i] = v; }
    else if (d == "<i2") { int16_t v; std::memcpy(&v, p, 2); out[i] = v; }
    else if (d == "<u2") { uint16_t v; std::memcpy(&v, p, 2); out[i] = v; }
    else if (d == "|i1") out[i] = int8_t(*p);
    else out[i] = *p;
  }
  return true;
}

// `c` measured: the NPU's tensor against the reference's. Floats: cosine similarity and the
// largest absolute error over the elements both hold finite (two all-zero tensors agree), plus
// every element that is non-finite in one and not equal in the other; integers and booleans:
// every element that differs.
void compare(Compared &c, const NpyArray &npu, const NpyArray &ref, double minCosine) {
  c.descr = npu.descr;
  c.shape = npu.shape;
  std::vector<double> x, y;
  bool xf = false, yf = false;
  if (npu.descr != ref.descr || npu.shape != ref.shape) {
    c.problem = "the NPU gives " + npu.descr + shapeText(npu.shape) + ", ONNX Runtime " + ref.descr + shapeText(ref.shape);
  } else if (!elementsOf(npu, x, xf) || !elementsOf(ref, y, yf)) {
    c.problem = "dtype " + npu.descr + " is not compared";
  }
  if (!c.problem.empty()) {
    c.ok = false;
    return;
  }
  c.isFloat = xf;
  c.elements = x.size();
  double dot = 0, nx = 0, ny = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const bool finite = std::isfinite(x[i]) && std::isfinite(y[i]);
    if (!finite || !c.isFloat) {
      const bool same = x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]));
      c.differing += !same;
      if (!finite) continue;
    }
    dot += x[i] * y[i];
    nx += x[i] * x[i];
    ny += y[i] * y[i];
    c.maxAbs = std::max(c.maxAbs, std::fabs(x[i] - y[i]));
    c.maxRef = std::max(c.maxRef, std::fabs(y[i]));
  }
  c.cosine = nx == 0 || ny == 0 ? (nx == ny ? 1.0 : 0.0) : dot / (std::sqrt(nx) * std::sqrt(ny));
  c.ok = c.isFloat ? c.differing == 0 && c.cosine >= minCosine : c.differing == 0;
}

// Runs ONNX Runtime through Node.js on `model` (the copy with the compared tensors as outputs; the
// user's is `named`) with `feeds` (NAME=FILE.npy), writing output k as `outDir`/k.npy. Node's own
// messages go to stderr.
Status runReference(const std::string &ortModules, const std::string &model, const std::string &named,
                    const std::string &outDir, const std::vector<std::string> &feeds) {
  const std::string script = std::string(FRACTAL_SCRIPTS_DIR) + "/ort-run.mjs";
  const std::string hint = ": install it with `npm install --ignore-scripts --prefix DIR onnxruntime-node@1.30.0` "
                           "and give --ort DIR/node_modules (or run `make assets`)";
  if (!std::filesystem::exists(ortModules + "/onnxruntime-node"))
    return Error{ExitCode::Unavailable, "fractal verify: ONNX Runtime (onnxruntime-node) is not in " + ortModules + hint};
  if (!std::filesystem::exists(script))
    return Error{ExitCode::Unavailable, "fractal verify: the reference script " + script + " is missing"};
  std::vector<std::string> argv = {"node", script, model, outDir, "--by-index"};
  argv.insert(argv.end(), feeds.begin(), feeds.end());
  std::vector<char *> args;
  for (std::string &a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env = {"NODE_PATH=" + ortModules};
  for (char **e = environ; *e; ++e)
    if (std::strncmp(*e, "NODE_PATH=", 10) != 0) env.push_back(*e);
  std::vector<char *> envp;
  for (std::string &e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (int e = posix_spawnp(&pid, "node", nullptr, nullptr, args.data(), envp.data()); e != 0)
    return Error{ExitCode::Unavailable, std::string("fractal verify: cannot start node (Node.js) for ONNX Runtime: ") +
                                            std::strerror(e) + " (Debian: apt-get install nodejs)"};
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return Error{ExitCode::Unavailable, "fractal verify: lost the ONNX Runtime process"};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error{ExitCode::Unavailable, "fractal verify: ONNX Runtime failed on " + named + " (" +
                                            (WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                               : "signal " + std::to_string(WTERMSIG(status))) +
                                            "; its message is above)"};
  return Status::success();
}

// "Conv 'conv1'", or "Conv" for a node without a name.
std::string describeNode(const Compared &c) {
  return c.opType + (c.node.empty() ? "" : " '" + c.node + "'");
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string general(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string verifyReport(const std::string &model, const std::string &target, const std::string &mode, double minCosine,
                         const std::vector<Compared> &list, const Compared *first) {
  JsonWriter j;
  j.beginObject().field("schema", "fractal.verify/1").field("model", model).field("target", target).field("mode", mode)
      .field("reference", "onnxruntime").field("min_cosine", minCosine);
  if (first) j.field("first_divergence", first->name);
  j.key("tensors").beginArray();
  for (const Compared &c : list) {
    j.beginObject().field("name", c.name).field("node", c.node).field("op_type", c.opType)
        .field("intermediate", c.intermediate).field("dtype", c.descr);
    j.key("shape").beginArray();
    for (int64_t d : c.shape) j.value(d);
    j.endArray();
    if (c.problem.empty()) {
      j.field("elements", uint64_t(c.elements)).field("differing", c.differing);
      if (c.isFloat) j.field("cosine", c.cosine).field("max_abs_error", c.maxAbs).field("max_abs_reference", c.maxRef);
    } else {
      j.field("problem", c.problem);
    }
    j.field("ok", c.ok).endObject();
  }
  j.endArray().endObject();
  return j.str() + "\n";
}

} // namespace

int runVerifyCommand(const Args &args) {
  std::string model, target = "edge", mode = "functional", shapes, tensors, minCosineText = "0.999", workDir, report;
  const char *ortEnv = std::getenv("FRACTAL_ORT_MODULES");
  std::string ortModules = ortEnv && *ortEnv ? ortEnv : FRACTAL_DEFAULT_ORT_MODULES;
  std::vector<std::string> inputs, binds;
  bool randomInputs = false, layers = false;
  ArgParser parser("fractal verify", "compare a model's results on the simulated NPU with ONNX Runtime's, output by "
                   "output or layer by layer");
  parser.positional("MODEL.onnx", "the model", &model);
  parser.list("--input", "NAME=FILE.npy", "an input tensor (split at the last '=')", &inputs, "-i");
  parser.flag("--random-inputs", "fill inputs not given with the seeded random data of fractal run --random-inputs",
              &randomInputs);
  parser.option("--input-shape", "SHAPES", "fix input dims as fractal compile does", &shapes);
  parser.list("--bind-input", "NAME=FILE.npy|NAME=NUMBER", "bind a graph input at compile time, for both runs",
              &binds);
  parser.option("--target", "NAME|FILE", "chip config (default: edge)", &target);
  parser.option("--mode", "MODE", "functional (default) or timing", &mode);
  parser.flag("--layers", "compare every intermediate tensor too (each becomes an output of both runs, so fusions "
              "across it are off) and name the first that differs", &layers);
  parser.option("--tensors", "A,B,...", "compare these intermediate tensors too", &tensors);
  parser.option("--min-cosine", "X", "a float tensor passes at this cosine similarity or above (default 0.999); "
                "integers and booleans must be equal", &minCosineText);
  parser.option("--ort", "DIR", "the node_modules directory holding onnxruntime-node (default: $FRACTAL_ORT_MODULES, "
                "else the build's assets/ort/node_modules)", &ortModules);
  parser.option("--work-dir", "DIR", "keep the model as both runs saw it, the inputs and both runs' outputs here "
                "(default: a temporary directory, removed)", &workDir);
  parser.option("--report", "FILE.json", "write every comparison (schema fractal.verify/1)", &report);
  parser.epilog("EXIT CODES: 0 every tensor within tolerance, 2 bad model, input or flag, 3 the device faulted, "
                "4 a tensor differs beyond the tolerance, 5 ONNX Runtime could not run.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  char *end = nullptr;
  const double minCosine = std::strtod(minCosineText.c_str(), &end);
  if (!end || *end || !(minCosine >= -1 && minCosine <= 1))
    return reportError(Error::badInput("fractal verify: --min-cosine must be a number in [-1, 1]"));
  if (mode != "functional" && mode != "timing")
    return reportError(Error::badInput("fractal verify: --mode must be functional or timing, got '" + mode + "'"));
  if (layers && !tensors.empty())
    return reportError(Error::badInput("fractal verify: --layers compares every tensor; --tensors picks some: give one"));
  Expected<ChipConfig> config = loadChipConfig(target);
  if (!config) return reportError(config.error());

  // The model both runs see: inputs bound, the compared intermediates made outputs.
  onnx_frontend::TemporaryModelFile bound;
  if (!binds.empty())
    if (Status s = bindModelInputs(model, binds, bound); !s) return reportError(s.error());
  Expected<std::string> bytes = readTextFile(bound.path.empty() ? model : bound.path);
  if (!bytes) return reportError(bytes.error());
  onnx::ModelProto proto;
  if (!proto.ParseFromString(*bytes))
    return reportError(Error::badInput(model + ": not a valid ONNX model (protobuf parse failed)"));
  // The model as it is must pass the check first: ONNX's own shape inference, which types the
  // intermediates below, is safe only on a model the check has found well-formed.
  Expected<std::vector<onnx_frontend::InputShape>> inputShapes = onnx_frontend::parseInputShapes(shapes);
  if (!inputShapes) return reportError(inputShapes.error());
  if (onnx_frontend::CheckReport check = onnx_frontend::checkOnnxBytes(*bytes, model, *inputShapes); !check.ok())
    return reportError(Error::badInput(check.text() + model + " is not supported: " +
                                       std::to_string(check.problems.size()) + " problem(s), listed above"));
  std::vector<std::string> picked;
  for (std::stringstream list(tensors); list.good();) {
    std::string name;
    std::getline(list, name, ',');
    if (!name.empty()) picked.push_back(name);
  }
  size_t untyped = 0;
  Expected<std::vector<Compared>> chosen = chooseTensors(proto, layers, picked, &untyped);
  if (!chosen) return reportError(chosen.error());
  std::vector<Compared> &list = *chosen;
  WorkDir dir;
  if (Status s = makeWorkDir(workDir, dir); !s) return reportError(s.error());
  const std::string verifiedModel = dir.path + "/model.onnx";
  {
    std::string text;
    proto.SerializeToString(&text);
    if (Status s = writeFileAtomically(verifiedModel, text); !s) return reportError(s.error());
  }

  Expected<pkg::Package> package = onnx_frontend::compileOnnxModel(verifiedModel, shapes, *config, "");
  if (!package) {
    Error e = package.takeError();
    // The copy is ours: messages name the user's model.
    e.message = aboutModel(e.message, bound, model);
    for (size_t at = 0; (at = e.message.find(verifiedModel, at)) != std::string::npos; at += model.size())
      e.message.replace(at, verifiedModel.size(), model);
    return reportError(e);
  }
  package->sourceModel = model; // device faults name the user's model, not the copy
  warnAboutFloat64(*package, model);

  // Inputs: given, or seeded random ones written for the reference too.
  Expected<std::vector<RunInput>> given = collectInputs(*package, inputs, randomInputs, "fractal verify", dir.path,
                                                        dir.keep);
  if (!given) return reportError(given.error());
  std::vector<NpyArray> data;
  std::vector<std::string> feeds;
  for (size_t k = 0; k < given->size(); ++k) {
    feeds.push_back(package->tensors[package->inputs[k]].name + "=" + (*given)[k].file);
    data.push_back(std::move((*given)[k].data));
  }

  Expected<ModelRun> run = runOnDevice(*package, target, mode, data, false);
  if (!run) return reportError(run.error());
  std::map<std::string, size_t> npuIndex; // the package's outputs by name
  for (size_t k = 0; k < package->outputs.size(); ++k) npuIndex[package->tensors[package->outputs[k]].name] = k;
  if (dir.keep) { // beside ONNX Runtime's, for the user (compared from memory either way)
    if (Status s = createDirectories(dir.path + "/npu"); !s) return reportError(s.error());
    for (size_t k = 0; k < run->outputs.size(); ++k)
      if (Status s = writeNpyFile(dir.path + "/npu/" + std::to_string(k) + ".npy", run->outputs[k]); !s)
        return reportError(s.error());
  }

  if (Status s = runReference(ortModules, verifiedModel, model, dir.path + "/ort", feeds); !s) return reportError(s.error());
  std::map<std::string, size_t> refIndex; // the graph's outputs by name, as ONNX Runtime lists them
  for (int k = 0; k < proto.graph().output_size(); ++k) refIndex.emplace(proto.graph().output(k).name(), size_t(k));

  const Compared *first = nullptr;
  size_t failed = 0;
  for (Compared &c : list) {
    auto npu = npuIndex.find(c.name);
    Expected<NpyArray> ref = readNpyFile(dir.path + "/ort/" + std::to_string(refIndex.at(c.name)) + ".npy");
    if (npu == npuIndex.end())
      return reportError(Error::internal("fractal verify: the compiled model has no output '" + c.name + "'"));
    if (!ref) return reportError(Error{ExitCode::Unavailable, "fractal verify: ONNX Runtime's output: " + ref.error().message});
    compare(c, run->outputs[npu->second], *ref, minCosine);
    if (!c.ok) {
      ++failed;
      if (!first) first = &c;
    }
  }

  // The table, in graph order.
  size_t intermediates = 0;
  for (const Compared &c : list) intermediates += c.intermediate;
  std::printf("%s on %s (%s) against ONNX Runtime: %zu tensor(s): %zu output(s), %zu intermediate(s)%s\n", model.c_str(),
              config->name.c_str(), mode.c_str(), list.size(), list.size() - intermediates, intermediates,
              intermediates ? " (kept as outputs: fusions across them are off)" : "");
  if (untyped)
    std::printf("(%zu intermediate tensor(s) without a type from ONNX shape inference were left out)\n", untyped);
  // Numbers first, names last: ONNX names run long (TensorFlow's exporter: 60+ characters).
  std::printf("%-6s %9s %11s %10s  %-20s %s\n", "", "cosine", "max abs err", "max |ref|", "dtype shape",
              "tensor (op 'node')");
  for (const Compared &c : list) {
    const bool measured = c.problem.empty() && c.isFloat;
    const std::string cosine = c.problem.empty() ? (c.isFloat ? fixed(c.cosine, 6) : "exact") : "-";
    const std::string status = c.ok ? "ok" : &c == first ? "FIRST" : "DIFF";
    std::printf("%-6s %9s %11s %10s  %-20s %s", status.c_str(), cosine.c_str(), measured ? general(c.maxAbs).c_str() : "-",
                measured ? general(c.maxRef).c_str() : "-", (c.descr + shapeText(c.shape)).c_str(), c.name.c_str());
    if (!c.opType.empty()) std::printf(" (%s)", describeNode(c).c_str());
    if (!c.problem.empty()) std::printf(": %s", c.problem.c_str());
    else if (c.differing) std::printf(": %llu of %zu element(s) differ%s", (unsigned long long)c.differing, c.elements,
                                      c.isFloat ? " (non-finite in one run)" : "");
    std::printf("\n");
  }
  if (!report.empty())
    if (Status s = writeFileAtomically(report, verifyReport(model, config->name, mode, minCosine, list, first)); !s)
      return reportError(s.error());
  if (first) {
    const std::string where = first->opType.empty() ? "" : " of node " + describeNode(*first);
    std::fprintf(stderr, "fractal: error: %zu of %zu tensor(s) differ from ONNX Runtime; the first, in graph order: '%s'%s\n",
                 failed, list.size(), first->name.c_str(), where.c_str());
    return static_cast<int>(ExitCode::Mismatch);
  }
  std::printf("all %zu within tolerance (cosine >= %s for floats, equal for integers)\n", list.size(),
              minCosineText.c_str());
  return 0;
}

} // namespace fractal::cli
