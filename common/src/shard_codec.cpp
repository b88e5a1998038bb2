#include "stratus/common/shard_codec.hpp"

#include <array>
#include <cstring>

namespace stratus {

namespace {

constexpr std::array<char, 4> kMagic = {'S', 'T', 'S', 'H'};
constexpr std::uint8_t kVersion = 1;

[[noreturn]] void fail(const std::string& message) {
  throw ShardFormatError(std::string(kShardFormat) + ": " + message);
}

void put_u64(std::string& out, std::uint64_t value) {
  for (int byte = 0; byte < 8; ++byte) out.push_back(static_cast<char>(value >> (8 * byte)));
}

std::uint64_t get_u64(std::string_view bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (int byte = 0; byte < 8; ++byte) {
    value |= std::uint64_t{static_cast<unsigned char>(bytes[at + byte])} << (8 * byte);
  }
  return value;
}

// The rules decode_shard() enforces, for shapes and dtypes.
void check_parts(std::size_t features_rank, std::uint64_t features_count, DType labels_dtype,
                 std::size_t labels_rank, std::uint64_t labels_count) {
  if (features_rank < 2) {
    fail("the features must have rank 2 to 4 ([samples, sample dims...]), not " +
         std::to_string(features_rank));
  }
  if (labels_rank != 1) fail("the labels must have rank 1, not " + std::to_string(labels_rank));
  if (labels_dtype != DType::int32 && labels_dtype != DType::float32) {
    fail("the labels must be int32 or float32, not " + std::string(dtype_name(labels_dtype)));
  }
  if (features_count != labels_count) {
    fail(std::to_string(features_count) + " samples of features but " +
         std::to_string(labels_count) + " labels");
  }
}

}  // namespace

std::string encode_shard(const TensorView& features, const TensorView& labels,
                         int compression_level) {
  check_parts(features.shape.size(), features.shape.empty() ? 0 : features.shape[0], labels.dtype,
              labels.shape.size(), labels.shape.empty() ? 0 : labels.shape[0]);
  std::string features_frame;
  std::string labels_frame;
  try {
    features_frame = encode_tensor_binary(features, compression_level);
    labels_frame = encode_tensor_binary(labels, compression_level);
  } catch (const TensorFormatError& error) {
    fail(std::string("cannot encode: ") + error.what());
  }
  std::string out;
  out.reserve(kShardHeaderBytes + features_frame.size() + labels_frame.size());
  out.append(kMagic.data(), kMagic.size());
  out.push_back(static_cast<char>(kVersion));
  out.append(3, '\0');
  put_u64(out, features_frame.size());
  put_u64(out, labels_frame.size());
  out += features_frame;
  out += labels_frame;
  return out;
}

Shard decode_shard(std::string_view bytes, std::uint64_t max_decoded_bytes) {
  if (bytes.size() < kShardHeaderBytes) {
    fail("truncated: " + std::to_string(bytes.size()) + " bytes, less than the " +
         std::to_string(kShardHeaderBytes) + "-byte header");
  }
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    fail("bad magic (expected \"STSH\"): not a stratus shard");
  }
  if (static_cast<std::uint8_t>(bytes[4]) != kVersion) {
    fail("unsupported version " + std::to_string(static_cast<std::uint8_t>(bytes[4])) +
         " (this build reads version 1)");
  }
  if (bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0) fail("the reserved header bytes must be 0");
  const std::uint64_t features_bytes = get_u64(bytes, 8);
  const std::uint64_t labels_bytes = get_u64(bytes, 16);
  const std::uint64_t body = bytes.size() - kShardHeaderBytes;
  if (features_bytes > body || labels_bytes > body - features_bytes) {
    fail("truncated: the header announces frames of " + std::to_string(features_bytes) + " and " +
         std::to_string(labels_bytes) + " bytes, the object holds " + std::to_string(body) +
         " after the header");
  }
  if (features_bytes + labels_bytes != body) {
    fail(std::to_string(body - features_bytes - labels_bytes) +
         " unexpected bytes after the labels frame");
  }

  Shard shard;
  const std::string_view features_frame = bytes.substr(kShardHeaderBytes, features_bytes);
  const std::string_view labels_frame = bytes.substr(kShardHeaderBytes + features_bytes);
  try {
    shard.features = decode_tensor_binary(features_frame, max_decoded_bytes);
  } catch (const TensorFormatError& error) {
    fail(std::string("features frame: ") + error.what());
  }
  // What the features frame used counts against the same bound.
  const std::uint64_t used =
      8 + 8 * shard.features.rank() + shard.features.size() * dtype_size(shard.features.dtype);
  try {
    shard.labels = decode_tensor_binary(labels_frame, max_decoded_bytes - used);
  } catch (const TensorFormatError& error) {
    fail(std::string("labels frame: ") + error.what());
  }
  check_parts(shard.features.rank(), shard.features.shape.empty() ? 0 : shard.features.shape[0],
              shard.labels.dtype, shard.labels.rank(),
              shard.labels.shape.empty() ? 0 : shard.labels.shape[0]);
  return shard;
}

}  // namespace stratus
