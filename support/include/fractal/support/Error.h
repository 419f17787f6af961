// Errors as values. Debian's LLVM has assertions off and the simulator/runtime must not link LLVM,
// so Fractal's non-MLIR libraries report failures through these small types instead of asserts.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace fractal {

// Process exit codes shared by every `fractal` subcommand (see docs/user-guide.md).
enum class ExitCode : int {
  Ok = 0,
  Internal = 1,    // a bug in Fractal
  BadInput = 2,    // malformed file, bad flag, unsupported model, invalid config
  DeviceFault = 3, // the simulated device stopped on a fault
  Mismatch = 4,    // `fractal compare`, `fractal verify`: the tensors differ beyond the tolerance
  Unavailable = 5, // `fractal verify`: the reference (ONNX Runtime through Node.js) could not run
};

struct Error {
  ExitCode code = ExitCode::BadInput;
  std::string message;

  static Error badInput(std::string msg) { return {ExitCode::BadInput, std::move(msg)}; }
  static Error internal(std::string msg) { return {ExitCode::Internal, std::move(msg)}; }
  static Error deviceFault(std::string msg) { return {ExitCode::DeviceFault, std::move(msg)}; }

  // Returns a copy with `context: ` prepended, for adding the file or node name on the way up.
  Error withContext(const std::string &context) const { return {code, context + ": " + message}; }
};

// Either a value or an Error. Deliberately tiny: no implicit conversions beyond construction.
template <typename T> class Expected {
public:
  Expected(T value) : state_(std::move(value)) {}
  Expected(Error error) : state_(std::move(error)) {}

  explicit operator bool() const { return state_.index() == 0; }
  bool ok() const { return state_.index() == 0; }

  T &operator*() { return std::get<0>(state_); }
  const T &operator*() const { return std::get<0>(state_); }
  T *operator->() { return &std::get<0>(state_); }
  const T *operator->() const { return &std::get<0>(state_); }
  T &value() { return std::get<0>(state_); }
  const T &value() const { return std::get<0>(state_); }

  const Error &error() const { return std::get<1>(state_); }
  Error takeError() { return std::move(std::get<1>(state_)); }

private:
  std::variant<T, Error> state_;
};

// Success or an Error, for functions without a result value.
class Status {
public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  static Status success() { return Status(); }

  explicit operator bool() const { return !error_.has_value(); }
  bool ok() const { return !error_.has_value(); }
  const Error &error() const { return *error_; }

private:
  std::optional<Error> error_;
};

} // namespace fractal
