#include "TfIdf.h"

#include "NodeAttributes.h"

#include <algorithm>
#include <set>

namespace fractal::onnx_frontend::detail {

namespace {
// Bounds the pool: every n-gram becomes a column of the comparisons.
constexpr size_t kMaxPoolTokens = size_t(1) << 20;
} // namespace

std::variant<TfIdfTables, std::string> readTfIdf(const onnx::NodeProto &node) {
  if (attribute(node, "pool_strings"))
    return std::string("a pool of strings is not supported (Fractal's tensors hold numbers): the tokens as ids, "
                       "with pool_int64s");
  TfIdfTables t;
  const auto *mode = attribute(node, "mode");
  t.mode = mode ? mode->s() : "";
  if (t.mode != "TF" && t.mode != "IDF" && t.mode != "TFIDF")
    return "mode '" + t.mode + "' is not one of TF, IDF and TFIDF";
  auto single = [&](const char *name) {
    const auto *a = attribute(node, name);
    return a ? a->i() : int64_t(-1);
  };
  t.minGram = single("min_gram_length");
  t.maxGram = single("max_gram_length");
  t.maxSkip = single("max_skip_count");
  if (t.minGram < 1 || t.maxGram < t.minGram || t.maxSkip < 0)
    return "min_gram_length " + std::to_string(t.minGram) + ", max_gram_length " + std::to_string(t.maxGram) +
           " and max_skip_count " + std::to_string(t.maxSkip) +
           " must satisfy 1 <= min_gram_length <= max_gram_length and 0 <= max_skip_count";
  const std::vector<int64_t> pool = intsOf(node, "pool_int64s"), counts = intsOf(node, "ngram_counts"),
                             indexes = intsOf(node, "ngram_indexes");
  if (pool.size() > kMaxPoolTokens)
    return "its pool of " + std::to_string(pool.size()) + " tokens is larger than the " +
           std::to_string(kMaxPoolTokens) + " compiled";
  // ngram_counts[i]: where the (i + 1)-grams start in the pool; they run to the next start.
  size_t grams = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    const int64_t n = int64_t(i) + 1, begin = counts[i];
    const int64_t end = i + 1 < counts.size() ? counts[i + 1] : int64_t(pool.size());
    if (begin < 0 || end < begin || end > int64_t(pool.size()) || (end - begin) % n != 0)
      return "ngram_counts does not split the pool of " + std::to_string(pool.size()) + " tokens into whole " +
             std::to_string(n) + "-grams (from " + std::to_string(begin) + " to " + std::to_string(end) + ")";
    t.grams.emplace_back();
    for (int64_t at = begin; at < end; at += n) t.grams.back().emplace_back(pool.begin() + at, pool.begin() + at + n);
    grams += t.grams.back().size();
  }
  if (indexes.size() != grams)
    return "ngram_indexes has " + std::to_string(indexes.size()) + " entries for the pool's " + std::to_string(grams) +
           " n-grams";
  std::set<int64_t> seen;
  for (int64_t c : indexes) {
    if (c < 0 || c >= int64_t(kMaxPoolTokens)) return "ngram_indexes holds " + std::to_string(c) + ", not a column";
    if (!seen.insert(c).second) return "ngram_indexes names column " + std::to_string(c) + " twice";
    t.outputs = std::max(t.outputs, c + 1);
  }
  size_t next = 0;
  for (const auto &ofLength : t.grams) {
    t.columns.emplace_back(indexes.begin() + next, indexes.begin() + next + ofLength.size());
    next += ofLength.size();
  }
  // weights[i] weighs the pool's i-th n-gram (as ONNX Runtime reads them): moved to its column.
  const std::vector<float> weights = floatsOf(node, "weights");
  if (!weights.empty() && weights.size() != indexes.size())
    return "it has " + std::to_string(weights.size()) + " weights for the pool's " + std::to_string(indexes.size()) +
           " n-grams";
  if (!weights.empty()) {
    t.weights.assign(size_t(t.outputs), 0.0f);
    for (size_t i = 0; i < indexes.size(); ++i) t.weights[size_t(indexes[i])] = weights[i];
  }
  return t;
}

} // namespace fractal::onnx_frontend::detail
