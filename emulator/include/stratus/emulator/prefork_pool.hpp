#pragma once
// A few processes forked ahead of need and already placed in fresh cgroups, so a cold start does
// not pay for the cgroup migration (10-16 ms inside the kernel for the first cgroup.procs write on
// a cgroup v1 host). Each waits on a pipe. claim() gives the groups a function's limits, lays the
// spawn spec and sandbox plan out in memory shared with the process, and lets it go: it then runs
// the same steps as ChildProcess::spawn's child after the cgroup join (RLIMIT_DATA, sandbox, chdir,
// stdio, close-on-exec of every other descriptor) and execs the bootstrap.
//
// A thread of the pool forks and places the replacements, off the daemon's io thread. A waiting
// process that dies (killed from outside) closes its report pipe; the thread sees that and starts
// another. The destructor kills, reaps and removes every process and group still in the pool.
// Claimed processes belong to their ChildProcess handle from then on. Their parent-death signal
// is tied to the pool's thread, which lives as long as the pool (the daemon's whole life).

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "stratus/emulator/child_process.hpp"
#include "stratus/emulator/resource_limits.hpp"
#include "stratus/emulator/sandbox.hpp"

namespace stratus::emulator {

struct ClaimedProcess {
  ChildProcess process;
  EnvironmentCgroups cgroups;  // the caller destroys them through the limiter, as for create()
};

struct PreforkPoolStats {
  std::size_t ready = 0;    // waiting to be claimed
  std::size_t started = 0;  // forked and placed since the pool started
  std::size_t claimed = 0;
  std::size_t replaced = 0;  // died while waiting and were replaced
};

class PreforkPool {
 public:
  // `size` 0 starts nothing (claim() then always returns nullopt).
  PreforkPool(ResourceLimiter& limiter, std::size_t size);
  ~PreforkPool();
  PreforkPool(const PreforkPool&) = delete;
  PreforkPool& operator=(const PreforkPool&) = delete;

  // A ready process running `spec` (its cgroup_procs_files and wait_for_exec are ignored: the
  // process is in its groups already and the exec report comes later), with the limits of
  // `memory_mb` applied first. nullopt when none is ready or the spec does not fit; the caller
  // then spawns as before. Called on the io thread.
  std::optional<ClaimedProcess> claim(const SpawnSpec& spec, int memory_mb);

  PreforkPoolStats stats() const;
  std::size_t size() const { return size_; }
  // Pids of the processes waiting in the pool (for tests and diagnostics).
  std::vector<pid_t> ready_pids() const;

 private:
  struct Slot;
  void run();
  std::unique_ptr<Slot> start_one();
  void discard(std::unique_ptr<Slot> slot, bool kill_first);
  void wake();

  ResourceLimiter& limiter_;
  const std::size_t size_;
  mutable std::mutex mutex_;
  std::deque<std::unique_ptr<Slot>> ready_;
  PreforkPoolStats stats_;
  std::uint64_t next_id_ = 0;
  std::chrono::steady_clock::time_point last_claim_{};
  bool stopping_ = false;
  int wake_fds_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace stratus::emulator
