// `fractal analytics`: the predictive-analytics family of models/ (Analytics.h). `build` trains a
// model from a CSV of public data and writes it as ONNX with its evaluation batch; `score` reads a
// model's outputs (as `fractal run` or scripts/ort-run.mjs write them) and says how it did.
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/models/Analytics.h"
#include "fractal/support/File.h"
#include "fractal/support/Npy.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace fractal::cli {
namespace {

// What `build` writes into DIR and `score` reads back: the model, its input batch, the rows'
// labels and (forecaster) targets, as one line "label target" per row.
Status writeBuilt(const std::string &dir, const models::BuiltModel &built) {
  if (Status s = createDirectories(dir); !s) return s;
  if (Status s = writeFileAtomically(dir + "/model.onnx", built.onnx); !s) return s;
  if (Status s = writeNpyFile(dir + "/input.npy", built.input); !s) return s;
  std::string rows;
  for (size_t k = 0; k < built.labels.size(); ++k)
    rows += std::to_string(built.labels[k]) + (k < built.targets.size() ? " " + std::to_string(built.targets[k]) : "") + "\n";
  return writeFileAtomically(dir + "/rows.txt", rows);
}

Expected<models::BuiltModel> readBuilt(const std::string &dir) {
  models::BuiltModel built;
  Expected<NpyArray> input = readNpyFile(dir + "/input.npy");
  if (!input) return input.takeError();
  built.input = std::move(*input);
  Expected<std::string> rows = readTextFile(dir + "/rows.txt");
  if (!rows) return rows.takeError();
  std::istringstream in(*rows);
  for (std::string line; std::getline(in, line);) {
    long long label = 0;
    double target = 0;
    const int got = std::sscanf(line.c_str(), "%lld %lf", &label, &target);
    if (got < 1) return Error::badInput(dir + "/rows.txt: '" + line + "' is not 'label [target]'");
    built.labels.push_back(label);
    if (got == 2) built.targets.push_back(target);
  }
  return built;
}


} // namespace

int runAnalyticsCommand(const Args &args) {
  std::string action, kind, data, dir, output, column = "1", window = "24", testFrom = "1930", top = "5";
  ArgParser parser("fractal analytics", "build and score the predictive-analytics models (a forecaster, an anomaly detector)");
  parser.positional("ACTION", "build (train a model from a CSV into DIR) or score (read its outputs)", &action);
  parser.positional("KIND", "forecaster (an echo state network) or anomaly (a linear autoencoder)", &kind);
  parser.positional("CSV|DIR", "build: the data (a header, then a label such as the year and values per row); "
                    "score: the directory build wrote", &data);
  parser.option("--output", "DIR", "build: where model.onnx, input.npy (its evaluation batch) and rows.txt go; "
                "score: the directory with the model's outputs (forecast.npy or score.npy)", &output, "-o");
  parser.option("--column", "N", "forecaster: the value column to forecast (default 1, the first after the label)", &column);
  parser.option("--window", "N", "forecaster: values per window (default 24)", &window);
  parser.option("--test-from", "LABEL", "forecaster: fit on targets before this label, evaluate on the rest (default 1930)",
                &testFrom);
  parser.option("--top", "N", "anomaly: how many of the highest scores to list (default 5)", &top);
  parser.epilog("EXIT CODES: 0 ok, 2 bad data, outputs or flag.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (kind != "forecaster" && kind != "anomaly")
    return reportError(Error::badInput("fractal analytics: KIND must be forecaster or anomaly, got '" + kind + "'"));
  if (output.empty()) return reportError(Error::badInput("fractal analytics: give the directory with -o DIR"));
  if (action == "build") {
    Expected<models::Table> table = models::readTable(data);
    if (!table) return reportError(table.error());
    Expected<models::BuiltModel> built =
        kind == "forecaster"
            ? models::buildForecaster(*table, std::atoi(column.c_str()) - 1, std::atoi(window.c_str()), std::atoll(testFrom.c_str()))
            : models::buildAnomalyDetector(*table);
    if (!built) return reportError(built.error().withContext(data));
    if (Status s = writeBuilt(output, *built); !s) return reportError(s.error());
    std::cout << built->fit << "wrote " << output << "/model.onnx, " << output << "/input.npy ("
              << (kind == "forecaster" ? "history" : "profile") << "), " << output << "/rows.txt\n";
    return 0;
  }
  if (action != "score")
    return reportError(Error::badInput("fractal analytics: ACTION must be build or score, got '" + action + "'"));
  Expected<models::BuiltModel> built = readBuilt(data);
  if (!built) return reportError(built.error());
  const size_t rows = built->labels.size();
  if (kind == "forecaster") {
    if (built->targets.size() != rows)
      return reportError(Error::badInput(data + "/rows.txt: a forecaster's rows need 'label target'"));
    Expected<std::vector<float>> forecast = readNpyFloats(output + "/forecast.npy", rows);
    if (!forecast) return reportError(forecast.error());
    const models::ForecastError e = models::forecastError(*forecast, *built);
    std::printf("%zu forecasts, %lld-%lld: RMSE %.2f; persistence (last value) %.2f\n", rows,
                (long long)built->labels.front(), (long long)built->labels.back(), e.rmse, e.persistence);
    return 0;
  }
  Expected<std::vector<float>> scores = readNpyFloats(output + "/score.npy", rows);
  if (!scores) return reportError(scores.error());
  std::cout << "highest anomaly scores of " << rows << " rows:\n"
            << models::rankAnomalies(*scores, built->labels, size_t(std::max(1, std::atoi(top.c_str()))));
  return 0;
}

} // namespace fractal::cli
