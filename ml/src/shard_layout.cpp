#include "stratus/ml/shard_layout.hpp"

#include <cstdio>

namespace stratus::ml {

std::vector<ShardRange> split_evenly(std::uint64_t count, std::uint64_t shards) {
  if (shards == 0 || shards > kMaxShards || shards > count) {
    throw DatasetError("cannot split " + std::to_string(count) + " samples into " +
                       std::to_string(shards) + " shards (1 to min(samples, " +
                       std::to_string(kMaxShards) + ") shards, none empty)");
  }
  const std::uint64_t base = count / shards;
  const std::uint64_t larger = count % shards;
  std::vector<ShardRange> ranges;
  ranges.reserve(static_cast<std::size_t>(shards));
  std::uint64_t first = 0;
  for (std::uint64_t i = 0; i < shards; ++i) {
    const std::uint64_t size = base + (i < larger ? 1 : 0);
    ranges.push_back({first, size});
    first += size;
  }
  return ranges;
}

std::string shard_key(std::uint64_t index, std::uint64_t shards) {
  if (shards == 0 || shards > kMaxShards || index >= shards) {
    throw DatasetError("no shard " + std::to_string(index) + " of " + std::to_string(shards));
  }
  char key[40];
  std::snprintf(key, sizeof key, "shard-%05llu-of-%05llu.bin",
                static_cast<unsigned long long>(index), static_cast<unsigned long long>(shards));
  return key;
}

}  // namespace stratus::ml
