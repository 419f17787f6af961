// A small command-line parser for the `fractal` subcommands, following LLVM/GNU conventions:
// `--name value` or `--name=value`, repeatable list options, positionals, `--help` on every
// command, and `--` to end options. Kept free of LLVM so the simulator-side tools stay light.
#pragma once

#include "fractal/support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace fractal::cli {

class ArgParser {
public:
  ArgParser(std::string command, std::string summary)
      : command_(std::move(command)), summary_(std::move(summary)) {}

  // `--name VALUE`; `shortName` like "-o" is optional.
  void option(const std::string &name, const std::string &metavar, const std::string &help,
              std::string *out, const std::string &shortName = "");
  // Repeatable `--name VALUE`.
  void list(const std::string &name, const std::string &metavar, const std::string &help,
            std::vector<std::string> *out, const std::string &shortName = "");
  void flag(const std::string &name, const std::string &help, bool *out);
  void positional(const std::string &metavar, const std::string &help, std::string *out,
                  bool required = true);
  // Text printed after the option list (examples, exit codes).
  void epilog(std::string text) { epilog_ = std::move(text); }

  // Parses; `--help` sets helpRequested() and stops. Errors name the offending argument.
  Status parse(const std::vector<std::string> &args);
  bool helpRequested() const { return help_; }
  std::string helpText() const;
  const std::string &command() const { return command_; }

private:
  enum class Kind { Option, List, Flag };
  struct Spec {
    Kind kind;
    std::string name, shortName, metavar, help;
    std::string *value = nullptr;
    std::vector<std::string> *values = nullptr;
    bool *flag = nullptr;
  };
  struct Positional {
    std::string metavar, help;
    std::string *out;
    bool required;
  };
  const Spec *find(const std::string &name) const;

  std::string command_, summary_, epilog_;
  std::vector<Spec> specs_;
  std::vector<Positional> positionals_;
  bool help_ = false;
};

// A decimal (or 0x hex) unsigned integer that fits 64 bits, nothing else around it.
bool parseUnsigned(const std::string &text, uint64_t &out);

} // namespace fractal::cli
