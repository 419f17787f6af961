// Internal state of the runtime: devices (simulators), contexts, streams (a worker thread each),
// events and kernels, and the registries that make every handle checkable. One global mutex guards
// the registries; each device has its own mutex for its memory and simulator.
#pragma once

#include "fractal/runtime/fractal_runtime.h"

#include "fractal/isa/KernelBinary.h"
#include "fractal/sim/Simulator.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace fractal::runtime {

// A failure inside the runtime: an error code and the message frtGetRecentErrMsg returns.
struct Failure {
  frtError code;
  std::string message;
};

struct Device {
  int id = 0;
  ChipConfig config;
  sim::SimMode mode = sim::SimMode::Timing;
  std::mutex mutex; // memory and runs
  std::unique_ptr<sim::Simulator> simulator;
  std::unique_ptr<sim::TileBackend> rtl;
  std::map<uint64_t, uint64_t> allocations; // GM address -> size
};

struct frtStreamImplBase;

} // namespace fractal::runtime

struct frtContextImpl {
  fractal::runtime::Device *device = nullptr;
  frtStreamImpl *defaultStream = nullptr;
  bool implicit = false; // created by frtSetDevice, destroyed by frtResetDevice
};

struct frtStreamImpl {
  frtContextImpl *context = nullptr;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::function<void()>> tasks;
  bool busy = false;
  bool stop = false;
  std::unique_ptr<fractal::runtime::Failure> error; // the first asynchronous failure
  double simulatedUs = 0; // the stream's device time so far
  std::thread worker;
};

struct frtEventImpl {
  std::mutex mutex;
  std::condition_variable completed;
  bool recorded = false, done = false;
  double simulatedUs = 0;
};

struct frtKernelImpl {
  fractal::runtime::Device *device = nullptr;
  fractal::isa::KernelBinary binary;
  uint64_t dataAddress = 0; // its data section in the device's GM (0 = none)
};

namespace fractal::runtime {

struct Runtime {
  std::mutex mutex;
  bool initialized = false;
  std::vector<std::unique_ptr<Device>> devices;
  std::unordered_set<frtContextImpl *> contexts;
  std::unordered_set<frtStreamImpl *> streams;
  std::unordered_set<frtEventImpl *> events;
  std::unordered_set<frtKernelImpl *> kernels;
};

Runtime &state(); // the one runtime of the process

// Device pointers: bit 62 set (a non-canonical address, so a host dereference traps), the device
// id in bits 52..61, the GM address below.
void *makeDevicePointer(int device, uint64_t address);
bool decodeDevicePointer(const void *ptr, int &device, uint64_t &address);

} // namespace fractal::runtime
