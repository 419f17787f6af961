#include "HostThreads.h"

#include <chrono>

namespace fractal::sim::detail {

namespace {

// How long a thread spins before it sleeps on a condition variable. Waking a sleeping thread costs
// 15-20 us on the virtual machines this runs on, twice per run (the worker woken for its block,
// the caller woken when the worker is done); a model's kernels and a kernel sequence's parts
// follow each other within microseconds and often take only 50-100 us each, so sleeping between
// them cost BlazeFace front a fifth of its functional inference time. Bounded, so that an idle
// device costs no CPU.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until `done()` or kSpin has passed; returns done(). The clock is read every 64 polls.
template <typename Done> bool spinFor(Done done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done())
        return true;
      cpuRelax();
    }
    if (std::chrono::steady_clock::now() >= until)
      return done();
  }
}

} // namespace

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
  }
  (*job)(index);
  if (unfinished_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    // Under the mutex: a caller that found calls unfinished is then either still before its wait
    // (and will see none) or inside it (and gets this notification).
    std::lock_guard<std::mutex> lock(mutex_);
    finished_.notify_all();
  }
  return true;
}

void HostThreads::run(int n, const std::function<void(int)> &job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    count_ = n;
    next_ = 0;
    unfinished_.store(n, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (n > 1)
    wake_.notify_all(); // no system call when every worker is still spinning
  while (takeAndRun()) {
  }
  auto done = [&] { return unfinished_.load(std::memory_order_acquire) == 0; };
  if (!spinFor(done)) {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, done);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  job_ = nullptr;
}

void HostThreads::workerLoop() {
  uint64_t seen = 0;
  for (;;) {
    auto woken = [&] { return quit_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_acquire) != seen; };
    if (!spinFor(woken)) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, woken);
    }
    if (quit_)
      return;
    seen = generation_.load(std::memory_order_acquire);
    while (takeAndRun()) {
    }
  }
}

} // namespace fractal::sim::detail
