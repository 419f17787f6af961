#include "fractal/models/Language.h"

#include "OnnxBuilder.h"

#include "fractal/support/File.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <sstream>

namespace fractal::models {

namespace {

uint32_t le32(const std::string &b, size_t at) {
  return uint32_t(uint8_t(b[at])) | uint32_t(uint8_t(b[at + 1])) << 8 | uint32_t(uint8_t(b[at + 2])) << 16 |
         uint32_t(uint8_t(b[at + 3])) << 24;
}

uint64_t fnv1a(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A message line without option syntax: words starting with '-' or '%' or holding '=' dropped,
// spaces collapsed; empty unless at least 24 bytes and half of them letters.
std::string cleanLine(const std::string &line) {
  std::istringstream words(line);
  std::string out, w;
  while (words >> w)
    if (w[0] != '-' && w[0] != '%' && w.find('=') == std::string::npos) out += (out.empty() ? "" : " ") + w;
  size_t letters = 0;
  for (unsigned char c : out) letters += std::isalpha(c) || c >= 0x80;
  return out.size() >= 24 && 2 * letters >= out.size() ? out : "";
}

// The encoder's shapes and weights. A vector is two halves: the byte's embedding (seeded random,
// in the first half) and its position (in the second: sine/cosine pairs of frequencies pi k / half,
// k = 1..half/2, so that the dot product of two positions is a Dirichlet kernel of their distance,
// sharp at 0). The attention head is constructed, not random: queries are the positions rotated
// back one step and keys the positions (scaled so the softmax all but picks the previous byte),
// values move the embedding into the second half, so each position also holds its previous
// byte's embedding and the feed-forward layer (seeded random ReLU features) sees byte pairs. Kept
// as float, the precision the ONNX model holds them in.
struct Encoder {
  int width = 64, dim = 128, hidden = 256;
  std::vector<float> embed, position, wq, wk, wv, wo, w1, b1, w2, b2;

  Encoder(int width, uint32_t seed, const std::vector<std::vector<double>> *profiles = nullptr) : width(width) {
    std::mt19937 rng(seed);
    auto normal = [&](size_t n, double sd) {
      std::normal_distribution<float> d(0.0f, float(sd));
      std::vector<float> v(n);
      for (float &x : v) x = d(rng);
      return v;
    };
    const int half = dim / 2;
    embed.assign(256 * size_t(dim), 0.0f);
    const std::vector<float> bytes = normal(256 * size_t(half), 1.0);
    for (int b = 0; b < 256; ++b)
      for (int i = 0; i < half; ++i) embed[size_t(b * dim + i)] = bytes[size_t(b * half + i)];
    // The first dimensions: each byte's centred log-frequency in each class's training lines (a
    // naive Bayes table), when given.
    if (profiles)
      for (size_t l = 0; l < profiles->size() && l < size_t(half); ++l)
        for (int b = 0; b < 256; ++b) embed[size_t(b * dim) + l] = float((*profiles)[l][size_t(b)]);
    position.assign(size_t(width) * size_t(dim), 0.0f);
    for (int p = 0; p < width; ++p)
      for (int k = 0; k < half / 2; ++k) {
        const double angle = M_PI * (k + 1) * p / half;
        position[size_t(p * dim + half + 2 * k)] = float(std::sin(angle));
        position[size_t(p * dim + half + 2 * k + 1)] = float(std::cos(angle));
      }
    // q . k = sharpness * sum_k cos(w_k (p - 1 - p')): half / 2 * sharpness at the previous byte,
    // about 0 elsewhere. The graph scales scores by 1 / sqrt(dim), so that is undone here.
    const double sharpness = 0.6 * std::sqrt(double(dim));
    wq.assign(size_t(dim * dim), 0.0f);
    wk.assign(size_t(dim * dim), 0.0f);
    for (int k = 0; k < half / 2; ++k) {
      const double w = M_PI * (k + 1) / half;
      const int s = half + 2 * k, c = s + 1; // (sin, cos) of w p -> of w (p - 1)
      wq[size_t(s * dim + s)] = float(sharpness * std::cos(w));
      wq[size_t(c * dim + s)] = float(-sharpness * std::sin(w));
      wq[size_t(s * dim + c)] = float(sharpness * std::sin(w));
      wq[size_t(c * dim + c)] = float(sharpness * std::cos(w));
      wk[size_t(s * dim + s)] = 1.0f;
      wk[size_t(c * dim + c)] = 1.0f;
    }
    wv.assign(size_t(dim * dim), 0.0f);
    wo.assign(size_t(dim * dim), 0.0f);
    for (int i = 0; i < half; ++i) {
      wv[size_t(i * dim + half + i)] = 1.0f; // the embedding into the second half
      wo[size_t((half + i) * dim + half + i)] = 1.0f;
    }
    w1 = normal(size_t(dim * hidden), std::sqrt(2.0 / dim));
    b1 = normal(size_t(hidden), 0.1);
    w2 = normal(size_t(hidden * dim), 1.0 / std::sqrt(double(hidden)));
    b2 = normal(size_t(dim), 0.1);
  }

  // x [rows, in] times w [in, out] (+ bias), in double.
  static std::vector<double> matmul(const std::vector<double> &x, const std::vector<float> &w, int in, int out,
                                    const std::vector<float> *bias = nullptr) {
    const size_t rows = x.size() / size_t(in);
    std::vector<double> y(rows * size_t(out), 0.0);
    for (size_t r = 0; r < rows; ++r)
      for (int k = 0; k < in; ++k) {
        const double a = x[r * size_t(in) + size_t(k)];
        for (int j = 0; j < out; ++j) y[r * size_t(out) + size_t(j)] += a * double(w[size_t(k * out + j)]);
      }
    if (bias)
      for (size_t r = 0; r < rows; ++r)
        for (int j = 0; j < out; ++j) y[r * size_t(out) + size_t(j)] += double((*bias)[size_t(j)]);
    return y;
  }
  void layerNorm(std::vector<double> &x) const {
    for (size_t r = 0; r < x.size() / size_t(dim); ++r) {
      double mean = 0, var = 0;
      for (int i = 0; i < dim; ++i) mean += x[r * size_t(dim) + size_t(i)] / dim;
      for (int i = 0; i < dim; ++i) var += std::pow(x[r * size_t(dim) + size_t(i)] - mean, 2) / dim;
      for (int i = 0; i < dim; ++i) x[r * size_t(dim) + size_t(i)] = (x[r * size_t(dim) + size_t(i)] - mean) / std::sqrt(var + 1e-5);
    }
  }

  // The pooled features of one line's bytes (0-padded to width), as the ONNX graph computes them.
  std::vector<double> pooled(const std::vector<int64_t> &bytes) const {
    const size_t L = size_t(width), D = size_t(dim);
    std::vector<double> x(L * D);
    for (size_t p = 0; p < L; ++p)
      for (size_t i = 0; i < D; ++i) x[p * D + i] = double(embed[size_t(bytes[p]) * D + i]) + double(position[p * D + i]);
    const std::vector<double> q = matmul(x, wq, dim, dim), k = matmul(x, wk, dim, dim), v = matmul(x, wv, dim, dim);
    std::vector<double> att(L * D, 0.0), scores(L);
    for (size_t a = 0; a < L; ++a) {
      double top = -1e300;
      for (size_t b = 0; b < L; ++b) {
        double s = 0;
        for (size_t i = 0; i < D; ++i) s += q[a * D + i] * k[b * D + i];
        scores[b] = s / std::sqrt(double(D)) + (bytes[b] == 0 ? -1e4 : 0.0);
        top = std::max(top, scores[b]);
      }
      double sum = 0;
      for (double &s : scores) sum += (s = std::exp(s - top));
      for (size_t b = 0; b < L; ++b)
        for (size_t i = 0; i < D; ++i) att[a * D + i] += scores[b] / sum * v[b * D + i];
    }
    std::vector<double> y = matmul(att, wo, dim, dim);
    for (size_t i = 0; i < y.size(); ++i) y[i] += x[i];
    layerNorm(y);
    std::vector<double> f = matmul(y, w1, dim, hidden, &b1);
    for (double &h : f) h = std::max(h, 0.0);
    std::vector<double> z = matmul(f, w2, hidden, dim, &b2);
    for (size_t i = 0; i < z.size(); ++i) z[i] += y[i];
    layerNorm(z);
    std::vector<double> out(D, 0.0);
    double count = 0;
    for (size_t p = 0; p < L; ++p) {
      if (bytes[p] == 0) continue;
      count += 1;
      for (size_t i = 0; i < D; ++i) out[i] += z[p * D + i];
    }
    for (double &o : out) o /= std::max(count, 1.0);
    return out;
  }
};

std::vector<int64_t> lineBytes(const std::string &text, int width) {
  std::vector<int64_t> b(size_t(width), 0);
  for (size_t i = 0; i < text.size() && i < size_t(width); ++i) b[i] = int64_t(uint8_t(text[i]));
  return b;
}

} // namespace

Expected<std::vector<std::pair<std::string, std::string>>> readMoFile(const std::string &path) {
  Expected<std::string> read = readTextFile(path);
  if (!read) return read.takeError();
  const std::string &b = *read;
  auto bad = [&](const std::string &why) { return Error::badInput(path + ": not a gettext catalog fractal reads: " + why); };
  if (b.size() < 20) return bad("shorter than its header");
  if (le32(b, 0) != 0x950412deu) return bad("no little-endian .mo magic (0x950412de)");
  const uint64_t count = le32(b, 8), originals = le32(b, 12), translations = le32(b, 16);
  if (originals + count * 8 > b.size() || translations + count * 8 > b.size())
    return bad(std::to_string(count) + " strings' tables run past the end of the file");
  std::vector<std::pair<std::string, std::string>> out;
  auto string = [&](uint64_t table, uint64_t i, std::string &s) {
    const uint64_t length = le32(b, size_t(table + 8 * i)), offset = le32(b, size_t(table + 8 * i + 4));
    if (offset + length > b.size()) return false;
    s = b.substr(size_t(offset), size_t(length));
    return true;
  };
  for (uint64_t i = 0; i < count; ++i) {
    std::string original, translation;
    if (!string(originals, i, original) || !string(translations, i, translation))
      return bad("string " + std::to_string(i) + " runs past the end of the file");
    out.emplace_back(original.substr(0, original.find('\0')), translation.substr(0, translation.find('\0')));
  }
  return out;
}

Expected<LanguageData> readLanguageData(const std::string &dir, const std::string &domain,
                                        const std::vector<std::string> &languages, size_t perLanguage) {
  LanguageData data;
  data.languages = languages;
  // Every catalog read once; "en" is the first one's originals.
  std::vector<std::vector<std::pair<std::string, std::string>>> catalogs(languages.size());
  const std::vector<std::pair<std::string, std::string>> *originals = nullptr;
  for (size_t l = 0; l < languages.size(); ++l) {
    if (languages[l] == "en") continue;
    Expected<std::vector<std::pair<std::string, std::string>>> catalog =
        readMoFile(dir + "/" + languages[l] + "/LC_MESSAGES/" + domain + ".mo");
    if (!catalog) return catalog.takeError();
    catalogs[l] = std::move(*catalog);
    if (!originals) originals = &catalogs[l];
  }
  if (!originals) return Error::badInput("readLanguageData: at least one language other than en is needed");
  for (size_t l = 0; l < languages.size(); ++l) {
    const std::vector<std::pair<std::string, std::string>> &pairs = languages[l] == "en" ? *originals : catalogs[l];
    std::set<std::string> seen;
    size_t train = 0, test = 0;
    for (const auto &[original, translation] : pairs) {
      if (original.empty() || (languages[l] != "en" && translation.empty())) continue; // the header; untranslated
      const bool isTest = fnv1a(original) % 5 == 0;
      std::istringstream lines(languages[l] == "en" ? original : translation);
      for (std::string line; std::getline(lines, line);) {
        const std::string text = cleanLine(line);
        if (text.empty() || !seen.insert(text).second) continue;
        if (isTest && test < perLanguage) data.test.push_back({text, int(l)}), ++test;
        if (!isTest && train < 4 * perLanguage) data.train.push_back({text, int(l)}), ++train;
      }
    }
    if (test == 0 || train == 0)
      return Error::badInput(dir + "/" + languages[l] + ": no usable lines in the " + domain + " catalog");
  }
  return data;
}

Expected<BuiltClassifier> buildLanguageClassifier(const LanguageData &data, int width, uint32_t seed) {
  const int classes = int(data.languages.size());
  if (classes < 2 || data.train.empty() || data.test.empty())
    return Error::badInput("language classifier: needs two languages or more with training and test lines");
  std::vector<std::vector<double>> profiles(size_t(classes), std::vector<double>(256, 1.0)); // add-one smoothing
  for (const LanguageLine &line : data.train)
    for (unsigned char c : line.text) profiles[size_t(line.language)][c] += 1;
  for (auto &p : profiles) {
    double total = 0;
    for (double v : p) total += v;
    for (double &v : p) v = std::log(v / total);
  }
  for (int b = 0; b < 256; ++b) {
    double mean = 0;
    for (const auto &p : profiles) mean += p[size_t(b)] / classes;
    for (auto &p : profiles) p[size_t(b)] -= mean;
  }
  const Encoder enc(width, seed, &profiles);
  const int D = enc.dim;
  // The head: softmax regression on standardised pooled features, by gradient descent (L2 1e-3),
  // then the standardisation folded into its weights.
  std::vector<std::vector<double>> features;
  for (const LanguageLine &line : data.train) features.push_back(enc.pooled(lineBytes(line.text, width)));
  const size_t n = features.size();
  std::vector<double> mean(size_t(D), 0.0), sd(size_t(D), 0.0);
  for (const auto &f : features)
    for (int i = 0; i < D; ++i) mean[size_t(i)] += f[size_t(i)] / double(n);
  for (const auto &f : features)
    for (int i = 0; i < D; ++i) sd[size_t(i)] += std::pow(f[size_t(i)] - mean[size_t(i)], 2) / double(n);
  for (double &s : sd) s = std::sqrt(s) + 1e-9;
  std::vector<double> w(size_t(D * classes), 0.0), b(size_t(classes), 0.0);
  auto probabilities = [&](const std::vector<double> &f) {
    std::vector<double> z(static_cast<size_t>(classes));
    double top = -1e300, sum = 0;
    for (int c = 0; c < classes; ++c) {
      z[size_t(c)] = b[size_t(c)];
      for (int i = 0; i < D; ++i) z[size_t(c)] += (f[size_t(i)] - mean[size_t(i)]) / sd[size_t(i)] * w[size_t(i * classes + c)];
      top = std::max(top, z[size_t(c)]);
    }
    for (double &v : z) sum += (v = std::exp(v - top));
    for (double &v : z) v /= sum;
    return z;
  };
  const double rate = 0.5, l2 = 1e-3;
  for (int step = 0; step < 400; ++step) {
    std::vector<double> gw(w.size(), 0.0), gb(b.size(), 0.0);
    for (size_t s = 0; s < n; ++s) {
      std::vector<double> p = probabilities(features[s]);
      p[size_t(data.train[s].language)] -= 1;
      for (int c = 0; c < classes; ++c) {
        gb[size_t(c)] += p[size_t(c)] / double(n);
        for (int i = 0; i < D; ++i)
          gw[size_t(i * classes + c)] += p[size_t(c)] * (features[s][size_t(i)] - mean[size_t(i)]) / sd[size_t(i)] / double(n);
      }
    }
    for (size_t i = 0; i < w.size(); ++i) w[i] -= rate * (gw[i] + l2 * w[i]);
    for (size_t c = 0; c < b.size(); ++c) b[c] -= rate * gb[c];
  }
  size_t right = 0;
  for (size_t s = 0; s < n; ++s) {
    const std::vector<double> p = probabilities(features[s]);
    right += size_t(std::max_element(p.begin(), p.end()) - p.begin()) == size_t(data.train[s].language);
  }
  std::vector<float> head(static_cast<size_t>(D * classes)), headBias(static_cast<size_t>(classes));
  for (int c = 0; c < classes; ++c) {
    double shift = b[size_t(c)];
    for (int i = 0; i < D; ++i) {
      head[size_t(i * classes + c)] = float(w[size_t(i * classes + c)] / sd[size_t(i)]);
      shift -= w[size_t(i * classes + c)] * mean[size_t(i)] / sd[size_t(i)];
    }
    headBias[size_t(c)] = float(shift);
  }

  BuiltClassifier built;
  built.languages = data.languages;
  const int64_t rows = int64_t(data.test.size()), L = width;
  std::vector<int64_t> tokens;
  for (const LanguageLine &line : data.test) {
    const std::vector<int64_t> bytes = lineBytes(line.text, width);
    tokens.insert(tokens.end(), bytes.begin(), bytes.end());
    built.labels.push_back(line.language);
  }
  built.input = NpyArray{"<i8", {rows, L}, std::vector<uint8_t>(tokens.size() * 8)};
  std::memcpy(built.input.data.data(), tokens.data(), built.input.data.size());

  GraphBuilder gb("byte_encoder_language_id");
  gb.io(true, "bytes", {rows, L}, onnx::TensorProto::INT64);
  gb.floats("embedding", {256, D}, enc.embed);
  gb.floats("positions", {L, D}, enc.position);
  gb.floats("Wq", {D, D}, enc.wq);
  gb.floats("Wk", {D, D}, enc.wk);
  gb.floats("Wv", {D, D}, enc.wv);
  gb.floats("Wo", {D, D}, enc.wo);
  gb.floats("W1", {D, enc.hidden}, enc.w1);
  gb.floats("b1", {enc.hidden}, enc.b1);
  gb.floats("W2", {enc.hidden, D}, enc.w2);
  gb.floats("b2", {D}, enc.b2);
  gb.floats("ln_scale", {D}, std::vector<float>(size_t(D), 1.0f));
  gb.floats("ln_bias", {D}, std::vector<float>(size_t(D), 0.0f));
  gb.floats("head", {D, classes}, head);
  gb.floats("head_bias", {classes}, headBias);
  gb.floats("inv_sqrt_d", {}, {float(1.0 / std::sqrt(double(D)))});
  gb.floats("masked", {}, {-1e4f});
  gb.floats("zero", {}, {0.0f});
  gb.floats("one", {}, {1.0f});
  onnx::TensorProto *padId = gb.g->add_initializer();
  padId->set_name("pad_id");
  padId->set_data_type(onnx::TensorProto::INT64);
  padId->add_int64_data(0);
  gb.ints("key_mask_shape", {rows, 1, L});
  gb.ints("keep_shape", {rows, L, 1});
  gb.ints("sequence_axis", {1});
  gb.node("Gather", {"embedding", "bytes"}, {"embedded"});
  gb.node("Add", {"embedded", "positions"}, {"x"});
  gb.node("Equal", {"bytes", "pad_id"}, {"padding"});
  gb.node("Where", {"padding", "masked", "zero"}, {"key_bias"});
  gb.node("Reshape", {"key_bias", "key_mask_shape"}, {"key_bias_rows"});
  gb.node("MatMul", {"x", "Wq"}, {"q"});
  gb.node("MatMul", {"x", "Wk"}, {"k"});
  gb.node("MatMul", {"x", "Wv"}, {"v"});
  GraphBuilder::attr(gb.node("Transpose", {"k"}, {"k_t"}), "perm", std::vector<int64_t>{0, 2, 1});
  gb.node("MatMul", {"q", "k_t"}, {"scores"});
  gb.node("Mul", {"scores", "inv_sqrt_d"}, {"scaled_scores"});
  gb.node("Add", {"scaled_scores", "key_bias_rows"}, {"masked_scores"});
  GraphBuilder::attr(gb.node("Softmax", {"masked_scores"}, {"attention"}), "axis", int64_t(-1));
  gb.node("MatMul", {"attention", "v"}, {"attended"});
  gb.node("MatMul", {"attended", "Wo"}, {"attention_out"});
  gb.node("Add", {"x", "attention_out"}, {"residual1"});
  GraphBuilder::attr(gb.node("LayerNormalization", {"residual1", "ln_scale", "ln_bias"}, {"y"}), "axis", int64_t(-1));
  gb.node("MatMul", {"y", "W1"}, {"ffn_in"});
  gb.node("Add", {"ffn_in", "b1"}, {"ffn_biased"});
  gb.node("Relu", {"ffn_biased"}, {"ffn_hidden"});
  gb.node("MatMul", {"ffn_hidden", "W2"}, {"ffn_out"});
  gb.node("Add", {"ffn_out", "b2"}, {"ffn_biased_out"});
  gb.node("Add", {"y", "ffn_biased_out"}, {"residual2"});
  GraphBuilder::attr(gb.node("LayerNormalization", {"residual2", "ln_scale", "ln_bias"}, {"z"}), "axis", int64_t(-1));
  gb.node("Where", {"padding", "zero", "one"}, {"keep"});
  gb.node("Reshape", {"keep", "keep_shape"}, {"keep_column"});
  gb.node("Mul", {"z", "keep_column"}, {"kept"});
  GraphBuilder::attr(gb.node("ReduceSum", {"kept", "sequence_axis"}, {"summed"}), "keepdims", int64_t(0));
  GraphBuilder::attr(gb.node("ReduceSum", {"keep", "sequence_axis"}, {"count"}), "keepdims", int64_t(1));
  gb.node("Div", {"summed", "count"}, {"pooled"});
  gb.node("Gemm", {"pooled", "head", "head_bias"}, {"logits"});
  GraphBuilder::attr(gb.node("Softmax", {"logits"}, {"language"}), "axis", int64_t(-1));
  gb.model.mutable_opset_import(0)->set_version(17); // LayerNormalization
  gb.io(false, "language", {rows, classes});
  built.onnx = gb.model.SerializeAsString();
  char accuracy[32];
  std::snprintf(accuracy, sizeof accuracy, "%.1f%%", 100.0 * double(right) / double(n));
  std::string names;
  for (const std::string &l : data.languages) names += (names.empty() ? "" : " ") + l;
  built.fit = "byte-level encoder (" + std::to_string(D) + "-wide: embeddings of 256 bytes, sinusoidal positions, one " +
              "attention head, feed-forward " + std::to_string(D) + " -> " + std::to_string(enc.hidden) + " -> " +
              std::to_string(D) + ", residuals and layer norms, masked mean over " + std::to_string(width) +
              " bytes). Weights: the embeddings seeded random (seed " + std::to_string(seed) + ") but for " +
              std::to_string(classes) + " dimensions, each byte's centred log-frequency per language in the training " +
              "lines; the attention head constructed to look at the previous byte; the feed-forward layer seeded random; " +
              "the classification head fit by softmax regression on " + std::to_string(n) + " training lines: training " +
              "accuracy " + accuracy + ". Languages: " + names + "; evaluation batch: " + std::to_string(rows) +
              " lines of messages not seen in training\n";
  return built;
}

std::string languageReport(const std::vector<float> &probabilities, const std::vector<int> &labels,
                           const std::vector<std::string> &languages, double *accuracy) {
  const size_t classes = languages.size(), rows = labels.size();
  std::vector<std::vector<int>> confusion(classes, std::vector<int>(classes, 0));
  size_t right = 0;
  for (size_t r = 0; r < rows && (r + 1) * classes <= probabilities.size(); ++r) {
    const auto begin = probabilities.begin() + std::ptrdiff_t(r * classes);
    const size_t guess = size_t(std::max_element(begin, begin + std::ptrdiff_t(classes)) - begin);
    ++confusion[size_t(labels[r])][guess];
    right += guess == size_t(labels[r]);
  }
  const double acc = rows ? double(right) / double(rows) : 0.0;
  if (accuracy) *accuracy = acc;
  char line[96];
  std::snprintf(line, sizeof line, "%zu lines: accuracy %.1f%%\n", rows, 100 * acc);
  std::string out = line;
  out += "true \\ guessed";
  for (const std::string &l : languages) out += " " + std::string(l.size() < 5 ? 5 - l.size() : 0, ' ') + l;
  out += "\n";
  for (size_t t = 0; t < classes; ++t) {
    std::snprintf(line, sizeof line, "%14s", languages[t].c_str());
    out += line;
    for (size_t g = 0; g < classes; ++g) {
      std::snprintf(line, sizeof line, " %*d", int(std::max<size_t>(5, languages[g].size())), confusion[t][g]);
      out += line;
    }
    out += "\n";
  }
  return out;
}

} // namespace fractal::models
