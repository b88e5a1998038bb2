// stratus-cold-start: how fast a daemon with no environments gets N of them ready.
//
// Fires N concurrent invokes (one connection each) at a function that has no environments yet,
// and meanwhile polls GET /stratus/v1/environments every few milliseconds until N environments of
// that function have left the "starting" state (they made their first /next). Reports the time
// from the first request to that moment, the per-environment init_ms the daemon recorded (process
// spawn to first /next), and the invoke latencies the client saw.
//
// With N = 1 and a fast handler this is a single cold start; with N = 200 and a handler that
// sleeps longer than the whole ramp, no environment can be reused, so the daemon must start 200.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "load_generator.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct EnvironmentCounts {
  int starting = 0;
  int ready = 0;  // idle or busy: made its first /next
  std::vector<double> init_ms;  // of the ready ones
};

EnvironmentCounts count_environments(const json& doc, const std::string& function) {
  EnvironmentCounts c;
  for (const auto& env : doc.at("environments")) {
    if (env.value("function", "") != function) continue;
    std::string state = env.value("state", "");
    if (state == "starting") {
      ++c.starting;
    } else if (state == "idle" || state == "busy") {
      ++c.ready;
      c.init_ms.push_back(env.value("init_ms", 0.0));
    }
  }
  return c;
}

// Polls the environments endpoint on one keep-alive connection, on the shared io_context.
class EnvironmentPoller : public std::enable_shared_from_this<EnvironmentPoller> {
 public:
  using Callback = std::function<void(const json&)>;

  EnvironmentPoller(asio::io_context& io, const stratus::bench::HttpTarget& base)
      : io_(io), stream_(io), timer_(io), base_(base) {
    request_ = {http::verb::get, "/stratus/v1/environments", 11};
    request_.set(http::field::host, base.host + ":" + base.port);
    request_.keep_alive(true);
  }

  void connect() {
    tcp::resolver resolver(io_);
    stream_.connect(resolver.resolve(base_.host, base_.port));
    stream_.socket().set_option(tcp::no_delay(true));
  }

  // One blocking request, before the io_context runs.
  json get_now() {
    http::write(stream_, request_);
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return json::parse(response.body());
  }

  // Runs `on_doc` for each answer; it returns false to stop polling.
  void poll_every(std::chrono::milliseconds interval, std::function<bool(const json&)> on_doc) {
    interval_ = interval;
    on_doc_ = std::move(on_doc);
    do_request();
  }

  void stop() {
    stopped_ = true;
    timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  int failures() const { return failures_; }

 private:
  void do_request() {
    if (stopped_) return;
    stream_.expires_after(std::chrono::seconds(10));
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->on_failure();
      self->response_.emplace();
      self->response_->body_limit(64 << 20);
      http::async_read(self->stream_, self->buffer_, *self->response_,
                       [self](beast::error_code ec, std::size_t) {
                         if (ec) return self->on_failure();
                         auto doc = json::parse(self->response_->get().body(), nullptr, false);
                         if (doc.is_discarded() || !doc.contains("environments")) return self->on_failure();
                         if (!self->on_doc_(doc)) return;
                         self->schedule();
                       });
    });
  }

  void schedule() {
    if (stopped_) return;
    timer_.expires_after(interval_);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->do_request();
    });
  }

  void on_failure() {
    if (stopped_) return;
    // The daemon is busy spawning; a failed poll is retried on a fresh connection, a bounded
    // number of times.
    if (++failures_ > 50) {
      std::cerr << "stratus-cold-start: environments endpoint keeps failing; giving up polling\n";
      return;
    }
    beast::error_code ec;
    stream_.socket().close(ec);
    buffer_.clear();
    try {
      connect();
    } catch (const std::exception&) {
    }
    schedule();
  }

  asio::io_context& io_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  stratus::bench::HttpTarget base_;
  http::request<http::empty_body> request_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> response_;
  std::chrono::milliseconds interval_{5};
  std::function<bool(const json&)> on_doc_;
  int failures_ = 0;
  bool stopped_ = false;
};

double quantile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stratus-cold-start: time for a fresh daemon to get N environments of a function ready"};
  std::string url;
  std::string function;
  int environments = 200;
  std::string body = "{}";
  int poll_ms = 5;
  double max_seconds = 60;
  bool json_output = false;
  app.add_option("--url", url, "daemon base URL, e.g. http://127.0.0.1:9001")->required();
  app.add_option("-f,--function", function, "function to invoke (should have no environments yet)")->required();
  app.add_option("-n,--environments", environments, "concurrent invokes = environments wanted")
      ->check(CLI::Range(1, 1000));
  app.add_option("--body", body, "invoke payload, e.g. {\"ms\":1500} for the test bootstrap's sleep");
  app.add_option("--poll-ms", poll_ms, "environments poll interval (the resolution of the result)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-seconds", max_seconds, "give up after this long")->check(CLI::Range(0.1, 600.0));
  app.add_flag("--json", json_output, "print one JSON object");
  CLI11_PARSE(app, argc, argv);

  auto base = stratus::bench::parse_http_url(url);
  if (!base) {
    std::cerr << "stratus-cold-start: not an http:// URL: " << url << "\n";
    return 2;
  }
  try {
    asio::io_context io(1);
    auto poller = std::make_shared<EnvironmentPoller>(io, *base);
    poller->connect();

    stratus::bench::LoadOptions load;
    load.target = *base;
    load.target.path = "/2015-03-31/functions/" + function + "/invocations";
    load.body = body;
    load.concurrency = environments;
    load.requests = static_cast<std::uint64_t>(environments);
    load.request_timeout = std::chrono::milliseconds(static_cast<long long>(max_seconds * 1000));
    load.max_run_time = load.request_timeout;
    stratus::bench::LoadGenerator generator(io, load);

    std::optional<EnvironmentCounts> before;
    std::optional<Clock::time_point> ready_at;
    EnvironmentCounts last;
    int max_starting = 0;
    int polls = 0;
    bool load_done = false;
    Clock::time_point started;

    asio::steady_timer give_up(io);
    auto finish_if_done = [&] {
      if (load_done && ready_at) {
        poller->stop();
        give_up.cancel();
      }
    };

    // The function must start from zero environments; anything already there is reported.
    before = count_environments(poller->get_now(), function);
    started = Clock::now();
    generator.start([&](stratus::bench::LoadResult&) {
      load_done = true;
      finish_if_done();
    });
    poller->poll_every(std::chrono::milliseconds(poll_ms), [&](const json& doc) {
      ++polls;
      last = count_environments(doc, function);
      max_starting = std::max(max_starting, last.starting);
      if (!ready_at && last.ready >= environments + before->ready + before->starting) {
        ready_at = Clock::now();
      }
      if (!ready_at && load_done) {
        // Every invoke is answered but fewer environments exist than were asked for: later
        // requests reused environments that had finished (the handler sleeps too briefly for
        // how slowly the environments came up). This poll already has what there is to report.
        poller->stop();
        give_up.cancel();
        return false;
      }
      finish_if_done();
      return !ready_at;  // the poll that saw them all ready already has every init_ms
    });
    give_up.expires_after(std::chrono::milliseconds(static_cast<long long>(max_seconds * 1000)));
    give_up.async_wait([&](beast::error_code ec) {
      if (ec) return;
      std::cerr << "stratus-cold-start: gave up after " << max_seconds << " s\n";
      poller->stop();
      generator.stop();
    });
    io.run();

    const auto& r = generator.result();
    json out = {
        {"function", function},
        {"environments_requested", environments},
        {"environments_before", before ? before->ready + before->starting : -1},
        {"environments_ready", last.ready},
        {"max_starting_seen", max_starting},
        {"polls", polls},
        {"poll_ms", poll_ms},
        {"ready", ready_at.has_value()},
        {"time_to_ready_ms", ready_at ? ms_between(started, *ready_at) : -1.0},
        {"first_response_ms", r.completed > 0 ? ms_between(started, r.first_response) : -1.0},
        {"load_elapsed_ms", r.elapsed_s * 1000},
        {"invokes", r.completed},
        {"errors", r.errors},
        {"init_ms",
         {{"count", last.init_ms.size()},
          {"min", quantile(last.init_ms, 0)},
          {"p50", quantile(last.init_ms, 50)},
          {"p90", quantile(last.init_ms, 90)},
          {"max", quantile(last.init_ms, 100)}}},
        {"invoke_latency_us", {{"p50", r.percentile(50)}, {"p90", r.percentile(90)}, {"max", r.percentile(100)}}},
    };
    if (json_output) {
      std::cout << out.dump() << "\n";
    } else {
      std::cout << out.dump(2) << "\n";
    }
    return ready_at && r.errors == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "stratus-cold-start: " << e.what() << "\n";
    return 1;
  }
}
