// HttpClient against a real stratus::HttpServer on 127.0.0.1, both on the test's io_context.

#include "stratus/common/http_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "stratus/common/http_server.hpp"

namespace stratus {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Answers 200 "ok" unless the test installs its own behaviour; remembers each request's peer
// address, so the number of distinct peers is the number of connections.
class TestHandler : public HttpHandler {
 public:
  std::function<void(HttpRequest&, HttpResponder&)> on_request;
  std::set<std::string> peers;
  std::vector<HttpRequest> requests;
  std::vector<Clock::time_point> arrivals;

  HttpRequestPlan plan(const HttpRequestHead&) override { return {1 << 20, nullptr}; }
  HttpResponse reject_oversized(const HttpRequestHead&, const HttpRequestPlan&) override { return {413, {}, "", true}; }
  void handle(HttpRequest request, HttpResponder respond) override {
    peers.insert(request.remote_address);
    arrivals.push_back(Clock::now());
    requests.push_back(request);
    if (on_request) return on_request(requests.back(), respond);
    respond({200, {}, "ok", false});
  }
};

class HttpClientTest : public testing::Test {
 protected:
  void start_server(HttpServerOptions options = {}) {
    options.address = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<HttpServer>(io, handler, options);
    endpoint = Endpoint::parse("http://127.0.0.1:" + std::to_string(server->port()));
  }

  void SetUp() override { start_server(); }
  void TearDown() override {
    client.reset();
    if (server) server->stop();
    io.poll();
  }

  HttpClient& make_client(ClientOptions options = fast_retries()) {
    client = std::make_unique<HttpClient>(io, options);
    return *client;
  }

  static ClientOptions fast_retries() {
    ClientOptions options;
    options.retry.base_delay = 1ms;
    options.retry.max_delay = 5ms;
    return options;
  }

  // Runs the io_context until `done` holds or `limit` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) io.run_one_for(5ms);
    return done();
  }

  void run_for(std::chrono::milliseconds d) {
    auto end = Clock::now() + d;
    while (Clock::now() < end) io.run_one_for(5ms);
  }

  HttpResult call(HttpRequest request, CallOptions options = {}) {
    std::optional<HttpResult> result;
    client->send(endpoint, std::move(request), std::move(options),
                 [&](HttpResult r) { result = std::move(r); });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 6s));
    return result.value_or(HttpResult{});
  }

  static HttpRequest get(std::string target = "/") {
    HttpRequest r;
    r.method = "GET";
    r.target = std::move(target);
    return r;
  }

  static HttpRequest post(std::string body) {
    HttpRequest r;
    r.method = "POST";
    r.target = "/invoke";
    r.body = std::move(body);
    return r;
  }

  asio::io_context io;
  TestHandler handler;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<HttpClient> client;
  Endpoint endpoint;
};

TEST_F(HttpClientTest, KeepAliveReusesOneConnection) {
  make_client();
  for (int i = 0; i < 100; ++i) {
    HttpResult r = call(post("payload " + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "ok");
    EXPECT_EQ(r.attempts, 1);
  }
  EXPECT_EQ(handler.requests.size(), 100u);
  EXPECT_EQ(handler.peers.size(), 1u);
  EXPECT_EQ(client->idle_connections(), 1u);
  EXPECT_EQ(client->open_connections(), 1u);
  EXPECT_EQ(handler.requests[7].body, "payload 7");
  EXPECT_EQ(handler.requests[7].headers.get("Host"), endpoint.host_header());
  EXPECT_EQ(handler.requests[7].headers.get("User-Agent"), "stratus/0.1");
}

TEST_F(HttpClientTest, CapsConnectionsPerHostAndQueuesTheRest) {
  ClientOptions options = fast_retries();
  options.max_connections_per_host = 3;
  make_client(options);
  std::vector<HttpResponder> held;
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) { held.push_back(respond); };
  int done = 0;
  for (int i = 0; i < 10; ++i) {
    // Built by append: GCC 12 reports a false -Wrestrict on `"/" + std::to_string(i)` here.
    std::string path = "/";
    path += std::to_string(i);
    client->send(endpoint, get(path), 3s, [&](HttpResult r) {
      EXPECT_TRUE(r.ok()) << r.describe();
      ++done;
    });
  }
  ASSERT_TRUE(run_until([&] { return held.size() == 3; }));
  run_for(50ms);  // nothing more may arrive while all three connections are busy
  EXPECT_EQ(held.size(), 3u);
  EXPECT_EQ(client->open_connections(), 3u);
  EXPECT_EQ(client->queued_calls(), 7u);
  EXPECT_EQ(server->open_connections(), 3u);

  // Answer everything as it comes; the queued calls go out on the same three connections, in order.
  std::size_t answered = 0;
  ASSERT_TRUE(run_until([&] {
    while (answered < held.size()) held[answered++]({200, {}, "ok", false});
    return done == 10;
  }));
  EXPECT_EQ(handler.peers.size(), 3u);
  EXPECT_EQ(client->queued_calls(), 0u);
  EXPECT_EQ(client->idle_connections(), 3u);
  EXPECT_EQ(handler.requests[3].target, "/3");
  EXPECT_EQ(handler.requests[9].target, "/9");
}

TEST_F(HttpClientTest, FansOutHundredsOfCallsFromOneThread) {
  make_client();  // 64 connections per host
  std::vector<HttpResponder> held;
  handler.on_request = [&](HttpRequest& request, HttpResponder& respond) {
    // Answer every other request later, so calls overlap and connections are really shared.
    if (handler.requests.size() % 2) return held.push_back(respond);
    respond({200, {}, request.body, false});
  };
  int ok = 0;
  for (int i = 0; i < 400; ++i) {
    std::string body = std::to_string(i);
    client->send(endpoint, post(body), 5s, [&ok, body](HttpResult r) {
      if (r.ok() && r.body == body) ++ok;
      if (!r.ok() && r.status != 200) ADD_FAILURE() << r.describe();
    });
  }
  EXPECT_LE(client->open_connections(), 64u);
  std::size_t answered = 0;
  ASSERT_TRUE(run_until([&] {
    for (; answered < held.size(); ++answered) {
      held[answered]({200, {}, handler.requests[2 * answered].body, false});
    }
    return ok == 400;
  }));
  EXPECT_LE(handler.peers.size(), 64u);
  EXPECT_EQ(handler.requests.size(), 400u);
}

TEST_F(HttpClientTest, HonoursRetryAfterThenSucceeds) {
  make_client();
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    if (handler.requests.size() == 1) {
      HttpResponse throttled{429, {}, R"({"message":"Rate exceeded"})", false};
      throttled.headers.set("Retry-After", "1");
      return respond(std::move(throttled));
    }
    respond({200, {}, "ok", false});
  };
  CallOptions options;
  options.deadline = 4s;
  HttpResult r = call(post("x"), options);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.attempts, 2);
  ASSERT_EQ(handler.arrivals.size(), 2u);
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(handler.arrivals[1] -
                                                                   handler.arrivals[0]);
  EXPECT_GE(gap.count(), 990);
  // Not the 2 s of a second Retry-After; the rest is margin for a loaded machine's scheduling.
  EXPECT_LT(gap.count(), 1900);
}

TEST_F(HttpClientTest, RetryAfterBeyondDeadlineReturnsTheThrottleAtOnce) {
  make_client();
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    HttpResponse throttled{429, {}, "slow down", false};
    throttled.headers.set("Retry-After", "30");
    respond(std::move(throttled));
  };
  CallOptions options;
  options.deadline = 5s;
  auto start = Clock::now();
  HttpResult r = call(get(), options);
  // At once, not at the 5 s deadline (the margin is for a loaded machine's scheduling).
  EXPECT_LT(ms_since(start), 2500);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "slow down");
  EXPECT_EQ(r.attempts, 1);
}

TEST_F(HttpClientTest, GivesUpAfterMaxAttemptsWithTheLastStatus) {
  ClientOptions options = fast_retries();
  options.retry.max_attempts = 3;
  make_client(options);
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    respond({503, {}, "unavailable " + std::to_string(handler.requests.size()), false});
  };
  HttpResult r = call(post("x"));
  EXPECT_FALSE(r.error) << r.describe();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "unavailable 3");
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(handler.requests.size(), 3u);
  EXPECT_EQ(handler.peers.size(), 1u);  // error statuses keep the connection
}

TEST_F(HttpClientTest, ClientErrorsAreNotRetried) {
  make_client();
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    respond({404, {}, "no", false});
  };
  HttpResult r = call(get());
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_FALSE(r.ok());
}

TEST_F(HttpClientTest, DeadlineExpiresWhileTheServerNeverAnswers) {
  make_client();
  std::vector<HttpResponder> held;
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) { held.push_back(respond); };
  CallOptions options;
  options.deadline = 200ms;
  auto start = Clock::now();
  HttpResult r = call(get(), options);
  auto elapsed = ms_since(start);
  EXPECT_EQ(r.error, HttpClientErrc::timeout) << r.describe();
  EXPECT_NE(r.error_message.find("waiting for the response"), std::string::npos) << r.error_message;
  EXPECT_GE(elapsed, 195);
  // The 200 ms deadline ended it, long before call()'s own 6 s limit; the margin is for a loaded
  // machine, where this thread may wait to be scheduled after the timer expires.
  EXPECT_LT(elapsed, 2000);
  EXPECT_EQ(held.size(), 1u);
  // The connection with the unanswered request is closed, not pooled.
  ASSERT_TRUE(run_until([&] { return client->open_connections() == 0; }));
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, DeadlineCoversCallsWaitingForAConnection) {
  ClientOptions options = fast_retries();
  options.max_connections_per_host = 1;
  make_client(options);
  std::vector<HttpResponder> held;
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) { held.push_back(respond); };
  std::optional<HttpResult> first;
  client->send(endpoint, get("/first"), 2s, [&](HttpResult r) { first = std::move(r); });
  ASSERT_TRUE(run_until([&] { return held.size() == 1; }));
  CallOptions quick;
  quick.deadline = 100ms;
  auto start = Clock::now();
  HttpResult second = call(get("/second"), quick);
  EXPECT_EQ(second.error, HttpClientErrc::timeout);
  EXPECT_NE(second.error_message.find("waiting for a free connection"), std::string::npos);
  // Its 100 ms, not a wait for the held connection (freed by the first call's 2 s deadline).
  EXPECT_LT(ms_since(start), 1000);
  EXPECT_EQ(client->queued_calls(), 0u);
  held[0]({200, {}, "first", false});
  ASSERT_TRUE(run_until([&] { return first.has_value(); }));
  EXPECT_EQ(first->body, "first");
  EXPECT_EQ(handler.requests.size(), 1u);  // the timed-out call never went out
}

TEST_F(HttpClientTest, ResponseOverTheLimitIsAnError) {
  ClientOptions options = fast_retries();
  options.max_response_bytes = 1000;
  make_client(options);
  handler.on_request = [&](HttpRequest& request, HttpResponder& respond) {
    respond({200, {}, std::string(request.target == "/small" ? 1000 : 1001, 'x'), false});
  };
  HttpResult big = call(get("/big"));
  EXPECT_EQ(big.error, HttpClientErrc::response_too_large) << big.describe();
  EXPECT_EQ(big.attempts, 1);
  HttpResult small = call(get("/small"));
  EXPECT_TRUE(small.ok()) << small.describe();
  EXPECT_EQ(small.body.size(), 1000u);
  CallOptions per_call;
  per_call.max_response_bytes = 10;
  EXPECT_EQ(call(get("/small"), per_call).error, HttpClientErrc::response_too_large);
}

TEST_F(HttpClientTest, ServerClosingAnIdleConnectionIsTransparent) {
  server->stop();
  HttpServerOptions options;
  options.idle_timeout = 100ms;
  start_server(options);
  make_client();
  ASSERT_TRUE(call(get()).ok());
  EXPECT_EQ(client->idle_connections(), 1u);
  run_for(250ms);  // the server drops the idle connection meanwhile
  HttpResult r = call(post("again"));
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(handler.peers.size(), 2u);
  EXPECT_EQ(client->open_connections(), 1u);
}

TEST_F(HttpClientTest, ConnectionCloseFromTheServerIsHonoured) {
  make_client();
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    respond({200, {}, "bye", true});
  };
  for (int i = 0; i < 3; ++i) {
    HttpResult r = call(get());
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_EQ(r.body, "bye");
    EXPECT_EQ(r.attempts, 1);
  }
  EXPECT_EQ(handler.peers.size(), 3u);
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, ConnectionCloseFromTheRequestIsHonoured) {
  make_client();
  HttpRequest request = get();
  request.headers.set("Connection", "close");
  EXPECT_TRUE(call(request).ok());
  EXPECT_TRUE(call(request).ok());
  EXPECT_EQ(handler.peers.size(), 2u);
  EXPECT_EQ(client->idle_connections(), 0u);
}

TEST_F(HttpClientTest, PrepareRunsBeforeEachAttemptOnTheOriginalHead) {
  ClientOptions options = fast_retries();
  options.retry.max_attempts = 4;
  make_client(options);
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    respond({handler.requests.size() < 3 ? 503 : 200, {}, "", false});
  };
  int prepared = 0;
  CallOptions call_options;
  call_options.prepare = [&](HttpRequest& request) {
    ++prepared;
    EXPECT_EQ(request.headers.find("X-Attempt"), nullptr);  // restored every time
    EXPECT_EQ(request.headers.get("Host"), endpoint.host_header());
    EXPECT_EQ(request.body, "signed body");
    request.headers.add("X-Attempt", std::to_string(prepared));
  };
  HttpResult r = call(post("signed body"), call_options);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(prepared, 3);
  ASSERT_EQ(handler.requests.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(handler.requests[i].headers.get("X-Attempt"), std::to_string(i + 1));
    EXPECT_EQ(handler.requests[i].body, "signed body");
  }
}

TEST_F(HttpClientTest, ConnectionRefusedIsRetriedThenReported) {
  // A port that was free a moment ago: nothing listens there.
  std::uint16_t port;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  make_client();
  endpoint = Endpoint::parse("http://127.0.0.1:" + std::to_string(port));
  int prepared = 0;
  CallOptions options;
  options.prepare = [&](HttpRequest&) { ++prepared; };
  HttpResult r = call(post("never sent"), options);  // not idempotent, but never sent either
  EXPECT_EQ(r.error, HttpClientErrc::connect_failed) << r.describe();
  EXPECT_EQ(r.attempts, 4);
  EXPECT_EQ(prepared, 4);
  EXPECT_EQ(client->open_connections(), 0u);
}

TEST_F(HttpClientTest, InvalidRequestsFailWithoutSending) {
  make_client();
  HttpRequest bad = get();
  bad.headers.set("X-Injected", "a\r\nEvil: 1");
  HttpResult r = call(bad);
  EXPECT_EQ(r.error, HttpClientErrc::invalid_request);
  Endpoint wrong = endpoint;
  wrong.scheme = "gopher";
  std::optional<HttpResult> result;
  client->send(wrong, get(), 1s, [&](HttpResult res) { result = std::move(res); });
  EXPECT_FALSE(result.has_value());  // never called back from within send()
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(result->error, HttpClientErrc::invalid_request);
  EXPECT_TRUE(handler.requests.empty());
}

TEST_F(HttpClientTest, HeadResponsesHaveNoBody) {
  make_client();
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) {
    HttpResponse response{200, {}, "", false};
    response.headers.set("Content-Length", "1234");
    respond(std::move(response));
  };
  HttpRequest head = get();
  head.method = "HEAD";
  HttpResult r = call(head);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(call(head).ok());  // and the connection is still in sync
  EXPECT_EQ(handler.peers.size(), 1u);
}

TEST_F(HttpClientTest, DestroyingTheClientAbandonsCallsWithoutCallingBack) {
  make_client();
  std::vector<HttpResponder> held;
  handler.on_request = [&](HttpRequest&, HttpResponder& respond) { held.push_back(respond); };
  bool called = false;
  client->send(endpoint, get(), 2s, [&](HttpResult) { called = true; });
  ASSERT_TRUE(run_until([&] { return held.size() == 1; }));
  client.reset();
  run_for(30ms);
  EXPECT_FALSE(called);
  // The server only notices the closed connection when it next uses it.
  held[0]({200, {}, "too late", false});
  EXPECT_TRUE(run_until([&] { return server->open_connections() == 0; }));
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, BlockingRequestAgainstAServerOnAnotherThread) {
  server->stop();
  server.reset();
  asio::io_context server_io;
  TestHandler server_handler;
  server_handler.on_request = [](HttpRequest& request, HttpResponder& respond) {
    respond({201, {}, "echo:" + request.body, false});
  };
  HttpServer threaded(server_io, server_handler, HttpServerOptions{});
  Endpoint ep = Endpoint::parse("http://127.0.0.1:" + std::to_string(threaded.port()));
  std::thread runner([&] { server_io.run(); });
  HttpResult r = http_request_blocking(ep, post("hi"), 2s);
  asio::post(server_io, [&] { threaded.stop(); });
  runner.join();
  EXPECT_EQ(r.status, 201) << r.describe();
  EXPECT_EQ(r.body, "echo:hi");
}

// A server that answers the first request on a connection, reads the second one and closes without
// answering: the race where a pooled connection dies just as a request goes out. With
// `second_connection` it then answers one request on a new connection.
class ClosingServer {
 public:
  explicit ClosingServer(bool second_connection)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, second_connection] {
      const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      tcp::socket first = acceptor_.accept();
      asio::streambuf buf1;
      if (read_request(first, buf1)) asio::write(first, asio::buffer(ok));
      if (read_request(first, buf1)) first.close();
      if (!second_connection) return;
      tcp::socket second = acceptor_.accept();
      asio::streambuf buf2;
      if (read_request(second, buf2)) asio::write(second, asio::buffer(ok));
      boost::system::error_code ec;
      asio::read(second, buf2, asio::transfer_at_least(1), ec);  // until the client closes
    });
  }
  ~ClosingServer() { thread_.join(); }

  Endpoint endpoint() const {
    return Endpoint::parse("http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()));
  }
  int requests() const { return requests_; }

 private:
  // Requests here carry the two-byte body "go".
  bool read_request(tcp::socket& s, asio::streambuf& buf) {
    boost::system::error_code ec;
    asio::read_until(s, buf, "\r\n\r\n", ec);
    if (ec) return false;
    std::string data(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
    auto end = data.find("\r\n\r\n") + 4;
    while (buf.size() < end + 2) {
      asio::read(s, buf, asio::transfer_at_least(1), ec);
      if (ec) return false;
    }
    buf.consume(end + 2);
    ++requests_;
    return true;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

// The client must send the request once more on a new connection, even a POST, and not count it
// as an attempt.
TEST_F(HttpClientTest, StalePooledConnectionIsResentOnceOnANewConnection) {
  ClosingServer raw(true);
  make_client();
  endpoint = raw.endpoint();
  int prepared = 0;
  CallOptions options;
  options.prepare = [&](HttpRequest&) { ++prepared; };
  HttpResult first = call(post("go"), options);
  ASSERT_TRUE(first.ok()) << first.describe();
  HttpResult second = call(post("go"), options);
  EXPECT_TRUE(second.ok()) << second.describe();
  EXPECT_EQ(second.attempts, 1);
  EXPECT_EQ(prepared, 2);
  EXPECT_EQ(raw.requests(), 3);
  client.reset();
}

TEST_F(HttpClientTest, ExplicitlyNonIdempotentRequestsAreNeverResent) {
  ClosingServer raw(false);
  make_client();
  endpoint = raw.endpoint();
  CallOptions options;
  options.idempotent = false;
  ASSERT_TRUE(call(post("go"), options).ok());
  HttpResult second = call(post("go"), options);
  EXPECT_EQ(second.error, HttpClientErrc::connection_failed) << second.describe();
  EXPECT_EQ(second.attempts, 1);
  EXPECT_EQ(raw.requests(), 2);
}

}  // namespace
}  // namespace stratus
