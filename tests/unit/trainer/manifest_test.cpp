// The manifest (round trips, every validation rule) and the staging plan (lazy shards, keys,
// idempotent re-runs, determinism), plus open_shard, the worker side.

#include "stratus/trainer/manifest.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "dataset_files.hpp"
#include "stratus/common/base64.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/stage_plan.hpp"

using namespace stratus;
using namespace stratus::trainer;
using nlohmann::json;

namespace {

DatasetManifest staged_manifest(const LabeledData& data, std::size_t shards,
                                std::vector<std::string>* objects = nullptr) {
  StagePlan plan = plan_stage(data, "casea-small", shards, "datasets/casea");
  for (std::size_t i = 0; i < plan.shard_count(); ++i) {
    StagedShard shard = plan.encode_shard(i);
    if (objects) objects->push_back(std::move(shard.bytes));
  }
  return plan.manifest();
}

void expect_invalid(const std::function<void(json&)>& mutate, std::string_view fragment) {
  json doc = manifest_to_json(staged_manifest(make_case_a({50, 1}), 3));
  mutate(doc);
  try {
    manifest_from_json(doc);
    ADD_FAILURE() << "accepted; expected '" << fragment << "'";
  } catch (const ManifestError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

std::string base64_of_hex(const std::string& hex) {
  std::string raw;
  for (std::size_t i = 0; i < hex.size(); i += 2)
    raw.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return base64_encode(raw);
}

}  // namespace

// ---------------------------------------------------------------- StagePlan

TEST(StagePlan, EncodesShardsLazilyAndFillsTheManifest) {
  const LabeledData data = make_case_a({1000, 2});
  StagePlan plan = plan_stage(data, "casea-1k", 3, "/datasets/casea-1k/");
  EXPECT_EQ(plan.shard_count(), 3u);
  EXPECT_EQ(plan.prefix(), "datasets/casea-1k");
  EXPECT_EQ(plan.manifest_key(), "datasets/casea-1k/manifest.json");
  EXPECT_EQ(plan.range(1), (ShardRange{334, 333}));
  EXPECT_FALSE(plan.complete());
  EXPECT_THROW(plan.manifest(), std::logic_error);
  EXPECT_THROW(plan.encode_shard(3), std::out_of_range);

  // Any order; each call gives the same bytes.
  const StagedShard last = plan.encode_shard(2);
  EXPECT_EQ(last.object_key, "datasets/casea-1k/shard-00002-of-00003.bin");
  EXPECT_EQ(last.entry.key, "shard-00002-of-00003.bin");
  EXPECT_EQ(last.entry.first, 667u);
  EXPECT_EQ(last.entry.count, 333u);
  EXPECT_EQ(last.entry.bytes, last.bytes.size());
  EXPECT_EQ(last.entry.sha256, aws::sha256_hex(last.bytes));
  EXPECT_EQ(plan.encode_shard(2).bytes, last.bytes);
  plan.encode_shard(0);
  EXPECT_FALSE(plan.complete());
  plan.encode_shard(1);
  ASSERT_TRUE(plan.complete());

  const DatasetManifest& m = plan.manifest();
  EXPECT_EQ(m.dataset, "casea-1k");
  EXPECT_EQ(m.generator, "cloud2018-casea/1 dim=20 seed=2 count=1000");
  EXPECT_EQ(m.element_type, DType::float32);
  EXPECT_EQ(m.sample_shape, (std::vector<std::uint64_t>{20}));
  EXPECT_EQ(m.count, 1000u);
  EXPECT_EQ(m.label_type, DType::int32);
  EXPECT_EQ(m.classes, (std::vector<std::int32_t>{-1, 1}));
  std::uint64_t positive = 0;
  for (const std::int32_t label : data.labels.i32) positive += label == 1;
  EXPECT_EQ(m.class_counts, (std::vector<std::uint64_t>{1000 - positive, positive}));
  EXPECT_EQ(m.shards[2], last.entry);
  EXPECT_FALSE(m.created.has_value());
  EXPECT_EQ(plan.manifest_text(), manifest_text(m));
}

TEST(StagePlan, SameSourceGivesByteIdenticalShardsAndManifest) {
  test::TempDir dir("stage-determinism");
  test::write_file(dir / "train-images-idx3-ubyte.gz", test::gzip(test::mnist_images(40)));
  test::write_file(dir / "train-labels-idx1-ubyte.gz", test::gzip(test::mnist_labels(40)));
  std::vector<std::string> texts;
  std::vector<std::vector<std::string>> objects(2);
  for (int run = 0; run < 2; ++run) {
    const LabeledData data = read_mnist_directory(dir.path(), DatasetSplit::train);
    StageOptions options;
    options.created = run == 0 ? "2025-01-01T00:00:00Z" : "2031-12-31T23:59:59Z";
    StagePlan plan = plan_stage(data, "mnist-train", 4, "d/mnist", options);
    for (std::size_t i = 0; i < 4; ++i) objects[run].push_back(plan.encode_shard(i).bytes);
    DatasetManifest m = plan.manifest();
    EXPECT_EQ(m.created, options.created);
    m.created.reset();  // the creation time is informational: everything else must agree
    texts.push_back(manifest_text(m));
  }
  EXPECT_EQ(objects[0], objects[1]);
  EXPECT_EQ(texts[0], texts[1]);
  const DatasetManifest m = parse_manifest(texts[0]);
  ASSERT_EQ(m.sources.size(), 2u);
  EXPECT_EQ(m.sources[0].name, "train-images-idx3-ubyte.gz");
  EXPECT_EQ(m.sources[0].sha256,
            aws::sha256_hex(test::read_file(dir / "train-images-idx3-ubyte.gz")));
  EXPECT_EQ(m.sample_shape, (std::vector<std::uint64_t>{28, 28}));
  EXPECT_EQ(m.element_type, DType::uint8);
  EXPECT_EQ(m.class_counts.size(), 10u);
}

TEST(StagePlan, ShardMatchesForIdempotentReruns) {
  const LabeledData data = make_case_a({200, 8});
  std::vector<std::string> objects;
  const DatasetManifest m = staged_manifest(data, 2, &objects);
  EXPECT_TRUE(shard_matches(m.shards[0], objects[0]));
  EXPECT_FALSE(shard_matches(m.shards[0], objects[1]));
  std::string flipped = objects[0];
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(shard_matches(m.shards[0], flipped));
  EXPECT_FALSE(shard_matches(m.shards[0], objects[0] + "x"));

  const std::string hex = m.shards[1].sha256;
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(shard_sha256_matches(m.shards[1], hex));
  EXPECT_TRUE(shard_sha256_matches(m.shards[1], upper));
  EXPECT_TRUE(shard_sha256_matches(m.shards[1], base64_of_hex(hex)));  // x-amz-checksum-sha256
  EXPECT_FALSE(shard_sha256_matches(m.shards[1], m.shards[0].sha256));
  EXPECT_FALSE(shard_sha256_matches(m.shards[1], hex.substr(1)));
  EXPECT_FALSE(shard_sha256_matches(m.shards[1], ""));
  EXPECT_FALSE(shard_sha256_matches(m.shards[1], std::string(63, 'a') + "g"));
}

TEST(StagePlan, RefusesBadArguments) {
  const LabeledData data = make_case_a({10, 1});
  EXPECT_THROW(plan_stage(data, "x", 0, "p"), DatasetError);
  EXPECT_THROW(plan_stage(data, "x", 11, "p"), DatasetError);
  EXPECT_THROW(plan_stage(data, "bad/name", 2, "p"), DatasetError);
  EXPECT_THROW(plan_stage(data, "", 2, "p"), DatasetError);
  EXPECT_THROW(plan_stage(data, "x", 2, "a/../b"), DatasetError);
  EXPECT_THROW(plan_stage(data, "x", 2, "a//b"), DatasetError);
  EXPECT_THROW(plan_stage(data, "x", 2, "a/\nb"), DatasetError);
  StageOptions bad_level;
  bad_level.compression_level = 10;
  EXPECT_THROW(plan_stage(data, "x", 2, "p", bad_level), DatasetError);
  LabeledData broken = data;
  broken.labels.i32[3] = 5;  // not a class
  EXPECT_THROW(plan_stage(broken, "x", 2, "p"), DatasetError);
  StagePlan bare = plan_stage(data, "x", 2, "");
  EXPECT_EQ(bare.manifest_key(), "manifest.json");
  EXPECT_EQ(bare.encode_shard(0).object_key, "shard-00000-of-00002.bin");
}

// ---------------------------------------------------------------- manifest

TEST(Manifest, RoundTripsThroughJsonAndText) {
  DatasetManifest m = staged_manifest(make_case_a({100, 3}), 7);
  m.created = "2025-06-01T12:00:00Z";
  const nlohmann::ordered_json doc = manifest_to_json(m);
  EXPECT_EQ(doc["format"], "stratus-dataset/1");
  EXPECT_EQ(doc["shard_format"], "stratus-shard/1");
  EXPECT_EQ(doc["tensor_format"], "stratus-tensor/1");
  EXPECT_EQ(doc.begin().key(), "format");
  EXPECT_EQ(manifest_from_json(json::parse(doc.dump())), m);
  EXPECT_EQ(parse_manifest(manifest_text(m)), m);
  EXPECT_EQ(manifest_text(parse_manifest(manifest_text(m))), manifest_text(m));
  EXPECT_EQ(manifest_text(m).back(), '\n');
  // Float targets: no classes.
  LabeledData rows;
  rows.features = Tensor::of_f32({4, 1}, {1, 2, 3, 4});
  rows.labels = Tensor::of_f32({4}, {0.5f, 1, 2, 3});
  rows.sources = {{"rows.csv", 10, std::string(64, 'a')}};
  const DatasetManifest r = staged_manifest(rows, 2);
  EXPECT_TRUE(r.classes.empty());
  EXPECT_EQ(parse_manifest(manifest_text(r)), r);
  // Unknown fields are ignored.
  json extended = json::parse(manifest_text(r));
  extended["future_field"] = 1;
  EXPECT_EQ(manifest_from_json(extended), r);
}

TEST(Manifest, RefusesFormatsItDoesNotKnow) {
  expect_invalid([](json& d) { d["format"] = "stratus-dataset/2"; }, "unsupported format");
  expect_invalid([](json& d) { d["shard_format"] = "stratus-shard/9"; },
                 "unsupported shard_format");
  expect_invalid([](json& d) { d["tensor_format"] = "x"; }, "unsupported tensor_format");
  EXPECT_THROW(parse_manifest("{not json"), ManifestError);
  EXPECT_THROW(parse_manifest("[]"), ManifestError);
}

TEST(Manifest, RefusesMissingAndMistypedFields) {
  expect_invalid([](json& d) { d.erase("count"); }, "missing field count");
  expect_invalid([](json& d) { d["features"].erase("sample_shape"); },
                 "missing field features.sample_shape");
  expect_invalid([](json& d) { d["shards"][1].erase("sha256"); }, "missing field shards[1].sha256");
  expect_invalid([](json& d) { d["count"] = "50"; }, "count must be a non-negative integer");
  expect_invalid([](json& d) { d["count"] = -50; }, "count must be a non-negative integer");
  expect_invalid([](json& d) { d["count"] = 50.0; }, "count must be a non-negative integer");
  expect_invalid([](json& d) { d["shards"] = json::object(); }, "shards must be an array");
  expect_invalid([](json& d) { d["labels"] = 1; }, "labels must be an object");
  expect_invalid([](json& d) { d["features"]["dtype"] = "int8"; }, "unknown dtype \"int8\"");
  expect_invalid([](json& d) { d["labels"]["classes"][0] = 3000000000ll; }, "out of range");
  expect_invalid([](json& d) { d["compression_level"] = 12; }, "compression_level is out of range");
}

TEST(Manifest, RefusesManifestsThatDisagreeWithThemselves) {
  expect_invalid([](json& d) { d["count"] = 51; }, "class_counts add up to 50, count is 51");
  expect_invalid([](json& d) { d["labels"]["class_counts"][0] = 0; }, "class_counts add up to");
  expect_invalid([](json& d) { d["labels"]["classes"] = {1, -1}; }, "strictly ascending");
  expect_invalid([](json& d) { d["labels"]["class_counts"] = {50}; }, "one entry per class");
  expect_invalid([](json& d) { d["labels"]["dtype"] = "float32"; },
                 "float32 labels have no classes");
  expect_invalid([](json& d) { d["labels"]["dtype"] = "uint8"; },
                 "labels.dtype must be int32 or float32");
  expect_invalid([](json& d) { d["features"]["dtype"] = "float64"; },
                 "features.dtype must be uint8 or float32");
  expect_invalid([](json& d) { d["features"]["sample_shape"] = json::array(); }, "1 to 3 dims");
  expect_invalid([](json& d) { d["features"]["sample_shape"] = {20, 0}; }, "a dim of 0");
  expect_invalid(
      [](json& d) {
        d["features"]["sample_shape"] = {1ull << 40, 1ull << 40};
      },
      "overflows");
  expect_invalid([](json& d) { d["shards"][1]["key"] = "shard-00001-of-00004.bin"; },
                 "shards[1].key");
  expect_invalid([](json& d) { d["shards"][0]["count"] = 16; },
                 "the even contiguous split gives [0, +17)");
  expect_invalid([](json& d) { d["shards"][2]["first"] = 33; }, "shards[2] covers");
  expect_invalid([](json& d) { d["shards"].erase(2); }, "shards[0].key");
  expect_invalid([](json& d) { d["shards"] = json::array(); }, "no shards");
  expect_invalid([](json& d) { d["shards"][0]["bytes"] = 3; }, "smaller than a shard header");
  expect_invalid([](json& d) { d["shards"][0]["sha256"] = std::string(64, 'A'); },
                 "shards[0].sha256 must be 64 lower-case hex digits");
  expect_invalid([](json& d) { d["shards"][0]["sha256"] = "abc"; }, "shards[0].sha256");
  expect_invalid([](json& d) { d["dataset"] = "a/b"; }, "dataset name");
  expect_invalid([](json& d) { d["dataset"] = ".."; }, "dataset name");
  expect_invalid([](json& d) { d["generator"] = ""; }, "provenance is unknown");
  expect_invalid(
      [](json& d) {
        d["sources"] = {{{"name", "../x"}, {"bytes", 1}, {"sha256", std::string(64, 'a')}}};
      },
      "sources[0].name must be a plain file name");
  expect_invalid(
      [](json& d) {
        d["sources"] = {{{"name", "x"}, {"bytes", 1}, {"sha256", "abc"}}};
      },
      "sources[0].sha256");
  expect_invalid(
      [](json& d) {
        d["count"] = 2;
        d["labels"]["class_counts"] = {1, 1};
      },
      "cannot split 2 samples into 3 shards");
}

// ---------------------------------------------------------------- open_shard (worker side)

TEST(OpenShard, ChecksSizeDigestAndShapesAgainstTheManifest) {
  const LabeledData data = make_case_a({60, 6});
  std::vector<std::string> objects;
  const DatasetManifest m = staged_manifest(data, 3, &objects);
  const Shard shard = open_shard(m, 1, objects[1]);
  EXPECT_EQ(shard.count(), 20u);
  EXPECT_EQ(shard.features.f32[0], data.features.f32[20 * 20]);
  EXPECT_EQ(shard.labels.i32[19], data.labels.i32[39]);
  EXPECT_EQ(shard_decoded_bytes(m, m.shards[1]), (8 + 16 + 20 * 20 * 4) + (8 + 8 + 20 * 4u));

  EXPECT_THROW(open_shard(m, 3, objects[1]), ManifestError);
  std::string flipped = objects[0];
  flipped[40] ^= 0x10;
  try {
    open_shard(m, 0, flipped);
    ADD_FAILURE();
  } catch (const ShardFormatError& error) {
    EXPECT_NE(
        std::string(error.what()).find("casea-small/shard-00000-of-00003.bin: SHA-256 mismatch"),
        std::string::npos)
        << error.what();
  }
  EXPECT_THROW(open_shard(m, 1, objects[1].substr(1)), ShardFormatError);
  EXPECT_THROW(open_shard(m, 0, objects[2]), ShardFormatError);
  // A manifest that describes the same objects with another sample shape (valid by itself).
  DatasetManifest other = m;
  other.sample_shape = {4, 5};
  EXPECT_NO_THROW(validate(other));
  try {
    open_shard(other, 1, objects[1]);
    ADD_FAILURE();
  } catch (const ShardFormatError& error) {
    EXPECT_NE(std::string(error.what()).find("disagree with the manifest"), std::string::npos)
        << error.what();
  }
}
