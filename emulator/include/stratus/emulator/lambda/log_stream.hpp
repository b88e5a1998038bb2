#pragma once
// One log stream per execution environment, written to
// <data-dir>/logs/<function>/<YYYY-MM-DD>-<stream-id>.log like a CloudWatch log stream.
//
// Lines are not written one syscall each: a stream keeps what it was given in memory, and one
// LogFlusher per daemon writes every stream's text with one write(2) per stream at most
// LogFlusher's delay after the first unwritten line (20 ms: someone following a log file sees an
// invocation's START that soon, however quiet the invocation), earlier when a stream holds more
// than kFlushBytes, and at once when the stream is flushed by hand (the environment ended) or
// destroyed. A stream's text reaches the file in the order it was written. All on the io thread.

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace stratus::emulator {

class LogStream;

class LogFlusher : public std::enable_shared_from_this<LogFlusher> {
 public:
  static constexpr std::chrono::milliseconds kDefaultDelay{20};

  explicit LogFlusher(boost::asio::io_context& io, std::chrono::milliseconds delay = kDefaultDelay);
  ~LogFlusher();
  LogFlusher(const LogFlusher&) = delete;
  LogFlusher& operator=(const LogFlusher&) = delete;

  // Writes every stream's unwritten text now (daemon shutdown: the timer may never fire again).
  void flush_all();
  std::size_t streams_waiting() const { return waiting_.size(); }

 private:
  friend class LogStream;
  // A stream got its first unwritten text: it is written when the timer fires.
  void enqueue(LogStream& stream);
  // A stream wrote its text itself, or is going away.
  void forget(LogStream& stream);
  void on_timer();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds delay_;
  bool armed_ = false;
  std::vector<LogStream*> waiting_;  // streams with unwritten text, in the order they got it
};

class LogStream {
 public:
  // A stream above this many unwritten bytes writes them at once.
  static constexpr std::size_t kFlushBytes = 64 * 1024;

  LogStream() = default;
  // Opens (creates) the stream file; on failure the stream silently drops writes but logs once.
  // Without a flusher every write goes to the file at once.
  void open(const std::filesystem::path& file, std::shared_ptr<LogFlusher> flusher = nullptr);
  ~LogStream();  // writes what is left
  LogStream(const LogStream&) = delete;
  LogStream& operator=(const LogStream&) = delete;

  void write(std::string_view text);
  // Writes the unwritten text now.
  void flush();
  std::size_t unwritten_bytes() const { return pending_.size(); }

 private:
  friend class LogFlusher;
  void write_pending();
  void write_out(std::string_view text);

  int fd_ = -1;
  std::shared_ptr<LogFlusher> flusher_;
  std::string pending_;
  bool waiting_ = false;  // in the flusher's list
};

}  // namespace stratus::emulator
