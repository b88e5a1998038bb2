#pragma once
// The run delay of one process (time_model.hpp), read on every invocation twice. Listing
// /proc/<pid>/task and opening each thread's schedstat costs ~8 syscalls per thread per reading;
// the probe keeps the task directory and every thread's schedstat open and preads them instead.
//
// The thread list is refreshed when it may be stale, so a reading sums the same threads a fresh
// listing would: fstat of the open task directory gives st_nlink = 2 + the number of threads (one
// syscall), which catches a new thread; a thread that exited fails its pread (ESRCH), which
// catches one that was replaced by another (same count).

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <vector>

namespace stratus::emulator {

class RunDelayProbe {
 public:
  RunDelayProbe() = default;
  ~RunDelayProbe();
  RunDelayProbe(const RunDelayProbe&) = delete;
  RunDelayProbe& operator=(const RunDelayProbe&) = delete;

  // Sum of every thread's run delay so far, in ms; nullopt when schedstat cannot be read (no
  // such process, or a kernel without schedstats). Opens the files on first use for `pid`.
  std::optional<double> read(pid_t pid);
  // Closes every descriptor (the process is gone, or the probe will watch another one).
  void close();
  // Descriptors held: the task directory plus one per thread (for tests).
  std::size_t open_descriptors() const { return threads_.size() + (task_dir_fd_ >= 0 ? 1 : 0); }

 private:
  bool relist(pid_t pid);
  // Sums the open schedstat files; returns how many could be read.
  std::size_t sum(double& total_ns) const;
  long thread_count() const;  // from the task directory's link count; -1 on failure

  pid_t pid_ = 0;
  int task_dir_fd_ = -1;
  long listed_threads_ = 0;   // thread count when the list was made
  std::vector<int> threads_;  // open schedstat descriptors
};

}  // namespace stratus::emulator
