#include "Einsum.h"

#include <algorithm>
#include <cctype>

namespace fractal::onnx_frontend::detail {

std::variant<EinsumLabels, std::string> parseEinsum(const std::string &equation,
                                                    const std::vector<std::vector<int64_t>> &shapes) {
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',') terms.emplace_back();
    else terms.back() += c;
  }
  if (terms.size() != shapes.size())
    return "equation '" + equation + "' has " + std::to_string(terms.size()) + " term(s) for " +
           std::to_string(shapes.size()) + " input(s)";

  // A term's letters before and after its ellipsis (`ellipsis` false: none).
  struct Term {
    std::string before, after;
    bool ellipsis = false;
  };
  auto split = [&](const std::string &t, Term &out) -> std::string {
    const size_t dots = t.find("...");
    out.ellipsis = dots != std::string::npos;
    out.before = out.ellipsis ? t.substr(0, dots) : t;
    out.after = out.ellipsis ? t.substr(dots + 3) : "";
    for (const std::string *part : {&out.before, &out.after})
      for (char c : *part)
        if (!std::isalpha(static_cast<unsigned char>(c)))
          return "equation '" + equation + "': '" + std::string(1, c) + "' is not a label (letters and one '...' per term)";
    return "";
  };
  std::vector<Term> parsed(terms.size());
  size_t ellipsisRank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    if (std::string why = split(terms[i], parsed[i]); !why.empty()) return why;
    const size_t letters = parsed[i].before.size() + parsed[i].after.size(), rank = shapes[i].size();
    if (parsed[i].ellipsis ? letters > rank : letters != rank)
      return "equation '" + equation + "': term '" + terms[i] + "' does not fit input " + std::to_string(i) +
             " of rank " + std::to_string(rank);
    if (parsed[i].ellipsis) ellipsisRank = std::max(ellipsisRank, rank - letters);
  }
  auto ellipsisLabels = [](size_t from, size_t to) {
    std::string s;
    for (size_t k = from; k < to; ++k) s += char('0' + k);
    return s;
  };
  if (ellipsisRank > 10) return "equation '" + equation + "': an ellipsis of more than 10 axes";

  EinsumLabels out;
  for (size_t i = 0; i < terms.size(); ++i) {
    const Term &t = parsed[i];
    const size_t own = t.ellipsis ? shapes[i].size() - t.before.size() - t.after.size() : 0;
    out.operands.push_back(t.before + ellipsisLabels(ellipsisRank - own, ellipsisRank) + t.after);
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      const char label = out.operands[i][d];
      const int64_t size = shapes[i][d];
      auto [it, fresh] = out.sizes.emplace(label, size);
      if (!fresh && it->second != size)
        return "equation '" + equation + "': label '" + (std::isalpha(static_cast<unsigned char>(label))
                                                            ? std::string(1, label) : std::string("...")) +
               "' has sizes " + std::to_string(it->second) + " and " + std::to_string(size) +
               " (broadcasting a size-1 axis is not supported)";
    }
  }
  if (arrow == std::string::npos) { // implicit: the ellipsis, then the letters seen once, sorted
    out.result = ellipsisLabels(0, ellipsisRank);
    std::string once;
    for (const auto &[label, size] : out.sizes) {
      if (!std::isalpha(static_cast<unsigned char>(label))) continue;
      size_t count = 0;
      for (const std::string &o : out.operands) count += size_t(std::count(o.begin(), o.end(), label));
      if (count == 1) once += label;
    }
    std::sort(once.begin(), once.end());
    out.result += once;
    return out;
  }
  Term result;
  if (std::string why = split(eq.substr(arrow + 2), result); !why.empty()) return why;
  out.result = result.before + (result.ellipsis ? ellipsisLabels(0, ellipsisRank) : "") + result.after;
  for (size_t i = 0; i < out.result.size(); ++i) {
    const char label = out.result[i];
    if (!out.sizes.count(label))
      return "equation '" + equation + "': result label '" + std::string(1, label) + "' is in no input";
    if (out.result.find(label) != i)
      return "equation '" + equation + "': result label '" + std::string(1, label) + "' appears twice";
  }
  return out;
}

} // namespace fractal::onnx_frontend::detail
