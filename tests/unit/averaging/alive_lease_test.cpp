// The alive record as a lease (stratus/ml/alive_lease.hpp): the heartbeat refreshes it, never
// past the invocation's deadline, survives store failures, and stops before the record is
// removed, on release() and on destruction alike; a lease of 0 writes the deadline once.

#include "stratus/ml/alive_lease.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "stratus/ml/memory_object_store.hpp"
#include "stratus/ml/model_averaging_worker.hpp"

using namespace stratus::ml;
using namespace stratus::ml::averaging;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBucket = "lease-tests";
constexpr const char* kKey = "runs/r/alive/worker-00001-00002.json";

// Counts the puts of the alive key and fails them while `failing` is set.
class WatchedStore : public MemoryObjectStore {
 public:
  WatchedStore() { ensure_bucket(kBucket); }
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    if (key == kKey) {
      ++attempts;
      if (failing) throw ObjectStoreError("simulated SlowDown", "SlowDown");
      ++puts;
    }
    MemoryObjectStore::put(bucket, key, bytes);
  }
  AliveRecord record() {
    const auto text = get(kBucket, kKey);
    return text ? decode_alive(*text) : AliveRecord{};
  }
  std::atomic<int> attempts{0};
  std::atomic<int> puts{0};
  std::atomic<bool> failing{false};
};

// Waits (at most 10 s) until `done` holds.
template <typename F>
bool eventually(F&& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

}  // namespace

TEST(AliveLease, TheHeartbeatRefreshesTheLeaseAndReleaseRemovesTheRecordForGood) {
  WatchedStore store;
  const std::uint64_t deadline = epoch_ms() + 60'000;
  const std::uint64_t taken = epoch_ms();
  AliveLease lease(store, kBucket, kKey, 1, 2, deadline, 300ms);
  EXPECT_EQ(lease.heartbeat_interval(), 100ms);
  const AliveRecord first = store.record();
  EXPECT_EQ(first.worker, 1u);
  EXPECT_EQ(first.hop, 2u);
  EXPECT_EQ(first.deadline_ms, deadline);
  EXPECT_GE(first.lease_until_ms, taken + 300);
  EXPECT_LE(first.lease_until_ms, epoch_ms() + 300);
  ASSERT_TRUE(eventually([&] { return lease.heartbeats() >= 3; }));
  const AliveRecord later = store.record();
  EXPECT_GT(later.lease_until_ms, first.lease_until_ms);
  EXPECT_TRUE(later.running_at(epoch_ms()));

  lease.release();
  EXPECT_FALSE(store.exists(kBucket, kKey));
  const int puts = store.attempts;
  std::this_thread::sleep_for(350ms);  // three heartbeat intervals: none may write it back
  EXPECT_EQ(store.attempts, puts);
  EXPECT_FALSE(store.exists(kBucket, kKey));
  lease.release();  // idempotent
}

TEST(AliveLease, TheLeaseNeverOutlastsTheInvocationsDeadline) {
  WatchedStore store;
  const std::uint64_t deadline = epoch_ms() + 150;
  AliveLease lease(store, kBucket, kKey, 1, 2, deadline, 3000ms);
  EXPECT_EQ(store.record().lease_until_ms, deadline);
  EXPECT_FALSE(store.record().running_at(deadline));
}

TEST(AliveLease, AFailedHeartbeatIsTriedAgainAndTheThreadSurvivesIt) {
  WatchedStore store;
  AliveLease lease(store, kBucket, kKey, 1, 2, epoch_ms() + 60'000, 300ms);
  store.failing = true;
  const int before = store.attempts;
  ASSERT_TRUE(eventually([&] { return store.attempts >= before + 2; }));  // two failed beats
  const std::uint64_t stale = store.record().lease_until_ms;
  store.failing = false;
  ASSERT_TRUE(eventually([&] { return store.record().lease_until_ms > stale; }));
}

TEST(AliveLease, DestroyingTheLeaseStopsTheHeartbeatAndRemovesTheRecord) {
  WatchedStore store;
  {
    AliveLease lease(store, kBucket, kKey, 1, 2, epoch_ms() + 60'000, 300ms);
    ASSERT_TRUE(store.exists(kBucket, kKey));
  }
  EXPECT_FALSE(store.exists(kBucket, kKey));
  const int puts = store.attempts;
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(store.attempts, puts);
}

TEST(AliveLease, NoLeaseWritesTheDeadlineOnceAndRunsNoHeartbeat) {
  WatchedStore store;
  const std::uint64_t deadline = epoch_ms() + 60'000;
  AliveLease lease(store, kBucket, kKey, 1, 2, deadline, 0ms);
  EXPECT_EQ(store.record().lease_until_ms, deadline);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(store.puts, 1);
  EXPECT_EQ(lease.heartbeats(), 0u);
  lease.release();
  EXPECT_FALSE(store.exists(kBucket, kKey));
}

TEST(AliveLease, ARecordItCannotWriteFailsTheLeaseAndLeavesNothingRunning) {
  WatchedStore store;
  store.failing = true;
  EXPECT_THROW(AliveLease(store, kBucket, kKey, 1, 2, epoch_ms() + 60'000, 300ms),
               ObjectStoreError);
  EXPECT_FALSE(store.exists(kBucket, kKey));
}
