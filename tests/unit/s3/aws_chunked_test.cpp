#include "stratus/emulator/s3/aws_chunked.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

using stratus::emulator::s3::AwsChunkedDecoder;

namespace {

struct Decoded {
  bool feed_ok = true;
  bool complete = false;  // end_of_input() after all pieces
  bool finished = false;  // finished() before end_of_input()
  std::string data;
  std::string error;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::vector<std::string> signatures;
  std::size_t calls = 0;
};

// Feeds `encoded` cut at `cuts` (ascending offsets), then signals the end of the body.
Decoded decode(std::string_view encoded, const std::vector<std::size_t>& cuts = {},
               AwsChunkedDecoder::Limits limits = {}) {
  AwsChunkedDecoder d(limits);
  Decoded out;
  auto sink = [&](std::string_view piece) {
    out.data.append(piece);
    ++out.calls;
  };
  std::size_t at = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(encoded.size());
  for (std::size_t end : ends) {
    if (!d.feed(encoded.substr(at, end - at), sink)) out.feed_ok = false;
    at = end;
  }
  out.finished = d.finished();
  out.complete = d.end_of_input();
  out.error = d.error();
  out.trailers = d.trailers();
  out.signatures = d.chunk_signatures();
  EXPECT_EQ(d.decoded_size(), out.data.size());
  return out;
}

std::string sig(char c) {
  return std::string(64, c);
}

std::string signed_chunk(std::string_view data, char s) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx", data.size());
  return std::string(hex) + ";chunk-signature=" + sig(s) + "\r\n" + std::string(data) + "\r\n";
}

// Real-client encodings: every one must decode to `data` with these trailers whatever the split.
struct Case {
  const char* name;
  std::string encoded;
  std::string data;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::size_t signatures;
};

std::vector<Case> good_cases() {
  std::vector<Case> cases;
  // botocore 1.43 over https (captured): unsigned, CRC32 trailer.
  cases.push_back({"botocore_trailer",
                   "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
                   "hello",
                   {{"x-amz-checksum-crc32", "NhCmhg=="}},
                   0});
  // botocore, empty object: only the final chunk and the trailer.
  cases.push_back({"botocore_empty",
                   "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
                   "",
                   {{"x-amz-checksum-crc32", "AAAAAA=="}},
                   0});
  // botocore without a checksum.
  cases.push_back({"no_trailer",
                   "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                   "abcdefghijklmnopqrstuvwxyz",
                   {},
                   0});
  cases.push_back({"two_chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", {}, 0});
  // Signed streaming (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), no trailer.
  cases.push_back({"signed",
                   signed_chunk("hello", 'a') + signed_chunk(" world", 'b') +
                       "0;chunk-signature=" + sig('c') + "\r\n\r\n",
                   "hello world",
                   {},
                   3});
  // Signed with trailers: checksum then x-amz-trailer-signature.
  cases.push_back({"signed_trailer",
                   signed_chunk("hello", 'a') + "0;chunk-signature=" + sig('b') +
                       "\r\nx-amz-checksum-crc32c:mnG7TA==\r\nx-amz-trailer-signature:" + sig('c') +
                       "\r\n\r\n",
                   "hello",
                   {{"x-amz-checksum-crc32c", "mnG7TA=="}, {"x-amz-trailer-signature", sig('c')}},
                   2});
  // minio-go: each trailer field ends "\n" before the CRLF.
  cases.push_back({"minio_unsigned_trailer",
                   "5\r\nhello\r\n0\r\nx-amz-checksum-crc32c:mnG7TA==\n\r\n\r\n",
                   "hello",
                   {{"x-amz-checksum-crc32c", "mnG7TA=="}},
                   0});
  cases.push_back({"minio_signed_trailer",
                   signed_chunk("hello", 'a') + "0;chunk-signature=" + sig('b') +
                       "\r\nx-amz-checksum-crc32c:mnG7TA==\n\r\nx-amz-trailer-signature:" +
                       sig('c') + "\r\n\r\n",
                   "hello",
                   {{"x-amz-checksum-crc32c", "mnG7TA=="}, {"x-amz-trailer-signature", sig('c')}},
                   2});
  // Several trailers, mixed-case names, blanks around ':' and the value.
  cases.push_back({"multi_trailer",
                   "3\r\nabc\r\n0\r\nX-Amz-Checksum-CRC32 : NSRBwg== \r\nx-amz-meta-a:\t1\r\n"
                   "x-empty:\r\n\r\n",
                   "abc",
                   {{"x-amz-checksum-crc32", "NSRBwg=="}, {"x-amz-meta-a", "1"}, {"x-empty", ""}},
                   0});
  // Upper-case hex and leading zeros (other SDKs format sizes differently).
  cases.push_back(
      {"hex_forms", "A\r\n0123456789\r\n00003\r\nabc\r\n000\r\n\r\n", "0123456789abc", {}, 0});
  // An empty extension (minio-go's unsigned chunk header) and an unknown extension.
  cases.push_back(
      {"extensions", "5;\r\nhello\r\n1 ; x=y ;flag\r\n!\r\n0\r\n\r\n", "hello!", {}, 0});
  // Data containing CR, LF and "0\r\n\r\n" must not confuse the framing.
  cases.push_back({"binary_data",
                   std::string("a\r\n0\r\n\r\n\n\r\0\xff\r\r\n0\r\n\r\n", 20),
                   std::string("0\r\n\r\n\n\r\0\xff\r", 10),
                   {},
                   0});
  return cases;
}

}  // namespace

TEST(AwsChunked, RealClientEncodingsDecodeAtEverySplitPoint) {
  for (const auto& c : good_cases()) {
    SCOPED_TRACE(c.name);
    for (std::size_t cut = 0; cut <= c.encoded.size(); ++cut) {
      Decoded d = decode(c.encoded, {cut});
      ASSERT_TRUE(d.feed_ok) << "cut " << cut << ": " << d.error;
      ASSERT_TRUE(d.finished) << "cut " << cut;
      ASSERT_TRUE(d.complete) << "cut " << cut;
      ASSERT_EQ(d.data, c.data) << "cut " << cut;
      ASSERT_EQ(d.trailers, c.trailers) << "cut " << cut;
      ASSERT_EQ(d.signatures.size(), c.signatures) << "cut " << cut;
    }
  }
}

TEST(AwsChunked, DecodesFedOneByteAtATimeAndAtEveryPairOfCuts) {
  for (const auto& c : good_cases()) {
    SCOPED_TRACE(c.name);
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < c.encoded.size(); ++i) every.push_back(i);
    Decoded bytewise = decode(c.encoded, every);
    EXPECT_TRUE(bytewise.feed_ok && bytewise.complete) << bytewise.error;
    EXPECT_EQ(bytewise.data, c.data);
    EXPECT_EQ(bytewise.trailers, c.trailers);
    if (c.encoded.size() > 120) continue;
    for (std::size_t a = 0; a <= c.encoded.size(); ++a) {
      for (std::size_t b = a; b <= c.encoded.size(); ++b) {
        Decoded d = decode(c.encoded, {a, b});
        ASSERT_TRUE(d.feed_ok && d.complete) << a << "," << b << ": " << d.error;
        ASSERT_EQ(d.data, c.data) << a << "," << b;
      }
    }
  }
}

TEST(AwsChunked, SignaturesAreKeptInOrderLowerCased) {
  std::string enc = "1;chunk-signature=" + std::string(64, 'A') +
                    "\r\nx\r\n0;chunk-signature=" + std::string(32, '0') + std::string(32, 'f') +
                    "\r\n\r\n";
  AwsChunkedDecoder d;
  ASSERT_TRUE(d.feed(enc, [](std::string_view) {})) << d.error();
  ASSERT_TRUE(d.finished());
  ASSERT_EQ(d.chunk_signatures().size(), 2u);
  EXPECT_EQ(d.chunk_signatures()[0], std::string(64, 'a'));
  EXPECT_EQ(d.chunk_signatures()[1], std::string(32, '0') + std::string(32, 'f'));
  EXPECT_EQ(d.chunk_count(), 2u);
}

TEST(AwsChunked, SignatureListIsCapped) {
  AwsChunkedDecoder::Limits limits;
  limits.max_signatures = 2;
  std::string enc = signed_chunk("a", '1') + signed_chunk("b", '2') + signed_chunk("c", '3') +
                    "0;chunk-signature=" + sig('4') + "\r\n\r\n";
  AwsChunkedDecoder d(limits);
  ASSERT_TRUE(d.feed(enc, [](std::string_view) {}));
  EXPECT_EQ(d.chunk_signatures().size(), 2u);
  EXPECT_EQ(d.signatures_dropped(), 2u);
  EXPECT_EQ(d.chunk_count(), 4u);
}

// The data path hands over whole runs: a 1 MiB chunk fed at once is one call, fed in 64 KiB pieces
// one call per piece -- never per byte.
TEST(AwsChunked, DataArrivesInLargeSpans) {
  std::string data(1 << 20, 'z');
  std::string enc = "100000\r\n" + data + "\r\n0\r\n\r\n";
  Decoded whole = decode(enc);
  EXPECT_TRUE(whole.complete);
  EXPECT_EQ(whole.calls, 1u);
  std::vector<std::size_t> cuts;
  for (std::size_t at = 65536; at < enc.size(); at += 65536) cuts.push_back(at);
  Decoded pieces = decode(enc, cuts);
  EXPECT_TRUE(pieces.complete);
  EXPECT_EQ(pieces.data.size(), data.size());
  EXPECT_LE(pieces.calls, cuts.size() + 1);
}

// The AWS SDK for JavaScript v3 ends a checksum-less body with "0\r\n" and nothing more.
TEST(AwsChunked, FinalChunkWithoutClosingLineIsCompleteAtEndOfInput) {
  AwsChunkedDecoder d;
  std::string got;
  ASSERT_TRUE(d.feed("5\r\nhello\r\n0\r\n", [&](std::string_view p) { got.append(p); }));
  EXPECT_FALSE(d.finished());  // trailers could still follow
  EXPECT_TRUE(d.end_of_input());
  EXPECT_TRUE(d.finished());
  EXPECT_EQ(got, "hello");
  // A trailer line without the closing empty line is complete too: nothing was cut.
  AwsChunkedDecoder t;
  ASSERT_TRUE(t.feed("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n", [](std::string_view) {}));
  EXPECT_TRUE(t.end_of_input());
  ASSERT_EQ(t.trailer("x-amz-checksum-crc32"), std::optional<std::string_view>("AAAAAA=="));
}

TEST(AwsChunked, TruncationIsReportedAtEndOfInput) {
  const std::string enc = "5;chunk-signature=" + sig('a') +
                          "\r\nhello\r\n0;chunk-signature=" + sig('b') +
                          "\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
  // The only cut points a body may end at: after the final chunk line, after the trailer line,
  // and the end.
  const std::size_t final_line_end = enc.find("x-amz");
  const std::size_t trailer_end = enc.size() - 2;
  for (std::size_t len = 0; len < enc.size(); ++len) {
    AwsChunkedDecoder d;
    ASSERT_TRUE(d.feed(std::string_view(enc).substr(0, len), [](std::string_view) {}));
    bool acceptable = len == final_line_end || len == trailer_end;
    EXPECT_EQ(d.end_of_input(), acceptable) << len;
    if (!acceptable) {
      EXPECT_NE(d.error().find("truncated"), std::string::npos) << d.error();
    }
  }
}

namespace {

// Expects `encoded` (fed whole) to fail with `what` in the message at encoded offset `offset`.
void expect_malformed(std::string_view encoded, std::string_view what, std::uint64_t offset,
                      AwsChunkedDecoder::Limits limits = {}) {
  SCOPED_TRACE(std::string(encoded.substr(0, 60)));
  AwsChunkedDecoder d(limits);
  std::string got;
  EXPECT_FALSE(d.feed(encoded, [&](std::string_view p) { got.append(p); }));
  EXPECT_TRUE(d.failed());
  EXPECT_NE(d.error().find(what), std::string::npos) << d.error();
  EXPECT_NE(d.error().find("at encoded offset " + std::to_string(offset)), std::string::npos)
      << d.error();
  // Failure is sticky and the message does not change.
  std::string first = d.error();
  EXPECT_FALSE(d.feed("0\r\n\r\n", [](std::string_view) {}));
  EXPECT_FALSE(d.end_of_input());
  EXPECT_EQ(d.error(), first);
  // Every split point fails the same way.
  for (std::size_t cut = 0; cut <= encoded.size(); ++cut) {
    AwsChunkedDecoder s(limits);
    bool ok = s.feed(encoded.substr(0, cut), [](std::string_view) {}) &&
              s.feed(encoded.substr(cut), [](std::string_view) {});
    ASSERT_FALSE(ok) << cut;
    ASSERT_EQ(s.error(), first) << cut;
  }
}

}  // namespace

TEST(AwsChunked, RejectsBadSizes) {
  expect_malformed("g\r\nhello\r\n", "not hexadecimal", 0);
  expect_malformed("\r\n", "not hexadecimal", 0);
  expect_malformed(" 5\r\nhello\r\n", "not hexadecimal", 0);
  expect_malformed("-5\r\nhello\r\n", "not hexadecimal", 0);
  expect_malformed("0x5\r\nhello\r\n", "malformed chunk header", 1);
  expect_malformed("5\r\nhello\r\n5x\r\nhello\r\n", "malformed chunk header", 11);
  expect_malformed("10000000000000000\r\n", "overflows 64 bits", 0);
  expect_malformed("5\r\nhello\r\n00000000000000000000000000FFFFFFFFFFFFFFFFF\r\n", "overflows",
                   10);
}

TEST(AwsChunked, RejectsBrokenFraming) {
  expect_malformed("5\r\nhelloX\r\n0\r\n\r\n", "expected CRLF after chunk data", 8);
  expect_malformed("5\r\nhello\rX0\r\n\r\n", "expected CRLF after chunk data", 9);
  expect_malformed("5\r\nhello\n0\r\n\r\n", "expected CRLF after chunk data", 8);
  expect_malformed("5\nhello\r\n0\r\n\r\n", "bare LF", 0);
  expect_malformed("5\r\nhello\r\n0\n\r\n", "bare LF", 10);
  expect_malformed("0\r\n\r\nX", "data after the end", 5);
  expect_malformed("0\r\n\r\n\r\n", "data after the end", 5);
  expect_malformed("5\r\nhello\r\n0\r\n\r\n0\r\n\r\n", "data after the end", 15);
}

TEST(AwsChunked, RejectsBadSignaturesAndExtensions) {
  expect_malformed("5;chunk-signature=" + std::string(63, 'a') + "\r\nhello\r\n",
                   "chunk-signature is not 64 hex digits", 2);
  expect_malformed("5;chunk-signature=" + std::string(63, 'a') + "g\r\nhello\r\n",
                   "chunk-signature is not 64 hex digits", 2);
  expect_malformed("5;chunk-signature\r\nhello\r\n", "chunk-signature is not 64 hex digits", 2);
  expect_malformed("5;chunk-signature=" + sig('a') + ";chunk-signature=" + sig('b') + "\r\n",
                   "two chunk-signature", 83);
  expect_malformed("5;=x\r\nhello\r\n", "malformed chunk extension", 2);
  expect_malformed("5;a=\r\nhello\r\n", "malformed chunk extension", 2);
  expect_malformed("5;a b\r\nhello\r\n", "malformed chunk header", 4);
}

TEST(AwsChunked, RejectsBadTrailers) {
  expect_malformed("0\r\nno-colon\r\n\r\n", "trailer without ':'", 3);
  expect_malformed("0\r\n:value\r\n\r\n", "invalid trailer name", 3);
  expect_malformed("0\r\nbad name:v\r\n\r\n", "invalid trailer name", 3);
  expect_malformed("0\r\nx-amz(:v\r\n\r\n", "invalid trailer name", 3);
  expect_malformed(std::string("0\r\nname:a\x01z\r\n\r\n"), "control character", 3);
  expect_malformed("0\r\nname:a\rz\r\n\r\n", "control character", 3);
  expect_malformed("0\r\nok:1\r\nname:a\x7f\r\n\r\n", "control character", 9);
}

TEST(AwsChunked, EnforcesLimits) {
  AwsChunkedDecoder::Limits small;
  small.max_line = 16;
  // A header line of exactly max_line bytes is fine; one more is not.
  Decoded ok = decode("5;abcdefghijklmn\r\nhello\r\n0\r\n\r\n", {}, small);
  EXPECT_TRUE(ok.complete) << ok.error;
  expect_malformed("5;abcdefghijklmno\r\nhello\r\n", "line longer than 16 bytes", 0, small);
  expect_malformed("5\r\nhello\r\n0\r\nx-amz-meta-long:0123456789\r\n\r\n", "line longer than 16",
                   13, small);
  // An endless line without CRLF is refused as soon as it passes the limit.
  expect_malformed(std::string(100, '1'), "line longer than 16 bytes", 0, small);

  AwsChunkedDecoder::Limits trailers;
  trailers.max_trailer_bytes = 20;
  Decoded fits = decode("0\r\na:12345678901234\r\n\r\n", {}, trailers);  // 20 bytes of trailer
  EXPECT_TRUE(fits.complete) << fits.error;
  expect_malformed("0\r\na:123456789012345\r\n\r\n", "trailer section longer than 20", 22,
                   trailers);

  // Whichever limit is crossed first in byte order is reported, whatever the split.
  AwsChunkedDecoder::Limits both;
  both.max_line = 16;
  both.max_trailer_bytes = 10;
  expect_malformed("0\r\nabcdefghijklmn\r\n\r\n", "trailer section longer than 10", 3, both);
  both.max_trailer_bytes = 30;
  expect_malformed("0\r\nabcdefghijklmnopqrstuvwxyz\r\n\r\n", "line longer than 16", 3, both);

  AwsChunkedDecoder::Limits decoded;
  decoded.max_decoded = 10;
  Decoded exact = decode("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", {}, decoded);
  EXPECT_TRUE(exact.complete) << exact.error;
  expect_malformed("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "exceed the limit of 10 bytes", 10,
                   decoded);
  expect_malformed("FFFFFFFFFFFFFFFF\r\n", "exceed the limit of 10 bytes", 0, decoded);
}

// A huge declared size with the default (unlimited) max_decoded is accepted until the data runs
// out, which end_of_input() reports.
TEST(AwsChunked, HugeDeclaredSizeIsTruncationNotOverflow) {
  AwsChunkedDecoder d;
  std::string got;
  ASSERT_TRUE(d.feed("FFFFFFFFFFFFFFFF\r\nabc", [&](std::string_view p) { got.append(p); }));
  EXPECT_EQ(got, "abc");
  EXPECT_FALSE(d.end_of_input());
  EXPECT_NE(d.error().find("bytes of chunk data missing"), std::string::npos) << d.error();
}
