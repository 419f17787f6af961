// Host-fallback kernels ("AI CPU"): the ops a package runs on the host, on float32 tensors read
// from and written back to device memory by the caller. Each checks what it relies on and returns
// an error naming the op instead of reading out of bounds.
#pragma once

#include "fractal/package/Package.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <vector>

namespace fractal::runtime {

struct HostTensor {
  const pkg::Tensor *desc = nullptr;
  std::vector<uint8_t> bytes; // dataBytes() of desc
};

// Runs `op` reading `inputs` and filling `outputs` (already sized).
Status runHostOp(const pkg::Task &task, const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs);

} // namespace fractal::runtime
