// Reading and writing model packages. Layout of the file (little-endian):
//   0  "FRACTPKG"   magic
//   8  u32          format version (kFormatVersion)
//   12 u32          CRC-32 of the payload
//   16 u64          payload size in bytes
//   24 payload      one serialized fractal.pkgproto.Package
// Everything the protobuf parser accepts is then checked field by field (checkPackage), because a
// well-formed message can still hold indices and offsets that point anywhere.
#include "fractal/package/Package.h"

#include "fractal/isa/SyncTransform.h"

#include "fractal/support/Checksum.h"
#include "fractal/support/File.h"

#include "fractal_package.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

namespace fractal::pkg {
namespace {

constexpr char kMagic[8] = {'F', 'R', 'A', 'C', 'T', 'P', 'K', 'G'};

pkgproto::DataType toProto(DType t) {
  switch (t) {
  case DType::F32: return pkgproto::DT_FLOAT32;
  case DType::F16: return pkgproto::DT_FLOAT16;
  case DType::I64: return pkgproto::DT_INT64;
  case DType::I32: return pkgproto::DT_INT32;
  case DType::I8: return pkgproto::DT_INT8;
  case DType::Bool: return pkgproto::DT_BOOL;
  case DType::U8: return pkgproto::DT_UINT8;
  case DType::I16: return pkgproto::DT_INT16;
  case DType::U16: return pkgproto::DT_UINT16;
  case DType::U32: return pkgproto::DT_UINT32;
  case DType::U64: return pkgproto::DT_UINT64;
  case DType::F64: return pkgproto::DT_FLOAT64;
  }
  return pkgproto::DT_UNDEFINED;
}

bool fromProto(int t, DType &out) {
  switch (t) {
  case pkgproto::DT_FLOAT32: out = DType::F32; return true;
  case pkgproto::DT_FLOAT16: out = DType::F16; return true;
  case pkgproto::DT_INT64: out = DType::I64; return true;
  case pkgproto::DT_INT32: out = DType::I32; return true;
  case pkgproto::DT_INT8: out = DType::I8; return true;
  case pkgproto::DT_BOOL: out = DType::Bool; return true;
  case pkgproto::DT_UINT8: out = DType::U8; return true;
  case pkgproto::DT_INT16: out = DType::I16; return true;
  case pkgproto::DT_UINT16: out = DType::U16; return true;
  case pkgproto::DT_UINT32: out = DType::U32; return true;
  case pkgproto::DT_UINT64: out = DType::U64; return true;
  case pkgproto::DT_FLOAT64: out = DType::F64; return true;
  default: return false;
  }
}

void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}
uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

// Semantic checks on a decoded package; `problem` collects the first failure.
struct Checker {
  const Package &p;
  std::string problem;

  bool fail(std::string message) {
    if (problem.empty()) problem = std::move(message);
    return false;
  }

  bool tensorIndex(uint32_t index, const std::string &where) {
    if (index < p.tensors.size()) return true;
    return fail(where + " refers to tensor " + std::to_string(index) + ", but the package has " +
                std::to_string(p.tensors.size()));
  }

  bool tensors() {
    for (size_t i = 0; i < p.tensors.size(); ++i) {
      const Tensor &t = p.tensors[i];
      std::string where = "tensor " + std::to_string(i) + " '" + t.name + "'";
      if (t.shape.size() > 16) return fail(where + ": more than 16 dimensions");
      uint64_t elements = 1;
      for (int64_t d : t.shape) {
        if (d < 0) return fail(where + ": negative dimension " + std::to_string(d));
        if (d != 0 && elements > (uint64_t(1) << 48) / uint64_t(d))
          return fail(where + ": shape has more than 2^48 elements");
        elements *= uint64_t(d);
      }
      uint64_t needed = elements * dtypeSize(t.dtype);
      if (t.bytes < needed)
        return fail(where + ": reserves " + std::to_string(t.bytes) + " bytes but its elements need " +
                    std::to_string(needed));
      if (t.offset > p.gmBytes || t.bytes > p.gmBytes - t.offset)
        return fail(where + ": bytes [" + std::to_string(t.offset) + ", +" + std::to_string(t.bytes) +
                    ") lie outside the model's " + std::to_string(p.gmBytes) + "-byte memory region");
      if (t.kind == TensorKind::Constant && t.data.size() != needed)
        return fail(where + ": constant holds " + std::to_string(t.data.size()) + " bytes, expected " +
                    std::to_string(needed));
      if (t.kind != TensorKind::Constant && !t.data.empty())
        return fail(where + ": only constants carry data");
      if (t.aliasOf != kNoAlias) {
        if (t.aliasOf >= p.tensors.size() || t.aliasOf == i)
          return fail(where + ": aliases a tensor that does not exist");
        const Tensor &base = p.tensors[t.aliasOf];
        if (t.offset < base.offset || t.offset + t.bytes > base.offset + base.bytes)
          return fail(where + ": view lies outside the tensor it aliases");
      }
      if (t.isDataDependent() != (t.extentTensor != kNoAlias))
        return fail(where + ": a data-dependent extent needs both its axis and the tensor holding it");
      if (t.isDataDependent()) {
        if (t.dynamicAxis >= t.shape.size())
          return fail(where + ": data-dependent axis " + std::to_string(t.dynamicAxis) + " of a rank-" +
                      std::to_string(t.shape.size()) + " tensor");
        if (t.kind != TensorKind::Output) return fail(where + ": only a model output may have a data-dependent extent");
        if (t.extentTensor >= p.tensors.size() || t.extentTensor == i)
          return fail(where + ": its extent is in a tensor that does not exist");
        const Tensor &e = p.tensors[t.extentTensor];
        if (e.dtype != DType::I64 || e.elementCount() != 1 || e.kind == TensorKind::Constant || e.isDataDependent())
          return fail(where + ": its extent tensor '" + e.name + "' is not one written int64");
      }
    }
    return true;
  }

  bool io() {
    for (uint32_t i : p.inputs)
      if (!tensorIndex(i, "input list") ||
          (p.tensors[i].kind != TensorKind::Input &&
           !fail("input list: tensor '" + p.tensors[i].name + "' is not an input")))
        return false;
    for (uint32_t i : p.outputs)
      if (!tensorIndex(i, "output list")) return false;
    return true;
  }

  bool tasks() {
    for (size_t i = 0; i < p.tasks.size(); ++i) {
      const Task &t = p.tasks[i];
      std::string where = "task " + std::to_string(i) + " '" + t.name + "'";
      if (t.isHost) {
        if (t.host.opType.empty()) return fail(where + ": host op without an op type");
        for (uint32_t x : t.host.inputs)
          if (!tensorIndex(x, where)) return false;
        for (uint32_t x : t.host.outputs)
          if (!tensorIndex(x, where)) return false;
        continue;
      }
      if (t.launch.kernel >= p.kernels.size())
        return fail(where + ": launches kernel " + std::to_string(t.launch.kernel) +
                    ", but the package has " + std::to_string(p.kernels.size()));
      if (t.launch.blockDim < 1 || t.launch.blockDim > 65535)
        return fail(where + ": block_dim " + std::to_string(t.launch.blockDim) + " outside 1..65535");
      if (t.launch.tensors.size() > kMaxLaunchArguments)
        return fail(where + ": more than " + std::to_string(kMaxLaunchArguments) + " arguments");
      if (t.launch.barrierFlagBytes % 8 || t.launch.barrierFlagBytes > (1u << 20))
        return fail(where + ": barrier_flag_bytes " + std::to_string(t.launch.barrierFlagBytes) +
                    " is not a multiple of 8 up to 1 MiB");
      for (uint32_t x : t.launch.tensors)
        if (!tensorIndex(x, where)) return false;
      const size_t code = p.kernels[t.launch.kernel].binary.instructionCount();
      uint32_t previousEnd = 0;
      uint64_t segmentTensors = 0;
      for (size_t k = 0; k < t.launch.segments.size(); ++k) {
        const KernelSegment &g = t.launch.segments[k];
        const std::string at = where + ": segment " + std::to_string(k) + " '" + g.name + "'";
        if (g.entryPc < previousEnd || g.entryPc >= g.endPc || g.endPc > code)
          return fail(at + ": code [" + std::to_string(g.entryPc) + ", " + std::to_string(g.endPc) +
                      ") is not after the previous segment inside the kernel's " + std::to_string(code) +
                      " instructions");
        if (g.blockDim < 1 || g.blockDim > 65535)
          return fail(at + ": block_dim " + std::to_string(g.blockDim) + " outside 1..65535");
        previousEnd = g.endPc;
        segmentTensors += g.tensors;
      }
      if (segmentTensors > t.launch.tensors.size())
        return fail(where + ": its segments claim " + std::to_string(segmentTensors) + " argument tensors of " +
                    std::to_string(t.launch.tensors.size()));
    }
    return true;
  }
};

} // namespace

size_t dtypeSize(DType type) {
  switch (type) {
  case DType::F32: case DType::I32: case DType::U32: return 4;
  case DType::F16: case DType::I16: case DType::U16: return 2;
  case DType::I64: case DType::U64: case DType::F64: return 8;
  case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 1;
}

const char *npyDescr(DType type) {
  switch (type) {
  case DType::F32: return "<f4";
  case DType::F16: return "<f2";
  case DType::I64: return "<i8";
  case DType::I32: return "<i4";
  case DType::I8: return "|i1";
  case DType::Bool: return "|b1";
  case DType::U8: return "|u1";
  case DType::I16: return "<i2";
  case DType::U16: return "<u2";
  case DType::U32: return "<u4";
  case DType::U64: return "<u8";
  case DType::F64: return "<f8";
  }
  return "?";
}

const char *dtypeName(DType type) {
  switch (type) {
  case DType::F32: return "float32";
  case DType::F16: return "float16";
  case DType::I64: return "int64";
  case DType::I32: return "int32";
  case DType::I8: return "int8";
  case DType::Bool: return "bool";
  case DType::U8: return "uint8";
  case DType::I16: return "int16";
  case DType::U16: return "uint16";
  case DType::U32: return "uint32";
  case DType::U64: return "uint64";
  case DType::F64: return "float64";
  }
  return "?";
}

int64_t Tensor::elementCount() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> Tensor::shapeWithExtent(int64_t extent) const {
  std::vector<int64_t> s = shape;
  if (isDataDependent() && dynamicAxis < s.size()) s[dynamicAxis] = extent;
  return s;
}

uint32_t targetDigest(const ChipConfig &config) {
  std::string yaml = chipConfigToYaml(config);
  return crc32(yaml.data(), yaml.size());
}

std::vector<uint8_t> serializePackage(const Package &package) {
  pkgproto::Package msg;
  msg.set_producer(package.producer);
  msg.set_source_model(package.sourceModel);
  msg.set_target(package.target);
  msg.set_target_digest(package.targetDigest);
  msg.set_gm_bytes(package.gmBytes);
  for (const Tensor &t : package.tensors) {
    pkgproto::Tensor *m = msg.add_tensors();
    m->set_name(t.name);
    m->set_dtype(toProto(t.dtype));
    for (int64_t d : t.shape) m->add_shape(d);
    m->set_offset(t.offset);
    m->set_bytes(t.bytes);
    m->set_kind(static_cast<pkgproto::TensorKind>(t.kind));
    m->set_layout(t.layout);
    m->set_data(t.data.data(), t.data.size());
    m->set_alias_of(t.aliasOf == kNoAlias ? 0 : t.aliasOf + 1);
    m->set_dynamic_axis(t.isDataDependent() ? t.dynamicAxis + 1 : 0);
    m->set_extent(t.extentTensor == kNoAlias ? 0 : t.extentTensor + 1);
  }
  for (uint32_t i : package.inputs) msg.add_inputs(i);
  for (uint32_t i : package.outputs) msg.add_outputs(i);
  for (const Kernel &k : package.kernels) {
    pkgproto::Kernel *m = msg.add_kernels();
    m->set_name(k.name);
    std::vector<uint8_t> bin = isa::serializeKernel(k.binary);
    m->set_binary(bin.data(), bin.size());
  }
  for (const Task &t : package.tasks) {
    pkgproto::Task *m = msg.add_tasks();
    m->set_name(t.name);
    m->set_op_type(t.opType);
    for (const std::string &n : t.onnxNodes) m->add_onnx_nodes(n);
    m->set_model_macs(t.modelMacs);
    if (t.isHost) {
      pkgproto::HostOp *h = m->mutable_host();
      h->set_op_type(t.host.opType);
      for (uint32_t x : t.host.inputs) h->add_inputs(x);
      for (uint32_t x : t.host.outputs) h->add_outputs(x);
      for (const auto &[key, values] : t.host.ints)
        for (int64_t v : values) (*h->mutable_ints())[key].add_values(v);
      for (const auto &[key, value] : t.host.floats) (*h->mutable_floats())[key] = value;
      h->set_reason(t.host.reason);
    } else {
      pkgproto::KernelLaunch *l = m->mutable_launch();
      l->set_kernel(t.launch.kernel);
      l->set_block_dim(t.launch.blockDim);
      for (uint32_t x : t.launch.tensors) l->add_tensors(x);
      l->set_barrier_flag_bytes(t.launch.barrierFlagBytes);
      for (const KernelSegment &g : t.launch.segments) {
        pkgproto::KernelSegment *sg = l->add_segments();
        sg->set_name(g.name);
        sg->set_op_type(g.opType);
        sg->set_entry_pc(g.entryPc);
        sg->set_end_pc(g.endPc);
        sg->set_block_dim(g.blockDim);
        for (const std::string &n : g.onnxNodes) sg->add_onnx_nodes(n);
        sg->set_model_macs(g.modelMacs);
        sg->set_tensors(g.tensors);
      }
    }
  }
  // Deterministic: protobuf otherwise writes map fields (host-op attributes) in an unspecified
  // order, and the same model must give the same package bytes every time.
  std::string payload;
  {
    google::protobuf::io::StringOutputStream stream(&payload);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }

  std::vector<uint8_t> out(kHeaderBytes + payload.size());
  std::memcpy(out.data(), kMagic, 8);
  put32(out.data() + 8, kFormatVersion);
  put32(out.data() + 12, crc32(payload.data(), payload.size()));
  put64(out.data() + 16, payload.size());
  std::memcpy(out.data() + kHeaderBytes, payload.data(), payload.size());
  return out;
}

namespace {

// The header and checksum checked, the payload parsed into `msg`; "" or the problem.
std::string parseMessage(const uint8_t *bytes, size_t size, pkgproto::Package &msg) {
  if (size < kHeaderBytes)
    return "not a model package: " + std::to_string(size) + " bytes, shorter than the " +
           std::to_string(kHeaderBytes) + "-byte header";
  if (std::memcmp(bytes, kMagic, 8) != 0) return "not a model package (no FRACTPKG magic)";
  uint32_t version = get32(bytes + 8);
  if (version != kFormatVersion)
    return "package format version " + std::to_string(version) + ", this build reads version " +
           std::to_string(kFormatVersion) + "; recompile the model";
  uint64_t payloadSize = get64(bytes + 16);
  if (payloadSize != size - kHeaderBytes)
    return "truncated or padded: the header announces " + std::to_string(payloadSize) +
           " payload bytes, the file has " + std::to_string(size - kHeaderBytes);
  if (payloadSize > uint64_t(std::numeric_limits<int>::max())) return "payload larger than 2 GiB";
  uint32_t crc = crc32(bytes + kHeaderBytes, payloadSize);
  if (crc != get32(bytes + 12)) return "checksum mismatch: the file is corrupt";
  if (!msg.ParseFromArray(bytes + kHeaderBytes, int(payloadSize))) return "payload is not a valid package message";
  return "";
}

// The package in `msg`, whose tensors' data and kernels' code are released as they are converted:
// a package held twice (message and result) was the peak of a model load.
Expected<Package> fromMessage(pkgproto::Package &msg, const std::string &name, isa::CodeForm form) {
  auto bad = [&](const std::string &m) { return Error::badInput(name + ": " + m); };
  Package p;
  p.producer = msg.producer();
  p.sourceModel = msg.source_model();
  p.target = msg.target();
  p.targetDigest = msg.target_digest();
  p.gmBytes = msg.gm_bytes();
  for (int i = 0; i < msg.tensors_size(); ++i) {
    const pkgproto::Tensor &m = msg.tensors(i);
    Tensor t;
    t.name = m.name();
    if (!fromProto(m.dtype(), t.dtype))
      return bad("tensor " + std::to_string(i) + " '" + t.name + "': unknown dtype " +
                 std::to_string(m.dtype()));
    t.shape.assign(m.shape().begin(), m.shape().end());
    t.offset = m.offset();
    t.bytes = m.bytes();
    if (m.kind() < pkgproto::TK_ACTIVATION || m.kind() > pkgproto::TK_CONSTANT)
      return bad("tensor " + std::to_string(i) + " '" + t.name + "': unknown kind");
    t.kind = static_cast<TensorKind>(m.kind());
    t.layout = m.layout();
    t.data.assign(m.data().begin(), m.data().end());
    std::string().swap(*msg.mutable_tensors(i)->mutable_data());
    t.aliasOf = m.alias_of() == 0 ? kNoAlias : m.alias_of() - 1;
    t.dynamicAxis = m.dynamic_axis() == 0 ? kStaticShape : m.dynamic_axis() - 1;
    t.extentTensor = m.extent() == 0 ? kNoAlias : m.extent() - 1;
    p.tensors.push_back(std::move(t));
  }
  p.inputs.assign(msg.inputs().begin(), msg.inputs().end());
  p.outputs.assign(msg.outputs().begin(), msg.outputs().end());
  for (int i = 0; i < msg.kernels_size(); ++i) {
    const pkgproto::Kernel &m = msg.kernels(i);
    Expected<isa::KernelBinary> kernel =
        isa::parseKernel(reinterpret_cast<const uint8_t *>(m.binary().data()), m.binary().size(),
                         name + ": kernel '" + m.name() + "'", form);
    if (!kernel) return Error::badInput(kernel.error().message);
    if (!kernel->target.empty() && kernel->target != p.target)
      return Error::badInput(name + ": kernel '" + m.name() + "' was built for target '" + kernel->target +
                             "', the package is for '" + p.target + "'");
    std::string().swap(*msg.mutable_kernels(i)->mutable_binary());
    p.kernels.push_back({m.name(), std::move(*kernel)});
  }
  for (int i = 0; i < msg.tasks_size(); ++i) {
    const pkgproto::Task &m = msg.tasks(i);
    Task t;
    t.name = m.name();
    t.opType = m.op_type();
    t.onnxNodes.assign(m.onnx_nodes().begin(), m.onnx_nodes().end());
    t.modelMacs = m.model_macs();
    if (m.has_host()) {
      t.isHost = true;
      t.host.opType = m.host().op_type();
      t.host.inputs.assign(m.host().inputs().begin(), m.host().inputs().end());
      t.host.outputs.assign(m.host().outputs().begin(), m.host().outputs().end());
      for (const auto &[key, list] : m.host().ints())
        t.host.ints[key].assign(list.values().begin(), list.values().end());
      for (const auto &[key, value] : m.host().floats()) t.host.floats[key] = value;
      t.host.reason = m.host().reason();
    } else if (m.has_launch()) {
      t.launch.kernel = m.launch().kernel();
      t.launch.blockDim = m.launch().block_dim();
      t.launch.tensors.assign(m.launch().tensors().begin(), m.launch().tensors().end());
      t.launch.barrierFlagBytes = m.launch().barrier_flag_bytes();
      for (const pkgproto::KernelSegment &sg : m.launch().segments())
        t.launch.segments.push_back({sg.name(), sg.op_type(), sg.entry_pc(), sg.end_pc(), sg.block_dim(),
                                     {sg.onnx_nodes().begin(), sg.onnx_nodes().end()}, sg.model_macs(),
                                     sg.tensors()});
    } else {
      return bad("task " + std::to_string(i) + " '" + t.name + "' has neither a launch nor a host op");
    }
    p.tasks.push_back(std::move(t));
  }

  Checker check{p, {}};
  if (!check.tensors() || !check.io() || !check.tasks()) return bad(check.problem);
  return p;
}

} // namespace

Expected<Package> parsePackage(const uint8_t *bytes, size_t size, const std::string &name, isa::CodeForm form) {
  pkgproto::Package msg;
  if (std::string problem = parseMessage(bytes, size, msg); !problem.empty())
    return Error::badInput(name + ": " + problem);
  return fromMessage(msg, name, form);
}

Expected<Package> readPackageFile(const std::string &path, isa::CodeForm form) {
  pkgproto::Package msg;
  {
    Expected<std::vector<uint8_t>> bytes = readBinaryFile(path);
    if (!bytes) return bytes.takeError();
    if (std::string problem = parseMessage(bytes->data(), bytes->size(), msg); !problem.empty())
      return Error::badInput(path + ": " + problem);
  } // the file's bytes are not needed once parsed
  return fromMessage(msg, path, form);
}

Status writePackageFile(const std::string &path, const Package &package) {
  return writeFileAtomically(path, serializePackage(package));
}

DeviceMemorySize deviceMemoryOf(const Package &p) {
  DeviceMemorySize m;
  // The union of the constants' ranges: a view, or a constant the compiler shares, counts once.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Tensor &t : p.tensors)
    if (t.kind == TensorKind::Constant && t.bytes) ranges.emplace_back(t.offset, t.offset + t.bytes);
  std::sort(ranges.begin(), ranges.end());
  uint64_t coveredTo = 0;
  for (const auto &[from, to] : ranges) {
    if (to > std::max(from, coveredTo)) m.constantBytes += to - std::max(from, coveredTo);
    coveredTo = std::max(coveredTo, to);
  }
  for (const Kernel &k : p.kernels) m.kernelDataBytes += k.binary.data.size();
  m.workBytes = p.gmBytes - std::min(p.gmBytes, m.constantBytes);
  return m;
}

std::string describePackage(const Package &p) {
  std::ostringstream s;
  auto shape = [](const Tensor &t) {
    std::string text = std::string(dtypeName(t.dtype)) + "[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      text += (i ? "," : "") + std::string(i == t.dynamicAxis ? "<=" : "") + std::to_string(t.shape[i]);
    return text + "]";
  };
  uint64_t weights = 0, code = 0, distinct = 0, held = 0;
  for (const Tensor &t : p.tensors)
    if (t.kind == TensorKind::Constant) weights += t.data.size();
  for (const Kernel &k : p.kernels) {
    code += k.binary.instructionCount() * isa::kInstructionBytes;
    // What the runtime holds of it once loaded: each distinct instruction once, an index per pc.
    const isa::EncodedCode encoded = k.binary.encodedCode();
    distinct += encoded.distinctCount();
    held += encoded.heldBytes();
  }
  s << "package: " << p.sourceModel << " (" << p.producer << ")\n";
  s << "target: " << p.target << " (config digest " << std::hex << p.targetDigest << std::dec << ")\n";
  s << "inputs:\n";
  for (uint32_t i : p.inputs) s << "  " << p.tensors[i].name << ": " << shape(p.tensors[i]) << "\n";
  s << "outputs:\n";
  for (uint32_t i : p.outputs) s << "  " << p.tensors[i].name << ": " << shape(p.tensors[i]) << "\n";
  size_t hostTasks = 0;
  uint64_t modelMacs = 0;
  for (const Task &t : p.tasks) modelMacs += t.modelMacs;
  s << "tasks (" << p.tasks.size() << "; the model's multiply-accumulates: " << modelMacs << "):\n";
  for (size_t i = 0; i < p.tasks.size(); ++i) {
    const Task &t = p.tasks[i];
    s << "  " << i << ". " << t.opType << " '" << t.name << "' ";
    if (t.isHost) {
      ++hostTasks;
      s << "host";
      if (!t.host.reason.empty()) s << " (" << t.host.reason << ")";
    } else {
      s << "kernel " << p.kernels[t.launch.kernel].name << " block_dim " << t.launch.blockDim;
      if (!t.launch.segments.empty())
        s << ", a sequence of " << t.launch.segments.size()
          << (t.launch.barrierFlagBytes ? " (cross-core barriers between them)" : "") << ":";
      for (const KernelSegment &g : t.launch.segments)
        s << "\n       " << g.opType << " '" << g.name << "' pc [" << g.entryPc << ", " << g.endPc << ") block_dim "
          << g.blockDim;
    }
    s << "\n";
  }
  s << "kernels: " << p.kernels.size() << " (" << code << " bytes of code; " << distinct
    << " distinct instructions, " << held << " bytes once loaded), host tasks: " << hostTasks << "\n";
  s << "memory: " << p.gmBytes << " bytes of global memory, " << weights << " bytes of weights\n";
  const DeviceMemorySize dm = deviceMemoryOf(p);
  s << "device memory when loaded: " << dm.totalBytes() << " bytes = weights " << dm.weightBytes()
    << " (constants " << dm.constantBytes << ", kernels' data sections " << dm.kernelDataBytes
    << ") + working memory " << dm.workBytes << " (inputs, outputs, intermediates)\n";
  static const char *kinds[] = {"activation", "input", "output", "constant"};
  for (const Tensor &t : p.tensors) {
    s << "  [" << t.offset << ", +" << t.bytes << ") " << kinds[int(t.kind)] << " " << t.name << ": "
      << shape(t);
    if (t.aliasOf != kNoAlias) s << " (view of " << p.tensors[t.aliasOf].name << ")";
    s << "\n";
  }
  return s.str();
}

Status applySyncMode(Package &package, const std::string &mode) {
  if (mode.empty() || mode == "flags")
    return Status::success();
  if (mode != "barrier-all")
    return Error::badInput("--sync must be flags or barrier-all, got '" + mode + "'");
  for (size_t i = 0; i < package.kernels.size(); ++i) {
    Kernel &k = package.kernels[i];
    std::vector<size_t> newPc;
    Expected<isa::KernelBinary> serialized = isa::serializeSync(k.binary, &newPc);
    if (!serialized)
      return serialized.error().withContext("kernel " + k.name);
    k.binary = std::move(*serialized);
    // A kernel sequence's segments follow their code.
    for (Task &t : package.tasks)
      if (!t.isHost && t.launch.kernel == i)
        for (KernelSegment &g : t.launch.segments) {
          if (g.endPc >= newPc.size() || g.entryPc > g.endPc)
            return Error::badInput("kernel " + k.name + ": segment '" + g.name + "' lies outside the kernel");
          g.entryPc = uint32_t(newPc[g.entryPc]);
          g.endPc = uint32_t(newPc[g.endPc]);
        }
  }
  return Status::success();
}

std::vector<uint32_t> renumberKernelsByFirstLaunch(Package &package) {
  std::vector<uint32_t> newIndex(package.kernels.size(), UINT32_MAX);
  uint32_t kept = 0;
  for (const Task &t : package.tasks)
    if (!t.isHost && newIndex[t.launch.kernel] == UINT32_MAX) newIndex[t.launch.kernel] = kept++;
  std::vector<Kernel> kernels(kept);
  for (size_t i = 0; i < package.kernels.size(); ++i)
    if (newIndex[i] != UINT32_MAX) kernels[newIndex[i]] = std::move(package.kernels[i]);
  package.kernels = std::move(kernels);
  for (Task &t : package.tasks)
    if (!t.isHost) t.launch.kernel = newIndex[t.launch.kernel];
  return newIndex;
}

} // namespace fractal::pkg
