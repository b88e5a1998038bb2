// RuntimeClient: synchronous Beast HTTP/1.1 over one keep-alive TCP connection.
//
// Synchronous I/O is deliberate: a runtime does exactly one thing at a time (wait for an event,
// then report its result), and /next must block with no timeout anyway.

#include "stratus/runtime/runtime_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <cstdint>
#include <cstdlib>

namespace stratus::runtime {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::string_view kApiPrefix = "/2018-06-01/runtime";
constexpr std::string_view kUserAgent = "stratus-runtime/0.1";
constexpr std::string_view kErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";
// Lambda caps synchronous payloads at 6 MB; the margin leaves room for emulator experiments with
// larger limits while still refusing a runaway body.
constexpr std::uint64_t kMaxEventBytes = 64ull * 1024 * 1024;
// Client context (base64 <= 3583 bytes on the Invoke side) and Cognito identity travel as headers,
// which can exceed Beast's 8 KB default.
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;

struct HostAndPort {
  std::string host;
  std::string port;
};

// Accepts "host:port" and "[v6-address]:port".
HostAndPort split_endpoint(const std::string& endpoint) {
  std::string host;
  std::string port;
  if (!endpoint.empty() && endpoint.front() == '[') {
    const auto close_bracket = endpoint.find(']');
    if (close_bracket != std::string::npos && close_bracket + 1 < endpoint.size() &&
        endpoint[close_bracket + 1] == ':') {
      host = endpoint.substr(1, close_bracket - 1);
      port = endpoint.substr(close_bracket + 2);
    }
  } else if (const auto colon = endpoint.rfind(':'); colon != std::string::npos) {
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
  }
  if (host.empty() || port.empty()) {
    throw RuntimeApiError("AWS_LAMBDA_RUNTIME_API must be host:port, got '" + endpoint + "'");
  }
  return {std::move(host), std::move(port)};
}

// Errors that mean the server dropped a connection we were reusing (idle keep-alive close), as
// opposed to a server that is gone: only these are worth one reconnect.
bool is_stale_connection_error(const beast::error_code& error) {
  return error == http::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset || error == asio::error::broken_pipe ||
         error == asio::error::connection_aborted || error == asio::error::not_connected;
}

// Boost 1.74's beast::string_view is boost::string_view, which does not convert from std's.
beast::string_view beast_view(std::string_view view) {
  return {view.data(), view.size()};
}
std::string to_string(beast::string_view view) {
  return std::string(view.data(), view.size());
}

std::chrono::system_clock::time_point parse_deadline(beast::string_view epoch_ms_text) {
  std::int64_t epoch_ms = 0;
  const char* const end = epoch_ms_text.data() + epoch_ms_text.size();
  const auto [parsed_to, error] = std::from_chars(epoch_ms_text.data(), end, epoch_ms);
  if (epoch_ms_text.empty() || error != std::errc() || parsed_to != end) {
    // Lambda always sends a deadline; without one, treat the invocation as unbounded rather than
    // as already expired so handlers that check remaining_time() still do their work.
    return std::chrono::system_clock::time_point::max();
  }
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(epoch_ms));
}

}  // namespace

class RuntimeClient::Connection {
 public:
  Connection(HostAndPort address, std::string host_header)
      : address_(std::move(address)), host_header_(std::move(host_header)) {}

  http::response<http::string_body> exchange(http::request<http::string_body>& request) {
    request.set(http::field::host, host_header_);
    request.set(http::field::user_agent, beast_view(kUserAgent));
    request.keep_alive(true);
    request.prepare_payload();

    const bool reusing_connection = socket_.is_open();
    if (!reusing_connection) connect();
    beast::error_code error;
    auto response = send_and_receive(request, error);
    if (error && reusing_connection && is_stale_connection_error(error)) {
      close();
      connect();
      response = send_and_receive(request, error);
    }
    if (error) {
      close();
      throw RuntimeApiError(std::string(request.method_string()) + " " +
                            std::string(request.target()) + " failed: " + error.message());
    }
    if (!response.keep_alive()) close();
    return response;
  }

 private:
  void connect() {
    beast::error_code error;
    tcp::resolver resolver(io_);
    const auto endpoints = resolver.resolve(address_.host, address_.port, error);
    if (!error) asio::connect(socket_, endpoints, error);
    if (error) {
      close();
      throw RuntimeApiError("cannot connect to the Runtime API at " + host_header_ + ": " +
                            error.message());
    }
    // Requests are small and strictly alternate with responses: Nagle would only add latency.
    socket_.set_option(tcp::no_delay(true), error);
    buffer_.clear();
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    buffer_.clear();
  }

  http::response<http::string_body> send_and_receive(http::request<http::string_body>& request,
                                                     beast::error_code& error) {
    http::write(socket_, request, error);
    if (error) return {};
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxEventBytes);
    parser.header_limit(kMaxHeaderBytes);
    http::read(socket_, buffer_, parser, error);
    if (error) return {};
    return parser.release();
  }

  HostAndPort address_;
  std::string host_header_;
  asio::io_context io_;
  tcp::socket socket_{io_};
  beast::flat_buffer buffer_;
};

RuntimeClient::RuntimeClient(std::string endpoint)
    : endpoint_(std::move(endpoint)),
      connection_(std::make_unique<Connection>(split_endpoint(endpoint_), endpoint_)) {}

RuntimeClient RuntimeClient::from_environment() {
  const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");
  if (endpoint == nullptr || *endpoint == '\0') {
    throw RuntimeApiError(
        "AWS_LAMBDA_RUNTIME_API is not set: this program must be started by "
        "Lambda or a Lambda emulator");
  }
  return RuntimeClient(endpoint);
}

RuntimeClient::RuntimeClient(RuntimeClient&&) noexcept = default;
RuntimeClient& RuntimeClient::operator=(RuntimeClient&&) noexcept = default;
RuntimeClient::~RuntimeClient() = default;

InvocationRequest RuntimeClient::next() {
  http::request<http::string_body> request(http::verb::get,
                                           std::string(kApiPrefix) + "/invocation/next", 11);
  auto response = connection_->exchange(request);
  if (response.result() != http::status::ok) {
    throw RuntimeApiError("GET /runtime/invocation/next answered " +
                          std::to_string(response.result_int()) + ": " + response.body());
  }
  InvocationRequest invocation;
  invocation.request_id = to_string(response["Lambda-Runtime-Aws-Request-Id"]);
  if (invocation.request_id.empty()) {
    throw RuntimeApiError("GET /runtime/invocation/next answered without a request id");
  }
  invocation.function_arn = to_string(response["Lambda-Runtime-Invoked-Function-Arn"]);
  invocation.trace_id = to_string(response["Lambda-Runtime-Trace-Id"]);
  invocation.client_context = to_string(response["Lambda-Runtime-Client-Context"]);
  invocation.cognito_identity = to_string(response["Lambda-Runtime-Cognito-Identity"]);
  invocation.deadline = parse_deadline(response["Lambda-Runtime-Deadline-Ms"]);
  invocation.payload = std::move(response.body());
  return invocation;
}

int RuntimeClient::post(const std::string& target, std::string_view body,
                        std::string_view error_type) {
  http::request<http::string_body> request(http::verb::post, target, 11);
  if (!error_type.empty()) {
    request.set(beast_view(kErrorTypeHeader), beast_view(error_type));
    request.set(http::field::content_type, "application/json");
  }
  request.body().assign(body.data(), body.size());
  return static_cast<int>(connection_->exchange(request).result_int());
}

int RuntimeClient::post_response(std::string_view request_id, std::string_view body) {
  return post(std::string(kApiPrefix) + "/invocation/" + std::string(request_id) + "/response",
              body, {});
}

int RuntimeClient::post_error(std::string_view request_id, std::string_view error_type,
                              std::string_view error_message) {
  return post(std::string(kApiPrefix) + "/invocation/" + std::string(request_id) + "/error",
              error_document(error_type, error_message), error_type);
}

int RuntimeClient::post_init_error(std::string_view error_type, std::string_view error_message) {
  return post(std::string(kApiPrefix) + "/init/error", error_document(error_type, error_message),
              error_type);
}

int RuntimeClient::post_invocation_result(std::string_view request_id,
                                          const InvocationResponse& response) {
  if (!response.is_error) return post_response(request_id, response.payload);
  return post(std::string(kApiPrefix) + "/invocation/" + std::string(request_id) + "/error",
              response.payload, response.error_type);
}

}  // namespace stratus::runtime
