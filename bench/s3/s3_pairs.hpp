#pragma once
// Closed-loop small-object S3 load: N keep-alive connections, each looping
//   PUT /<bucket>/<prefix><conn>-<i>   (an object of `object_bytes` bytes)
//   GET /<bucket>/<prefix><conn>-<i>   (status 200 and exactly that body are checked)
// with one request in flight per connection. Requests are path-style and unsigned, which both the
// Stratus emulator (SigV4 checking off) and moto_server accept. Everything runs on one thread.
// Beast stays inside s3_pairs.cpp (the project compiles it once, in stratus_core).

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace stratus::bench {

struct S3PairsOptions {
  std::string host = "127.0.0.1";
  std::string port;
  std::string bucket = "bench";
  std::string key_prefix;  // keys are <key_prefix><connection>-<i>
  // Extra header fields sent with every request, bucket creation included.
  std::vector<std::pair<std::string, std::string>> headers;
  int concurrency = 16;
  std::size_t object_bytes = 4096;
  // Stop starting new pairs after this many pairs in total (0: no count limit) ...
  std::uint64_t pairs = 0;
  // ... or once this much time has passed (0: no time limit). At least one limit must be set.
  std::chrono::milliseconds duration{0};
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  // Hard cap on the whole run, whatever the other limits say.
  std::chrono::milliseconds max_run_time{std::chrono::minutes(10)};
};

struct LatencySummary {
  std::uint32_t p50 = 0, p90 = 0, p99 = 0, max = 0;
  double mean = 0;
  std::uint64_t count = 0;
};

struct S3PairsResult {
  std::uint64_t pairs = 0;             // PUT and GET both answered as expected
  std::uint64_t failed_pairs = 0;      // pairs with any error below
  std::uint64_t errors = 0;            // all errors
  std::uint64_t transport_errors = 0;  // connect/read/write failures and timeouts
  std::uint64_t put_bad_status = 0;    // PUT answered with anything but 200
  std::uint64_t get_bad_status = 0;    // GET answered with anything but 200
  std::uint64_t get_bad_body = 0;      // GET 200 with the wrong length or bytes
  std::string first_error;             // the first error seen, for the report
  bool hit_max_run_time = false;
  double elapsed_s = 0;
  std::vector<std::uint32_t> put_us, get_us, pair_us;  // sorted after the run

  double pairs_per_s() const { return elapsed_s > 0 ? static_cast<double>(pairs) / elapsed_s : 0; }
  static LatencySummary summarize(const std::vector<std::uint32_t>& sorted);
};

// PUT /<bucket> once; true when the bucket exists afterwards (200, or 409 BucketAlreadyOwnedByYou).
// `detail` gets the status line or the error on failure. Blocking, bounded by `timeout`.
bool create_bucket(const S3PairsOptions& options, std::chrono::milliseconds timeout, std::string& detail);

// Runs one load to completion on a private io_context. Throws std::system_error when the host
// does not resolve and std::invalid_argument for options without a limit.
S3PairsResult run_s3_pairs(const S3PairsOptions& options);

}  // namespace stratus::bench
