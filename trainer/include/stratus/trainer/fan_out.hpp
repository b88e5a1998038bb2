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
  LambdaPrices prices;
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
