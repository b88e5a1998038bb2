#include "stratus/emulator/blocking_work.hpp"

#include <boost/asio/post.hpp>

namespace stratus::emulator {

BlockingWork::BlockingWork(boost::asio::io_context& io, std::size_t threads) : io_(io), pool_(threads) {}

BlockingWork::~BlockingWork() { pool_.join(); }

void BlockingWork::run(std::function<void()> work, std::function<void(std::exception_ptr)> then) {
  boost::asio::post(pool_, [this, work = std::move(work), then = std::move(then)]() mutable {
    std::exception_ptr error;
    try {
      work();
    } catch (...) {
      error = std::current_exception();
    }
    boost::asio::post(io_, [error, then = std::move(then)] { then(error); });
  });
}

}  // namespace stratus::emulator
