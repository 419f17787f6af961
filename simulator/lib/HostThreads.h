// A small pool of host threads for the functional engine: `run(n, job)` calls job(0) .. job(n-1)
// spread over the calling thread and the workers, and returns when every call has returned. The
// workers are made once per device and sleep between runs (a model launches dozens of kernels,
// each too short to pay for starting threads).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fractal::sim::detail {

class HostThreads {
public:
  explicit HostThreads(int workers);
  ~HostThreads();
  HostThreads(const HostThreads &) = delete;
  HostThreads &operator=(const HostThreads &) = delete;

  int workers() const { return static_cast<int>(threads_.size()); }
  // `job` must not throw.
  void run(int n, const std::function<void(int)> &job);

private:
  void workerLoop();
  bool takeAndRun(); // runs one pending call if any is left; false when none is

  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  const std::function<void(int)> *job_ = nullptr;
  int count_ = 0, next_ = 0, running_ = 0;
  uint64_t generation_ = 0;
  bool quit_ = false;
  std::vector<std::thread> threads_;
};

} // namespace fractal::sim::detail
