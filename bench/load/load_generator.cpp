#include "load_generator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <system_error>

#include <boost/asio/connect.hpp>
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

std::optional<HttpTarget> parse_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  HttpTarget target;
  target.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (authority.empty()) return std::nullopt;
  if (authority.front() == '[') {  // [::1]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    target.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority.front() != ':') return std::nullopt;
    target.port = authority.empty() ? "80" : std::string(authority.substr(1));
  } else {
    auto colon = authority.rfind(':');
    target.host = std::string(authority.substr(0, colon));
    target.port = colon == std::string_view::npos ? "80" : std::string(authority.substr(colon + 1));
  }
  if (target.host.empty() || target.port.empty()) return std::nullopt;
  return target;
}

std::string json_payload_of_size(std::size_t bytes) {
  constexpr std::string_view kOpen = R"({"data":")";
  constexpr std::string_view kClose = R"("})";
  if (bytes < kOpen.size() + kClose.size()) return "{}";
  std::string out;
  out.reserve(bytes);
  out.append(kOpen);
  out.append(bytes - kOpen.size() - kClose.size(), 'x');
  out.append(kClose);
  return out;
}

std::uint32_t LoadResult::percentile(double p) const {
  if (latencies_us.empty()) return 0;
  auto n = latencies_us.size();
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return latencies_us[rank - 1];
}

double LoadResult::mean_us() const {
  if (latencies_us.empty()) return 0;
  double sum = std::accumulate(latencies_us.begin(), latencies_us.end(), 0.0);
  return sum / static_cast<double>(latencies_us.size());
}

namespace {

class Connection;

}  // namespace

struct LoadGenerator::State : std::enable_shared_from_this<LoadGenerator::State> {
  State(asio::io_context& io, LoadOptions o) : io(io), options(std::move(o)), hard_stop(io) {}

  asio::io_context& io;
  LoadOptions options;
  LoadResult result;
  std::string wire_request;  // serialized once; every connection sends the same bytes
  tcp::resolver::results_type endpoints;
  std::vector<std::shared_ptr<Connection>> connections;
  std::uint64_t issued = 0;
  Clock::time_point deadline = Clock::time_point::max();
  asio::steady_timer hard_stop;
  int active = 0;
  bool stopping = false;
  bool finished = false;
  std::function<void(LoadResult&)> done;

  // Whether another request may be sent; counts it if so.
  bool take_ticket() {
    if (stopping) return false;
    if (options.requests > 0 && issued >= options.requests) return false;
    if (Clock::now() >= deadline) return false;
    ++issued;
    return true;
  }

  void connection_finished() {
    if (--active > 0 || finished) return;
    finished = true;
    hard_stop.cancel();
    result.elapsed_s = std::chrono::duration<double>(Clock::now() - result.started).count();
    std::sort(result.latencies_us.begin(), result.latencies_us.end());
    // Connections hold the state; dropping them here breaks the cycle (the running handler keeps
    // its own connection alive until it returns).
    connections.clear();
    if (done) done(result);
  }

  void stop_all();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<LoadGenerator::State> state)
      : state_(std::move(state)), stream_(state_->io), backoff_(state_->io) {}

  void start() { do_connect(); }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
    backoff_.cancel();
  }

 private:
  void do_connect() {
    if (state_->stopping) return finish();
    stream_.expires_after(state_->options.request_timeout);
    stream_.async_connect(state_->endpoints,
                          [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
                            if (ec) return self->on_transport_error(/*consumed_ticket=*/false);
                            beast::error_code ignored;
                            self->stream_.socket().set_option(tcp::no_delay(true), ignored);
                            self->do_send();
                          });
  }

  void do_send() {
    if (!state_->take_ticket()) return finish();
    parser_.emplace();
    parser_->body_limit(state_->options.response_body_limit);
    sent_at_ = Clock::now();
    stream_.expires_after(state_->options.request_timeout);
    asio::async_write(stream_, asio::buffer(state_->wire_request),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec) return self->on_transport_error(true);
                        self->do_read();
                      });
  }

  void do_read() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_transport_error(true);
      self->on_response();
    });
  }

  void on_response() {
    auto now = Clock::now();
    LoadResult& r = state_->result;
    if (r.completed == 0) r.first_response = now;
    ++r.completed;
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at_).count();
    r.latencies_us.push_back(static_cast<std::uint32_t>(std::min<long long>(us, UINT32_MAX)));
    const auto& msg = parser_->get();
    unsigned status = msg.result_int();
    if (status < 200 || status >= 300) {
      ++r.non_2xx;
      ++r.errors;
    } else if (msg.find("X-Amz-Function-Error") != msg.end()) {
      ++r.function_errors;
      ++r.errors;
    }
    if (!msg.keep_alive()) {
      close();
      buffer_.clear();
      return do_connect();
    }
    do_send();
  }

  void on_transport_error(bool consumed_ticket) {
    if (state_->stopping) return finish();
    close();
    buffer_.clear();
    // A connection that failed before sending anything uses up one request of the budget (and
    // counts as one error), so a dead server cannot make a count-limited run spin forever.
    if (!consumed_ticket && !state_->take_ticket()) return finish();
    LoadResult& r = state_->result;
    ++r.transport_errors;
    ++r.errors;
    // Back off briefly so a refusing server does not turn a timed run into a busy loop.
    backoff_.expires_after(std::chrono::milliseconds(10));
    backoff_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish();
      self->do_connect();
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    close();
    state_->connection_finished();
  }

  std::shared_ptr<LoadGenerator::State> state_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  asio::steady_timer backoff_;
  Clock::time_point sent_at_;
  bool finished_ = false;
};

}  // namespace

void LoadGenerator::State::stop_all() {
  stopping = true;
  for (auto& c : connections) c->close();
}

LoadGenerator::LoadGenerator(asio::io_context& io, LoadOptions options)
    : state_(std::make_shared<State>(io, std::move(options))) {}

LoadGenerator::~LoadGenerator() {
  if (state_) {
    state_->done = nullptr;
    state_->stop_all();
  }
}

void LoadGenerator::start(std::function<void(LoadResult&)> done) {
  State& s = *state_;
  if (s.options.requests == 0 && s.options.duration.count() <= 0) {
    throw std::invalid_argument("a load needs a request count or a duration");
  }
  s.done = std::move(done);
  tcp::resolver resolver(s.io);
  s.endpoints = resolver.resolve(s.options.target.host, s.options.target.port);

  http::request<http::string_body> req{http::string_to_verb(s.options.method), s.options.target.path, 11};
  req.set(http::field::host, s.options.target.host + ":" + s.options.target.port);
  req.set(http::field::user_agent, "stratus-load");
  if (!s.options.body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : s.options.headers) req.set(name, value);
  req.body() = s.options.body;
  req.keep_alive(true);
  req.prepare_payload();
  std::ostringstream wire;
  wire << req;
  s.wire_request = wire.str();

  s.result.latencies_us.reserve(s.options.requests > 0 ? s.options.requests : 1 << 16);
  s.result.started = Clock::now();
  if (s.options.duration.count() > 0) s.deadline = s.result.started + s.options.duration;
  s.hard_stop.expires_after(s.options.max_run_time);
  s.hard_stop.async_wait([weak = std::weak_ptr<State>(state_)](beast::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->result.hit_max_run_time = true;
      self->stop_all();
    }
  });
  int n = std::max(1, s.options.concurrency);
  s.active = n;
  s.connections.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) s.connections.push_back(std::make_shared<Connection>(state_));
  for (auto& c : s.connections) c->start();
}

void LoadGenerator::stop() { state_->stop_all(); }

const LoadResult& LoadGenerator::result() const { return state_->result; }

LoadResult run_load(const LoadOptions& options) {
  asio::io_context io;
  LoadGenerator generator(io, options);
  LoadResult out;
  generator.start([&out](LoadResult& r) { out = std::move(r); });
  io.run();
  return out;
}

}  // namespace stratus::bench
