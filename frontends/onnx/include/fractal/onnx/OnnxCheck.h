// The first phase of `fractal compile`: read an ONNX model and check, before any compilation,
// that Fractal can run it. Every problem is collected (not just the first): malformed files,
// graph errors (dangling inputs, cycles, missing initializers), unfixed dynamic dims, and every
// unsupported operator, attribute value or data type, each with its node name. The report also
// says where each supported node will run (cube, vector, DMA or host) and why.
#pragma once

#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal::onnx_frontend {

// `--input-shape "data:1,3,224,224;mask:1,128"` (ATC style): fixes the dims of graph inputs.
// A name may contain ':'; the dims follow its last ':'.
struct InputShape {
  std::string name;
  std::vector<int64_t> dims;
};
Expected<std::vector<InputShape>> parseInputShapes(const std::string &text);

enum class Placement { Cube, Vector, Scalar, Dma, Host }; // Scalar: int64 element-wise ops
const char *placementName(Placement p);

struct NodeReport {
  std::string name; // the ONNX node name, or "<op>_<index>" when the model has none
  std::string opType;
  Placement placement = Placement::Host;
  std::string reason;
};

struct Problem {
  std::string node; // "" for model-level problems
  std::string opType;
  std::string message;
};

struct CheckReport {
  std::string model;
  int64_t opset = 0;
  int64_t upgradedFrom = 0; // the model's own opset when it was older than kMinOpset (else 0)
  std::string producer;
  std::vector<std::string> inputs; // "name: 1x3x224x224 float"
  std::vector<NodeReport> nodes;
  std::vector<Problem> problems;
  std::vector<std::string> notes; // what the user should know about a supported model (float64)
  bool ok() const { return problems.empty(); }
  std::string text() const; // human-readable, one problem per line
  std::string json() const;
};

// Reads and checks `path`. Only an unreadable file is an Error; everything wrong with the model
// itself goes into the report's problems.
Expected<CheckReport> checkOnnxModel(const std::string &path, const std::vector<InputShape> &shapes);
// The same for bytes already in memory (`name` is used in messages).
CheckReport checkOnnxBytes(const std::string &bytes, const std::string &name,
                           const std::vector<InputShape> &shapes);

// Graph inputs that feed operands the compiler needs as constants (Clip bounds, Reshape shapes,
// Slice ranges, reduction axes, ...): such a model compiles only with their values bound at
// compile time (`fractal compile --bind-input`; the conformance runner binds them from the test
// data). Empty for unparsable bytes.
std::vector<std::string> inputsNeededAsConstants(const std::string &modelBytes);

// The opset versions of the default domain Fractal compiles. Models older than kMinOpset (down to
// kOldestOpset: PyTorch 0.3-era exports, the old model zoo) are first rewritten to
// kLegacyUpgradeOpset by ONNX's own version converter (legacy broadcast attributes,
// BatchNormalization's is_test, ...): opset 9, the first whose Constant may hold any type, since
// those exporters emit int64 Constants (shapes) that strict inference rejects at opsets 7-8.
constexpr int64_t kOldestOpset = 1;
constexpr int64_t kMinOpset = 7;
constexpr int64_t kLegacyUpgradeOpset = 9;
constexpr int64_t kMaxOpset = 18;

} // namespace fractal::onnx_frontend
