// The C API. Each function validates its arguments and handles, does its work, and on failure
// records the message for frtGetRecentErrMsg and returns the error code.
#include "RuntimeState.h"

#include "fractal/package/Package.h"
#include "fractal/sim/Simulator.h"
#include "RtlBackend.h"

#include <algorithm>
#include <cstring>
#include <sstream>

using namespace fractal;
using namespace fractal::runtime;

namespace fractal::runtime {

Runtime &state() {
  static Runtime r;
  return r;
}

void *makeDevicePointer(int device, uint64_t address) {
  return reinterpret_cast<void *>((uint64_t(1) << 62) | (uint64_t(device) << 52) | address);
}

bool decodeDevicePointer(const void *ptr, int &device, uint64_t &address) {
  uint64_t v = reinterpret_cast<uint64_t>(ptr);
  if ((v >> 62) != 1)
    return false;
  device = static_cast<int>((v >> 52) & 0x3ff);
  address = v & ((uint64_t(1) << 52) - 1);
  return true;
}

thread_local std::string recentError;
thread_local frtContextImpl *currentContext = nullptr;

// This thread's current context, if it is still alive (another thread may have destroyed it).
bool hasLiveCurrentContext(const Runtime &r) {
  return currentContext && r.contexts.count(currentContext);
}

frtError fail(frtError code, const std::string &message) {
  recentError = message;
  return code;
}
frtError fail(const Failure &f) { return fail(f.code, f.message); }
frtError ok() { return FRT_SUCCESS; }

// Runs the stream's tasks in order on its own thread.
void streamLoop(frtStreamImpl *s) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(s->mutex);
      s->changed.wait(lock, [&] { return s->stop || !s->tasks.empty(); });
      if (s->tasks.empty())
        return; // stopped and drained
      task = std::move(s->tasks.front());
      s->tasks.pop_front();
      s->busy = true;
    }
    // An exception must not leave the thread (std::terminate): it fails the stream instead.
    try {
      task();
    } catch (const std::bad_alloc &) {
      streamFailed(s, {FRT_ERROR_OUT_OF_MEMORY, "out of host memory in a task of the stream"});
    } catch (const std::exception &e) {
      streamFailed(s, {FRT_ERROR_INTERNAL, std::string("internal error in a task of the stream: ") + e.what()});
    }
    std::lock_guard<std::mutex> lock(s->mutex);
    s->busy = false;
    s->changed.notify_all();
  }
}

frtStreamImpl *newStream(frtContextImpl *ctx) {
  auto *s = new frtStreamImpl;
  s->context = ctx;
  s->worker = std::thread(streamLoop, s);
  return s;
}

// Waits until the stream is idle; returns (and clears) its first asynchronous failure.
std::unique_ptr<Failure> drain(frtStreamImpl *s) {
  std::unique_lock<std::mutex> lock(s->mutex);
  s->changed.wait(lock, [&] { return s->tasks.empty() && !s->busy; });
  return std::move(s->error);
}

void stopStream(frtStreamImpl *s) {
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->stop = true;
    s->changed.notify_all();
  }
  s->worker.join();
}

void enqueue(frtStreamImpl *s, std::function<void()> task) {
  std::lock_guard<std::mutex> lock(s->mutex);
  s->tasks.push_back(std::move(task));
  s->changed.notify_all();
}

// Records an asynchronous failure on the stream (the first one wins).
void streamFailed(frtStreamImpl *s, Failure f) {
  std::lock_guard<std::mutex> lock(s->mutex);
  if (!s->error)
    s->error = std::make_unique<Failure>(std::move(f));
}

Device *deviceById(int32_t id) {
  Runtime &r = state();
  if (id < 0 || static_cast<size_t>(id) >= r.devices.size())
    return nullptr;
  return r.devices[id].get();
}

// Whole multiples of the memory plan's alignment at aligned addresses: a dataset buffer from
// frtMalloc can then stand in for a model's input or output (Model.cpp, placeInputsAndOutputs).
// The tail past the size asked for is never addressable through the API.
uint64_t allocateLocked(Device &d, uint64_t size, const std::string &name) {
  constexpr uint64_t kAlign = pkg::kTensorAlignment;
  if (size > UINT64_MAX - kAlign) return 0;
  size = (size + kAlign - 1) / kAlign * kAlign;
  sim::GlobalMemory &gm = simulatorOf(d).gm();
  const uint64_t address = gm.findFree(size, kAlign, 0x100000);
  if (address == 0 || !gm.allocate(address, size, name))
    return 0;
  return address;
}

// The simulator of a device, created on first use.
sim::Simulator &simulatorOf(Device &d) {
  if (!d.simulator) {
    d.simulator = std::make_unique<sim::Simulator>(d.config);
    if (d.mode == sim::SimMode::Rtl)
      d.rtl = sim::makeRtlBackend();
  }
  return *d.simulator;
}

frtError resolveStream(frtStream stream, frtStreamImpl *&out) {
  Runtime &r = state();
  if (stream) {
    FRT_REQUIRE(r.streams.count(stream), FRT_ERROR_INVALID_HANDLE,
                "stream is not a live stream (destroyed, or never created)");
    out = stream;
    return ok();
  }
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "no current context on this thread: call frtSetDevice or frtSetCurrentContext");
  out = currentContext->defaultStream;
  return ok();
}

// Checks that [ptr, ptr + count) lies inside one live allocation of `device`.
frtError checkDeviceRange(const void *ptr, size_t count, Device *&device, uint64_t &address,
                          const char *what) {
  int id;
  if (!decodeDevicePointer(ptr, id, address))
    return fail(FRT_ERROR_INVALID_POINTER, std::string(what) + " is not a device pointer");
  device = deviceById(id);
  if (!device)
    return fail(FRT_ERROR_INVALID_POINTER, std::string(what) + " belongs to no device");
  std::lock_guard<std::mutex> lock(device->mutex);
  auto it = device->allocations.upper_bound(address);
  if (it == device->allocations.begin())
    return fail(FRT_ERROR_INVALID_POINTER, std::string(what) + " is not inside a live allocation "
                                                               "(freed, or never allocated)");
  --it;
  if (address >= it->first + it->second)
    return fail(FRT_ERROR_INVALID_POINTER, std::string(what) + " is not inside a live allocation "
                                                               "(freed, or never allocated)");
  if (count > it->first + it->second - address)
    return fail(FRT_ERROR_INVALID_PARAM, std::string(what) + ": " + std::to_string(count) +
                                             " bytes run past the end of its allocation");
  return ok();
}

static_assert(FRT_DEFAULT_OP_TIMEOUT_MS == sim::kDefaultWatchdogMs, "one default for kernel launches");

uint64_t launchWatchdog(const Device &d) { return sim::watchdogCycles(d.config, d.opTimeoutMs); }

std::string withTimeoutHint(const Device &d, const std::string &message) {
  if (message.find("watchdog:") == std::string::npos) return message; // (how the simulator says it)
  return message + " (the op execute timeout, " + std::to_string(d.opTimeoutMs) +
         " simulated ms: frtSetOpExecuteTimeOut, or `--op-timeout MS` of fractal run and fractal sweep)";
}

frtError launchErrorCode(ExitCode code) {
  return code == ExitCode::DeviceFault ? FRT_ERROR_DEVICE_FAULT
         : code == ExitCode::Internal  ? FRT_ERROR_INTERNAL
                                       : FRT_ERROR_INVALID_FILE;
}

} // namespace fractal::runtime

namespace {

void destroyContextLocked(frtContextImpl *ctx) {
  Runtime &r = state();
  // Streams of this context, including the default one.
  std::vector<frtStreamImpl *> owned;
  for (frtStreamImpl *s : r.streams)
    if (s->context == ctx)
      owned.push_back(s);
  for (frtStreamImpl *s : owned) {
    drain(s);
    stopStream(s);
    r.streams.erase(s);
    delete s;
  }
  r.contexts.erase(ctx);
  if (currentContext == ctx)
    currentContext = nullptr;
  delete ctx;
}

} // namespace

extern "C" {

const char *frtGetRecentErrMsg(void) { return recentError.c_str(); }

frtError frtInit(const char *devices) {
  Runtime &r = state();
  std::lock_guard<std::mutex> lock(r.mutex);
  FRT_REQUIRE(!r.initialized, FRT_ERROR_REPEAT_INITIALIZE, "frtInit: already initialized");
  std::string spec = devices && *devices ? devices : "edge";
  std::vector<std::unique_ptr<Device>> created;
  std::stringstream items(spec);
  for (std::string item; std::getline(items, item, ',');) {
    std::string target = item, mode = "timing";
    if (size_t colon = item.rfind(':'); colon != std::string::npos) {
      target = item.substr(0, colon);
      mode = item.substr(colon + 1);
    }
    auto d = std::make_unique<Device>();
    d->id = static_cast<int>(created.size());
    if (mode == "functional")
      d->mode = sim::SimMode::Functional;
    else if (mode == "rtl")
      d->mode = sim::SimMode::Rtl;
    else if (mode != "timing")
      return fail(FRT_ERROR_INVALID_PARAM, "frtInit: device '" + item + "': mode must be "
                                           "functional, timing or rtl");
    Expected<ChipConfig> config = loadChipConfig(target);
    if (!config)
      return fail(FRT_ERROR_INVALID_FILE, "frtInit: device '" + item + "': " + config.error().message);
    d->config = *config;
    created.push_back(std::move(d));
  }
  FRT_REQUIRE(!created.empty() && created.size() <= 1024, FRT_ERROR_INVALID_PARAM,
              "frtInit: between 1 and 1024 devices");
  r.devices = std::move(created);
  r.initialized = true;
  return ok();
}

frtError frtFinalize(void) {
  Runtime &r = state();
  std::lock_guard<std::mutex> lock(r.mutex);
  FRT_REQUIRE(r.initialized, FRT_ERROR_UNINITIALIZED, "frtFinalize: not initialized");
  std::vector<frtContextImpl *> contexts(r.contexts.begin(), r.contexts.end());
  for (frtContextImpl *c : contexts)
    destroyContextLocked(c);
  for (frtEventImpl *e : r.events)
    delete e;
  for (frtKernelImpl *k : r.kernels)
    delete k;
  r.events.clear();
  r.kernels.clear();
  releaseModelsLocked(nullptr);
  r.hostBuffers.clear();
  r.devices.clear();
  r.initialized = false;
  currentContext = nullptr;
  return ok();
}


frtError frtGetDeviceCount(uint32_t *count) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(count, FRT_ERROR_INVALID_PARAM, "frtGetDeviceCount: count is NULL");
  *count = static_cast<uint32_t>(r.devices.size());
  return ok();
}

frtError frtSetDevice(int32_t deviceId) {
  FRT_LOCKED_INIT(r);
  Device *d = deviceById(deviceId);
  FRT_REQUIRE(d, FRT_ERROR_INVALID_DEVICE,
              "frtSetDevice: no device " + std::to_string(deviceId) + " (there are " +
                  std::to_string(r.devices.size()) + ")");
  for (frtContextImpl *c : r.contexts)
    if (c->device == d && c->implicit) {
      currentContext = c;
      return ok();
    }
  auto *ctx = new frtContextImpl;
  ctx->device = d;
  ctx->implicit = true;
  ctx->defaultStream = newStream(ctx);
  r.contexts.insert(ctx);
  r.streams.insert(ctx->defaultStream);
  currentContext = ctx;
  return ok();
}

frtError frtResetDevice(int32_t deviceId) {
  FRT_LOCKED_INIT(r);
  Device *d = deviceById(deviceId);
  FRT_REQUIRE(d, FRT_ERROR_INVALID_DEVICE, "frtResetDevice: no device " + std::to_string(deviceId));
  std::vector<frtContextImpl *> contexts;
  for (frtContextImpl *c : r.contexts)
    if (c->device == d)
      contexts.push_back(c);
  for (frtContextImpl *c : contexts)
    destroyContextLocked(c);
  std::vector<frtKernelImpl *> kernels;
  for (frtKernelImpl *k : r.kernels)
    if (k->device == d)
      kernels.push_back(k);
  releaseModelsLocked(d);
  for (frtKernelImpl *k : kernels) {
    r.kernels.erase(k);
    delete k;
  }
  std::lock_guard<std::mutex> lock(d->mutex);
  d->allocations.clear();
  d->simulator.reset();
  d->rtl.reset();
  return ok();
}

frtError frtGetDevice(int32_t *deviceId) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(deviceId, FRT_ERROR_INVALID_PARAM, "frtGetDevice: deviceId is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtGetDevice: no current context on this thread");
  *deviceId = currentContext->device->id;
  return ok();
}

frtError frtGetDeviceInfo(int32_t deviceId, frtDeviceInfo *info) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(info, FRT_ERROR_INVALID_PARAM, "frtGetDeviceInfo: info is NULL");
  Device *d = deviceById(deviceId);
  FRT_REQUIRE(d, FRT_ERROR_INVALID_DEVICE, "frtGetDeviceInfo: no device " + std::to_string(deviceId));
  std::memset(info, 0, sizeof *info);
  std::strncpy(info->target, d->config.name.c_str(), sizeof info->target - 1);
  std::strncpy(info->mode, sim::simModeName(d->mode), sizeof info->mode - 1);
  info->aiCores = static_cast<uint32_t>(d->config.chip.cores);
  info->clockMhz = d->config.chip.clockMhz;
  info->memoryBytes = static_cast<uint64_t>(d->config.chip.gmSizeBytes);
  return ok();
}

frtError frtGetMemInfo(size_t *freeBytes, size_t *totalBytes) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(freeBytes && totalBytes, FRT_ERROR_INVALID_PARAM,
              "frtGetMemInfo: freeBytes or totalBytes is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtGetMemInfo: no current context on this thread: call frtSetDevice first");
  Device &d = *currentContext->device;
  std::lock_guard<std::mutex> lock(d.mutex);
  const uint64_t total = static_cast<uint64_t>(d.config.chip.gmSizeBytes);
  uint64_t used = 0; // every live allocation: the caller's, models' and kernels' (data sections)
  if (d.simulator)
    for (const auto &a : d.simulator->gm().allocations()) used += a.second.size;
  *totalBytes = static_cast<size_t>(total);
  *freeBytes = static_cast<size_t>(total - std::min(used, total));
  return ok();
}

frtError frtSetOpExecuteTimeOut(uint32_t milliseconds) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtSetOpExecuteTimeOut: no current context on this thread: call frtSetDevice first");
  Device &d = *currentContext->device;
  std::lock_guard<std::mutex> lock(d.mutex);
  d.opTimeoutMs = milliseconds ? milliseconds : FRT_DEFAULT_OP_TIMEOUT_MS;
  return ok();
}

frtError frtCreateContext(frtContext *context, int32_t deviceId) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(context, FRT_ERROR_INVALID_PARAM, "frtCreateContext: context is NULL");
  Device *d = deviceById(deviceId);
  FRT_REQUIRE(d, FRT_ERROR_INVALID_DEVICE, "frtCreateContext: no device " + std::to_string(deviceId));
  auto *ctx = new frtContextImpl;
  ctx->device = d;
  ctx->defaultStream = newStream(ctx);
  r.contexts.insert(ctx);
  r.streams.insert(ctx->defaultStream);
  currentContext = ctx; // AscendCL makes a new context current
  *context = ctx;
  return ok();
}

frtError frtDestroyContext(frtContext context) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(context && r.contexts.count(context), FRT_ERROR_INVALID_HANDLE,
              "frtDestroyContext: not a live context");
  destroyContextLocked(context);
  return ok();
}

frtError frtSetCurrentContext(frtContext context) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(context && r.contexts.count(context), FRT_ERROR_INVALID_HANDLE,
              "frtSetCurrentContext: not a live context");
  currentContext = context;
  return ok();
}

frtError frtGetCurrentContext(frtContext *context) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(context, FRT_ERROR_INVALID_PARAM, "frtGetCurrentContext: context is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtGetCurrentContext: no current context on this thread");
  *context = currentContext;
  return ok();
}

frtError frtCreateStream(frtStream *stream) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(stream, FRT_ERROR_INVALID_PARAM, "frtCreateStream: stream is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtCreateStream: no current context on this thread: call frtSetDevice first");
  frtStreamImpl *s = newStream(currentContext);
  r.streams.insert(s);
  *stream = s;
  return ok();
}

frtError frtDestroyStream(frtStream stream) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(stream && r.streams.count(stream), FRT_ERROR_INVALID_HANDLE,
              "frtDestroyStream: not a live stream");
  FRT_REQUIRE(stream != stream->context->defaultStream, FRT_ERROR_INVALID_HANDLE,
              "frtDestroyStream: a context's default stream goes with its context");
  drain(stream);
  stopStream(stream);
  r.streams.erase(stream);
  delete stream;
  return ok();
}

frtError frtSynchronizeStream(frtStream stream) {
  frtStreamImpl *s = nullptr;
  {
    FRT_LOCKED_INIT(r);
    if (frtError e = resolveStream(stream, s))
      return e;
  }
  // Wait without the runtime lock: other threads keep working meanwhile.
  if (std::unique_ptr<Failure> f = drain(s))
    return fail(*f);
  return ok();
}

frtError frtCreateEvent(frtEvent *event) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(event, FRT_ERROR_INVALID_PARAM, "frtCreateEvent: event is NULL");
  auto *e = new frtEventImpl;
  r.events.insert(e);
  *event = e;
  return ok();
}

frtError frtDestroyEvent(frtEvent event) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(event && r.events.count(event), FRT_ERROR_INVALID_HANDLE,
              "frtDestroyEvent: not a live event");
  {
    // A pending record, or a stream's pending wait, still refers to the event: let them finish.
    std::unique_lock<std::mutex> lock(event->mutex);
    event->changed.wait(lock, [&] { return event->pendingRecords == 0 && event->pendingWaits == 0; });
  }
  r.events.erase(event);
  delete event;
  return ok();
}

// The checks frtRecordEvent and frtStreamWaitEvent share: a live event, and the stream (NULL: the
// current default one). Runtime lock held.
static frtError liveEventAndStream(Runtime &r, frtEvent event, frtStream stream, const char *fn,
                                   frtStreamImpl *&s) {
  FRT_REQUIRE(event && r.events.count(event), FRT_ERROR_INVALID_HANDLE,
              std::string(fn) + ": not a live event");
  return resolveStream(stream, s);
}

frtError frtRecordEvent(frtEvent event, frtStream stream) {
  FRT_LOCKED_INIT(r);
  frtStreamImpl *s = nullptr;
  if (frtError e = liveEventAndStream(r, event, stream, "frtRecordEvent", s))
    return e;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    generation = ++event->recorded;
    ++event->pendingRecords;
  }
  enqueue(s, [event, s, generation] {
    double now;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      now = s->simulatedUs;
    }
    std::lock_guard<std::mutex> lock(event->mutex);
    // Records on different streams may complete out of order: the newest one counts.
    if (generation > event->completed) {
      event->completed = generation;
      event->simulatedUs = now;
    }
    --event->pendingRecords;
    event->changed.notify_all();
  });
  return ok();
}

frtError frtStreamWaitEvent(frtStream stream, frtEvent event) {
  FRT_LOCKED_INIT(r);
  frtStreamImpl *s = nullptr;
  if (frtError e = liveEventAndStream(r, event, stream, "frtStreamWaitEvent", s))
    return e;
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(event->mutex);
    FRT_REQUIRE(event->recorded > 0, FRT_ERROR_INVALID_HANDLE,
                "frtStreamWaitEvent: the event was never recorded (frtRecordEvent first)");
    generation = event->recorded;
    ++event->pendingWaits;
  }
  // The record waited for was queued before this wait, and every stream runs its queue in
  // order, so waits can never form a cycle.
  enqueue(s, [event, s, generation] {
    double at;
    {
      std::unique_lock<std::mutex> lock(event->mutex);
      event->changed.wait(lock, [&] { return event->completed >= generation; });
      at = event->simulatedUs;
      --event->pendingWaits;
      event->changed.notify_all();
    }
    // The stream's device time moves on to the event's: what it runs next starts after it.
    std::lock_guard<std::mutex> lock(s->mutex);
    s->simulatedUs = std::max(s->simulatedUs, at);
  });
  return ok();
}

frtError frtSynchronizeEvent(frtEvent event) {
  {
    FRT_LOCKED_INIT(r);
    FRT_REQUIRE(event && r.events.count(event), FRT_ERROR_INVALID_HANDLE,
                "frtSynchronizeEvent: not a live event");
  }
  std::unique_lock<std::mutex> lock(event->mutex);
  if (event->recorded == 0)
    return fail(FRT_ERROR_INVALID_HANDLE, "frtSynchronizeEvent: the event was never recorded");
  const uint64_t generation = event->recorded;
  event->changed.wait(lock, [&] { return event->completed >= generation; });
  return ok();
}

frtError frtQueryEventStatus(frtEvent event, frtEventStatus *status) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(event && r.events.count(event), FRT_ERROR_INVALID_HANDLE,
              "frtQueryEventStatus: not a live event");
  FRT_REQUIRE(status, FRT_ERROR_INVALID_PARAM, "frtQueryEventStatus: status is NULL");
  std::lock_guard<std::mutex> lock(event->mutex);
  *status = event->recorded > 0 && event->done() ? FRT_EVENT_COMPLETE : FRT_EVENT_NOT_READY;
  return ok();
}

frtError frtEventElapsedTime(float *ms, frtEvent start, frtEvent end) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(ms, FRT_ERROR_INVALID_PARAM, "frtEventElapsedTime: ms is NULL");
  FRT_REQUIRE(start && r.events.count(start) && end && r.events.count(end),
              FRT_ERROR_INVALID_HANDLE, "frtEventElapsedTime: not a live event");
  auto completedAt = [](frtEventImpl *e, double &us) {
    std::lock_guard<std::mutex> lock(e->mutex);
    us = e->simulatedUs;
    return e->recorded > 0 && e->done();
  };
  double from = 0, to = 0;
  const bool doneStart = completedAt(start, from), doneEnd = completedAt(end, to);
  FRT_REQUIRE(doneStart && doneEnd, FRT_ERROR_INVALID_HANDLE,
              "frtEventElapsedTime: both events must have completed (frtSynchronizeEvent)");
  *ms = static_cast<float>((to - from) / 1000.0);
  return ok();
}

frtError frtMalloc(void **devPtr, size_t size, frtMemMallocPolicy policy) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(devPtr, FRT_ERROR_INVALID_PARAM, "frtMalloc: devPtr is NULL");
  FRT_REQUIRE(size > 0, FRT_ERROR_INVALID_PARAM, "frtMalloc: size is 0");
  FRT_REQUIRE(policy == FRT_MEM_MALLOC_HUGE_FIRST || policy == FRT_MEM_MALLOC_NORMAL_ONLY,
              FRT_ERROR_INVALID_PARAM, "frtMalloc: unknown policy");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtMalloc: no current context on this thread: call frtSetDevice first");
  Device &d = *currentContext->device;
  std::lock_guard<std::mutex> lock(d.mutex);
  const uint64_t address = allocateLocked(d, size, "frtMalloc");
  if (address == 0)
    return fail(FRT_ERROR_OUT_OF_MEMORY, "frtMalloc: no room for " + std::to_string(size) +
                                             " bytes on device " + std::to_string(d.id));
  d.allocations[address] = size;
  *devPtr = makeDevicePointer(d.id, address);
  return ok();
}

frtError frtMallocHost(void **hostPtr, size_t size) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(hostPtr, FRT_ERROR_INVALID_PARAM, "frtMallocHost: hostPtr is NULL");
  FRT_REQUIRE(size > 0, FRT_ERROR_INVALID_PARAM, "frtMallocHost: size is 0");
  sim::ZeroedBytes bytes;
  try {
    bytes = sim::ZeroedBytes(size);
  } catch (const std::bad_alloc &) {
    return fail(FRT_ERROR_OUT_OF_MEMORY, "frtMallocHost: no host memory for " + std::to_string(size) + " bytes");
  }
  void *p = bytes.data();
  r.hostBuffers.emplace(p, std::move(bytes));
  *hostPtr = p;
  return ok();
}

frtError frtFreeHost(void *hostPtr) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(hostPtr && r.hostBuffers.erase(hostPtr), FRT_ERROR_INVALID_POINTER,
              "frtFreeHost: not a live buffer from frtMallocHost (freed twice?)");
  return ok();
}

frtError frtFree(void *devPtr) {
  FRT_LOCKED_INIT(r);
  int id;
  uint64_t address;
  FRT_REQUIRE(devPtr && decodeDevicePointer(devPtr, id, address), FRT_ERROR_INVALID_POINTER,
              "frtFree: not a device pointer");
  Device *d = deviceById(id);
  FRT_REQUIRE(d, FRT_ERROR_INVALID_POINTER, "frtFree: the pointer belongs to no device");
  std::lock_guard<std::mutex> lock(d->mutex);
  auto it = d->allocations.find(address);
  FRT_REQUIRE(it != d->allocations.end(), FRT_ERROR_INVALID_POINTER,
              "frtFree: not the start of a live allocation (freed twice?)");
  d->allocations.erase(it);
  simulatorOf(*d).gm().release(address);
  return ok();
}

} // extern "C"

namespace {

// The work of a memcpy, done now (synchronous) or on a stream (asynchronous).
frtError copyNow(void *dst, const void *src, size_t count, frtMemcpyKind kind) {
  Device *dd = nullptr, *sd = nullptr;
  uint64_t da = 0, sa = 0;
  const bool toDevice = kind == FRT_MEMCPY_HOST_TO_DEVICE || kind == FRT_MEMCPY_DEVICE_TO_DEVICE;
  const bool fromDevice = kind == FRT_MEMCPY_DEVICE_TO_HOST || kind == FRT_MEMCPY_DEVICE_TO_DEVICE;
  if (toDevice)
    if (frtError e = checkDeviceRange(dst, count, dd, da, "dst"))
      return e;
  if (fromDevice)
    if (frtError e = checkDeviceRange(src, count, sd, sa, "src"))
      return e;
  std::vector<uint8_t> bounce;
  const void *from = src;
  if (fromDevice) {
    bounce.resize(count);
    std::lock_guard<std::mutex> lock(sd->mutex);
    simulatorOf(*sd).gm().read(sa, bounce.data(), count);
    from = bounce.data();
  }
  if (toDevice) {
    std::lock_guard<std::mutex> lock(dd->mutex);
    simulatorOf(*dd).gm().write(da, from, count);
  } else {
    std::memmove(dst, from, count);
  }
  return FRT_SUCCESS;
}

frtError checkCopy(void *dst, size_t destMax, const void *src, size_t count, frtMemcpyKind kind,
                   const char *fn) {
  FRT_REQUIRE(dst && src, FRT_ERROR_INVALID_PARAM, std::string(fn) + ": dst or src is NULL");
  FRT_REQUIRE(count <= destMax, FRT_ERROR_INVALID_PARAM,
              std::string(fn) + ": count " + std::to_string(count) + " exceeds destMax " +
                  std::to_string(destMax));
  FRT_REQUIRE(kind >= FRT_MEMCPY_HOST_TO_HOST && kind <= FRT_MEMCPY_DEVICE_TO_DEVICE,
              FRT_ERROR_INVALID_PARAM, std::string(fn) + ": unknown copy kind");
  int id;
  uint64_t address;
  const bool dstIsDevice = decodeDevicePointer(dst, id, address);
  const bool srcIsDevice = decodeDevicePointer(src, id, address);
  const bool wantDst = kind == FRT_MEMCPY_HOST_TO_DEVICE || kind == FRT_MEMCPY_DEVICE_TO_DEVICE;
  const bool wantSrc = kind == FRT_MEMCPY_DEVICE_TO_HOST || kind == FRT_MEMCPY_DEVICE_TO_DEVICE;
  FRT_REQUIRE(dstIsDevice == wantDst && srcIsDevice == wantSrc, FRT_ERROR_INVALID_POINTER,
              std::string(fn) + ": the pointers do not match the copy kind (a host pointer where "
                                "a device pointer belongs, or the other way round)");
  return FRT_SUCCESS;
}

frtError setNow(void *devPtr, int32_t value, size_t count) {
  Device *d = nullptr;
  uint64_t address = 0;
  if (frtError e = checkDeviceRange(devPtr, count, d, address, "devPtr"))
    return e;
  std::vector<uint8_t> bytes(count, static_cast<uint8_t>(value));
  std::lock_guard<std::mutex> lock(d->mutex);
  simulatorOf(*d).gm().write(address, bytes.data(), count);
  return FRT_SUCCESS;
}

} // namespace

extern "C" {

frtError frtMemcpy(void *dst, size_t destMax, const void *src, size_t count, frtMemcpyKind kind) {
  {
    FRT_LOCKED_INIT(r);
  }
  if (frtError e = checkCopy(dst, destMax, src, count, kind, "frtMemcpy"))
    return e;
  return copyNow(dst, src, count, kind);
}

frtError frtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count,
                        frtMemcpyKind kind, frtStream stream) {
  frtStreamImpl *s = nullptr;
  {
    FRT_LOCKED_INIT(r);
    if (frtError e = resolveStream(stream, s))
      return e;
  }
  if (frtError e = checkCopy(dst, destMax, src, count, kind, "frtMemcpyAsync"))
    return e;
  enqueue(s, [=] {
    if (copyNow(dst, src, count, kind) != FRT_SUCCESS)
      streamFailed(s, {FRT_ERROR_INVALID_POINTER, "frtMemcpyAsync: " + recentError});
  });
  return ok();
}

frtError frtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count) {
  {
    FRT_LOCKED_INIT(r);
  }
  FRT_REQUIRE(devPtr, FRT_ERROR_INVALID_PARAM, "frtMemset: devPtr is NULL");
  FRT_REQUIRE(count <= maxCount, FRT_ERROR_INVALID_PARAM, "frtMemset: count exceeds maxCount");
  return setNow(devPtr, value, count);
}

frtError frtMemsetAsync(void *devPtr, size_t maxCount, int32_t value, size_t count,
                        frtStream stream) {
  frtStreamImpl *s = nullptr;
  {
    FRT_LOCKED_INIT(r);
    if (frtError e = resolveStream(stream, s))
      return e;
  }
  FRT_REQUIRE(devPtr, FRT_ERROR_INVALID_PARAM, "frtMemsetAsync: devPtr is NULL");
  FRT_REQUIRE(count <= maxCount, FRT_ERROR_INVALID_PARAM, "frtMemsetAsync: count exceeds maxCount");
  enqueue(s, [=] {
    if (setNow(devPtr, value, count) != FRT_SUCCESS)
      streamFailed(s, {FRT_ERROR_INVALID_POINTER, "frtMemsetAsync: " + recentError});
  });
  return ok();
}

static frtError loadKernel(Expected<isa::KernelBinary> binary, frtKernel *kernel) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(kernel, FRT_ERROR_INVALID_PARAM, "frtLoadKernel: kernel is NULL");
  FRT_REQUIRE(hasLiveCurrentContext(r), FRT_ERROR_NO_CONTEXT,
              "frtLoadKernel: no current context on this thread: call frtSetDevice first");
  if (!binary)
    return fail(FRT_ERROR_INVALID_FILE, binary.error().message);
  Device &d = *currentContext->device;
  if (!binary->target.empty() && binary->target != d.config.name)
    return fail(FRT_ERROR_INVALID_FILE, "kernel " + binary->source + " was built for target '" +
                                            binary->target + "', device " +
                                            std::to_string(d.id) + " is '" + d.config.name + "'");
  auto *k = new frtKernelImpl;
  k->device = &d;
  k->binary = std::move(*binary);
  {
    std::lock_guard<std::mutex> lock(d.mutex);
    Expected<uint64_t> data = simulatorOf(d).loadKernelData(k->binary, k->binary.source);
    if (!data) {
      delete k;
      return fail(FRT_ERROR_OUT_OF_MEMORY, data.error().message);
    }
    k->dataAddress = *data;
  }
  r.kernels.insert(k);
  *kernel = k;
  return ok();
}

frtError frtLoadKernelFromFile(const char *path, frtKernel *kernel) {
  if (!path)
    return fail(FRT_ERROR_INVALID_PARAM, "frtLoadKernelFromFile: path is NULL");
  return loadKernel(isa::readKernelFile(path), kernel);
}

frtError frtLoadKernelFromMem(const void *data, size_t size, frtKernel *kernel) {
  if (!data || size == 0)
    return fail(FRT_ERROR_INVALID_PARAM, "frtLoadKernelFromMem: no data");
  const auto *bytes = static_cast<const uint8_t *>(data);
  return loadKernel(isa::parseKernel(bytes, size, "<memory>"), kernel);
}

frtError frtUnloadKernel(frtKernel kernel) {
  FRT_LOCKED_INIT(r);
  FRT_REQUIRE(kernel && r.kernels.count(kernel), FRT_ERROR_INVALID_HANDLE,
              "frtUnloadKernel: not a loaded kernel (unloaded twice?)");
  // Launches still queued use the kernel: let every stream of its device finish first.
  for (frtStreamImpl *s : r.streams)
    if (s->context->device == kernel->device)
      if (std::unique_ptr<Failure> f = drain(s))
        streamFailed(s, *f); // keep the failure for that stream's synchronize
  if (kernel->dataAddress) {
    std::lock_guard<std::mutex> lock(kernel->device->mutex);
    simulatorOf(*kernel->device).gm().release(kernel->dataAddress);
  }
  r.kernels.erase(kernel);
  delete kernel;
  return ok();
}

frtError frtLaunchKernel(frtKernel kernel, uint32_t blockDim, const uint64_t *args, size_t numArgs,
                         frtStream stream) {
  frtStreamImpl *s = nullptr;
  std::vector<uint64_t> words;
  {
    FRT_LOCKED_INIT(r);
    FRT_REQUIRE(kernel && r.kernels.count(kernel), FRT_ERROR_INVALID_HANDLE,
                "frtLaunchKernel: not a loaded kernel");
    FRT_REQUIRE(blockDim >= 1 && blockDim <= 65535, FRT_ERROR_INVALID_PARAM,
                "frtLaunchKernel: blockDim must be 1..65535");
    FRT_REQUIRE(numArgs == 0 || args, FRT_ERROR_INVALID_PARAM, "frtLaunchKernel: args is NULL");
    FRT_REQUIRE(numArgs <= 4096, FRT_ERROR_INVALID_PARAM, "frtLaunchKernel: more than 4096 args");
    if (frtError e = resolveStream(stream, s))
      return e;
    FRT_REQUIRE(s->context->device == kernel->device, FRT_ERROR_INVALID_HANDLE,
                "frtLaunchKernel: the kernel is loaded on another device than the stream's");
    // Device pointers become the GM addresses the kernel works with.
    for (size_t i = 0; i < numArgs; ++i) {
      int id;
      uint64_t address;
      if (decodeDevicePointer(reinterpret_cast<const void *>(args[i]), id, address)) {
        FRT_REQUIRE(id == kernel->device->id, FRT_ERROR_INVALID_POINTER,
                    "frtLaunchKernel: argument " + std::to_string(i) +
                        " is a pointer of another device");
        words.push_back(address);
      } else {
        words.push_back(args[i]);
      }
    }
  }
  enqueue(s, [kernel, blockDim, words, s] {
    Device &d = *kernel->device;
    std::lock_guard<std::mutex> lock(d.mutex);
    sim::Simulator &device = simulatorOf(d);
    sim::LaunchInfo launch;
    launch.dataBase = kernel->dataAddress;
    if (!words.empty()) {
      launch.args = device.gm().findFree(words.size() * 8, 512, 0x1000);
      device.gm().allocate(launch.args, words.size() * 8, "kernel arguments");
      device.gm().write(launch.args, words.data(), words.size() * 8);
    }
    sim::SimOptions options;
    options.mode = d.mode;
    options.blockDim = blockDim;
    options.backend = d.rtl.get();
    options.watchdog = launchWatchdog(d);
    Expected<sim::RunResult> result = device.run(kernel->binary, launch, options);
    if (launch.args)
      device.gm().release(launch.args);
    if (!result) {
      streamFailed(s, {launchErrorCode(result.error().code),
                       "kernel " + kernel->binary.source + ": " + withTimeoutHint(d, result.error().message)});
      return;
    }
    std::lock_guard<std::mutex> streamLock(s->mutex);
    s->simulatedUs += result->latencyUs + d.config.runtime.kernelLaunchUs;
  });
  return ok();
}

} // extern "C"
