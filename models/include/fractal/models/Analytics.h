// The predictive-analytics family: no small trained public ONNX model for it is reachable here, so
// Fractal builds its own from public-domain data (Debian's python3-statsmodels datasets) and says
// how the weights were made:
//
// - a forecaster: an echo state network (a tanh RNN whose input and recurrent weights are seeded
//   random, the recurrent matrix scaled to spectral norm 0.9, so its state is a fading memory of the
//   window; only the linear readout is trained, by ridge regression, in closed form) predicting
//   next year's sunspot number from the last 24;
// - an anomaly detector: a linear autoencoder with a one-unit bottleneck at its optimum (encoder and
//   decoder the first principal component of the rows, the mean added back); the score is the mean
//   squared reconstruction error (on El Nino's monthly sea temperatures, rows are years).
//
// Both are written as ONNX models with a batch axis, so one run scores every row of a data set.
#pragma once

#include "fractal/support/Error.h"
#include "fractal/support/Npy.h"

#include <string>
#include <vector>

namespace fractal::models {

// A CSV of numbers with a header line: the first column labels each row (a year); the others are
// values. Quoted fields and blank lines are fine; any other non-number is an error naming the line.
struct Table {
  std::vector<std::string> columns; // the value columns' names
  std::vector<int64_t> labels;
  std::vector<std::vector<double>> rows;
};
Expected<Table> readTable(const std::string &path);

struct BuiltModel {
  std::string onnx;           // the serialized ModelProto
  NpyArray input;             // the evaluation batch, in the model's input layout
  std::vector<int64_t> labels; // the label (year) of each batch row: the forecast year, or the row's
  std::vector<double> targets; // forecaster: each row's true next value
  std::string fit;            // how the weights were made and how well they fit, for people
};

// The forecaster over one value column (`series`): windows of `window` values; the readout is fit
// on the windows whose target year is before `testFrom`, and the evaluation batch is every window
// whose target year is `testFrom` or later. Input "history" [batch, window], output "forecast"
// [batch, 1], raw units.
Expected<BuiltModel> buildForecaster(const Table &table, int series, int window, int64_t testFrom,
                                     int hidden = 32, uint32_t seed = 7);

// The anomaly detector over all value columns; every row is fit and scored. Input "profile"
// [batch, columns]; outputs "reconstruction" [batch, columns] and "score" [batch, 1].
Expected<BuiltModel> buildAnomalyDetector(const Table &table);

// Root mean squared error of forecasts against the targets, and of persistence (each window's
// last value as the forecast) for comparison.
struct ForecastError {
  double rmse = 0, persistence = 0;
};
ForecastError forecastError(const std::vector<float> &forecast, const BuiltModel &model);

// The rows by descending score: "1998 2.258\n..." for the first `top`.
std::string rankAnomalies(const std::vector<float> &scores, const std::vector<int64_t> &labels, size_t top);

} // namespace fractal::models
