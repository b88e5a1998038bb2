// stratus-shard/1: split rule, keys, bit-exact round trips, deterministic bytes, hostile input.

#include "stratus/trainer/shard.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <random>

#include "stratus/trainer/dataset_readers.hpp"

using namespace stratus;
using namespace stratus::trainer;

namespace {

LabeledData small_images(std::uint64_t count) {
  LabeledData data;
  std::vector<std::uint8_t> pixels(count * 3 * 4 * 4);
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<std::uint8_t>(i * 13 + i / 7);
  std::vector<std::int32_t> labels(count);
  for (std::size_t i = 0; i < count; ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  data.features = Tensor::of_u8({count, 3, 4, 4}, std::move(pixels));
  data.labels = Tensor::of_i32({count}, std::move(labels));
  data.classes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  data.generator = "test";
  return data;
}

LabeledData regression_rows(std::uint64_t count) {
  LabeledData data;
  std::vector<float> x(count * 3);
  std::vector<float> y(count);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.1f - 5.0f;
  x[1] = -0.0f;
  for (std::size_t i = 0; i < count; ++i) y[i] = static_cast<float>(i) / 3.0f;
  data.features = Tensor::of_f32({count, 3}, std::move(x));
  data.labels = Tensor::of_f32({count}, std::move(y));
  data.generator = "test";
  return data;
}

void put_u64(std::string& out, std::uint64_t value) {
  for (int byte = 0; byte < 8; ++byte) out.push_back(static_cast<char>(value >> (8 * byte)));
}

// A shard container assembled by hand around any two frames.
std::string container(std::string_view features, std::string_view labels,
                      std::string_view magic = "STSH", char version = 1) {
  std::string out(magic);
  out.push_back(version);
  out.append(3, '\0');
  put_u64(out, features.size());
  put_u64(out, labels.size());
  out.append(features);
  out.append(labels);
  return out;
}

constexpr std::uint64_t kLimit = 64ull << 20;

void expect_rejected(std::string_view bytes, std::string_view fragment,
                     std::uint64_t limit = kLimit) {
  try {
    decode_shard(bytes, limit);
    ADD_FAILURE() << "accepted; expected '" << fragment << "'";
  } catch (const ShardFormatError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).rfind("stratus-shard/1: ", 0), 0u) << error.what();
  }
}

}  // namespace

TEST(ShardSplit, ContiguousSizesDifferingByAtMostOne) {
  EXPECT_EQ(split_evenly(10, 3), (std::vector<ShardRange>{{0, 4}, {4, 3}, {7, 3}}));
  EXPECT_EQ(split_evenly(5, 5), (std::vector<ShardRange>{{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}));
  EXPECT_EQ(split_evenly(7, 1), (std::vector<ShardRange>{{0, 7}}));
  for (const std::uint64_t count : {1ull, 99ull, 60000ull, 1000003ull}) {
    for (const std::uint64_t shards : {1ull, 2ull, 7ull, 100ull}) {
      if (shards > count) continue;
      const auto ranges = split_evenly(count, shards);
      ASSERT_EQ(ranges.size(), shards);
      std::uint64_t next = 0, smallest = count, largest = 0;
      for (const ShardRange& r : ranges) {
        EXPECT_EQ(r.first, next);
        next += r.count;
        smallest = std::min(smallest, r.count);
        largest = std::max(largest, r.count);
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - smallest, 1u);
      EXPECT_EQ(split_evenly(count, shards), ranges);  // deterministic
    }
  }
  EXPECT_THROW(split_evenly(10, 0), DatasetError);
  EXPECT_THROW(split_evenly(3, 4), DatasetError);
  EXPECT_THROW(split_evenly(1'000'000, kMaxShards + 1), DatasetError);
}

TEST(ShardSplit, Keys) {
  EXPECT_EQ(shard_key(3, 8), "shard-00003-of-00008.bin");
  EXPECT_EQ(shard_key(0, 1), "shard-00000-of-00001.bin");
  EXPECT_EQ(shard_key(99998, 99999), "shard-99998-of-99999.bin");
  EXPECT_THROW(shard_key(8, 8), DatasetError);
  EXPECT_THROW(shard_key(0, 100000), DatasetError);
}

TEST(Shard, RoundTripIsBitExactForEveryShard) {
  for (const LabeledData& data : {small_images(23), regression_rows(23), make_case_a({23, 4})}) {
    const auto ranges = split_evenly(data.count(), 4);
    Tensor joined_features;
    std::vector<std::uint8_t> all_feature_bytes;
    std::vector<std::uint8_t> all_label_bytes;
    for (const ShardRange& range : ranges) {
      const Shard shard = decode_shard(encode_shard(data, range), kLimit);
      EXPECT_EQ(shard.count(), range.count);
      EXPECT_EQ(shard.features.dtype, data.features.dtype);
      EXPECT_EQ(shard.labels.dtype, data.labels.dtype);
      std::vector<std::uint64_t> shape = data.features.shape;
      shape[0] = range.count;
      EXPECT_EQ(shard.features.shape, shape);
      EXPECT_EQ(shard.labels.shape, (std::vector<std::uint64_t>{range.count}));
      const auto append = [](std::vector<std::uint8_t>& out, const Tensor& t) {
        const TensorView view = TensorView::of(t);
        const auto* begin = reinterpret_cast<const std::uint8_t*>(view.values.data());
        out.insert(out.end(), begin, begin + view.values.size());
      };
      append(all_feature_bytes, shard.features);
      append(all_label_bytes, shard.labels);
    }
    // The shards together are the data, bit for bit (signed zeros included).
    const TensorView features = TensorView::of(data.features);
    const TensorView labels = TensorView::of(data.labels);
    ASSERT_EQ(all_feature_bytes.size(), features.values.size());
    EXPECT_EQ(std::memcmp(all_feature_bytes.data(), features.values.data(), features.values.size()),
              0);
    ASSERT_EQ(all_label_bytes.size(), labels.values.size());
    EXPECT_EQ(std::memcmp(all_label_bytes.data(), labels.values.data(), labels.values.size()), 0);
  }
}

TEST(Shard, BytesAreDeterministicAndFollowTheDocumentedLayout) {
  const LabeledData data = small_images(10);
  for (const int level : {0, 1, 9}) {
    const std::string a = encode_shard(data, {2, 5}, level);
    const std::string b = encode_shard(small_images(10), {2, 5}, level);
    EXPECT_EQ(a, b) << level;
    ASSERT_GE(a.size(), kShardHeaderBytes);
    EXPECT_EQ(a.substr(0, 8), std::string("STSH\x01\0\0\0", 8));
    std::uint64_t features_bytes = 0, labels_bytes = 0;
    for (int i = 0; i < 8; ++i) {
      features_bytes |= std::uint64_t{static_cast<unsigned char>(a[8 + i])} << (8 * i);
      labels_bytes |= std::uint64_t{static_cast<unsigned char>(a[16 + i])} << (8 * i);
    }
    EXPECT_EQ(kShardHeaderBytes + features_bytes + labels_bytes, a.size());
    const Tensor labels =
        decode_tensor_binary(std::string_view(a).substr(24 + features_bytes), kLimit);
    EXPECT_EQ(labels.i32, (std::vector<std::int32_t>{2, 3, 4, 5, 6}));
  }
  EXPECT_THROW(encode_shard(data, {8, 3}), DatasetError);
  EXPECT_THROW(encode_shard(data, {0, 0}), DatasetError);
  EXPECT_THROW(encode_shard(data, {11, 1}), DatasetError);
}

TEST(Shard, RejectsEveryTruncationAndTrailingBytes) {
  const std::string bytes = encode_shard(small_images(6), {0, 6});
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    EXPECT_THROW(decode_shard(std::string_view(bytes).substr(0, length), kLimit), ShardFormatError)
        << length;
  }
  expect_rejected(bytes.substr(0, 10), "truncated: 10 bytes, less than the 24-byte header");
  expect_rejected(bytes.substr(0, bytes.size() - 1), "truncated: the header announces");
  expect_rejected(bytes + "z", "1 unexpected bytes after the labels frame");
}

TEST(Shard, RejectsBadHeaders) {
  const Tensor features = Tensor::of_u8({2, 2}, {1, 2, 3, 4});
  const Tensor labels = Tensor::of_i32({2}, {0, 1});
  const std::string f = encode_tensor_binary(features);
  const std::string l = encode_tensor_binary(labels);
  EXPECT_NO_THROW(decode_shard(container(f, l), kLimit));
  expect_rejected(container(f, l, "STRT"), "bad magic");
  expect_rejected(container(f, l, "STSH", 2), "unsupported version 2");
  std::string reserved = container(f, l);
  reserved[6] = 1;
  expect_rejected(reserved, "reserved header bytes");
  // Frame lengths that overflow or point past the end.
  std::string huge = container(f, l);
  for (int i = 0; i < 8; ++i) huge[8 + i] = static_cast<char>(0xff);
  expect_rejected(huge, "truncated: the header announces frames of 18446744073709551615");
  std::string wrap = container(f, l);
  for (int i = 0; i < 8; ++i) wrap[16 + i] = static_cast<char>(0xff);
  expect_rejected(wrap, "truncated: the header announces");
}

TEST(Shard, RejectsFramesThatDisagree) {
  const std::string f2 = encode_tensor_binary(Tensor::of_u8({2, 2}, {1, 2, 3, 4}));
  const std::string l2 = encode_tensor_binary(Tensor::of_i32({2}, {0, 1}));
  expect_rejected(container(f2, encode_tensor_binary(Tensor::of_i32({3}, {0, 1, 2}))),
                  "2 samples of features but 3 labels");
  expect_rejected(container(encode_tensor_binary(Tensor::of_u8({4}, {1, 2, 3, 4})), l2),
                  "rank 2 to 4");
  expect_rejected(container(f2, encode_tensor_binary(Tensor::of_i32({2, 1}, {0, 1}))),
                  "labels must have rank 1");
  expect_rejected(container(f2, encode_tensor_binary(Tensor::of_u8({2}, {0, 1}))),
                  "int32 or float32, not uint8");
  expect_rejected(container(l2, f2), "rank 2 to 4");
  expect_rejected(container(f2, "garbage"),
                  "labels frame: stratus-tensor/1: corrupt compressed data");
  expect_rejected(container("garbage", l2), "features frame: stratus-tensor/1:");
}

TEST(Shard, TheLimitCoversBothFrames) {
  const std::string bytes = encode_shard(small_images(4), {0, 4});
  // features: 8 + 4*8 + 4*48 = 232; labels: 8 + 8 + 16 = 32.
  EXPECT_NO_THROW(decode_shard(bytes, 264));
  expect_rejected(bytes, "labels frame", 263);
  expect_rejected(bytes, "features frame", 231);
  // A frame whose header claims 2^40 pixels is refused before anything is allocated.
  std::string raw = "STRT";
  raw += std::string("\x01\x03\x02\x00", 4);
  put_u64(raw, 1ull << 20);
  put_u64(raw, 1ull << 20);
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string frame(size, '\0');
  ASSERT_EQ(
      compress2(reinterpret_cast<Bytef*>(frame.data()), &size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6),
      Z_OK);
  frame.resize(size);
  expect_rejected(container(frame, encode_tensor_binary(Tensor::of_i32({1}, {0}))),
                  "over the limit");
}

TEST(Shard, RandomGarbageOnlyEverThrowsShardFormatError) {
  std::mt19937 random(99);
  const std::string valid = encode_shard(regression_rows(5), {1, 3});
  for (int round = 0; round < 4000; ++round) {
    std::string bytes = valid;
    for (int k = 0; k < 1 + round % 3; ++k)
      bytes[random() % bytes.size()] = static_cast<char>(random());
    try {
      decode_shard(bytes, kLimit);
    } catch (const ShardFormatError&) {
    }
  }
}

TEST(ShardCodec, EncodeFromViewsChecksTheSameRulesAsDecode) {
  const std::uint64_t features_shape[] = {2, 2};
  const std::uint8_t pixels[] = {1, 2, 3, 4};
  const auto features = TensorView::of(features_shape, std::span<const std::uint8_t>(pixels));
  const std::uint64_t two[] = {2};
  const std::uint64_t three[] = {3};
  const std::int32_t labels[] = {0, 1, 2};
  const std::string bytes = stratus::encode_shard(
      features, TensorView::of(two, std::span<const std::int32_t>(labels, 2)), 1);
  EXPECT_EQ(decode_shard(bytes, kLimit).labels.i32, (std::vector<std::int32_t>{0, 1}));
  EXPECT_THROW(
      stratus::encode_shard(features, TensorView::of(three, std::span<const std::int32_t>(labels))),
      ShardFormatError);
  EXPECT_THROW(stratus::encode_shard(TensorView::of(two, std::span<const std::uint8_t>(pixels, 2)),
                                     TensorView::of(two, std::span<const std::int32_t>(labels, 2))),
               ShardFormatError);
  EXPECT_THROW(stratus::encode_shard(features,
                                     TensorView::of(two, std::span<const std::uint8_t>(pixels, 2))),
               ShardFormatError);
  // Values that do not fill the shape are the tensor codec's refusal, reported as a shard error.
  EXPECT_THROW(stratus::encode_shard(
                   TensorView::of(features_shape, std::span<const std::uint8_t>(pixels, 3)),
                   TensorView::of(two, std::span<const std::int32_t>(labels, 2))),
               ShardFormatError);
}
