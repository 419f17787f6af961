#include "HostThreads.h"

namespace fractal::sim::detail {

HostThreads::HostThreads(int workers) {
  for (int i = 0; i < workers; ++i)
    threads_.emplace_back([this] { workerLoop(); });
}

HostThreads::~HostThreads() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    quit_ = true;
  }
  wake_.notify_all();
  for (std::thread &t : threads_)
    t.join();
}

bool HostThreads::takeAndRun() {
  int index;
  const std::function<void(int)> *job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!job_ || next_ >= count_)
      return false;
    index = next_++;
    job = job_;
    ++running_;
  }
  (*job)(index);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    --running_;
  }
  finished_.notify_all();
  return true;
}

void HostThreads::run(int n, const std::function<void(int)> &job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    count_ = n;
    next_ = 0;
    ++generation_;
  }
  if (n > 1)
    wake_.notify_all();
  while (takeAndRun()) {
  }
  std::unique_lock<std::mutex> lock(mutex_);
  finished_.wait(lock, [&] { return next_ >= count_ && running_ == 0; });
  job_ = nullptr;
}

void HostThreads::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
      if (quit_)
        return;
      seen = generation_;
    }
    while (takeAndRun()) {
    }
  }
}

} // namespace fractal::sim::detail
