// Internal: a TfIdfVectorizer's attributes read into the n-gram tables its composition needs,
// shared by the support check (which reports what is wrong with them) and the importer.
//
// The composition, on token ids (int32 or int64; string pools are refused): for each n-gram
// length n counted (min_gram_length..max_gram_length) and each distance d between an n-gram's
// tokens (1 for unigrams; 1..max_skip_count + 1 for longer n-grams, as ONNX Runtime counts them),
// the tokens at every start are compared with the pool's n-grams of that length token by token
// ([rows, starts, n-grams] booleans, and-ed) and the matches summed over the starts. The output
// columns gather those counts (ngram_indexes; 0 for a column no counted n-gram has), IDF turns a
// count into presence, and IDF and TFIDF multiply by the weights.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace fractal::onnx_frontend::detail {

struct TfIdfTables {
  int64_t minGram = 0, maxGram = 0, maxSkip = 0;
  std::string mode; // TF, IDF or TFIDF
  // grams[n - 1]: the pool's n-grams, n tokens each; columns[n - 1][i]: the output column of
  // grams[n - 1][i].
  std::vector<std::vector<std::vector<int64_t>>> grams;
  std::vector<std::vector<int64_t>> columns;
  int64_t outputs = 0;        // max(ngram_indexes) + 1
  std::vector<float> weights; // by output column (0 for a column no n-gram has); empty: 1
};

// The tables, or why the node cannot be compiled: a string pool, a mode other than TF, IDF and
// TFIDF, gram lengths out of order, ngram_counts that do not split the pool into whole n-grams,
// ngram_indexes of another count than the n-grams or with a column twice, weights of another
// count than the n-grams, tables too large.
std::variant<TfIdfTables, std::string> readTfIdf(const onnx::NodeProto &node);

} // namespace fractal::onnx_frontend::detail
