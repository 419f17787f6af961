// The C++ layer: the same GEMM through RAII owners (host staging memory included), and errors as
// exceptions.
#include "fractal/runtime/Runtime.hpp"

#include "fractal/isa/Assembler.h"
#include "fractal/support/File.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

using namespace fractal;

TEST(RuntimeCpp, GemmThroughRaiiOwners) {
  const char *root = std::getenv("FRACTAL_SOURCE_DIR");
  Expected<std::string> text = readTextFile(std::string(root ? root : ".") +
                                            "/tests/sim/kernels/gemm_fp16.s");
  ASSERT_TRUE(text.ok());
  Expected<isa::KernelBinary> binary = isa::assemble(*text, "gemm_fp16.s");
  ASSERT_TRUE(binary.ok());
  std::vector<uint8_t> bytes = isa::serializeKernel(*binary);

  rt::Runtime runtime;
  rt::setDevice(0);
  rt::HostBuffer ones(64 * 64 * 2); // staged in frtMallocHost memory
  std::fill(ones.as<uint16_t>(), ones.as<uint16_t>() + 64 * 64, uint16_t(0x3c00)); // 1.0 in fp16
  rt::DeviceBuffer a(ones.size()), b(ones.size()), c(64 * 64 * 4);
  a.upload(ones.get(), ones.size());
  b.upload(ones.get(), ones.size());
  rt::Kernel kernel(bytes.data(), bytes.size());
  rt::Stream stream;
  rt::Event start, end;
  start.record(&stream);
  kernel.launch(1, {a.word(), b.word(), c.word()}, &stream);
  end.record(&stream);
  stream.synchronize();
  for (float v : c.download<float>())
    ASSERT_EQ(v, 64.0f);
  end.synchronize();
  EXPECT_GT(end.elapsedSince(start), 0.0f);

  // A second stream waits for the first one's event: its own event lands no earlier in
  // simulated time.
  rt::Stream other;
  rt::Event waited;
  other.wait(end);
  waited.record(&other);
  other.synchronize();
  EXPECT_EQ(waited.elapsedSince(start), end.elapsedSince(start));
  rt::Event neverRecorded;
  try {
    other.wait(neverRecorded);
    FAIL() << "waiting for an event never recorded succeeded";
  } catch (const rt::Error &e) {
    EXPECT_EQ(e.code(), FRT_ERROR_INVALID_HANDLE);
  }

  try {
    rt::DeviceBuffer huge(size_t(1) << 40);
    FAIL() << "a 1 TiB allocation succeeded";
  } catch (const rt::Error &e) {
    EXPECT_EQ(e.code(), FRT_ERROR_OUT_OF_MEMORY);
    EXPECT_EQ(std::string(e.what()).rfind("frtMalloc: frtMalloc: no room for", 0), 0u) << e.what();
  }

  // A launch past the device's op execute timeout (10^6 turns of a loop, ~3 * 10^6 cycles; 1 ms
  // is 680,000) faults at the synchronisation.
  Expected<isa::KernelBinary> slow = isa::assemble("  li x5, 1000000\nloop:\n  dbnz x5, loop\n  end\n", "slow.s");
  ASSERT_TRUE(slow.ok());
  std::vector<uint8_t> slowBytes = isa::serializeKernel(*slow);
  rt::Kernel spinning(slowBytes.data(), slowBytes.size());
  rt::setOpExecuteTimeOut(1);
  spinning.launch(1, {}, &stream);
  try {
    stream.synchronize();
    FAIL() << "a launch past the op execute timeout ended";
  } catch (const rt::Error &e) {
    EXPECT_EQ(e.code(), FRT_ERROR_DEVICE_FAULT);
    EXPECT_NE(std::string(e.what()).find("(the op execute timeout, 1 simulated ms"), std::string::npos) << e.what();
  }
  rt::setOpExecuteTimeOut(0);
  spinning.launch(1, {}, &stream);
  stream.synchronize();
}
