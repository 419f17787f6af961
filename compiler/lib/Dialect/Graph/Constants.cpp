#include "fractal/compiler/Dialect/Graph/Constants.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <algorithm>

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

std::optional<std::vector<char>> readConstantBytes(mlir::ElementsAttr attr) {
  if (!attr)
    return std::nullopt;
  mlir::Type type = attr.getElementType();
  const int64_t count = attr.getNumElements();
  if (auto resource = llvm::dyn_cast<mlir::DenseResourceElementsAttr>(attr)) {
    mlir::AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    llvm::ArrayRef<char> data = blob->getData();
    // Booleans are one byte each (as makeConstantAttr stores them), read as 0/1.
    const int64_t bits = std::max<int64_t>(type.getIntOrFloatBitWidth(), 8);
    if (int64_t(data.size()) * 8 != count * bits)
      return std::nullopt;
    std::vector<char> out(data.begin(), data.end());
    if (type.isInteger(1))
      for (char &b : out) b = b != 0;
    return out;
  }
  auto dense = llvm::dyn_cast<mlir::DenseElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  std::vector<char> out;
  auto append = [&out](const void *p, size_t n) {
    out.insert(out.end(), static_cast<const char *>(p), static_cast<const char *>(p) + n);
  };
  if (type.isInteger(1)) {
    for (bool b : dense.getValues<bool>())
      out.push_back(b ? 1 : 0);
  } else if (llvm::isa<mlir::FloatType>(type)) {
    for (const llvm::APFloat &v : dense.getValues<llvm::APFloat>()) {
      uint64_t bits = v.bitcastToAPInt().getZExtValue();
      append(&bits, type.getIntOrFloatBitWidth() / 8);
    }
  } else if (type.isIntOrIndex()) {
    unsigned width = type.isIndex() ? 64 : type.getIntOrFloatBitWidth();
    for (const llvm::APInt &v : dense.getValues<llvm::APInt>()) {
      uint64_t bits = v.getZExtValue();
      append(&bits, width / 8);
    }
  } else {
    return std::nullopt;
  }
  return out;
}

} // namespace fractal::graph
