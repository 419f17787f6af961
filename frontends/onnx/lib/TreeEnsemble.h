// Internal: an ai.onnx.ml TreeEnsembleRegressor's or TreeEnsembleClassifier's trees read into
// the tables its composition needs (a classifier's classes are a regressor's targets), shared by the support check (which reports what is wrong with them) and the importer.
//
// The composition (as Hummingbird compiles trees to tensor ops): every branch's decision for
// every row at once (its feature gathered, compared with its threshold: 1 or 0); then per tree,
// a product of the decisions with a [branches, leaves] matrix of turns (+1 where the leaf lies
// under the branch's true child, -1 under its false one) counts, for each leaf, the turns the row
// agrees with minus those it does not take: it equals the leaf's count of true turns exactly for
// the one leaf the row reaches. That leaf's weights are summed over the trees.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace fractal::onnx_frontend::detail {

struct TreeTables {
  int64_t trees = 0, branches = 0, leaves = 0, targets = 0; // branches, leaves: the largest tree's
  // Per branch, [trees * branches] (a tree with fewer padded): the feature it reads, its threshold,
  // its comparison (ONNX's mode without "BRANCH_": LEQ, LT, GTE, GT, EQ, NEQ) and whether a NaN
  // feature takes its true child (missing_value_tracks_true, or NEQ, which a NaN satisfies).
  std::vector<int32_t> feature;
  std::vector<float> threshold;
  std::vector<std::string> mode;
  std::vector<float> nanTakesTrue;
  std::vector<float> turns;     // [trees, branches, leaves]: +1, -1 or 0
  std::vector<float> trueTurns; // [trees, leaves]: the true turns on the leaf's path (0.5 for padding: never reached)
  std::vector<float> weights;   // [trees, leaves, targets]
  // [trees, leaves, targets]: 1 where the leaf lists a weight for the target (even 0). ONNX
  // Runtime scores two classes by which of them the leaves a row reaches weigh at all.
  std::vector<float> carries;
  std::vector<float> base;      // [targets] (zeros when there are no base_values)
  size_t baseValues = 0;        // how many base_values the node has (0, or targets; 1 or 2 for two classes)
  bool average = false;         // aggregate_function AVERAGE (else SUM)
  std::vector<int64_t> labels;  // a TreeEnsembleClassifier's classlabels_int64s (its targets are the classes)
  // Two classes, as ONNX Runtime tells the cases apart: every weight for one class id (the
  // positive class's score, as LightGBM and gradient boosting export it), and no weight negative.
  bool oneClassWeighed = false, weightsNonNegative = true;
};

// The tables, or why the node cannot be compiled: attribute lists of different lengths, a node
// id twice, a child that is not in its tree, a tree without one root or with a cycle, a feature
// outside the `features` the input has, a target outside n_targets, tables too large.
std::variant<TreeTables, std::string> readTreeEnsemble(const onnx::NodeProto &node, int64_t features);

} // namespace fractal::onnx_frontend::detail
