#pragma once
// Closed-loop HTTP load: N keep-alive connections, each with exactly one request in flight, each
// sending its next request as soon as the previous response is read. Latency is measured per
// request from the start of the write to the end of the response. Everything runs on the
// io_context it is given (one thread), so a probe can share it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace stratus::bench {

struct HttpTarget {
  std::string host;
  std::string port;
  std::string path;  // path plus query, at least "/"
};

// Accepts http://host[:port][/path]; nullopt for anything else (no TLS: loopback only).
std::optional<HttpTarget> parse_http_url(std::string_view url);

// A JSON document of exactly `bytes` bytes ({"data":"xxx..."}); "{}" when bytes is too small.
std::string json_payload_of_size(std::size_t bytes);

struct LoadOptions {
  HttpTarget target;
  std::string method = "POST";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int concurrency = 1;
  // Stop after this many requests in total (0: no count limit) ...
  std::uint64_t requests = 0;
  // ... or once this much time has passed (0: no time limit). At least one limit must be set.
  std::chrono::milliseconds duration{0};
  // A request that takes longer fails and its connection is reopened.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  // Hard cap on the whole run, whatever the other limits say.
  std::chrono::milliseconds max_run_time{std::chrono::minutes(10)};
  std::uint64_t response_body_limit = 64ull << 20;
};

struct LoadResult {
  std::uint64_t completed = 0;         // responses received (successful or not)
  std::uint64_t errors = 0;            // non-2xx, X-Amz-Function-Error, or transport failures
  std::uint64_t transport_errors = 0;  // connect/read/write failures and timeouts
  std::uint64_t function_errors = 0;   // 2xx with X-Amz-Function-Error
  std::uint64_t non_2xx = 0;
  bool hit_max_run_time = false;
  double elapsed_s = 0;
  std::vector<std::uint32_t> latencies_us;  // one per completed response, sorted after finish
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point first_response;  // epoch when nothing completed

  double throughput() const { return elapsed_s > 0 ? static_cast<double>(completed) / elapsed_s : 0; }
  // Nearest-rank percentile (p in [0, 100]) of the sorted latencies; 0 when there are none.
  std::uint32_t percentile(double p) const;
  double mean_us() const;
};

class LoadGenerator {
 public:
  LoadGenerator(boost::asio::io_context& io, LoadOptions options);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Resolves the target (synchronously) and opens the connections; `done` runs on the io_context
  // once every connection has finished. Throws std::system_error when the host does not resolve.
  void start(std::function<void(LoadResult&)> done);
  // Stops issuing requests and closes every connection now.
  void stop();
  const LoadResult& result() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Runs one load to completion on a private io_context.
LoadResult run_load(const LoadOptions& options);

}  // namespace stratus::bench
