// Handlers that read staged datasets from S3.

#include <map>
#include <memory>
#include <mutex>

#include <nlohmann/json.hpp>

#include "stratus/common/checksum.hpp"
#include "stratus/common/s3_client.hpp"
#include "stratus/common/shard_codec.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/functions/handlers.hpp"

namespace stratus::functions {

namespace {

// Upper bound on a decoded shard (both frames): the biggest useful shard is a whole dataset
// (CIFAR-10 train is ~150 MB raw), and a function's memory is at most 10 GB.
constexpr std::uint64_t kMaxShardDecodedBytes = std::uint64_t{1} << 30;

// One client per environment, reused across warm invocations (its connection pool survives).
aws::S3Client& s3_client() {
  static std::once_flag once;
  static std::unique_ptr<aws::S3Client> client;
  std::call_once(once, [] {
    auto options = aws::S3ClientOptions::from_environment();
    // Custom endpoints (the emulator) are path style; AWS's regional endpoint stays virtual-hosted.
    client = std::make_unique<aws::S3Client>(std::move(options));
  });
  return *client;
}

template <typename T>
void add_sums(const std::vector<T>& values, double& sum) {
  for (T v : values) sum += static_cast<double>(v);
}

}  // namespace

std::string shard_stats_handler(std::string_view payload) {
  auto request = nlohmann::json::parse(payload, nullptr, false);
  if (request.is_discarded() || !request.is_object()) throw InvalidInput("the event must be a JSON object");
  if (!request.contains("bucket") || !request["bucket"].is_string() || !request.contains("manifest") ||
      !request["manifest"].is_string() || !request.contains("shard") || !request["shard"].is_number_unsigned()) {
    throw InvalidInput(R"(expected {"bucket": string, "manifest": string, "shard": non-negative integer})");
  }
  const std::string bucket = request["bucket"];
  const std::string manifest_key = request["manifest"];
  const auto index = request["shard"].get<std::uint64_t>();

  aws::S3Client& s3 = s3_client();
  auto manifest = nlohmann::json::parse(s3.get(bucket, manifest_key), nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("shards") || !manifest["shards"].is_array()) {
    throw InvalidInput("s3://" + bucket + "/" + manifest_key + " is not a dataset manifest");
  }
  if (index >= manifest["shards"].size()) {
    throw InvalidInput("shard " + std::to_string(index) + " does not exist; the dataset has " +
                       std::to_string(manifest["shards"].size()));
  }
  const auto& entry = manifest["shards"][index];
  std::string prefix = manifest_key.substr(0, manifest_key.rfind('/') == std::string::npos ? 0 : manifest_key.rfind('/') + 1);
  std::string key = prefix + entry.at("key").get<std::string>();
  std::string bytes = s3.get(bucket, key);
  Checksum sha(ChecksumAlgorithm::sha256);
  sha.update(bytes);
  std::string digest = aws::to_hex(sha.digest());
  if (digest != entry.at("sha256").get<std::string>()) {
    throw InvalidInput("s3://" + bucket + "/" + key + " does not match its manifest (sha256 " + digest + ")");
  }
  Shard shard = decode_shard(bytes, kMaxShardDecodedBytes);

  std::map<std::string, std::uint64_t> label_counts;
  if (shard.labels.dtype == DType::int32) {
    for (std::int32_t label : shard.labels.i32) ++label_counts[std::to_string(label)];
  }
  double feature_sum = 0;
  switch (shard.features.dtype) {
    case DType::uint8: add_sums(shard.features.u8, feature_sum); break;
    case DType::float32: add_sums(shard.features.f32, feature_sum); break;
    case DType::float64: add_sums(shard.features.f64, feature_sum); break;
    case DType::int32: add_sums(shard.features.i32, feature_sum); break;
  }
  std::vector<std::uint64_t> sample_shape(shard.features.shape.begin() + 1, shard.features.shape.end());
  return nlohmann::json{{"key", key},
                        {"bytes", bytes.size()},
                        {"sha256", digest},
                        {"first", entry.value("first", std::uint64_t{0})},
                        {"count", shard.count()},
                        {"sample_shape", sample_shape},
                        {"feature_dtype", dtype_name(shard.features.dtype)},
                        {"label_counts", label_counts},
                        {"feature_sum", feature_sum}}
      .dump();
}

}  // namespace stratus::functions
