// Preparing a Case A/B run's samples (model_averaging_data.hpp).

#include "model_averaging_data.hpp"

#include <algorithm>
#include <filesystem>

#include "stratus/ml/architectures.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/s3_url.hpp"
#include "stratus/trainer/stage_plan.hpp"

namespace stratus::trainer {
namespace {

Shard as_shard(const LabeledData& data) {
  return Shard{data.features, data.labels};
}

// --dataset s3://bucket/key
S3ObjectUrl split_s3_url(const std::string& url) {
  if (url.rfind("s3://", 0) != 0)
    throw std::invalid_argument("--dataset must be s3://bucket/prefix/manifest.json");
  auto parsed = parse_s3_object_url(url);
  if (!parsed) {
    throw std::invalid_argument("--dataset must be s3://bucket/prefix/manifest.json; got '" + url +
                                "'");
  }
  return std::move(*parsed);
}

// Every shard of a staged dataset, concatenated in order: the evaluation set when there is no
// other.
Shard concatenate_shards(ml::ObjectStore& store, const ml::StagedDataset& dataset) {
  Shard all;
  for (std::size_t i = 0; i < dataset.manifest.shards.size(); ++i) {
    Shard part = ml::read_staged_shard(store, dataset, i).shard;
    if (i == 0) {
      all = std::move(part);
      continue;
    }
    all.features.shape[0] += part.features.shape[0];
    all.labels.shape[0] += part.labels.shape[0];
    auto append = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(all.features.f32, part.features.f32);
    append(all.features.u8, part.features.u8);
    append(all.labels.i32, part.labels.i32);
    append(all.labels.f32, part.labels.f32);
  }
  return all;
}

void check_case_a(const LabeledData& data, const std::string& where) {
  if (data.sample_shape() != std::vector<std::uint64_t>{20}) {
    throw DatasetError(where + ": Case A needs 20 features per row, this has " +
                       std::to_string(data.sample_elements()));
  }
  for (std::int32_t label : data.labels.i32) {
    if (label != -1 && label != 1)
      throw DatasetError(where + ": Case A labels must be -1 or +1, found " +
                         std::to_string(label));
  }
}

std::string staged_at(const ml::StagedDataset& dataset) {
  return "s3://" + dataset.bucket + "/" + dataset.manifest_key;
}

}  // namespace

// Stages `data` as `shards` contiguous shards unless the store holds that very dataset already (a
// manifest with the same name, provenance, count and shard count: the workers check every shard's
// digest against it, so a tampered object cannot slip through).
ml::StagedDataset stage_into(ml::ObjectStore& store, const std::string& bucket,
                             const LabeledData& data, const std::string& name,
                             std::uint32_t shards) {
  const std::string prefix = "datasets/" + name;
  StagePlan plan = plan_stage(data, name, shards, prefix);
  store.ensure_bucket(bucket);
  if (const auto existing = store.get(bucket, plan.manifest_key())) {
    try {
      const DatasetManifest m = parse_manifest(*existing);
      if (m.dataset == name && m.count == data.count() && m.generator == data.generator &&
          m.sources == data.sources && m.shards.size() == shards) {
        return ml::open_staged_dataset(store, bucket, plan.manifest_key());
      }
    } catch (const DatasetError&) {
      // Not a manifest we can use: stage over it.
    }
  }
  for (std::size_t i = 0; i < plan.shard_count(); ++i) {
    StagedShard shard = plan.encode_shard(i);
    store.put(bucket, shard.object_key, shard.bytes);
  }
  store.put(bucket, plan.manifest_key(), plan.manifest_text());
  return ml::open_staged_dataset(store, bucket, plan.manifest_key());
}


PreparedData prepare_data(const ModelAveragingOptions& o, ml::ObjectStore& store) {
  PreparedData prepared;
  const std::uint32_t workers = o.workers;
  if (o.architecture == ml::kCaseA) {
    LabeledData data;
    std::string name;
    if (!o.data.csv_file.empty()) {
      data = read_csv(o.data.csv_file, CsvLabels::int32_classes);
      check_case_a(data, o.data.csv_file);
      name =
          "casea-csv-" + data.sources.at(0).sha256.substr(0, 16) + "-w" + std::to_string(workers);
      prepared.description =
          "Case A: " + std::to_string(data.count()) + " rows of " + o.data.csv_file;
    } else {
      data = make_case_a({o.data.samples, o.seed});
      name = "casea-seed" + std::to_string(o.seed) + "-n" + std::to_string(o.data.samples) + "-w" +
             std::to_string(workers);
      prepared.description = "Case A: " + std::to_string(data.count()) +
                             " samples by the paper's rule (seed " + std::to_string(o.seed) + ")";
    }
    if (data.count() < workers) {
      throw DatasetError(std::to_string(data.count()) + " samples cannot be split over " +
                         std::to_string(workers) + " workers");
    }
    prepared.dataset = stage_into(store, o.bucket, data, name, workers);
    prepared.evaluation = as_shard(data);
    prepared.evaluation_description =
        "training data (" + std::to_string(data.count()) + " samples)";
  } else if (o.architecture == ml::kCaseB) {
    if (!o.data.dataset_url.empty()) {
      const auto [bucket, key] = split_s3_url(o.data.dataset_url);
      prepared.dataset = ml::open_staged_dataset(store, bucket, key);
      const auto& m = prepared.dataset.manifest;
      if (m.sample_shape != std::vector<std::uint64_t>{3, 32, 32} ||
          m.element_type != DType::uint8) {
        throw DatasetError(o.data.dataset_url +
                           " is not a CIFAR-10-shaped dataset (uint8 [3,32,32] images)");
      }
      if (m.shards.size() != workers) {
        throw DatasetError(o.data.dataset_url + " has " + std::to_string(m.shards.size()) +
                           " shards; the run has " + std::to_string(workers) +
                           " workers (one shard each): stage it with --shards " +
                           std::to_string(workers));
      }
      prepared.description =
          "Case B: " + std::to_string(m.count) + " images staged at " + o.data.dataset_url;
      prepared.evaluation = concatenate_shards(store, prepared.dataset);
      prepared.evaluation_description = "training data (" + std::to_string(m.count) + " images)";
    } else {
      if (o.data.cifar_dir.empty())
        throw std::invalid_argument("Case B needs --data DIR or --dataset s3://...");
      LabeledData train = read_cifar10_directory(o.data.cifar_dir, DatasetSplit::train);
      if (train.count() < workers) {
        throw DatasetError(std::to_string(train.count()) + " images cannot be split over " +
                           std::to_string(workers) + " workers");
      }
      prepared.dataset =
          stage_into(store, o.bucket, train, "cifar10-train-w" + std::to_string(workers), workers);
      prepared.description =
          "Case B: " + std::to_string(train.count()) + " CIFAR-10 images of " + o.data.cifar_dir;
      const std::filesystem::path dir = o.data.cifar_dir;
      if (std::filesystem::exists(dir / "test_batch.bin") ||
          std::filesystem::exists(dir / "cifar-10-batches-bin" / "test_batch.bin")) {
        LabeledData test = read_cifar10_directory(o.data.cifar_dir, DatasetSplit::test);
        prepared.evaluation_description =
            "CIFAR-10 test batch (" + std::to_string(test.count()) + " images)";
        prepared.evaluation = as_shard(test);
      } else {
        prepared.evaluation_description =
            "training data (" + std::to_string(train.count()) + " images; no test batch)";
        prepared.evaluation = as_shard(train);
      }
    }
  } else {
    throw std::invalid_argument("unknown architecture '" + o.architecture + "'");
  }
  prepared.description += ", staged at " + staged_at(prepared.dataset);
  return prepared;
}

PreparedData open_prepared_data(const ModelAveragingOptions& o, ml::ObjectStore& store,
                                const std::string& dataset_bucket,
                                const std::string& manifest_key) {
  PreparedData prepared;
  prepared.dataset = ml::open_staged_dataset(store, dataset_bucket, manifest_key);
  prepared.description = std::to_string(prepared.dataset.manifest.count) + " samples staged at " +
                         staged_at(prepared.dataset);
  const std::filesystem::path dir = o.data.cifar_dir;
  if (o.architecture == ml::kCaseB && !o.data.cifar_dir.empty() &&
      (std::filesystem::exists(dir / "test_batch.bin") ||
       std::filesystem::exists(dir / "cifar-10-batches-bin" / "test_batch.bin"))) {
    LabeledData test = read_cifar10_directory(o.data.cifar_dir, DatasetSplit::test);
    prepared.evaluation_description =
        "CIFAR-10 test batch (" + std::to_string(test.count()) + " images)";
    prepared.evaluation = as_shard(test);
  } else {
    prepared.evaluation = concatenate_shards(store, prepared.dataset);
    prepared.evaluation_description =
        "training data (" + std::to_string(prepared.dataset.manifest.count) + " samples)";
  }
  return prepared;
}

}  // namespace stratus::trainer
