#include <gtest/gtest.h>

#include "stratus/common/sigv4.hpp"

using namespace stratus;
using namespace stratus::aws;

namespace {

const Credentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

std::chrono::system_clock::time_point example_time() {
  std::tm tm{};
  tm.tm_year = 2015 - 1900;
  tm.tm_mon = 7;
  tm.tm_mday = 30;
  tm.tm_hour = 12;
  tm.tm_min = 36;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

HttpRequest request(std::string method, std::string target, std::string host, std::string body = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.add("Host", std::move(host));
  r.body = std::move(body);
  return r;
}

std::string signature_of(const HttpRequest& r) {
  auto auth = r.headers.get("Authorization");
  return auth.substr(auth.find("Signature=") + 10);
}

}  // namespace

// AWS's published example (IAM ListUsers); the same signature botocore computes.
TEST(SigV4, AwsDocumentationExample) {
  auto r = request("GET", "/?Action=ListUsers&Version=2010-05-08", "iam.amazonaws.com");
  r.headers.add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  sign(r, kExample, {"us-east-1", "iam"}, example_time());
  EXPECT_EQ(r.headers.get("X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(r.headers.get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

// Signatures that botocore 1.26 (Debian 12) computed for the same requests, keys and time: a Lambda
// invoke with a body, and a list with a query string and a session token.
TEST(SigV4, MatchesBotocoreForLambdaInvoke) {
  auto r = request("POST", "/2015-03-31/functions/echo/invocations", "127.0.0.1:9001", R"({"a":1})");
  r.headers.add("X-Amz-Invocation-Type", "RequestResponse");
  sign(r, kExample, {"us-east-1", "lambda"}, example_time());
  EXPECT_EQ(signature_of(r), "172d18054dd8565ddc7843d5e49add6903c6392168b29568f92aa53407689c3b");
}

TEST(SigV4, MatchesBotocoreWithQueryAndSessionToken) {
  auto r = request("GET", "/2015-03-31/functions/?MaxItems=2&Marker=a%20b", "127.0.0.1:9001");
  Credentials creds = kExample;
  creds.session_token = "TOKEN123";
  sign(r, creds, {"us-east-1", "lambda"}, example_time());
  EXPECT_EQ(r.headers.get("X-Amz-Security-Token"), "TOKEN123");
  EXPECT_EQ(signature_of(r), "c747c476ad1f7c0770ad111bd13098f1efeb3d57ae775104eba6f2f24d3c0cfa");
}

TEST(SigV4, VerifyAcceptsOwnSignatureAndRejectsTampering) {
  auto lookup = [](const std::string& key) -> std::optional<std::string> {
    if (key == "AKIDEXAMPLE") return kExample.secret_access_key;
    return std::nullopt;
  };
  auto r = request("POST", "/2015-03-31/functions/echo/invocations", "127.0.0.1:9001", R"({"a":1})");
  sign(r, kExample, {"us-east-1", "lambda"}, example_time());
  EXPECT_EQ(verify(r, r.body, lookup, example_time()), VerifyResult::Ok);
  EXPECT_EQ(verify(r, R"({"a":2})", lookup, example_time()), VerifyResult::Mismatch);
  auto moved = r;
  moved.target = "/2015-03-31/functions/other/invocations";
  EXPECT_EQ(verify(moved, moved.body, lookup, example_time()), VerifyResult::Mismatch);
  EXPECT_EQ(verify(r, r.body, lookup, example_time() + std::chrono::minutes(16)), VerifyResult::Expired);
  auto stranger = request("GET", "/", "h");
  sign(stranger, Credentials{"OTHER", "secret", ""}, {"us-east-1", "lambda"}, example_time());
  EXPECT_EQ(verify(stranger, "", lookup, example_time()), VerifyResult::UnknownKey);
  auto unsigned_request = request("GET", "/", "h");
  EXPECT_EQ(verify(unsigned_request, "", lookup, example_time()), VerifyResult::Missing);
  unsigned_request.headers.add("Authorization", "AWS4-HMAC-SHA256 garbage");
  EXPECT_EQ(verify(unsigned_request, "", lookup, example_time()), VerifyResult::Malformed);
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(uri_encode("a b/c~d", true), "a%20b/c~d");
  EXPECT_EQ(uri_encode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(uri_encode("arn:aws", true), "arn%3Aaws");
}
