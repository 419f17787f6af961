#include "fractal/isa/Disassembler.h"

#include "fractal/isa/Encoding.h"

#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace fractal::isa {

namespace {

using LabelNamer = std::function<std::string(int64_t relative)>;

std::string formatOperand(const OperandSpec &o, int64_t value, Space space,
                          const LabelNamer &labelName) {
  switch (o.kind) {
  case OperandKind::Reg: return "x" + std::to_string(value);
  case OperandKind::Mem: return std::string(spaceName(space)) + "[x" + std::to_string(value) + "]";
  case OperandKind::Imm: return std::to_string(value);
  case OperandKind::Label:
    if (labelName)
      return labelName(value);
    return value >= 0 ? ".+" + std::to_string(value) : ".-" + std::to_string(-value);
  case OperandKind::PipeSel: return pipeName(static_cast<Pipe>(value));
  case OperandKind::SReg: return specialRegName(static_cast<SpecialReg>(value));
  case OperandKind::Type: return dataTypeName(static_cast<DataType>(value));
  case OperandKind::Cmp: return compareModeName(static_cast<CompareMode>(value));
  }
  return "?";
}

std::string formatWith(const Instruction &inst, const LabelNamer &labelName) {
  const InstructionSpec &s = inst.info();
  std::string text = s.mnemonic;
  for (size_t i = 0; i < s.operands.size(); ++i)
    if (s.operands[i].kind == OperandKind::Type || s.operands[i].kind == OperandKind::Cmp)
      text += "." + formatOperand(s.operands[i], inst.values[i], inst.spaces[i], labelName);
  std::string operands;
  auto add = [&](const std::string &t) { operands += (operands.empty() ? " " : ", ") + t; };
  for (size_t i = 0; i < s.operands.size(); ++i) {
    const OperandSpec &o = s.operands[i];
    if (o.keyed || o.kind == OperandKind::Type || o.kind == OperandKind::Cmp)
      continue;
    add(formatOperand(o, inst.values[i], inst.spaces[i], labelName));
  }
  // Keyed operands only when they differ from their default, so common cases stay short.
  for (size_t i = 0; i < s.operands.size(); ++i) {
    const OperandSpec &o = s.operands[i];
    if (o.keyed && inst.values[i] != o.defaultValue)
      add(std::string(o.name) + "=" + formatOperand(o, inst.values[i], inst.spaces[i], labelName));
  }
  return text + operands;
}

std::string quote(const std::string &s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      q += '\\';
    q += c;
  }
  return q + "\"";
}

} // namespace

std::string formatInstruction(const Instruction &inst) { return formatWith(inst, nullptr); }

std::string disassemble(const KernelBinary &k, const DisassemblyOptions &options) {
  // Names for code positions: the binary's own symbols first, then .L<pc> for branch targets.
  std::map<int64_t, std::vector<std::string>> codeLabels, dataLabels;
  std::set<std::string> taken;
  for (const Symbol &s : k.symbols) {
    (s.section == Symbol::Section::Code ? codeLabels : dataLabels)[s.value].push_back(s.name);
    taken.insert(s.name);
  }
  for (size_t pc = 0; pc < k.code.size(); ++pc) {
    const Instruction &inst = k.code[pc];
    const InstructionSpec &s = inst.info();
    for (size_t i = 0; i < s.operands.size(); ++i) {
      if (s.operands[i].kind != OperandKind::Label)
        continue;
      int64_t target = static_cast<int64_t>(pc) + inst.values[i];
      if (target < 0 || target > static_cast<int64_t>(k.code.size()) || codeLabels.count(target))
        continue;
      std::string name = ".L" + std::to_string(target);
      while (taken.count(name))
        name += "_";
      taken.insert(name);
      codeLabels[target].push_back(name);
    }
  }

  std::ostringstream os;
  os << "# disassembled by fractal disasm";
  if (!k.source.empty())
    os << " (source: " << k.source << ")";
  os << "\n";
  if (!k.target.empty())
    os << ".target " << k.target << "\n";
  os << ".text\n";
  std::string note;
  for (size_t pc = 0; pc <= k.code.size(); ++pc) {
    if (auto it = codeLabels.find(static_cast<int64_t>(pc)); it != codeLabels.end())
      for (const std::string &name : it->second)
        os << name << ":\n";
    if (pc == k.code.size())
      break;
    if (!k.debug.empty() && k.noteOf(pc) != note) {
      note = k.noteOf(pc);
      os << "  .node " << quote(note) << "\n";
    }
    LabelNamer namer = [&](int64_t rel) -> std::string {
      auto it = codeLabels.find(static_cast<int64_t>(pc) + rel);
      if (it != codeLabels.end())
        return it->second.front();
      return rel >= 0 ? ".+" + std::to_string(rel) : ".-" + std::to_string(-rel);
    };
    std::string line = "  " + formatWith(k.code[pc], namer);
    if (options.showEncoding) {
      uint8_t word[kInstructionBytes];
      encodeInstruction(k.code[pc], word);
      char hex[40];
      for (int b = 0; b < kInstructionBytes; ++b)
        std::snprintf(hex + 2 * b, 3, "%02x", word[kInstructionBytes - 1 - b]);
      if (line.size() < 56)
        line.resize(56, ' ');
      line += "  # [" + std::to_string(pc) + "] 0x" + hex;
    }
    os << line << "\n";
  }
  if (!k.data.empty() || !dataLabels.empty()) {
    os << ".data\n";
    size_t offset = 0;
    while (offset <= k.data.size()) {
      if (auto it = dataLabels.find(static_cast<int64_t>(offset)); it != dataLabels.end())
        for (const std::string &name : it->second)
          os << name << ":\n";
      if (offset == k.data.size())
        break;
      // A row runs to 16 bytes or the next label, whichever is first.
      auto next = dataLabels.upper_bound(static_cast<int64_t>(offset));
      size_t end = std::min(k.data.size(), offset + 16);
      if (next != dataLabels.end())
        end = std::min(end, static_cast<size_t>(next->first));
      os << "  .byte ";
      for (size_t i = offset; i < end; ++i) {
        char b[8];
        std::snprintf(b, sizeof b, "0x%02x", k.data[i]);
        os << (i == offset ? "" : ", ") << b;
      }
      os << "\n";
      offset = end;
    }
  }
  return os.str();
}

} // namespace fractal::isa
