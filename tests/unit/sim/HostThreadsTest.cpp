// The functional engine's thread pool on its own: every call of every run made exactly once and
// finished before run() returns, whether the workers are still spinning from the run before
// (runs back to back) or asleep (a pause longer than their spin), and with more calls than threads.
#include "HostThreads.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using fractal::sim::detail::HostThreads;

TEST(HostThreads, EveryCallRunsOnceBeforeRunReturnsSpinningOrAsleep) {
  HostThreads pool(3);
  std::vector<std::atomic<int>> calls(8);
  for (int round = 0; round < 400; ++round) {
    const int n = 1 + round % 8;
    for (auto &c : calls) c = 0;
    std::atomic<int> finished{0};
    pool.run(n, [&](int i) {
      if (round % 3 == 0) // calls that take a while: the caller waits for the workers
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      ++calls[size_t(i)];
      ++finished;
    });
    ASSERT_EQ(finished.load(), n) << "round " << round;
    for (int i = 0; i < 8; ++i)
      ASSERT_EQ(calls[size_t(i)].load(), i < n ? 1 : 0) << "round " << round << ", call " << i;
    if (round % 50 == 0) // long enough for the workers to stop spinning and sleep
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
