// A thin C++ layer over fractal_runtime.h: RAII owners for the runtime, streams, events, device
// buffers, kernels and models, and errors as exceptions that carry the code and the runtime's
// message.
//
//   fractal::rt::Runtime runtime;            // frtInit(nullptr) ... frtFinalize()
//   fractal::rt::setDevice(0);
//   fractal::rt::DeviceBuffer a(bytes);      // frtMalloc ... frtFree
//   a.upload(host.data(), bytes);
//   fractal::rt::Kernel k("gemm.bin");
//   fractal::rt::Stream s;
//   k.launch(1, {a.word(), b.word(), c.word()}, s);
//   s.synchronize();
#pragma once

#include "fractal/runtime/fractal_runtime.h"

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace fractal::rt {

class Error : public std::runtime_error {
public:
  Error(frtError code, const std::string &what) : std::runtime_error(what), code_(code) {}
  frtError code() const { return code_; }

private:
  frtError code_;
};

inline void check(frtError e, const char *call) {
  if (e != FRT_SUCCESS)
    throw Error(e, std::string(call) + ": " + frtGetRecentErrMsg());
}

class Runtime {
public:
  explicit Runtime(const char *devices = nullptr) { check(frtInit(devices), "frtInit"); }
  ~Runtime() { frtFinalize(); }
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;
};

inline void setDevice(int32_t id) { check(frtSetDevice(id), "frtSetDevice"); }
// The current device's kernel launch timeout in simulated milliseconds (0: the default).
inline void setOpExecuteTimeOut(uint32_t ms) { check(frtSetOpExecuteTimeOut(ms), "frtSetOpExecuteTimeOut"); }

class Event;

class Stream {
public:
  Stream() { check(frtCreateStream(&stream_), "frtCreateStream"); }
  ~Stream() { frtDestroyStream(stream_); }
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  void synchronize() { check(frtSynchronizeStream(stream_), "frtSynchronizeStream"); }
  // What is queued on this stream afterwards waits for `event`'s newest record (defined below).
  void wait(const Event &event);
  frtStream get() const { return stream_; }

private:
  frtStream stream_ = nullptr;
};

class Event {
public:
  Event() { check(frtCreateEvent(&event_), "frtCreateEvent"); }
  ~Event() { frtDestroyEvent(event_); }
  Event(const Event &) = delete;
  Event &operator=(const Event &) = delete;
  void record(const Stream *stream = nullptr) {
    check(frtRecordEvent(event_, stream ? stream->get() : nullptr), "frtRecordEvent");
  }
  void synchronize() { check(frtSynchronizeEvent(event_), "frtSynchronizeEvent"); }
  frtEvent get() const { return event_; }
  // Simulated milliseconds from `start` to this event.
  float elapsedSince(const Event &start) const {
    float ms = 0;
    check(frtEventElapsedTime(&ms, start.event_, event_), "frtEventElapsedTime");
    return ms;
  }

private:
  frtEvent event_ = nullptr;
};

inline void Stream::wait(const Event &event) {
  check(frtStreamWaitEvent(stream_, event.get()), "frtStreamWaitEvent");
}

class DeviceBuffer {
public:
  explicit DeviceBuffer(size_t bytes) : size_(bytes) {
    check(frtMalloc(&ptr_, bytes, FRT_MEM_MALLOC_HUGE_FIRST), "frtMalloc");
  }
  ~DeviceBuffer() {
    if (ptr_)
      frtFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer &&o) noexcept : ptr_(o.ptr_), size_(o.size_) { o.ptr_ = nullptr; }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;

  void upload(const void *host, size_t bytes) {
    check(frtMemcpy(ptr_, size_, host, bytes, FRT_MEMCPY_HOST_TO_DEVICE), "frtMemcpy");
  }
  void download(void *host, size_t bytes) const {
    check(frtMemcpy(host, bytes, ptr_, bytes, FRT_MEMCPY_DEVICE_TO_HOST), "frtMemcpy");
  }
  template <typename T> std::vector<T> download() const {
    std::vector<T> out(size_ / sizeof(T));
    download(out.data(), out.size() * sizeof(T));
    return out;
  }
  void *get() const { return ptr_; }
  uint64_t word() const { return reinterpret_cast<uint64_t>(ptr_); } // as a kernel argument
  size_t size() const { return size_; }

private:
  void *ptr_ = nullptr;
  size_t size_;
};

// Host staging memory from frtMallocHost (page-backed, zero-filled, returned to the OS when freed).
class HostBuffer {
public:
  explicit HostBuffer(size_t bytes) : size_(bytes) { check(frtMallocHost(&ptr_, bytes), "frtMallocHost"); }
  ~HostBuffer() {
    if (ptr_)
      frtFreeHost(ptr_);
  }
  HostBuffer(HostBuffer &&o) noexcept : ptr_(o.ptr_), size_(o.size_) { o.ptr_ = nullptr; }
  HostBuffer(const HostBuffer &) = delete;
  HostBuffer &operator=(const HostBuffer &) = delete;

  void *get() const { return ptr_; }
  template <typename T> T *as() const { return static_cast<T *>(ptr_); }
  size_t size() const { return size_; }

private:
  void *ptr_ = nullptr;
  size_t size_;
};

class Kernel {
public:
  explicit Kernel(const std::string &path) {
    check(frtLoadKernelFromFile(path.c_str(), &kernel_), "frtLoadKernelFromFile");
  }
  Kernel(const void *data, size_t size) {
    check(frtLoadKernelFromMem(data, size, &kernel_), "frtLoadKernelFromMem");
  }
  ~Kernel() { frtUnloadKernel(kernel_); }
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;
  void launch(uint32_t blockDim, std::initializer_list<uint64_t> args, const Stream *stream = nullptr) {
    std::vector<uint64_t> words(args);
    check(frtLaunchKernel(kernel_, blockDim, words.data(), words.size(),
                          stream ? stream->get() : nullptr),
          "frtLaunchKernel");
  }

private:
  frtKernel kernel_ = nullptr;
};

// A loaded model package; inputs and outputs are described by frtTensorDesc.
class Model {
public:
  explicit Model(const std::string &path) { check(frtModelLoadFromFile(path.c_str(), &model_), "frtModelLoadFromFile"); }
  Model(const void *data, size_t size) { check(frtModelLoadFromMem(data, size, &model_), "frtModelLoadFromMem"); }
  ~Model() { frtModelUnload(model_); }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  size_t numInputs() const {
    size_t n = 0;
    check(frtModelGetNumInputs(model_, &n), "frtModelGetNumInputs");
    return n;
  }
  size_t numOutputs() const {
    size_t n = 0;
    check(frtModelGetNumOutputs(model_, &n), "frtModelGetNumOutputs");
    return n;
  }
  frtTensorDesc input(size_t i) const {
    frtTensorDesc d;
    check(frtModelGetInputDesc(model_, i, &d), "frtModelGetInputDesc");
    return d;
  }
  frtTensorDesc output(size_t i) const {
    frtTensorDesc d;
    check(frtModelGetOutputDesc(model_, i, &d), "frtModelGetOutputDesc");
    return d;
  }
  // Runs the model on device buffers, one per input and output in order (sync, or on `stream`);
  // returns what it wrote to each output (a data-dependent output's actual shape and size).
  std::vector<frtTensorDesc> execute(const std::vector<const DeviceBuffer *> &inputs,
                                     const std::vector<const DeviceBuffer *> &outputs, const Stream *stream = nullptr) {
    Dataset in(inputs), out(outputs);
    if (stream) {
      check(frtModelExecuteAsync(model_, in.get(), out.get(), stream->get()), "frtModelExecuteAsync");
      const_cast<Stream *>(stream)->synchronize(); // the datasets end with this call
    } else {
      check(frtModelExecute(model_, in.get(), out.get()), "frtModelExecute");
    }
    std::vector<frtTensorDesc> written(outputs.size());
    for (size_t i = 0; i < written.size(); ++i)
      check(frtGetDatasetTensorDesc(out.get(), i, &written[i]), "frtGetDatasetTensorDesc");
    return written;
  }
  frtModel get() const { return model_; }

private:
  class Dataset {
  public:
    explicit Dataset(const std::vector<const DeviceBuffer *> &buffers) {
      check(frtCreateDataset(&ds_), "frtCreateDataset");
      for (const DeviceBuffer *b : buffers) {
        frtError e = frtAddDatasetBuffer(ds_, b->get(), b->size());
        if (e != FRT_SUCCESS) {
          frtDestroyDataset(ds_);
          check(e, "frtAddDatasetBuffer");
        }
      }
    }
    ~Dataset() { frtDestroyDataset(ds_); }
    Dataset(const Dataset &) = delete;
    Dataset &operator=(const Dataset &) = delete;
    frtDataset get() const { return ds_; }

  private:
    frtDataset ds_ = nullptr;
  };
  frtModel model_ = nullptr;
};

} // namespace fractal::rt
