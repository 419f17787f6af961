#include "TreeEnsemble.h"

#include "NodeAttributes.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace fractal::onnx_frontend::detail {

namespace {

// Bounds the tables (the turns matrix is the largest: trees x branches x leaves).
constexpr int64_t kMaxTableEntries = int64_t(1) << 24;

} // namespace

std::variant<TreeTables, std::string> readTreeEnsemble(const onnx::NodeProto &node, int64_t features) {
  const std::vector<int64_t> treeIds = intsOf(node, "nodes_treeids"), nodeIds = intsOf(node, "nodes_nodeids"),
                             featureIds = intsOf(node, "nodes_featureids"), trueIds = intsOf(node, "nodes_truenodeids"),
                             falseIds = intsOf(node, "nodes_falsenodeids");
  std::vector<int64_t> tracks = intsOf(node, "nodes_missing_value_tracks_true");
  const std::vector<float> values = floatsOf(node, "nodes_values");
  std::vector<std::string> modes;
  if (const auto *a = attribute(node, "nodes_modes")) modes.assign(a->strings().begin(), a->strings().end());
  const size_t n = nodeIds.size();
  if (tracks.empty()) tracks.assign(n, 0);
  if (n == 0) return std::string("the ensemble has no tree nodes");
  for (size_t size : {treeIds.size(), featureIds.size(), trueIds.size(), falseIds.size(), tracks.size(), values.size(),
                      modes.size()})
    if (size != n)
      return "the nodes_* attributes differ in length (nodes_nodeids has " + std::to_string(n) + " entries, another " +
             std::to_string(size) + ")";
  // A classifier's scores are a regressor's targets, one per class label.
  const bool classifier = node.op_type() == "TreeEnsembleClassifier";
  const std::string prefix = classifier ? "class_" : "target_";
  const std::vector<int64_t> targetTrees = intsOf(node, (prefix + "treeids").c_str()),
                             targetNodes = intsOf(node, (prefix + "nodeids").c_str()),
                             targetIds = intsOf(node, (prefix + "ids").c_str());
  const std::vector<float> targetWeights = floatsOf(node, (prefix + "weights").c_str());
  if (targetTrees.size() != targetNodes.size() || targetIds.size() != targetNodes.size() ||
      targetWeights.size() != targetNodes.size())
    return "the " + prefix + "* attributes differ in length";
  TreeTables t;
  const auto *nTargets = attribute(node, "n_targets");
  t.targets = nTargets ? nTargets->i() : 1;
  if (classifier) {
    t.labels = intsOf(node, "classlabels_int64s");
    t.targets = int64_t(t.labels.size());
    if (t.targets < 2)
      return "a classifier of " + std::to_string(t.targets) + " int64 class label(s): two or more are needed";
  }
  if (t.targets < 1 || t.targets > 4096) return "n_targets " + std::to_string(t.targets) + " is not in 1..4096";
  const std::vector<float> base = floatsOf(node, "base_values");
  const bool twoClasses = classifier && t.targets == 2;
  if (!base.empty() && int64_t(base.size()) != t.targets && !(twoClasses && base.size() == 1))
    return "base_values has " + std::to_string(base.size()) + " values for " + std::to_string(t.targets) + " targets";
  t.baseValues = base.size();
  t.base = base;
  t.base.resize(size_t(t.targets), 0.0f);
  if (twoClasses) {
    t.oneClassWeighed = std::set<int64_t>(targetIds.begin(), targetIds.end()).size() == 1;
    for (float w : targetWeights) t.weightsNonNegative = t.weightsNonNegative && w >= 0;
    // (ONNX Runtime's own cases: a label of 0 or 1 whatever the labels are, a second score left
    // unwritten.)
    if (!t.oneClassWeighed && t.labels != std::vector<int64_t>{0, 1})
      return "two classes weighed both, labelled " + std::to_string(t.labels[0]) + " and " + std::to_string(t.labels[1]) +
             ": ONNX Runtime labels such an ensemble 0 or 1 whatever classlabels_int64s says, which is not supported";
    if (!t.oneClassWeighed && t.baseValues == 1)
      return "two classes weighed both with one base value: ONNX Runtime leaves the second score of some rows "
             "unwritten, which is not supported";
  }
  const auto *aggregate = attribute(node, "aggregate_function");
  t.average = aggregate && aggregate->s() == "AVERAGE";

  // The nodes of each tree, trees in the order they first appear.
  std::vector<int64_t> trees;
  std::map<int64_t, size_t> treeIndex;
  std::map<std::pair<int64_t, int64_t>, size_t> at; // (tree id, node id) -> position in the lists
  for (size_t i = 0; i < n; ++i) {
    if (treeIndex.emplace(treeIds[i], trees.size()).second) trees.push_back(treeIds[i]);
    if (!at.emplace(std::make_pair(treeIds[i], nodeIds[i]), i).second)
      return "tree " + std::to_string(treeIds[i]) + " has node " + std::to_string(nodeIds[i]) + " twice";
    static const std::set<std::string> kModes = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                                 "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    if (!kModes.count(modes[i])) return "node mode '" + modes[i] + "' is not supported";
    if (modes[i] != "LEAF" && (featureIds[i] < 0 || featureIds[i] >= features))
      return "tree " + std::to_string(treeIds[i]) + " node " + std::to_string(nodeIds[i]) + " reads feature " +
             std::to_string(featureIds[i]) + " of an input with " + std::to_string(features);
  }
  t.trees = int64_t(trees.size());

  // Per tree: its root (the node no other node names as a child), then a walk from it giving each
  // branch its index and each leaf its index and path.
  struct Walked {
    std::vector<size_t> branches, leaves;
    std::vector<std::vector<std::pair<size_t, int>>> paths; // per leaf: (branch index, +1 or -1)
  };
  std::vector<Walked> walked(trees.size());
  for (size_t k = 0; k < trees.size(); ++k) {
    const int64_t tree = trees[k];
    std::set<int64_t> children;
    for (size_t i = 0; i < n; ++i)
      if (treeIds[i] == tree && modes[i] != "LEAF") {
        for (int64_t child : {trueIds[i], falseIds[i]}) {
          if (!at.count({tree, child}))
            return "tree " + std::to_string(tree) + " node " + std::to_string(nodeIds[i]) + " has child " +
                   std::to_string(child) + ", which is not in the tree";
          children.insert(child);
        }
      }
    std::vector<size_t> roots;
    for (size_t i = 0; i < n; ++i)
      if (treeIds[i] == tree && !children.count(nodeIds[i])) roots.push_back(i);
    if (roots.size() != 1)
      return "tree " + std::to_string(tree) + " has " + std::to_string(roots.size()) + " roots (nodes no other names as a "
             "child); a tree has one";
    // ONNX Runtime (and the converters) take a tree's first node as its root: another order would
    // mean another model there.
    if (roots[0] != size_t(std::find(treeIds.begin(), treeIds.end(), tree) - treeIds.begin()))
      return "tree " + std::to_string(tree) + "'s root, node " + std::to_string(nodeIds[roots[0]]) +
             ", is not its first node, which ONNX Runtime takes as the root";
    Walked &w = walked[k];
    std::vector<std::pair<size_t, std::vector<std::pair<size_t, int>>>> stack = {{roots[0], {}}};
    std::set<size_t> seen;
    while (!stack.empty()) {
      auto [i, path] = std::move(stack.back());
      stack.pop_back();
      if (!seen.insert(i).second)
        return "tree " + std::to_string(tree) + " reaches node " + std::to_string(nodeIds[i]) + " twice (a cycle or a "
               "shared subtree)";
      if (modes[i] == "LEAF") {
        w.leaves.push_back(i);
        w.paths.push_back(std::move(path));
        continue;
      }
      const size_t branch = w.branches.size();
      w.branches.push_back(i);
      auto truePath = path;
      truePath.emplace_back(branch, 1);
      path.emplace_back(branch, -1);
      stack.push_back({at.at({tree, falseIds[i]}), std::move(path)});
      stack.push_back({at.at({tree, trueIds[i]}), std::move(truePath)});
    }
    t.branches = std::max<int64_t>(t.branches, int64_t(w.branches.size()));
    t.leaves = std::max<int64_t>(t.leaves, int64_t(w.leaves.size()));
  }
  t.branches = std::max<int64_t>(t.branches, 1); // a tree of one leaf still gets a (padding) branch
  if (t.trees * t.branches * t.leaves > kMaxTableEntries || t.trees * t.leaves * t.targets > kMaxTableEntries)
    return "the ensemble's tables (" + std::to_string(t.trees) + " trees of up to " + std::to_string(t.branches) +
           " branches and " + std::to_string(t.leaves) + " leaves) exceed 2^24 entries";

  const size_t B = size_t(t.branches), L = size_t(t.leaves), K = size_t(t.targets);
  t.feature.assign(trees.size() * B, 0);
  t.threshold.assign(trees.size() * B, 0.0f);
  t.mode.assign(trees.size() * B, "LEQ");
  t.nanTakesTrue.assign(trees.size() * B, 0.0f);
  t.turns.assign(trees.size() * B * L, 0.0f);
  t.trueTurns.assign(trees.size() * L, 0.5f);
  t.weights.assign(trees.size() * L * K, 0.0f);
  t.carries.assign(trees.size() * L * K, 0.0f);
  std::map<size_t, size_t> leafOf; // node position -> index into weights' leaves (tree-major)
  std::set<std::pair<size_t, int64_t>> weighted; // (leaf index, target) pairs with a weight
  for (size_t k = 0; k < trees.size(); ++k) {
    const Walked &w = walked[k];
    for (size_t b = 0; b < w.branches.size(); ++b) {
      const size_t i = w.branches[b];
      t.feature[k * B + b] = int32_t(featureIds[i]);
      t.threshold[k * B + b] = values[i];
      t.mode[k * B + b] = modes[i].substr(7); // without "BRANCH_"
      // A NaN compares false, so only NEQ holds for it (as in ONNX Runtime), or missing_value_tracks_true.
      t.nanTakesTrue[k * B + b] = tracks[i] || modes[i] == "BRANCH_NEQ" ? 1.0f : 0.0f;
    }
    for (size_t l = 0; l < w.leaves.size(); ++l) {
      leafOf[w.leaves[l]] = k * L + l;
      float trueCount = 0;
      for (const auto &[b, turn] : w.paths[l]) {
        t.turns[(k * B + b) * L + l] = float(turn);
        trueCount += turn > 0 ? 1.0f : 0.0f;
      }
      t.trueTurns[k * L + l] = trueCount;
    }
  }
  for (size_t e = 0; e < targetNodes.size(); ++e) {
    auto it = at.find({targetTrees[e], targetNodes[e]});
    if (it == at.end() || !leafOf.count(it->second))
      return "target weight " + std::to_string(e) + " names tree " + std::to_string(targetTrees[e]) + " node " +
             std::to_string(targetNodes[e]) + ", which is not a leaf";
    if (targetIds[e] < 0 || targetIds[e] >= t.targets)
      return "target weight " + std::to_string(e) + " is for target " + std::to_string(targetIds[e]) + " of " +
             std::to_string(t.targets);
    t.weights[leafOf[it->second] * K + size_t(targetIds[e])] += targetWeights[e];
    t.carries[leafOf[it->second] * K + size_t(targetIds[e])] = 1.0f;
    weighted.insert({leafOf[it->second], targetIds[e]});
  }
  // Without base values, ONNX Runtime leaves a class no reached leaf weighs out of the label's
  // argmax, which a sum of zeros cannot say: every leaf then needs a weight for every class (of
  // three or more: two are told apart by which the leaves weigh).
  if (classifier && base.empty() && !twoClasses)
    for (size_t k = 0; k < trees.size(); ++k)
      for (size_t l = 0; l < walked[k].leaves.size(); ++l)
        for (int64_t c = 0; c < t.targets; ++c)
          if (!weighted.count({k * L + l, c}))
            return "tree " + std::to_string(trees[k]) + " node " + std::to_string(nodeIds[walked[k].leaves[l]]) +
                   " has no weight for class " + std::to_string(c) + " and there are no base_values: ONNX Runtime "
                   "leaves such a class out of the label, which is not supported";
  return t;
}

} // namespace fractal::onnx_frontend::detail
