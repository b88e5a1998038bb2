// The upload sink's pipelined path, driven the way the HTTP server drives it (write_async with
// buffers it hands over, on an io_context) with a real thread pool as the workers: the ETag of a
// multi-piece body, the bound on pieces in flight, the last piece answered only once everything is
// on disk, a failure reported only after the pieces still out came back, small bodies consumed
// inline, and a dropped upload taking its temporary file with it.
#include "stratus/emulator/s3/object_upload.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "stratus/common/base64.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::emulator::s3 {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPiece = 1 << 20;

// MD5 straight from OpenSSL's one-shot API: the reference the sink's incremental hash must match.
std::string md5_raw(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

std::string read_file(const fs::path& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

class PipelinedUpload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stratus-upload-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<TempFile> temp_file() {
    auto path = dir_ / "upload.tmp";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    return std::make_unique<TempFile>(path, fd);
  }

  std::shared_ptr<ObjectUploadSink> sink(UploadExpectations expect = {}, std::uint64_t max_bytes = kMaxPutBytes) {
    UploadPipeline pipeline{&io_, workers_.get_executor()};
    pipeline.hash_and_write_apart = apart_;
    pipeline.flush_early = true;  // exercised on every big body here; it changes no byte
    return std::make_shared<ObjectUploadSink>(temp_file(), std::move(expect), max_bytes, pipeline);
  }

  struct Feed {
    bool stopped = false;      // a ready came with go_on false
    bool finished = false;     // the last piece's ready came
    std::size_t max_in_flight = 0;
    std::size_t pieces_sent = 0;
  };

  // Feeds `body` in kPiece pieces the way the server does: the next piece only after `ready`.
  // Optionally gives up (drops the sink) after `drop_after` pieces, as a disconnect does.
  Feed feed(std::shared_ptr<ObjectUploadSink> target, const std::string& body, std::size_t drop_after = SIZE_MAX) {
    Feed result;
    // The io_context has nothing queued while a worker hashes: keep it running until the end.
    auto guard = boost::asio::make_work_guard(io_);
    std::unique_ptr<char[]> buffer = std::make_unique<char[]>(kPiece);
    std::size_t offset = 0;
    std::function<void()> send_next;
    send_next = [&] {
      if (result.pieces_sent == drop_after) {
        target.reset();
        guard.reset();
        return;
      }
      std::size_t n = std::min(kPiece, body.size() - offset);
      std::memcpy(buffer.get(), body.data() + offset, n);
      offset += n;
      bool last = offset == body.size();
      ++result.pieces_sent;
      target->write_async(HttpBodyPiece{std::move(buffer), n, kPiece}, last,
                          [&, last](bool go_on, std::unique_ptr<char[]> next) {
                            ASSERT_TRUE(next);
                            buffer = std::move(next);
                            result.max_in_flight = std::max(result.max_in_flight, target->pieces_in_flight());
                            if (!go_on) {
                              EXPECT_EQ(target->pieces_in_flight(), 0u);
                              result.stopped = true;
                              guard.reset();
                              return;
                            }
                            if (last) {
                              EXPECT_EQ(target->pieces_in_flight(), 0u);
                              result.finished = true;
                              guard.reset();
                              return;
                            }
                            send_next();
                          });
      result.max_in_flight = std::max(result.max_in_flight, target ? target->pieces_in_flight() : 0);
    };
    send_next();
    io_.restart();
    io_.run_for(std::chrono::seconds(30));
    return result;
  }

  void multi_piece_body_gets_the_md5_of_every_byte_in_order();
  void failure_stops_reading_only_after_the_pieces_still_out_came_back();

  bool apart_ = false;  // hash and write each piece on two strands at once
  fs::path dir_;
  boost::asio::io_context io_;
  boost::asio::thread_pool workers_{2};
};

void PipelinedUpload::multi_piece_body_gets_the_md5_of_every_byte_in_order() {
  std::string body = random_bytes(9 * kPiece + 12345, 1);  // past kFlushEarlyBytes
  auto upload = sink();
  Feed fed = feed(upload, body);
  EXPECT_TRUE(fed.finished);
  EXPECT_FALSE(fed.stopped);
  EXPECT_EQ(fed.pieces_sent, 10u);
  EXPECT_LE(fed.max_in_flight, kMaxPiecesInFlight);
  EXPECT_GE(fed.max_in_flight, 1u);  // the big pieces did go to the workers
  UploadResult result = upload->finish(true);
  EXPECT_EQ(result.size, body.size());
  EXPECT_EQ(result.md5_hex, aws::to_hex(md5_raw(body)));
  EXPECT_EQ(read_file(result.file->path()), body);
  EXPECT_EQ(upload->bytes_received(), body.size());
}

TEST_F(PipelinedUpload, WrongContentMd5OnAMultiPieceBodyIsBadDigest) {
  std::string body = random_bytes(3 * kPiece + 7, 2);
  UploadExpectations expect;
  expect.content_md5 = base64_encode(md5_raw("something else"));
  auto upload = sink(expect);
  Feed fed = feed(upload, body);
  ASSERT_TRUE(fed.finished);
  try {
    upload->finish(true);
    FAIL() << "a wrong Content-MD5 was accepted";
  } catch (const S3Exception& e) {
    EXPECT_EQ(e.code, S3ErrorCode::BadDigest);
  }
  // The right one is accepted.
  expect.content_md5 = base64_encode(md5_raw(body));
  auto good = sink(expect);
  ASSERT_TRUE(feed(good, body).finished);
  EXPECT_EQ(good->finish(true).md5_hex, aws::to_hex(md5_raw(body)));
}

TEST_F(PipelinedUpload, MultiPieceBodyGetsTheMd5OfEveryByteInOrder) {
  multi_piece_body_gets_the_md5_of_every_byte_in_order();
}

TEST_F(PipelinedUpload, MultiPieceBodyHashedAndWrittenApartGetsTheSameMd5AndBytes) {
  apart_ = true;
  multi_piece_body_gets_the_md5_of_every_byte_in_order();
}

TEST_F(PipelinedUpload, FailureOnAWorkerStopsReadingOnlyAfterThePiecesStillOutCameBack) {
  failure_stops_reading_only_after_the_pieces_still_out_came_back();
}

TEST_F(PipelinedUpload, FailureWhileHashingApartIsReportedTheSameWay) {
  apart_ = true;
  failure_stops_reading_only_after_the_pieces_still_out_came_back();
}

void PipelinedUpload::failure_stops_reading_only_after_the_pieces_still_out_came_back() {
  std::string body = random_bytes(6 * kPiece, 3);
  auto upload = sink({}, 2 * kPiece + 1);  // the third piece is too much
  Feed fed = feed(upload, body);
  EXPECT_TRUE(fed.stopped);
  EXPECT_FALSE(fed.finished);
  EXPECT_LT(fed.pieces_sent, 6u);
  try {
    upload->finish(false);
    FAIL() << "an oversized body was accepted";
  } catch (const S3Exception& e) {
    EXPECT_EQ(e.code, S3ErrorCode::EntityTooLarge);
  }
}

TEST_F(PipelinedUpload, SmallBodyIsConsumedInlineWithoutAWorker) {
  std::string body = random_bytes(4096, 4);
  auto upload = sink();
  bool answered = false;
  auto buffer = std::make_unique<char[]>(kPiece);
  std::memcpy(buffer.get(), body.data(), body.size());
  upload->write_async(HttpBodyPiece{std::move(buffer), body.size(), kPiece}, true,
                      [&](bool go_on, std::unique_ptr<char[]> next) {
                        EXPECT_TRUE(go_on);
                        EXPECT_TRUE(next);
                        answered = true;
                      });
  EXPECT_TRUE(answered);  // before write_async returned: no trip through the io_context
  EXPECT_EQ(upload->finish(true).md5_hex, aws::to_hex(md5_raw(body)));
}

TEST_F(PipelinedUpload, DroppedUploadRemovesItsTemporaryFileOnceThePiecesAreBack) {
  std::string body = random_bytes(4 * kPiece, 5);
  Feed fed = feed(sink(), body, /*drop_after=*/2);
  EXPECT_FALSE(fed.finished);
  workers_.join();
  io_.restart();
  io_.run();  // the completions that still hold the sink
  EXPECT_FALSE(fs::exists(dir_ / "upload.tmp"));
}

TEST(InlineUpload, WithoutAPipelineEveryPieceIsConsumedAtOnce) {
  auto path = fs::temp_directory_path() / ("stratus-inline-upload-" + std::to_string(::getpid()));
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  auto upload = std::make_shared<ObjectUploadSink>(std::make_unique<TempFile>(path, fd), UploadExpectations{});
  std::string body = random_bytes(2 * kPiece, 6);
  for (std::size_t off = 0; off < body.size(); off += kPiece) {
    auto buffer = std::make_unique<char[]>(kPiece);
    std::memcpy(buffer.get(), body.data() + off, kPiece);
    bool answered = false;
    upload->write_async(HttpBodyPiece{std::move(buffer), kPiece, kPiece}, off + kPiece == body.size(),
                        [&](bool go_on, std::unique_ptr<char[]>) { answered = go_on; });
    EXPECT_TRUE(answered);
  }
  EXPECT_EQ(upload->finish(true).md5_hex, aws::to_hex(md5_raw(body)));
}

}  // namespace
}  // namespace stratus::emulator::s3
