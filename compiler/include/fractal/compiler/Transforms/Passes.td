// The compiler's passes, declared once: summary, description, options and statistics here; the
// implementations in lib/Transforms/, one file per pass.
#ifndef FRACTAL_PASSES
#define FRACTAL_PASSES

include "mlir/Pass/PassBase.td"

def Placement : Pass<"fractal-placement", "::mlir::func::FuncOp"> {
  let summary = "Record where each graph op runs on the NPU, and why";
  let description = [{
    Attaches `fractal.placement` (`cube`, `vector`, `dma` or `host`) and
    `fractal.placement_reason` to every graph op, from the op's own definition
    (`PlacedOpInterface` in GraphOps.td): matrix products on the cube, element-wise math,
    activations, pooling, normalisation and resizing on the vector unit, pure data movement by
    DMA, shape bookkeeping and constants on the host. Later phases lower each op for its unit;
    compile reports and the debug map show the decision. An op without a placement is an error.
    (The statistics count ops per unit; Debian's LLVM, built without assertions, does not
    collect pass statistics.)
  }];
  let statistics = [
    Statistic<"numCube", "cube", "Graph ops placed on the cube">,
    Statistic<"numVector", "vector", "Graph ops placed on the vector unit">,
    Statistic<"numDma", "dma", "Graph ops placed on DMA">,
    Statistic<"numHost", "host", "Graph ops placed on the host">,
  ];
}

#endif // FRACTAL_PASSES
