#pragma once
// An asynchronous HTTP/1.1 client on Boost.Beast, built for one io_context run on one thread that
// fans out hundreds of concurrent requests (the trainer) as well as for simple blocking calls
// (CLIs, tests).
//
// Per endpoint (scheme, host, port) the client keeps a pool of keep-alive connections: idle ones
// are reused most-recently-used first, at most `max_connections_per_host` are open at once and
// calls beyond that wait in FIFO order. Each call has one deadline covering queueing, connecting,
// every attempt and every back-off. Failed attempts are retried with capped exponential back-off
// and full jitter; see RetryPolicy for what is retried.
//
// Threading: every member function and every callback runs on the io_context's one thread.
// Callbacks may call send() again. After the client is destroyed no callback is invoked any more;
// calls still in flight are abandoned and their connections closed.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "stratus/common/http_message.hpp"

namespace stratus {

// Where a request goes. Built from a URL such as "https://lambda.us-east-1.amazonaws.com" or
// "http://127.0.0.1:9001/prefix".
struct Endpoint {
  std::string scheme = "http";  // "http" or "https", lower case
  std::string host;             // name or address; IPv6 without brackets
  std::string port;             // always set; "80"/"443" when the URL names none
  // Path prefix from the URL without a trailing '/' (usually empty). The client does not apply it:
  // whoever builds request targets prepends it (before signing).
  std::string path;

  // Throws std::invalid_argument naming what is wrong. Accepts only http and https URLs without
  // user info, query or fragment.
  static Endpoint parse(std::string_view url);

  bool tls() const { return scheme == "https"; }
  // The Host header value: the port is left out when it is the scheme's default.
  std::string host_header() const;
  // "scheme://host:port" (brackets around IPv6 addresses); also the pool key.
  std::string origin() const;
};

enum class HttpClientErrc {
  timeout = 1,         // the call's deadline passed
  resolve_failed,      // the host name did not resolve
  connect_failed,      // TCP connect refused, unreachable or over connect_timeout
  tls_failed,          // TLS handshake or certificate verification failed
  connection_failed,   // the connection broke while sending or receiving
  response_too_large,  // the response body is over max_response_bytes
  protocol_error,      // the response is not valid HTTP/1.1
  invalid_request,     // the endpoint or request cannot be sent (bad scheme, bad header)
};
const std::error_category& http_client_category();
std::error_code make_error_code(HttpClientErrc e);

struct HttpResult {
  // Empty when an HTTP response arrived, whatever its status.
  std::error_code error;
  // Human-readable detail for `error`, e.g. "connect to 127.0.0.1:9: Connection refused".
  std::string error_message;
  int status = 0;  // 0 when no response
  HttpHeaders headers;
  std::string body;
  // Attempts made: 1 without retries. Transparently re-sending a request once on a fresh connection
  // because a pooled keep-alive connection turned out to be closed by the server is not an attempt.
  int attempts = 0;

  // A 2xx response.
  bool ok() const { return !error && status >= 200 && status < 300; }
  // "HTTP 503" or the error message; for logs.
  std::string describe() const;
};

struct RetryPolicy {
  // Total attempts including the first; 1 disables retries.
  int max_attempts = 4;
  // Back-off before attempt n+1 is uniform in [0, min(max_delay, base_delay * 2^(n-1))] ("full
  // jitter"); a longer Retry-After from the server (seconds or HTTP date) wins. When the wait would
  // end past the deadline, the last result is returned at once instead.
  std::chrono::milliseconds base_delay{50};
  std::chrono::milliseconds max_delay{5000};
  // Responses with these statuses are retried, whatever the method (the server answered that it
  // did not do the work, or asks to come back later).
  bool retry_throttling_and_server_errors = true;  // 429, 500, 502, 503, 504
  // Connection failures are retried when the request was not sent yet (resolve, connect, TLS),
  // and after it was sent only for idempotent requests (see CallOptions::idempotent).
  bool retry_connection_errors = true;
};

struct ClientOptions {
  std::size_t max_connections_per_host = 64;
  // Covers the TCP connect (every resolved address) and the TLS handshake of one new connection;
  // name resolution is bounded by the call's deadline only.
  std::chrono::milliseconds connect_timeout{5000};
  // An idle pooled connection older than this is closed instead of reused (servers commonly drop
  // idle connections after 60 s or more).
  std::chrono::milliseconds idle_timeout{50000};
  std::uint64_t max_response_bytes = 16 * 1024 * 1024;
  std::uint32_t max_response_header_bytes = 64 * 1024;
  RetryPolicy retry;
  // Verify the server certificate chain against the system's CAs and the host name.
  bool verify_tls = true;
  // Extra PEM file of trusted CA certificates (e.g. a local test CA); empty for none.
  std::string ca_file;
  // Sent when the request has no User-Agent.
  std::string user_agent = "stratus/0.1";
};

struct CallOptions {
  std::chrono::milliseconds deadline{30000};
  // Called before every attempt with the request as given to send(): its method, target and
  // headers are restored before each call (with Host and User-Agent filled in), the body is the
  // same string every time and is not copied. Use it to sign (SigV4 then uses a fresh date on
  // retries).
  std::function<void(HttpRequest&)> prepare;
  // Whether a request that may have reached the server can be sent again after a connection
  // failure. Unset: GET, HEAD, OPTIONS, TRACE, PUT and DELETE are, everything else is not.
  // Separately, when a pooled keep-alive connection fails before a single byte of the response
  // arrives (the server closed it while idle; our request raced the close), the request is sent
  // once more on a new connection whatever the method, as AWS SDKs do. Setting `idempotent` to
  // false explicitly forbids even that.
  std::optional<bool> idempotent;
  // Overrides ClientOptions::max_response_bytes for this call.
  std::optional<std::uint64_t> max_response_bytes;
};

using HttpCallback = std::function<void(HttpResult)>;

class HttpClient {
 public:
  HttpClient(boost::asio::io_context& io, ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a call; `done` is invoked exactly once, never from within send() itself.
  void send(const Endpoint& endpoint, HttpRequest request, CallOptions options, HttpCallback done);
  void send(const Endpoint& endpoint, HttpRequest request, std::chrono::milliseconds deadline,
            HttpCallback done);

  // Pooled connections waiting for a request, over all endpoints.
  std::size_t idle_connections() const;
  // Open connections (idle, busy or being established), over all endpoints.
  std::size_t open_connections() const;
  // Calls waiting for a connection because their endpoint is at max_connections_per_host.
  std::size_t queued_calls() const;
  // Closes every idle pooled connection.
  void close_idle();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Sends one request and waits for the result, on a private io_context.
HttpResult http_request_blocking(const Endpoint& endpoint, HttpRequest request,
                                 CallOptions call = {}, ClientOptions options = {});
HttpResult http_request_blocking(const Endpoint& endpoint, HttpRequest request,
                                 std::chrono::milliseconds deadline);

}  // namespace stratus

template <>
struct std::is_error_code_enum<stratus::HttpClientErrc> : std::true_type {};
