// CLOUD 2018 Case A synthetic data: the documented rule, checked against an independent
// re-implementation, and its properties (no repeats, +/-1, determinism, count limit).

#include <gtest/gtest.h>

#include <unordered_set>

#include "stratus/trainer/dataset_readers.hpp"

using namespace stratus;
using namespace stratus::trainer;

namespace {

// The 20 components of sample i as a 20-bit word (bit j set <=> component j is +1).
std::uint32_t word_of(const LabeledData& data, std::size_t i) {
  std::uint32_t word = 0;
  for (std::size_t j = 0; j < kCaseADimension; ++j) {
    const float v = data.features.f32[i * kCaseADimension + j];
    EXPECT_TRUE(v == 1.0f || v == -1.0f) << v;
    if (v > 0) word |= 1u << j;
  }
  return word;
}

// SplitMix64 exactly as published (Steele, Lea, Flood 2014), written out again here.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

TEST(CaseA, ShapesTypesAndProvenance) {
  const LabeledData data = make_case_a({1000, 7});
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.features.dtype, DType::float32);
  EXPECT_EQ(data.features.shape, (std::vector<std::uint64_t>{1000, 20}));
  EXPECT_EQ(data.labels.dtype, DType::int32);
  EXPECT_EQ(data.labels.shape, (std::vector<std::uint64_t>{1000}));
  EXPECT_EQ(data.classes, (std::vector<std::int32_t>{-1, 1}));
  EXPECT_TRUE(data.sources.empty());
  EXPECT_EQ(data.generator, "cloud2018-casea/1 dim=20 seed=7 count=1000");
}

TEST(CaseA, FollowsTheDocumentedRule) {
  const std::uint64_t seed = 12345;
  const LabeledData data = make_case_a({500, seed});
  std::uint64_t state = seed;
  std::int64_t w[20];
  for (auto& v : w) v = 2 * static_cast<std::int64_t>(splitmix64(state) % 1024) - 1023;
  const std::int64_t b = 2 * static_cast<std::int64_t>(splitmix64(state) % 2) - 1;
  std::unordered_set<std::uint64_t> seen;
  for (std::size_t i = 0; i < 500; ++i) {
    std::uint64_t word;
    do {
      word = splitmix64(state) >> 44;
    } while (!seen.insert(word).second);
    ASSERT_EQ(word_of(data, i), word) << i;
    std::int64_t activation = b;
    for (int j = 0; j < 20; ++j) activation += ((word >> j) & 1) ? w[j] : -w[j];
    ASSERT_NE(activation, 0);
    EXPECT_EQ(data.labels.i32[i], activation > 0 ? 1 : -1) << i;
  }
}

TEST(CaseA, NoRepeatsAndRoughlyBalancedLabels) {
  const LabeledData data = make_case_a({20000, 3});
  std::unordered_set<std::uint32_t> words;
  std::size_t positive = 0;
  for (std::size_t i = 0; i < data.count(); ++i) {
    EXPECT_TRUE(words.insert(word_of(data, i)).second) << "repeat at " << i;
    const std::int32_t label = data.labels.i32[i];
    ASSERT_TRUE(label == 1 || label == -1);
    positive += label == 1;
  }
  EXPECT_GT(positive, 20000u * 3 / 10);
  EXPECT_LT(positive, 20000u * 7 / 10);
}

TEST(CaseA, DeterministicBySeedAndPrefixStable) {
  const LabeledData a = make_case_a({3000, 99});
  const LabeledData b = make_case_a({3000, 99});
  const LabeledData c = make_case_a({3000, 100});
  const LabeledData shorter = make_case_a({1000, 99});
  EXPECT_EQ(a.features.f32, b.features.f32);
  EXPECT_EQ(a.labels.i32, b.labels.i32);
  EXPECT_NE(a.features.f32, c.features.f32);
  EXPECT_TRUE(
      std::equal(shorter.features.f32.begin(), shorter.features.f32.end(), a.features.f32.begin()));
  EXPECT_TRUE(
      std::equal(shorter.labels.i32.begin(), shorter.labels.i32.end(), a.labels.i32.begin()));
  // A fixed fingerprint: the data must not change between builds or platforms.
  std::uint64_t hash = 1469598103934665603ull;
  for (std::size_t i = 0; i < a.count(); ++i)
    hash = (hash ^ word_of(a, i) ^ (a.labels.i32[i] > 0 ? 1ull << 32 : 0)) * 1099511628211ull;
  EXPECT_EQ(hash, 717474495172612322ull)
      << "update the fingerprint only if the rule changed on purpose";
}

TEST(CaseA, CountLimits) {
  EXPECT_THROW(make_case_a({0, 1}), DatasetError);
  EXPECT_THROW(make_case_a({kCaseAMaxCount + 1, 1}), DatasetError);
  try {
    make_case_a({kCaseAMaxCount + 1, 1});
  } catch (const DatasetError& error) {
    EXPECT_NE(std::string(error.what()).find("outside 1..1048576"), std::string::npos)
        << error.what();
  }
  // Every one of the 2^20 vectors, each exactly once.
  const LabeledData all = make_case_a({kCaseAMaxCount, 5});
  std::vector<bool> seen(kCaseAMaxCount, false);
  for (std::size_t i = 0; i < all.count(); ++i) {
    std::uint32_t word = 0;
    for (std::size_t j = 0; j < kCaseADimension; ++j)
      word |= (all.features.f32[i * 20 + j] > 0 ? 1u : 0u) << j;
    ASSERT_FALSE(seen[word]) << i;
    seen[word] = true;
  }
}
