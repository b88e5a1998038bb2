#include "stratus/emulator/s3/s3_names.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace stratus::emulator::s3;

TEST(BucketName, ValidNames) {
  for (const char* name :
       {"abc", "my-bucket", "my.bucket.name", "a1b2c3", "123", "amzn-s3-demo", "xn-bucket",
        "bucket-s3alias-not-suffix", "192.168.5.4x", "1.2.3", "1.2.3.4.5", "a-.b", "a.-b",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_EQ(bucket_name_problem(name), std::nullopt) << name;
  }
}

TEST(BucketName, InvalidNamesSayWhy) {
  struct Case {
    const char* name;
    const char* why;
  };
  const Case cases[] = {
      {"", "between 3 and 63"},
      {"ab", "between 3 and 63"},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "between 3 and 63"},
      {"MyBucket", "not 'M'"},
      {"my_bucket", "not '_'"},
      {"my bucket", "not ' '"},
      {"caf\xc3\xa9s", "byte 0xc3"},
      {"-bucket", "begin and end"},
      {"bucket-", "begin and end"},
      {".bucket", "begin and end"},
      {"bucket.", "begin and end"},
      {"my..bucket", "two adjacent periods"},
      {"192.168.5.4", "IP address"},
      {"10.0.0.1", "IP address"},
      {"999.999.999.999", "IP address"},
      {"xn--bucket", "prefix 'xn--'"},
      {"sthree-bucket", "prefix 'sthree-'"},
      {"sthree-configurator", "prefix 'sthree-'"},
      {"amzn-s3-demo-bucket", "prefix 'amzn-s3-demo-'"},
      {"bucket-s3alias", "suffix '-s3alias'"},
      {"bucket--ol-s3", "suffix '--ol-s3'"},
      {"bucket.mrap", "suffix '.mrap'"},
      {"bucket--x-s3", "suffix '--x-s3'"},
      {"bucket--table-s3", "suffix '--table-s3'"},
  };
  for (const auto& c : cases) {
    auto problem = bucket_name_problem(c.name);
    ASSERT_TRUE(problem.has_value()) << c.name;
    EXPECT_NE(problem->find(c.why), std::string::npos) << c.name << ": " << *problem;
  }
}

TEST(ObjectKey, Acceptable) {
  for (std::string key :
       {std::string("a"), std::string(" "), std::string("dir/sub/file.txt"),
        std::string("a\r\nb\tc\x01\x7f"), std::string("caf\xc3\xa9"),
        std::string("\xf0\x9f\x98\x80"), std::string("\xef\xbf\xbf"),
        std::string("\xf4\x8f\xbf\xbf"), std::string(1024, 'k'),
        std::string(341, 'x') + std::string("\xe2\x82\xac") + std::string(680, 'y')}) {
    EXPECT_EQ(object_key_problem(key), std::nullopt) << key.size();
  }
}

TEST(ObjectKey, Rejected) {
  struct Case {
    std::string key;
    const char* why;
  };
  const Case cases[] = {
      {"", "empty"},
      {std::string(1025, 'k'), "at most 1024 bytes"},
      {std::string(1022, 'k') + "\xe2\x82\xac", "at most 1024 bytes"},  // 1025 bytes of UTF-8
      {std::string("a\0b", 3), "NUL"},
      {"\x80", "UTF-8"},                  // continuation without a lead
      {"\xc3", "UTF-8"},                  // truncated
      {"\xc3\x28", "UTF-8"},              // bad continuation
      {"\xc0\xaf", "UTF-8"},              // overlong '/'
      {"\xe0\x80\xaf", "UTF-8"},          // overlong '/'
      {"\xf0\x80\x80\xaf", "UTF-8"},      // overlong '/'
      {"\xed\xa0\x80", "UTF-8"},          // surrogate U+D800
      {"\xed\xbf\xbf", "UTF-8"},          // surrogate U+DFFF
      {"\xf4\x90\x80\x80", "UTF-8"},      // U+110000
      {"\xf8\x88\x80\x80\x80", "UTF-8"},  // 5-byte form
      {"\xff", "UTF-8"},
  };
  for (const auto& c : cases) {
    auto problem = object_key_problem(c.key);
    ASSERT_TRUE(problem.has_value()) << c.key.size();
    EXPECT_NE(problem->find(c.why), std::string::npos) << *problem;
  }
  EXPECT_TRUE(key_too_long(std::string(1025, 'k')));
  EXPECT_FALSE(key_too_long(std::string(1024, 'k')));
}

namespace {

struct RangeCase {
  const char* header;
  std::uint64_t size;
  RangeOutcome outcome;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

}  // namespace

TEST(Range, Table) {
  const RangeCase cases[] = {
      // Single ranges.
      {"bytes=0-9", 100, RangeOutcome::partial, 0, 10},
      {"bytes=10-19", 100, RangeOutcome::partial, 10, 10},
      {"bytes=99-99", 100, RangeOutcome::partial, 99, 1},
      {"bytes=0-0", 1, RangeOutcome::partial, 0, 1},
      {"bytes=0-", 100, RangeOutcome::partial, 0, 100},
      {"bytes=50-", 100, RangeOutcome::partial, 50, 50},
      // The last byte is clamped to the end.
      {"bytes=90-200", 100, RangeOutcome::partial, 90, 10},
      {"bytes=0-18446744073709551615", 100, RangeOutcome::partial, 0, 100},
      {"bytes=0-99999999999999999999999", 100, RangeOutcome::partial, 0, 100},
      // Suffix ranges.
      {"bytes=-1", 100, RangeOutcome::partial, 99, 1},
      {"bytes=-20", 100, RangeOutcome::partial, 80, 20},
      {"bytes=-100", 100, RangeOutcome::partial, 0, 100},
      {"bytes=-150", 100, RangeOutcome::partial, 0, 100},
      {"bytes=-99999999999999999999999", 100, RangeOutcome::partial, 0, 100},
      // Unsatisfiable: start at or past the end, or an empty suffix.
      {"bytes=100-", 100, RangeOutcome::unsatisfiable},
      {"bytes=100-200", 100, RangeOutcome::unsatisfiable},
      {"bytes=99999999999999999999999-", 100, RangeOutcome::unsatisfiable},
      {"bytes=-0", 100, RangeOutcome::unsatisfiable},
      // Empty objects: S3 refuses bytes=0- (and any first-byte range); a suffix gets the
      // (empty) whole object; -0 is still unsatisfiable.
      {"bytes=0-", 0, RangeOutcome::unsatisfiable},
      {"bytes=0-0", 0, RangeOutcome::unsatisfiable},
      {"bytes=-5", 0, RangeOutcome::whole},
      {"bytes=-0", 0, RangeOutcome::unsatisfiable},
      // Forms that are still one range.
      {"  bytes=1-2  ", 100, RangeOutcome::partial, 1, 2},
      {"BYTES=1-2", 100, RangeOutcome::partial, 1, 2},
      {"bytes= 1-2", 100, RangeOutcome::partial, 1, 2},
      {"bytes=007-008", 100, RangeOutcome::partial, 7, 2},
      // Several ranges: S3 answers the whole object.
      {"bytes=0-1,3-4", 100, RangeOutcome::whole},
      {"bytes=0-1, 200-300", 100, RangeOutcome::whole},
      {"bytes=0-1,", 100, RangeOutcome::whole},
      // Malformed: ignored, the whole object.
      {"", 100, RangeOutcome::whole},
      {"bytes", 100, RangeOutcome::whole},
      {"bytes=", 100, RangeOutcome::whole},
      {"bytes=-", 100, RangeOutcome::whole},
      {"bytes=5", 100, RangeOutcome::whole},
      {"bytes=5-3", 100, RangeOutcome::whole},
      {"bytes=a-b", 100, RangeOutcome::whole},
      {"bytes=1-2-3", 100, RangeOutcome::whole},
      {"bytes=+1-2", 100, RangeOutcome::whole},
      {"bytes=1 -2", 100, RangeOutcome::whole},
      {"bytes=--1", 100, RangeOutcome::whole},
      {"items=0-1", 100, RangeOutcome::whole},
      {"bytes 0-1", 100, RangeOutcome::whole},
      {"bytes=0x1-2", 100, RangeOutcome::whole},
  };
  for (const auto& c : cases) {
    ByteRange out{12345, 67890};
    RangeOutcome got = parse_range(c.header, c.size, out);
    EXPECT_EQ(got, c.outcome) << "'" << c.header << "' size " << c.size;
    if (c.outcome == RangeOutcome::partial && got == RangeOutcome::partial) {
      EXPECT_EQ(out.offset, c.offset) << c.header;
      EXPECT_EQ(out.length, c.length) << c.header;
    } else {
      EXPECT_EQ(out.offset, 12345u) << "out touched for " << c.header;
    }
  }
}

TEST(Range, PartialRangesAlwaysLieInsideTheObject) {
  for (std::uint64_t size : {std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{7},
                             std::uint64_t{1000}, std::uint64_t{UINT64_MAX}}) {
    for (const char* h : {"bytes=0-", "bytes=-1", "bytes=-18446744073709551615", "bytes=0-0",
                          "bytes=1-", "bytes=18446744073709551614-"}) {
      ByteRange r;
      if (parse_range(h, size, r) != RangeOutcome::partial) continue;
      EXPECT_GE(r.length, 1u) << h;
      EXPECT_LE(r.offset, size - 1) << h;
      EXPECT_LE(r.length, size - r.offset) << h;
    }
  }
}
