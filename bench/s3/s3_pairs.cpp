#include "s3_pairs.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace stratus::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Bytes every object is made of; the GET must return exactly these.
std::string make_payload(std::size_t bytes) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";
  std::string out(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) out[i] = kAlphabet[(i * 7 + i / 64) % kAlphabet.size()];
  return out;
}

std::uint32_t micros_since(Clock::time_point start, Clock::time_point now) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(us, 0, UINT32_MAX));
}

// Bodies of answers we did not expect (S3 error documents) are read, but not without bound.
constexpr std::uint64_t kErrorBodySlack = 1 << 20;

struct RunState;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<RunState> state, int index);

  void start() { do_connect(); }
  void close();

 private:
  void do_connect();
  void start_pair();
  void send_put();
  void on_put_response();
  void send_get();
  void on_get_response();
  void read_response(void (Connection::*next)());
  void pair_failed(const std::string& what);
  void on_transport_error(const std::string& what, beast::error_code ec, bool consumed_ticket = true);
  void after_response(bool keep_alive);
  void finish();

  std::shared_ptr<RunState> state_;
  int index_;
  std::uint64_t next_key_ = 0;
  std::string target_;  // /bucket/key of the current pair
  std::string head_;    // the request head being sent
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  asio::steady_timer backoff_;
  Clock::time_point pair_started_, sent_at_;
  bool reconnect_ = false;  // the server closes after this response
  bool finished_ = false;
};

struct RunState : std::enable_shared_from_this<RunState> {
  RunState(asio::io_context& io, S3PairsOptions o) : io(io), options(std::move(o)), hard_stop(io) {}

  asio::io_context& io;
  S3PairsOptions options;
  S3PairsResult result;
  std::string payload;
  std::string host_header;
  std::string extra_headers;  // "Name: value\r\n" for each of options.headers
  tcp::resolver::results_type endpoints;
  std::vector<std::shared_ptr<Connection>> connections;
  std::uint64_t issued = 0;
  Clock::time_point started;
  Clock::time_point deadline = Clock::time_point::max();
  asio::steady_timer hard_stop;
  int active = 0;
  bool stopping = false;
  bool finished = false;

  // Whether another pair may start; counts it if so.
  bool take_ticket() {
    if (stopping) return false;
    if (options.pairs > 0 && issued >= options.pairs) return false;
    if (Clock::now() >= deadline) return false;
    ++issued;
    return true;
  }

  void error(std::uint64_t S3PairsResult::*counter, const std::string& what) {
    ++(result.*counter);
    ++result.errors;
    if (result.first_error.empty()) result.first_error = what;
  }

  void connection_finished() {
    if (--active > 0 || finished) return;
    finished = true;
    hard_stop.cancel();
    result.elapsed_s = std::chrono::duration<double>(Clock::now() - started).count();
    for (auto* v : {&result.put_us, &result.get_us, &result.pair_us}) std::sort(v->begin(), v->end());
    connections.clear();  // breaks the state <-> connection cycle
  }

  void stop_all() {
    stopping = true;
    for (auto& c : connections) c->close();
  }
};

Connection::Connection(std::shared_ptr<RunState> state, int index)
    : state_(std::move(state)), index_(index), stream_(state_->io), backoff_(state_->io) {}

void Connection::close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  backoff_.cancel();
}

void Connection::do_connect() {
  if (state_->stopping) return finish();
  buffer_.clear();
  reconnect_ = false;
  stream_.expires_after(state_->options.request_timeout);
  stream_.async_connect(state_->endpoints, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
    if (ec) return self->on_transport_error("connect", ec, /*consumed_ticket=*/false);
    beast::error_code ignored;
    self->stream_.socket().set_option(tcp::no_delay(true), ignored);
    self->start_pair();
  });
}

void Connection::start_pair() {
  if (!state_->take_ticket()) return finish();
  target_ = "/" + state_->options.bucket + "/" + state_->options.key_prefix + std::to_string(index_) + "-" +
            std::to_string(next_key_++);
  pair_started_ = Clock::now();
  send_put();
}

void Connection::send_put() {
  head_ = "PUT " + target_ + " HTTP/1.1\r\nHost: " + state_->host_header +
          "\r\nUser-Agent: stratus-s3-bench\r\nContent-Type: application/octet-stream\r\n" + state_->extra_headers +
          "Content-Length: " + std::to_string(state_->payload.size()) + "\r\n\r\n";
  sent_at_ = Clock::now();
  stream_.expires_after(state_->options.request_timeout);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(state_->payload)};
  asio::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_transport_error("PUT write", ec);
    self->read_response(&Connection::on_put_response);
  });
}

void Connection::send_get() {
  head_ = "GET " + target_ + " HTTP/1.1\r\nHost: " + state_->host_header +
          "\r\nUser-Agent: stratus-s3-bench\r\n" + state_->extra_headers + "\r\n";
  sent_at_ = Clock::now();
  stream_.expires_after(state_->options.request_timeout);
  asio::async_write(stream_, asio::buffer(head_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->on_transport_error("GET write", ec);
    self->read_response(&Connection::on_get_response);
  });
}

void Connection::read_response(void (Connection::*next)()) {
  parser_.emplace();
  parser_->body_limit(state_->payload.size() + kErrorBodySlack);
  http::async_read(stream_, buffer_, *parser_, [self = shared_from_this(), next](beast::error_code ec, std::size_t) {
    if (ec) return self->on_transport_error("read", ec);
    ((*self).*next)();
  });
}

void Connection::on_put_response() {
  auto now = Clock::now();
  const auto& msg = parser_->get();
  reconnect_ = !msg.keep_alive();
  if (msg.result_int() != 200) {
    state_->error(&S3PairsResult::put_bad_status,
                  "PUT " + target_ + ": HTTP " + std::to_string(msg.result_int()) + " " + msg.body().substr(0, 300));
    return pair_failed("PUT");
  }
  state_->result.put_us.push_back(micros_since(sent_at_, now));
  if (reconnect_) {
    // A server that closes after every response (HTTP/1.0 style): the GET needs a new connection.
    close();
    buffer_.clear();
    stream_.expires_after(state_->options.request_timeout);
    stream_.async_connect(state_->endpoints, [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
      if (ec) return self->on_transport_error("connect", ec);
      beast::error_code ignored;
      self->stream_.socket().set_option(tcp::no_delay(true), ignored);
      self->reconnect_ = false;
      self->send_get();
    });
    return;
  }
  send_get();
}

void Connection::on_get_response() {
  auto now = Clock::now();
  const auto& msg = parser_->get();
  reconnect_ = !msg.keep_alive();
  if (msg.result_int() != 200) {
    state_->error(&S3PairsResult::get_bad_status,
                  "GET " + target_ + ": HTTP " + std::to_string(msg.result_int()) + " " + msg.body().substr(0, 300));
    return pair_failed("GET");
  }
  if (msg.body() != state_->payload) {
    state_->error(&S3PairsResult::get_bad_body, "GET " + target_ + ": body of " + std::to_string(msg.body().size()) +
                                                    " bytes differs from the " +
                                                    std::to_string(state_->payload.size()) + " bytes stored");
    return pair_failed("GET");
  }
  S3PairsResult& r = state_->result;
  r.get_us.push_back(micros_since(sent_at_, now));
  r.pair_us.push_back(micros_since(pair_started_, now));
  ++r.pairs;
  after_response(!reconnect_);
}

void Connection::pair_failed(const std::string&) {
  ++state_->result.failed_pairs;
  after_response(!reconnect_);
}

void Connection::after_response(bool keep_alive) {
  if (keep_alive) return start_pair();
  close();
  do_connect();
}

void Connection::on_transport_error(const std::string& what, beast::error_code ec, bool consumed_ticket) {
  if (state_->stopping) return finish();
  state_->error(&S3PairsResult::transport_errors, what + ": " + ec.message());
  ++state_->result.failed_pairs;
  close();
  // A connection that failed before its pair began uses up a pair all the same, so a dead server
  // cannot make a count-limited run spin forever.
  if (!consumed_ticket && !state_->take_ticket()) return finish();
  // Back off briefly so a refusing server does not turn a timed run into a busy loop.
  backoff_.expires_after(std::chrono::milliseconds(10));
  backoff_.async_wait([self = shared_from_this()](beast::error_code e) {
    if (e) return self->finish();
    self->do_connect();
  });
}

void Connection::finish() {
  if (finished_) return;
  finished_ = true;
  close();
  state_->connection_finished();
}

}  // namespace

LatencySummary S3PairsResult::summarize(const std::vector<std::uint32_t>& sorted) {
  LatencySummary s;
  s.count = sorted.size();
  if (sorted.empty()) return s;
  auto rank = [&](double p) {
    auto r = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(r, 1, sorted.size()) - 1];
  };
  s.p50 = rank(50);
  s.p90 = rank(90);
  s.p99 = rank(99);
  s.max = sorted.back();
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
  return s;
}

bool create_bucket(const S3PairsOptions& options, std::chrono::milliseconds timeout, std::string& detail) {
  asio::io_context io;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(options.host, options.port);
  beast::tcp_stream stream(io);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::request<http::empty_body> request{http::verb::put, "/" + options.bucket, 11};
  request.set(http::field::host, options.host + ":" + options.port);
  request.set(http::field::user_agent, "stratus-s3-bench");
  for (const auto& [name, value] : options.headers) request.set(name, value);
  request.content_length(0);
  bool done = false;
  beast::error_code failure;
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) {
      failure = ec;
      return;
    }
    http::async_write(stream, request, [&](beast::error_code ec2, std::size_t) {
      if (ec2) {
        failure = ec2;
        return;
      }
      http::async_read(stream, buffer, response, [&](beast::error_code ec3, std::size_t) {
        failure = ec3;
        done = !ec3;
      });
    });
  });
  io.run_for(timeout + std::chrono::seconds(1));
  if (!done) {
    detail = failure ? failure.message() : "no answer in time";
    return false;
  }
  unsigned status = response.result_int();
  detail = "HTTP " + std::to_string(status);
  if (status == 200) return true;
  if (status == 409 && response.body().find("BucketAlreadyOwnedByYou") != std::string::npos) return true;
  detail += " " + response.body().substr(0, 500);
  return false;
}

S3PairsResult run_s3_pairs(const S3PairsOptions& options) {
  if (options.pairs == 0 && options.duration.count() <= 0) {
    throw std::invalid_argument("a run needs a pair count or a duration");
  }
  asio::io_context io;
  auto state = std::make_shared<RunState>(io, options);
  RunState& s = *state;
  tcp::resolver resolver(io);
  s.endpoints = resolver.resolve(options.host, options.port);
  s.payload = make_payload(options.object_bytes);
  s.host_header = options.host + ":" + options.port;
  for (const auto& [name, value] : options.headers) s.extra_headers += name + ": " + value + "\r\n";
  std::size_t expect = options.pairs > 0 ? options.pairs : 1 << 16;
  for (auto* v : {&s.result.put_us, &s.result.get_us, &s.result.pair_us}) v->reserve(expect);

  s.started = Clock::now();
  if (options.duration.count() > 0) s.deadline = s.started + options.duration;
  s.hard_stop.expires_after(options.max_run_time);
  s.hard_stop.async_wait([weak = std::weak_ptr<RunState>(state)](beast::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->result.hit_max_run_time = true;
      self->stop_all();
    }
  });
  int n = std::max(1, options.concurrency);
  s.active = n;
  for (int i = 0; i < n; ++i) s.connections.push_back(std::make_shared<Connection>(state, i));
  for (auto& c : std::vector<std::shared_ptr<Connection>>(s.connections)) c->start();
  io.run();
  return std::move(s.result);
}

}  // namespace stratus::bench
