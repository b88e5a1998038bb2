#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
  EXPECT_FALSE(base64_decode("====").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("Zg=A").has_value());
  EXPECT_FALSE(base64_decode("=Zm8").has_value());
  EXPECT_FALSE(base64_decode("Zm8=Zm8=").has_value());
  EXPECT_FALSE(base64_decode("Zm8\nZm8=").has_value());
  EXPECT_FALSE(base64_decode(std::string_view("Zm\0=", 4)).has_value());
}

TEST(Base64, IgnoresTheUnusedBitsOfAPaddedGroupAsOpenSslDid) {
  EXPECT_EQ(*base64_decode("Zh=="), "f");
  EXPECT_EQ(*base64_decode("Zm9="), "fo");
  EXPECT_EQ(*base64_decode("Zm9vZh=="), "foof");
}

namespace {

// An independent decoder for the differential test below: a bit accumulator over alphabet indices.
std::optional<std::string> reference_base64_decode(std::string_view text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    const std::size_t value = alphabet.find(text[i]);
    if (value == std::string::npos) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace

TEST(Base64, EveryByteInEveryPlaceIsJudgedAsByAnIndependentDecoder) {
  const std::string encoded = base64_encode("stratus tensor!");  // 20 characters, one '='
  for (const std::string& valid : {encoded, std::string("Zm9vYg=="), std::string("Zm9vYmFy")}) {
    for (std::size_t at = 0; at < valid.size(); ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string text = valid;
        text[at] = static_cast<char>(byte);
        EXPECT_EQ(base64_decode(text), reference_base64_decode(text)) << text << " at " << at;
      }
    }
  }
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

TEST(RequestId, LayoutIsEightFourFourFourTwelveLowerHex) {
  for (int i = 0; i < 200; ++i) {
    const auto id = make_request_id();
    ASSERT_EQ(id.size(), 36u);
    for (std::size_t k = 0; k < id.size(); ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) {
        EXPECT_EQ(id[k], '-') << id;
      } else {
        EXPECT_NE(std::string_view("0123456789abcdef").find(id[k]), std::string_view::npos) << id;
      }
    }
  }
}

TEST(RequestId, HexIdsAreSizedAndAppended) {
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 32u, 48u}) {
    const auto id = make_hex_id(n);
    ASSERT_EQ(id.size(), n);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  }
  std::string out = "Root=";
  append_hex_id(out, 24);
  ASSERT_EQ(out.size(), 29u);
  EXPECT_EQ(out.substr(0, 5), "Root=");
  EXPECT_EQ(out.find_first_not_of("0123456789abcdef", 5), std::string::npos) << out;
  EXPECT_NE(make_hex_id(32), make_hex_id(32));
}

#include "stratus/emulator/lambda/json_validation.hpp"
#include "stratus/emulator/lambda/recursion_chain.hpp"

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

TEST(RecursionChain, TraceHeaderKeepsTheRootAndCountsTheHop) {
  using stratus::emulator::chain_trace_header;
  using stratus::emulator::lineage_hops;
  const std::string hex = "0123456789abcdef";
  // From outside any function: a new root, a parent and a lineage at hop 1.
  const auto fresh = chain_trace_header("", 1);
  ASSERT_EQ(fresh.size(), std::string("Root=1-").size() + 8 + 1 + 24 + std::string(";Parent=").size() + 16 +
                              std::string(";Sampled=0;Lineage=").size() + 8 + 2);
  EXPECT_EQ(fresh.substr(0, 7), "Root=1-");
  EXPECT_EQ(fresh.substr(7, 8).find_first_not_of(hex), std::string::npos) << fresh;
  EXPECT_EQ(fresh[15], '-');
  EXPECT_EQ(fresh.substr(16, 24).find_first_not_of(hex), std::string::npos) << fresh;
  EXPECT_EQ(fresh.substr(40, 8), ";Parent=");
  EXPECT_EQ(fresh.substr(64, 19), ";Sampled=0;Lineage=");
  EXPECT_EQ(fresh.substr(91), ":1");
  EXPECT_EQ(lineage_hops(fresh), 1);
  // A caller's root is kept, and the hop count is the one given.
  const auto next = chain_trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=abcd1234:11", 12);
  EXPECT_EQ(next.substr(0, 40), "Root=1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_EQ(next.substr(next.size() - 3), ":12");
  EXPECT_EQ(lineage_hops(next), 12);
  // A root over 64 characters is replaced, not copied.
  const auto replaced = chain_trace_header("Root=" + std::string(65, 'a'), 3);
  EXPECT_EQ(replaced.substr(0, 7), "Root=1-");
  EXPECT_EQ(lineage_hops(replaced), 3);
}
