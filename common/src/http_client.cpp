#include "stratus/common/http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <iomanip>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace stratus {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// Endpoint

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ip_address(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool is_ipv6(const std::string& host) {
  return host.find(':') != std::string::npos;
}

std::string bracketed(const std::string& host) {
  return is_ipv6(host) ? "[" + host + "]" : host;
}

}  // namespace

Endpoint Endpoint::parse(std::string_view url) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid endpoint URL '" + std::string(url) + "': " + why);
  };
  Endpoint ep;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) fail("expected scheme://host[:port]");
  ep.scheme = lower(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") fail("scheme must be http or https");
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) fail("query and fragment not allowed");
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path =
      authority.size() < rest.size() ? rest.substr(authority.size()) : std::string_view{};
  if (authority.find('@') != std::string_view::npos) fail("user info not allowed");
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) fail("unterminated IPv6 address");
    ep.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("unexpected characters after IPv6 address");
      port = after.substr(1);
      if (port.empty()) fail("empty port");
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) fail("empty port");
      authority = authority.substr(0, colon);
    }
    ep.host = lower(authority);
  }
  if (ep.host.empty()) fail("missing host");
  for (char c : ep.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '\\') fail("bad host");
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      fail("port must be a number from 1 to 65535");
    }
    ep.port = std::to_string(value);
  } else {
    ep.port = ep.tls() ? "443" : "80";
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  ep.path = std::string(path);
  return ep;
}

std::string Endpoint::host_header() const {
  bool default_port = (tls() && port == "443") || (!tls() && port == "80");
  return default_port ? bracketed(host) : bracketed(host) + ":" + port;
}

std::string Endpoint::origin() const {
  return scheme + "://" + bracketed(host) + ":" + port;
}

// ---------------------------------------------------------------------------------------------
// Errors

namespace {

class HttpClientCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "stratus.http_client"; }
  std::string message(int value) const override {
    switch (static_cast<HttpClientErrc>(value)) {
      case HttpClientErrc::timeout:
        return "deadline exceeded";
      case HttpClientErrc::resolve_failed:
        return "host name not resolved";
      case HttpClientErrc::connect_failed:
        return "connect failed";
      case HttpClientErrc::tls_failed:
        return "TLS handshake failed";
      case HttpClientErrc::connection_failed:
        return "connection failed";
      case HttpClientErrc::response_too_large:
        return "response too large";
      case HttpClientErrc::protocol_error:
        return "invalid HTTP response";
      case HttpClientErrc::invalid_request:
        return "invalid request";
    }
    return "unknown HTTP client error";
  }
};

}  // namespace

const std::error_category& http_client_category() {
  static const HttpClientCategory category;
  return category;
}

std::error_code make_error_code(HttpClientErrc e) {
  return {static_cast<int>(e), http_client_category()};
}

std::string HttpResult::describe() const {
  if (error) return error_message.empty() ? error.message() : error_message;
  return "HTTP " + std::to_string(status);
}

// ---------------------------------------------------------------------------------------------
// Client internals

namespace {

struct Connection {
  Connection(asio::io_context& io, std::string origin_key, ssl::context* tls_context)
      : origin(std::move(origin_key)) {
    if (tls_context) {
      tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io, *tls_context);
    } else {
      plain = std::make_unique<beast::tcp_stream>(io);
    }
  }

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <typename F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(*plain);
    }
  }

  void close() {
    beast::error_code ec;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    tcp().close();
  }

  // A pooled connection the server has closed (or written to unasked) is useless; a non-blocking
  // peek finds out without disturbing a healthy one.
  bool looks_alive() {
    auto& socket = tcp().socket();
    if (!socket.is_open() || buffer.size() != 0) return false;
    char byte;
    ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  std::string origin;
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since{};
  bool used = false;       // has carried a request before
  bool discarded = false;  // closed and no longer counted in its pool
};

using ConnectionPtr = std::shared_ptr<Connection>;

enum class CallState { Starting, Queued, Connecting, Exchanging, BackingOff };

struct Call {
  explicit Call(asio::io_context& io) : deadline_timer(io), backoff_timer(io) {}

  std::uint64_t id = 0;
  Endpoint endpoint;
  std::string origin;
  HttpRequestHead original;  // the head as given to send(), restored before every attempt
  HttpRequest request;       // what the current attempt sends
  CallOptions options;
  HttpCallback done;
  Clock::time_point deadline;
  asio::steady_timer deadline_timer;
  asio::steady_timer backoff_timer;
  CallState state = CallState::Starting;
  int attempts = 0;
  bool idempotent = false;
  bool may_resend_on_stale = true;  // see CallOptions::idempotent
  bool stale_resent = false;        // within the current attempt
  bool finished = false;
  ConnectionPtr conn;                       // while Connecting or Exchanging
  std::shared_ptr<tcp::resolver> resolver;  // while resolving
  std::optional<http::request<http::span_body<const char>>> message;
  std::optional<http::response_parser<http::string_body>> parser;
  std::optional<HttpResult> last_response;  // the latest retryable response, returned on giving up
};

using CallPtr = std::shared_ptr<Call>;

struct Pool {
  std::vector<ConnectionPtr> idle;  // back() is the most recently used
  std::deque<CallPtr> waiting;
  std::size_t open = 0;
};

bool default_idempotent(std::string_view method) {
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    if (iequals(method, m)) return true;
  }
  return false;
}

bool retryable_status(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Retry-After is either delta-seconds or an HTTP date.
std::optional<milliseconds> parse_retry_after(const std::string* value) {
  if (!value) return std::nullopt;
  std::string_view v = *value;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  std::uint64_t seconds = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc{} && ptr == v.data() + v.size()) {
    seconds = std::min<std::uint64_t>(seconds, 24 * 3600);
    return milliseconds(seconds * 1000);
  }
  std::tm tm{};
  std::istringstream in{std::string(v)};
  in.imbue(std::locale::classic());
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) return std::nullopt;
  std::time_t when = timegm(&tm);
  std::time_t now = std::time(nullptr);
  if (when <= now) return milliseconds(0);
  return milliseconds(std::min<std::int64_t>(when - now, 24 * 3600) * 1000);
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool valid_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string ms_text(milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

// OpenSSL's compiled-in CA locations are those of the distribution it was built on (Debian:
// /usr/lib/ssl/cert.pem and /usr/lib/ssl/certs). A binary linked statically here and run elsewhere,
// e.g. the function bootstrap on provided.al2023, finds nothing there; so unless the environment
// names the CAs (SSL_CERT_FILE / SSL_CERT_DIR) or the default bundle exists, the first of the
// usual system bundles is loaded.
void load_system_ca_bundle(SSL_CTX* ctx) {
  if (std::getenv("SSL_CERT_FILE") || std::getenv("SSL_CERT_DIR")) return;
  std::error_code ec;
  if (std::filesystem::exists(X509_get_default_cert_file(), ec)) return;
  static constexpr const char* bundles[] = {
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine, Arch
      "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux, Fedora, RHEL
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL, CentOS
      "/etc/ssl/ca-bundle.pem",                             // openSUSE, SLES
      "/etc/ssl/cert.pem",                                  // Alpine, BSDs
  };
  for (const char* bundle : bundles) {
    if (std::filesystem::exists(bundle, ec) &&
        SSL_CTX_load_verify_locations(ctx, bundle, nullptr) == 1) {
      return;
    }
  }
}

// Loading the system CA bundle takes a noticeable fraction of a second, so TLS contexts are made
// once per process and configuration and shared (an SSL_CTX that is no longer modified may be used
// from any number of threads). A rewritten ca_file gets a new context.
std::shared_ptr<ssl::context> shared_tls_context(bool verify, const std::string& ca_file) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<ssl::context>> contexts;
  std::string key = verify ? "verify:" + ca_file : "no-verify";
  if (verify && !ca_file.empty()) {
    std::error_code ec;
    auto stamp = std::filesystem::last_write_time(ca_file, ec);
    key += "@" + std::to_string(ec ? 0 : stamp.time_since_epoch().count());
  }
  std::lock_guard lock(mutex);
  auto& slot = contexts[key];
  if (slot) return slot;
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (verify) {
    ctx->set_verify_mode(ssl::verify_peer);
    // Honours SSL_CERT_FILE / SSL_CERT_DIR, else OpenSSL's compiled-in locations.
    ctx->set_default_verify_paths();
    load_system_ca_bundle(ctx->native_handle());
    if (!ca_file.empty()) ctx->load_verify_file(ca_file);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  slot = ctx;
  return slot;
}

}  // namespace

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(asio::io_context& io_context, ClientOptions o)
      : io(io_context), options(std::move(o)), rng(std::random_device{}()) {
    if (options.max_connections_per_host == 0) options.max_connections_per_host = 1;
    if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
  }

  asio::io_context& io;
  ClientOptions options;
  std::shared_ptr<ssl::context> tls_context;  // fetched on first https use
  std::string tls_context_error;
  std::unordered_map<std::string, Pool> pools;
  std::unordered_map<std::uint64_t, CallPtr> calls;
  std::mt19937_64 rng;
  std::uint64_t next_id = 1;
  bool closed = false;

  // ---- call life cycle ----

  void start(CallPtr call) {
    calls.emplace(call->id, call);
    call->deadline_timer.expires_at(call->deadline);
    call->deadline_timer.async_wait([self = shared_from_this(), call](beast::error_code ec) {
      if (ec || self->closed || call->finished) return;
      self->on_deadline(call);
    });
    if (!call->endpoint.tls() && call->endpoint.scheme != "http") {
      return fail(call, HttpClientErrc::invalid_request,
                  "unsupported scheme '" + call->endpoint.scheme + "'");
    }
    unsigned port = 0;
    const std::string& port_text = call->endpoint.port;
    auto [end, port_ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (call->endpoint.host.empty() || port_ec != std::errc{} ||
        end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return fail(call, HttpClientErrc::invalid_request,
                  "endpoint needs a host and a port from 1 to 65535: " + call->endpoint.origin());
    }
    if (call->endpoint.tls() && !ensure_tls_context()) {
      return fail(call, HttpClientErrc::invalid_request, tls_context_error);
    }
    begin_attempt(call);
  }

  void begin_attempt(const CallPtr& call) {
    ++call->attempts;
    call->stale_resent = false;
    static_cast<HttpRequestHead&>(call->request) = call->original;
    HttpHeaders& headers = call->request.headers;
    if (!headers.find("Host")) headers.set("Host", call->endpoint.host_header());
    if (!headers.find("User-Agent") && !options.user_agent.empty()) {
      headers.set("User-Agent", options.user_agent);
    }
    if (call->options.prepare) {
      try {
        call->options.prepare(call->request);
      } catch (const std::exception& e) {
        return fail(call, HttpClientErrc::invalid_request,
                    std::string("preparing the request failed: ") + e.what());
      }
    }
    if (!build_message(call)) return;
    acquire(call);
  }

  bool build_message(const CallPtr& call) {
    const HttpRequest& req = call->request;
    auto& msg = call->message.emplace();
    msg.version(11);
    http::verb verb = http::string_to_verb(req.method);
    if (verb == http::verb::unknown) {
      if (!valid_header_name(req.method)) {
        fail(call, HttpClientErrc::invalid_request, "invalid method '" + req.method + "'");
        return false;
      }
      msg.method_string(req.method);
    } else {
      msg.method(verb);
    }
    std::string_view target = req.target.empty() ? std::string_view("/") : req.target;
    if (target.find_first_of(std::string_view(" \r\n\0", 4)) != std::string_view::npos) {
      fail(call, HttpClientErrc::invalid_request, "invalid request target");
      return false;
    }
    msg.target(beast::string_view(target.data(), target.size()));
    for (const auto& f : req.headers.fields()) {
      if (!valid_header_name(f.name) || !valid_header_value(f.value)) {
        fail(call, HttpClientErrc::invalid_request, "invalid header '" + f.name + "'");
        return false;
      }
      // The framing comes from the body below, not from the caller.
      if (iequals(f.name, "Content-Length") || iequals(f.name, "Transfer-Encoding")) continue;
      msg.insert(f.name, f.value);
    }
    msg.body() = beast::span<const char>(req.body.data(), req.body.size());
    msg.prepare_payload();
    return true;
  }

  // Finds a connection for the call: a healthy idle one, a new one, or a place in the queue.
  void acquire(const CallPtr& call) {
    Pool& pool = pools[call->origin];
    while (!pool.idle.empty()) {
      ConnectionPtr conn = std::move(pool.idle.back());
      pool.idle.pop_back();
      if (Clock::now() - conn->idle_since > options.idle_timeout || !conn->looks_alive()) {
        // Not pump(): this call is the one to get the freed slot.
        discard(conn, false);
        continue;
      }
      return exchange(call, conn);
    }
    if (pool.open < options.max_connections_per_host) {
      ++pool.open;
      auto conn = std::make_shared<Connection>(io, call->origin,
                                               call->endpoint.tls() ? tls_context.get() : nullptr);
      return connect(call, conn);
    }
    call->state = CallState::Queued;
    pool.waiting.push_back(call);
  }

  // Hands free capacity of a pool to the calls waiting for it.
  void pump(const std::string& origin) {
    auto it = pools.find(origin);
    if (it == pools.end()) return;
    Pool& pool = it->second;
    while (!pool.waiting.empty()) {
      if (pool.waiting.front()->finished) {
        pool.waiting.pop_front();
        continue;
      }
      if (pool.idle.empty() && pool.open >= options.max_connections_per_host) return;
      CallPtr call = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      acquire(call);
    }
  }

  void release(const ConnectionPtr& conn) {
    if (conn->discarded) return;
    Pool& pool = pools[conn->origin];
    conn->tcp().expires_never();
    conn->idle_since = Clock::now();
    pool.idle.push_back(conn);
    pump(conn->origin);
  }

  // Closes a connection and gives its slot back to the pool.
  void discard(const ConnectionPtr& conn, bool pump_after = true) {
    if (conn->discarded) return;
    conn->discarded = true;
    conn->close();
    if (closed) return;
    Pool& pool = pools[conn->origin];
    if (pool.open > 0) --pool.open;
    if (pump_after) pump(conn->origin);
  }

  // ---- connecting ----

  bool ensure_tls_context() {
    if (tls_context) return true;
    if (!tls_context_error.empty()) return false;
    try {
      tls_context = shared_tls_context(options.verify_tls, options.ca_file);
      return true;
    } catch (const std::exception& e) {
      tls_context_error = std::string("TLS setup failed: ") + e.what() +
                          (options.ca_file.empty() ? "" : " (ca_file " + options.ca_file + ")");
      return false;
    }
  }

  void connect(const CallPtr& call, const ConnectionPtr& conn) {
    call->state = CallState::Connecting;
    call->conn = conn;
    const Endpoint& ep = call->endpoint;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(ep.host, ec);
    if (!ec) {
      auto port = static_cast<std::uint16_t>(std::stoul(ep.port));
      tcp::endpoint target(address, port);
      return connect_to(call, conn, tcp::resolver::results_type::create(target, ep.host, ep.port));
    }
    call->resolver = std::make_shared<tcp::resolver>(io);
    call->resolver->async_resolve(
        ep.host, ep.port,
        [self = shared_from_this(), call, conn, resolver = call->resolver](
            beast::error_code ec, tcp::resolver::results_type results) {
          if (self->closed) return;
          call->resolver.reset();
          if (call->finished) return self->discard(conn);
          if (ec) {
            self->discard(conn);
            return self->attempt_failed(call, HttpClientErrc::resolve_failed,
                                        "resolve " + call->endpoint.host + ": " + ec.message(),
                                        true);
          }
          self->connect_to(call, conn, results);
        });
  }

  void connect_to(const CallPtr& call, const ConnectionPtr& conn,
                  const tcp::resolver::results_type& results) {
    conn->tcp().expires_after(options.connect_timeout);
    conn->tcp().async_connect(results, [self = shared_from_this(), call, conn](
                                           beast::error_code ec, const tcp::endpoint&) {
      if (self->closed) return;
      if (call->finished) return self->discard(conn);
      if (ec) {
        std::string why = ec == beast::error::timeout
                              ? "timed out after " + ms_text(self->options.connect_timeout)
                              : ec.message();
        self->discard(conn);
        return self->attempt_failed(call, HttpClientErrc::connect_failed,
                                    "connect to " + call->endpoint.origin() + ": " + why, true);
      }
      beast::error_code ignored;
      conn->tcp().socket().set_option(tcp::no_delay(true), ignored);
      if (conn->tls) return self->handshake(call, conn);
      conn->tcp().expires_never();
      self->exchange(call, conn);
    });
  }

  void handshake(const CallPtr& call, const ConnectionPtr& conn) {
    const std::string& host = call->endpoint.host;
    // SNI carries host names only, never address literals (RFC 6066).
    if (!is_ip_address(host)) SSL_set_tlsext_host_name(conn->tls->native_handle(), host.c_str());
    if (options.verify_tls) {
      // Boost's check leaves the verification error at X509_V_OK when only the name is wrong;
      // record the real reason so the failure message says it.
      int mismatch =
          is_ip_address(host) ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
      conn->tls->set_verify_callback([check = ssl::host_name_verification(host), mismatch](
                                         bool preverified, ssl::verify_context& ctx) {
        bool ok = check(preverified, ctx);
        if (preverified && !ok) X509_STORE_CTX_set_error(ctx.native_handle(), mismatch);
        return ok;
      });
    }
    conn->tls->async_handshake(
        ssl::stream_base::client, [self = shared_from_this(), call, conn](beast::error_code ec) {
          if (self->closed) return;
          if (call->finished) return self->discard(conn);
          if (ec) {
            std::string why = ec == beast::error::timeout
                                  ? "timed out after " + ms_text(self->options.connect_timeout)
                                  : ec.message();
            long verify = SSL_get_verify_result(conn->tls->native_handle());
            if (verify != X509_V_OK) {
              why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
            }
            self->discard(conn);
            // A certificate problem will not fix itself; anything else may be transient.
            return self->attempt_failed(
                call, HttpClientErrc::tls_failed,
                "TLS handshake with " + call->endpoint.origin() + ": " + why, verify == X509_V_OK);
          }
          conn->tcp().expires_never();
          self->exchange(call, conn);
        });
  }

  // ---- one request/response on a connection ----

  void exchange(const CallPtr& call, const ConnectionPtr& conn) {
    call->state = CallState::Exchanging;
    call->conn = conn;
    bool reused = conn->used;
    conn->used = true;
    new_parser(call);
    conn->with_stream([&](auto& stream) {
      http::async_write(
          stream, *call->message,
          [self = shared_from_this(), call, conn, reused](beast::error_code ec, std::size_t) {
            if (self->closed) return;
            if (call->finished) return self->discard(conn);
            if (ec) return self->exchange_failed(call, conn, reused, ec);
            self->read_response(call, conn, reused);
          });
    });
  }

  std::uint64_t response_limit(const Call& call) const {
    return call.options.max_response_bytes.value_or(options.max_response_bytes);
  }

  void new_parser(const CallPtr& call) {
    auto& parser = call->parser.emplace();
    parser.header_limit(options.max_response_header_bytes);
    parser.body_limit(response_limit(*call));
    if (iequals(call->request.method, "HEAD")) parser.skip(true);
  }

  // The head is read on its own: Boost 1.74's parser, when parsing eagerly (as async_read does),
  // drops the body_limit error for a Content-Length over the limit if body bytes arrived in the
  // same read as the head, then reserves the announced size and reads it all. async_read_header
  // parses non-eagerly, which reports the error; the explicit check below keeps that from depending
  // on it.
  void read_response(const CallPtr& call, const ConnectionPtr& conn, bool reused) {
    conn->with_stream([&](auto& stream) {
      http::async_read_header(
          stream, conn->buffer, *call->parser,
          [self = shared_from_this(), call, conn, reused](beast::error_code ec, std::size_t) {
            if (self->closed) return;
            if (call->finished) return self->discard(conn);
            auto& parser = *call->parser;
            if (!ec && !parser.is_done() && parser.content_length() &&
                *parser.content_length() > self->response_limit(*call)) {
              ec = http::error::body_limit;
            }
            if (ec || parser.is_done()) return self->on_read(call, conn, reused, ec);
            self->read_body(call, conn, reused);
          });
    });
  }

  void read_body(const CallPtr& call, const ConnectionPtr& conn, bool reused) {
    conn->with_stream([&](auto& stream) {
      http::async_read(
          stream, conn->buffer, *call->parser,
          [self = shared_from_this(), call, conn, reused](beast::error_code ec, std::size_t) {
            if (self->closed) return;
            if (call->finished) return self->discard(conn);
            self->on_read(call, conn, reused, ec);
          });
    });
  }

  void on_read(const CallPtr& call, const ConnectionPtr& conn, bool reused, beast::error_code ec) {
    auto& parser = *call->parser;
    // A TLS server that closes without close_notify ends an until-EOF body this way.
    if (ec == ssl::error::stream_truncated && parser.got_some() && !parser.is_done()) {
      beast::error_code eof_ec;
      parser.put_eof(eof_ec);
      if (!eof_ec && parser.is_done()) ec = {};
    }
    if (ec) return exchange_failed(call, conn, reused, ec);
    int status = static_cast<int>(parser.get().result_int());
    if (status >= 100 && status < 200 && status != 101) {
      // An interim response; the real one follows on the same connection.
      new_parser(call);
      return read_response(call, conn, reused);
    }
    on_response(call, conn);
  }

  void exchange_failed(const CallPtr& call, const ConnectionPtr& conn, bool reused,
                       beast::error_code ec) {
    bool got_some = call->parser && call->parser->got_some();
    discard(conn);
    call->conn.reset();
    if (ec == http::error::body_limit) {
      return fail(call, HttpClientErrc::response_too_large,
                  "response from " + call->endpoint.origin() + " is larger than " +
                      std::to_string(response_limit(*call)) + " bytes");
    }
    if (reused && !got_some && !call->stale_resent && call->may_resend_on_stale) {
      // The server most likely closed this keep-alive connection while it sat in the pool, before
      // our request arrived: send it again, once, on another connection.
      call->stale_resent = true;
      return acquire(call);
    }
    bool protocol = ec.category() == http::make_error_code(http::error::bad_version).category() &&
                    ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (ec == http::error::header_limit) protocol = true;
    std::string what = protocol ? "invalid response from " : "connection to ";
    fail_or_retry(call,
                  protocol ? HttpClientErrc::protocol_error : HttpClientErrc::connection_failed,
                  what + call->endpoint.origin() + ": " + ec.message(), call->idempotent);
  }

  void on_response(const CallPtr& call, const ConnectionPtr& conn) {
    auto& parser = *call->parser;
    auto& msg = parser.get();
    HttpResult result;
    result.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      result.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    result.body = std::move(msg.body());
    bool reusable = msg.keep_alive() && !parser.need_eof() && conn->buffer.size() == 0 &&
                    result.status != 101 &&
                    !iequals(call->request.headers.get("Connection"), "close");
    call->conn.reset();
    call->parser.reset();
    if (reusable) {
      release(conn);
    } else {
      discard(conn);
    }
    if (call->finished) return;  // a waiting call's callback cannot finish this one, but be safe
    const RetryPolicy& retry = options.retry;
    if (retry.retry_throttling_and_server_errors && retryable_status(result.status) &&
        call->attempts < retry.max_attempts) {
      auto retry_after = parse_retry_after(result.headers.find("Retry-After"));
      call->last_response = std::move(result);
      return back_off(call, retry_after.value_or(milliseconds(0)));
    }
    finish(call, std::move(result));
  }

  // ---- retries, deadline, completion ----

  void attempt_failed(const CallPtr& call, HttpClientErrc code, std::string message,
                      bool retryable) {
    call->conn.reset();
    fail_or_retry(call, code, std::move(message), retryable);
  }

  void fail_or_retry(const CallPtr& call, HttpClientErrc code, std::string message,
                     bool retryable) {
    if (retryable && options.retry.retry_connection_errors &&
        call->attempts < options.retry.max_attempts) {
      // What to return if no further attempt fits before the deadline.
      HttpResult result;
      result.error = code;
      result.error_message = std::move(message);
      call->last_response = std::move(result);
      return back_off(call, milliseconds(0));
    }
    fail(call, code, std::move(message));
  }

  void back_off(const CallPtr& call, milliseconds at_least) {
    const RetryPolicy& retry = options.retry;
    // Full jitter over an exponentially growing cap.
    double cap = static_cast<double>(retry.base_delay.count()) *
                 std::pow(2.0, std::min(call->attempts - 1, 30));
    cap = std::min(cap, static_cast<double>(retry.max_delay.count()));
    std::uniform_real_distribution<double> jitter(0.0, std::max(cap, 0.0));
    milliseconds delay(static_cast<std::int64_t>(jitter(rng)));
    delay = std::max(delay, at_least);
    if (Clock::now() + delay >= call->deadline) {
      HttpResult result = std::move(*call->last_response);
      call->last_response.reset();
      return finish(call, std::move(result));
    }
    call->state = CallState::BackingOff;
    call->backoff_timer.expires_after(delay);
    call->backoff_timer.async_wait([self = shared_from_this(), call](beast::error_code ec) {
      if (ec || self->closed || call->finished) return;
      self->begin_attempt(call);
    });
  }

  void on_deadline(const CallPtr& call) {
    std::string during;
    switch (call->state) {
      case CallState::Starting:
        during = "starting";
        break;
      case CallState::Queued:
        during = "waiting for a free connection";
        break;
      case CallState::Connecting:
        during = "connecting";
        break;
      case CallState::Exchanging:
        during = "waiting for the response";
        break;
      case CallState::BackingOff:
        during = "waiting to retry";
        break;
    }
    // Interrupt whatever is in progress; its completion handler sees the call finished and
    // discards the connection.
    if (call->resolver) call->resolver->cancel();
    if (call->conn) call->conn->close();
    if (call->state == CallState::Queued) {
      auto it = pools.find(call->origin);
      if (it != pools.end()) std::erase(it->second.waiting, call);
    }
    fail(call, HttpClientErrc::timeout,
         "deadline of " + ms_text(call->options.deadline) + " exceeded " + during + " (" +
             call->request.method + " " + call->endpoint.origin() + call->request.target +
             ", attempt " + std::to_string(call->attempts) + ")");
  }

  void fail(const CallPtr& call, HttpClientErrc code, std::string message) {
    HttpResult result;
    result.error = code;
    result.error_message = std::move(message);
    finish(call, std::move(result));
  }

  void finish(const CallPtr& call, HttpResult result) {
    if (call->finished) return;
    call->finished = true;
    call->deadline_timer.cancel();
    call->backoff_timer.cancel();
    calls.erase(call->id);
    result.attempts = call->attempts;
    // Always from a fresh handler: send() never calls back re-entrantly, and a callback that sends
    // again finds the pools in a consistent state.
    asio::post(io, [self = shared_from_this(), done = std::move(call->done),
                    result = std::move(result)]() mutable {
      if (!self->closed) done(std::move(result));
    });
  }

  void shutdown() {
    closed = true;
    for (auto& [id, call] : calls) {
      call->finished = true;
      call->deadline_timer.cancel();
      call->backoff_timer.cancel();
      if (call->resolver) call->resolver->cancel();
      if (call->conn) call->conn->close();
    }
    calls.clear();
    for (auto& [origin, pool] : pools) {
      for (auto& conn : pool.idle) conn->close();
    }
    pools.clear();
  }
};

HttpClient::HttpClient(asio::io_context& io, ClientOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpClient::~HttpClient() {
  impl_->shutdown();
}

void HttpClient::send(const Endpoint& endpoint, HttpRequest request, CallOptions options,
                      HttpCallback done) {
  auto call = std::make_shared<Call>(impl_->io);
  call->id = impl_->next_id++;
  call->endpoint = endpoint;
  call->origin = endpoint.origin();
  call->request.body = std::move(request.body);
  call->original = std::move(static_cast<HttpRequestHead&>(request));
  if (call->original.method.empty()) call->original.method = "GET";
  call->idempotent = options.idempotent.value_or(default_idempotent(call->original.method));
  call->may_resend_on_stale = options.idempotent.value_or(true);
  call->deadline = Clock::now() + options.deadline;
  call->options = std::move(options);
  call->done = std::move(done);
  impl_->start(std::move(call));
}

void HttpClient::send(const Endpoint& endpoint, HttpRequest request, milliseconds deadline,
                      HttpCallback done) {
  CallOptions options;
  options.deadline = deadline;
  send(endpoint, std::move(request), std::move(options), std::move(done));
}

std::size_t HttpClient::idle_connections() const {
  std::size_t n = 0;
  for (const auto& [origin, pool] : impl_->pools) n += pool.idle.size();
  return n;
}

std::size_t HttpClient::open_connections() const {
  std::size_t n = 0;
  for (const auto& [origin, pool] : impl_->pools) n += pool.open;
  return n;
}

std::size_t HttpClient::queued_calls() const {
  std::size_t n = 0;
  for (const auto& [origin, pool] : impl_->pools) {
    for (const auto& call : pool.waiting) n += call->finished ? 0 : 1;
  }
  return n;
}

void HttpClient::close_idle() {
  for (auto& [origin, pool] : impl_->pools) {
    auto idle = std::move(pool.idle);
    pool.idle.clear();
    for (auto& conn : idle) impl_->discard(conn, false);
  }
  for (auto& [origin, pool] : impl_->pools) impl_->pump(origin);
}

HttpResult http_request_blocking(const Endpoint& endpoint, HttpRequest request, CallOptions call,
                                 ClientOptions options) {
  asio::io_context io;
  HttpResult out;
  {
    HttpClient client(io, std::move(options));
    client.send(endpoint, std::move(request), std::move(call),
                [&out](HttpResult result) { out = std::move(result); });
    io.run();
  }
  return out;
}

HttpResult http_request_blocking(const Endpoint& endpoint, HttpRequest request,
                                 milliseconds deadline) {
  CallOptions call;
  call.deadline = deadline;
  return http_request_blocking(endpoint, std::move(request), std::move(call));
}

}  // namespace stratus
