// The `graph` dialect (GraphOps.td): ONNX-level tensor operations, the compiler's first IR.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h" // must precede the generated op headers
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h.inc"
#include "fractal/compiler/Dialect/Graph/GraphOpInterfaces.h.inc"

#define GET_OP_CLASSES
#include "fractal/compiler/Dialect/Graph/GraphOps.h.inc"
