// Handlers that read staged datasets through the context's object store.

#include <map>

#include <nlohmann/json.hpp>

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/shard_reader.hpp"

namespace stratus::functions {

namespace {

template <typename T>
void add_sums(const std::vector<T>& values, double& sum) {
  for (T v : values) sum += static_cast<double>(v);
}

}  // namespace

std::string shard_stats_handler(std::string_view payload, HandlerContext& context) {
  auto request = nlohmann::json::parse(payload, nullptr, false);
  if (request.is_discarded() || !request.is_object()) throw InvalidInput("the event must be a JSON object");
  if (!request.contains("bucket") || !request["bucket"].is_string() || !request.contains("manifest") ||
      !request["manifest"].is_string() || !request.contains("shard") || !request["shard"].is_number_unsigned()) {
    throw InvalidInput(R"(expected {"bucket": string, "manifest": string, "shard": non-negative integer})");
  }
  const std::string bucket = request["bucket"];
  const std::string manifest_key = request["manifest"];
  const auto index = request["shard"].get<std::uint64_t>();

  ml::StagedDataset dataset;
  ml::ShardRead read;
  try {
    dataset = ml::open_staged_dataset(context.store, bucket, manifest_key);
    if (index >= dataset.manifest.shards.size()) {
      throw InvalidInput("shard " + std::to_string(index) + " does not exist; the dataset has " +
                         std::to_string(dataset.manifest.shards.size()));
    }
    // No cache: this handler's job is to check what is in S3 now.
    read = ml::read_staged_shard(context.store, dataset, static_cast<std::size_t>(index));
  } catch (const ml::DatasetError& error) {
    throw InvalidInput(error.what());
  } catch (const ShardFormatError& error) {
    throw InvalidInput(error.what());
  }
  const ml::ManifestShard& entry = dataset.manifest.shards[static_cast<std::size_t>(index)];
  const Shard& shard = read.shard;

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
  return nlohmann::json{{"key", dataset.shard_object_key(static_cast<std::size_t>(index))},
                        {"bytes", read.bytes},
                        // open_shard checked the object's SHA-256 against the manifest's.
                        {"sha256", entry.sha256},
                        {"first", entry.first},
                        {"count", shard.count()},
                        {"sample_shape", sample_shape},
                        {"feature_dtype", dtype_name(shard.features.dtype)},
                        {"label_counts", label_counts},
                        {"feature_sum", feature_sum}}
      .dump();
}

}  // namespace stratus::functions
