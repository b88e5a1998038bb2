#pragma once
// The body of a PutObject or UploadPart, streamed to a temporary file as it arrives: aws-chunked
// framing removed, MD5 (the ETag) and the announced checksums computed on the way, nothing held in
// memory. finish() then checks what the client promised (decoded length, Content-MD5,
// x-amz-checksum-*, x-amz-content-sha256) before anything is published. Large bodies are hashed
// and written on a worker while the io thread receives the next pieces.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include "stratus/common/checksum.hpp"
#include "stratus/common/http_message.hpp"
#include "stratus/emulator/s3/aws_chunked.hpp"
#include "stratus/emulator/s3/object_store.hpp"
#include "stratus/emulator/s3/s3_error.hpp"

namespace stratus::emulator::s3 {

// S3's largest single PUT.
inline constexpr std::uint64_t kMaxPutBytes = 5ull * 1024 * 1024 * 1024;

// What the request head says about its body. Built by upload_expectations(); throws S3Exception
// for a head that cannot be honoured (bad digest syntax, unknown checksum algorithm).
struct UploadExpectations {
  bool aws_chunked = false;
  std::optional<std::uint64_t> decoded_length;   // x-amz-decoded-content-length
  std::string content_md5;                        // base64, empty if not sent
  std::optional<ChecksumAlgorithm> checksum;      // algorithm to compute
  std::string checksum_value;                     // from the header; empty when it comes in a trailer
  bool checksum_in_trailer = false;
  std::string payload_sha256;                     // hex from x-amz-content-sha256, when it is a digest
};
UploadExpectations upload_expectations(const HttpRequestHead& head);

struct UploadResult {
  std::unique_ptr<TempFile> file;
  std::uint64_t size = 0;
  std::string md5_hex;
  std::optional<ChecksumAlgorithm> checksum;
  std::string checksum_value;  // base64 of the computed checksum, when one was asked for
};

// Where an upload's pieces are hashed and written when they are not handled on the io thread:
// `workers` runs the work (one piece at a time, in order, through a strand of its own per upload)
// and each finished piece is reported back on `io`.
struct UploadPipeline {
  boost::asio::io_context* io = nullptr;
  boost::asio::thread_pool::executor_type workers;
  // Hash a piece on one strand and write it on another, at the same time (plain bodies only;
  // aws-chunked ones are decoded, hashed and written on one).
  bool hash_and_write_apart = false;
  // Start the disk write-back of every kFlushEarlyBytes written (for a store that fsyncs objects).
  bool flush_early = false;
};
inline constexpr std::uint64_t kFlushEarlyBytes = 8 * 1024 * 1024;

// Pieces up to this size are hashed and written on the io thread when nothing else of the upload
// is in flight: for a small object the trip to a worker and back costs more than the work.
inline constexpr std::size_t kInlinePieceBytes = 64 * 1024;
// Pieces a pipelined upload has handed to its worker and not yet got back: enough that receiving
// the next piece overlaps hashing and writing the previous ones, few enough to bound the memory
// (a megabyte each) and how far the upload runs ahead of the disk.
inline constexpr std::size_t kMaxPiecesInFlight = 2;

class ObjectUploadSink : public HttpBodySink, public std::enable_shared_from_this<ObjectUploadSink> {
 public:
  // Without a pipeline every piece is consumed on the caller's thread as it arrives.
  ObjectUploadSink(std::unique_ptr<TempFile> file, UploadExpectations expectations,
                   std::uint64_t max_bytes = kMaxPutBytes, std::optional<UploadPipeline> pipeline = std::nullopt);
  // A sink that swallows the body of a request already known to fail (so the connection stays
  // usable) and makes finish() throw that failure.
  explicit ObjectUploadSink(S3Exception failure);

  bool write(std::string_view piece) override;
  // With a pipeline: pieces beyond a small one go to the upload's strand on the workers, up to
  // kMaxPiecesInFlight at once (see HttpBodySink::write_async). Must be called from the io thread,
  // and the sink must be owned by a shared_ptr.
  void write_async(HttpBodyPiece piece, bool last, Ready ready) override;
  // Throws S3Exception when the body was incomplete, malformed, too large or did not match what
  // the client announced. Only once the last piece's `ready` (or one with go_on false) has come.
  UploadResult finish(bool body_complete);
  std::uint64_t bytes_received() const { return received_; }
  // Pieces handed to the workers and not yet back (for tests).
  std::size_t pieces_in_flight() const { return in_flight_; }

 private:
  // Decodes, hashes and writes one piece; false (with failure_ set) when the upload has failed.
  bool process(std::string_view piece);
  void consume(std::string_view data);  // hash, then store
  void hash(std::string_view data);     // throws EntityTooLarge
  void store(std::string_view data);
  void send_apart(HttpBodyPiece piece);
  // Runs `work`, recording what it throws in `failure` (as an S3Exception); false when it threw.
  template <class Work>
  bool guarded(std::optional<S3Exception>& failure, Work&& work);
  // On the io thread, when the worker is done with a piece.
  void piece_done(std::unique_ptr<char[]> buffer, bool ok);
  std::unique_ptr<char[]> spare_buffer();

  // Touched by whoever processes pieces: the io thread, or the upload's strand while pieces are in
  // flight (never both at once: the io thread waits for in_flight_ to drop to 0).
  std::unique_ptr<TempFile> file_;
  UploadExpectations expect_;
  std::uint64_t max_bytes_ = kMaxPutBytes;
  std::optional<S3Exception> failure_;
  std::optional<AwsChunkedDecoder> decoder_;
  Md5 md5_;
  std::optional<Checksum> checksum_;
  std::optional<Checksum> sha256_;
  std::uint64_t size_ = 0;  // bytes hashed
  // With hash_and_write_apart, the hashing strand's and the writing strand's own failures.
  std::optional<S3Exception> hash_failure_;
  std::optional<S3Exception> write_failure_;
  std::uint64_t written_ = 0;        // bytes stored (the writing side's)
  std::uint64_t flush_started_ = 0;  // write-back started for [0, flush_started_)

  // The io thread's own.
  std::uint64_t received_ = 0;
  std::optional<UploadPipeline> pipeline_;
  std::optional<boost::asio::strand<boost::asio::thread_pool::executor_type>> strand_;
  std::optional<boost::asio::strand<boost::asio::thread_pool::executor_type>> write_strand_;
  std::size_t in_flight_ = 0;
  bool worker_failed_ = false;  // a piece came back failed: stop reading, drain, report
  Ready waiting_;               // the server's `ready`, held until there is room (or all is done)
  bool waiting_for_drain_ = false;
  std::size_t buffer_capacity_ = 0;
  std::vector<std::unique_ptr<char[]>> spare_buffers_;
};

}  // namespace stratus::emulator::s3
