// `fractal nlp`: the NLP family of models/ (Language.h). `build` makes the byte-level encoder that
// identifies a line's language from gettext catalogs and writes it as ONNX with its evaluation
// batch; `score` reads its outputs (as `fractal run` or scripts/ort-run.mjs write them).
#include "ArgParser.h"
#include "Commands.h"

#include "fractal/models/Language.h"
#include "fractal/support/File.h"
#include "fractal/support/Npy.h"

#include <iostream>
#include <sstream>

namespace fractal::cli {

int runNlpCommand(const Args &args) {
  std::string action, data, output, languages = "de,en,es,fr,it,nl,pt", domain = "coreutils";
  ArgParser parser("fractal nlp", "build and score the NLP model: a byte-level encoder that tells a line's language");
  parser.positional("ACTION", "build (from gettext catalogs into DIR) or score (read the model's outputs)", &action);
  parser.positional("LOCALE_DIR|DIR", "build: a locale tree (LANG/LC_MESSAGES/DOMAIN.mo, e.g. coreutils' /usr/share/locale); "
                    "score: the directory build wrote", &data);
  parser.option("--output", "DIR", "build: where model.onnx, input.npy (bytes) and rows.txt go; score: the directory "
                "with the model's output language.npy", &output, "-o");
  parser.option("--languages", "L,L,...", "build: the classes, catalog names and en for the originals (default "
                "de,en,es,fr,it,nl,pt)", &languages);
  parser.option("--domain", "NAME", "build: the catalogs' domain (default coreutils)", &domain);
  parser.epilog("EXIT CODES: 0 ok, 2 bad catalogs, outputs or flag.");
  if (std::optional<int> exit = parseArguments(parser, args)) return *exit;
  if (output.empty()) return reportError(Error::badInput("fractal nlp: give the directory with -o DIR"));
  if (action == "build") {
    std::vector<std::string> names;
    std::stringstream list(languages);
    for (std::string l; std::getline(list, l, ',');)
      if (!l.empty()) names.push_back(l);
    Expected<models::LanguageData> lines = models::readLanguageData(data, domain, names);
    if (!lines) return reportError(lines.error());
    Expected<models::BuiltClassifier> built = models::buildLanguageClassifier(*lines);
    if (!built) return reportError(built.error());
    if (Status s = createDirectories(output); !s) return reportError(s.error());
    std::string rows;
    for (const std::string &l : built->languages) rows += (rows.empty() ? "" : " ") + l;
    rows += "\n";
    for (int label : built->labels) rows += std::to_string(label) + "\n";
    for (Status s : {writeFileAtomically(output + "/model.onnx", built->onnx), writeNpyFile(output + "/input.npy", built->input),
                     writeFileAtomically(output + "/rows.txt", rows)})
      if (!s) return reportError(s.error());
    std::cout << built->fit << "wrote " << output << "/model.onnx, " << output << "/input.npy (bytes), " << output
              << "/rows.txt\n";
    return 0;
  }
  if (action != "score")
    return reportError(Error::badInput("fractal nlp: ACTION must be build or score, got '" + action + "'"));
  Expected<std::string> rows = readTextFile(data + "/rows.txt");
  if (!rows) return reportError(rows.error());
  std::istringstream in(*rows);
  std::string header;
  std::getline(in, header);
  std::vector<std::string> names;
  std::istringstream words(header);
  for (std::string w; words >> w;) names.push_back(w);
  std::vector<int> labels;
  for (int label; in >> label;) {
    if (label < 0 || size_t(label) >= names.size())
      return reportError(Error::badInput(data + "/rows.txt: label " + std::to_string(label) + " is not one of the " +
                                         std::to_string(names.size()) + " languages"));
    labels.push_back(label);
  }
  if (names.size() < 2 || labels.empty())
    return reportError(Error::badInput(data + "/rows.txt: expected the languages, then one label per row"));
  Expected<std::vector<float>> probabilities = readNpyFloats(output + "/language.npy", labels.size() * names.size());
  if (!probabilities) return reportError(probabilities.error());
  std::cout << models::languageReport(*probabilities, labels, names);
  return 0;
}

} // namespace fractal::cli
