// The model API (frtModel*, frtDataset*): load, describe, execute (sync and async), profiles, the
// host fallback, misuse, device faults, and several threads x streams x models at once. Packages
// are built here from hand-written kernels, so the runtime is tested without the compiler.
#include "fractal/runtime/ModelProfile.h"
#include "fractal/runtime/Runtime.hpp"
#include "fractal/runtime/fractal_runtime.h"

#include "fractal/isa/Assembler.h"
#include "fractal/package/Package.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <atomic>
#include <thread>

using namespace fractal;

namespace {

// y = x + w over 64 floats (one vector repeat); args x, w, y. With `fault`, y's address is bogus;
// with `spin`, a scalar loop of that many turns comes first (3 cycles a turn on the edge chip).
isa::KernelBinary addKernel(bool fault, int64_t spin = 0) {
  std::string text = std::string(R"(.node "Add_0"
.text
)") + (spin ? "  li x7, " + std::to_string(spin) + "\nspin:\n  dbnz x7, spin\n" : "") + R"(  mfsr x1, args
  ld x2, gm[x1]
  ld x3, gm[x1], offset=8
  ld x4, gm[x1], offset=16
)" + (fault ? "  li x4, 0x7ffffff00\n" : "") + R"(  li x5, 256
  li x6, 512
  gm2ub ub[x0], gm[x2], len=8
  gm2ub ub[x5], gm[x3], len=8
  set_flag mte2, v, 0
  wait_flag mte2, v, 0
  vadd.f32 ub[x6], ub[x0], ub[x5]
  set_flag v, mte3, 0
  wait_flag v, mte3, 0
  ub2gm gm[x4], ub[x6], len=8
  end
)";
  Expected<isa::KernelBinary> k = isa::assemble(text, "add.s");
  EXPECT_TRUE(k.ok()) << (k ? "" : k.error().message);
  return *k;
}

// Inputs x [64]; constant w = 0.5 * i; task 0: kernel y = x + w; task 1: host Add z = y + x
// (the broadcast fallback); outputs y and z. With `asSequence`, the kernel is a one-part kernel
// sequence (as the compiler's whole-model launches are), which traced timing runs profile by part.
std::vector<uint8_t> package(const std::string &target = "edge", bool fault = false, bool asSequence = false,
                             int64_t spin = 0) {
  pkg::Package p;
  p.target = target;
  p.targetDigest = pkg::targetDigest(*loadChipConfig(target));
  p.sourceModel = "test.onnx";
  p.gmBytes = 4 * 512;
  pkg::Tensor x{"x:0", pkg::DType::F32, {64}, 0, 512, pkg::TensorKind::Input, "ND", {}, pkg::kNoAlias};
  pkg::Tensor w{"w", pkg::DType::F32, {64}, 512, 512, pkg::TensorKind::Constant, "ND", {}, pkg::kNoAlias};
  for (int i = 0; i < 64; ++i) {
    float v = 0.5f * float(i);
    const auto *b = reinterpret_cast<const uint8_t *>(&v);
    w.data.insert(w.data.end(), b, b + 4);
  }
  pkg::Tensor y{"y", pkg::DType::F32, {64}, 1024, 512, pkg::TensorKind::Output, "ND", {}, pkg::kNoAlias};
  pkg::Tensor z{"z", pkg::DType::F32, {1, 64}, 1536, 512, pkg::TensorKind::Output, "ND", {}, pkg::kNoAlias};
  p.tensors = {x, w, y, z};
  p.inputs = {0};
  p.outputs = {2, 3};
  p.kernels.push_back({"add", addKernel(fault, spin)});
  pkg::Task add;
  add.name = "Add_0";
  add.opType = "Add";
  add.onnxNodes = {"Add_0"};
  add.launch = {0, 1, {0, 1, 2}, {}};
  if (asSequence)
    add.launch.segments.push_back(
        {"Add_0", "Add", 0, uint32_t(p.kernels[0].binary.instructionCount()), 1, {"Add_0"}, 0, 3});
  pkg::Task host;
  host.name = "Add_1";
  host.opType = "Add";
  host.onnxNodes = {"Add_1"};
  host.isHost = true;
  host.host = {"Add", {2, 0}, {3}, {}, {}, "broadcast"};
  p.tasks = {add, host};
  return pkg::serializePackage(p);
}

class ModelApi : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(frtInit("edge:functional,edge:timing,cloud:functional"), FRT_SUCCESS);
    ASSERT_EQ(frtSetDevice(0), FRT_SUCCESS);
  }
  void TearDown() override { frtFinalize(); }

  frtModel load(const std::vector<uint8_t> &bytes) {
    frtModel m = nullptr;
    EXPECT_EQ(frtModelLoadFromMem(bytes.data(), bytes.size(), &m), FRT_SUCCESS) << frtGetRecentErrMsg();
    return m;
  }

  // Runs `m` on x = i - 10 and checks y and z; returns the call's status.
  frtError runAndCheck(frtModel m, frtStream stream = nullptr) {
    std::vector<float> x(64);
    for (int i = 0; i < 64; ++i) x[size_t(i)] = float(i) - 10;
    void *dx, *dy, *dz;
    frtMalloc(&dx, 256, FRT_MEM_MALLOC_HUGE_FIRST);
    frtMalloc(&dy, 256, FRT_MEM_MALLOC_HUGE_FIRST);
    frtMalloc(&dz, 256, FRT_MEM_MALLOC_HUGE_FIRST);
    frtMemcpy(dx, 256, x.data(), 256, FRT_MEMCPY_HOST_TO_DEVICE);
    frtDataset in, out;
    frtCreateDataset(&in);
    frtCreateDataset(&out);
    frtAddDatasetBuffer(in, dx, 256);
    frtAddDatasetBuffer(out, dy, 256);
    frtAddDatasetBuffer(out, dz, 256);
    frtError e = stream ? frtModelExecuteAsync(m, in, out, stream) : frtModelExecute(m, in, out);
    if (e == FRT_SUCCESS && stream) e = frtSynchronizeStream(stream);
    if (e == FRT_SUCCESS) {
      std::vector<float> y(64), z(64);
      frtMemcpy(y.data(), 256, dy, 256, FRT_MEMCPY_DEVICE_TO_HOST);
      frtMemcpy(z.data(), 256, dz, 256, FRT_MEMCPY_DEVICE_TO_HOST);
      for (int i = 0; i < 64; ++i) {
        EXPECT_EQ(y[size_t(i)], x[size_t(i)] + 0.5f * float(i)) << i;
        EXPECT_EQ(z[size_t(i)], y[size_t(i)] + x[size_t(i)]) << i;
      }
    }
    frtDestroyDataset(in);
    frtDestroyDataset(out);
    frtFree(dx);
    frtFree(dy);
    frtFree(dz);
    return e;
  }
};

TEST_F(ModelApi, LoadDescribeExecuteProfile) {
  frtModel m = load(package());
  size_t n = 0;
  ASSERT_EQ(frtModelGetNumInputs(m, &n), FRT_SUCCESS);
  EXPECT_EQ(n, 1u);
  ASSERT_EQ(frtModelGetNumOutputs(m, &n), FRT_SUCCESS);
  EXPECT_EQ(n, 2u);
  frtTensorDesc d;
  ASSERT_EQ(frtModelGetInputDesc(m, 0, &d), FRT_SUCCESS);
  EXPECT_STREQ(d.name, "x:0");
  EXPECT_EQ(d.dataType, FRT_FLOAT);
  EXPECT_EQ(d.numDims, 1u);
  EXPECT_EQ(d.dims[0], 64);
  EXPECT_EQ(d.size, 256u);
  ASSERT_EQ(frtModelGetOutputDesc(m, 1, &d), FRT_SUCCESS);
  EXPECT_STREQ(d.name, "z");
  EXPECT_EQ(d.numDims, 2u);
  EXPECT_EQ(frtModelGetOutputDesc(m, 2, &d), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtModelGetOutputDesc: index 2 out of range (the model has 2)");

  runtime::ModelProfile prof;
  EXPECT_FALSE(runtime::lastModelProfile(m, prof));
  ASSERT_EQ(runAndCheck(m), FRT_SUCCESS) << frtGetRecentErrMsg();
  ASSERT_TRUE(runtime::lastModelProfile(m, prof));
  ASSERT_EQ(prof.tasks.size(), 2u);
  EXPECT_FALSE(prof.tasks[0].host);
  EXPECT_EQ(prof.tasks[0].onnxNodes, std::vector<std::string>{"Add_0"});
  EXPECT_TRUE(prof.tasks[1].host);
  EXPECT_EQ(prof.tasks[1].hostReason, "broadcast");
  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
}

TEST_F(ModelApi, TimingModeCountsCycles) {
  ASSERT_EQ(frtSetDevice(1), FRT_SUCCESS);
  frtModel m = load(package());
  frtStream s;
  frtCreateStream(&s);
  ASSERT_EQ(runAndCheck(m, s), FRT_SUCCESS) << frtGetRecentErrMsg();
  runtime::ModelProfile prof;
  ASSERT_TRUE(runtime::lastModelProfile(m, prof));
  EXPECT_GT(prof.tasks[0].cycles, 0u);
  EXPECT_EQ(prof.cycles, prof.tasks[0].cycles);
  double v = 0;
  for (const runtime::PipeUse &u : prof.tasks[0].pipes)
    if (u.pipe == "v") v = u.ratio;
  EXPECT_GT(v, 0.0);
  EXPECT_LT(v, 1.0);
  frtDestroyStream(s);
}

// A sequence part's pipe ratios count the pipes' work, not their waits at flags: with the part
// being the whole kernel, they are the task's own (from the simulator's busy counters), exactly;
// so does the sweep that sorts the cycles into none, one alone or several pipes working.
// The loaded package keeps its code encoded, which once hid the waits from the profile: the
// vector pipe, which waits for the loads, looked busy for as long as it waited.
TEST_F(ModelApi, TracedRunsCountPipeWorkNotFlagWaits) {
  ASSERT_EQ(frtSetDevice(1), FRT_SUCCESS);
  frtModel m = load(package("edge", false, true));
  runtime::setModelTracing(m, true);
  ASSERT_EQ(runAndCheck(m), FRT_SUCCESS) << frtGetRecentErrMsg();
  runtime::ModelProfile prof;
  ASSERT_TRUE(runtime::lastModelProfile(m, prof));
  const runtime::TaskProfile &task = prof.tasks[0];
  ASSERT_EQ(task.segments.size(), 1u);
  const runtime::SegmentProfile &part = task.segments[0];
  EXPECT_EQ(part.cycles, task.cycles);
  auto ratio = [](const std::vector<runtime::PipeUse> &pipes, const char *pipe) {
    for (const runtime::PipeUse &u : pipes)
      if (u.pipe == pipe) return u.ratio;
    return -1.0;
  };
  for (const char *pipe : {"v", "mte2", "mte3"}) {
    EXPECT_GT(ratio(task.pipes, pipe), 0.0) << pipe;
    EXPECT_DOUBLE_EQ(ratio(part.pipes, pipe), ratio(task.pipes, pipe)) << pipe;
  }
  // The kernel's pipes take turns (load, add, store, each waiting for the one before): none ever
  // works at the same time as another, each works alone for exactly its busy share, and the rest
  // of the cycles none works.
  EXPECT_EQ(task.overlapping, 0.0);
  double alone = 0;
  for (const char *pipe : {"v", "mte2", "mte3"}) {
    EXPECT_DOUBLE_EQ(ratio(task.alone, pipe), ratio(task.pipes, pipe)) << pipe;
    alone += ratio(task.alone, pipe);
  }
  EXPECT_EQ(ratio(task.alone, "m"), 0.0);
  EXPECT_GT(task.noPipe, 0.0);
  EXPECT_NEAR(task.noPipe + alone, 1.0, 1e-12);
  frtModelUnload(m);
}

TEST_F(ModelApi, Misuse) {
  frtModel m = nullptr;
  EXPECT_EQ(frtModelLoadFromMem(nullptr, 0, &m), FRT_ERROR_INVALID_PARAM);
  std::vector<uint8_t> bytes = package();
  EXPECT_EQ(frtModelLoadFromMem(bytes.data(), bytes.size(), nullptr), FRT_ERROR_INVALID_PARAM);
  std::vector<uint8_t> bad = bytes;
  bad.back() ^= 1;
  EXPECT_EQ(frtModelLoadFromMem(bad.data(), bad.size(), &m), FRT_ERROR_INVALID_FILE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "<memory>: checksum mismatch: the file is corrupt");
  EXPECT_EQ(frtModelLoadFromFile("/nonexistent.fpk", &m), FRT_ERROR_INVALID_FILE);

  // Another target's package.
  std::vector<uint8_t> cloud = package("cloud");
  EXPECT_EQ(frtModelLoadFromMem(cloud.data(), cloud.size(), &m), FRT_ERROR_INVALID_FILE);
  EXPECT_NE(std::string(frtGetRecentErrMsg()).find("compiled for target 'cloud'"), std::string::npos);

  // Blocks that wait for each other at cross-core barriers, more of them than the device has
  // cores: they could never all run at once.
  Expected<pkg::Package> wide = pkg::parsePackage(bytes.data(), bytes.size(), "wide");
  ASSERT_TRUE(wide.ok());
  wide->tasks[0].launch.blockDim = 3;
  wide->tasks[0].launch.barrierFlagBytes = 2 * 3 * 64;
  std::vector<uint8_t> wideBytes = pkg::serializePackage(*wide);
  EXPECT_EQ(frtModelLoadFromMem(wideBytes.data(), wideBytes.size(), &m), FRT_ERROR_INVALID_FILE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "<memory>: task 'Add_0' synchronises 3 blocks across cores, but device 0 has 2 cores");

  m = load(bytes);
  frtDataset in, out;
  frtCreateDataset(&in);
  frtCreateDataset(&out);
  EXPECT_EQ(frtModelExecute(m, in, out), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtModelExecute: the inputs dataset has 0 buffer(s), the model has 1 inputs");
  void *small;
  frtMalloc(&small, 128, FRT_MEM_MALLOC_HUGE_FIRST);
  frtAddDatasetBuffer(in, small, 128);
  EXPECT_EQ(frtModelExecute(m, in, out), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtModelExecute: inputs buffer 0 ('x:0') holds 128 bytes, the tensor needs 256");
  frtDataset hostIn;
  frtCreateDataset(&hostIn);
  float host[64];
  frtAddDatasetBuffer(hostIn, host, sizeof host);
  EXPECT_EQ(frtModelExecute(m, hostIn, out), FRT_ERROR_INVALID_POINTER);
  EXPECT_STREQ(frtGetRecentErrMsg(), "x:0 is not a device pointer");
  EXPECT_EQ(frtAddDatasetBuffer(in, nullptr, 4), FRT_ERROR_INVALID_PARAM);

  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
  EXPECT_EQ(frtModelUnload(m), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtModelExecute(m, in, out), FRT_ERROR_INVALID_HANDLE);
  size_t n;
  EXPECT_EQ(frtModelGetNumInputs(m, &n), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtDestroyDataset(hostIn), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyDataset(hostIn), FRT_ERROR_INVALID_HANDLE);
  frtDestroyDataset(in);
  frtDestroyDataset(out);
  frtFree(small);
}

// A data-dependent output (as NonZero's): int64 y [<=8], whose kernel writes n = x[0] as its
// extent and y[i] = i for i < n (past the bound too, for the fault case: y's slot has room).
std::vector<uint8_t> dataDependentPackage() {
  pkg::Package p;
  p.target = "edge";
  p.targetDigest = pkg::targetDigest(*loadChipConfig("edge"));
  p.sourceModel = "nonzero.onnx";
  p.gmBytes = 3 * 512;
  pkg::Tensor x{"x", pkg::DType::I64, {1}, 0, 512, pkg::TensorKind::Input, "ND", {}, pkg::kNoAlias};
  pkg::Tensor y{"y", pkg::DType::I64, {8}, 512, 512, pkg::TensorKind::Output, "ND", {}, pkg::kNoAlias};
  y.dynamicAxis = 0;
  y.extentTensor = 2;
  pkg::Tensor n{"y/extent", pkg::DType::I64, {}, 1024, 512, pkg::TensorKind::Activation, "ND", {}, pkg::kNoAlias};
  p.tensors = {x, y, n};
  p.inputs = {0};
  p.outputs = {1};
  Expected<isa::KernelBinary> k = isa::assemble(R"(.node "NonZero_0"
.text
  mfsr x1, args
  ld x2, gm[x1]
  ld x3, gm[x1], offset=8
  ld x4, gm[x1], offset=16
  ld x5, gm[x2]
  st x5, gm[x4]
  li x6, 0
next:
  bge x6, x5, done
  shli x7, x6, 3
  add x7, x7, x3
  st x6, gm[x7]
  addi x6, x6, 1
  jmp next
done:
  end
)", "nonzero.s");
  EXPECT_TRUE(k.ok()) << (k ? "" : k.error().message);
  p.kernels.push_back({"nonzero", *k});
  pkg::Task t;
  t.name = t.opType = "NonZero";
  t.onnxNodes = {"NonZero_0"};
  t.launch = {0, 1, {0, 1, 2}, {}};
  p.tasks = {t};
  return pkg::serializePackage(p);
}

// The model's description shows the extent as -1 and the bound's size; an execution's output
// dataset says what it wrote (none before one); an extent beyond the bound is a device fault; an
// asynchronous execution may outlive its output dataset.
TEST_F(ModelApi, DataDependentOutputsSayWhatTheyHold) {
  frtModel m = load(dataDependentPackage());
  frtTensorDesc d;
  ASSERT_EQ(frtModelGetOutputDesc(m, 0, &d), FRT_SUCCESS);
  EXPECT_EQ(d.numDims, 1u);
  EXPECT_EQ(d.dims[0], -1);
  EXPECT_EQ(d.size, 64u);
  void *dx, *dy;
  frtMalloc(&dx, 8, FRT_MEM_MALLOC_HUGE_FIRST);
  frtMalloc(&dy, 64, FRT_MEM_MALLOC_HUGE_FIRST);
  frtDataset in, out;
  frtCreateDataset(&in);
  frtCreateDataset(&out);
  frtAddDatasetBuffer(in, dx, 8);
  frtAddDatasetBuffer(out, dy, 64);
  EXPECT_EQ(frtGetDatasetTensorDesc(out, 0, &d), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtGetDatasetTensorDesc: no finished execution has written this dataset's outputs");
  auto run = [&](int64_t n) {
    frtMemcpy(dx, 8, &n, 8, FRT_MEMCPY_HOST_TO_DEVICE);
    return frtModelExecute(m, in, out);
  };
  ASSERT_EQ(run(3), FRT_SUCCESS) << frtGetRecentErrMsg();
  ASSERT_EQ(frtGetDatasetTensorDesc(out, 0, &d), FRT_SUCCESS);
  EXPECT_STREQ(d.name, "y");
  EXPECT_EQ(d.dataType, FRT_INT64);
  EXPECT_EQ(d.numDims, 1u);
  EXPECT_EQ(d.dims[0], 3);
  EXPECT_EQ(d.size, 24u);
  std::vector<int64_t> y(3);
  frtMemcpy(y.data(), 24, dy, 24, FRT_MEMCPY_DEVICE_TO_HOST);
  EXPECT_EQ(y, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(frtGetDatasetTensorDesc(out, 1, &d), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtGetDatasetTensorDesc: index 1 out of range (the execution wrote 1 outputs)");
  ASSERT_EQ(run(0), FRT_SUCCESS) << frtGetRecentErrMsg();
  ASSERT_EQ(frtGetDatasetTensorDesc(out, 0, &d), FRT_SUCCESS);
  EXPECT_EQ(d.dims[0], 0);
  EXPECT_EQ(d.size, 0u);
  EXPECT_EQ(run(9), FRT_ERROR_DEVICE_FAULT);
  EXPECT_STREQ(frtGetRecentErrMsg(), "<memory>: output 'y': its kernel wrote the extent 9 along axis 0, outside 0..8");
  EXPECT_EQ(frtGetDatasetTensorDesc(nullptr, 0, &d), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtGetDatasetTensorDesc(out, 0, nullptr), FRT_ERROR_INVALID_PARAM);

  frtStream stream;
  ASSERT_EQ(frtCreateStream(&stream), FRT_SUCCESS);
  int64_t n = 5;
  frtMemcpy(dx, 8, &n, 8, FRT_MEMCPY_HOST_TO_DEVICE);
  ASSERT_EQ(frtModelExecuteAsync(m, in, out, stream), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyDataset(out), FRT_SUCCESS);
  EXPECT_EQ(frtSynchronizeStream(stream), FRT_SUCCESS) << frtGetRecentErrMsg();
  frtDestroyStream(stream);
  frtDestroyDataset(in);
  frtFree(dx);
  frtFree(dy);
  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
}

// Zero copy: a dataset buffer that can stand in for its tensor's place in the memory plan is that
// place during the execution (kernel and host task alike); one that cannot (unaligned, too small
// for the 512-byte reservation with user memory behind it, overlapping another buffer) is copied.
// Either way the results are right and no user byte outside the output buffers changes.
TEST_F(ModelApi, InputsAndOutputsRunInPlaceWhereTheirBuffersCan) {
  frtModel m = load(package());
  runtime::ModelProfile prof;
  ASSERT_EQ(runAndCheck(m), FRT_SUCCESS) << frtGetRecentErrMsg(); // three frtMalloc(256) buffers
  ASSERT_TRUE(runtime::lastModelProfile(m, prof));
  EXPECT_EQ(prof.copiedIoBytes, 0u);

  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[size_t(i)] = float(i) - 10;
  auto check = [&](void *dy, void *dz) {
    std::vector<float> y(64), z(64);
    ASSERT_EQ(frtMemcpy(y.data(), 256, dy, 256, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
    ASSERT_EQ(frtMemcpy(z.data(), 256, dz, 256, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
    for (int i = 0; i < 64; ++i) {
      EXPECT_EQ(y[size_t(i)], x[size_t(i)] + 0.5f * float(i)) << i;
      EXPECT_EQ(z[size_t(i)], y[size_t(i)] + x[size_t(i)]) << i;
    }
  };
  auto run = [&](void *dx, void *dy, void *dz, size_t xBytes = 256) {
    frtDataset in, out;
    frtCreateDataset(&in);
    frtCreateDataset(&out);
    frtAddDatasetBuffer(in, dx, xBytes);
    frtAddDatasetBuffer(out, dy, 256);
    frtAddDatasetBuffer(out, dz, 256);
    EXPECT_EQ(frtModelExecute(m, in, out), FRT_SUCCESS) << frtGetRecentErrMsg();
    frtDestroyDataset(in);
    frtDestroyDataset(out);
    EXPECT_TRUE(runtime::lastModelProfile(m, prof));
  };

  // One 4 KiB allocation filled with a pattern: x at 0 (its reservation would reach y), y at 256
  // (unaligned), z at 1024 (its reservation would reach user bytes at 1280): all three copied.
  void *block;
  ASSERT_EQ(frtMalloc(&block, 4096, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  auto *b = static_cast<uint8_t *>(block);
  std::vector<uint8_t> pattern(4096);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7 + 1);
  ASSERT_EQ(frtMemcpy(block, 4096, pattern.data(), 4096, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  ASSERT_EQ(frtMemcpy(block, 256, x.data(), 256, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  run(b, b + 256, b + 1024);
  EXPECT_EQ(prof.copiedIoBytes, 3u * 256u);
  check(b + 256, b + 1024);
  std::vector<uint8_t> after(4096);
  ASSERT_EQ(frtMemcpy(after.data(), 4096, block, 4096, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
  EXPECT_TRUE(std::equal(after.begin() + 512, after.begin() + 1024, pattern.begin() + 512));
  EXPECT_TRUE(std::equal(after.begin() + 1280, after.end(), pattern.begin() + 1280));
  EXPECT_TRUE(std::equal(after.begin(), after.begin() + 256, reinterpret_cast<const uint8_t *>(x.data())));

  // In one allocation of 3840 bytes (4096 on the device): x at 0 given as 512 bytes holds its
  // reservation, z at 3584 ends where the allocation's addressable bytes do (its reservation
  // reaches only the tail): both in place; y at 2048 has user bytes behind its 256: copied.
  void *tailed;
  ASSERT_EQ(frtMalloc(&tailed, 3840, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  auto *t = static_cast<uint8_t *>(tailed);
  ASSERT_EQ(frtMemcpy(tailed, 3840, pattern.data(), 3840, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  ASSERT_EQ(frtMemcpy(tailed, 256, x.data(), 256, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  run(t, t + 2048, t + 3584, 512);
  EXPECT_EQ(prof.copiedIoBytes, 256u);
  check(t + 2048, t + 3584);
  ASSERT_EQ(frtMemcpy(after.data(), 3840, tailed, 3840, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
  EXPECT_TRUE(std::equal(after.begin() + 256, after.begin() + 2048, pattern.begin() + 256));
  EXPECT_TRUE(std::equal(after.begin() + 2304, after.begin() + 3584, pattern.begin() + 2304));

  // The input's buffer is also an output's: copied in before the first task, out after the last.
  void *shared, *dz;
  ASSERT_EQ(frtMalloc(&shared, 256, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  ASSERT_EQ(frtMalloc(&dz, 256, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  ASSERT_EQ(frtMemcpy(shared, 256, x.data(), 256, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  run(shared, shared, dz);
  EXPECT_EQ(prof.copiedIoBytes, 2u * 256u); // x in, y out; z in place
  check(shared, dz);
  for (void *p : {block, tailed, shared, dz}) EXPECT_EQ(frtFree(p), FRT_SUCCESS);
  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
}

TEST_F(ModelApi, QuerySizeIsWhatLoadingTakesFromDeviceMemory) {
  // The package with a 40-byte data section in its kernel: weights = w's 512-byte slot + 40.
  Expected<pkg::Package> p0 = [] {
    std::vector<uint8_t> b = package();
    return pkg::parsePackage(b.data(), b.size(), "p");
  }();
  ASSERT_TRUE(p0.ok());
  p0->kernels[0].binary.data.assign(40, 7);
  const std::vector<uint8_t> bytes = pkg::serializePackage(*p0);
  size_t work = 0, weight = 0;
  ASSERT_EQ(frtModelQuerySizeFromMem(bytes.data(), bytes.size(), &work, &weight), FRT_SUCCESS)
      << frtGetRecentErrMsg();
  EXPECT_EQ(weight, 512u + 40u);
  EXPECT_EQ(work, 4u * 512u - 512u); // x, y, z
  size_t freeBefore = 0, total = 0, freeAfter = 0;
  ASSERT_EQ(frtGetMemInfo(&freeBefore, &total), FRT_SUCCESS);
  EXPECT_EQ(total, size_t(8) << 30); // edge: 8 GiB
  EXPECT_EQ(freeBefore, total);
  frtModel m = load(bytes);
  ASSERT_EQ(frtGetMemInfo(&freeAfter, &total), FRT_SUCCESS);
  EXPECT_EQ(freeBefore - freeAfter, work + weight);
  void *buffer;
  ASSERT_EQ(frtMalloc(&buffer, 1000, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  ASSERT_EQ(frtGetMemInfo(&freeAfter, &total), FRT_SUCCESS);
  EXPECT_EQ(freeBefore - freeAfter, work + weight + 1024); // whole 512-byte units
  ASSERT_EQ(runAndCheck(m), FRT_SUCCESS) << frtGetRecentErrMsg(); // the data section is harmless
  EXPECT_EQ(frtFree(buffer), FRT_SUCCESS);
  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
  ASSERT_EQ(frtGetMemInfo(&freeAfter, &total), FRT_SUCCESS);
  EXPECT_EQ(freeAfter, freeBefore);

  // The same numbers from a file; and what a query refuses.
  const std::string path = ::testing::TempDir() + "query-size.fpk";
  ASSERT_TRUE(pkg::writePackageFile(path, *p0).ok());
  size_t work2 = 0, weight2 = 0;
  ASSERT_EQ(frtModelQuerySize(path.c_str(), &work2, &weight2), FRT_SUCCESS) << frtGetRecentErrMsg();
  EXPECT_EQ(work2, work);
  EXPECT_EQ(weight2, weight);
  std::remove(path.c_str());
  EXPECT_EQ(frtModelQuerySize(path.c_str(), &work2, &weight2), FRT_ERROR_INVALID_FILE);
  EXPECT_NE(std::string(frtGetRecentErrMsg()).find("query-size.fpk"), std::string::npos) << frtGetRecentErrMsg();
  EXPECT_EQ(frtModelQuerySize(nullptr, &work2, &weight2), FRT_ERROR_INVALID_PARAM);
  EXPECT_EQ(frtModelQuerySizeFromMem(bytes.data(), bytes.size(), nullptr, &weight2), FRT_ERROR_INVALID_PARAM);
  std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + bytes.size() / 2);
  EXPECT_EQ(frtModelQuerySizeFromMem(truncated.data(), truncated.size(), &work2, &weight2),
            FRT_ERROR_INVALID_FILE);
  EXPECT_EQ(frtGetMemInfo(nullptr, &total), FRT_ERROR_INVALID_PARAM);
  ASSERT_EQ(frtFinalize(), FRT_SUCCESS);
  EXPECT_EQ(frtModelQuerySizeFromMem(bytes.data(), bytes.size(), &work2, &weight2), FRT_ERROR_UNINITIALIZED);
  EXPECT_EQ(frtGetMemInfo(&freeAfter, &total), FRT_ERROR_UNINITIALIZED);
  ASSERT_EQ(frtInit(nullptr), FRT_SUCCESS); // for TearDown
  EXPECT_EQ(frtGetMemInfo(&freeAfter, &total), FRT_ERROR_NO_CONTEXT);
}

TEST_F(ModelApi, DeviceFaultNamesTheTaskAndNode) {
  frtModel m = load(package("edge", /*fault=*/true));
  EXPECT_EQ(runAndCheck(m), FRT_ERROR_DEVICE_FAULT);
  std::string message = frtGetRecentErrMsg();
  EXPECT_NE(message.find("task 'Add_0' (Add, ONNX nodes: Add_0), kernel add"), std::string::npos) << message;
  EXPECT_NE(message.find("ub2gm"), std::string::npos) << message;
  EXPECT_NE(message.find("Add_0"), std::string::npos) << message;
}

TEST_F(ModelApi, ALaunchPastTheOpExecuteTimeoutNamesTheTask) {
  // 10^6 turns of a scalar loop: ~3 * 10^6 cycles, past 1 simulated ms (680,000 cycles at 680 MHz).
  ASSERT_EQ(frtSetDevice(1), FRT_SUCCESS); // edge, timing
  frtModel m = load(package("edge", false, false, 1000000));
  ASSERT_EQ(frtSetOpExecuteTimeOut(1), FRT_SUCCESS);
  EXPECT_EQ(runAndCheck(m), FRT_ERROR_DEVICE_FAULT);
  const std::string message = frtGetRecentErrMsg();
  EXPECT_NE(message.find("task 'Add_0' (Add, ONNX nodes: Add_0), kernel add: watchdog: core 0"), std::string::npos)
      << message;
  EXPECT_NE(message.find("no end after 680000 cycles"), std::string::npos) << message;
  EXPECT_NE(message.find("(the op execute timeout, 1 simulated ms: frtSetOpExecuteTimeOut"), std::string::npos)
      << message;
  ASSERT_EQ(frtSetOpExecuteTimeOut(10), FRT_SUCCESS);
  EXPECT_EQ(runAndCheck(m), FRT_SUCCESS) << frtGetRecentErrMsg(); // and right
  EXPECT_EQ(frtModelUnload(m), FRT_SUCCESS);
}

TEST_F(ModelApi, ThreadsStreamsAndModelsAtOnce) {
  // 4 threads, each with its own stream on device 0 or 1, two models per device, 5 runs each.
  std::vector<std::thread> threads;
  std::vector<frtModel> models(4);
  for (int d = 0; d < 2; ++d) {
    ASSERT_EQ(frtSetDevice(d), FRT_SUCCESS);
    models[size_t(2 * d)] = load(package());
    models[size_t(2 * d + 1)] = load(package());
  }
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      frtSetDevice(t / 2);
      frtStream s;
      frtCreateStream(&s);
      for (int run = 0; run < 5; ++run)
        if (runAndCheck(models[size_t((t + run) % 2 + 2 * (t / 2))], s) != FRT_SUCCESS) ++failures;
      frtDestroyStream(s);
    });
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

} // namespace

namespace {

// The C++ layer: Model owns the loaded package, execute() builds and frees the datasets.
TEST(ModelCpp, RaiiModelRunsAndThrows) {
  rt::Runtime runtime("edge:functional");
  rt::setDevice(0);
  std::vector<uint8_t> bytes = package();
  rt::Model model(bytes.data(), bytes.size());
  EXPECT_EQ(model.numInputs(), 1u);
  EXPECT_EQ(model.numOutputs(), 2u);
  EXPECT_STREQ(model.output(1).name, "z");
  std::vector<float> x(64, 2.0f);
  rt::DeviceBuffer in(256), y(256), z(256);
  in.upload(x.data(), 256);
  rt::Stream stream;
  const std::vector<frtTensorDesc> written = model.execute({&in}, {&y, &z}, &stream);
  std::vector<float> got = y.download<float>();
  for (int i = 0; i < 64; ++i) EXPECT_EQ(got[size_t(i)], 2.0f + 0.5f * float(i));
  ASSERT_EQ(written.size(), 2u);
  EXPECT_STREQ(written[1].name, "z");
  EXPECT_EQ(written[1].numDims, 2u);
  EXPECT_EQ(written[1].size, 256u);

  // A data-dependent output: what the run wrote.
  std::vector<uint8_t> nonZero = dataDependentPackage();
  rt::Model counted(nonZero.data(), nonZero.size());
  EXPECT_EQ(counted.output(0).dims[0], -1);
  rt::DeviceBuffer n(8), indices(64);
  const int64_t four = 4;
  n.upload(&four, 8);
  const std::vector<frtTensorDesc> wrote = counted.execute({&n}, {&indices});
  EXPECT_EQ(wrote[0].dims[0], 4);
  EXPECT_EQ(wrote[0].size, 32u);
  rt::DeviceBuffer small(128);
  try {
    model.execute({&small}, {&y, &z});
    FAIL() << "a too small input buffer was accepted";
  } catch (const rt::Error &e) {
    EXPECT_EQ(e.code(), FRT_ERROR_INVALID_PARAM);
    EXPECT_NE(std::string(e.what()).find("holds 128 bytes, the tensor needs 256"), std::string::npos);
  }
  std::vector<uint8_t> corrupt = bytes;
  corrupt[30] ^= 1;
  EXPECT_THROW(rt::Model(corrupt.data(), corrupt.size()), rt::Error);
}

} // namespace
