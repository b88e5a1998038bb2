#include "stratus/common/http_server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/http_response_head.hpp"

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

template <class Parser>
HttpRequestHead head_from(const Parser& parser, const std::string& remote) {
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

// Streamed bodies and file responses move through a buffer of this size: large enough that the
// per-piece overhead (a handler call, a pread, a write) is small next to the copy itself.
constexpr std::size_t kStreamPieceBytes = 1 << 20;
// Every session's read buffer starts this big.
constexpr std::size_t kSessionBufferBytes = 16 * 1024;
// Bodies larger than this get a read buffer sized for them (up to kStreamPieceBytes).
constexpr std::uint64_t kLargeBodyBytes = 16 * 1024;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpServer::Impl> server)
      : stream_(std::move(socket)), watchdog_(stream_.get_executor()), server_(std::move(server)) {
    beast::error_code ec;
    auto ep = stream_.remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
    // Writes try the socket directly first (see send), which must then not block.
    stream_.non_blocking(true, ec);
    // Room for a typical request head and body in one read (Beast reads at most the free capacity).
    buffer_.reserve(kSessionBufferBytes);
  }

  void start() { do_read_header(); }

  using Clock = asio::steady_timer::clock_type;

  // Closes the connection if it sits between requests, with nothing of the next one read.
  void close_if_idle() {
    if (awaiting_request_ && buffer_.size() == 0) close();
  }

  void close() {
    closed_ = true;
    beast::error_code ec;
    stream_.shutdown(tcp::socket::shutdown_both, ec);
    stream_.close(ec);
    watchdog_.cancel();
  }

 private:
  // Sets the deadline for the operations that follow (zero: none). One timer per session
  // watches it, so moving the deadline is an assignment, not a timer operation per read or write
  // (as a beast::tcp_stream would do): the timer only wakes when the earliest deadline it was set
  // for passes, and then closes the connection or waits again for the deadline as it is by then.
  void arm_timer(std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
      deadline_ = Clock::time_point::max();
      return;
    }
    deadline_ = Clock::now() + timeout;
    if (!watchdog_waiting_) return watch();
    // An earlier deadline than the one waited for: wait again (the cancelled wait restarts it).
    if (deadline_ < watchdog_.expiry()) watchdog_.expires_at(deadline_);
  }

  void watch() {
    watchdog_waiting_ = true;
    watchdog_.expires_at(deadline_);
    watchdog_.async_wait([self = shared_from_this()](beast::error_code) { self->on_watchdog(); });
  }

  void on_watchdog() {
    watchdog_waiting_ = false;
    if (closed_ || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() < deadline_) return watch();
    // The pending read or write fails with operation_aborted and finishes the session.
    spdlog::debug("{}: connection timed out", remote_);
    close();
  }

  // The head is read with an empty-body parser; once the handler has seen it, the parser is
  // converted to the body type the request needs (buffered string, or pieces for a sink).
  void do_read_header() {
    header_parser_.emplace();
    header_parser_->header_limit(server_->options.header_limit);
    // Beast compares Content-Length with the limit while parsing the head (and Boost 1.74 treats
    // an empty limit as "always exceeded"), so the real limit,
    // which depends on the head, is checked in on_header; nothing of the body is read before.
    header_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    arm_timer(server_->options.idle_timeout);
    awaiting_request_ = true;
    // Asio's read tries recv at once (Boost 1.74 keeps trying speculatively after every successful
    // read on a stream socket), and right after a response that recv nearly always fails with
    // EAGAIN: 2.2 per warm invoke. It stays: waiting for readability instead would miss a next
    // request that arrived (pipelined) after the last read and whose edge-triggered readiness the
    // reactor already consumed while no operation was waiting, so that connection would hang.
    http::async_read_header(stream_, buffer_, *header_parser_,
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
    head_ = head_from(*header_parser_, remote_);
    keep_alive_ = header_parser_->get().keep_alive();
    plan_ = server_->handler.plan(head_);
    const std::uint64_t limit = plan_.body_limit;
    if (header_parser_->content_length() && *header_parser_->content_length() > limit) {
      return reject_oversized();
    }
    bool has_body = !header_parser_->is_done();
    header_parser_content_length_.reset();
    if (auto length = header_parser_->content_length()) header_parser_content_length_ = *length;
    sink_ = has_body ? server_->handler.body_sink(head_, plan_) : nullptr;
    if (sink_) {
      stream_parser_.emplace(std::move(*header_parser_));
      stream_parser_->body_limit(limit);
    } else {
      parser_.emplace(std::move(*header_parser_));
      parser_->body_limit(limit);
    }
    header_parser_.reset();
    if (!has_body) return dispatch();
    // Beast reads at most the buffer's free capacity (at least 512 bytes, at most 64 KiB per read),
    // and the buffer is only as big as the head needed: without room, a large body arrives in
    // reads of a few hundred bytes, one event-loop turn each.
    std::uint64_t expected = header_parser_content_length_.value_or(kStreamPieceBytes);
    if (expected > kLargeBodyBytes) buffer_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(expected, kStreamPieceBytes)));
    if (const std::string* expect = head_.headers.find("Expect"); expect && iequals(*expect, "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      arm_timer(server_->options.body_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code ec, std::size_t) {
                          if (ec) return self->finish();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() { sink_ ? do_read_body_piece() : do_read_body(); }

  void do_read_body() {
    // A small body usually arrived with the head: parse what is buffered without starting a read
    // operation (which could only complete through the event loop).
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec == http::error::body_limit) return reject_oversized();
      if (ec) {
        spdlog::debug("{}: request body not read: {}", remote_, ec.message());
        return finish();
      }
      if (used == 0) break;
    }
    // Dispatched at once, as a request without a body is. It used to be posted through the event
    // loop, so that completions that became ready with the request (the runtime's stdout pipe above
    // all) ran before it; nothing depends on that any more: Environment::finish_invocation reads
    // the pipe synchronously, and read_output never holds bytes in a completed, undelivered read.
    // Any other event that arrived with the request (a child's exit, a timer) is as valid after it.
    if (parser_->is_done()) return dispatch();
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

  // Reads up to one piece of the body into piece_, hands it to the sink, and repeats.
  void do_read_body_piece() {
    // Not zeroed: the body overwrites it (zeroing a megabyte per connection showed in profiles).
    if (!piece_) piece_ = std::make_unique_for_overwrite<char[]>(kStreamPieceBytes);
    auto& body = stream_parser_->get().body();
    body.data = piece_.get();
    body.size = kStreamPieceBytes;
    body.more = true;
    arm_timer(server_->options.body_timeout);
    http::async_read(stream_, buffer_, *stream_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_body_piece(ec);
                     });
  }

  void on_body_piece(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec == http::error::body_limit) return reject_oversized();
    if (ec) {
      // The client went away or stalled mid-body: dropping the sink discards what it received.
      spdlog::debug("{}: request body not read: {}", remote_, ec.message());
      sink_.reset();
      return finish();
    }
    std::size_t got = kStreamPieceBytes - stream_parser_->get().body().size;
    const bool last = stream_parser_->is_done();
    if (got == 0 && !last) return do_read_body_piece();
    // The sink may keep the piece (and work on it off the io thread); nothing more is read until
    // it says so and hands back a buffer for the next piece.
    sink_->write_async(HttpBodyPiece{std::move(piece_), got, kStreamPieceBytes}, last,
                       [self = shared_from_this(), last](bool go_on, std::unique_ptr<char[]> buffer) {
                         self->piece_ = std::move(buffer);
                         if (self->closed_) return self->finish();
                         if (!go_on) return self->dispatch(/*body_complete=*/false);
                         if (last) return self->dispatch();
                         self->do_read_body_piece();
                       });
  }

  void reject_oversized() {
    sink_.reset();
    if (server_->closed) return finish();
    HttpResponse response = server_->handler.reject_oversized(head_, plan_);
    plan_ = {};
    response.close_connection = true;
    write(std::move(response));
  }

  void dispatch(bool body_complete = true) {
    if (server_->closed) return finish();
    HttpRequest request;
    static_cast<HttpRequestHead&>(request) = std::move(head_);
    request.route = std::move(plan_.route);
    plan_ = {};
    if (sink_) {
      request.body_sink = std::move(sink_);
      request.body_complete = body_complete;
      // The rest of an abandoned body is still on its way: this connection cannot be reused.
      if (!body_complete) keep_alive_ = false;
      stream_parser_.reset();
    } else {
      request.body = std::move(parser_->get().body());
      parser_.reset();
    }
    // An idle keep-alive connection should not keep a megabyte of buffer.
    if (buffer_.capacity() > 64 * 1024 && buffer_.size() < 64 * 1024) {
      buffer_.shrink_to_fit();
      buffer_.reserve(kSessionBufferBytes);
    }
    // No timeout while the handler works: a runtime's /next legitimately waits for minutes.
    arm_timer(std::chrono::milliseconds(0));
    // One allocation for the session and the answered flag, small enough that the responder's
    // std::function holds it without another.
    auto reply = std::make_shared<PendingReply>(PendingReply{shared_from_this(), false});
    server_->handler.handle(std::move(request), [reply](HttpResponse response) {
      if (reply->answered) return;
      reply->answered = true;
      if (reply->session->closed_) return;
      reply->session->write(std::move(response));
    });
  }

  struct PendingReply {
    std::shared_ptr<Session> session;
    bool answered;
  };

  bool keep_alive_after(const HttpResponse& response) const {
    return keep_alive_ && !response.close_connection && !server_->stopped;
  }

  // The head goes into one reused string and leaves with the body (or a file's first piece) in
  // one gather write: one sendmsg per response, and no serializer walking nested buffer views.
  void write(HttpResponse response) {
    const bool keep_alive = keep_alive_after(response);
    if (response.file_body) return write_file(std::move(response), keep_alive);
    out_body_.clear();
    std::uint64_t length = 0;
    if (response.head_content_length) {
      length = *response.head_content_length;  // HEAD: announced, not sent
    } else if (!status_forbids_body(response.status)) {
      out_body_ = std::move(response.body);
      length = out_body_.size();
    }
    format_response_head(out_head_, response.status, response.headers, server_->options.server_name,
                         {keep_alive, length});
    send({asio::buffer(out_head_), asio::buffer(out_body_)},
         [self = shared_from_this(), keep_alive](beast::error_code ec) { self->after_response(ec, keep_alive); });
  }

  // Sends what the socket takes at once (a whole small response, nearly always) with one
  // non-blocking sendmsg, without a composed operation, a timer or a trip through the event loop;
  // only a remainder waits for the peer, under the body timeout. `done` may run before this returns.
  template <class Done>
  void send(std::array<asio::const_buffer, 2> buffers, Done done) {
    beast::error_code ec;
    std::size_t sent = stream_.write_some(buffers, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
    if (ec) return done(ec);
    std::size_t left = 0;
    for (auto& b : buffers) {
      std::size_t n = std::min(sent, b.size());
      b += n;
      sent -= n;
      left += b.size();
    }
    if (left == 0) return done(ec);
    arm_timer(server_->options.body_timeout);
    asio::async_write(stream_, buffers, [done = std::move(done)](beast::error_code ec, std::size_t) mutable { done(ec); });
  }

  void after_response(beast::error_code ec, bool keep_alive) {
    // A response body can be large; the next one should not start with its memory.
    if (out_body_.capacity() > 64 * 1024) std::string().swap(out_body_);
    if (ec || !keep_alive) return finish();
    do_read_header();
  }

  // Sends the head together with the file's first piece, then the rest piece by piece.
  void write_file(HttpResponse response, bool keep_alive) {
    HttpFileBody file = std::move(*response.file_body);
    format_response_head(out_head_, response.status, response.headers, server_->options.server_name,
                         {keep_alive, file.length});
    std::size_t got = 0;
    if (file.length > 0 && !read_file_piece(file, file.offset, got)) return finish();
    send({asio::buffer(out_head_), asio::buffer(piece_.get(), got)},
         [self = shared_from_this(), file, next = file.offset + got, keep_alive](beast::error_code ec) {
           self->after_file_piece(ec, file, next, keep_alive);
         });
  }

  void after_file_piece(beast::error_code ec, const HttpFileBody& file, std::uint64_t next, bool keep_alive) {
    if (!ec && next < file.offset + file.length) return write_file_piece(file, next, keep_alive);
    after_response(ec, keep_alive);
  }

  // Reads the next piece of a file body at `position` into piece_; false when the file cannot
  // deliver the length already announced (or about to be).
  bool read_file_piece(const HttpFileBody& file, std::uint64_t position, std::size_t& got) {
    std::uint64_t end = file.offset + file.length;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kStreamPieceBytes, end - position));
    if (!piece_) piece_.reset(new char[kStreamPieceBytes]);  // not zeroed: pages are touched only when used
    ssize_t n = ::pread(*file.fd, piece_.get(), want, static_cast<off_t>(position));
    if (n <= 0) {
      // The file shrank under us (it never should: objects are replaced by rename, not rewritten).
      // The announced length cannot be met any more, so the only honest signal is to close.
      spdlog::warn("{}: response body file read failed at {}: {}", remote_, position,
                   n < 0 ? std::strerror(errno) : "unexpected end of file");
      return false;
    }
    got = static_cast<std::size_t>(n);
    return true;
  }

  void write_file_piece(HttpFileBody file, std::uint64_t position, bool keep_alive) {
    std::size_t got = 0;
    if (!read_file_piece(file, position, got)) return finish();
    arm_timer(server_->options.body_timeout);
    asio::async_write(stream_, asio::buffer(piece_.get(), got),
                      [self = shared_from_this(), file, next = position + got, keep_alive](beast::error_code ec,
                                                                                            std::size_t) {
                        self->after_file_piece(ec, file, next, keep_alive);
                      });
  }

  void finish() {
    if (!closed_) close();
    sink_.reset();
    server_->sessions.erase(shared_from_this());
  }

  tcp::socket stream_;
  asio::steady_timer watchdog_;  // enforces deadline_ (see arm_timer)
  Clock::time_point deadline_ = Clock::time_point::max();
  bool watchdog_waiting_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> header_parser_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request_parser<http::buffer_body>> stream_parser_;
  std::shared_ptr<HttpBodySink> sink_;
  std::unique_ptr<char[]> piece_;  // streamed body pieces and file response pieces
  std::string out_head_;           // the response head being sent (its capacity is reused)
  std::string out_body_;           // the response body being sent
  std::optional<std::uint64_t> header_parser_content_length_;
  HttpRequestHead head_;
  HttpRequestPlan plan_;  // the handler's decision about head_
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
      // Asio accepts without SOCK_CLOEXEC; a connection must not leak into a spawned process.
      ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
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
  ::fcntl(impl_->acceptor.native_handle(), F_SETFD, FD_CLOEXEC);  // see do_accept
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
