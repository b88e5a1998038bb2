#include "stratus/trainer/s3_url.hpp"

#include <gtest/gtest.h>

using stratus::trainer::parse_s3_object_url;

TEST(S3ObjectUrl, SplitsBucketFromTheWholeKey) {
  const auto url = parse_s3_object_url("s3://stratus-runs/datasets/mnist-train/manifest.json");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->bucket, "stratus-runs");
  EXPECT_EQ(url->key, "datasets/mnist-train/manifest.json");
  const auto short_key = parse_s3_object_url("s3://b/k");
  ASSERT_TRUE(short_key.has_value());
  EXPECT_EQ(short_key->bucket, "b");
  EXPECT_EQ(short_key->key, "k");
}

TEST(S3ObjectUrl, RefusesAnythingButBucketSlashKey) {
  for (const char* bad : {"", "s3://", "s3:/b/k", "S3://b/k", "http://b/k", "b/k", "s3://bucket",
                          "s3://bucket/", "s3:///key"}) {
    EXPECT_FALSE(parse_s3_object_url(bad).has_value()) << bad;
  }
}
