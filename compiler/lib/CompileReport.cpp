#include "fractal/compiler/CompileReport.h"

#include "fractal/compiler/Dialect/Graph/GraphDialect.h"
#include "fractal/compiler/Transforms/Passes.h"
#include "fractal/support/Json.h"

#include <map>

namespace fractal::compiler {

namespace {

void collectNames(mlir::Location loc, std::vector<std::string> &names) {
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(loc)) {
    names.push_back(name.getName().str());
  } else if (auto fused = llvm::dyn_cast<mlir::FusedLoc>(loc)) {
    for (mlir::Location inner : fused.getLocations())
      collectNames(inner, names);
  } else if (auto callSite = llvm::dyn_cast<mlir::CallSiteLoc>(loc)) {
    collectNames(callSite.getCallee(), names);
  }
}

std::string stringAttr(mlir::Operation *op, llvm::StringRef name) {
  auto attr = op->getAttrOfType<mlir::StringAttr>(name);
  return attr ? attr.str() : std::string();
}

} // namespace

std::vector<std::string> onnxNodeNames(mlir::Location loc) {
  std::vector<std::string> names;
  collectNames(loc, names);
  return names;
}

std::string compileReportJson(mlir::ModuleOp module, const std::string &model,
                              const std::string &phase) {
  JsonWriter j;
  std::map<std::string, int64_t> perUnit;
  j.beginObject().field("schema", "fractal.compile/1").field("model", model).field("phase", phase);
  j.key("ops").beginArray();
  module.walk([&](mlir::Operation *op) {
    if (!llvm::isa<fractal::graph::GraphDialect>(op->getDialect()) ||
        llvm::isa<fractal::graph::ConstantOp>(op))
      return;
    j.beginObject().field("op", op->getName().getStringRef().str());
    j.key("nodes").beginArray();
    for (const std::string &name : onnxNodeNames(op->getLoc()))
      j.value(name);
    j.endArray();
    const std::string unit = stringAttr(op, fractal::kPlacementAttr);
    if (!unit.empty()) {
      ++perUnit[unit];
      j.field("placement", unit).field("reason", stringAttr(op, fractal::kPlacementReasonAttr));
    }
    for (const char *clamp : {"clamp_min", "clamp_max"})
      if (auto value = op->getAttrOfType<mlir::FloatAttr>(clamp))
        j.field(clamp, value.getValueAsDouble());
    j.endObject();
  });
  j.endArray().key("placement").beginObject();
  for (const auto &[unit, count] : perUnit)
    j.field(unit, count);
  j.endObject().endObject();
  return j.str() + "\n";
}

} // namespace fractal::compiler
