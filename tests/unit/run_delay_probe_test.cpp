#include "stratus/emulator/run_delay_probe.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include "stratus/emulator/time_model.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

std::size_t open_fds() {
  return count_entries("/proc/self/fd");
}
std::size_t threads() {
  return count_entries("/proc/self/task");
}

// A thread that exists until release() is called.
class ParkedThread {
 public:
  ParkedThread()
      : thread_([this] {
          tid_.set_value(::gettid());
          release_.get_future().wait();
        }),
        task_(fs::path("/proc/self/task") / std::to_string(tid_.get_future().get())) {}
  // Returns once the thread is gone from /proc/self/task too: join() returns when the kernel
  // clears the thread's tid, before the exiting task is released, so for a moment (longer on a
  // loaded machine) the task directory may still list it.
  void release() {
    release_.set_value();
    thread_.join();
    for (int i = 0; i < 10000 && fs::exists(task_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  std::promise<pid_t> tid_;
  std::promise<void> release_;
  std::thread thread_;
  fs::path task_;
};

}  // namespace

TEST(RunDelayProbe, ReadsEveryThreadAndFollowsNewAndExitedOnes) {
  const std::size_t fds_before = open_fds();
  {
    RunDelayProbe probe;
    auto first = probe.read(::getpid());
    ASSERT_TRUE(first.has_value());
    EXPECT_GE(*first, 0);
    EXPECT_EQ(probe.open_descriptors(), 1 + threads());

    // A new thread changes the task directory's link count: the next reading lists it.
    ParkedThread a;
    ASSERT_TRUE(probe.read(::getpid()).has_value());
    EXPECT_EQ(probe.open_descriptors(), 1 + threads());

    // One thread exits and another starts: the count is the same, but the exited thread's file
    // fails to read, so the list is made again.
    a.release();
    ParkedThread b;
    auto later = probe.read(::getpid());
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(probe.open_descriptors(), 1 + threads());
    b.release();
    ASSERT_TRUE(probe.read(::getpid()).has_value());
    EXPECT_EQ(probe.open_descriptors(), 1 + threads());

    probe.close();
    EXPECT_EQ(probe.open_descriptors(), 0u);
    EXPECT_EQ(open_fds(), fds_before);
    ASSERT_TRUE(probe.read(::getpid()).has_value());  // reopens after close
  }
  // The destructor closes what the probe held: no descriptor leaks.
  EXPECT_EQ(open_fds(), fds_before);
}

TEST(RunDelayProbe, MissingProcessHasNoReading) {
  RunDelayProbe probe;
  EXPECT_FALSE(probe.read(0).has_value());
  EXPECT_FALSE(probe.read(-1).has_value());
  // A pid beyond pid_max never exists.
  EXPECT_FALSE(probe.read(1 << 30).has_value());
  EXPECT_EQ(probe.open_descriptors(), 0u);
}

TEST(RunDelayProbe, AgreesWithAOneOffReading) {
  RunDelayProbe probe;
  auto kept = probe.read(::getpid());
  auto again = probe.read(::getpid());
  auto one_off = run_delay_ms(::getpid());
  ASSERT_TRUE(kept && again && one_off);
  // Run delay only grows; readings taken in this order are ordered.
  EXPECT_LE(*kept, *again);
  EXPECT_LE(*again, *one_off);
}
