#include "fractal/compiler/Dialect/Graph/Constants.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace fractal::graph {

mlir::ElementsAttr makeConstantAttr(mlir::RankedTensorType type, llvm::ArrayRef<char> bytes,
                                    llvm::StringRef blobName) {
  if (type.getNumElements() <= kInlineConstantElements && !type.getElementType().isInteger(1)) {
    bool splat = false;
    if (!mlir::DenseElementsAttr::isValidRawBuffer(type, bytes, splat))
      return {};
    return mlir::DenseElementsAttr::getFromRawBuffer(type, bytes);
  }
  const int64_t bits = type.getElementTypeBitWidth();
  if (static_cast<int64_t>(bytes.size()) * 8 != type.getNumElements() * std::max<int64_t>(bits, 8))
    return {};
  return mlir::DenseResourceElementsAttr::get(
      type, blobName, mlir::HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignof(uint64_t)));
}

std::optional<std::vector<float>> readF32Constant(mlir::ElementsAttr attr) {
  if (!attr || !attr.getElementType().isF32())
    return std::nullopt;
  if (auto dense = llvm::dyn_cast<mlir::DenseElementsAttr>(attr)) {
    auto values = dense.getValues<float>();
    return std::vector<float>(values.begin(), values.end());
  }
  if (auto resource = llvm::dyn_cast<mlir::DenseF32ResourceElementsAttr>(attr)) {
    std::optional<llvm::ArrayRef<float>> values = resource.tryGetAsArrayRef();
    if (!values || static_cast<int64_t>(values->size()) != attr.getNumElements())
      return std::nullopt;
    return std::vector<float>(values->begin(), values->end());
  }
  return std::nullopt;
}

std::optional<std::vector<float>> readF32Constant(mlir::Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  return constant ? readF32Constant(constant.getValue()) : std::nullopt;
}

} // namespace fractal::graph
