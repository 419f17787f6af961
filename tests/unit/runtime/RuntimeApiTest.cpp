// The runtime's C API: every call, including misuse (null pointers, wrong or destroyed handles,
// double free, pointers from another device), kernels that run and kernels that fault, events
// with simulated time, and several threads at once.
#include "fractal/runtime/fractal_runtime.h"

#include "fractal/isa/Assembler.h"
#include "fractal/isa/Numerics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace fractal;

namespace {

// A small GEMM kernel as bytes: C (16x16 f32) = A (16x16 f16) x B (16x16 f16); args A, B, C.
std::vector<uint8_t> gemmKernel(const std::string &target = "edge") {
  std::string text = ".target " + target + R"(
  mfsr x1, args
  ld x2, gm[x1]
  ld x3, gm[x1], offset=8
  ld x4, gm[x1], offset=16
  gm2l1_nz.f16 l1[x0], gm[x2], rows=16, cols=16, src_stride=16, dst_rows=16
  li x5, 512
  gm2l1_nz.f16 l1[x5], gm[x3], rows=16, cols=16, src_stride=16, dst_rows=16
  set_flag mte2, mte1, 0
  wait_flag mte2, mte1, 0
  load2d l0a[x0], l1[x0]
  load2d l0b[x0], l1[x5], transpose=1
  set_flag mte1, m, 0
  wait_flag mte1, m, 0
  mmad.f16 l0c[x0], l0a[x0], l0b[x0], m=16, k=16, n=16, init=1
  set_flag m, fix, 0
  wait_flag m, fix, 0
  fixp.f32.f32 gm[x4], l0c[x0], m=16, n=16, src_rows=16, dst_stride=16
  end
)";
  Expected<isa::KernelBinary> k = isa::assemble(text, "gemm16.s");
  EXPECT_TRUE(k.ok()) << k.error().message;
  return isa::serializeKernel(*k);
}

class Runtime : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(frtInit("edge,edge:functional"), FRT_SUCCESS) << frtGetRecentErrMsg();
    ASSERT_EQ(frtSetDevice(0), FRT_SUCCESS);
  }
  void TearDown() override { EXPECT_EQ(frtFinalize(), FRT_SUCCESS) << frtGetRecentErrMsg(); }

  // The GEMM's operands on the current device: A = B = all 1.0 (16x16 f16), C for 16x16 f32.
  void gemmOperands(void *&a, void *&b, void *&c) {
    std::vector<uint16_t> ones(256, 0x3c00);
    ASSERT_EQ(frtMalloc(&a, 512, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
    ASSERT_EQ(frtMalloc(&b, 512, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
    ASSERT_EQ(frtMalloc(&c, 1024, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
    ASSERT_EQ(frtMemcpy(a, 512, ones.data(), 512, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
    ASSERT_EQ(frtMemcpy(b, 512, ones.data(), 512, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  }

  // Runs the 16x16 GEMM with A = B = all 1.0 on `stream`; C must be all 16.0.
  void runGemm(frtStream stream, int device = 0) {
    ASSERT_EQ(frtSetDevice(device), FRT_SUCCESS);
    void *a, *b, *c;
    gemmOperands(a, b, c);
    std::vector<uint8_t> bytes = gemmKernel();
    frtKernel k;
    ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &k), FRT_SUCCESS) << frtGetRecentErrMsg();
    uint64_t args[3] = {reinterpret_cast<uint64_t>(a), reinterpret_cast<uint64_t>(b),
                        reinterpret_cast<uint64_t>(c)};
    ASSERT_EQ(frtLaunchKernel(k, 1, args, 3, stream), FRT_SUCCESS) << frtGetRecentErrMsg();
    ASSERT_EQ(frtSynchronizeStream(stream), FRT_SUCCESS) << frtGetRecentErrMsg();
    std::vector<float> out(256);
    ASSERT_EQ(frtMemcpy(out.data(), 1024, c, 1024, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
    for (float v : out)
      ASSERT_EQ(v, 16.0f);
    EXPECT_EQ(frtUnloadKernel(k), FRT_SUCCESS);
    EXPECT_EQ(frtFree(a), FRT_SUCCESS);
    EXPECT_EQ(frtFree(b), FRT_SUCCESS);
    EXPECT_EQ(frtFree(c), FRT_SUCCESS);
  }
};

} // namespace

TEST(RuntimeInit, CallsBeforeInitAndDoubleInit) {
  uint32_t count = 0;
  EXPECT_EQ(frtGetDeviceCount(&count), FRT_ERROR_UNINITIALIZED);
  EXPECT_STREQ(frtGetRecentErrMsg(), "the runtime is not initialized: call frtInit");
  EXPECT_EQ(frtFinalize(), FRT_ERROR_UNINITIALIZED);
  ASSERT_EQ(frtInit(nullptr), FRT_SUCCESS);
  EXPECT_EQ(frtInit(nullptr), FRT_ERROR_REPEAT_INITIALIZE);
  EXPECT_EQ(frtGetDeviceCount(&count), FRT_SUCCESS);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(frtFinalize(), FRT_SUCCESS);
}

TEST(RuntimeInit, BadDeviceSpecs) {
  EXPECT_EQ(frtInit("edge:fast"), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtInit: device 'edge:fast': mode must be functional, timing or rtl");
  EXPECT_EQ(frtInit("nosuchchip"), FRT_ERROR_INVALID_FILE);
  EXPECT_NE(std::string(frtGetRecentErrMsg()).find("unknown target 'nosuchchip'"), std::string::npos);
}

TEST_F(Runtime, Devices) {
  uint32_t count = 0;
  ASSERT_EQ(frtGetDeviceCount(&count), FRT_SUCCESS);
  EXPECT_EQ(count, 2u);
  frtDeviceInfo info;
  ASSERT_EQ(frtGetDeviceInfo(1, &info), FRT_SUCCESS);
  EXPECT_STREQ(info.target, "edge");
  EXPECT_STREQ(info.mode, "functional");
  EXPECT_EQ(info.aiCores, 2u);
  EXPECT_EQ(info.memoryBytes, uint64_t(8) << 30);
  EXPECT_EQ(frtSetDevice(2), FRT_ERROR_INVALID_DEVICE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtSetDevice: no device 2 (there are 2)");
  EXPECT_EQ(frtGetDeviceInfo(0, nullptr), FRT_ERROR_INVALID_PARAM);
  int32_t current = -1;
  ASSERT_EQ(frtGetDevice(&current), FRT_SUCCESS);
  EXPECT_EQ(current, 0);
}

TEST_F(Runtime, MemoryRoundTripAndMisuse) {
  void *p = nullptr;
  ASSERT_EQ(frtMalloc(&p, 1000, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  std::vector<uint8_t> in(1000), out(1000);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<uint8_t>(i * 7);
  ASSERT_EQ(frtMemcpy(p, 1000, in.data(), 1000, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
  ASSERT_EQ(frtMemcpy(out.data(), 1000, p, 1000, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
  EXPECT_EQ(in, out);
  ASSERT_EQ(frtMemset(p, 1000, 0xab, 10), FRT_SUCCESS);
  ASSERT_EQ(frtMemcpy(out.data(), 1000, p, 1000, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
  EXPECT_EQ(out[9], 0xab);
  EXPECT_EQ(out[10], in[10]);

  EXPECT_EQ(frtMemcpy(out.data(), 10, p, 100, FRT_MEMCPY_DEVICE_TO_HOST), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtMemcpy: count 100 exceeds destMax 10");
  EXPECT_EQ(frtMemcpy(out.data(), 2000, p, 1001, FRT_MEMCPY_DEVICE_TO_HOST), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "src: 1001 bytes run past the end of its allocation");
  EXPECT_EQ(frtMemcpy(p, 1000, out.data(), 10, FRT_MEMCPY_DEVICE_TO_HOST), FRT_ERROR_INVALID_POINTER);
  EXPECT_EQ(frtMalloc(&p, 0, FRT_MEM_MALLOC_HUGE_FIRST), FRT_ERROR_INVALID_PARAM);
  EXPECT_EQ(frtMalloc(nullptr, 10, FRT_MEM_MALLOC_HUGE_FIRST), FRT_ERROR_INVALID_PARAM);
  EXPECT_EQ(frtMalloc(&p, size_t(1) << 40, FRT_MEM_MALLOC_HUGE_FIRST), FRT_ERROR_OUT_OF_MEMORY);

  ASSERT_EQ(frtFree(p), FRT_SUCCESS);
  EXPECT_EQ(frtFree(p), FRT_ERROR_INVALID_POINTER);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtFree: not the start of a live allocation (freed twice?)");
  EXPECT_EQ(frtMemcpy(out.data(), 1000, p, 10, FRT_MEMCPY_DEVICE_TO_HOST), FRT_ERROR_INVALID_POINTER);
  EXPECT_STREQ(frtGetRecentErrMsg(), "src is not inside a live allocation (freed, or never allocated)");
  EXPECT_EQ(frtFree(in.data()), FRT_ERROR_INVALID_POINTER);
}

// frtMallocHost: zero-filled, usable with frtMemcpy both ways, freed once; small and page-mapped
// (>= 64 KiB) buffers alike.
TEST_F(Runtime, HostMemory) {
  for (size_t size : {size_t(100), size_t(1) << 20}) {
    SCOPED_TRACE(size);
    uint8_t *host = nullptr;
    ASSERT_EQ(frtMallocHost(reinterpret_cast<void **>(&host), size), FRT_SUCCESS) << frtGetRecentErrMsg();
    ASSERT_NE(host, nullptr);
    EXPECT_EQ(std::count(host, host + size, 0), std::ptrdiff_t(size));
    for (size_t i = 0; i < size; ++i) host[i] = static_cast<uint8_t>(i * 13);
    void *dev;
    ASSERT_EQ(frtMalloc(&dev, size, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
    ASSERT_EQ(frtMemcpy(dev, size, host, size, FRT_MEMCPY_HOST_TO_DEVICE), FRT_SUCCESS);
    std::fill(host, host + size, 0);
    ASSERT_EQ(frtMemcpy(host, size, dev, size, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
    EXPECT_EQ(host[size - 1], static_cast<uint8_t>((size - 1) * 13));
    EXPECT_EQ(host[7], static_cast<uint8_t>(7 * 13));
    ASSERT_EQ(frtFree(dev), FRT_SUCCESS);
    ASSERT_EQ(frtFreeHost(host), FRT_SUCCESS);
    EXPECT_EQ(frtFreeHost(host), FRT_ERROR_INVALID_POINTER);
    EXPECT_STREQ(frtGetRecentErrMsg(), "frtFreeHost: not a live buffer from frtMallocHost (freed twice?)");
  }
  void *p = nullptr;
  EXPECT_EQ(frtMallocHost(&p, 0), FRT_ERROR_INVALID_PARAM);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtMallocHost: size is 0");
  EXPECT_EQ(frtMallocHost(nullptr, 10), FRT_ERROR_INVALID_PARAM);
  std::vector<uint8_t> mine(16);
  EXPECT_EQ(frtFreeHost(mine.data()), FRT_ERROR_INVALID_POINTER); // not the runtime's
  EXPECT_EQ(frtFreeHost(nullptr), FRT_ERROR_INVALID_POINTER);
  ASSERT_EQ(frtMallocHost(&p, 64), FRT_SUCCESS); // left for frtFinalize to free (TearDown)
}

TEST_F(Runtime, PointerOfAnotherDevice) {
  void *p;
  ASSERT_EQ(frtMalloc(&p, 512, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS); // on device 0
  std::vector<uint8_t> bytes = gemmKernel();
  ASSERT_EQ(frtSetDevice(1), FRT_SUCCESS);
  frtKernel k;
  ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &k), FRT_SUCCESS);
  uint64_t args[3] = {reinterpret_cast<uint64_t>(p), 0, 0};
  EXPECT_EQ(frtLaunchKernel(k, 1, args, 3, nullptr), FRT_ERROR_INVALID_POINTER);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtLaunchKernel: argument 0 is a pointer of another device");
}

TEST_F(Runtime, KernelRunsOnBothModes) {
  runGemm(nullptr, 0);
  runGemm(nullptr, 1);
}

TEST_F(Runtime, StreamsAndHandles) {
  frtStream s;
  ASSERT_EQ(frtCreateStream(&s), FRT_SUCCESS);
  runGemm(s);
  ASSERT_EQ(frtDestroyStream(s), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyStream(s), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtSynchronizeStream(s), FRT_ERROR_INVALID_HANDLE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "stream is not a live stream (destroyed, or never created)");
  frtContext ctx;
  ASSERT_EQ(frtGetCurrentContext(&ctx), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyStream(nullptr), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtCreateStream(nullptr), FRT_ERROR_INVALID_PARAM);
}

TEST_F(Runtime, ContextsAreCurrentPerThread) {
  frtContext mine;
  ASSERT_EQ(frtCreateContext(&mine, 1), FRT_SUCCESS);
  int32_t device = -1;
  ASSERT_EQ(frtGetDevice(&device), FRT_SUCCESS);
  EXPECT_EQ(device, 1);
  std::thread other([] {
    int32_t d = -1;
    EXPECT_EQ(frtGetDevice(&d), FRT_ERROR_NO_CONTEXT); // a new thread has no current context
    EXPECT_EQ(frtSetDevice(0), FRT_SUCCESS);
    EXPECT_EQ(frtGetDevice(&d), FRT_SUCCESS);
    EXPECT_EQ(d, 0);
  });
  other.join();
  ASSERT_EQ(frtDestroyContext(mine), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyContext(mine), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtGetDevice(&device), FRT_ERROR_NO_CONTEXT);
}

TEST_F(Runtime, EventsMeasureSimulatedTime) {
  frtEvent start, end;
  ASSERT_EQ(frtCreateEvent(&start), FRT_SUCCESS);
  ASSERT_EQ(frtCreateEvent(&end), FRT_SUCCESS);
  EXPECT_EQ(frtSynchronizeEvent(start), FRT_ERROR_INVALID_HANDLE); // never recorded
  ASSERT_EQ(frtRecordEvent(start, nullptr), FRT_SUCCESS);
  runGemm(nullptr);
  ASSERT_EQ(frtRecordEvent(end, nullptr), FRT_SUCCESS);
  ASSERT_EQ(frtSynchronizeEvent(end), FRT_SUCCESS);
  frtEventStatus status;
  ASSERT_EQ(frtQueryEventStatus(end, &status), FRT_SUCCESS);
  EXPECT_EQ(status, FRT_EVENT_COMPLETE);
  float ms = 0;
  ASSERT_EQ(frtEventElapsedTime(&ms, start, end), FRT_SUCCESS);
  // At least the kernel-launch cost of the config (20 us) plus the kernel's own time.
  EXPECT_GT(ms, 0.020f);
  EXPECT_LT(ms, 1.0f);
  EXPECT_EQ(frtEventElapsedTime(&ms, start, start), FRT_SUCCESS);
  EXPECT_EQ(ms, 0.0f);
  EXPECT_EQ(frtDestroyEvent(start), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyEvent(start), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtDestroyEvent(end), FRT_SUCCESS);
}

TEST_F(Runtime, AStreamWaitsForAnotherStreamsEvent) {
  // Stream 1 computes C = A x B (all 16.0); stream 2, told to wait for the event recorded after
  // it, copies C to D. D must hold the product, and stream 2's next event must lie after stream
  // 1's in simulated time (stream 2 did nothing else: without the wait it would stand at 0).
  void *a, *b, *c, *d;
  gemmOperands(a, b, c);
  ASSERT_EQ(frtMalloc(&d, 1024, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  std::vector<uint8_t> bytes = gemmKernel();
  frtKernel k;
  ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &k), FRT_SUCCESS);
  frtStream s1, s2;
  ASSERT_EQ(frtCreateStream(&s1), FRT_SUCCESS);
  ASSERT_EQ(frtCreateStream(&s2), FRT_SUCCESS);
  frtEvent start, computed, copied, never;
  for (frtEvent *e : {&start, &computed, &copied, &never})
    ASSERT_EQ(frtCreateEvent(e), FRT_SUCCESS);
  EXPECT_EQ(frtStreamWaitEvent(s2, never), FRT_ERROR_INVALID_HANDLE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "frtStreamWaitEvent: the event was never recorded (frtRecordEvent first)");
  EXPECT_EQ(frtStreamWaitEvent(s2, nullptr), FRT_ERROR_INVALID_HANDLE);
  int notAStream = 0;
  EXPECT_EQ(frtStreamWaitEvent(reinterpret_cast<frtStream>(&notAStream), start), FRT_ERROR_INVALID_HANDLE);

  uint64_t args[3] = {reinterpret_cast<uint64_t>(a), reinterpret_cast<uint64_t>(b),
                      reinterpret_cast<uint64_t>(c)};
  ASSERT_EQ(frtRecordEvent(start, s1), FRT_SUCCESS);
  ASSERT_EQ(frtLaunchKernel(k, 1, args, 3, s1), FRT_SUCCESS);
  ASSERT_EQ(frtRecordEvent(computed, s1), FRT_SUCCESS);
  ASSERT_EQ(frtStreamWaitEvent(s2, computed), FRT_SUCCESS) << frtGetRecentErrMsg();
  ASSERT_EQ(frtMemcpyAsync(d, 1024, c, 1024, FRT_MEMCPY_DEVICE_TO_DEVICE, s2), FRT_SUCCESS);
  ASSERT_EQ(frtRecordEvent(copied, s2), FRT_SUCCESS);
  ASSERT_EQ(frtSynchronizeStream(s2), FRT_SUCCESS) << frtGetRecentErrMsg();
  std::vector<float> out(256);
  ASSERT_EQ(frtMemcpy(out.data(), 1024, d, 1024, FRT_MEMCPY_DEVICE_TO_HOST), FRT_SUCCESS);
  for (float v : out)
    ASSERT_EQ(v, 16.0f);
  float kernelMs = 0, copiedMs = 0;
  ASSERT_EQ(frtEventElapsedTime(&kernelMs, start, computed), FRT_SUCCESS) << frtGetRecentErrMsg();
  ASSERT_EQ(frtEventElapsedTime(&copiedMs, start, copied), FRT_SUCCESS) << frtGetRecentErrMsg();
  EXPECT_GT(kernelMs, 0.020f); // at least the launch cost
  EXPECT_EQ(copiedMs, kernelMs); // a copy takes no simulated time
  // The wait is not blocked by a later record of the same event: it waits for the one before it.
  ASSERT_EQ(frtStreamWaitEvent(nullptr, computed), FRT_SUCCESS);
  ASSERT_EQ(frtSynchronizeStream(nullptr), FRT_SUCCESS);
  for (frtEvent e : {start, computed, copied, never})
    EXPECT_EQ(frtDestroyEvent(e), FRT_SUCCESS);
  EXPECT_EQ(frtStreamWaitEvent(s2, computed), FRT_ERROR_INVALID_HANDLE); // destroyed
  EXPECT_EQ(frtDestroyStream(s1), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyStream(s2), FRT_SUCCESS);
  EXPECT_EQ(frtUnloadKernel(k), FRT_SUCCESS);
  for (void *p : {a, b, c, d})
    EXPECT_EQ(frtFree(p), FRT_SUCCESS);
}

TEST_F(Runtime, AnEventOutlivesItsRecordsThatCompleteOutOfOrder) {
  // Record 1 of the event waits on stream 1 behind a slow kernel (a scalar loop) of stream 3;
  // record 2, on stream 2, completes at once. Destroying the event must wait for record 1 too,
  // which still refers to it (under `make asan-test` a use after free shows otherwise).
  Expected<isa::KernelBinary> slow = isa::assemble("  li x5, 2000000\nloop:\n  dbnz x5, loop\n  end\n", "slow.s");
  ASSERT_TRUE(slow.ok()) << slow.error().message;
  std::vector<uint8_t> bytes = isa::serializeKernel(*slow);
  frtKernel k;
  ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &k), FRT_SUCCESS);
  frtStream s1, s2, s3;
  for (frtStream *s : {&s1, &s2, &s3})
    ASSERT_EQ(frtCreateStream(s), FRT_SUCCESS);
  frtEvent gate, event;
  ASSERT_EQ(frtCreateEvent(&gate), FRT_SUCCESS);
  ASSERT_EQ(frtCreateEvent(&event), FRT_SUCCESS);
  ASSERT_EQ(frtLaunchKernel(k, 1, nullptr, 0, s3), FRT_SUCCESS);
  ASSERT_EQ(frtRecordEvent(gate, s3), FRT_SUCCESS);
  ASSERT_EQ(frtStreamWaitEvent(s1, gate), FRT_SUCCESS);
  ASSERT_EQ(frtRecordEvent(event, s1), FRT_SUCCESS); // record 1: behind the slow kernel
  ASSERT_EQ(frtRecordEvent(event, s2), FRT_SUCCESS); // record 2: at once
  ASSERT_EQ(frtSynchronizeStream(s2), FRT_SUCCESS);
  EXPECT_EQ(frtDestroyEvent(event), FRT_SUCCESS); // waits for record 1, which waited for the gate
  frtEventStatus status = FRT_EVENT_NOT_READY;
  ASSERT_EQ(frtQueryEventStatus(gate, &status), FRT_SUCCESS);
  EXPECT_EQ(status, FRT_EVENT_COMPLETE);
  for (frtStream s : {s1, s2, s3})
    EXPECT_EQ(frtSynchronizeStream(s), FRT_SUCCESS) << frtGetRecentErrMsg();
  EXPECT_EQ(frtDestroyEvent(gate), FRT_SUCCESS);
  for (frtStream s : {s1, s2, s3})
    EXPECT_EQ(frtDestroyStream(s), FRT_SUCCESS);
  EXPECT_EQ(frtUnloadKernel(k), FRT_SUCCESS);
}

TEST_F(Runtime, OpExecuteTimeoutPerDevice) {
  // 10^6 turns of a scalar loop: 3 * 10^6 cycles (a taken branch costs 2 more) and 10^6 scalar
  // instructions, both past 1 simulated ms of the edge chip (680,000) and within 10 ms.
  Expected<isa::KernelBinary> slow = isa::assemble("  li x5, 1000000\nloop:\n  dbnz x5, loop\n  end\n", "slow.s");
  ASSERT_TRUE(slow.ok()) << slow.error().message;
  std::vector<uint8_t> bytes = isa::serializeKernel(*slow);
  frtKernel k[2];
  auto launch = [&](int device) {
    EXPECT_EQ(frtSetDevice(device), FRT_SUCCESS);
    EXPECT_EQ(frtLaunchKernel(k[device], 1, nullptr, 0, nullptr), FRT_SUCCESS);
    return frtSynchronizeStream(nullptr);
  };
  for (int device : {0, 1}) {
    ASSERT_EQ(frtSetDevice(device), FRT_SUCCESS);
    ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &k[device]), FRT_SUCCESS);
    ASSERT_EQ(frtSetOpExecuteTimeOut(1), FRT_SUCCESS);
  }
  ASSERT_EQ(launch(0), FRT_ERROR_DEVICE_FAULT); // timing: cycles
  std::string message = frtGetRecentErrMsg();
  EXPECT_EQ(message.rfind("kernel slow.s: watchdog: core 0", 0), 0u) << message;
  EXPECT_NE(message.find("no end after 680000 cycles"), std::string::npos) << message;
  EXPECT_NE(message.find("(the op execute timeout, 1 simulated ms: frtSetOpExecuteTimeOut, or `--op-timeout MS` "
                         "of fractal run and fractal sweep)"),
            std::string::npos)
      << message;
  ASSERT_EQ(launch(1), FRT_ERROR_DEVICE_FAULT); // functional: scalar instructions
  message = frtGetRecentErrMsg();
  EXPECT_NE(message.find("watchdog: more than 680000 scalar instructions"), std::string::npos) << message;
  ASSERT_EQ(frtSetOpExecuteTimeOut(10), FRT_SUCCESS); // device 1's only
  EXPECT_EQ(launch(1), FRT_SUCCESS) << frtGetRecentErrMsg();
  EXPECT_EQ(launch(0), FRT_ERROR_DEVICE_FAULT);
  ASSERT_EQ(frtSetOpExecuteTimeOut(0), FRT_SUCCESS); // the default, 200 ms
  EXPECT_EQ(launch(0), FRT_SUCCESS) << frtGetRecentErrMsg();
  for (frtKernel kernel : k) EXPECT_EQ(frtUnloadKernel(kernel), FRT_SUCCESS);
  std::thread([] { EXPECT_EQ(frtSetOpExecuteTimeOut(5), FRT_ERROR_NO_CONTEXT); }).join();
}

TEST_F(Runtime, DeviceFaultSurfacesAtSynchronize) {
  Expected<isa::KernelBinary> k = isa::assemble("wait_flag mte2, mte1, 0\nload2d l0a[x0], l1[x0]\nend\n",
                                                "deadlock.s");
  ASSERT_TRUE(k.ok());
  std::vector<uint8_t> bytes = isa::serializeKernel(*k);
  frtKernel kernel;
  ASSERT_EQ(frtLoadKernelFromMem(bytes.data(), bytes.size(), &kernel), FRT_SUCCESS);
  ASSERT_EQ(frtLaunchKernel(kernel, 1, nullptr, 0, nullptr), FRT_SUCCESS);
  EXPECT_EQ(frtSynchronizeStream(nullptr), FRT_ERROR_DEVICE_FAULT);
  EXPECT_EQ(std::string(frtGetRecentErrMsg()).rfind("kernel deadlock.s: deadlock: core 0", 0), 0u)
      << frtGetRecentErrMsg();
  EXPECT_EQ(frtSynchronizeStream(nullptr), FRT_SUCCESS); // reported once
  runGemm(nullptr); // the device works again afterwards
}

TEST_F(Runtime, BadKernels) {
  frtKernel k;
  std::vector<uint8_t> junk(100, 7);
  EXPECT_EQ(frtLoadKernelFromMem(junk.data(), junk.size(), &k), FRT_ERROR_INVALID_FILE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "<memory>: invalid kernel binary: bad magic (not a Fractal kernel binary)");
  std::vector<uint8_t> cloud = gemmKernel("cloud");
  EXPECT_EQ(frtLoadKernelFromMem(cloud.data(), cloud.size(), &k), FRT_ERROR_INVALID_FILE);
  EXPECT_STREQ(frtGetRecentErrMsg(), "kernel gemm16.s was built for target 'cloud', device 0 is 'edge'");
  EXPECT_EQ(frtLoadKernelFromFile("/nonexistent.bin", &k), FRT_ERROR_INVALID_FILE);
  std::vector<uint8_t> good = gemmKernel();
  ASSERT_EQ(frtLoadKernelFromMem(good.data(), good.size(), &k), FRT_SUCCESS);
  EXPECT_EQ(frtLaunchKernel(k, 0, nullptr, 0, nullptr), FRT_ERROR_INVALID_PARAM);
  ASSERT_EQ(frtUnloadKernel(k), FRT_SUCCESS);
  EXPECT_EQ(frtUnloadKernel(k), FRT_ERROR_INVALID_HANDLE);
  EXPECT_EQ(frtLaunchKernel(k, 1, nullptr, 0, nullptr), FRT_ERROR_INVALID_HANDLE);
}

TEST_F(Runtime, ResetDeviceReleasesEverything) {
  void *p;
  ASSERT_EQ(frtMalloc(&p, 512, FRT_MEM_MALLOC_HUGE_FIRST), FRT_SUCCESS);
  ASSERT_EQ(frtResetDevice(0), FRT_SUCCESS);
  EXPECT_EQ(frtFree(p), FRT_ERROR_INVALID_POINTER);
  EXPECT_EQ(frtMalloc(&p, 512, FRT_MEM_MALLOC_HUGE_FIRST), FRT_ERROR_NO_CONTEXT);
  ASSERT_EQ(frtSetDevice(0), FRT_SUCCESS);
  runGemm(nullptr);
}

TEST_F(Runtime, ManyThreadsStreamsAndDevices) {
  // Four threads, each with its own stream on one of the two devices, launching kernels and
  // copying concurrently; every result must be right. Run under ThreadSanitizer with
  // `make tsan-test` (docs/runtime.md).
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([this, t, &failures] {
      ASSERT_EQ(frtSetDevice(t % 2), FRT_SUCCESS);
      frtStream s;
      ASSERT_EQ(frtCreateStream(&s), FRT_SUCCESS);
      for (int i = 0; i < 3; ++i) {
        runGemm(s, t % 2);
        if (::testing::Test::HasFailure())
          ++failures;
      }
      ASSERT_EQ(frtDestroyStream(s), FRT_SUCCESS);
    });
  for (std::thread &t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
}
