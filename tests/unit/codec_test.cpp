#include <gtest/gtest.h>

#include "stratus/common/base64.hpp"
#include "stratus/common/http_message.hpp"
#include "stratus/common/request_id.hpp"

using namespace stratus;

TEST(Base64, RoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto encoded = base64_encode(bytes);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << i;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37));
  }
}

TEST(Base64, KnownVectors) {
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(*base64_decode("Zm8="), "fo");
}

TEST(Base64, RejectsMalformed) {
  EXPECT_FALSE(base64_decode("Zm8").has_value());
  EXPECT_FALSE(base64_decode("Zm8*").has_value());
  EXPECT_FALSE(base64_decode("Z=m8").has_value());
  EXPECT_FALSE(base64_decode("Zm 8").has_value());
}

TEST(PercentDecode, DecodesAndRejects) {
  EXPECT_EQ(*percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
  EXPECT_EQ(*percent_decode("a+b", true), "a b");
  EXPECT_EQ(*percent_decode("a+b", false), "a+b");
  EXPECT_FALSE(percent_decode("%").has_value());
  EXPECT_FALSE(percent_decode("%4").has_value());
  EXPECT_FALSE(percent_decode("%zz").has_value());
}

TEST(ParseQuery, SplitsPairs) {
  auto q = parse_query("MaxItems=2&Marker=a%20b&flag");
  ASSERT_TRUE(q.has_value());
  ASSERT_EQ(q->size(), 3u);
  EXPECT_EQ((*q)[1].second, "a b");
  EXPECT_EQ((*q)[2].first, "flag");
}

TEST(Headers, CaseInsensitive) {
  HttpHeaders h;
  h.add("X-Amz-Log-Type", "Tail");
  EXPECT_EQ(h.get("x-amz-log-type"), "Tail");
  h.set("X-AMZ-LOG-TYPE", "None");
  EXPECT_EQ(h.fields().size(), 1u);
  EXPECT_EQ(h.get("X-Amz-Log-Type"), "None");
}

TEST(RequestId, IsUuidV4) {
  auto id = make_request_id();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
  EXPECT_NE(make_request_id(), id);
}

#include "stratus/emulator/json_validation.hpp"

TEST(JsonValidator, AgreesWithTheJsonGrammar) {
  stratus::emulator::JsonValidator v;
  for (const char* ok : {"{}", "[]", "1", "\"s\"", "null", " {\"a\": [1, 2.5e-3, true, null]} ",
                         "123456789012345678901234567890", "{\"\\u00e9\": \"\xc3\xa9\"}"}) {
    EXPECT_TRUE(v.valid(ok)) << ok;
  }
  for (const char* bad : {"{", "{\"a\":}", "[1,]", "nul", "{} {}", "'x'", "\"\xff\"", "01"}) {
    EXPECT_FALSE(v.valid(bad)) << bad;
  }
}
