#pragma once
// The driver of `stratus-trainer casec`: CLOUD 2018 Case C's random search
// (stratus/ml/hyperparameter_search.hpp). Each trial is one invocation of `hyperparameter_trial`,
// all of them in parallel up to `max_concurrency`; a trial that outlives its invocation continues
// as a chain of Event invocations of itself, and the driver then follows it through S3 (its newest
// checkpoint, then its result). A trial whose invocation fails, or whose chain makes no progress
// for `stall_timeout`, is invoked again from its newest checkpoint, at most `retries` times, then
// reported failed; the search goes on without it. The trials' configurations are fixed before the
// first invocation, and each result is a pure function of its configuration and the data, so
// the search gives the same results on every backend, whatever failed and was retried.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stratus/ml/hyperparameter_search.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/invoker.hpp"

namespace stratus::trainer {

struct SearchOptions {
  ml::hyperparameter_search::RunConfig run;
  int max_concurrency = 100;  // trials running at once
  int retries = 2;            // re-invocations of a failed trial
  int throttle_retries = 20;  // re-sends of a throttled (429) first invocation, on top
  std::chrono::milliseconds call_deadline{std::chrono::seconds(330)};  // one synchronous call
  std::chrono::milliseconds poll_interval{250};  // how often chained trials are looked up in S3
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(630)};
  LambdaPrices prices;
};

enum class TrialState { Queued, Calling, Chained, Done, Failed };

struct TrialOutcome {
  ml::hyperparameter_search::TrialConfig config;
  TrialState state = TrialState::Queued;
  std::optional<ml::hyperparameter_search::TrialResult> result;
  int attempts = 0;  // synchronous invocations made (the first and the retries)
  int throttles = 0;
  int stalls = 0;                   // chains given up for making no progress
  std::vector<std::string> errors;  // why each failed attempt failed, in order
  double wall_ms = 0;               // first invocation to result, as the driver saw it
  InvocationTelemetry last_telemetry;
  // What the trial cost: the driver's invocations from their REPORT lines, plus the segments the
  // chain invoked itself from the bills they wrote (a segment that crashed wrote none, so a chain
  // that was retried by Lambda costs a little more than this says). In-process: 0.
  double billed_ms = 0;
  double cost_usd = 0;
  int chained_segments = 0;  // Event-invoked segments billed here
};

struct SearchProgress {
  std::size_t done = 0, running = 0, failed = 0, queued = 0;
};

struct SearchObserver {
  std::function<void(const SearchProgress&)> on_progress;
  std::function<void(const TrialOutcome&, const SearchProgress&)> on_trial;  // done or failed
};

struct SearchResult {
  std::vector<TrialOutcome> trials;  // by trial index
  std::optional<std::size_t> best;   // highest test accuracy (the lower index on ties)
  double wall_ms = 0;
  int invocations = 0;  // synchronous ones; chained segments are counted in each result
  double cost_usd = 0;  // every trial's cost_usd
};

// Runs every trial to a result or a final failure; writes runs/<run>/best.json. Throws
// std::invalid_argument for bad options.
SearchResult run_search(Invoker& invoker, ml::ObjectStore& store, const SearchOptions& options,
                        const std::vector<ml::hyperparameter_search::TrialConfig>& trials,
                        const SearchObserver& observer = {});

// Trials with results by descending accuracy (ties: lower index first), then the failed ones.
std::vector<std::size_t> ranking(const SearchResult& result);

}  // namespace stratus::trainer
