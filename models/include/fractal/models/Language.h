// The NLP family: a BERT-style encoder that tells which language a line of text is in. No small
// trained public ONNX model for it is reachable here, so Fractal builds its own and says how the
// weights were made. The architecture is an encoder layer's: byte embeddings plus sinusoidal
// positions, one self-attention head with a padding mask, a ReLU feed-forward layer, residuals and
// layer norms, a masked mean over the bytes, a linear head and a softmax. No weight is trained by
// gradient through the encoder: the embeddings are seeded random but for one dimension per
// language holding each byte's centred log-frequency in that language's training lines (a naive
// Bayes table); the attention head is constructed to look at the previous byte, so the seeded
// random feed-forward layer sees byte pairs; only the classification head is fit, by softmax
// regression on the pooled features. The data are the translations of GNU coreutils' messages
// (Debian's coreutils package: a gettext catalog per language), split by message so that no test
// line's message was seen in training.
#pragma once

#include "fractal/support/Error.h"
#include "fractal/support/Npy.h"

#include <string>
#include <vector>

namespace fractal::models {

// The strings of a GNU gettext catalog (.mo): (original, translation) pairs, the first plural form
// for plural entries. A malformed file is an error naming the file and what is wrong.
Expected<std::vector<std::pair<std::string, std::string>>> readMoFile(const std::string &path);

struct LanguageLine {
  std::string text;
  int language = 0; // index into the languages
};

struct LanguageData {
  std::vector<std::string> languages; // catalog names, "en" for the originals
  std::vector<LanguageLine> train, test;
};

// Lines of 24..64 bytes after dropping option syntax (words starting with '-' or '%', or holding
// '='), at least half letters, from each catalog `<dir>/<language>/LC_MESSAGES/<domain>.mo`; "en"
// takes the catalogs' originals. Messages are split into train and test by a hash of the original
// (the same for every language); at most `perLanguage` test lines and 4x as many training lines per
// language.
Expected<LanguageData> readLanguageData(const std::string &dir, const std::string &domain,
                                        const std::vector<std::string> &languages, size_t perLanguage = 100);

struct BuiltClassifier {
  std::string onnx;     // input "bytes" [batch, 64] int64 (UTF-8 bytes, 0 = padding); output "language" [batch, classes]
  NpyArray input;       // the test lines, in that layout
  std::vector<int> labels;
  std::vector<std::string> languages;
  std::string fit;      // how the weights were made and the training accuracy
};

Expected<BuiltClassifier> buildLanguageClassifier(const LanguageData &data, int width = 64, uint32_t seed = 11);

// Accuracy of per-row class probabilities against the labels, and the confusions, as text.
std::string languageReport(const std::vector<float> &probabilities, const std::vector<int> &labels,
                           const std::vector<std::string> &languages, double *accuracy = nullptr);

} // namespace fractal::models
