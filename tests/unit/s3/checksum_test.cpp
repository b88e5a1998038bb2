#include "stratus/common/checksum.hpp"

#include <gtest/gtest.h>

#include <boost/crc.hpp>
#include <random>
#include <string>

#include "stratus/common/base64.hpp"

using stratus::Checksum;
using stratus::ChecksumAlgorithm;
using stratus::Md5;

namespace {

std::string b64(ChecksumAlgorithm algorithm, std::string_view data) {
  Checksum c(algorithm);
  c.update(data);
  return c.digest_base64();
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::uint64_t from_big_endian(const std::string& raw) {
  std::uint64_t v = 0;
  for (unsigned char c : raw) v = (v << 8) | c;
  return v;
}

constexpr ChecksumAlgorithm kAll[] = {ChecksumAlgorithm::crc32, ChecksumAlgorithm::crc32c,
                                      ChecksumAlgorithm::crc64nvme, ChecksumAlgorithm::sha1,
                                      ChecksumAlgorithm::sha256};

}  // namespace

// Check values of the CRC catalogue ("123456789") pin the parameters.
TEST(Checksum, CatalogueCheckValues) {
  auto raw = [](ChecksumAlgorithm a) {
    Checksum c(a);
    c.update("123456789");
    return from_big_endian(c.digest());
  };
  EXPECT_EQ(raw(ChecksumAlgorithm::crc32), 0xCBF43926u);
  EXPECT_EQ(raw(ChecksumAlgorithm::crc32c), 0xE3069283u);
  EXPECT_EQ(raw(ChecksumAlgorithm::crc64nvme), 0xAE8B14860A799888ull);
}

// Values S3 clients put on the wire. Sources: botocore 1.43 sending "hello" (captured:
// x-amz-checksum-crc32: NhCmhg==); aws-sdk-go-v2 checksum tests ("hello world", "Hello world");
// the S3 API reference SigV4 streaming-trailer example (66,560 x 'a', CRC32C sOO8/Q==).
TEST(Checksum, PublishedS3Values) {
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32, ""), "AAAAAA==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32, "hello"), "NhCmhg==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32, "hello world"), "DUoRhQ==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32c, "hello world"), "yZRlqg==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32c, "Hello world"), "crUfeA==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc32c, std::string(66560, 'a')), "sOO8/Q==");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc64nvme, "hello world"), "jSnVw/bqjr4=");
  EXPECT_EQ(b64(ChecksumAlgorithm::sha1, "hello world"), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
  EXPECT_EQ(b64(ChecksumAlgorithm::sha256, "hello world"),
            "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
  EXPECT_EQ(b64(ChecksumAlgorithm::sha256, ""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(b64(ChecksumAlgorithm::crc64nvme, ""), "AAAAAAAAAAA=");
}

// The hand-written CRC loops against Boost.CRC (the reference), over lengths and alignments that
// exercise the 8-byte fast path, its byte-wise tail and unaligned starts.
TEST(Checksum, CrcsMatchBoostReferenceOnRandomData) {
  using RefCrc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;
  using RefCrc64 = boost::crc_optimal<64, 0xAD93D23594C93659ULL, ~0ULL, ~0ULL, true, true>;
  std::string data = random_bytes(70000, 7);
  for (std::size_t start : {0u, 1u, 3u, 7u}) {
    for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 63u, 4096u, 65537u}) {
      std::string_view piece(data.data() + start, len);
      RefCrc32c ref32;
      ref32.process_bytes(piece.data(), piece.size());
      RefCrc64 ref64;
      ref64.process_bytes(piece.data(), piece.size());
      Checksum c32(ChecksumAlgorithm::crc32c), c64(ChecksumAlgorithm::crc64nvme);
      c32.update(piece);
      c64.update(piece);
      EXPECT_EQ(from_big_endian(c32.digest()), ref32.checksum()) << start << "+" << len;
      EXPECT_EQ(from_big_endian(c64.digest()), ref64.checksum()) << start << "+" << len;
    }
  }
}

TEST(Checksum, IncrementalEqualsOneShotForEverySplit) {
  std::string data = random_bytes(300, 11);
  for (auto algorithm : kAll) {
    std::string expected = b64(algorithm, data);
    for (std::size_t split = 0; split <= data.size(); split += 7) {
      for (std::size_t split2 = split; split2 <= data.size(); split2 += 53) {
        Checksum c(algorithm);
        c.update(data.data(), split);
        c.update(data.data() + split, split2 - split);
        c.update(data.data() + split2, data.size() - split2);
        ASSERT_EQ(c.digest_base64(), expected) << static_cast<int>(algorithm) << " " << split;
      }
    }
  }
}

TEST(Checksum, DigestSizesMatchBase64Lengths) {
  for (auto algorithm : kAll) {
    Checksum c(algorithm);
    c.update("x");
    EXPECT_EQ(c.digest().size(), stratus::checksum_digest_size(algorithm));
    EXPECT_EQ(c.digest_base64().size(), (stratus::checksum_digest_size(algorithm) + 2) / 3 * 4);
  }
}

TEST(Checksum, CopyContinuesIndependently) {
  for (auto algorithm : kAll) {
    Checksum a(algorithm);
    a.update("hello ");
    Checksum b = a;
    a.update("world");
    b.update("there");
    EXPECT_EQ(a.digest_base64(), b64(algorithm, "hello world"));
    EXPECT_EQ(b.digest_base64(), b64(algorithm, "hello there"));
    Checksum moved = std::move(a);
    EXPECT_EQ(moved.digest_base64(), b64(algorithm, "hello world"));
  }
}

TEST(Checksum, DigestFinalisesOnce) {
  Checksum c(ChecksumAlgorithm::sha256);
  c.update("abc");
  std::string first = c.digest();
  EXPECT_EQ(c.digest(), first);
  EXPECT_THROW(c.update("more"), std::logic_error);
  Checksum copy = c;  // a finalised checksum copies its digest
  EXPECT_EQ(copy.digest(), first);
}

TEST(Checksum, NamesRoundTripCaseInsensitively) {
  for (auto algorithm : kAll) {
    auto name = stratus::checksum_algorithm_name(algorithm);
    auto header = stratus::checksum_header_name(algorithm);
    EXPECT_EQ(stratus::checksum_algorithm_from_name(name), algorithm);
    EXPECT_EQ(stratus::checksum_algorithm_from_header(header), algorithm);
    std::string lower(name), mixed(header);
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : mixed) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(stratus::checksum_algorithm_from_name(lower), algorithm);
    EXPECT_EQ(stratus::checksum_algorithm_from_header(mixed), algorithm);
    EXPECT_EQ(stratus::checksum_xml_element(algorithm), "Checksum" + std::string(name));
  }
  EXPECT_EQ(stratus::checksum_header_name(ChecksumAlgorithm::crc64nvme),
            "x-amz-checksum-crc64nvme");
  EXPECT_EQ(stratus::checksum_algorithm_from_name("Crc64Nvme"), ChecksumAlgorithm::crc64nvme);
  EXPECT_FALSE(stratus::checksum_algorithm_from_name("MD5"));
  EXPECT_FALSE(stratus::checksum_algorithm_from_name("CRC32 "));
  EXPECT_FALSE(stratus::checksum_algorithm_from_name(""));
  EXPECT_FALSE(stratus::checksum_algorithm_from_header("x-amz-checksum-type"));
  EXPECT_FALSE(stratus::checksum_algorithm_from_header("x-amz-checksum-"));
  EXPECT_FALSE(stratus::checksum_algorithm_from_header("crc32"));
}

TEST(Md5, EtagValues) {
  Md5 empty;
  EXPECT_EQ(empty.hex(), "d41d8cd98f00b204e9800998ecf8427e");
  Md5 m;
  m.update("hello ");
  m.update("world");
  EXPECT_EQ(m.hex(), "5eb63bbbe01eeed093cb22bb8f5acdc3");
  EXPECT_EQ(m.digest().size(), 16u);
  EXPECT_THROW(m.update("x"), std::logic_error);
}

// A multipart ETag is the MD5 of the concatenated raw part MD5s, then "-N".
TEST(Md5, MultipartEtagComposes) {
  Md5 part1, part2, whole;
  part1.update("a");
  part2.update("b");
  whole.update(part1.digest());
  whole.update(part2.digest());
  Md5 expected;
  expected.update(
      std::string("\x0c\xc1\x75\xb9\xc0\xf1\xb6\xa8\x31\xc3\x99\xe2\x69\x77\x26\x61"
                  "\x92\xeb\x5f\xfe\xe6\xae\x2f\xec\x3a\xd7\x1c\x77\x75\x31\x57\x8f",
                  32));
  EXPECT_EQ(whole.hex(), expected.hex());
}
