// A fully static program that uses the S3 client, as the function bootstrap would. Linking it
// proves stratus_aws pulls nothing that has no static archive (libssl.a, libcrypto.a); running it
// proves a static glibc resolves names ("localhost" through /etc/hosts) and that the TLS setup
// finds a CA bundle. Exit status 0 when all holds; what it found is printed either way.
//
//   stratus-s3-static-probe [http://host:port]   also puts and gets an object through that server

#include <openssl/x509.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "stratus/common/s3_client.hpp"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stratus;
  std::printf("OpenSSL compiled-in CA file %s, dir %s\n", X509_get_default_cert_file(),
              X509_get_default_cert_dir());

  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  auto results = resolver.resolve("localhost", "80", ec);
  std::string addresses;
  for (const auto& entry : results) {
    addresses += ' ';
    addresses += entry.endpoint().address().to_string();
  }
  if (ec) addresses.assign(1, ' ').append(ec.message());
  check(!ec && !results.empty(), "resolve localhost:" + addresses);

  // Nothing listens on port 1: a call must get as far as connecting, past the name resolution and
  // the TLS context (CA bundle) setup.
  for (const char* url : {"http://localhost:1", "https://localhost:1"}) {
    aws::S3ClientOptions options;
    options.endpoint = Endpoint::parse(url);
    options.credentials = {"AK", "SK", ""};
    options.retry.max_attempts = 1;
    options.call_deadline = std::chrono::seconds(5);
    aws::S3Client client(options);
    try {
      client.head("bucket", "key");
      check(false, std::string(url) + ": unexpectedly answered");
    } catch (const aws::S3Error& e) {
      bool connect_failed = e.transport_error() == HttpClientErrc::connect_failed;
      check(connect_failed, std::string(url) + ": " + e.what());
    }
  }

  if (argc > 1) {
    aws::S3ClientOptions options;
    options.endpoint = Endpoint::parse(argv[1]);
    options.credentials = {"test", "test", ""};
    options.region = "us-east-1";
    try {
      aws::S3Client client(options);
      client.create_bucket("static-probe");
      client.put("static-probe", "hello", "from a static binary");
      check(client.get("static-probe", "hello") == "from a static binary",
            std::string("put and get through ") + argv[1]);
    } catch (const std::exception& e) {
      check(false, std::string(argv[1]) + ": " + e.what());
    }
  }
  return failures == 0 ? 0 : 1;
}
