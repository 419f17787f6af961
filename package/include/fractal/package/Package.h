// The model package (.fpk): what `fractal compile` writes and the runtime loads. Plain C++ structs
// here; the on-disk form is a small header plus a protobuf message (proto/fractal_package.proto,
// docs/package.md), kept out of this header so users of the package need no protobuf.
//
// The reader is an attack surface: parsePackage checks the header, the CRC, the protobuf, and then
// every index, offset, size, shape and kernel binary before returning, so the runtime can trust
// what it gets.
#pragma once

#include "fractal/isa/KernelBinary.h"
#include "fractal/support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fractal::pkg {

// The most tensors one kernel launch may take (its argument table): the loader refuses more, so
// the compiler stops joining kernels into a sequence before it.
inline constexpr size_t kMaxLaunchArguments = 4096;
constexpr uint32_t kFormatVersion = 3; // 2: barrier_flag_bytes (sequences on several cores); 3: data-dependent outputs in their bounds' layout
constexpr size_t kHeaderBytes = 24; // "FRACTPKG", u32 version, u32 crc32, u64 payload size

// The integers other than int32 live in GM only: the scalar unit computes on them (docs/isa.md).
enum class DType : uint8_t { F32, F16, I64, I32, I8, Bool, U8, I16, U16, U32, U64, F64 };
size_t dtypeSize(DType type);
const char *dtypeName(DType type); // numpy-style: "float32", "float16", "int64", ...
const char *npyDescr(DType type);  // the .npy header's descr: "<f4", "|u1", ...

enum class TensorKind : uint8_t { Activation, Input, Output, Constant };

constexpr uint32_t kNoAlias = UINT32_MAX;
constexpr uint32_t kStaticShape = UINT32_MAX;
// The memory plan's: every tensor's offset in the model's region, and its reserved bytes, are
// multiples of it (one fractal; also a vector kernel's whole repeats). The runtime runs a model on
// a dataset's buffer in place of its planned one only at such an address.
constexpr uint64_t kTensorAlignment = 512;

struct Tensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t offset = 0; // in the model's GM region
  uint64_t bytes = 0;  // reserved; >= elementCount() * dtypeSize(dtype)
  TensorKind kind = TensorKind::Activation;
  std::string layout = "ND";
  std::vector<uint8_t> data;   // constants: the packed contents
  uint32_t aliasOf = kNoAlias; // views (Reshape, Flatten): the tensor whose memory this is
  // A data-dependent output (NonZero, Compress, ... and what is computed from them): `shape` is
  // its bound and its data's layout; a kernel writes the actual extent along `dynamicAxis` as an
  // int64 into tensor `extentTensor` (the runtime copies that much of each block out).
  // kStaticShape: an ordinary tensor.
  uint32_t dynamicAxis = kStaticShape;
  uint32_t extentTensor = kNoAlias;

  int64_t elementCount() const;
  uint64_t dataBytes() const { return uint64_t(elementCount()) * dtypeSize(dtype); }
  bool isDataDependent() const { return dynamicAxis != kStaticShape; }
  // The shape with `extent` along the data-dependent axis (the shape itself for a static one).
  std::vector<int64_t> shapeWithExtent(int64_t extent) const;
};

// One of the kernels a kernel sequence joined (compiler/Codegen/KernelSequences.h): its code is
// [entryPc, endPc) of the sequence's kernel, made for `blockDim` blocks.
struct KernelSegment {
  std::string name, opType; // the task it was
  uint32_t entryPc = 0, endPc = 0;
  uint32_t blockDim = 1;
  std::vector<std::string> onnxNodes; // the task's
  uint64_t modelMacs = 0;             // the task's
  uint32_t tensors = 0; // how many of the launch's argument tensors are the task's (in order)
};

struct KernelLaunch {
  uint32_t kernel = 0;
  uint32_t blockDim = 1;
  std::vector<uint32_t> tensors; // argument i = GM address of tensors[i]
  // A kernel sequence's parts, in order (empty for a plain kernel). Functional mode runs them
  // one by one at their own block_dim; timing mode runs the launch as it is.
  std::vector<KernelSegment> segments;
  // Zeroed GM after the argument words at every launch: the flags of the cross-core barriers
  // between a multi-core sequence's parts (isa/KernelSequence.h); 0 = none.
  uint64_t barrierFlagBytes = 0;
};

struct HostOp {
  std::string opType;
  std::vector<uint32_t> inputs, outputs;
  std::map<std::string, std::vector<int64_t>> ints;
  std::map<std::string, float> floats;
  std::string reason; // why this op runs on the host
};

struct Task {
  std::string name;
  std::string opType;
  std::vector<std::string> onnxNodes;
  bool isHost = false;
  uint64_t modelMacs = 0; // the ONNX ops' multiply-accumulates (Conv, ConvTranspose, MatMul, Gemm)
  KernelLaunch launch; // when !isHost
  HostOp host;         // when isHost
};

struct Kernel {
  std::string name;
  isa::KernelBinary binary;
};

struct Package {
  std::string producer;
  std::string sourceModel;
  std::string target;
  uint32_t targetDigest = 0;
  uint64_t gmBytes = 0;
  std::vector<Tensor> tensors;
  std::vector<uint32_t> inputs, outputs;
  std::vector<Kernel> kernels;
  std::vector<Task> tasks;
};

// The device memory a loaded package holds (frtModelQuerySize, `fractal info`): its weights (the
// constants' slots in the memory plan and the kernels' data sections, read-only) and its working
// memory (the rest of the plan: inputs, outputs and intermediate tensors, with reuse). Their sum
// is what loading allocates, but for the few argument words of each launch.
struct DeviceMemorySize {
  uint64_t constantBytes = 0;    // the constants' slots in the plan
  uint64_t kernelDataBytes = 0;  // the kernels' data sections (tables their code reads)
  uint64_t workBytes = 0;        // the plan's other bytes
  uint64_t weightBytes() const { return constantBytes + kernelDataBytes; }
  uint64_t totalBytes() const { return weightBytes() + workBytes; }
};
DeviceMemorySize deviceMemoryOf(const Package &package);

// The digest a package records for its target: CRC-32 of the config's canonical YAML.
uint32_t targetDigest(const ChipConfig &config);

std::vector<uint8_t> serializePackage(const Package &package);
// `name` (the file name) prefixes every error; every error is BadInput. `form` says which form
// of the kernels' code to keep: a runtime keeps it encoded (KernelBinary::encoded, each
// instruction validated all the same, 16 bytes rather than 72 decoded), and never holds a
// model's whole code decoded, not even while loading.
Expected<Package> parsePackage(const uint8_t *bytes, size_t size, const std::string &name,
                               isa::CodeForm form = isa::CodeForm::Decoded);
Expected<Package> readPackageFile(const std::string &path, isa::CodeForm form = isa::CodeForm::Decoded);
Status writePackageFile(const std::string &path, const Package &package); // atomic

// Human-readable listing (`fractal info`, `fractal compile`): target, IO, tasks with their kernels
// or host-fallback reasons, kernels, memory plan and sizes.
std::string describePackage(const Package &package);

// `--sync=MODE` of fractal compile and fractal run: "flags" (the default: each kernel's own
// set/wait flags) or "barrier-all" (a debug mode: in every kernel the flags give way to a
// `barrier all` after each pipe instruction, isa/SyncTransform.h). Anything else is BadInput.
Status applySyncMode(Package &package, const std::string &mode);

// Numbers the kernels in the order the tasks first launch them and drops the ones no task
// launches (the tasks' kernel indices follow). Returns each old index's new one (UINT32_MAX:
// dropped), for tables kept beside the package's kernels.
std::vector<uint32_t> renumberKernelsByFirstLaunch(Package &package);

} // namespace fractal::pkg
