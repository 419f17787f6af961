// Host-fallback kernels (HostKernels.h). Broadcasting follows numpy: shapes aligned at the right,
// a dimension of 1 stretches.
#include "HostKernels.h"

#include "fractal/package/WeightLayouts.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <optional>

namespace fractal::runtime {
namespace {

std::vector<float> floats(const HostTensor &t) {
  std::vector<float> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), v.size() * 4);
  return v;
}

void store(HostTensor &t, const std::vector<float> &v) { std::memcpy(t.bytes.data(), v.data(), v.size() * 4); }

// Row-major strides of `shape` as seen from an output of rank `rank` (0 where broadcast).
std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape, const std::vector<int64_t> &out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    size_t d = shape.size() - 1 - i, o = out.size() - 1 - i;
    strides[o] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

bool broadcastable(const std::vector<int64_t> &in, const std::vector<int64_t> &out) {
  if (in.size() > out.size()) return false;
  for (size_t i = 0; i < in.size(); ++i) {
    int64_t a = in[in.size() - 1 - i], b = out[out.size() - 1 - i];
    if (a != b && a != 1) return false;
  }
  return true;
}

Status binary(const pkg::Task &task, const std::vector<HostTensor> &in, HostTensor &out,
              const std::function<float(float, float)> &f) {
  const std::vector<int64_t> &shape = out.desc->shape;
  if (!broadcastable(in[0].desc->shape, shape) || !broadcastable(in[1].desc->shape, shape))
    return Error::badInput("host op " + task.name + ": operand shapes do not broadcast to the output");
  std::vector<float> a = floats(in[0]), b = floats(in[1]), c(size_t(out.desc->elementCount()));
  std::vector<int64_t> sa = broadcastStrides(in[0].desc->shape, shape);
  std::vector<int64_t> sb = broadcastStrides(in[1].desc->shape, shape);
  std::vector<int64_t> index(shape.size(), 0);
  for (size_t e = 0; e < c.size(); ++e) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    c[e] = f(a[size_t(ia)], b[size_t(ib)]);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  store(out, c);
  return Status::success();
}

// numpy matmul: 1-D operands are promoted, leading (batch) dims broadcast.
Status matmul(const pkg::Task &task, const std::vector<HostTensor> &in, HostTensor &out) {
  std::vector<int64_t> as = in[0].desc->shape, bs = in[1].desc->shape;
  if (as.empty() || bs.empty()) return Error::badInput("host op " + task.name + ": scalar matmul operand");
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  if (bs[bs.size() - 2] != k) return Error::badInput("host op " + task.name + ": inner dimensions differ");
  std::vector<int64_t> batchA(as.begin(), as.end() - 2), batchB(bs.begin(), bs.end() - 2);
  std::vector<int64_t> batch = batchA.size() >= batchB.size() ? batchA : batchB;
  for (size_t i = 0; i < batch.size(); ++i) {
    int64_t a = i + batchA.size() >= batch.size() ? batchA[i + batchA.size() - batch.size()] : 1;
    int64_t b = i + batchB.size() >= batch.size() ? batchB[i + batchB.size() - batch.size()] : 1;
    if (a != b && a != 1 && b != 1) return Error::badInput("host op " + task.name + ": batch dims do not broadcast");
    batch[i] = std::max(a, b);
  }
  if (!broadcastable(batchA, batch) || !broadcastable(batchB, batch))
    return Error::badInput("host op " + task.name + ": batch dims do not broadcast");
  int64_t batches = 1;
  for (int64_t d : batch) batches *= d;
  if (batches * m * n != out.desc->elementCount())
    return Error::badInput("host op " + task.name + ": output size does not match the operands");
  std::vector<int64_t> sa = broadcastStrides(batchA, batch), sb = broadcastStrides(batchB, batch);
  std::vector<float> a = floats(in[0]), b = floats(in[1]), c(size_t(batches * m * n));
  std::vector<int64_t> index(batch.size(), 0);
  for (int64_t t = 0; t < batches; ++t) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    const float *pa = &a[size_t(ia * m * k)], *pb = &b[size_t(ib * k * n)];
    float *pc = &c[size_t(t * m * n)];
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float sum = 0;
        for (int64_t x = 0; x < k; ++x) sum += pa[i * k + x] * pb[x * n + j];
        pc[i * n + j] = sum;
      }
    for (size_t d = batch.size(); d-- > 0;) {
      if (++index[d] < batch[d]) break;
      index[d] = 0;
    }
  }
  store(out, c);
  return Status::success();
}

bool allF32(const std::vector<HostTensor> &ts) {
  for (const HostTensor &t : ts)
    if (t.desc->dtype != pkg::DType::F32) return false;
  return true;
}

// TopK along 'axis' ('k', 'largest'): float32 values and int64 indices, sorted; equal values keep
// their order (the lower index first), NaN counts as larger than any number (numpy's order).
Status topK(const pkg::Task &task, const HostTensor &in, HostTensor &values, HostTensor &indices) {
  auto one = [&](const char *key) -> std::optional<int64_t> {
    auto it = task.host.ints.find(key);
    if (it == task.host.ints.end() || it->second.size() != 1) return std::nullopt;
    return it->second[0];
  };
  const std::optional<int64_t> axis = one("axis"), k = one("k"), largest = one("largest");
  const std::vector<int64_t> &shape = in.desc->shape;
  if (!axis || !k || !largest || *axis < 0 || *axis >= int64_t(shape.size()) || *k < 0 || *k > shape[size_t(*axis)])
    return Error::badInput("host op " + task.name + ": TopK needs 'axis', 'k' and 'largest' within the input's shape");
  std::vector<int64_t> expected = shape;
  expected[size_t(*axis)] = *k;
  if (in.desc->dtype != pkg::DType::F32 || values.desc->dtype != pkg::DType::F32 || indices.desc->dtype != pkg::DType::I64 ||
      values.desc->shape != expected || indices.desc->shape != expected)
    return Error::badInput("host op " + task.name + ": TopK reads float32 and writes float32 values and int64 "
                           "indices shaped like the input with k along the axis");
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (int64_t(d) < *axis) outer *= shape[d];
    else if (int64_t(d) > *axis) inner *= shape[d];
  const int64_t n = shape[size_t(*axis)];
  const std::vector<float> x = floats(in);
  std::vector<float> v(size_t(outer * *k * inner));
  std::vector<int64_t> idx(v.size());
  auto greater = [](float a, float b) { return std::isnan(a) ? !std::isnan(b) : !std::isnan(b) && a > b; };
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return x[size_t((o * n + j) * inner + i)]; };
      for (int64_t j = 0; j < n; ++j) order[size_t(j)] = j;
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return *largest ? greater(at(a), at(b)) : greater(at(b), at(a));
      });
      for (int64_t j = 0; j < *k; ++j) {
        v[size_t((o * *k + j) * inner + i)] = at(order[size_t(j)]);
        idx[size_t((o * *k + j) * inner + i)] = order[size_t(j)];
      }
    }
  store(values, v);
  std::memcpy(indices.bytes.data(), idx.data(), idx.size() * 8);
  return Status::success();
}

// Element moves of any dtype (by element size): Transpose with 'perm', Concat along 'axis'.
Status transpose(const pkg::Task &task, const HostTensor &in, HostTensor &out) {
  auto it = task.host.ints.find("perm");
  const std::vector<int64_t> &shape = in.desc->shape;
  if (it == task.host.ints.end() || it->second.size() != shape.size() || in.desc->dtype != out.desc->dtype)
    return Error::badInput("host op " + task.name + ": Transpose needs 'perm' of the input's rank");
  const std::vector<int64_t> &perm = it->second;
  std::vector<bool> seen(shape.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(shape.size()) || seen[size_t(p)])
      return Error::badInput("host op " + task.name + ": 'perm' is not a permutation");
    seen[size_t(p)] = true;
  }
  const size_t size = pkg::dtypeSize(in.desc->dtype), rank = shape.size();
  std::vector<int64_t> inStrides(rank, 1);
  for (size_t d = rank; d-- > 1;) inStrides[d - 1] = inStrides[d] * shape[d];
  std::vector<int64_t> outShape(rank), index(rank, 0);
  for (size_t d = 0; d < rank; ++d) outShape[d] = shape[size_t(perm[d])];
  if (outShape != out.desc->shape) return Error::badInput("host op " + task.name + ": output shape does not match");
  const int64_t n = out.desc->elementCount();
  for (int64_t e = 0; e < n; ++e) {
    int64_t src = 0;
    for (size_t d = 0; d < rank; ++d) src += index[d] * inStrides[size_t(perm[d])];
    std::memcpy(&out.bytes[size_t(e) * size], &in.bytes[size_t(src) * size], size);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return Status::success();
}

Status concat(const pkg::Task &task, const std::vector<HostTensor> &in, HostTensor &out) {
  auto it = task.host.ints.find("axis");
  const std::vector<int64_t> &shape = out.desc->shape;
  if (it == task.host.ints.end() || it->second.size() != 1 || it->second[0] < 0 ||
      it->second[0] >= int64_t(shape.size()))
    return Error::badInput("host op " + task.name + ": Concat needs an 'axis' inside the output's rank");
  const size_t axis = size_t(it->second[0]), size = pkg::dtypeSize(out.desc->dtype);
  int64_t outer = 1, inner = 1, total = 0;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (const HostTensor &t : in) {
    if (t.desc->dtype != out.desc->dtype || t.desc->shape.size() != shape.size())
      return Error::badInput("host op " + task.name + ": inputs differ from the output in dtype or rank");
    total += t.desc->shape[axis];
    if (t.desc->elementCount() != outer * inner * t.desc->shape[axis])
      return Error::badInput("host op " + task.name + ": an input's shape does not fit the output");
  }
  if (total != shape[axis]) return Error::badInput("host op " + task.name + ": inputs do not add up to the output");
  int64_t offset = 0;
  for (const HostTensor &t : in) {
    const int64_t width = t.desc->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(&out.bytes[size_t((o * shape[axis] * inner + offset * inner)) * size],
                  &t.bytes[size_t(o * width) * size], size_t(width) * size);
    offset += t.desc->shape[axis];
  }
  return Status::success();
}

// Run-time convolution weights into the cube's layout (package WeightLayouts.h); groups become a
// dense block-diagonal kernel as the compiler does for constant weights.
Status packConvWeights(const pkg::Task &task, const HostTensor &in, HostTensor &out) {
  auto layout = task.host.ints.find("layout");
  auto groups = task.host.ints.find("group");
  if (layout == task.host.ints.end() || layout->second.size() != 9 || groups == task.host.ints.end() ||
      groups->second.size() != 1)
    return Error::badInput("host op " + task.name + ": PackConvWeights needs 'layout' (9 values) and 'group'");
  const std::vector<int64_t> &v = layout->second;
  pkg::ConvWeightLayout l{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8] != 0};
  const int64_t group = groups->second[0];
  if (l.cout <= 0 || l.cin <= 0 || l.kh <= 0 || l.kw <= 0 || group <= 0 || l.cout % group || l.cin % group ||
      l.cop < l.cout || l.cip < l.cin || l.cop % 16 || l.cip % 16 || l.nt < 16 || l.nt % 16 || l.kc1 < 1 ||
      (l.depthwise && (l.nt != 16 || l.kc1 != 1 || l.cip != l.cop)) ||
      l.cout > (1 << 16) || l.cin > (1 << 16) || l.kh > 255 || l.kw > 255)
    return Error::badInput("host op " + task.name + ": inconsistent weight layout");
  const int64_t taps = l.kh * l.kw, cinPerGroup = l.cin / group, coutPerGroup = l.cout / group;
  if (in.desc->dtype != pkg::DType::F32 || int64_t(in.bytes.size()) != l.cout * cinPerGroup * taps * 4)
    return Error::badInput("host op " + task.name + ": weights are not float32 [" + std::to_string(l.cout) + "," +
                           std::to_string(cinPerGroup) + "," + std::to_string(l.kh) + "," + std::to_string(l.kw) + "]");
  std::vector<float> w = floats(in), dense(size_t(l.cout * l.cin * taps), 0.0f);
  for (int64_t oc = 0; oc < l.cout; ++oc)
    for (int64_t ic = 0; ic < cinPerGroup; ++ic)
      for (int64_t t = 0; t < taps; ++t)
        dense[size_t((oc * l.cin + (oc / coutPerGroup) * cinPerGroup + ic) * taps + t)] =
            w[size_t((oc * cinPerGroup + ic) * taps + t)];
  std::vector<uint16_t> packed = pkg::packConvWeights(l, dense.data());
  if (packed.size() * 2 != out.bytes.size())
    return Error::badInput("host op " + task.name + ": packed weights do not match the output tensor");
  std::memcpy(out.bytes.data(), packed.data(), out.bytes.size());
  return Status::success();
}

} // namespace

Status runHostOp(const pkg::Task &task, const std::vector<HostTensor> &inputs,
                 std::vector<HostTensor> &outputs) {
  const std::string &op = task.host.opType;
  auto arity = [&](size_t in, size_t out) {
    return inputs.size() == in && outputs.size() == out;
  };
  if (op == "Copy") {
    if (!arity(1, 1) || inputs[0].bytes.size() != outputs[0].bytes.size())
      return Error::badInput("host op " + task.name + ": Copy needs one input and one output of equal size");
    outputs[0].bytes = inputs[0].bytes;
    return Status::success();
  }
  if (op == "PackConvWeights" && arity(1, 1)) return packConvWeights(task, inputs[0], outputs[0]);
  if (op == "PadBias" && arity(1, 1)) {
    if (inputs[0].bytes.size() > outputs[0].bytes.size())
      return Error::badInput("host op " + task.name + ": bias larger than its padded form");
    std::fill(outputs[0].bytes.begin(), outputs[0].bytes.end(), 0);
    std::copy(inputs[0].bytes.begin(), inputs[0].bytes.end(), outputs[0].bytes.begin());
    return Status::success();
  }
  if (op == "Transpose" && arity(1, 1)) return transpose(task, inputs[0], outputs[0]);
  if (op == "Concat" && !inputs.empty() && outputs.size() == 1) return concat(task, inputs, outputs[0]);
  if (op == "TopK" && arity(1, 2)) return topK(task, inputs[0], outputs[0], outputs[1]);
  if (!allF32(inputs) || !allF32(outputs))
    return Error::badInput("host op " + task.name + " (" + op + "): only float32 tensors are supported");
  if (op == "Max" && arity(2, 1)) return binary(task, inputs, outputs[0], [](float a, float b) { return std::max(a, b); });
  if (op == "Min" && arity(2, 1)) return binary(task, inputs, outputs[0], [](float a, float b) { return std::min(a, b); });
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") && arity(2, 1)) {
    if (op == "Add") return binary(task, inputs, outputs[0], [](float a, float b) { return a + b; });
    if (op == "Sub") return binary(task, inputs, outputs[0], [](float a, float b) { return a - b; });
    if (op == "Mul") return binary(task, inputs, outputs[0], [](float a, float b) { return a * b; });
    return binary(task, inputs, outputs[0], [](float a, float b) { return a / b; });
  }
  if (op == "MatMul" && arity(2, 1)) return matmul(task, inputs, outputs[0]);
  return Error::badInput("host op " + task.name + ": no host kernel for '" + op + "' with " +
                         std::to_string(inputs.size()) + " input(s)");
}

} // namespace fractal::runtime
