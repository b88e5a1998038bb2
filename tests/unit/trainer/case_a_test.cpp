// CLOUD 2018 Case A synthetic data: the paper's rule, checked against an independent
// re-implementation, and its properties (no repeats, +/-1, half each, determinism, count limit).

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <unordered_set>
#include <utility>
#include <vector>

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

TEST(CaseA, FollowsThePapersRule) {
  // Re-implemented from the documented rule: distinct 20-bit draws, sorted, lower half -1, upper
  // half +1, then a Fisher-Yates shuffle of the rows, all from one SplitMix64 stream.
  const std::uint64_t seed = 12345;
  const std::size_t n = 501;  // odd: floor(n/2) samples are -1
  const LabeledData data = make_case_a({n, seed});
  std::uint64_t state = seed;
  std::unordered_set<std::uint64_t> seen;
  std::vector<std::uint32_t> words;
  while (words.size() < n) {
    const std::uint64_t word = splitmix64(state) >> 44;
    if (seen.insert(word).second) words.push_back(static_cast<std::uint32_t>(word));
  }
  std::sort(words.begin(), words.end());
  std::vector<std::pair<std::uint32_t, std::int32_t>> rows;
  for (std::size_t i = 0; i < n; ++i) rows.push_back({words[i], i < n / 2 ? -1 : 1});
  for (std::size_t i = n - 1; i >= 1; --i) std::swap(rows[i], rows[splitmix64(state) % (i + 1)]);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(word_of(data, i), rows[i].first) << i;
    EXPECT_EQ(data.labels.i32[i], rows[i].second) << i;
  }
}

TEST(CaseA, NoRepeatsAndExactlyHalfEachLabel) {
  const LabeledData data = make_case_a({20000, 3});
  std::unordered_set<std::uint32_t> words;
  std::size_t positive = 0;
  for (std::size_t i = 0; i < data.count(); ++i) {
    EXPECT_TRUE(words.insert(word_of(data, i)).second) << "repeat at " << i;
    const std::int32_t label = data.labels.i32[i];
    ASSERT_TRUE(label == 1 || label == -1);
    positive += label == 1;
  }
  EXPECT_EQ(positive, 10000u);
  // The labels split the sorted integers: every -1 sample is below every +1 sample.
  std::uint32_t highest_negative = 0, lowest_positive = UINT32_MAX;
  for (std::size_t i = 0; i < data.count(); ++i) {
    const std::uint32_t word = word_of(data, i);
    if (data.labels.i32[i] < 0)
      highest_negative = std::max(highest_negative, word);
    else
      lowest_positive = std::min(lowest_positive, word);
  }
  EXPECT_LT(highest_negative, lowest_positive);
  // Rows are shuffled: the labels of the first 100 rows are not all the same.
  std::size_t first_positive = 0;
  for (std::size_t i = 0; i < 100; ++i) first_positive += data.labels.i32[i] == 1;
  EXPECT_GT(first_positive, 20u);
  EXPECT_LT(first_positive, 80u);
}

TEST(CaseA, DeterministicBySeed) {
  const LabeledData a = make_case_a({3000, 99});
  const LabeledData b = make_case_a({3000, 99});
  const LabeledData c = make_case_a({3000, 100});
  EXPECT_EQ(a.features.f32, b.features.f32);
  EXPECT_EQ(a.labels.i32, b.labels.i32);
  EXPECT_NE(a.features.f32, c.features.f32);
  // A fixed fingerprint: the data must not change between builds or platforms.
  std::uint64_t hash = 1469598103934665603ull;
  for (std::size_t i = 0; i < a.count(); ++i)
    hash = (hash ^ word_of(a, i) ^ (a.labels.i32[i] > 0 ? 1ull << 32 : 0)) * 1099511628211ull;
  EXPECT_EQ(hash, 7950186103424786475ull)
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
