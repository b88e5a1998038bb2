// The in-memory object store of --target local: S3's semantics where a workload can tell.

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "stratus/ml/memory_object_store.hpp"

using namespace stratus::ml;

TEST(MemoryObjectStore, BehavesLikeS3ForWorkloads) {
  MemoryObjectStore store;
  EXPECT_THROW(store.put("b", "k", "v"), ObjectStoreError);  // no such bucket yet
  try {
    store.get("b", "k");
    FAIL();
  } catch (const ObjectStoreError& error) {
    EXPECT_EQ(error.code(), "NoSuchBucket");
  }
  store.ensure_bucket("b");
  store.ensure_bucket("b");  // idempotent
  EXPECT_EQ(store.get("b", "k"), std::nullopt);
  EXPECT_FALSE(store.exists("b", "k"));
  store.put("b", "k", std::string("a\0b", 3));
  EXPECT_EQ(store.get("b", "k"), std::string("a\0b", 3));
  store.put("b", "k", "replaced");
  EXPECT_EQ(store.get("b", "k"), "replaced");
  EXPECT_TRUE(store.exists("b", "k"));
  store.remove("b", "k");
  store.remove("b", "k");  // a missing key is fine
  EXPECT_FALSE(store.exists("b", "k"));
  EXPECT_THROW(store.put("b", "", "v"), ObjectStoreError);
}

TEST(MemoryObjectStore, ListsKeysUnderAPrefixInByteOrder) {
  MemoryObjectStore store;
  store.ensure_bucket("b");
  for (const char* key :
       {"runs/2/x", "runs/10/x", "runs/1/x", "runz", "run", "runs/\xc3\xa9", "runs/Z"}) {
    store.put("b", key, "");
  }
  EXPECT_EQ(store.list("b", "runs/"), (std::vector<std::string>{"runs/1/x", "runs/10/x", "runs/2/x",
                                                                "runs/Z", "runs/\xc3\xa9"}));
  EXPECT_EQ(store.list("b", "").size(), 7u);
  EXPECT_TRUE(store.list("b", "none").empty());
  EXPECT_EQ(store.operation_counts().at("put"), 7u);
}

namespace {

// "t<thread>/"; built with append, since `"t" + std::to_string(n)` trips a GCC 12 -Wrestrict
// false positive.
std::string prefix_of(int thread) {
  std::string prefix = "t";
  prefix.append(std::to_string(thread)).append("/");
  return prefix;
}

}  // namespace

TEST(MemoryObjectStore, IsSafeToUseFromManyThreads) {
  MemoryObjectStore store;
  store.ensure_bucket("b");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string key = prefix_of(t) + std::to_string(i);
        store.put("b", key, key);
        EXPECT_EQ(store.get("b", key), key);
        store.list("b", prefix_of(t));
        if (i % 2) store.remove("b", key);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(store.list("b", prefix_of(t)).size(), 100u);
}
