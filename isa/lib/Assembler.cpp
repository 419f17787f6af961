// Two passes over the source: the first lays out code and data to learn every label's value, the
// second parses each statement fully, evaluates expressions and encodes. Diagnostics point at the
// offending token (file:line:col) and quote the statement.
#include "fractal/isa/Assembler.h"

#include "fractal/isa/Encoding.h"
#include "fractal/isa/Numerics.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

namespace fractal::isa {

namespace {

struct Diagnostic {
  int line, col;
  std::string message;
};

// A failure while parsing one statement; `col` is 1-based.
struct ParseError {
  int col;
  std::string message;
};

// Character cursor over one source line.
// The cursor owns a copy of its line: callers build it from temporaries (stripComment()).
class Cursor {
public:
  explicit Cursor(std::string text) : s_(std::move(text)) {}
  void skipSpace() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_])))
      ++i_;
  }
  bool atEnd() {
    skipSpace();
    return i_ >= s_.size();
  }
  char peek() {
    skipSpace();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  char peekRaw() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  char peekAt(size_t ahead) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++i_;
    return true;
  }
  int col() {
    skipSpace();
    return static_cast<int>(i_) + 1;
  }
  size_t pos() const { return i_; }
  void setPos(size_t p) { i_ = p; }
  static bool isIdentStart(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  }
  static bool isIdentChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$';
  }
  // Identifier: [A-Za-z_.][A-Za-z0-9_.$]*
  std::string identifier() {
    skipSpace();
    size_t start = i_;
    if (i_ < s_.size() && isIdentStart(s_[i_])) {
      ++i_;
      while (i_ < s_.size() && isIdentChar(s_[i_]))
        ++i_;
    }
    return s_.substr(start, i_ - start);
  }
  // A token up to the next comma (for number literals and float lists).
  std::string untilComma() {
    skipSpace();
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',')
      ++i_;
    std::string t = s_.substr(start, i_ - start);
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())))
      t.pop_back();
    return t;
  }
  std::string rest() {
    skipSpace();
    return s_.substr(i_);
  }

private:
  std::string s_;
  size_t i_ = 0;
};

// Removes a `#` or `//` comment, ignoring markers inside string literals.
std::string stripComment(const std::string &line) {
  bool inString = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"' && (i == 0 || line[i - 1] != '\\'))
      inString = !inString;
    if (!inString && (c == '#' || (c == '/' && i + 1 < line.size() && line[i + 1] == '/')))
      return line.substr(0, i);
  }
  return line;
}

// Parses a decimal, 0x hex or 0b binary literal. Decimal literals must fit int64 (with the sign);
// hex and binary ones may use all 64 bits, read as two's complement.
bool parseIntegerLiteral(const std::string &text, bool negative, int64_t &out) {
  std::string t = text;
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t = t.substr(2);
  } else if (t.size() > 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B')) {
    base = 2;
    t = t.substr(2);
  }
  if (t.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  unsigned long long v = std::strtoull(t.c_str(), &end, base);
  if (*end != '\0' || errno == ERANGE || t[0] == '-' || t[0] == '+')
    return false;
  unsigned long long limit = base != 10 ? ~0ull
                             : negative ? static_cast<unsigned long long>(INT64_MAX) + 1
                                        : static_cast<unsigned long long>(INT64_MAX);
  if (v > limit)
    return false;
  out = static_cast<int64_t>(negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
  return true;
}

struct Label {
  bool isCode;
  int64_t value; // instruction index or data offset
  int line;
};

class Assembler {
public:
  Assembler(const std::string &source, const std::string &fileName, const Defines &defines)
      : file_(fileName), defines_(defines) {
    std::istringstream in(source);
    std::vector<std::string> raw;
    for (std::string l; std::getline(in, l);)
      raw.push_back(l);
    expandMacros(raw);
  }

  Expected<KernelBinary> run() {
    equs_ = defines_;
    if (diagnostics_.empty())
      pass(/*layoutOnly=*/true);
    if (diagnostics_.empty()) {
      equs_ = defines_; // .equ values are re-established in order during the second pass
      pass(/*layoutOnly=*/false);
    }
    if (!diagnostics_.empty()) {
      std::string all;
      for (const Diagnostic &d : diagnostics_)
        all += (all.empty() ? "" : "\n") + file_ + ":" + std::to_string(d.line) + ":" +
               std::to_string(d.col) + ": error: " + d.message;
      return Error::badInput(all);
    }
    kernel_.source = file_;
    for (const auto &[name, label] : labels_)
      kernel_.symbols.push_back(
          {name, label.isCode ? Symbol::Section::Code : Symbol::Section::Data,
           static_cast<uint32_t>(label.value)});
    return kernel_;
  }

private:
  void pass(bool layoutOnly) {
    layoutOnly_ = layoutOnly;
    inData_ = false;
    codeCount_ = 0;
    dataSize_ = 0;
    note_.clear();
    kernel_ = KernelBinary();
    for (const SourceLine &line : lines_) {
      lineNo_ = line.number;
      std::string text = stripComment(line.text);
      statement_ = text;
      Cursor c(text);
      try {
        statement(c);
      } catch (const ParseError &e) {
        report(e.col, e.message);
      }
      if (diagnostics_.size() >= 50) {
        report(1, "too many errors, stopping");
        return;
      }
    }
  }

  void report(int col, const std::string &message) {
    diagnostics_.push_back({lineNo_, col, message});
  }

  [[noreturn]] void fail(int col, const std::string &why) {
    std::string quoted = statement_;
    size_t a = quoted.find_first_not_of(" \t");
    size_t b = quoted.find_last_not_of(" \t\r");
    quoted = a == std::string::npos ? "" : quoted.substr(a, b - a + 1);
    throw ParseError{col, "in '" + quoted + "': " + why};
  }

  void statement(Cursor &c) {
    // Labels: `name:` (several may precede one statement).
    for (;;) {
      if (c.atEnd())
        return;
      size_t save = c.pos();
      int col = c.col();
      std::string id = c.identifier();
      if (!id.empty() && c.peekRaw() == ':') {
        c.consume(':');
        defineLabel(id, col);
        continue;
      }
      c.setPos(save);
      break;
    }
    int col = c.col();
    if (c.peek() == '.') {
      std::string directiveName = c.identifier();
      directive(directiveName, col, c);
      return;
    }
    std::string mnemonic = c.identifier();
    if (mnemonic.empty())
      fail(col, "expected an instruction, a directive or a label");
    if (inData_)
      fail(col, "instruction '" + mnemonic + "' in the .data section (use .text first)");
    instruction(mnemonic, col, c);
  }

  void defineLabel(const std::string &name, int col) {
    if (!layoutOnly_) {
      // Values were fixed in the first pass; a size that depended on a later symbol moves labels.
      const Label &l = labels_.at(name);
      if (l.value != (inData_ ? dataSize_ : codeCount_))
        throw ParseError{col, "label '" + name + "' moved between passes: a .zero or .align "
                                  "count uses a symbol defined later"};
      return;
    }
    if (equs_.count(name))
      throw ParseError{col, "label '" + name + "' has the name of an .equ constant"};
    auto [it, inserted] = labels_.insert({name, {!inData_, inData_ ? dataSize_ : codeCount_, lineNo_}});
    if (!inserted)
      throw ParseError{col, "label '" + name + "' is already defined on line " +
                                std::to_string(it->second.line)};
  }

  // ---- expressions over numbers, .equ constants and labels, with C's operators and precedence:
  // | ^ & (lowest), << >>, + -, * / % (highest), unary -, parentheses ----
  int64_t expression(Cursor &c) {
    int64_t v = bitXor(c);
    while (c.peek() == '|' && c.consume('|'))
      v |= bitXor(c);
    return v;
  }
  int64_t bitXor(Cursor &c) {
    int64_t v = bitAnd(c);
    while (c.peek() == '^' && c.consume('^'))
      v ^= bitAnd(c);
    return v;
  }
  int64_t bitAnd(Cursor &c) {
    int64_t v = shift(c);
    while (c.peek() == '&' && c.consume('&'))
      v &= shift(c);
    return v;
  }
  int64_t shift(Cursor &c) {
    int64_t v = additive(c);
    for (;;) {
      char a = c.peek();
      if ((a != '<' && a != '>') || c.peekAt(1) != a)
        return v;
      int col = c.col();
      c.consume(a);
      c.consume(a);
      int64_t amount = additive(c);
      if (amount < 0 || amount > 63) {
        if (!layoutOnly_)
          fail(col, "shift amount " + std::to_string(amount) + " is outside 0..63");
        amount = 0;
      }
      v = a == '<' ? static_cast<int64_t>(static_cast<uint64_t>(v) << amount) : v >> amount;
    }
  }
  int64_t additive(Cursor &c) {
    int64_t v = term(c);
    for (;;) {
      if (c.consume('+'))
        v = static_cast<int64_t>(static_cast<uint64_t>(v) + static_cast<uint64_t>(term(c)));
      else if (c.peek() == '-' && c.consume('-'))
        v = static_cast<int64_t>(static_cast<uint64_t>(v) - static_cast<uint64_t>(term(c)));
      else
        return v;
    }
  }
  int64_t term(Cursor &c) {
    int64_t v = factor(c);
    for (;;) {
      char op = c.peek();
      if (op != '*' && op != '/' && op != '%')
        return v;
      int col = c.col();
      c.consume(op);
      int64_t rhs = factor(c);
      if (op == '*') {
        v = static_cast<int64_t>(static_cast<uint64_t>(v) * static_cast<uint64_t>(rhs));
      } else {
        if (rhs == 0 && !layoutOnly_)
          fail(col, "division by zero");
        if (rhs == 0 || (v == INT64_MIN && rhs == -1))
          v = 0;
        else
          v = op == '/' ? v / rhs : v % rhs;
      }
    }
  }
  int64_t factor(Cursor &c) {
    int col = c.col();
    if (c.consume('-')) {
      if (std::isdigit(static_cast<unsigned char>(c.peekRaw())))
        return numberLiteral(c, col, /*negative=*/true);
      return static_cast<int64_t>(0 - static_cast<uint64_t>(factor(c)));
    }
    if (c.consume('(')) {
      int64_t v = expression(c);
      if (!c.consume(')'))
        fail(c.col(), "expected ')'");
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(c.peek())))
      return numberLiteral(c, col, /*negative=*/false);
    std::string id = c.identifier();
    if (id.empty())
      fail(col, "expected a value");
    if (auto it = equs_.find(id); it != equs_.end())
      return it->second;
    if (auto it = labels_.find(id); it != labels_.end())
      return it->second.value;
    if (layoutOnly_)
      return 0; // forward reference; resolved in the second pass
    fail(col, "unknown symbol '" + id + "'");
  }

  int64_t numberLiteral(Cursor &c, int col, bool negative) {
    size_t start = c.pos();
    while (std::isalnum(static_cast<unsigned char>(c.peekRaw())))
      c.setPos(c.pos() + 1);
    std::string lit = statement_.substr(start, c.pos() - start);
    int64_t v = 0;
    if (!parseIntegerLiteral(lit, negative, v))
      fail(col, "invalid or out-of-range integer '" + std::string(negative ? "-" : "") + lit + "'");
    return v;
  }

  // ---- directives ----
  void directive(const std::string &name, int col, Cursor &c) {
    if (name == ".text" || name == ".data") {
      inData_ = name == ".data";
      expectEnd(c);
    } else if (name == ".target") {
      int tcol = c.col();
      std::string target = c.identifier();
      if (target.empty() || target.size() >= kKernelTargetBytes)
        fail(tcol, "expected a target name of at most " + std::to_string(kKernelTargetBytes - 1) +
                       " characters");
      kernel_.target = target;
      expectEnd(c);
    } else if (name == ".equ") {
      int ncol = c.col();
      std::string sym = c.identifier();
      if (sym.empty())
        fail(ncol, "expected a name");
      if (!c.consume(','))
        fail(c.col(), "expected ',' after the .equ name");
      int64_t v = expression(c);
      if (labels_.count(sym))
        fail(ncol, "'" + sym + "' is already a label");
      if (defines_.count(sym)) {
        expectEnd(c);
        return; // the value given with -D wins over the file's default
      }
      if (equs_.count(sym))
        fail(ncol, "'" + sym + "' is already defined");
      equs_[sym] = v;
      expectEnd(c);
    } else if (name == ".node") {
      note_ = stringLiteral(c);
      expectEnd(c);
    } else if (name == ".byte" || name == ".half" || name == ".word" || name == ".dword") {
      int size = name == ".byte" ? 1 : name == ".half" ? 2 : name == ".word" ? 4 : 8;
      requireData(name, col);
      do {
        int vcol = c.col();
        int64_t v = expression(c);
        int64_t lo = size == 8 ? INT64_MIN : -(int64_t(1) << (size * 8 - 1));
        int64_t hi = size == 8 ? INT64_MAX : (int64_t(1) << (size * 8)) - 1;
        if (!layoutOnly_ && (v < lo || v > hi))
          fail(vcol, "value " + std::to_string(v) + " does not fit in " + std::to_string(size) +
                         " byte(s)");
        emitData(static_cast<uint64_t>(v), size);
      } while (c.consume(','));
      expectEnd(c);
    } else if (name == ".f16" || name == ".f32") {
      requireData(name, col);
      do {
        int vcol = c.col();
        std::string lit = c.untilComma();
        float f = floatLiteral(lit, vcol);
        if (name == ".f16")
          emitData(floatToHalfReference(f), 2);
        else
          emitData(floatBits(f), 4);
      } while (c.consume(','));
      expectEnd(c);
    } else if (name == ".zero") {
      requireData(name, col);
      int vcol = c.col();
      int64_t n = expression(c);
      if (n < 0 || n > (int64_t(1) << 30))
        fail(vcol, ".zero count " + std::to_string(n) + " is out of range");
      for (int64_t i = 0; i < n; ++i)
        emitData(0, 1);
      expectEnd(c);
    } else if (name == ".align") {
      requireData(name, col);
      int vcol = c.col();
      int64_t a = expression(c);
      if (a <= 0 || (a & (a - 1)) || a > 4096)
        fail(vcol, ".align needs a power of two up to 4096, got " + std::to_string(a));
      while (dataSize_ % a)
        emitData(0, 1);
      expectEnd(c);
    } else {
      fail(col, "unknown directive '" + name + "'");
    }
  }

  void requireData(const std::string &name, int col) {
    if (!inData_)
      fail(col, name + " is only allowed in the .data section");
  }

  void emitData(uint64_t v, int size) {
    for (int i = 0; i < size; ++i) {
      if (!layoutOnly_)
        kernel_.data.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
    dataSize_ += size;
  }

  float floatLiteral(const std::string &lit, int col) {
    if (lit.empty())
      fail(col, "expected a number");
    errno = 0;
    char *end = nullptr;
    float f = std::strtof(lit.c_str(), &end);
    if (*end != '\0')
      fail(col, "invalid floating-point number '" + lit + "'");
    return f;
  }

  std::string stringLiteral(Cursor &c) {
    int col = c.col();
    if (!c.consume('"'))
      fail(col, "expected a string in double quotes");
    std::string s;
    for (;;) {
      char ch = c.peekRaw();
      if (ch == '\0')
        fail(col, "unterminated string");
      c.setPos(c.pos() + 1);
      if (ch == '"')
        return s;
      if (ch == '\\') {
        ch = c.peekRaw();
        if (ch == '\0')
          fail(col, "unterminated string");
        c.setPos(c.pos() + 1);
      }
      s += ch;
    }
  }

  void expectEnd(Cursor &c) {
    if (!c.atEnd())
      fail(c.col(), "unexpected '" + c.rest() + "'");
  }

  // ---- instructions ----
  void instruction(const std::string &fullMnemonic, int col, Cursor &c) {
    // Every instruction and pseudo-instruction is one slot, counted even if it fails to parse so
    // that later labels keep the positions the first pass gave them.
    const int64_t pc = codeCount_++;
    if (layoutOnly_)
      return;
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t dot = fullMnemonic.find('.', start);
      parts.push_back(fullMnemonic.substr(start, dot - start));
      if (dot == std::string::npos)
        break;
      start = dot + 1;
    }
    const std::string &base = parts[0];
    Instruction inst;
    if (base == "lif16" || base == "lif32" || base == "mv") {
      inst = pseudoInstruction(base, parts, col, c);
    } else {
      const InstructionSpec *spec = findByMnemonic(base);
      if (!spec)
        fail(col, "unknown mnemonic '" + base + "'");
      pc_ = pc;
      inst = makeInstruction(spec->opcode);
      parseSuffixes(*spec, parts, col, inst);
      parseOperands(*spec, c, inst);
      if (Status s = validateInstruction(inst); !s)
        fail(col, s.error().message);
    }
    kernel_.code.push_back(inst);
    kernel_.addDebug(static_cast<uint32_t>(lineNo_), note_);
  }

  Instruction pseudoInstruction(const std::string &base, const std::vector<std::string> &parts,
                                int col, Cursor &c) {
    if (parts.size() != 1)
      fail(col, base + " takes no suffix");
    int rcol = c.col();
    int64_t rd = parseRegister(c, rcol);
    if (!c.consume(','))
      fail(c.col(), "expected ','");
    Instruction inst;
    if (base == "mv") {
      int scol = c.col();
      int64_t rs = parseRegister(c, scol);
      inst = makeInstruction(Opcode::Addi);
      inst.values[0] = rd;
      inst.values[1] = rs;
      inst.values[2] = 0;
    } else {
      int vcol = c.col();
      float f = floatLiteral(c.untilComma(), vcol);
      inst = makeInstruction(Opcode::Li);
      inst.values[0] = rd;
      inst.values[1] = base == "lif16" ? floatToHalfReference(f) : floatBits(f);
    }
    expectEnd(c);
    return inst;
  }

  void parseSuffixes(const InstructionSpec &spec, const std::vector<std::string> &parts, int col,
                     Instruction &inst) {
    std::vector<size_t> suffixOperands;
    for (size_t i = 0; i < spec.operands.size(); ++i)
      if (spec.operands[i].kind == OperandKind::Type || spec.operands[i].kind == OperandKind::Cmp)
        suffixOperands.push_back(i);
    if (parts.size() - 1 != suffixOperands.size()) {
      std::string want;
      for (size_t i : suffixOperands)
        want += spec.operands[i].kind == OperandKind::Cmp ? ".<cmp>" : ".<type>";
      fail(col, std::string(spec.mnemonic) +
                    (suffixOperands.empty() ? " takes no suffix"
                                            : " is written " + std::string(spec.mnemonic) + want));
    }
    for (size_t k = 0; k < suffixOperands.size(); ++k) {
      const OperandSpec &o = spec.operands[suffixOperands[k]];
      const std::string &text = parts[k + 1];
      if (o.kind == OperandKind::Cmp) {
        auto m = compareModeFromName(text);
        if (!m)
          fail(col, "unknown compare mode '." + text + "' (expected .eq .ne .lt .le .gt .ge)");
        inst.values[suffixOperands[k]] = static_cast<int64_t>(*m);
      } else {
        auto t = dataTypeFromName(text);
        if (!t)
          fail(col, "unknown data type '." + text + "' (expected .f16 .f32 .s8 .s32)");
        inst.values[suffixOperands[k]] = static_cast<int64_t>(*t);
      }
      std::string why =
          operandProblem(o, inst.values[suffixOperands[k]], inst.spaces[suffixOperands[k]]);
      if (!why.empty())
        fail(col, why);
    }
  }

  void parseOperands(const InstructionSpec &spec, Cursor &c, Instruction &inst) {
    std::vector<size_t> positional;
    for (size_t i = 0; i < spec.operands.size(); ++i)
      if (!spec.operands[i].keyed && spec.operands[i].kind != OperandKind::Type &&
          spec.operands[i].kind != OperandKind::Cmp)
        positional.push_back(i);
    size_t nextPositional = 0;
    std::set<size_t> keyedSeen;
    bool first = true;
    while (!c.atEnd()) {
      if (!first && !c.consume(','))
        fail(c.col(), "expected ',' between operands");
      first = false;
      int col = c.col();
      // `name=value`?
      size_t save = c.pos();
      std::string id = c.identifier();
      if (!id.empty() && c.peek() == '=') {
        c.consume('=');
        size_t idx = findKeyed(spec, id, col);
        if (!keyedSeen.insert(idx).second)
          fail(col, "operand '" + id + "' given twice");
        parseValue(spec.operands[idx], idx, c, inst);
        continue;
      }
      c.setPos(save);
      if (nextPositional >= positional.size())
        fail(col, std::string(spec.mnemonic) + " takes " + std::to_string(positional.size()) +
                      " positional operand(s)" + keyedList(spec));
      size_t idx = positional[nextPositional++];
      parseValue(spec.operands[idx], idx, c, inst);
    }
    if (nextPositional < positional.size()) {
      std::string missing;
      for (size_t k = nextPositional; k < positional.size(); ++k)
        missing += (missing.empty() ? "" : ", ") + std::string(spec.operands[positional[k]].name);
      fail(c.col(), "missing operand(s): " + missing);
    }
  }

  static std::string keyedList(const InstructionSpec &spec) {
    std::string keys;
    for (const OperandSpec &o : spec.operands)
      if (o.keyed)
        keys += (keys.empty() ? "" : ", ") + std::string(o.name) + "=";
    return keys.empty() ? "" : "; optional: " + keys;
  }

  size_t findKeyed(const InstructionSpec &spec, const std::string &name, int col) {
    for (size_t i = 0; i < spec.operands.size(); ++i)
      if (spec.operands[i].keyed && name == spec.operands[i].name)
        return i;
    std::string keys = keyedList(spec);
    fail(col, std::string(spec.mnemonic) + " has no operand '" + name + "'" +
                  (keys.empty() ? "" : " (" + keys.substr(2) + ")"));
  }

  int64_t parseRegister(Cursor &c, int col) {
    std::string id = c.identifier();
    if (id.size() >= 2 && id[0] == 'x') {
      int64_t n = 0;
      if (parseIntegerLiteral(id.substr(1), false, n) && n >= 0 && n < kNumRegisters &&
          id.substr(1) == std::to_string(n))
        return n;
    }
    fail(col, "expected a register x0..x31, got '" + (id.empty() ? c.rest() : id) + "'");
  }

  void parseValue(const OperandSpec &o, size_t idx, Cursor &c, Instruction &inst) {
    int col = c.col();
    // An immediate is checked before it is stored: a decoded instruction holds one operand wider
    // than 32 bits, and an out-of-range value in a second would not fit (OperandValues).
    auto checked = [&](int64_t value) {
      if (std::string why = operandProblem(o, value, inst.spaces[idx]); !why.empty()) fail(col, why);
      return value;
    };
    switch (o.kind) {
    case OperandKind::Reg: inst.values[idx] = parseRegister(c, col); break;
    case OperandKind::Mem: {
      std::string sp = c.identifier();
      auto space = spaceFromName(sp);
      if (!space)
        fail(col, "expected a buffer operand such as ub[x1] for '" + std::string(o.name) +
                      "', got '" + (sp.empty() ? c.rest() : sp) + "'");
      if (!c.consume('['))
        fail(c.col(), "expected '[' after '" + sp + "'");
      int rcol = c.col();
      inst.values[idx] = parseRegister(c, rcol);
      if (!c.consume(']'))
        fail(c.col(), "expected ']'");
      inst.spaces[idx] = *space;
      break;
    }
    case OperandKind::Imm: inst.values[idx] = checked(expression(c)); break;
    case OperandKind::Label: {
      if (c.peek() == '.' && (c.peekAt(1) == '+' || c.peekAt(1) == '-')) {
        c.consume('.');
        c.consume('+');
        inst.values[idx] = checked(expression(c)); // `.+N` / `.-N`: relative to this instruction
        break;
      }
      std::string id = c.identifier();
      auto it = labels_.find(id);
      if (id.empty())
        fail(col, "expected a label");
      if (it == labels_.end())
        fail(col, "unknown label '" + id + "'");
      if (!it->second.isCode)
        fail(col, "'" + id + "' is a data label, not a code label");
      inst.values[idx] = checked(it->second.value - pc_);
      break;
    }
    case OperandKind::PipeSel: {
      std::string id = c.identifier();
      auto p = pipeFromName(id);
      if (!p)
        fail(col, "unknown pipe '" + id + "' (expected s, v, m, mte1, mte2, mte3, fix, all)");
      inst.values[idx] = static_cast<int64_t>(*p);
      break;
    }
    case OperandKind::SReg: {
      std::string id = c.identifier();
      auto r = specialRegFromName(id);
      if (!r)
        fail(col, "unknown special register '" + id +
                      "' (expected block_idx, block_dim, core_id, cycle, data_base, args)");
      inst.values[idx] = static_cast<int64_t>(*r);
      break;
    }
    case OperandKind::Type:
    case OperandKind::Cmp: fail(col, "internal: suffix operand parsed as an operand");
    }
    std::string why = operandProblem(o, inst.values[idx], inst.spaces[idx]);
    if (!why.empty())
      fail(col, why);
  }

  // ---- macros: `.macro NAME a, b` ... `.endm`; `\a` is replaced by the argument and `\@` by a
  // number unique to each expansion (for local labels). Expanded lines keep the line number of
  // the invocation, so diagnostics point at the source the user wrote.
  struct SourceLine {
    std::string text;
    int number;
  };
  struct Macro {
    std::vector<std::string> params;
    std::vector<std::string> body;
    int line;
  };

  static std::vector<std::string> splitArguments(const std::string &text) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    for (char ch : text) {
      if (ch == '(' || ch == '[')
        ++depth;
      if (ch == ')' || ch == ']')
        --depth;
      if (ch == ',' && depth == 0) {
        out.push_back(cur);
        cur.clear();
        continue;
      }
      cur += ch;
    }
    out.push_back(cur);
    for (std::string &a : out) {
      size_t b = a.find_first_not_of(" \t"), e = a.find_last_not_of(" \t\r");
      a = b == std::string::npos ? "" : a.substr(b, e - b + 1);
    }
    if (out.size() == 1 && out[0].empty())
      out.clear();
    return out;
  }

  void expandMacros(const std::vector<std::string> &raw) {
    for (size_t n = 0; n < raw.size(); ++n) {
      lineNo_ = static_cast<int>(n) + 1;
      std::string text = stripComment(raw[n]);
      Cursor c(text);
      int col = c.col();
      std::string first = c.identifier();
      if (first == ".endm") {
        report(col, "'.endm' without '.macro'");
        continue;
      }
      if (first != ".macro") {
        expandLine(raw[n], lineNo_, 0);
        continue;
      }
      int ncol = c.col();
      std::string name = c.identifier();
      if (name.empty() || name[0] == '.') {
        report(ncol, "expected a macro name after .macro");
        continue;
      }
      if (macros_.count(name) || findByMnemonic(name)) {
        report(ncol, "macro '" + name + "' is already defined or is an instruction");
        continue;
      }
      Macro m;
      m.line = lineNo_;
      m.params = splitArguments(c.rest());
      bool closed = false;
      for (++n; n < raw.size(); ++n) {
        Cursor b(stripComment(raw[n]));
        std::string head = b.identifier();
        if (head == ".endm") {
          closed = true;
          break;
        }
        if (head == ".macro") {
          lineNo_ = static_cast<int>(n) + 1;
          report(1, "macros cannot be defined inside a macro");
        }
        m.body.push_back(raw[n]);
      }
      if (!closed) {
        report(ncol, "macro '" + name + "' has no '.endm'");
        return;
      }
      macros_[name] = std::move(m);
    }
  }

  void expandLine(const std::string &line, int number, int depth) {
    std::string text = stripComment(line);
    Cursor c(text);
    // Skip leading labels to find the statement's first word.
    size_t statementStart = 0;
    for (;;) {
      if (c.atEnd())
        break;
      size_t save = c.pos();
      std::string id = c.identifier();
      if (!id.empty() && c.peekRaw() == ':') {
        c.consume(':');
        statementStart = c.pos();
        continue;
      }
      c.setPos(save);
      break;
    }
    int col = c.col();
    std::string word = c.identifier();
    auto it = macros_.find(word);
    if (it == macros_.end()) {
      lines_.push_back({line, number});
      return;
    }
    if (depth > 32) {
      lineNo_ = number;
      report(col, "macro '" + word + "' expands too deeply (recursive?)");
      return;
    }
    const Macro &m = it->second;
    std::vector<std::string> args = splitArguments(c.rest());
    if (args.size() != m.params.size()) {
      lineNo_ = number;
      report(col, "macro '" + word + "' takes " + std::to_string(m.params.size()) +
                      " argument(s), got " + std::to_string(args.size()));
      return;
    }
    if (statementStart > 0)
      lines_.push_back({text.substr(0, statementStart), number}); // the labels
    const std::string unique = std::to_string(expansions_++);
    for (const std::string &bodyLine : m.body) {
      std::string out;
      for (size_t i = 0; i < bodyLine.size(); ++i) {
        if (bodyLine[i] != '\\') {
          out += bodyLine[i];
          continue;
        }
        if (i + 1 < bodyLine.size() && bodyLine[i + 1] == '@') {
          out += unique;
          ++i;
          continue;
        }
        size_t j = i + 1;
        while (j < bodyLine.size() && Cursor::isIdentChar(bodyLine[j]) && bodyLine[j] != '.')
          ++j;
        std::string param = bodyLine.substr(i + 1, j - i - 1);
        bool found = false;
        for (size_t p = 0; p < m.params.size(); ++p)
          if (m.params[p] == param) {
            out += args[p];
            found = true;
          }
        if (!found)
          out += bodyLine.substr(i, j - i);
        i = j - 1;
      }
      expandLine(out, number, depth + 1);
    }
  }

  std::map<std::string, Macro> macros_;
  int expansions_ = 0;

  std::string file_;
  Defines defines_;
  std::vector<SourceLine> lines_;
  std::vector<Diagnostic> diagnostics_;
  std::map<std::string, Label> labels_;
  std::map<std::string, int64_t> equs_;
  KernelBinary kernel_;
  bool layoutOnly_ = true;
  bool inData_ = false;
  int64_t codeCount_ = 0;
  int64_t pc_ = 0; // index of the instruction being parsed
  int64_t dataSize_ = 0;
  int lineNo_ = 0;
  std::string statement_;
  std::string note_;
};

} // namespace

Expected<KernelBinary> assemble(const std::string &source, const std::string &fileName,
                                const Defines &defines) {
  Assembler assembler(source, fileName, defines);
  return assembler.run();
}

Status parseDefine(const std::string &text, Defines &defines) {
  size_t eq = text.find('=');
  std::string name = text.substr(0, eq);
  bool validName = !name.empty() && Cursor::isIdentStart(name[0]);
  for (char c : name)
    validName = validName && Cursor::isIdentChar(c);
  if (eq == std::string::npos || !validName)
    return Error::badInput("-D expects NAME=VALUE, got '" + text + "'");
  std::string value = text.substr(eq + 1);
  bool negative = !value.empty() && value[0] == '-';
  int64_t v = 0;
  if (!parseIntegerLiteral(negative ? value.substr(1) : value, negative, v))
    return Error::badInput("-D " + name + ": '" + value + "' is not an integer");
  defines[name] = v;
  return Status::success();
}

} // namespace fractal::isa
