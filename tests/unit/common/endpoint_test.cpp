#include <gtest/gtest.h>

#include <stdexcept>

#include "stratus/common/http_client.hpp"

namespace stratus {
namespace {

TEST(Endpoint, ParsesSchemeHostAndPort) {
  Endpoint ep = Endpoint::parse("http://127.0.0.1:9001");
  EXPECT_EQ(ep.scheme, "http");
  EXPECT_EQ(ep.host, "127.0.0.1");
  EXPECT_EQ(ep.port, "9001");
  EXPECT_EQ(ep.path, "");
  EXPECT_EQ(ep.host_header(), "127.0.0.1:9001");
  EXPECT_EQ(ep.origin(), "http://127.0.0.1:9001");
}

TEST(Endpoint, DefaultsPortFromScheme) {
  Endpoint https = Endpoint::parse("HTTPS://Lambda.US-East-1.amazonaws.com/");
  EXPECT_TRUE(https.tls());
  EXPECT_EQ(https.host, "lambda.us-east-1.amazonaws.com");
  EXPECT_EQ(https.port, "443");
  EXPECT_EQ(https.host_header(), "lambda.us-east-1.amazonaws.com");
  Endpoint http = Endpoint::parse("http://localhost");
  EXPECT_EQ(http.port, "80");
  EXPECT_EQ(http.host_header(), "localhost");
}

TEST(Endpoint, KeepsPathPrefixWithoutTrailingSlash) {
  EXPECT_EQ(Endpoint::parse("http://h:1/a/b/").path, "/a/b");
  EXPECT_EQ(Endpoint::parse("http://h:1/").path, "");
}

TEST(Endpoint, Ipv6Literal) {
  Endpoint ep = Endpoint::parse("http://[::1]:8080/");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, "8080");
  EXPECT_EQ(ep.host_header(), "[::1]:8080");
  EXPECT_EQ(Endpoint::parse("https://[::1]").host_header(), "[::1]");
}

TEST(Endpoint, RejectsMalformedUrls) {
  for (const char* bad : {"127.0.0.1:80", "ftp://host", "http://", "http://:80",
                          "http://h:", "http://h:0", "http://h:70000", "http://h:8x", "http://u@h",
                          "http://h/?q=1", "http://[::1", "http://[::1]x"}) {
    EXPECT_THROW(Endpoint::parse(bad), std::invalid_argument) << bad;
  }
}

}  // namespace
}  // namespace stratus
