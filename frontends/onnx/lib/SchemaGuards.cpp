// ONNX's operator schemas with guards in front of shape-inference functions that read out of
// bounds on inputs the check cannot see yet (see OnnxModel.h, guardedSchemas).
#include "OnnxModel.h"

#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>

#include <map>
#include <memory>
#include <mutex>

namespace fractal::onnx_frontend::detail {

namespace {

// The weight's input slot of each guarded operator (the data is input 0).
int weightSlot(const std::string &op) {
  if (op == "Conv" || op == "ConvInteger" || op == "ConvTranspose") return 1;
  if (op == "QLinearConv") return 3;
  return -1;
}

int rankOf(onnx::InferenceContext &ctx, size_t slot) {
  if (slot >= ctx.getNumInputs()) return -1;
  const onnx::TypeProto *type = ctx.getInputType(slot);
  if (!type || !type->has_tensor_type() || !type->tensor_type().has_shape()) return -1;
  return type->tensor_type().shape().dim_size();
}

// Debian's ONNX (1.12) takes a convolution's kernel shape from the weight's spatial dims and
// indexes its dilations, strides and pads by the data's: a data tensor of lower rank than the
// weight made it read and write past their ends (a crash, found by tests/fuzz/mutate_models.py on
// a ConvInteger whose input had lost a dim). The ranks must be equal anyway (N, C, spatial dims).
void requireMatchingRanks(onnx::InferenceContext &ctx, int slot) {
  const int data = rankOf(ctx, 0), weight = rankOf(ctx, size_t(slot));
  if (data >= 0 && weight >= 0 && data != weight)
    fail_shape_inference("the input has rank ", data, " and the weight rank ", weight,
                         ": a convolution needs both of the same rank (N, C, then the spatial dims)");
}

class GuardedSchemas final : public onnx::ISchemaRegistry {
public:
  const onnx::OpSchema *GetSchema(const std::string &key, const int maxInclusiveVersion,
                                  const std::string &domain) const override {
    const onnx::OpSchema *schema = onnx::OpSchemaRegistry::Instance()->GetSchema(key, maxInclusiveVersion, domain);
    const int slot = domain.empty() || domain == "ai.onnx" ? weightSlot(key) : -1;
    if (!schema || slot < 0 || !schema->has_type_and_shape_inference_function()) return schema;
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<onnx::OpSchema> &guarded = guarded_[schema];
    if (!guarded) {
      guarded = std::make_unique<onnx::OpSchema>(*schema);
      guarded->TypeAndShapeInferenceFunction(
          [slot, infer = schema->GetTypeAndShapeInferenceFunction()](onnx::InferenceContext &ctx) {
            requireMatchingRanks(ctx, slot);
            infer(ctx);
          });
    }
    return guarded.get();
  }

private:
  mutable std::mutex mutex_;
  mutable std::map<const onnx::OpSchema *, std::unique_ptr<onnx::OpSchema>> guarded_; // by ONNX's schema
};

} // namespace

const onnx::ISchemaRegistry *guardedSchemas() {
  static const GuardedSchemas registry;
  return &registry;
}

} // namespace fractal::onnx_frontend::detail
