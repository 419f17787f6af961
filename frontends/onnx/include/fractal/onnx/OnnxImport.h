// Importing a checked ONNX model into the compiler's graph dialect: one `func.func @main` whose
// arguments are the graph inputs and whose results are the graph outputs, one graph op per ONNX
// node (located at the node's name), weights as dense_resource blobs.
#pragma once

#include "fractal/onnx/OnnxCheck.h"
#include "fractal/support/Error.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace fractal::onnx_frontend {

// Registers the dialects the imported IR uses.
void loadImportDialects(mlir::MLIRContext &context);

// Runs the support check, then imports. A model that fails the check returns BadInput with the
// check's report as the message.
Expected<mlir::OwningOpRef<mlir::ModuleOp>> importOnnxModel(mlir::MLIRContext &context,
                                                            const std::string &path,
                                                            const std::vector<InputShape> &shapes);

} // namespace fractal::onnx_frontend
