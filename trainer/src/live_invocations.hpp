#pragma once
// Which "work" invocations of a Case A/B run are running, by their alive records
// (runs/<run>/alive/, stratus/ml/alive_lease.hpp): the ones whose lease has not run out. A killed
// invocation's record stays behind but stops being refreshed, so it drops out within one lease.
// The trainer's revival and `stratus-trainer stop` both ask this.

#include <cstdint>
#include <string>
#include <vector>

#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::trainer {

// The records of invocations running at `now_ms` (epoch ms). An unreadable record says nothing
// about a running invocation and is skipped.
std::vector<ml::averaging::AliveRecord> live_invocations(ml::ObjectStore& store,
                                                         const std::string& bucket,
                                                         const ml::averaging::RunLayout& layout,
                                                         std::uint64_t now_ms);

}  // namespace stratus::trainer
