#pragma once
// A running "work" invocation's alive record (runs/<run>/alive/worker-<w>-<hop>.json, an
// AliveRecord of model_averaging.hpp) kept as a short lease. The trainer's revival and
// `stratus-trainer stop` count an invocation as running while its lease has not run out; a worker
// killed mid-round (SIGKILL, OOM) cannot remove its record, but it stops refreshing it, so it is
// seen as gone within one lease instead of at the function's timeout.
//
// The record is written when the lease is taken, then refreshed every lease/3 by a small
// heartbeat thread of its own (training a minibatch or waiting for a child's result may take
// longer than a lease on a loaded host; the thread needs no cooperation from that work), each time
// to min(now + lease, the invocation's deadline): never past the function's own timeout. Two
// heartbeats may fail or come late before the lease runs out. release() (and the destructor)
// stops the thread, joins it, and only then removes the record, so no heartbeat can write it back.
//
// A lease of 0 is the behaviour before leases existed: the record is written once with the
// invocation's deadline as its lease, no thread runs.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::ml::averaging {

class AliveLease {
 public:
  // Writes the record (a store failure propagates: nothing is running yet), then starts the
  // heartbeat. `deadline_ms` is the invocation's deadline (epoch ms).
  AliveLease(ObjectStore& store, std::string bucket, std::string key, std::uint32_t worker,
             std::uint32_t hop, std::uint64_t deadline_ms, std::chrono::milliseconds lease);
  ~AliveLease();
  AliveLease(const AliveLease&) = delete;
  AliveLease& operator=(const AliveLease&) = delete;

  // Stops the heartbeat and removes the record. Never throws: a record it could not remove runs
  // out with its lease. Idempotent.
  void release() noexcept;

  std::chrono::milliseconds heartbeat_interval() const { return interval_; }
  // Heartbeats that refreshed the record so far (the first write not counted).
  std::uint64_t heartbeats() const;

 private:
  void write();  // the record with its lease from now
  void beat_until_stopped() noexcept;

  ObjectStore& store_;
  std::string bucket_;
  std::string key_;
  std::uint32_t worker_;
  std::uint32_t hop_;
  std::uint64_t deadline_ms_;
  std::chrono::milliseconds lease_;
  std::chrono::milliseconds interval_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool released_ = false;
  std::uint64_t heartbeats_ = 0;
  std::thread heartbeat_;  // last: started once everything it reads is set
};

}  // namespace stratus::ml::averaging
