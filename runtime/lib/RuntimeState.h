// Internal state of the runtime: devices (simulators), contexts, streams (a worker thread each),
// events and kernels, and the registries that make every handle checkable. One global mutex guards
// the registries; each device has its own mutex for its memory and simulator.
#pragma once

#include "fractal/runtime/fractal_runtime.h"

#include "fractal/isa/KernelBinary.h"
#include "fractal/sim/Simulator.h"
#include "fractal/sim/ZeroedBytes.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
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
  uint32_t opTimeoutMs = FRT_DEFAULT_OP_TIMEOUT_MS; // frtSetOpExecuteTimeOut
};

// A launch's watchdog on `d` (SimOptions::watchdog): its op execute timeout in cycles (timing and
// RTL modes) or scalar instructions per core (functional). Call with d.mutex held.
uint64_t launchWatchdog(const Device &d);
// `message` of a failed launch, with what to change when it is the watchdog's.
std::string withTimeoutHint(const Device &d, const std::string &message);
// The error code of a failed launch: a device fault, a bug, or a kernel the device cannot run.
frtError launchErrorCode(ExitCode code);

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

// An event's records are numbered: `recorded` counts the frtRecordEvent calls, `completed` is the
// newest record whose stream has reached it. A stream told to wait (frtStreamWaitEvent) waits for
// the record that was newest when it was told, not for later ones, as in AscendCL and CUDA.
struct frtEventImpl {
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t recorded = 0, completed = 0;
  int pendingRecords = 0; // queued records not run yet (they may complete out of order)
  int pendingWaits = 0;   // streams' queued waits that still refer to the event
  double simulatedUs = 0; // the device time of the stream at the completed record
  bool done() const { return completed == recorded; }
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
  std::unordered_set<frtModelImpl *> models;
  std::unordered_set<frtDatasetImpl *> datasets;
  std::unordered_map<void *, sim::ZeroedBytes> hostBuffers; // frtMallocHost's, by address
};

Runtime &state(); // the one runtime of the process

// ---- helpers shared by the API's translation units (Runtime.cpp, Model.cpp) ----
extern thread_local std::string recentError;
extern thread_local frtContextImpl *currentContext;

bool hasLiveCurrentContext(const Runtime &r); // this thread's current context is still alive
frtError fail(frtError code, const std::string &message); // records the recent error message
frtError fail(const Failure &f);
frtError ok();
Device *deviceById(int32_t id);
sim::Simulator &simulatorOf(Device &d); // created on first use; call with d.mutex held
// GM for `size` bytes at 512-byte alignment, or 0; call with d.mutex held.
uint64_t allocateLocked(Device &d, uint64_t size, const std::string &name);
frtError resolveStream(frtStream stream, frtStreamImpl *&out); // NULL: the current default stream
// Checks that [ptr, ptr + count) lies inside one live allocation; returns its device and address.
frtError checkDeviceRange(const void *ptr, size_t count, Device *&device, uint64_t &address,
                          const char *what);
void enqueue(frtStreamImpl *s, std::function<void()> task);
void streamFailed(frtStreamImpl *s, Failure f); // the stream's first asynchronous failure wins
std::unique_ptr<Failure> drain(frtStreamImpl *s); // waits until idle; returns its failure
// Unloads the models of `device` (all models and datasets when null); runtime lock held.
void releaseModelsLocked(Device *device);

#define FRT_REQUIRE(cond, code, message)                                                           \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return ::fractal::runtime::fail(code, message);                                             \
  } while (0)

#define FRT_LOCKED_INIT(r)                                                                         \
  ::fractal::runtime::Runtime &r = ::fractal::runtime::state();                                    \
  std::lock_guard<std::mutex> runtimeLock(r.mutex);                                                \
  FRT_REQUIRE(r.initialized, FRT_ERROR_UNINITIALIZED, "the runtime is not initialized: call frtInit")

// Device pointers: bit 62 set (a non-canonical address, so a host dereference traps), the device
// id in bits 52..61, the GM address below.
void *makeDevicePointer(int device, uint64_t address);
bool decodeDevicePointer(const void *ptr, int &device, uint64_t &address);

} // namespace fractal::runtime
