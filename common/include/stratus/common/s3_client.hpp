#pragma once
// A blocking S3 client for the trainer's `stage` command and for Lambda handlers (which are
// synchronous): objects in and out of memory and files, listing, buckets.
//
// Every call blocks its caller, but the work runs on the client's own I/O thread (one keep-alive
// connection pool, HttpClient's deadlines and retries), so large transfers move several parts at
// once: put_file/put_parts upload up to `max_parallel_parts` parts of a multipart upload in
// parallel, get/get_to_file fetch ranges in parallel. One client may be used from several threads
// at the same time.
//
// Wire choices (see s3_wire.hpp for the pieces):
// - Addressing: path style (`http://host:port/bucket/key`) for custom endpoints such as the
//   emulator; virtual-hosted style (`https://bucket.s3.region.amazonaws.com/key`) for AWS, except
//   for bucket names that are not one DNS label (dots, upper case, underscores), which go path
//   style (a dotted name would not match the `*.s3.region.amazonaws.com` certificate).
// - Signing: SigV4, service "s3". Uploads carry Content-MD5 (S3 rejects a body that does not
//   match with BadDigest); over plain HTTP the payload is also signed (x-amz-content-sha256 = its
//   SHA-256), over HTTPS it is UNSIGNED-PAYLOAD, because TLS already protects the bytes in transit
//   and the MD5 covers them end to end; this is what botocore does too. No x-amz-checksum-*: the
//   MD5 already gives end-to-end integrity, and flexible checksums would have to be declared per
//   multipart upload and be supported by every server we talk to.
// - Integrity: the ETag S3 returns for a single PUT and for each part must equal the MD5 we sent,
//   and a multipart upload's ETag must be MD5(part digests)-N; a mismatch throws S3Error
//   "ETagMismatch". Not checked when the object is SSE-KMS or SSE-C encrypted (its ETag is then
//   not an MD5).
// - Downloads of several parts pin the object with If-Match on the first part's ETag, so an object
//   replaced mid-download fails (412 PreconditionFailed) instead of mixing two versions.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "stratus/common/http_client.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::aws {

struct S3ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;           // as S3 sends it, with the double quotes
  std::string last_modified;  // as in ListObjectsV2: ISO 8601, e.g. "2009-10-12T17:50:30.000Z"
};

struct S3ListPage {
  std::vector<S3ObjectInfo> objects;
  std::vector<std::string> common_prefixes;
  std::string next_continuation_token;
  bool truncated = false;
};

struct S3Head {
  std::uint64_t size = 0;
  std::string etag;  // with the double quotes
  std::string content_type;
  std::string last_modified;  // the Last-Modified header, an HTTP date
  // User metadata (x-amz-meta-*), names without the prefix and in lower case.
  std::map<std::string, std::string> metadata;
};

struct S3PutOptions {
  std::string content_type;  // empty: none sent (S3 then stores binary/octet-stream)
  // Sent as x-amz-meta-<name>. Names must be HTTP token characters, values printable ASCII
  // (S3 keeps only US-ASCII in user metadata); anything else throws std::invalid_argument.
  std::map<std::string, std::string> metadata;
};

struct S3MultipartUploadInfo {
  std::string key;
  std::string upload_id;
  std::string initiated;
};

// A request S3 (or the connection to it) refused. Transport failures (connect, TLS, deadline) have
// status() 0, code() "" and transport_error() set. Besides S3's own error codes, the client uses:
// "NotFound" (a 404 to HEAD, which has no body to say more), "Http<status>" (another error without
// a body), "MalformedResponse" (a response the client cannot read), "ETagMismatch" (see above),
// "IncompleteBody" (a download delivered fewer bytes than announced).
class S3Error : public std::runtime_error {
 public:
  S3Error(const std::string& what, int status, std::string code, std::string request_id = {},
          std::string server_message = {}, std::error_code transport_error = {});

  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const std::string& request_id() const { return request_id_; }
  // S3's <Message>, or the transport error's description.
  const std::string& server_message() const { return server_message_; }
  std::error_code transport_error() const { return transport_error_; }
  // 404: no such key, bucket or upload.
  bool not_found() const { return status_ == 404; }

 private:
  int status_;
  std::string code_;
  std::string request_id_;
  std::string server_message_;
  std::error_code transport_error_;
};

enum class S3AddressingStyle {
  Auto,           // virtual-hosted for AWS endpoints (when the bucket name allows it), else path
  Path,           // always http(s)://endpoint/bucket/key
  VirtualHosted,  // bucket.endpoint/key whenever the bucket name allows it
};

struct S3ClientOptions {
  Endpoint endpoint;
  Credentials credentials;
  std::string region;
  // Objects of at least this size are uploaded in parts (put, put_file).
  std::uint64_t multipart_threshold = 16 << 20;
  // Upload parts and download ranges. Uploads raise it to S3's 5 MiB minimum, and as far as needed
  // to stay within 10,000 parts.
  std::uint64_t part_size = 16 << 20;
  // Parts (or ranges) in flight at once, each holding one part in memory.
  int max_parallel_parts = 4;
  // Deadline of each request, including its retries.
  std::chrono::milliseconds call_deadline{60000};
  // 429 and 5xx responses (S3's SlowDown is a 503) and connection errors are retried.
  RetryPolicy retry;
  // Extra CA bundle (PEM), trusted besides the system's. The system's are found even in a static
  // binary on another distribution: SSL_CERT_FILE / SSL_CERT_DIR, else OpenSSL's default, else
  // the usual bundle paths (see http_client.cpp).
  std::string ca_file;
  S3AddressingStyle addressing = S3AddressingStyle::Auto;
  bool verify_tls = true;

  // resolve_region, resolve_credentials, resolve_endpoint("s3", region), and ca_file from
  // AWS_CA_BUNDLE (as the AWS CLI and SDKs do). Throws ConfigurationError (aws_environment.hpp)
  // when something is missing.
  static S3ClientOptions from_environment(std::string_view profile = {});
};

class S3Client {
 public:
  explicit S3Client(S3ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3ClientOptions& options() const;

  // The whole object, fetched in parallel ranges when larger than part_size.
  std::string get(const std::string& bucket, const std::string& key);
  // Bytes [offset, offset + length), fewer when the object ends first; length 0 returns "" without
  // a request. An offset at or past the end throws S3Error "InvalidRange" (416).
  std::string get_range(const std::string& bucket, const std::string& key, std::uint64_t offset,
                        std::uint64_t length);
  // Writes the object to `file`: ranges are fetched in parallel into a temporary file next to it
  // (hidden `.<name>.stratus-<random>.tmp` in the same directory, so the final rename is atomic),
  // which then replaces `file`. On any failure the temporary file is removed and `file` is left as
  // it was; readers never see a partial file. (Not fsync'ed: atomic against failures of this
  // process, not against a power cut.) Local file errors throw std::system_error.
  void get_to_file(const std::string& bucket, const std::string& key,
                   const std::filesystem::path& file);

  // Throws S3Error; a missing object (or bucket) is status 404, code "NotFound".
  S3Head head(const std::string& bucket, const std::string& key);
  std::optional<S3Head> head_if_exists(const std::string& bucket, const std::string& key);

  // Returns the ETag (with quotes). Bodies of multipart_threshold or more go as a multipart upload.
  std::string put(const std::string& bucket, const std::string& key, std::string_view body,
                  const S3PutOptions& options = {});
  // Multipart above multipart_threshold, parts read from the file one at a time as they are sent
  // (never the whole file in memory); a failed multipart upload is aborted. Local file errors
  // throw std::system_error.
  std::string put_file(const std::string& bucket, const std::string& key,
                       const std::filesystem::path& file, const S3PutOptions& options = {});
  // Uploads `size` bytes produced by `read(offset, data, length)`, which must fill data[0, length)
  // with bytes [offset, offset + length) of the object. It is called once per part, possibly from
  // several threads at once, and may throw to abandon the upload (which is then aborted and the
  // exception rethrown).
  using PartReader = std::function<void(std::uint64_t offset, char* data, std::size_t length)>;
  std::string put_parts(const std::string& bucket, const std::string& key, std::uint64_t size,
                        const PartReader& read, const S3PutOptions& options = {});

  // One ListObjectsV2 page. Empty prefix/delimiter/token are left out of the request.
  S3ListPage list_page(const std::string& bucket, const std::string& prefix,
                       const std::string& delimiter, const std::string& continuation_token,
                       int max_keys = 1000);
  // Every object under `prefix`, all pages, in S3's (UTF-8 binary) key order.
  std::vector<S3ObjectInfo> list(const std::string& bucket, const std::string& prefix);

  // Deleting a key that does not exist succeeds (as in S3).
  void remove(const std::string& bucket, const std::string& key);

  // BucketAlreadyOwnedByYou counts as success; outside us-east-1 the region is sent as
  // LocationConstraint.
  void create_bucket(const std::string& bucket);
  // HeadBucket: true on 200, false on 404; anything else (403: someone else's bucket) throws.
  bool bucket_exists(const std::string& bucket);

  // Multipart uploads started and neither completed nor aborted (ListMultipartUploads, first 1000).
  std::vector<S3MultipartUploadInfo> list_multipart_uploads(const std::string& bucket,
                                                            const std::string& prefix = {});
  void abort_multipart_upload(const std::string& bucket, const std::string& key,
                              const std::string& upload_id);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stratus::aws
