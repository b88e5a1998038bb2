#include "stratus/trainer/stage.hpp"

#include <chrono>
#include <stdexcept>

#include "stratus/common/s3_client.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/image_stage.hpp"
#include "stratus/trainer/stage_plan.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

namespace {

// The user metadata entry that lets a re-run recognise a shard without downloading it.
constexpr const char* kShaMetadata = "sha256";

LabeledData read_source(const StageRequest& r) {
  DatasetSplit split = r.split == "test" ? DatasetSplit::test : DatasetSplit::train;
  if (r.split != "train" && r.split != "test") throw std::invalid_argument("--split must be train or test");
  if (r.dataset == "casea") return make_case_a({r.casea_count, r.seed});
  if (r.source.empty()) throw std::invalid_argument("--source is required for --dataset " + r.dataset);
  if (r.dataset == "mnist") return read_mnist_directory(r.source, split);
  if (r.dataset == "cifar10") return read_cifar10_directory(r.source, split);
  if (r.dataset == "csv") {
    return read_csv(r.source, r.csv_classes ? CsvLabels::int32_classes : CsvLabels::float32_targets);
  }
  throw std::invalid_argument("--dataset must be mnist, cifar10, casea or csv; got '" + r.dataset + "'");
}

// The S3 side of the target, resolved as every command resolves it (target.hpp).
aws::S3ClientOptions client_options(const StageRequest& r) {
  if (r.target == "local") {
    throw std::invalid_argument("stage writes to S3: --target must be aws or an http(s):// endpoint URL (an "
                                "in-process run stages its data itself)");
  }
  return resolve_remote({r.target, r.region, r.profile, 0, 64}).s3;
}

// --images s3://bucket/prefix/ -> (bucket, prefix)
std::pair<std::string, std::string> images_location(const std::string& url) {
  if (!url.starts_with("s3://")) throw std::invalid_argument("--dataset images needs --images s3://BUCKET/PREFIX/");
  const std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  if (rest.empty() || slash == 0) throw std::invalid_argument("--images must be s3://BUCKET/PREFIX/");
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

}  // namespace

StageSummary run_stage(const StageRequest& request, const StageProgress& progress) {
  auto started = std::chrono::steady_clock::now();
  if (request.bucket.empty()) throw std::invalid_argument("--bucket is required");
  if (request.shards == 0) throw std::invalid_argument("--shards must be at least 1");
  aws::S3Client client(client_options(request));
  std::optional<ImageFolder> folder;
  std::string images_source, classes_text;
  if (request.dataset == "images") {
    const auto [bucket, prefix] = images_location(request.images);
    images_source = "s3://" + bucket + "/" + prefix;
    Target target = make_target({request.target, request.region, request.profile, 0, 16});
    folder = read_image_folder(*target.store, bucket, prefix, request.image_size);
    classes_text = class_names_json(*folder, images_source);
  }
  LabeledData data = folder ? std::move(folder->data) : read_source(request);
  std::string name = request.name.empty() ? request.dataset + "-" + request.split : request.name;
  if (request.dataset == "casea" && request.name.empty()) name = "casea";
  if (request.dataset == "images" && request.name.empty()) name = "images";
  std::string prefix = request.prefix.empty() ? "datasets/" + name : request.prefix;
  StageOptions options;
  options.compression_level = request.compression_level;
  StagePlan plan = plan_stage(data, name, request.shards, prefix, options);

  if (request.create_bucket && !client.bucket_exists(request.bucket)) client.create_bucket(request.bucket);

  StageSummary summary;
  summary.shards = plan.shard_count();
  summary.samples = data.count();
  for (std::size_t i = 0; i < plan.shard_count(); ++i) {
    StagedShard shard = plan.encode_shard(i);
    auto existing = client.head_if_exists(request.bucket, shard.object_key);
    bool same = false;
    if (existing && existing->size == shard.entry.bytes) {
      auto sha = existing->metadata.find(kShaMetadata);
      same = sha != existing->metadata.end() && shard_sha256_matches(shard.entry, sha->second);
    }
    if (same) {
      ++summary.skipped;
      if (progress) progress(i, plan.shard_count(), shard.object_key, "skipped (unchanged)", shard.entry.bytes);
      continue;
    }
    aws::S3PutOptions put;
    put.content_type = "application/octet-stream";
    put.metadata[kShaMetadata] = shard.entry.sha256;
    client.put(request.bucket, shard.object_key, shard.bytes, put);
    ++summary.uploaded;
    summary.bytes_uploaded += shard.bytes.size();
    if (progress) progress(i, plan.shard_count(), shard.object_key, "uploaded", shard.entry.bytes);
  }
  // The manifest goes last: it vouches for shards that are all in place.
  std::string manifest = plan.manifest_text();
  aws::S3PutOptions put;
  put.content_type = "application/json";
  client.put(request.bucket, plan.manifest_key(), manifest, put);
  summary.manifest_key = plan.manifest_key();
  if (folder) {
    // The label names, beside the manifest (image_stage.hpp).
    const std::string& classes = classes_text;
    const std::string key = plan.manifest_key().substr(0, plan.manifest_key().rfind('/') + 1) + "classes.json";
    client.put(request.bucket, key, classes, put);
    summary.bytes_uploaded += classes.size();
  }
  summary.bytes_uploaded += manifest.size();
  if (progress) progress(plan.shard_count(), plan.shard_count(), plan.manifest_key(), "manifest written", manifest.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace stratus::trainer
