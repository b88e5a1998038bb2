#pragma once
// A small HTTP/1.1 server on Boost.Beast. One listener accepts; each session owns its socket and
// buffers, reads one request at a time (bounded pipelining of one), enforces header and body limits
// while reading, answers `Expect: 100-continue`, and hands complete requests to an HttpHandler.
// Large bodies can flow through without being held in memory: a handler may ask for a request body
// to be streamed into an HttpBodySink, and a response body may be a range of an open file.
//
// Threading: everything runs on the io_context it is given; the project runs that io_context on one
// thread, so handlers need no locks.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "stratus/common/http_message.hpp"

namespace stratus {

// Sends the response for one request. Call it exactly once, now or later, on the server's
// io_context; calls after the first, or after the connection closed, are ignored.
using HttpResponder = std::function<void(HttpResponse)>;

// What a handler decides from a request's head, before any of the body is read.
struct HttpRequestPlan {
  std::uint64_t body_limit = 0;             // the largest body accepted
  std::shared_ptr<const HttpRoute> route;  // carried to body_sink, reject_oversized and handle
};

// The server asks plan() once per request; the plan it returns is passed to the calls that follow
// (body_sink, reject_oversized) and its route reaches handle() as HttpRequest::route.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual HttpRequestPlan plan(const HttpRequestHead& head) = 0;
  // The answer to a request whose body is over plan.body_limit (the connection is then closed).
  virtual HttpResponse reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) = 0;
  // Returning a sink makes the server stream this request's body into it (within body_limit)
  // rather than buffer it; handle() then gets the request with body_sink set and body empty.
  // Asked only for requests that have a body.
  virtual std::shared_ptr<HttpBodySink> body_sink(const HttpRequestHead& /*head*/, const HttpRequestPlan& /*plan*/) {
    return nullptr;
  }
  virtual void handle(HttpRequest request, HttpResponder respond) = 0;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
  // How long a connection may sit between requests; zero means no limit (runtime API endpoints,
  // whose clients legitimately stay silent for as long as a handler runs).
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(75)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(300)};
  std::uint32_t header_limit = 64 * 1024;
  std::string server_name = "stratus";
};

class HttpServer {
 public:
  // Binds and starts accepting. Throws std::system_error when the address cannot be bound.
  HttpServer(boost::asio::io_context& io, HttpHandler& handler, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;
  // Stops accepting and closes every connection. Pending responders become no-ops.
  void stop();
  // Stops accepting new connections but lets open ones finish what they are doing.
  void stop_accepting();
  std::size_t open_connections() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace stratus
