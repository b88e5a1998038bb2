#pragma once
// The fan-out engine, written once over an Invoker: a set of tasks (function, payload) is sent
// with at most `max_in_flight` calls at once, each attempt under a deadline; function errors,
// unusable answers, timeouts, throttles (429), 5xx and transport failures are retried with
// capped exponential back-off and full jitter (at least a throttle's Retry-After); a refusal that
// cannot get better (404, 400, 403, 413) fails at once. Answers are decoded by the caller, who
// names the task each answer is for: an answer for a task already answered (the late answer of
// an attempt given up at its deadline) or for another task is a duplicate, ignored. REPORT lines
// are summed into the telemetry with their cost. Results come back indexed by task, so workloads
// reduce in a fixed order whatever order the answers arrived in.
//
// Stragglers can be backed up: past `backup_after` (or a multiple of the median latency of the
// tasks answered so far) a task whose one attempt is still running gets a second, identical call;
// the first genuine answer wins (both compute the same bytes), the other is ignored. Every call's
// fate is kept (FanOutTelemetry::calls, with the target's request id) for the run's fault list
// (fault_report.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "stratus/trainer/invocation_report.hpp"
#include "stratus/trainer/invoker.hpp"

namespace stratus::trainer {

struct FanOutOptions {
  int max_in_flight = 64;
  std::chrono::milliseconds call_deadline{std::chrono::seconds(120)};  // per attempt
  int retries = 2;  // re-sends of one task after a retryable failure
  // Re-sends of one task after 429s, on top of `retries`: a throttled call never ran, so (as the
  // AWS SDKs do) throttles draw on their own, larger budget, with the same backoff.
  int throttle_retries = 10;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_max{5000};
  // Backups of stragglers (first answer wins). 0: none. When both are set, the earlier one applies.
  std::chrono::milliseconds backup_after{0};
  // A task is backed up once its attempt has run this many times the median latency of the tasks
  // of the same run() answered so far (at least half of them answered). 0: none.
  double backup_after_median = 0;
  LambdaPrices prices;
};

// What happened to one call (one attempt of a task), as the engine saw it.
enum class CallFate {
  answered,           // its answer was accepted for its task
  duplicate_ignored,  // answered after its task was settled (a backup's twin, a late answer)
  throttled,          // 429: retried after back-off
  function_error,     // the function failed (a crash is an Unhandled error): retried
  server_error,       // 5xx: retried
  unusable_answer,    // the decoder refused it, or it was for another task: retried
  timed_out,          // no answer within the call deadline: retried
  no_answer,          // transport failure: retried
  refused,            // 4xx other than 429: the task failed
  backup_launched,    // a second call for a straggling task (no request id: it has not answered)
};
const char* call_fate_name(CallFate fate);

struct CallRecord {
  CallFate fate = CallFate::answered;
  std::string request_id;  // the target's (x-amzn-RequestId); empty when no answer arrived
  std::string function;
  std::string task;  // the task's label
  int attempt = 0;   // 1 for the first call of its task
  bool backup = false;  // the call was a straggler's backup (not a retry: nothing had failed)
  double latency_ms = 0;
};

struct FanOutTask {
  std::string function;
  std::string payload;
  std::string key;    // what the decoder must return for a genuine answer to this task
  std::string label;  // names the task in errors, e.g. "shard 3"
};

struct FanOutTelemetry {
  int invocations = 0;  // answers from a function that ran (2xx), function errors included
  int cold_starts = 0;
  double billed_ms = 0;
  double cost_usd = 0;
  int retries = 0;
  int duplicates_ignored = 0;
  int function_errors = 0;
  int throttles = 0;
  int timeouts = 0;
  int backups = 0;  // straggler backups launched
  // Every call made, in the order the engine settled them (backups when launched).
  std::vector<CallRecord> calls;
  // Sums of the numeric modeled figures (InvocationTelemetry::modeled) over the answers.
  std::map<std::string, double> modeled;

  void add(const FanOutTelemetry& other);
};

struct TaskOutcome {
  InvocationResult result;  // the accepted answer
  int attempts = 0;         // calls made for this task
  double latency_ms = 0;    // of the accepted attempt, as the engine saw it
};

class FanOutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Decodes the answer to task `index` (keeping what it needs) and returns the key of the task the
// answer is for. Throwing (any std::exception) marks the answer unusable: the attempt is retried.
// Called on run()'s thread, one answer at a time, never again for a task once it is answered.
using AnswerDecoder = std::function<std::string(std::size_t index, const std::string& payload)>;

class FanOut {
 public:
  FanOut(Invoker& invoker, FanOutOptions options);

  // Runs every task to an accepted answer; outcome i belongs to tasks[i]. Throws FanOutError
  // (naming the task's label and the last problem) as soon as one task fails for good: nothing more
  // is started, and answers still in flight are ignored. `telemetry` accumulates (+=).
  std::vector<TaskOutcome> run(const std::vector<FanOutTask>& tasks, const AnswerDecoder& decode,
                               FanOutTelemetry& telemetry);

  const FanOutOptions& options() const { return options_; }
  Invoker& invoker() { return invoker_; }

 private:
  Invoker& invoker_;
  FanOutOptions options_;
};

}  // namespace stratus::trainer
