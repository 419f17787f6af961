#include "ArgParser.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace fractal::cli {

void ArgParser::option(const std::string &name, const std::string &metavar,
                       const std::string &help, std::string *out, const std::string &shortName) {
  specs_.push_back({Kind::Option, name, shortName, metavar, help, out, nullptr, nullptr});
}

void ArgParser::list(const std::string &name, const std::string &metavar,
                     const std::string &help, std::vector<std::string> *out,
                     const std::string &shortName) {
  specs_.push_back({Kind::List, name, shortName, metavar, help, nullptr, out, nullptr});
}

void ArgParser::flag(const std::string &name, const std::string &help, bool *out) {
  specs_.push_back({Kind::Flag, name, "", "", help, nullptr, nullptr, out});
}

void ArgParser::positional(const std::string &metavar, const std::string &help, std::string *out,
                           bool required) {
  positionals_.push_back({metavar, help, out, required});
}

const ArgParser::Spec *ArgParser::find(const std::string &name) const {
  for (const Spec &s : specs_)
    if (s.name == name || (!s.shortName.empty() && s.shortName == name))
      return &s;
  return nullptr;
}

Status ArgParser::parse(const std::vector<std::string> &args) {
  size_t nextPositional = 0;
  bool optionsEnded = false;
  auto usageError = [&](const std::string &why) {
    return Error::badInput(command_ + ": " + why + " (see '" + command_ + " --help')");
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (!optionsEnded && (arg == "--help" || arg == "-h")) {
      help_ = true;
      return Status::success();
    }
    if (!optionsEnded && arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (!optionsEnded && arg.size() > 1 && arg[0] == '-') {
      std::string name = arg, inlineValue;
      bool hasInline = false;
      if (size_t eq = arg.find('='); eq != std::string::npos && arg.compare(0, 2, "--") == 0) {
        name = arg.substr(0, eq);
        inlineValue = arg.substr(eq + 1);
        hasInline = true;
      }
      const Spec *spec = find(name);
      if (!spec)
        return usageError("unknown option '" + name + "'");
      if (spec->kind == Kind::Flag) {
        if (hasInline)
          return usageError("option '" + name + "' takes no value");
        *spec->flag = true;
        continue;
      }
      std::string value;
      if (hasInline) {
        value = inlineValue;
      } else {
        if (i + 1 >= args.size())
          return usageError("option '" + name + "' needs a value (" + spec->metavar + ")");
        value = args[++i];
      }
      if (spec->kind == Kind::Option)
        *spec->value = value;
      else
        spec->values->push_back(value);
      continue;
    }
    if (nextPositional >= positionals_.size())
      return usageError("unexpected argument '" + arg + "'");
    *positionals_[nextPositional++].out = arg;
  }
  for (size_t p = nextPositional; p < positionals_.size(); ++p)
    if (positionals_[p].required)
      return usageError("missing " + positionals_[p].metavar);
  return Status::success();
}

std::string ArgParser::helpText() const {
  std::ostringstream os;
  os << "OVERVIEW: " << summary_ << "\n\nUSAGE: " << command_;
  if (!specs_.empty())
    os << " [options]";
  for (const Positional &p : positionals_)
    os << (p.required ? " " : " [") << p.metavar << (p.required ? "" : "]");
  os << "\n";
  if (!positionals_.empty()) {
    os << "\nARGUMENTS:\n";
    for (const Positional &p : positionals_)
      os << "  " << p.metavar << std::string(p.metavar.size() < 26 ? 26 - p.metavar.size() : 1, ' ')
         << p.help << "\n";
  }
  os << "\nOPTIONS:\n";
  auto line = [&](const std::string &left, const std::string &help) {
    os << "  " << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << help
       << "\n";
  };
  for (const Spec &s : specs_) {
    std::string left = s.shortName.empty() ? s.name : s.shortName + ", " + s.name;
    if (s.kind != Kind::Flag)
      left += " " + s.metavar;
    line(left, s.help + (s.kind == Kind::List ? " (repeatable)" : ""));
  }
  line("-h, --help", "show this help");
  if (!epilog_.empty())
    os << "\n" << epilog_ << "\n";
  return os.str();
}

bool parseUnsigned(const std::string &text, uint64_t &out) {
  if (text.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (*end != '\0' || errno == ERANGE || text[0] == '-')
    return false;
  out = v;
  return true;
}

} // namespace fractal::cli
