#pragma once
// A bounded pool of threads running queued jobs in FIFO order: threads are started as jobs arrive,
// up to `max_threads`, and kept until the pool is destroyed. The in-process invoker and the
// in-process Event invocations run handlers on it.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stratus::trainer {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t max_threads);
  // Waits for every queued and running job (drain()), then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a job. A job that throws has the exception swallowed (jobs report through their own
  // callbacks); jobs may post further jobs.
  void post(std::function<void()> job);
  // Returns once no job is queued or running, including jobs posted meanwhile.
  void drain();

  std::size_t max_threads() const { return max_threads_; }

 private:
  void work();

  const std::size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t waiting_ = 0;  // threads blocked waiting for a job
  std::size_t running_ = 0;
  bool stopping_ = false;
};

}  // namespace stratus::trainer
