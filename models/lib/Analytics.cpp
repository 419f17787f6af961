#include "fractal/models/Analytics.h"

#include "OnnxBuilder.h"

#include "fractal/support/File.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

namespace fractal::models {

namespace {

using Matrix = std::vector<std::vector<double>>;

// ---- linear algebra (small, dense, double) ------------------------------------------------------

// Solves A x = b for symmetric positive definite A (Cholesky); nothing if A is not.
std::optional<std::vector<double>> solveSpd(Matrix a, std::vector<double> b) {
  const size_t n = a.size();
  for (size_t j = 0; j < n; ++j) {
    double d = a[j][j];
    for (size_t k = 0; k < j; ++k) d -= a[j][k] * a[j][k];
    if (!(d > 0)) return std::nullopt;
    a[j][j] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i][j];
      for (size_t k = 0; k < j; ++k) s -= a[i][k] * a[j][k];
      a[i][j] = s / a[j][j];
    }
  }
  for (size_t i = 0; i < n; ++i) { // L y = b
    for (size_t k = 0; k < i; ++k) b[i] -= a[i][k] * b[k];
    b[i] /= a[i][i];
  }
  for (size_t i = n; i-- > 0;) { // L^T x = y
    for (size_t k = i + 1; k < n; ++k) b[i] -= a[k][i] * b[k];
    b[i] /= a[i][i];
  }
  return b;
}

// Eigenvalues (descending) and unit eigenvectors (columns of the result) of a symmetric matrix,
// by cyclic Jacobi rotations.
std::pair<std::vector<double>, Matrix> symmetricEigen(Matrix a) {
  const size_t n = a.size();
  Matrix v(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) v[i][i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = p + 1; q < n; ++q) off += a[p][q] * a[p][q];
    if (off < 1e-24) break;
    for (size_t p = 0; p < n; ++p)
      for (size_t q = p + 1; q < n; ++q) {
        if (std::abs(a[p][q]) < 1e-300) continue;
        const double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < n; ++k) { // A <- A J
          const double akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; ++k) { // A <- J^T A
          const double apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (size_t k = 0; k < n; ++k) {
          const double vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return a[x][x] > a[y][y]; });
  std::vector<double> values;
  Matrix vectors(n, std::vector<double>(n));
  for (size_t j = 0; j < n; ++j) {
    values.push_back(a[order[j]][order[j]]);
    for (size_t i = 0; i < n; ++i) vectors[i][j] = v[i][order[j]];
  }
  return {values, vectors};
}

std::string fixed(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

} // namespace

Expected<Table> readTable(const std::string &path) {
  Expected<std::string> text = readTextFile(path);
  if (!text) return text.takeError();
  Table table;
  std::istringstream in(*text);
  std::string line;
  size_t lineNo = 0;
  auto fields = [](std::string l) {
    std::vector<std::string> out;
    l.erase(std::remove(l.begin(), l.end(), '"'), l.end());
    l.erase(std::remove(l.begin(), l.end(), '\r'), l.end());
    std::stringstream s(l);
    for (std::string f; std::getline(s, f, ',');) out.push_back(f);
    return out;
  };
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::vector<std::string> f = fields(line);
    if (table.columns.empty() && table.rows.empty()) {
      if (f.size() < 2) return Error::badInput(path + ":" + std::to_string(lineNo) + ": a header of a label and values");
      table.columns.assign(f.begin() + 1, f.end());
      continue;
    }
    if (f.size() != table.columns.size() + 1)
      return Error::badInput(path + ":" + std::to_string(lineNo) + ": " + std::to_string(f.size()) + " fields, the header has " +
                             std::to_string(table.columns.size() + 1));
    std::vector<double> row;
    for (size_t i = 0; i < f.size(); ++i) {
      char *end = nullptr;
      const double v = std::strtod(f[i].c_str(), &end);
      if (f[i].empty() || !end || *end || !std::isfinite(v))
        return Error::badInput(path + ":" + std::to_string(lineNo) + ": field " + std::to_string(i + 1) + " ('" + f[i] +
                               "') is not a number");
      if (i == 0 && std::abs(v) > 9.0e18)
        return Error::badInput(path + ":" + std::to_string(lineNo) + ": label " + f[i] + " is out of range");
      if (i == 0) table.labels.push_back(int64_t(v));
      else row.push_back(v);
    }
    table.rows.push_back(std::move(row));
  }
  if (table.rows.empty()) return Error::badInput(path + ": no rows");
  return table;
}

Expected<BuiltModel> buildForecaster(const Table &table, int series, int window, int64_t testFrom, int hidden,
                                     uint32_t seed) {
  if (series < 0 || size_t(series) >= table.columns.size())
    return Error::badInput("forecaster: the table has no value column " + std::to_string(series + 1));
  std::vector<double> x;
  for (const auto &row : table.rows) x.push_back(row[size_t(series)]);
  const size_t n = x.size(), t = size_t(window), h = size_t(hidden);
  size_t split = n;
  for (size_t i = 0; i < n; ++i)
    if (table.labels[i] >= testFrom) {
      split = i;
      break;
    }
  if (window < 2 || split < t + size_t(4 * hidden) || split >= n)
    return Error::badInput("forecaster: " + std::to_string(n) + " rows, " + std::to_string(split) + " before " +
                           std::to_string(testFrom) + ": need " + std::to_string(t + size_t(4 * hidden)) +
                           " before it (the window and four per hidden unit) and some after");
  // Values enter scaled to about [0, 2] (x / scale) and the forecast leaves scaled back.
  double peak = 0;
  for (size_t i = 0; i < split; ++i) peak = std::max(peak, std::abs(x[i]));
  const float scale = float(peak > 0 ? peak / 2 : 1);

  // The reservoir: seeded uniform weights, the recurrent matrix scaled to spectral norm 0.9 (its
  // largest singular value, by power iteration on R^T R): a contraction, so the state forgets.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> win(h), r(h * h), bias(h);
  for (float &v : win) v = uniform(rng);
  for (float &v : r) v = uniform(rng);
  for (float &v : bias) v = 0.2f * uniform(rng);
  std::vector<double> v(h, 1.0);
  double sigma = 0;
  for (int it = 0; it < 200; ++it) {
    std::vector<double> w(h, 0.0), u(h, 0.0);
    for (size_t i = 0; i < h; ++i)
      for (size_t j = 0; j < h; ++j) w[i] += double(r[i * h + j]) * v[j];
    for (size_t j = 0; j < h; ++j)
      for (size_t i = 0; i < h; ++i) u[j] += double(r[i * h + j]) * w[i];
    const double norm = std::sqrt(std::inner_product(u.begin(), u.end(), u.begin(), 0.0));
    sigma = std::sqrt(norm);
    for (size_t j = 0; j < h; ++j) v[j] = u[j] / norm;
  }
  for (float &w : r) w = float(double(w) * 0.9 / sigma);

  // The state after a window ending at row `end` (exclusive), as ONNX's RNN computes it:
  // h' = tanh(W x + R h + b), from h = 0.
  auto state = [&](size_t end) {
    std::vector<double> s(h, 0.0), next(h);
    for (size_t k = end - t; k < end; ++k) {
      const double in = double(float(x[k]) / scale);
      for (size_t i = 0; i < h; ++i) {
        double a = double(win[i]) * in + double(bias[i]);
        for (size_t j = 0; j < h; ++j) a += double(r[i * h + j]) * s[j];
        next[i] = std::tanh(a);
      }
      s.swap(next);
    }
    s.push_back(1.0); // the readout's bias
    return s;
  };
  // The readout: ridge regression of the next value (scaled) on the state, lambda 0.1 (the bias
  // unpenalised), over every window whose target is before testFrom.
  const double lambda = 0.1;
  Matrix a(h + 1, std::vector<double>(h + 1, 0.0));
  std::vector<double> b(h + 1, 0.0);
  double trainSquares = 0;
  std::vector<std::vector<double>> trainStates;
  for (size_t end = t; end < split; ++end) {
    const std::vector<double> s = state(end);
    const double y = x[end] / scale;
    for (size_t i = 0; i <= h; ++i) {
      b[i] += s[i] * y;
      for (size_t j = 0; j <= h; ++j) a[i][j] += s[i] * s[j];
    }
    trainStates.push_back(s);
  }
  for (size_t i = 0; i < h; ++i) a[i][i] += lambda;
  std::optional<std::vector<double>> readout = solveSpd(a, b);
  if (!readout) return Error::badInput("forecaster: the readout's normal equations are singular");
  for (size_t k = 0; k < trainStates.size(); ++k) {
    const double y = std::inner_product(trainStates[k].begin(), trainStates[k].end(), readout->begin(), 0.0) * scale;
    trainSquares += (y - x[t + k]) * (y - x[t + k]);
  }

  BuiltModel built;
  std::vector<float> batch;
  for (size_t end = split; end < n; ++end) {
    for (size_t k = end - t; k < end; ++k) batch.push_back(float(x[k]));
    built.labels.push_back(table.labels[end]);
    built.targets.push_back(x[end]);
  }
  const int64_t rows = int64_t(built.labels.size());
  built.input = floatNpy({rows, int64_t(t)}, batch);

  GraphBuilder gb("echo_state_forecaster");
  gb.io(true, "history", {rows, int64_t(t)});
  gb.floats("inv_scale", {}, {1.0f / scale});
  gb.floats("scale", {}, {scale});
  gb.ints("sequence_shape", {int64_t(t), rows, 1});
  gb.ints("state_shape", {rows, int64_t(h)});
  gb.floats("W", {1, int64_t(h), 1}, win);
  gb.floats("R", {1, int64_t(h), int64_t(h)}, r);
  std::vector<float> rnnBias(bias);
  rnnBias.resize(2 * h, 0.0f); // Wb then Rb
  gb.floats("B", {1, int64_t(2 * h)}, rnnBias);
  std::vector<float> out(h);
  for (size_t i = 0; i < h; ++i) out[i] = float((*readout)[i]);
  gb.floats("readout", {int64_t(h), 1}, out);
  gb.floats("readout_bias", {1}, {float((*readout)[h])});
  gb.node("Mul", {"history", "inv_scale"}, {"scaled"});
  GraphBuilder::attr(gb.node("Transpose", {"scaled"}, {"by_time"}), "perm", std::vector<int64_t>{1, 0});
  gb.node("Reshape", {"by_time", "sequence_shape"}, {"sequence"});
  GraphBuilder::attr(gb.node("RNN", {"sequence", "W", "R", "B"}, {"", "last_state"}), "hidden_size", int64_t(h));
  gb.node("Reshape", {"last_state", "state_shape"}, {"state"});
  gb.node("Gemm", {"state", "readout", "readout_bias"}, {"scaled_forecast"});
  gb.node("Mul", {"scaled_forecast", "scale"}, {"forecast"});
  gb.io(false, "forecast", {rows, 1});
  built.onnx = gb.model.SerializeAsString();
  built.fit = "echo state network: " + std::to_string(h) + " tanh units (seed " + std::to_string(seed) +
              ", recurrent spectral norm 0.9), windows of " + std::to_string(t) + "; readout fit by ridge regression " +
              "(lambda 0.1) on " + std::to_string(trainStates.size()) + " windows before " + std::to_string(testFrom) +
              ": training RMSE " + fixed(std::sqrt(trainSquares / double(trainStates.size())), 2) + "; evaluation batch: " +
              std::to_string(rows) + " windows, " + std::to_string(built.labels.front()) + "-" +
              std::to_string(built.labels.back()) + "\n";
  return built;
}

Expected<BuiltModel> buildAnomalyDetector(const Table &table) {
  const size_t n = table.rows.size(), d = table.columns.size();
  if (n < d + 1 || d < 2)
    return Error::badInput("anomaly detector: " + std::to_string(n) + " rows of " + std::to_string(d) +
                           " values: need more rows than values and at least two values");
  std::vector<double> mean(d, 0.0);
  for (const auto &row : table.rows)
    for (size_t j = 0; j < d; ++j) mean[j] += row[j] / double(n);
  Matrix cov(d, std::vector<double>(d, 0.0));
  for (const auto &row : table.rows)
    for (size_t i = 0; i < d; ++i)
      for (size_t j = 0; j < d; ++j) cov[i][j] += (row[i] - mean[i]) * (row[j] - mean[j]) / double(n);
  auto [values, vectors] = symmetricEigen(cov);
  std::vector<float> component(d);
  double sum = 0;
  for (size_t i = 0; i < d; ++i) sum += vectors[i][0];
  for (size_t i = 0; i < d; ++i) component[i] = float(sum < 0 ? -vectors[i][0] : vectors[i][0]);
  const double total = std::accumulate(values.begin(), values.end(), 0.0);

  BuiltModel built;
  std::vector<float> batch, meanF(mean.begin(), mean.end());
  for (size_t k = 0; k < n; ++k) {
    for (double v : table.rows[k]) batch.push_back(float(v));
    built.labels.push_back(table.labels[k]);
  }
  built.input = floatNpy({int64_t(n), int64_t(d)}, batch);
  GraphBuilder gb("linear_autoencoder");
  gb.io(true, "profile", {int64_t(n), int64_t(d)});
  gb.floats("mean", {int64_t(d)}, meanF);
  gb.floats("encoder", {int64_t(d), 1}, component);
  gb.floats("decoder", {1, int64_t(d)}, component);
  gb.node("Sub", {"profile", "mean"}, {"centered"});
  gb.node("MatMul", {"centered", "encoder"}, {"code"});
  gb.node("MatMul", {"code", "decoder"}, {"decoded"});
  gb.node("Add", {"decoded", "mean"}, {"reconstruction"});
  gb.node("Sub", {"reconstruction", "profile"}, {"error"});
  gb.node("Mul", {"error", "error"}, {"squared"});
  auto *score = gb.node("ReduceMean", {"squared"}, {"score"});
  GraphBuilder::attr(score, "axes", std::vector<int64_t>{1});
  GraphBuilder::attr(score, "keepdims", int64_t(1));
  gb.io(false, "reconstruction", {int64_t(n), int64_t(d)});
  gb.io(false, "score", {int64_t(n), 1});
  built.onnx = gb.model.SerializeAsString();
  built.fit = "linear autoencoder, " + std::to_string(d) + " -> 1 -> " + std::to_string(d) +
              ": encoder and decoder the first principal component of the " + std::to_string(n) +
              " rows (Jacobi eigendecomposition of their covariance), which explains " +
              fixed(100 * values[0] / total, 1) + "% of the variance; score: mean squared reconstruction error\n";
  return built;
}

ForecastError forecastError(const std::vector<float> &forecast, const BuiltModel &model) {
  ForecastError e;
  const size_t rows = model.targets.size(), window = size_t(model.input.shape.at(1));
  const std::vector<float> history = npyFloats(model.input);
  for (size_t k = 0; k < rows && k < forecast.size(); ++k) {
    const double last = history[k * window + window - 1], want = model.targets[k];
    e.rmse += (forecast[k] - want) * (forecast[k] - want) / double(rows);
    e.persistence += (last - want) * (last - want) / double(rows);
  }
  e.rmse = std::sqrt(e.rmse);
  e.persistence = std::sqrt(e.persistence);
  return e;
}

std::string rankAnomalies(const std::vector<float> &scores, const std::vector<int64_t> &labels, size_t top) {
  std::vector<size_t> order(std::min(scores.size(), labels.size()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::string out;
  for (size_t k = 0; k < order.size() && k < top; ++k)
    out += std::to_string(labels[order[k]]) + " " + fixed(scores[order[k]], 3) + "\n";
  return out;
}

} // namespace fractal::models
