// Runs a compiled package through the runtime's C API, as an application would, for the end-to-end
// tests: every output's actual dims (frtGetDatasetTensorDesc) and bytes, by name.
#pragma once

#include "fractal/package/Package.h"
#include "fractal/runtime/fractal_runtime.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace fractal::test {

struct Written {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

// Runs `p` on `inputs` (bytes, in the model's input order) on `target` (a preset or a config
// file; the package's) in `mode`.
inline std::map<std::string, Written> run(const pkg::Package &p, const std::vector<std::vector<uint8_t>> &inputs,
                                          const char *mode, const std::string &target = "edge") {
  std::map<std::string, Written> out;
  const std::vector<uint8_t> bytes = pkg::serializePackage(p);
  EXPECT_EQ(frtInit((target + ":" + mode).c_str()), FRT_SUCCESS) << frtGetRecentErrMsg();
  frtSetDevice(0);
  frtModel m = nullptr;
  EXPECT_EQ(frtModelLoadFromMem(bytes.data(), bytes.size(), &m), FRT_SUCCESS) << frtGetRecentErrMsg();
  frtDataset in, outs;
  frtCreateDataset(&in);
  frtCreateDataset(&outs);
  for (const std::vector<uint8_t> &x : inputs) {
    void *b;
    frtMalloc(&b, x.size(), FRT_MEM_MALLOC_HUGE_FIRST);
    frtMemcpy(b, x.size(), x.data(), x.size(), FRT_MEMCPY_HOST_TO_DEVICE);
    frtAddDatasetBuffer(in, b, x.size());
  }
  std::vector<void *> results;
  for (uint32_t o : p.outputs) {
    void *b;
    frtMalloc(&b, p.tensors[o].dataBytes(), FRT_MEM_MALLOC_HUGE_FIRST);
    frtAddDatasetBuffer(outs, b, p.tensors[o].dataBytes());
    results.push_back(b);
  }
  EXPECT_EQ(frtModelExecute(m, in, outs), FRT_SUCCESS) << frtGetRecentErrMsg();
  for (size_t i = 0; i < results.size(); ++i) {
    frtTensorDesc d;
    EXPECT_EQ(frtGetDatasetTensorDesc(outs, i, &d), FRT_SUCCESS) << frtGetRecentErrMsg();
    Written w{std::vector<int64_t>(d.dims, d.dims + d.numDims), std::vector<uint8_t>(d.size)};
    frtMemcpy(w.bytes.data(), w.bytes.size(), results[i], d.size, FRT_MEMCPY_DEVICE_TO_HOST);
    out[p.tensors[p.outputs[i]].name] = std::move(w);
  }
  frtFinalize(); // (the device's memory goes with it)
  return out;
}

} // namespace fractal::test
