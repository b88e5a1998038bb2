// The alive record as a lease with a heartbeat (alive_lease.hpp).

#include "stratus/ml/alive_lease.hpp"

#include <algorithm>

#include "stratus/ml/model_averaging_worker.hpp"

namespace stratus::ml::averaging {

AliveLease::AliveLease(ObjectStore& store, std::string bucket, std::string key,
                       std::uint32_t worker, std::uint32_t hop, std::uint64_t deadline_ms,
                       std::chrono::milliseconds lease)
    : store_(store),
      bucket_(std::move(bucket)),
      key_(std::move(key)),
      worker_(worker),
      hop_(hop),
      deadline_ms_(deadline_ms),
      lease_(std::max(lease, std::chrono::milliseconds::zero())),
      interval_(lease_ / 3) {
  write();
  if (lease_ == std::chrono::milliseconds::zero()) return;
  try {
    heartbeat_ = std::thread([this] { beat_until_stopped(); });
  } catch (...) {
    try {
      store_.remove(bucket_, key_);
    } catch (...) {
      // It runs out with its lease.
    }
    throw;
  }
}

AliveLease::~AliveLease() {
  release();
}

void AliveLease::write() {
  AliveRecord record;
  record.worker = worker_;
  record.hop = hop_;
  record.deadline_ms = deadline_ms_;
  record.lease_until_ms =
      lease_ > std::chrono::milliseconds::zero()
          ? std::min(deadline_ms_, epoch_ms() + static_cast<std::uint64_t>(lease_.count()))
          : deadline_ms_;
  store_.put(bucket_, key_, encode_alive(record));
}

void AliveLease::beat_until_stopped() noexcept {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    // Past the deadline Lambda has stopped the invocation; the record's lease ends there anyway.
    if (epoch_ms() >= deadline_ms_) return;
    lock.unlock();
    bool written = false;
    try {
      write();
      written = true;
    } catch (...) {
      // A store hiccup: the next heartbeat tries again, the lease outlasts two missed ones.
    }
    lock.lock();
    if (written) ++heartbeats_;
  }
}

void AliveLease::release() noexcept {
  {
    std::lock_guard lock(mutex_);
    if (released_) return;
    released_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  try {
    store_.remove(bucket_, key_);
  } catch (...) {
    // It runs out with its lease (or, without one, at the invocation's deadline).
  }
}

std::uint64_t AliveLease::heartbeats() const {
  std::lock_guard lock(mutex_);
  return heartbeats_;
}

}  // namespace stratus::ml::averaging
