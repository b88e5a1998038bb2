// Reading staged datasets back through an ObjectStore, as functions do: the trainer's staging plan
// writes into the in-memory store, ml::read_staged_shard reads (and caches) them, and shard_stats
// serves them through a handler context.

#include "stratus/ml/shard_reader.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/stage_plan.hpp"

using namespace stratus;
using namespace stratus::trainer;

namespace {

// Stages Case A samples as `shards` shards under datasets/casea; returns the manifest key.
std::string stage_into(ml::ObjectStore& store, const LabeledData& data, std::size_t shards) {
  store.ensure_bucket("data");
  StagePlan plan = plan_stage(data, "casea-small", shards, "datasets/casea");
  for (std::size_t i = 0; i < plan.shard_count(); ++i) {
    StagedShard shard = plan.encode_shard(i);
    store.put("data", shard.object_key, shard.bytes);
  }
  store.put("data", plan.manifest_key(), plan.manifest_text());
  return plan.manifest_key();
}

class ScratchDir {
 public:
  ScratchDir()
      : path_(std::filesystem::temp_directory_path() /
              ("stratus-shard-reader-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST(ShardReader, ReadsWhatTheTrainerStaged) {
  ml::MemoryObjectStore store;
  const LabeledData data = make_case_a({90, 3});
  const std::string manifest_key = stage_into(store, data, 3);
  const ml::StagedDataset dataset = ml::open_staged_dataset(store, "data", manifest_key);
  EXPECT_EQ(dataset.manifest.count, 90u);
  EXPECT_EQ(dataset.shard_object_key(2), "datasets/casea/shard-00002-of-00003.bin");
  const ml::ShardRead read = ml::read_staged_shard(store, dataset, 1);
  EXPECT_FALSE(read.from_cache);
  EXPECT_EQ(read.shard.count(), 30u);
  EXPECT_EQ(read.shard.features.f32[0], data.features.f32[30 * 20]);
  EXPECT_EQ(read.shard.labels.i32[29], data.labels.i32[59]);
  EXPECT_THROW(dataset.shard_object_key(3), ml::ManifestError);
}

TEST(ShardReader, MissingOrBrokenObjectsAreTypedErrors) {
  ml::MemoryObjectStore store;
  const std::string manifest_key = stage_into(store, make_case_a({40, 1}), 2);
  EXPECT_THROW(ml::open_staged_dataset(store, "data", "datasets/other/manifest.json"),
               ml::ManifestError);
  store.put("data", "bad/manifest.json", "{\"format\": 1}");
  EXPECT_THROW(ml::open_staged_dataset(store, "data", "bad/manifest.json"), ml::ManifestError);
  const ml::StagedDataset dataset = ml::open_staged_dataset(store, "data", manifest_key);
  store.put("data", dataset.shard_object_key(0), "STSH not really");
  EXPECT_THROW(ml::read_staged_shard(store, dataset, 0), ShardFormatError);
  store.remove("data", dataset.shard_object_key(1));
  EXPECT_THROW(ml::read_staged_shard(store, dataset, 1), ml::ManifestError);
}

TEST(ShardReader, AWarmCacheIsKeyedByContentAndVerifiedOnEveryRead) {
  ml::MemoryObjectStore store;
  ScratchDir scratch;
  const std::string manifest_key = stage_into(store, make_case_a({60, 4}), 3);
  const ml::StagedDataset dataset = ml::open_staged_dataset(store, "data", manifest_key);
  EXPECT_FALSE(ml::read_staged_shard(store, dataset, 0, scratch.path()).from_cache);
  const auto gets = store.operation_counts().at("get");
  const ml::ShardRead again = ml::read_staged_shard(store, dataset, 0, scratch.path());
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(store.operation_counts().at("get"), gets);  // no request made
  // Another shard in the same environment is not served from shard 0's cache file.
  const ml::ShardRead other = ml::read_staged_shard(store, dataset, 2, scratch.path());
  EXPECT_FALSE(other.from_cache);
  EXPECT_EQ(other.shard.count(), 20u);
  // A damaged cache file is replaced from the store.
  const auto file =
      scratch.path() / ("stratus-shard-" + dataset.manifest.shards[0].sha256 + ".bin");
  ASSERT_TRUE(std::filesystem::exists(file));
  std::ofstream(file, std::ios::binary | std::ios::trunc) << "garbage";
  EXPECT_FALSE(ml::read_staged_shard(store, dataset, 0, scratch.path()).from_cache);
  EXPECT_TRUE(ml::read_staged_shard(store, dataset, 0, scratch.path()).from_cache);
  // No temporary files are left behind.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(scratch.path())) {
    EXPECT_EQ(entry.path().filename().string().rfind("stratus-shard-", 0), 0u) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 2u);
}

TEST(ShardStatsHandler, ReadsShardsThroughTheContextsStore) {
  ml::MemoryObjectStore store;
  const LabeledData data = make_case_a({50, 5});
  const std::string manifest_key = stage_into(store, data, 2);
  struct NoEvents : ml::EventInvoker {
    void invoke_event(const std::string&, std::string) override {}
  } events;
  functions::HandlerContext context{
      store,         events, std::chrono::system_clock::now() + std::chrono::seconds(5),
      "shard_stats", "r1",   "/tmp"};
  const auto stats = nlohmann::json::parse(functions::shard_stats_handler(
      nlohmann::json{{"bucket", "data"}, {"manifest", manifest_key}, {"shard", 1}}.dump(),
      context));
  EXPECT_EQ(stats["count"], 25);
  EXPECT_EQ(stats["first"], 25);
  EXPECT_EQ(stats["sample_shape"], nlohmann::json::array({20}));
  EXPECT_EQ(stats["feature_dtype"], "float32");
  std::uint64_t labelled = 0;
  for (const auto& [label, count] : stats["label_counts"].items())
    labelled += count.get<std::uint64_t>();
  EXPECT_EQ(labelled, 25u);

  auto refused = [&](nlohmann::json request) {
    try {
      functions::shard_stats_handler(request.dump(), context);
      return std::string("accepted");
    } catch (const functions::InvalidInput& error) {
      return std::string(error.what());
    }
  };
  EXPECT_NE(refused({{"bucket", "data"}, {"manifest", manifest_key}, {"shard", 2}})
                .find("does not exist"),
            std::string::npos);
  EXPECT_NE(refused({{"bucket", "data"}, {"manifest", "nope.json"}, {"shard", 0}})
                .find("no dataset manifest"),
            std::string::npos);
  store.put("data", "datasets/casea/shard-00000-of-00002.bin", "STSH");
  EXPECT_NE(refused({{"bucket", "data"}, {"manifest", manifest_key}, {"shard", 0}})
                .find("stratus-shard/1"),
            std::string::npos);
}
