// Constant tensors of the graph dialect: how they are stored (small ones inline, weights as
// dense_resource blobs) and how passes read them back, in one place for the importer and passes.
#pragma once

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <optional>
#include <vector>

namespace fractal::graph {

// Up to this many elements a constant stays inline, so folding and IR dumps can read it; larger
// ones become dense_resource blobs (a giant DenseElementsAttr would be copied by every pass).
inline constexpr int64_t kInlineConstantElements = 16;

// The attribute for a constant of `type` holding `bytes` (little-endian, row-major). `blobName`
// names the resource blob when one is made. Null if the bytes do not match the type.
mlir::ElementsAttr makeConstantAttr(mlir::RankedTensorType type, llvm::ArrayRef<char> bytes,
                                    llvm::StringRef blobName);

// The elements of an f32 constant (inline or blob), or nullopt for other types or missing blobs.
std::optional<std::vector<float>> readF32Constant(mlir::ElementsAttr attr);

// The same for a value, when a graph.constant defines it; nullopt for runtime data.
std::optional<std::vector<float>> readF32Constant(mlir::Value value);

// The elements of any constant as packed little-endian bytes (bool as one byte per element), or
// nullopt for an element type without a packed form or a missing blob.
std::optional<std::vector<char>> readConstantBytes(mlir::ElementsAttr attr);

} // namespace fractal::graph
