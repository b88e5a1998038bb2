#include "stratus/ml/shard_reader.hpp"

#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <system_error>

namespace stratus::ml {

namespace {

std::string directory_of(const std::string& key) {
  const auto slash = key.rfind('/');
  return slash == std::string::npos ? std::string() : key.substr(0, slash + 1);
}

std::filesystem::path cache_file(const std::filesystem::path& cache_dir,
                                 const ManifestShard& entry) {
  // entry.sha256 is 64 hex digits (validate() checked): a safe file name.
  return cache_dir / ("stratus-shard-" + entry.sha256 + ".bin");
}

std::optional<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) return std::nullopt;
  return std::move(bytes).str();
}

// Best effort: a full or read-only /tmp costs a cache miss next time, never the invocation.
void write_file_atomically(const std::filesystem::path& file, std::string_view bytes) {
  std::random_device random;
  // Built with append rather than operator+ chains, which trip a GCC 12 -Wrestrict false positive.
  std::string name = ".";
  name.append(file.filename().string()).append(".").append(std::to_string(::getpid()));
  name.append("-").append(std::to_string(random())).append(".tmp");
  const std::filesystem::path temporary = file.parent_path() / name;
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      return;
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, file, error);
  if (error) std::filesystem::remove(temporary, error);
}

}  // namespace

std::string StagedDataset::shard_object_key(std::size_t index) const {
  if (index >= manifest.shards.size()) {
    throw ManifestError(std::string(kManifestFormat) + " manifest: no shard " +
                        std::to_string(index) + " (the dataset has " +
                        std::to_string(manifest.shards.size()) + ")");
  }
  return directory_of(manifest_key) + manifest.shards[index].key;
}

StagedDataset open_staged_dataset(ObjectStore& store, const std::string& bucket,
                                  const std::string& manifest_key) {
  std::optional<std::string> text = store.get(bucket, manifest_key);
  if (!text) {
    throw ManifestError("no dataset manifest at s3://" + bucket + "/" + manifest_key +
                        " (stage the dataset with `stratus-trainer stage`)");
  }
  StagedDataset dataset;
  dataset.bucket = bucket;
  dataset.manifest_key = manifest_key;
  try {
    dataset.manifest = parse_manifest(*text);
  } catch (const ManifestError& error) {
    throw ManifestError("s3://" + bucket + "/" + manifest_key + ": " + error.what());
  }
  return dataset;
}

ShardRead read_staged_shard(ObjectStore& store, const StagedDataset& dataset, std::size_t index,
                            const std::filesystem::path& cache_dir) {
  const std::string key = dataset.shard_object_key(index);
  const ManifestShard& entry = dataset.manifest.shards[index];
  if (!cache_dir.empty()) {
    if (std::optional<std::string> cached = read_file(cache_file(cache_dir, entry))) {
      try {
        return {open_shard(dataset.manifest, index, *cached), cached->size(), true};
      } catch (const ShardFormatError&) {
        // Damaged in /tmp (or cut short by a full disk): fetch it again below.
      }
    }
  }
  std::optional<std::string> bytes = store.get(dataset.bucket, key);
  if (!bytes) {
    throw ManifestError("shard " + std::to_string(index) + " of " + dataset.manifest.dataset +
                        " is missing: no object s3://" + dataset.bucket + "/" + key);
  }
  ShardRead read{open_shard(dataset.manifest, index, *bytes), bytes->size(), false};
  if (!cache_dir.empty()) write_file_atomically(cache_file(cache_dir, entry), *bytes);
  return read;
}

}  // namespace stratus::ml
