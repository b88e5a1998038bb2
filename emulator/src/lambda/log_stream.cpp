#include "stratus/emulator/lambda/log_stream.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

namespace stratus::emulator {

LogFlusher::LogFlusher(boost::asio::io_context& io, std::chrono::milliseconds delay)
    : timer_(io), delay_(delay) {}

// Streams hold the flusher (shared), so by now every stream is gone and has written its text.
LogFlusher::~LogFlusher() { flush_all(); }

void LogFlusher::enqueue(LogStream& stream) {
  waiting_.push_back(&stream);
  if (armed_) return;
  // One timer for all streams, armed once per period rather than once per line: at 10k invokes/s
  // over 64 environments, a stream collects several invocations' lines per write.
  armed_ = true;
  timer_.expires_after(delay_);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_timer();
  });
}

void LogFlusher::forget(LogStream& stream) {
  auto it = std::find(waiting_.begin(), waiting_.end(), &stream);
  if (it != waiting_.end()) waiting_.erase(it);
}

void LogFlusher::on_timer() {
  armed_ = false;
  flush_all();
}

void LogFlusher::flush_all() {
  // Writing a stream's text does not touch this list, so it can be walked as it is.
  for (LogStream* stream : waiting_) {
    stream->waiting_ = false;
    stream->write_pending();
  }
  waiting_.clear();
}

void LogStream::open(const std::filesystem::path& file, std::shared_ptr<LogFlusher> flusher) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  fd_ = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) spdlog::warn("cannot open log stream {}: function output is not kept", file.string());
  flusher_ = std::move(flusher);
}

LogStream::~LogStream() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

void LogStream::write(std::string_view text) {
  if (fd_ < 0 || text.empty()) return;
  if (!flusher_) return write_out(text);
  pending_.append(text);
  if (pending_.size() >= kFlushBytes) return flush();
  if (!waiting_) {
    waiting_ = true;
    flusher_->enqueue(*this);
  }
}

void LogStream::flush() {
  if (waiting_) {
    waiting_ = false;
    flusher_->forget(*this);
  }
  write_pending();
}

void LogStream::write_pending() {
  if (pending_.empty()) return;
  write_out(pending_);
  pending_.clear();
  // A stream that once held a large burst should not keep its memory for a quiet life.
  if (pending_.capacity() > kFlushBytes) std::string().swap(pending_);
}

void LogStream::write_out(std::string_view text) {
  if (fd_ < 0) return;
  while (!text.empty()) {
    ssize_t n = ::write(fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // disk full: logs are best effort, invocations go on
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace stratus::emulator
