#include "stratus/trainer/stage_plan.hpp"

#include <algorithm>
#include <stdexcept>

#include "source_reader.hpp"
#include "stratus/common/base64.hpp"

namespace stratus::trainer {

namespace {

std::string normalise_prefix(std::string prefix) {
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.size() > 512) throw DatasetError("prefix is longer than 512 bytes");
  if (prefix.find("//") != std::string::npos)
    throw DatasetError("prefix \"" + prefix + "\" has an empty segment");
  for (const char c : prefix) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\') {
      throw DatasetError("prefix has a control character or backslash");
    }
  }
  for (std::size_t start = 0; start <= prefix.size();) {
    const std::size_t slash = std::min(prefix.find('/', start), prefix.size());
    const std::string_view segment(prefix.data() + start, slash - start);
    if (segment == "." || segment == "..")
      throw DatasetError("prefix \"" + prefix + "\" has a . or .. segment");
    start = slash + 1;
  }
  return prefix;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

StagePlan::StagePlan(const LabeledData& data, DatasetManifest manifest,
                     std::vector<ShardRange> ranges, std::string prefix)
    : data_(&data),
      manifest_(std::move(manifest)),
      ranges_(std::move(ranges)),
      encoded_(ranges_.size(), false),
      prefix_(std::move(prefix)) {}

std::string StagePlan::object_key(std::string_view relative_key) const {
  if (prefix_.empty()) return std::string(relative_key);
  return prefix_ + "/" + std::string(relative_key);
}

StagedShard StagePlan::encode_shard(std::size_t index) {
  if (index >= ranges_.size()) {
    throw std::out_of_range("shard " + std::to_string(index) + " of " +
                            std::to_string(ranges_.size()));
  }
  StagedShard shard;
  shard.index = index;
  shard.bytes = trainer::encode_shard(*data_, ranges_[index], manifest_.compression_level);
  shard.entry.key = shard_key(index, ranges_.size());
  shard.entry.first = ranges_[index].first;
  shard.entry.count = ranges_[index].count;
  shard.entry.bytes = shard.bytes.size();
  detail::Sha256 sha256;
  sha256.update(shard.bytes.data(), shard.bytes.size());
  shard.entry.sha256 = sha256.hex();
  shard.object_key = object_key(shard.entry.key);
  manifest_.shards[index] = shard.entry;
  encoded_[index] = true;
  return shard;
}

bool StagePlan::complete() const {
  return std::all_of(encoded_.begin(), encoded_.end(), [](bool done) { return done; });
}

const DatasetManifest& StagePlan::manifest() const {
  if (!complete()) {
    throw std::logic_error(
        "StagePlan::manifest(): encode every shard first (the manifest lists "
        "their sizes and digests)");
  }
  return manifest_;
}

StagePlan plan_stage(const LabeledData& data, std::string dataset_name, std::size_t shards,
                     std::string prefix, StageOptions options) {
  data.validate();
  if (options.compression_level < -1 || options.compression_level > 9) {
    throw DatasetError("compression level " + std::to_string(options.compression_level) +
                       " is outside -1..9");
  }
  std::vector<ShardRange> ranges = split_evenly(data.count(), shards);

  DatasetManifest manifest;
  manifest.dataset = std::move(dataset_name);
  manifest.sources = data.sources;
  manifest.generator = data.generator;
  manifest.element_type = data.features.dtype;
  manifest.sample_shape = data.sample_shape();
  manifest.count = data.count();
  manifest.label_type = data.labels.dtype;
  manifest.classes = data.classes;
  if (data.labels.dtype == DType::int32) {
    manifest.class_counts.assign(data.classes.size(), 0);
    for (const std::int32_t label : data.labels.i32) {
      const auto at = std::lower_bound(data.classes.begin(), data.classes.end(), label);
      ++manifest.class_counts[static_cast<std::size_t>(at - data.classes.begin())];
    }
  }
  manifest.compression_level = options.compression_level;
  manifest.created = std::move(options.created);
  // Placeholders that pass validation; encode_shard() fills in the real ones.
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    manifest.shards.push_back({shard_key(i, ranges.size()), ranges[i].first, ranges[i].count,
                               kShardHeaderBytes, std::string(64, '0')});
  }
  try {
    validate(manifest);
  } catch (const ManifestError& error) {
    throw DatasetError(std::string("cannot stage: ") + error.what());
  }
  return StagePlan(data, std::move(manifest), std::move(ranges),
                   normalise_prefix(std::move(prefix)));
}

bool shard_matches(const ManifestShard& shard, std::string_view object_bytes) {
  if (object_bytes.size() != shard.bytes) return false;
  detail::Sha256 sha256;
  sha256.update(object_bytes.data(), object_bytes.size());
  return sha256.hex() == shard.sha256;
}

bool shard_sha256_matches(const ManifestShard& shard, std::string_view sha256) {
  std::string hex;
  if (sha256.size() == 64) {
    hex.reserve(64);
    for (const char c : sha256) {
      if (hex_value(c) < 0) return false;
      hex.push_back(static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c));
    }
  } else if (sha256.size() == 44) {
    const std::optional<std::string> raw = base64_decode(sha256);
    if (!raw || raw->size() != 32) return false;
    static constexpr char kDigits[] = "0123456789abcdef";
    for (const char byte : *raw) {
      hex.push_back(kDigits[static_cast<unsigned char>(byte) >> 4]);
      hex.push_back(kDigits[static_cast<unsigned char>(byte) & 0xf]);
    }
  } else {
    return false;
  }
  return hex == shard.sha256;
}

}  // namespace stratus::trainer
