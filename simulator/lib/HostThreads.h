// A small pool of host threads for the functional engine: `run(n, job)` calls job(0) .. job(n-1)
// spread over the calling thread and the workers, and returns when every call has returned. The
// workers are made once per device (a model launches dozens of kernels, each too short to pay for
// starting threads). Between runs a worker first spins for a short while, then sleeps; a caller
// waiting for the workers' calls does the same (see kSpin in HostThreads.cpp for why).
#pragma once

#include <atomic>
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
  const std::function<void(int)> *job_ = nullptr; // guarded by mutex_, as are count_ and next_
  int count_ = 0, next_ = 0;
  // Written under mutex_ too, but also read without it by threads that spin.
  std::atomic<int> unfinished_{0}; // calls of the current run that have not returned
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> quit_{false};
  std::vector<std::thread> threads_;
};

} // namespace fractal::sim::detail
