#pragma once
// Blocking work (disk writes, zip extraction, parsing a large request body) runs on threads of its
// own and its result comes back on the io thread, so the event loop never waits for it.

#include <cstddef>
#include <exception>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

namespace stratus::emulator {

class BlockingWork {
 public:
  BlockingWork(boost::asio::io_context& io, std::size_t threads);
  ~BlockingWork();  // waits for work already running
  BlockingWork(const BlockingWork&) = delete;
  BlockingWork& operator=(const BlockingWork&) = delete;

  // Runs `work` on a worker thread, then `then` on the io thread with what `work` threw (null when
  // it returned). `work` must touch nothing the io thread uses meanwhile.
  void run(std::function<void()> work, std::function<void(std::exception_ptr)> then);
  // The workers themselves, for work that needs its own ordering (a strand) on them.
  boost::asio::thread_pool::executor_type executor() { return pool_.get_executor(); }

 private:
  boost::asio::io_context& io_;
  boost::asio::thread_pool pool_;
};

}  // namespace stratus::emulator
