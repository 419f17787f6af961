// Debugging aid: writes a copy of an ONNX model whose outputs are the given intermediate tensors,
// so a model that disagrees with ONNX Runtime can be bisected (compile and run the cut model with
// both). Usage: onnx_cut IN.onnx OUT.onnx TENSOR [TENSOR...]; `--list` prints the node outputs.
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: onnx_cut IN.onnx OUT.onnx TENSOR... | onnx_cut IN.onnx --list\n";
    return 2;
  }
  onnx::ModelProto model;
  std::ifstream in(argv[1], std::ios::binary);
  if (!model.ParseFromIstream(&in)) {
    std::cerr << argv[1] << ": not an ONNX model\n";
    return 2;
  }
  if (std::string(argv[2]) == "--list") {
    for (const auto &node : model.graph().node())
      for (const auto &out : node.output()) std::cout << node.op_type() << " " << out << "\n";
    return 0;
  }
  onnx::shape_inference::InferShapes(model);
  onnx::GraphProto *graph = model.mutable_graph();
  graph->clear_output();
  for (int i = 3; i < argc; ++i) {
    bool found = false;
    for (const auto &vi : graph->value_info())
      if (vi.name() == argv[i]) {
        *graph->add_output() = vi;
        found = true;
      }
    if (!found) {
      std::cerr << argv[i] << ": no such tensor with an inferred type\n";
      return 2;
    }
  }
  std::ofstream out(argv[2], std::ios::binary);
  return model.SerializeToOstream(&out) ? 0 : 1;
}
