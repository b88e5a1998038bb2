#pragma once
// The body of a PutObject or UploadPart, streamed to a temporary file as it arrives: aws-chunked
// framing removed, MD5 (the ETag) and the announced checksums computed on the way, nothing held in
// memory. finish() then checks what the client promised (decoded length, Content-MD5,
// x-amz-checksum-*, x-amz-content-sha256) before anything is published.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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

class ObjectUploadSink : public HttpBodySink {
 public:
  ObjectUploadSink(std::unique_ptr<TempFile> file, UploadExpectations expectations,
                   std::uint64_t max_bytes = kMaxPutBytes);
  // A sink that swallows the body of a request already known to fail (so the connection stays
  // usable) and makes finish() throw that failure.
  explicit ObjectUploadSink(S3Exception failure);

  bool write(std::string_view piece) override;
  // Throws S3Exception when the body was incomplete, malformed, too large or did not match what
  // the client announced.
  UploadResult finish(bool body_complete);
  std::uint64_t bytes_received() const { return received_; }

 private:
  void consume(std::string_view data);

  std::unique_ptr<TempFile> file_;
  UploadExpectations expect_;
  std::uint64_t max_bytes_ = kMaxPutBytes;
  std::optional<S3Exception> failure_;
  std::optional<AwsChunkedDecoder> decoder_;
  Md5 md5_;
  std::optional<Checksum> checksum_;
  std::optional<Checksum> sha256_;
  std::uint64_t size_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace stratus::emulator::s3
