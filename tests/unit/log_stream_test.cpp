// Log streams keep their lines in memory and a flusher writes them in batches: the file must end up
// with exactly what was written, in order: by the timer, past the size bound, on flush, on close.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include "stratus/emulator/lambda/log_stream.hpp"

namespace fs = std::filesystem;
using stratus::emulator::LogFlusher;
using stratus::emulator::LogStream;

namespace {

struct TempDir {
  fs::path root;
  TempDir() {
    root = fs::temp_directory_path() /
           ("stratus-log-stream-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST(LogStream, WithoutAFlusherEveryWriteReachesTheFileAtOnce) {
  TempDir dir;
  LogStream stream;
  stream.open(dir.root / "a.log");
  stream.write("START\n");
  EXPECT_EQ(read_all(dir.root / "a.log"), "START\n");
  EXPECT_EQ(stream.unwritten_bytes(), 0u);
}

TEST(LogStream, LinesWaitForTheFlushersTimerThenReachTheFile) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::milliseconds(5));
  LogStream stream;
  stream.open(dir.root / "a.log", flusher);
  stream.write("START RequestId: 1\n");
  stream.write("END RequestId: 1\n");
  EXPECT_EQ(read_all(dir.root / "a.log"), "");
  EXPECT_EQ(flusher->streams_waiting(), 1u);  // once, however many lines
  // The flusher's timer is the only work: run() returns once it has fired.
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(read_all(dir.root / "a.log"), "START RequestId: 1\nEND RequestId: 1\n");
  EXPECT_EQ(flusher->streams_waiting(), 0u);
  EXPECT_EQ(stream.unwritten_bytes(), 0u);
  // A later line arms the timer again.
  stream.write("START RequestId: 2\n");
  io.restart();
  io.run_for(std::chrono::seconds(10));
  EXPECT_EQ(read_all(dir.root / "a.log"),
            "START RequestId: 1\nEND RequestId: 1\nSTART RequestId: 2\n");
}

TEST(LogStream, EachStreamKeepsItsOrderThroughTimerBoundAndHandFlushes) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::milliseconds(1));
  LogStream a, b;
  a.open(dir.root / "a.log", flusher);
  b.open(dir.root / "b.log", flusher);
  std::string want_a, want_b;
  const std::string big(LogStream::kFlushBytes / 3 + 7, 'x');
  for (int i = 0; i < 40; ++i) {
    std::string line_a("a");
    line_a.append(std::to_string(i)).append(i % 5 == 0 ? big : "").push_back('\n');
    std::string line_b("b");
    line_b.append(std::to_string(i)).push_back('\n');
    a.write(line_a);
    b.write(line_b);
    want_a += line_a;
    want_b += line_b;
    if (i % 7 == 0) b.flush();
    if (i % 3 == 0) io.poll();  // a due timer runs in between
    if (i % 11 == 0) {
      io.restart();
      io.run_for(std::chrono::milliseconds(3));
    }
    io.restart();
  }
  flusher->flush_all();
  EXPECT_EQ(read_all(dir.root / "a.log"), want_a);
  EXPECT_EQ(read_all(dir.root / "b.log"), want_b);
}

TEST(LogStream, AStreamPastTheBoundWritesAtOnce) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::hours(1));
  LogStream stream;
  stream.open(dir.root / "a.log", flusher);
  const std::string first(LogStream::kFlushBytes - 10, 'f');
  stream.write(first);
  EXPECT_EQ(read_all(dir.root / "a.log"), "");
  EXPECT_EQ(stream.unwritten_bytes(), first.size());
  stream.write("0123456789\n");  // crosses the bound
  EXPECT_EQ(read_all(dir.root / "a.log"), first + "0123456789\n");
  EXPECT_EQ(stream.unwritten_bytes(), 0u);
  EXPECT_EQ(flusher->streams_waiting(), 0u);  // nothing left for the timer
}

TEST(LogStream, ClosingAStreamWritesWhatItHeld) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::hours(1));
  {
    LogStream stream;
    stream.open(dir.root / "a.log", flusher);
    stream.write("END RequestId: 9\n");
    EXPECT_EQ(read_all(dir.root / "a.log"), "");
  }
  EXPECT_EQ(read_all(dir.root / "a.log"), "END RequestId: 9\n");
  EXPECT_EQ(flusher->streams_waiting(), 0u);  // the flusher holds no pointer to the dead stream
  // Its timer firing later must not touch the stream.
  flusher->flush_all();
}

TEST(LogStream, FlushAllAtShutdownWritesEveryStreamWithoutTheTimer) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::hours(1));
  LogStream a, b, quiet;
  a.open(dir.root / "a.log", flusher);
  b.open(dir.root / "b.log", flusher);
  quiet.open(dir.root / "quiet.log", flusher);
  a.write("REPORT a\n");
  b.write("REPORT b\n");
  EXPECT_EQ(flusher->streams_waiting(), 2u);
  flusher->flush_all();
  EXPECT_EQ(read_all(dir.root / "a.log"), "REPORT a\n");
  EXPECT_EQ(read_all(dir.root / "b.log"), "REPORT b\n");
  EXPECT_EQ(read_all(dir.root / "quiet.log"), "");
  EXPECT_EQ(flusher->streams_waiting(), 0u);
  // After flush_all a stream collects again and is written by the next flush.
  a.write("START a2\n");
  EXPECT_EQ(flusher->streams_waiting(), 1u);
  a.flush();
  EXPECT_EQ(read_all(dir.root / "a.log"), "REPORT a\nSTART a2\n");
}

TEST(LogStream, AStreamThatCannotOpenDropsWritesAndNeverWaits) {
  TempDir dir;
  boost::asio::io_context io;
  auto flusher = std::make_shared<LogFlusher>(io, std::chrono::hours(1));
  fs::create_directories(dir.root / "is-a-directory.log");
  LogStream stream;
  stream.open(dir.root / "is-a-directory.log", flusher);
  stream.write("lost\n");
  EXPECT_EQ(stream.unwritten_bytes(), 0u);
  EXPECT_EQ(flusher->streams_waiting(), 0u);
}
