#pragma once
// What faults to inject and when: a seed plus a list of rules, read from the config file's
// "faults" object or from PUT /stratus/v1/faults. A rule names a fault kind, what it applies to
// (a function, or a bucket and key prefix for S3 faults) and when it fires: with a probability,
// or on an exact schedule of matching requests ("the 3rd invocation of worker").
//
// Decisions are a pure function of (seed, rule index, how many requests the rule has matched so
// far): the same seed and the same sequence of requests give the same faults, whatever else
// happens on the machine. FaultSchedule holds the counters; it is unit-tested without a daemon.

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace stratus::emulator {

enum class FaultKind {
  DropEvent,       // an accepted async event (202) never runs
  DuplicateEvent,  // an accepted async event is delivered twice
  Crash,           // the environment gets SIGKILL at a random point of the invocation
  Straggler,       // the invocation's process is paced (SIGSTOP/SIGCONT) to run `factor` x slower
  InvokeLatency,   // the Invoke request waits `latency_ms` before it is handled
  Throttle,        // the Invoke request is refused with 429 TooManyRequestsException
  S3Latency,       // the S3 request waits `latency_ms` before it is handled
  S3SlowDown,      // the S3 request is refused with 503 SlowDown
  S3InternalError  // the S3 request is refused with 500 InternalError
};
inline constexpr FaultKind kAllFaultKinds[] = {
    FaultKind::DropEvent, FaultKind::DuplicateEvent, FaultKind::Crash,
    FaultKind::Straggler, FaultKind::InvokeLatency,  FaultKind::Throttle,
    FaultKind::S3Latency, FaultKind::S3SlowDown,     FaultKind::S3InternalError};

// "drop_event", "duplicate_event", "crash", "straggler", "invoke_latency", "throttle",
// "s3_latency", "s3_slow_down", "s3_internal_error".
const char* fault_kind_name(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view name);
bool is_s3_fault(FaultKind kind);

struct FaultRule {
  FaultKind kind = FaultKind::DropEvent;
  // Lambda faults: the function's name or "*". S3 faults: the bucket or "*" and a key prefix.
  std::string function = "*";
  std::string bucket = "*";
  std::string key_prefix;
  // Exactly one of the two: a probability per matching request, or the 1-based positions of the
  // matching requests that get the fault.
  std::optional<double> probability;
  std::vector<std::uint64_t> schedule;
  std::optional<std::uint64_t> max_count;  // at most this many injections by this rule
  double latency_ms = 0;                   // InvokeLatency, S3Latency
  double factor = 1;                       // Straggler: wall time multiplier (> 1)
  // Crash: the SIGKILL comes at a uniformly drawn point in [crash_after_min_ms, crash_after_max_ms]
  // after the invocation was handed to the runtime.
  double crash_after_min_ms = 0;
  double crash_after_max_ms = 200;
};

struct FaultPlan {
  std::uint64_t seed = 0;
  std::vector<FaultRule> rules;
};

// A malformed plan; the message names the offending field ("rules[1].probability: ...").
class FaultPlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses and validates {"seed": N, "rules": [{...}, ...]}; unknown fields are refused.
FaultPlan parse_fault_plan(const nlohmann::json& doc);
nlohmann::json fault_plan_json(const FaultPlan& plan);

// What one matching request is to suffer.
struct FaultDecision {
  std::size_t rule = 0;     // index in the plan
  std::uint64_t match = 0;  // the rule's 1-based count of matching requests, this one included
  double uniform = 0;       // a seeded draw in [0, 1) for the fault's own randomness (crash point)
  const FaultRule* spec = nullptr;
};

// The plan plus its per-rule counters.
class FaultSchedule {
 public:
  FaultSchedule() = default;
  explicit FaultSchedule(FaultPlan plan);

  const FaultPlan& plan() const { return plan_; }

  // Counts this request against every rule of the given kinds that matches it and returns the
  // first that fires: one request suffers at most one fault of a group (a throttled invoke is not
  // also delayed), and every rule's count is the number of requests it matched, fired or not.
  // For Lambda faults `target` is the function name; for S3 faults the bucket and `key`.
  std::optional<FaultDecision> decide(std::initializer_list<FaultKind> kinds,
                                      const std::string& target, const std::string& key = {});
  std::optional<FaultDecision> decide(FaultKind kind, const std::string& target,
                                      const std::string& key = {}) {
    return decide({kind}, target, key);
  }

 private:
  FaultPlan plan_;
  std::vector<std::uint64_t> matched_;   // per rule
  std::vector<std::uint64_t> injected_;  // per rule
};

// The seeded draw in [0, 1): splitmix64 over (seed, rule, match, stream).
double fault_draw(std::uint64_t seed, std::uint64_t rule, std::uint64_t match,
                  std::uint64_t stream);

}  // namespace stratus::emulator
