#include "stratus/common/tensor_codec.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "stratus/common/base64.hpp"

using namespace stratus;

namespace {

constexpr std::uint64_t kLimit = 64ull << 20;

// Raw (uncompressed) tensor bytes laid out by hand, independently of the encoder.
class RawTensor {
 public:
  RawTensor& bytes(std::initializer_list<unsigned> values) {
    for (unsigned v : values) raw_.push_back(static_cast<char>(v));
    return *this;
  }
  RawTensor& header(unsigned dtype, unsigned rank, unsigned version = 1, unsigned reserved = 0,
                    std::string_view magic = "STRT") {
    raw_.append(magic);
    return bytes({version, dtype, rank, reserved});
  }
  RawTensor& u64(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) raw_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  RawTensor& f32(float value) { return u32(std::bit_cast<std::uint32_t>(value)); }
  RawTensor& u32(std::uint32_t value) {
    for (int i = 0; i < 4; ++i) raw_.push_back(static_cast<char>(value >> (8 * i)));
    return *this;
  }
  RawTensor& zeros(std::size_t n) {
    raw_.append(n, '\0');
    return *this;
  }
  const std::string& raw() const { return raw_; }
  std::string compressed(int level = 6) const { return zlib_compress(raw_, level); }
  std::string text() const { return base64_encode(compressed()); }

  static std::string zlib_compress(std::string_view raw, int level = 6) {
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::string out(size, '\0');
    EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &size,
                        reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                        level),
              Z_OK);
    out.resize(size);
    return out;
  }

 private:
  std::string raw_;
};

std::string zlib_inflate(std::string_view compressed) {
  std::string out(1 << 20, '\0');
  uLongf size = static_cast<uLongf>(out.size());
  EXPECT_EQ(uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                       reinterpret_cast<const Bytef*>(compressed.data()),
                       static_cast<uLong>(compressed.size())),
            Z_OK);
  out.resize(size);
  return out;
}

// Decoding must fail with TensorFormatError and a message containing `expected`.
void expect_rejected(std::string_view text, std::string_view expected,
                     std::uint64_t limit = kLimit) {
  try {
    decode_tensor(text, limit);
    ADD_FAILURE() << "accepted; expected an error mentioning '" << expected << "'";
  } catch (const TensorFormatError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).rfind("stratus-tensor/1: ", 0), 0u) << error.what();
  }
}

template <typename Value>
bool same_bits(const std::vector<Value>& a, const std::vector<Value>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Value)) == 0;
}

std::vector<float> awkward_floats() {
  return {0.0f,
          -0.0f,
          1.0f,
          -1.5f,
          std::numeric_limits<float>::denorm_min(),
          std::numeric_limits<float>::max(),
          std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity(),
          std::bit_cast<float>(0x7fc12345u),  // quiet NaN with a payload
          std::bit_cast<float>(0xff800001u),  // signalling NaN, sign set
          3.14159274f,
          1e-30f};
}

}  // namespace

TEST(TensorCodec, Float32RoundTripIsBitExactForEveryRank) {
  const std::vector<float> values = awkward_floats();  // 12 values
  const std::vector<std::vector<std::uint64_t>> shapes = {
      {}, {12}, {3, 4}, {2, 3, 2}, {1, 2, 3, 2}};
  for (const auto& shape : shapes) {
    std::vector<float> data = shape.empty() ? std::vector<float>{values[8]} : values;
    const std::string text = encode_tensor(shape, std::span<const float>(data));
    const Tensor decoded = decode_tensor(text, kLimit);
    EXPECT_EQ(decoded.dtype, DType::float32);
    EXPECT_EQ(decoded.shape, shape);
    EXPECT_TRUE(decoded.f64.empty());
    EXPECT_TRUE(same_bits(decoded.f32, data)) << shape.size();
  }
}

TEST(TensorCodec, Float64RoundTripIsBitExact) {
  std::mt19937_64 random(7);
  std::vector<double> values(1000);
  for (double& v : values) v = std::bit_cast<double>(random());  // any bit pattern, NaNs included
  const Tensor tensor = Tensor::of_f64({10, 100}, values);
  for (int level = -1; level <= 9; ++level) {
    const Tensor decoded = decode_tensor(encode_tensor(tensor, level), kLimit);
    EXPECT_EQ(decoded.dtype, DType::float64);
    EXPECT_EQ(decoded.shape, tensor.shape);
    EXPECT_TRUE(same_bits(decoded.f64, values)) << "level " << level;
  }
}

TEST(TensorCodec, EmptyTensorsRoundTrip) {
  const Tensor decoded = decode_tensor(encode_tensor(Tensor::of_f32({0, 5}, {})), kLimit);
  EXPECT_EQ(decoded.shape, (std::vector<std::uint64_t>{0, 5}));
  EXPECT_TRUE(decoded.f32.empty());
}

TEST(TensorCodec, LargerThanOneInflatePieceRoundTrips) {
  std::vector<float> values(3'000'000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.25f;
  const std::uint64_t shape[] = {1000, 3000};
  const Tensor decoded =
      decode_tensor(encode_tensor(shape, std::span<const float>(values)), kLimit);
  EXPECT_TRUE(same_bits(decoded.f32, values));
}

TEST(TensorCodec, WireLayoutIsTheDocumentedLittleEndianHeader) {
  const std::uint64_t shape[] = {2, 1};
  const float values[] = {1.0f, -2.0f};
  const std::string text = encode_tensor(shape, std::span<const float>(values));
  const auto compressed = base64_decode(text);
  ASSERT_TRUE(compressed);
  const std::string expected = RawTensor().header(1, 2).u64(2).u64(1).f32(1.0f).f32(-2.0f).raw();
  EXPECT_EQ(zlib_inflate(*compressed), expected);
  // And what another implementation writes (here: zlib level 9) is read back.
  const Tensor decoded =
      decode_tensor(base64_encode(RawTensor::zlib_compress(expected, 9)), kLimit);
  EXPECT_EQ(decoded.f32, (std::vector<float>{1.0f, -2.0f}));
}

TEST(TensorCodec, EncodeRefusesInconsistentTensors) {
  const std::uint64_t shape[] = {2, 2};
  const float three[] = {1, 2, 3};
  EXPECT_THROW(encode_tensor(shape, std::span<const float>(three)), TensorFormatError);
  const std::uint64_t rank5[] = {1, 1, 1, 1, 1};
  const float one[] = {1};
  EXPECT_THROW(encode_tensor(rank5, std::span<const float>(one)), TensorFormatError);
  const std::uint64_t overflowing[] = {1ull << 40, 1ull << 40};
  EXPECT_THROW(encode_tensor(overflowing, std::span<const float>(one)), TensorFormatError);
  const std::uint64_t single[] = {1};
  EXPECT_THROW(encode_tensor(single, std::span<const float>(one), 10), TensorFormatError);
  Tensor mixed = Tensor::of_f32({1}, {1.0f});
  mixed.f64 = {2.0};
  EXPECT_THROW(encode_tensor(mixed), TensorFormatError);
}

TEST(TensorCodec, RejectsBadHeaderFields) {
  expect_rejected(RawTensor().header(1, 1, 1, 0, "STRX").u64(1).f32(1).text(), "bad magic");
  expect_rejected(RawTensor().header(1, 1, 2).u64(1).f32(1).text(), "unsupported version 2");
  expect_rejected(RawTensor().header(0, 1).u64(1).f32(1).text(), "unknown dtype code 0");
  // 3 (uint8) and 4 (int32) were appended to version 1; the next code is still unknown.
  expect_rejected(RawTensor().header(5, 1).u64(1).f32(1).text(), "unknown dtype code 5");
  expect_rejected(RawTensor().header(255, 1).u64(1).f32(1).text(), "unknown dtype code 255");
  expect_rejected(RawTensor().header(1, 5).u64(1).u64(1).u64(1).u64(1).u64(1).f32(1).text(),
                  "rank 5 exceeds");
  expect_rejected(RawTensor().header(1, 1, 1, 7).u64(1).f32(1).text(), "reserved header byte");
}

TEST(TensorCodec, RejectsTruncatedHeadersAndData) {
  expect_rejected(RawTensor().bytes({'S', 'T', 'R'}).text(), "the header");
  expect_rejected(RawTensor().header(1, 2).u64(3).text(), "the dims");
  // Dims announce 4 values, the data holds 3.
  expect_rejected(RawTensor().header(1, 1).u64(4).f32(1).f32(2).f32(3).text(), "tensor data");
}

TEST(TensorCodec, RejectsDataBeyondTheDims) {
  expect_rejected(RawTensor().header(1, 1).u64(2).f32(1).f32(2).f32(3).text(),
                  "more data than its header announces");
}

TEST(TensorCodec, RejectsDimsWhoseSizeOverflows) {
  expect_rejected(RawTensor().header(1, 2).u64(1ull << 62).u64(8).text(), "more than 2^64");
  expect_rejected(RawTensor().header(2, 1).u64(1ull << 61).text(), "more than 2^64");
  expect_rejected(RawTensor()
                      .header(1, 4)
                      .u64(std::numeric_limits<std::uint64_t>::max())
                      .u64(std::numeric_limits<std::uint64_t>::max())
                      .u64(0)
                      .u64(3)
                      .text(),
                  "more than 2^64");
}

TEST(TensorCodec, RejectsHugeDimsBeforeAllocating) {
  // 2^40 floats = 4 TiB: refused on the header alone (an allocation would abort the test).
  expect_rejected(RawTensor().header(1, 1).u64(1ull << 40).f32(1).text(), "over the limit");
  // Exactly at the limit is fine, one byte over is not.
  const std::string at_limit = RawTensor().header(1, 1).u64(2).f32(1).f32(2).text();
  EXPECT_NO_THROW(decode_tensor(at_limit, 8 + 8 + 8));
  expect_rejected(at_limit, "over the limit", 8 + 8 + 7);
}

TEST(TensorCodec, StopsInflatingAZipBombAtTheDeclaredSize) {
  // A header announcing 4 floats followed by 16 MiB of zeros (~16 KB compressed, ratio ~1000).
  const std::string bomb = RawTensor().header(1, 1).u64(4).zeros(16u << 20).text();
  EXPECT_LT(bomb.size(), 50'000u);
  expect_rejected(bomb, "more data than its header announces", std::uint64_t{1} << 40);
  // The same zeros declared honestly are refused against a small limit without inflating them.
  const std::string honest = RawTensor().header(1, 1).u64(4u << 20).zeros(16u << 20).text();
  expect_rejected(honest, "over the limit", 1u << 20);
  const Tensor decoded = decode_tensor(honest, (16u << 20) + 16);
  EXPECT_EQ(decoded.f32.size(), 4u << 20);
}

TEST(TensorCodec, RejectsEveryTruncation) {
  const std::uint64_t shape[] = {4, 3};
  std::vector<double> values(12);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = 1.0 / static_cast<double>(i + 1);
  const auto compressed = base64_decode(encode_tensor(shape, std::span<const double>(values)));
  ASSERT_TRUE(compressed);
  for (std::size_t length = 0; length < compressed->size(); ++length) {
    EXPECT_THROW(decode_tensor(base64_encode(compressed->substr(0, length)), kLimit),
                 TensorFormatError)
        << "prefix of " << length << " bytes";
  }
  // Truncating the base64 text itself breaks its padding/grouping.
  const std::string text = base64_encode(*compressed);
  for (std::size_t length = 0; length < text.size(); ++length) {
    EXPECT_THROW(decode_tensor(text.substr(0, length), kLimit), TensorFormatError) << length;
  }
}

TEST(TensorCodec, BitFlipsAreDetectedOrHarmless) {
  const std::uint64_t shape[] = {5, 4};
  std::vector<float> values(20);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) - 7.5f;
  const auto compressed = base64_decode(encode_tensor(shape, std::span<const float>(values)));
  ASSERT_TRUE(compressed);
  int detected = 0;
  for (std::size_t bit = 0; bit < compressed->size() * 8; ++bit) {
    std::string flipped = *compressed;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    try {
      const Tensor decoded = decode_tensor(base64_encode(flipped), kLimit);
      // Only padding bits after the last deflate block can flip unnoticed, and then the tensor
      // must be exactly the original (adler32 guards the content).
      EXPECT_EQ(decoded.shape, (std::vector<std::uint64_t>{5, 4})) << bit;
      EXPECT_TRUE(same_bits(decoded.f32, values)) << bit;
    } catch (const TensorFormatError&) {
      ++detected;
    }
  }
  EXPECT_GT(detected, static_cast<int>(compressed->size() * 8) - 8);
}

TEST(TensorCodec, RejectsTrailingBytesAfterTheStream) {
  const std::string compressed = RawTensor().header(1, 1).u64(1).f32(1).compressed();
  expect_rejected(base64_encode(compressed + "x"), "after the end of the compressed stream");
  expect_rejected(base64_encode(compressed + compressed), "after the end of the compressed stream");
}

TEST(TensorCodec, RejectsTextThatIsNotBase64OrNotZlib) {
  expect_rejected("", "empty payload");
  expect_rejected("not base64!", "not valid base64");
  const std::string valid = RawTensor().header(1, 1).u64(1).f32(1).text();
  expect_rejected(valid.substr(0, 4) + "\n" + valid.substr(4), "not valid base64");
  expect_rejected(base64_encode(RawTensor().header(1, 1).u64(1).f32(1).raw()),
                  "corrupt compressed data");
}

TEST(TensorCodec, RefusesTextTooLongForTheLimit) {
  const std::string long_text(100'000, 'A');
  expect_rejected(long_text, "longer than any tensor within the limit", 1000);
}

TEST(TensorCodec, RandomGarbageOnlyEverThrowsTensorFormatError) {
  std::mt19937 random(42);
  const std::string valid = RawTensor().header(2, 1).u64(3).zeros(24).compressed();
  for (int round = 0; round < 3000; ++round) {
    std::string bytes;
    if (round % 2 == 0) {
      bytes.resize(random() % 64);
      for (char& c : bytes) c = static_cast<char>(random());
    } else {
      // Mostly valid: a valid stream with a few random bytes overwritten.
      bytes = valid;
      for (int k = 0; k < 3; ++k) bytes[random() % bytes.size()] = static_cast<char>(random());
    }
    try {
      decode_tensor(base64_encode(bytes), kLimit);
    } catch (const TensorFormatError&) {
    }
  }
}

// ---- uint8 / int32 and the binary (object) form ----

namespace {

void expect_binary_rejected(std::string_view bytes, std::string_view expected,
                            std::uint64_t limit = kLimit) {
  try {
    decode_tensor_binary(bytes, limit);
    ADD_FAILURE() << "accepted; expected an error mentioning '" << expected << "'";
  } catch (const TensorFormatError& error) {
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).rfind("stratus-tensor/1: ", 0), 0u) << error.what();
  }
}

}  // namespace

TEST(TensorCodec, Float32AndFloat64TextWrittenBeforeUint8AndInt32StillDecode) {
  // Produced by the version-1 encoder before dtypes 3 and 4 existed (zlib levels 1 and 6).
  const Tensor f32 = decode_tensor("eAELDgkKYWRkZGBmgIEGewYGhQNAnh0ALwoDMQ==", kLimit);
  EXPECT_EQ(f32.dtype, DType::float32);
  EXPECT_EQ(f32.shape, (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(f32.f32, (std::vector<float>{1.0f, -2.5f, 0.125f}));
  const Tensor f64 = decode_tensor("eJwLDgkKYWRiYmBkgAAmBmTA4QBlNAAANkoCHg==", kLimit);
  EXPECT_EQ(f64.dtype, DType::float64);
  EXPECT_EQ(f64.shape, (std::vector<std::uint64_t>{1, 2}));
  ASSERT_EQ(f64.f64.size(), 2u);
  EXPECT_EQ(std::bit_cast<std::uint64_t>(f64.f64[1]), std::bit_cast<std::uint64_t>(-0.0));
  // And today's encoder still writes exactly the same raw frame for them.
  const auto compressed = base64_decode(encode_tensor(f32));
  ASSERT_TRUE(compressed);
  EXPECT_EQ(zlib_inflate(*compressed),
            RawTensor().header(1, 1).u64(3).f32(1.0f).f32(-2.5f).f32(0.125f).raw());
}

TEST(TensorCodec, Uint8RoundTripsAndKeepsOneBytePerValue) {
  std::vector<std::uint8_t> pixels(2 * 3 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 37);
  const Tensor tensor = Tensor::of_u8({2, 3, 4}, pixels);
  EXPECT_EQ(tensor.size(), 24u);
  const std::string binary = encode_tensor_binary(tensor, 0);  // stored: size shows the layout
  EXPECT_EQ(zlib_inflate(binary).size(), 8u + 3 * 8 + 24);
  for (const Tensor& decoded :
       {decode_tensor_binary(binary, kLimit), decode_tensor(encode_tensor(tensor), kLimit)}) {
    EXPECT_EQ(decoded.dtype, DType::uint8);
    EXPECT_EQ(decoded.shape, tensor.shape);
    EXPECT_EQ(decoded.u8, pixels);
    EXPECT_TRUE(decoded.f32.empty() && decoded.f64.empty() && decoded.i32.empty());
  }
}

TEST(TensorCodec, Int32WireLayoutIsLittleEndian) {
  const Tensor tensor = Tensor::of_i32({3}, {1, -2, 0x12345678});
  const std::string expected =
      RawTensor().header(4, 1).u64(3).u32(1).u32(0xfffffffeu).u32(0x12345678u).raw();
  EXPECT_EQ(zlib_inflate(encode_tensor_binary(tensor)), expected);
  const Tensor decoded = decode_tensor_binary(RawTensor::zlib_compress(expected, 9), kLimit);
  EXPECT_EQ(decoded.dtype, DType::int32);
  EXPECT_EQ(decoded.i32, (std::vector<std::int32_t>{1, -2, 0x12345678}));
  const std::string u8_expected = RawTensor().header(3, 2).u64(1).u64(2).bytes({0, 255}).raw();
  EXPECT_EQ(zlib_inflate(encode_tensor_binary(Tensor::of_u8({1, 2}, {0, 255}))), u8_expected);
}

TEST(TensorCodec, BinaryFormIsTheTextFormWithoutBase64) {
  const Tensor tensor = Tensor::of_f64({2, 2}, {1.0, 2.0, 3.0, 4.0});
  for (int level = -1; level <= 9; ++level) {
    EXPECT_EQ(base64_encode(encode_tensor_binary(tensor, level)), encode_tensor(tensor, level));
  }
  // Deterministic: the same tensor gives the same bytes every time.
  EXPECT_EQ(encode_tensor_binary(tensor), encode_tensor_binary(tensor));
}

TEST(TensorCodec, ViewOfASliceEncodesLikeACopy) {
  std::vector<std::uint8_t> all(100);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
  const std::uint64_t shape[] = {3, 10};
  const auto view = TensorView::of(shape, std::span<const std::uint8_t>(all).subspan(40, 30));
  const Tensor copy =
      Tensor::of_u8({3, 10}, std::vector<std::uint8_t>(all.begin() + 40, all.begin() + 70));
  EXPECT_EQ(encode_tensor_binary(view), encode_tensor_binary(copy));
  EXPECT_EQ(encode_tensor(view), encode_tensor(copy));
}

TEST(TensorCodec, DTypeNamesRoundTrip) {
  for (const DType dtype : {DType::float32, DType::float64, DType::uint8, DType::int32}) {
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  }
  EXPECT_EQ(dtype_size(DType::uint8), 1u);
  EXPECT_EQ(dtype_size(DType::int32), 4u);
  EXPECT_FALSE(dtype_from_name("u8").has_value());
  EXPECT_FALSE(dtype_from_name("").has_value());
}

TEST(TensorCodec, EncodeRefusesNewDTypesHoldingOtherValues) {
  Tensor tensor = Tensor::of_u8({2}, {1, 2});
  tensor.i32 = {3};
  EXPECT_THROW(encode_tensor_binary(tensor), TensorFormatError);
  Tensor short_tensor = Tensor::of_i32({3}, {1, 2});
  EXPECT_THROW(encode_tensor_binary(short_tensor), TensorFormatError);
  Tensor bad_dtype = Tensor::of_u8({1}, {1});
  bad_dtype.dtype = static_cast<DType>(9);
  EXPECT_THROW(encode_tensor_binary(bad_dtype), TensorFormatError);
}

TEST(TensorCodec, BinaryRejectsEveryTruncationAndTrailingBytes) {
  std::vector<std::int32_t> values(50);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::int32_t>(i * i) - 99;
  const std::string bytes = encode_tensor_binary(Tensor::of_i32({5, 10}, values));
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_THROW(decode_tensor_binary(bytes.substr(0, length), kLimit), TensorFormatError)
        << length;
  }
  expect_binary_rejected(bytes + '\0', "after the end of the compressed stream");
  expect_binary_rejected("", "empty payload");
  expect_binary_rejected(RawTensor().header(3, 1).u64(2).bytes({1, 2}).raw(),
                         "corrupt compressed data");
}

TEST(TensorCodec, BinaryRefusesHugeDimsBeforeAllocating) {
  expect_binary_rejected(
      RawTensor().header(3, 3).u64(1ull << 20).u64(1ull << 20).u64(1ull << 20).compressed(),
      "over the limit");
  expect_binary_rejected(RawTensor().header(4, 2).u64(1ull << 62).u64(2).compressed(),
                         "more than 2^64");
  expect_binary_rejected(
      RawTensor().header(3, 1).u64(std::numeric_limits<std::uint64_t>::max()).compressed(),
      "more than 2^64");
  expect_binary_rejected(RawTensor().header(4, 1).u64(1ull << 40).compressed(), "over the limit");
  // A header that claims 1 GiB within a generous limit, with 10 bytes behind it: a clean error,
  // and memory grows only with what the stream actually delivers.
  expect_binary_rejected(RawTensor().header(3, 1).u64(1ull << 30).zeros(10).compressed(),
                         "tensor data", std::uint64_t{1} << 40);
  // Bytes far beyond what the limit allows are refused before inflating anything.
  expect_binary_rejected(std::string(1 << 20, 'x'), "longer than any tensor within the limit",
                         1000);
}

TEST(TensorCodec, BinaryRandomGarbageOnlyEverThrowsTensorFormatError) {
  std::mt19937 random(4242);
  const std::string valid =
      encode_tensor_binary(Tensor::of_u8({4, 4}, std::vector<std::uint8_t>(16, 7)));
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = valid;
    for (int k = 0; k < 1 + round % 4; ++k)
      bytes[random() % bytes.size()] = static_cast<char>(random());
    try {
      const Tensor decoded = decode_tensor_binary(bytes, kLimit);
      EXPECT_LE(decoded.size() * dtype_size(decoded.dtype), kLimit);
    } catch (const TensorFormatError&) {
    }
  }
}
