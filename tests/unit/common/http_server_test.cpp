// stratus::HttpServer on the wire: a real server on 127.0.0.1 (its io_context on its own thread)
// and a raw socket that sends exact bytes and reads exact bytes back, so framing, pipelining,
// HEAD, 100-continue, file bodies and header sanitising are checked byte for byte.

#include "stratus/common/http_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "stratus/common/http_response_head.hpp"

namespace stratus {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// Answers by target; stateless, so it needs no lock although it runs on the server's thread.
class WireHandler : public HttpHandler {
 public:
  std::string file_path;  // served by /file and /file-range

  HttpRequestPlan plan(const HttpRequestHead&) override { return {1024, nullptr}; }
  HttpResponse reject_oversized(const HttpRequestHead&, const HttpRequestPlan&) override {
    return HttpResponse{413, {}, "{}"};
  }
  void handle(HttpRequest request, HttpResponder respond) override {
    HttpResponse response;
    const std::string& t = request.target;
    if (t == "/echo") {
      response.headers.add("Content-Type", "application/json");
      response.body = request.method + " " + request.body;
    } else if (t == "/head") {
      response.headers.add("ETag", "\"abc\"");
      response.head_content_length = 12345;
    } else if (t == "/inject") {
      response.headers.add("X-Value", "a\r\nX-Evil: 1\r\n\r\nbody");
      response.headers.add("X-Nul", std::string("a\0b", 3));
      response.headers.add("Bad Name", "v");
      response.headers.add("X-Evil\r\nX-More", "v");
      response.headers.add("", "empty name");
      response.headers.add("X-Trimmed", "  \tpadded\t ");
      response.body = "ok";
    } else if (t == "/framing") {
      response.headers.add("Content-Length", "999");
      response.headers.add("Transfer-Encoding", "chunked");
      response.headers.add("Connection", "keep-alive, Upgrade");
      response.body = "four";
    } else if (t == "/no-content") {
      response.status = 204;
      response.body = "dropped";
    } else if (t == "/odd-status") {
      response.status = 555;
    } else if (t == "/close") {
      response.close_connection = true;
      response.body = "bye";
    } else if (t == "/file" || t == "/file-range") {
      int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
      auto size = static_cast<std::uint64_t>(std::filesystem::file_size(file_path));
      response.file_body = HttpFileBody{share_fd(fd), 0, size};
      if (t == "/file-range") response.file_body = HttpFileBody{share_fd(::dup(fd)), 3, size - 5};
    } else {
      response.status = 404;
    }
    respond(std::move(response));
  }
};

class HttpServerWireTest : public testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(HttpServerOptions options) {
    options.address = "127.0.0.1";
    options.port = 0;
    options.server_name = "wire-test";
    server_ = std::make_unique<HttpServer>(io_, handler_, options);
    runner_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    asio::post(io_, [this] { server_->stop(); });
    runner_.join();
    server_.reset();
  }

  // The fixture's server replaced by one with these options (a test of a timeout).
  void restart(HttpServerOptions options) {
    TearDown();
    io_.restart();
    start(std::move(options));
  }

  tcp::socket connect() {
    tcp::socket socket(client_io_);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    timeval tv{5, 0};  // a hang fails the test instead of blocking it
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return socket;
  }

  // Sends `bytes` and returns everything the server sends until it closes the connection.
  std::string exchange(const std::string& bytes) {
    tcp::socket socket = connect();
    asio::write(socket, asio::buffer(bytes));
    return read_to_close(socket);
  }

  static std::string read_to_close(tcp::socket& socket) {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(socket.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // Reads exactly n bytes (or what arrives before the server closes or the timeout).
  static std::string read_exactly(tcp::socket& socket, std::size_t n) {
    std::string out;
    char buf[4096];
    while (out.size() < n) {
      ssize_t got = ::recv(socket.native_handle(), buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }

  static constexpr const char* kClose = "GET /close HTTP/1.1\r\nHost: x\r\n\r\n";
  static constexpr const char* kCloseAnswer =
      "HTTP/1.1 200 OK\r\nServer: wire-test\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye";

  asio::io_context io_;
  asio::io_context client_io_;
  WireHandler handler_;
  std::unique_ptr<HttpServer> server_;
  std::thread runner_;
};

TEST_F(HttpServerWireTest, ResponseBytesAreExactlyStatusServerFieldsLengthBody) {
  EXPECT_EQ(exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
                     std::string(kClose)),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: "
            "application/json\r\nContent-Length: 8\r\n\r\n"
            "POST abc" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, PipelinedRequestsAreAnsweredInOrder) {
  std::string requests;
  for (int i = 0; i < 5; ++i) {
    std::string body = std::string("req") + std::to_string(i);
    requests += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
                "\r\n\r\n" + body;
    requests += "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    expected +=
        "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: application/json\r\nContent-Length: "
        "9\r\n\r\n";
    expected += std::string("POST req") + std::to_string(i);
    expected += "HTTP/1.1 404 Not Found\r\nServer: wire-test\r\nContent-Length: 0\r\n\r\n";
  }
  EXPECT_EQ(exchange(requests + kClose), expected + kCloseAnswer);
}

TEST_F(HttpServerWireTest, HeadAnnouncesTheLengthAndSendsNoBody) {
  // The next pipelined answer follows the head directly: not one body byte was sent.
  EXPECT_EQ(
      exchange(std::string("HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n") + kClose),
      "HTTP/1.1 200 OK\r\nServer: wire-test\r\nETag: \"abc\"\r\nContent-Length: 12345\r\n\r\n" +
          std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, HeaderValuesCannotSplitTheResponse) {
  EXPECT_EQ(exchange(std::string("GET /inject HTTP/1.1\r\nHost: x\r\n\r\n") + kClose),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\n"
            "X-Value: a  X-Evil: 1    body\r\n"
            "X-Nul: a b\r\n"
            "X-Trimmed: padded\r\n"
            "Content-Length: 2\r\n\r\nok" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, TheServerOwnsContentLengthTransferEncodingAndConnection) {
  EXPECT_EQ(exchange(std::string("GET /framing HTTP/1.1\r\nHost: x\r\n\r\n") + kClose),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Length: 4\r\n\r\nfour" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, NoContentSendsNoBodyAndUnknownStatusesKeepTheirCode) {
  EXPECT_EQ(exchange(std::string("GET /no-content HTTP/1.1\r\nHost: x\r\n\r\n") +
                     "GET /odd-status HTTP/1.1\r\nHost: x\r\n\r\n" + kClose),
            "HTTP/1.1 204 No Content\r\nServer: wire-test\r\nContent-Length: 0\r\n\r\n"
            "HTTP/1.1 555 <unknown-status>\r\nServer: wire-test\r\nContent-Length: 0\r\n\r\n" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, ConnectionCloseAndHttp10AreAnsweredThenClosed) {
  EXPECT_EQ(exchange("POST /echo HTTP/1.1\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz"
                     "GET /never HTTP/1.1\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: application/json\r\nConnection: "
            "close\r\n"
            "Content-Length: 6\r\n\r\nPOST z");
  EXPECT_EQ(exchange("POST /echo HTTP/1.0\r\nContent-Length: 1\r\n\r\nz"),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: application/json\r\nConnection: "
            "close\r\n"
            "Content-Length: 6\r\n\r\nPOST z");
  // HTTP/1.0 asking for keep-alive keeps the connection.
  EXPECT_EQ(exchange("POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nz" +
                     std::string(kClose)),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: "
            "application/json\r\nContent-Length: 6\r\n\r\n"
            "POST z" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, ExpectContinueWithAChunkedBody) {
  tcp::socket socket = connect();
  asio::write(socket,
              asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                       "chunked\r\nExpect: 100-continue\r\n\r\n")));
  EXPECT_EQ(read_exactly(socket, 25), "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(socket, asio::buffer(std::string("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n") + kClose));
  EXPECT_EQ(read_to_close(socket),
            "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: "
            "application/json\r\nContent-Length: 10\r\n\r\n"
            "POST abcde" +
                std::string(kCloseAnswer));
}

TEST_F(HttpServerWireTest, OversizedBodyIsRefusedAndTheConnectionClosed) {
  EXPECT_EQ(exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc"),
            "HTTP/1.1 413 Payload Too Large\r\nServer: wire-test\r\nConnection: "
            "close\r\nContent-Length: 2\r\n\r\n{}");
  // A chunked body only finds out while reading.
  std::string big(2000, 'x');
  EXPECT_EQ(exchange("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" +
                     big + "\r\n0\r\n\r\n"),
            "HTTP/1.1 413 Payload Too Large\r\nServer: wire-test\r\nConnection: "
            "close\r\nContent-Length: 2\r\n\r\n{}");
}

TEST_F(HttpServerWireTest, FileBodiesSmallAndLargerThanOnePiece) {
  for (std::size_t size :
       {std::size_t{10}, std::size_t{70'000}, std::size_t{(1u << 20) * 2 + 12345}}) {
    std::string content(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
      content[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
    auto path =
        std::filesystem::temp_directory_path() /
        ("stratus_http_server_test_" + std::to_string(::getpid()) + "_" + std::to_string(size));
    std::ofstream(path, std::ios::binary) << content;
    handler_.file_path = path.string();
    std::string head = "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Length: ";
    EXPECT_EQ(exchange(std::string("GET /file HTTP/1.1\r\nHost: x\r\n\r\nGET /file-range "
                                   "HTTP/1.1\r\nHost: x\r\n\r\n") +
                       kClose),
              head + std::to_string(size) + "\r\n\r\n" + content + head + std::to_string(size - 5) +
                  "\r\n\r\n" + content.substr(3, size - 5) + kCloseAnswer)
        << "size " << size;
    std::filesystem::remove(path);
  }
}

TEST_F(HttpServerWireTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = 200ms;
  restart(options);
  tcp::socket socket = connect();
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_close(socket), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(HttpServerWireTest, StalledBodyIsCutOffAfterTheBodyTimeout) {
  HttpServerOptions options;
  options.body_timeout = 200ms;
  restart(options);
  tcp::socket socket = connect();
  asio::write(
      socket,
      asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")));
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_close(socket), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(HttpServerWireTest, AShorterIdleTimeoutReplacesALongerBodyTimeout) {
  HttpServerOptions options;
  options.idle_timeout = 1s;
  options.body_timeout = 30s;
  restart(options);
  tcp::socket socket = connect();
  // The body arrives in two parts, so the server waits for it under the 30 s body timeout, past
  // the first idle deadline (the timer then waits for the 30 s one)...
  asio::write(
      socket,
      asio::buffer(std::string("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\na")));
  std::this_thread::sleep_for(1200ms);
  asio::write(socket, asio::buffer(std::string("b")));
  std::string answer =
      "HTTP/1.1 200 OK\r\nServer: wire-test\r\nContent-Type: application/json\r\nContent-Length: "
      "7\r\n\r\nPOST ab";
  EXPECT_EQ(read_exactly(socket, answer.size()), answer);
  // ...and then idles under the 1 s idle timeout, which must not wait for the 30 s one.
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_to_close(socket), "");
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST(ResponseHead, FormatsFramingAndReusesTheString) {
  HttpHeaders headers;
  headers.add("X-A", "1");
  std::string out = "old content";
  format_response_head(out, 404, headers, "s", {false, 7});
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nServer: s\r\nX-A: 1\r\nConnection: close\r\nContent-Length: "
            "7\r\n\r\n");
  format_response_head(out, 42, {}, "s", {true, 0});
  EXPECT_EQ(out, "HTTP/1.1 500 Internal Server Error\r\nServer: s\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(status_forbids_body(100));
  EXPECT_TRUE(status_forbids_body(204));
  EXPECT_TRUE(status_forbids_body(304));
  EXPECT_FALSE(status_forbids_body(200));
  EXPECT_FALSE(status_forbids_body(404));
}

}  // namespace
}  // namespace stratus
