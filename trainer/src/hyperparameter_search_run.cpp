// The Case C search driver (hyperparameter_search.hpp): trial states, the synchronous first
// invocations, following chained trials through S3, retries, the best result.

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "stratus/trainer/hyperparameter_search.hpp"

namespace stratus::trainer {
namespace hs = ml::hyperparameter_search;
namespace {

using Clock = std::chrono::steady_clock;

struct Arrival {
  std::size_t trial = 0;
  std::uint64_t generation = 0;
  InvocationResult result;
};

// What went wrong with an answer, in one line.
std::string describe_failure(const InvocationResult& r) {
  if (!r.telemetry.error.empty()) return r.telemetry.error;
  const nlohmann::json doc = nlohmann::json::parse(r.payload, nullptr, false);
  if (doc.is_object() && doc.contains("errorMessage")) {
    return doc.value("errorType", std::string("Error")) + ": " +
           doc.value("errorMessage", std::string());
  }
  return "HTTP " + std::to_string(r.telemetry.status) +
         (r.telemetry.function_error.empty() ? ""
                                             : " function error " + r.telemetry.function_error);
}

class Search {
 public:
  Search(Invoker& invoker, ml::ObjectStore& store, const SearchOptions& options,
         const std::vector<hs::TrialConfig>& trials, const SearchObserver& observer)
      : invoker_(invoker), store_(store), options_(options), observer_(observer) {
    for (const auto& config : trials) {
      TrialOutcome outcome;
      outcome.config = config;
      outcomes_.push_back(std::move(outcome));
    }
    tracking_.resize(trials.size());
  }

  SearchResult run() {
    const auto started = Clock::now();
    auto next_poll = Clock::now() + options_.poll_interval;
    std::size_t next_queued = 0;
    report_progress();
    while (finished_ < outcomes_.size()) {
      while (next_queued < outcomes_.size() &&
             running_ < static_cast<std::size_t>(options_.max_concurrency)) {
        ++running_;
        tracking_[next_queued].first_start = Clock::now();
        start(next_queued++);
        report_progress();
      }
      std::deque<Arrival> arrived;
      {
        std::unique_lock lock(mutex_);
        arrivals_ready_.wait_until(lock, next_poll, [&] { return !arrivals_.empty(); });
        arrived.swap(arrivals_);
      }
      for (Arrival& a : arrived) handle_answer(a);
      if (Clock::now() >= next_poll) {
        poll_chains();
        next_poll = Clock::now() + options_.poll_interval;
      }
    }
    // Answers to attempts given up (a timed-out call that answers late) must not outlive `this`.
    {
      std::unique_lock lock(mutex_);
      arrivals_ready_.wait(lock, [&] { return in_flight_ == 0; });
    }
    SearchResult result;
    result.trials = std::move(outcomes_);
    result.invocations = invocations_;
    result.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    for (const TrialOutcome& o : result.trials) result.cost_usd += o.cost_usd;
    for (std::size_t i = 0; i < result.trials.size(); ++i) {
      const auto& r = result.trials[i].result;
      if (!r) continue;
      if (!result.best || r->test_accuracy > result.trials[*result.best].result->test_accuracy)
        result.best = i;
    }
    return result;
  }

 private:
  struct Tracking {
    std::uint64_t generation = 0;
    Clock::time_point first_start;
    Clock::time_point last_progress;
    std::uint32_t segment = 0;  // newest segment seen
  };

  void start(std::size_t trial) {
    TrialOutcome& outcome = outcomes_[trial];
    Tracking& t = tracking_[trial];
    outcome.state = TrialState::Calling;
    ++outcome.attempts;
    ++invocations_;
    const std::uint64_t generation = ++t.generation;
    // No segment: the function resumes from the trial's newest checkpoint (none: from the start),
    // so a retry, or a search run again under the same run id, never redoes finished work.
    const hs::Request request{options_.run, outcome.config, std::nullopt};
    {
      std::lock_guard lock(mutex_);
      ++in_flight_;
    }
    invoker_.start(options_.run.function, hs::encode_request(request), options_.call_deadline,
                   [this, trial, generation](InvocationResult r) {
                     std::lock_guard lock(mutex_);
                     arrivals_.push_back({trial, generation, std::move(r)});
                     --in_flight_;
                     arrivals_ready_.notify_all();
                   });
  }

  void handle_answer(Arrival& a) {
    TrialOutcome& outcome = outcomes_[a.trial];
    Tracking& t = tracking_[a.trial];
    if (a.generation != t.generation || outcome.state != TrialState::Calling) return;  // superseded
    outcome.last_telemetry = a.result.telemetry;
    if (const auto& report = a.result.telemetry.report) {
      outcome.billed_ms += report->billed_ms;
      outcome.cost_usd += invocation_cost(*report, options_.prices);
    }
    if (a.result.telemetry.status == 429 && outcome.throttles < options_.throttle_retries) {
      // Never ran: send it again, on its own budget (the fan-out engine's rule).
      ++outcome.throttles;
      --outcome.attempts;
      start(a.trial);
      return;
    }
    if (!a.result.succeeded()) return fail_attempt(a.trial, describe_failure(a.result));
    hs::Answer answer;
    try {
      answer = hs::decode_answer(a.result.payload);
      if (answer.run_id != options_.run.run_id || answer.trial != a.trial) {
        throw ml::ProtocolError("the answer is for another run or trial");
      }
    } catch (const std::exception& e) {
      return fail_attempt(a.trial, std::string("unusable answer: ") + e.what());
    }
    if (answer.status == hs::Status::Done) return finish(a.trial, std::move(*answer.result));
    // Continued (or Stale: a chain of it runs already): follow it through S3.
    outcome.state = TrialState::Chained;
    t.segment = answer.segment + (answer.status == hs::Status::Continued ? 1 : 0);
    t.last_progress = Clock::now();
    report_progress();
  }

  void poll_chains() {
    bool any = false;
    for (const auto& o : outcomes_) any = any || o.state == TrialState::Chained;
    if (!any) return;
    std::vector<std::string> keys;
    try {
      keys = store_.list(options_.run.bucket, "runs/" + options_.run.run_id + "/trials/");
    } catch (const std::exception&) {
      return;  // S3 hiccup: the next poll looks again (the stall timeout still bounds the wait)
    }
    std::map<std::size_t, std::uint32_t> newest;
    std::map<std::size_t, bool> has_result;
    for (std::size_t i = 0; i < outcomes_.size(); ++i) {
      if (outcomes_[i].state != TrialState::Chained) continue;
      const std::string prefix =
          hs::trial_prefix(options_.run.run_id, static_cast<std::uint32_t>(i));
      const auto from = std::lower_bound(keys.begin(), keys.end(), prefix);
      for (auto it = from; it != keys.end() && it->starts_with(prefix); ++it) {
        if (*it == hs::result_key(options_.run.run_id, static_cast<std::uint32_t>(i)))
          has_result[i] = true;
        if (const auto s = hs::checkpoint_segment(*it)) newest[i] = std::max(newest[i], *s);
      }
    }
    const auto now = Clock::now();
    for (std::size_t i = 0; i < outcomes_.size(); ++i) {
      if (outcomes_[i].state != TrialState::Chained) continue;
      Tracking& t = tracking_[i];
      if (has_result[i]) {
        try {
          const auto text =
              store_.get(options_.run.bucket,
                         hs::result_key(options_.run.run_id, static_cast<std::uint32_t>(i)));
          if (text) {
            hs::TrialResult result = hs::decode_result(*text);
            if (result.trial != outcomes_[i].config)
              throw ml::ProtocolError("the stored result is for another configuration");
            finish(i, std::move(result));
            continue;
          }
        } catch (const ml::ProtocolError& e) {
          fail_attempt(i, std::string("unusable result: ") + e.what());
          continue;
        } catch (const std::exception&) {
          // Read failure: look again at the next poll.
        }
      }
      if (newest.count(i) && newest[i] > t.segment) {
        t.segment = newest[i];
        t.last_progress = now;
      } else if (now - t.last_progress > options_.stall_timeout) {
        ++outcomes_[i].stalls;
        fail_attempt(i, "the chain made no progress for " +
                            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                               options_.stall_timeout)
                                               .count()) +
                            " s after segment " + std::to_string(t.segment));
      }
    }
  }

  void fail_attempt(std::size_t trial, const std::string& why) {
    TrialOutcome& outcome = outcomes_[trial];
    outcome.errors.push_back(why);
    if (outcome.attempts <= options_.retries) {
      start(trial);  // from the newest checkpoint: the same bytes as if nothing had failed
      report_progress();
      return;
    }
    outcome.state = TrialState::Failed;
    outcome.wall_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - tracking_[trial].first_start)
            .count();
    ++tracking_[trial].generation;
    --running_;
    ++finished_;
    ++failed_;
    report_trial(outcome);
  }

  // Adds the bills of the segments the trial's chain invoked itself (hs::bill_key). A bill that
  // cannot be read is left out: the cost is a report, not a reason to fail a finished trial.
  void add_chain_bills(std::size_t trial) {
    TrialOutcome& outcome = outcomes_[trial];
    const auto index = static_cast<std::uint32_t>(trial);
    try {
      const std::string prefix = hs::trial_prefix(options_.run.run_id, index) + "bill-";
      for (const std::string& key : store_.list(options_.run.bucket, prefix)) {
        const auto text = store_.get(options_.run.bucket, key);
        if (!text) continue;
        const hs::SegmentBill bill = hs::decode_bill(*text);
        InvocationReport report;
        report.billed_ms = bill.billed_ms;
        report.memory_mb = static_cast<int>(bill.memory_mb);
        outcome.billed_ms += bill.billed_ms;
        outcome.cost_usd += invocation_cost(report, options_.prices);
        ++outcome.chained_segments;
      }
    } catch (const std::exception&) {
    }
  }

  void finish(std::size_t trial, hs::TrialResult result) {
    // One segment: the trial never invoked itself, so there are no bills to list.
    if (result.invocations > 1) add_chain_bills(trial);
    TrialOutcome& outcome = outcomes_[trial];
    outcome.state = TrialState::Done;
    outcome.result = std::move(result);
    outcome.wall_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - tracking_[trial].first_start)
            .count();
    ++tracking_[trial].generation;
    --running_;
    ++finished_;
    ++done_;
    report_trial(outcome);
  }

  SearchProgress progress() const {
    return {done_, running_, failed_, outcomes_.size() - finished_ - running_};
  }
  void report_progress() {
    if (observer_.on_progress) observer_.on_progress(progress());
  }
  void report_trial(const TrialOutcome& outcome) {
    if (observer_.on_trial) observer_.on_trial(outcome, progress());
  }

  Invoker& invoker_;
  ml::ObjectStore& store_;
  const SearchOptions& options_;
  const SearchObserver& observer_;
  std::vector<TrialOutcome> outcomes_;
  std::vector<Tracking> tracking_;
  std::size_t running_ = 0, finished_ = 0, done_ = 0, failed_ = 0;
  int invocations_ = 0;

  std::mutex mutex_;
  std::condition_variable arrivals_ready_;
  std::deque<Arrival> arrivals_;
  std::size_t in_flight_ = 0;
};

}  // namespace

SearchResult run_search(Invoker& invoker, ml::ObjectStore& store, const SearchOptions& options,
                        const std::vector<hs::TrialConfig>& trials,
                        const SearchObserver& observer) {
  hs::validate(options.run);
  if (trials.empty()) throw std::invalid_argument("casec: no trials to run");
  if (options.max_concurrency < 1)
    throw std::invalid_argument("--max-concurrency must be at least 1");
  if (options.retries < 0) throw std::invalid_argument("--retries must be at least 0");
  for (std::size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].trial != i)
      throw std::invalid_argument("casec: trial configurations must be numbered 0..n-1");
  }
  store.ensure_bucket(options.run.bucket);
  SearchResult result = Search(invoker, store, options, trials, observer).run();
  nlohmann::ordered_json best = {{"protocol", hs::kProtocol}, {"run_id", options.run.run_id}};
  if (result.best) {
    best["best"] =
        nlohmann::ordered_json::parse(hs::encode_result(*result.trials[*result.best].result));
  } else {
    best["best"] = nullptr;
  }
  std::size_t failed = 0;
  for (const auto& t : result.trials) failed += t.state == TrialState::Failed ? 1 : 0;
  best["trials"] = result.trials.size();
  best["failed"] = failed;
  store.put(options.run.bucket, hs::best_key(options.run.run_id), best.dump(2));
  return result;
}

std::vector<std::size_t> ranking(const SearchResult& result) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < result.trials.size(); ++i) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& ra = result.trials[a].result;
    const auto& rb = result.trials[b].result;
    if (ra.has_value() != rb.has_value()) return ra.has_value();
    if (!ra) return false;
    return ra->test_accuracy > rb->test_accuracy;
  });
  return order;
}

}  // namespace stratus::trainer
