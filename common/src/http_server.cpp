#include "stratus/common/http_server.hpp"

#include <limits>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace stratus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class Session;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, HttpHandler& h, HttpServerOptions o)
      : io(io), handler(h), options(std::move(o)), acceptor(io) {}

  asio::io_context& io;
  HttpHandler& handler;
  HttpServerOptions options;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<Session>> sessions;
  bool stopped = false;  // no new connections; responses close their connection
  bool closed = false;   // the handler may be gone: never call it again

  void do_accept();
};

namespace {

HttpRequestHead head_from(const http::request_parser<http::string_body>& parser,
                          const std::string& remote) {
  const auto& msg = parser.get();
  HttpRequestHead head;
  head.method = std::string(msg.method_string());
  head.target = std::string(msg.target());
  for (const auto& field : msg) {
    head.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  if (auto len = parser.content_length()) head.content_length = *len;
  head.remote_address = remote;
  return head;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), server_(std::move(server)) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void start() { do_read_header(); }

  // Closes the connection if it sits between requests, with nothing of the next one read.
  void close_if_idle() {
    if (awaiting_request_ && buffer_.size() == 0) close();
  }

  void close() {
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  void arm_timer(std::chrono::milliseconds timeout) {
    if (timeout.count() > 0) {
      stream_.expires_after(timeout);
    } else {
      stream_.expires_never();
    }
  }

  void do_read_header() {
    parser_.emplace();
    parser_->header_limit(server_->options.header_limit);
    // Beast compares Content-Length with the limit while parsing the head (and Boost 1.74 treats
    // an empty limit as "always exceeded"), so the real limit,
    // which depends on the head, is checked in on_header; nothing of the body is read before.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    arm_timer(server_->options.idle_timeout);
    awaiting_request_ = true;
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              self->awaiting_request_ = false;
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec && ec != http::error::end_of_stream && ec != beast::error::timeout &&
        ec != asio::error::operation_aborted) {
      spdlog::debug("{}: bad request head: {}", remote_, ec.message());
    }
    if (ec || server_->closed) return finish();
    head_ = head_from(*parser_, remote_);
    keep_alive_ = parser_->get().keep_alive();
    std::uint64_t limit = server_->handler.body_limit(head_);
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return reject_oversized();
    }
    parser_->body_limit(limit);
    if (parser_->is_done()) return dispatch();
    if (iequals(head_.headers.get("Expect"), "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      arm_timer(server_->options.body_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
                          if (ec) return self->finish();
                          self->do_read_body();
                        });
      return;
    }
    do_read_body();
  }

  void do_read_body() {
    arm_timer(server_->options.body_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec == http::error::body_limit) return self->reject_oversized();
                       if (ec) {
                         spdlog::debug("{}: request body not read: {}", self->remote_, ec.message());
                         return self->finish();
                       }
                       self->dispatch();
                     });
  }

  void reject_oversized() {
    if (server_->closed) return finish();
    HttpResponse response = server_->handler.reject_oversized(head_);
    response.close_connection = true;
    write(std::move(response));
  }

  void dispatch() {
    if (server_->closed) return finish();
    HttpRequest request;
    static_cast<HttpRequestHead&>(request) = std::move(head_);
    request.body = std::move(parser_->get().body());
    // No timeout while the handler works: a runtime's /next legitimately waits for minutes.
    stream_.expires_never();
    auto answered = std::make_shared<bool>(false);
    server_->handler.handle(std::move(request),
                            [self = shared_from_this(), answered](HttpResponse response) {
                              if (*answered) return;
                              *answered = true;
                              if (self->closed_) return;
                              self->write(std::move(response));
                            });
  }

  void write(HttpResponse response) {
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(response.status));
    msg->set(http::field::server, server_->options.server_name);
    for (const auto& f : response.headers.fields()) msg->insert(f.name, f.value);
    msg->body() = std::move(response.body);
    msg->keep_alive(keep_alive_ && !response.close_connection && !server_->stopped);
    msg->prepare_payload();
    arm_timer(server_->options.body_timeout);
    http::async_write(stream_, *msg, [self = shared_from_this(), msg](beast::error_code ec, std::size_t) {
      if (ec || !msg->keep_alive()) return self->finish();
      self->do_read_header();
    });
  }

  void finish() {
    if (!closed_) close();
    server_->sessions.erase(shared_from_this());
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequestHead head_;
  bool keep_alive_ = true;
  bool closed_ = false;
  bool awaiting_request_ = false;
  std::string remote_;
  std::shared_ptr<HttpServer::Impl> server_;
};

}  // namespace

void HttpServer::Impl::do_accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (self->stopped) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of file descriptors and similar: log and keep accepting rather than die.
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<Session>(std::move(socket), self);
      self->sessions.insert(session);
      session->start();
    }
    self->do_accept();
  });
}

HttpServer::HttpServer(asio::io_context& io, HttpHandler& handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, handler, std::move(options))) {
  auto address = asio::ip::make_address(impl_->options.address);
  tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  impl_->do_accept();
}

HttpServer::~HttpServer() { stop(); }

std::uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::stop_accepting() {
  impl_->stopped = true;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  // Keep-alive connections waiting for a next request would only hold shutdown up.
  auto sessions = impl_->sessions;
  for (const auto& s : sessions) s->close_if_idle();
}

void HttpServer::stop() {
  stop_accepting();
  impl_->closed = true;
  auto sessions = std::move(impl_->sessions);
  impl_->sessions.clear();
  for (const auto& s : sessions) s->close();
}

std::size_t HttpServer::open_connections() const { return impl_->sessions.size(); }

}  // namespace stratus
