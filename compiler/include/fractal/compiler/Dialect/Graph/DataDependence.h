// Values whose extent along one axis is known only at run time. NonZero, Compress, Unique (but
// its inverse_indices) and NmsSelect write their actual extent into a tensor of its own; their
// result types hold the bound. Ops after them run over the bound, as for any static shape: the
// slices past the extent are computed from what the root left there (zeros, which are valid
// indices), and the result keeps the root's extent along the axis that the op maps the root's
// to. Code generation asks this analysis which ops can do that and which axis a model output's
// extent is along (package Tensor::dynamicAxis).
#pragma once

#include "fractal/compiler/Dialect/Graph/GraphDialect.h"

#include "llvm/ADT/DenseMap.h"

#include <string>

namespace fractal::graph {

struct DataDependence {
  mlir::Operation *root = nullptr; // the op whose kernel writes the extent
  unsigned axis = 0;               // the axis of this value that the extent is along
  // Non-empty: the op that produced this value cannot carry an extent known only at run time
  // (why, in words that follow "it"), or `inherited` from an operand that could not.
  std::string unsupported;
  bool inherited = false;
};

// Every value in `block` that depends on a data-dependent extent, in one pass over its ops.
llvm::DenseMap<mlir::Value, DataDependence> dataDependences(mlir::Block &block);

} // namespace fractal::graph
