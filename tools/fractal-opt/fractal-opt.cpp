// fractal-opt: mlir-opt for Fractal. Registers the dialects and passes the compiler uses so that
// lit tests can run any pass on any IR: Fractal's graph dialect, and the upstream dialects that
// are the compiler's kernel-level vocabulary, and the npu dialect of kernels.
#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Dialect/Npu/NpuDialect.h"
#include "fractal/compiler/Transforms/Passes.h"
#include "fractal/compiler/Transforms/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<fractal::graph::GraphDialect, fractal::npu::NpuDialect, mlir::arith::ArithDialect, mlir::func::FuncDialect, mlir::linalg::LinalgDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect,
                  mlir::tensor::TensorDialect>();
  fractal::registerFractalPasses();
  fractal::registerFractalPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Fractal optimizer driver\n", registry));
}
