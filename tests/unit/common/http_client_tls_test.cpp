// HttpClient over TLS against a small loopback TLS server with a certificate made at run time.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "stratus/common/http_client.hpp"

namespace stratus {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

struct KeyAndCertificate {
  std::string key_pem;
  std::string cert_pem;
};

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// A self-signed certificate for `subject_alt_names` (OpenSSL syntax, e.g. "DNS:localhost").
KeyAndCertificate make_certificate(const char* subject_alt_names) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  if (!key || !cert) throw std::runtime_error("OpenSSL allocation failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("stratus test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_names},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("bad certificate extension");
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("sign failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  return {bio_string(key_bio.get()), bio_string(cert_bio.get())};
}

// Serves `connections` TLS connections one after another on its own thread, answering every
// request with 200 "secure:<SNI>" until the client closes. Failed handshakes count as connections.
class TlsServer {
 public:
  TlsServer(const KeyAndCertificate& identity, int connections)
      : context_(ssl::context::tls_server),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    context_.use_certificate_chain(asio::buffer(identity.cert_pem));
    context_.use_private_key(asio::buffer(identity.key_pem), ssl::context::pem);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) serve_one();
    });
  }
  ~TlsServer() {
    if (thread_.joinable()) thread_.join();
  }

  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }
  void join() { thread_.join(); }
  int handshakes_ok() const { return handshakes_ok_; }
  int requests() const { return requests_; }

 private:
  void serve_one() {
    ssl::stream<tcp::socket> stream(acceptor_.accept(), context_);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) return;
    ++handshakes_ok_;
    const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      http::read(stream, buffer, request, ec);
      if (ec) return;
      ++requests_;
      http::response<http::string_body> response(http::status::ok, 11);
      response.body() = std::string("secure:") + (sni ? sni : "-");
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(stream, response, ec);
      if (ec || !request.keep_alive()) break;
    }
    stream.shutdown(ec);
  }

  asio::io_context io_;
  ssl::context context_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> handshakes_ok_{0};
  std::atomic<int> requests_{0};
};

class HttpClientTlsTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    identity_ = new KeyAndCertificate(make_certificate("DNS:localhost,IP:127.0.0.1"));
    localhost_only_ = new KeyAndCertificate(make_certificate("DNS:localhost"));
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("stratus-tls-test-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    std::ofstream(*dir_ / "ca.pem") << identity_->cert_pem;
    std::ofstream(*dir_ / "ca-localhost.pem") << localhost_only_->cert_pem;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete identity_;
    delete localhost_only_;
    delete dir_;
  }

  static HttpResult get(const std::string& url, ClientOptions options) {
    options.retry.base_delay = 1ms;
    HttpRequest request;
    request.method = "GET";
    request.target = "/";
    CallOptions call;
    call.deadline = 3s;
    return http_request_blocking(Endpoint::parse(url), std::move(request), std::move(call),
                                 std::move(options));
  }

  static inline KeyAndCertificate* identity_ = nullptr;
  static inline KeyAndCertificate* localhost_only_ = nullptr;
  static inline std::filesystem::path* dir_ = nullptr;
};

TEST_F(HttpClientTlsTest, TrustedCertificateForAnAddress) {
  TlsServer server(*identity_, 1);
  ClientOptions options;
  options.ca_file = (*dir_ / "ca.pem").string();
  HttpResult r = get("https://127.0.0.1:" + server.port(), options);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "secure:-");  // no SNI for address literals
}

TEST_F(HttpClientTlsTest, TrustedCertificateForAHostNameSendsSni) {
  TlsServer server(*localhost_only_, 1);
  ClientOptions options;
  options.ca_file = (*dir_ / "ca-localhost.pem").string();
  // "localhost" may resolve to ::1 first, where nobody listens; the client tries every address.
  HttpResult r = get("https://localhost:" + server.port(), options);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, "secure:localhost");
}

TEST_F(HttpClientTlsTest, KeepAliveReusesTheTlsConnection) {
  TlsServer server(*identity_, 1);
  ClientOptions options;
  options.ca_file = (*dir_ / "ca.pem").string();
  asio::io_context io;
  int ok = 0;
  {
    HttpClient client(io, options);
    Endpoint ep = Endpoint::parse("https://127.0.0.1:" + server.port());
    std::function<void(int)> next = [&](int remaining) {
      HttpRequest request;
      request.method = "POST";
      request.target = "/";
      request.body = "x";
      client.send(ep, request, 3s, [&, remaining](HttpResult r) {
        EXPECT_TRUE(r.ok()) << r.describe();
        ok += r.ok() ? 1 : 0;
        if (remaining > 1) next(remaining - 1);
      });
    };
    next(5);
    io.run_for(3s);
    EXPECT_EQ(client.idle_connections(), 1u);
  }
  server.join();
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(server.handshakes_ok(), 1);
  EXPECT_EQ(server.requests(), 5);
}

TEST_F(HttpClientTlsTest, UntrustedCertificateFailsWithoutRetrying) {
  TlsServer server(*identity_, 1);
  HttpResult r = get("https://127.0.0.1:" + server.port(), ClientOptions{});
  EXPECT_EQ(r.error, HttpClientErrc::tls_failed) << r.describe();
  EXPECT_NE(r.error_message.find("certificate"), std::string::npos) << r.error_message;
  EXPECT_EQ(r.attempts, 1);
  server.join();
  EXPECT_EQ(server.handshakes_ok(), 0);
}

TEST_F(HttpClientTlsTest, HostNameMismatchFails) {
  TlsServer server(*localhost_only_, 1);
  ClientOptions options;
  options.ca_file = (*dir_ / "ca-localhost.pem").string();
  HttpResult r = get("https://127.0.0.1:" + server.port(), options);
  EXPECT_EQ(r.error, HttpClientErrc::tls_failed) << r.describe();
  EXPECT_NE(r.error_message.find("mismatch"), std::string::npos) << r.error_message;
  EXPECT_EQ(r.attempts, 1);
}

TEST_F(HttpClientTlsTest, VerificationCanBeTurnedOff) {
  TlsServer server(*localhost_only_, 1);
  ClientOptions options;
  options.verify_tls = false;
  HttpResult r = get("https://127.0.0.1:" + server.port(), options);
  EXPECT_TRUE(r.ok()) << r.describe();
}

TEST_F(HttpClientTlsTest, UnreadableCaFileIsReported) {
  ClientOptions options;
  options.ca_file = (*dir_ / "missing.pem").string();
  HttpResult r = get("https://127.0.0.1:1", options);
  EXPECT_EQ(r.error, HttpClientErrc::invalid_request) << r.describe();
  EXPECT_NE(r.error_message.find("missing.pem"), std::string::npos) << r.error_message;
}

}  // namespace
}  // namespace stratus
