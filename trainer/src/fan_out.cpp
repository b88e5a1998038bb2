#include "stratus/trainer/fan_out.hpp"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

namespace stratus::trainer {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Answers land here from the invoker's threads; run() takes them on its own thread, so everything
// else (decoding, counting, retrying) is single-threaded. Shared with the callbacks: an attempt
// given up at its deadline may answer after run() returned.
struct Mailbox {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<std::pair<std::size_t, InvocationResult>> answers;  // (attempt id, result)
};

struct Attempt {
  std::size_t task = 0;
  int number = 0;  // 1 for the task's first call
  bool backup = false;
  Clock::time_point started;
  Clock::time_point deadline;
  bool open = true;  // neither answered nor given up
};

struct Retry {
  std::size_t task = 0;
  Clock::time_point ready;
};

std::string function_error_summary(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object()) return body.substr(0, 200);
  auto text = [&](const char* name, const char* fallback) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
  };
  return text("errorType", "Unknown") + ": " + text("errorMessage", "");
}

// The engine waits this much past an attempt's deadline before giving up on it itself, so that an
// invoker that enforces the deadline (HTTP) reports the timeout first.
milliseconds grace_for(milliseconds deadline) {
  return milliseconds(1000) + deadline / 10;
}

class Run {
 public:
  Run(Invoker& invoker, const FanOutOptions& options, const std::vector<FanOutTask>& tasks,
      const AnswerDecoder& decode)
      : invoker_(invoker),
        options_(options),
        tasks_(tasks),
        decode_(decode),
        mailbox_(std::make_shared<Mailbox>()),
        outcomes_(tasks.size()),
        done_(tasks.size(), false),
        failures_(tasks.size(), 0),
        throttled_(tasks.size(), 0),
        calls_(tasks.size(), 0),
        open_(tasks.size(), 0),
        backed_up_(tasks.size(), false),
        random_(0x5eed ^ tasks.size()) {
    limit_ = std::max(1, std::min(options.max_in_flight, invoker.concurrency()));
    for (std::size_t i = 0; i < tasks.size(); ++i) pending_.push_back({i, Clock::now()});
  }

  std::vector<TaskOutcome> run(FanOutTelemetry& telemetry) {
    while (remaining_ > 0 && failure_.empty()) {
      launch_ready();
      wait_and_handle();
      give_up_overdue();
      launch_backups();
    }
    telemetry.add(telemetry_);
    if (!failure_.empty()) throw FanOutError(failure_);
    return std::move(outcomes_);
  }

 private:
  void launch_ready() {
    const auto now = Clock::now();
    while (in_flight_ < limit_ && failure_.empty()) {
      auto ready = std::find_if(pending_.begin(), pending_.end(),
                                [&](const Retry& r) { return r.ready <= now; });
      if (ready == pending_.end()) return;
      const std::size_t task = ready->task;
      pending_.erase(ready);
      if (done_[task]) continue;  // a late answer settled it meanwhile
      launch(task);
    }
  }

  void launch(std::size_t task, bool backup = false) {
    const std::size_t id = attempts_.size();
    const auto now = Clock::now();
    ++calls_[task];
    attempts_.push_back({task, calls_[task], backup, now,
                         now + options_.call_deadline + grace_for(options_.call_deadline), true});
    ++in_flight_;
    ++open_[task];
    std::shared_ptr<Mailbox> mailbox = mailbox_;
    invoker_.start(tasks_[task].function, tasks_[task].payload, options_.call_deadline,
                   [mailbox, id](InvocationResult result) {
                     {
                       std::lock_guard lock(mailbox->mutex);
                       mailbox->answers.emplace_back(id, std::move(result));
                     }
                     mailbox->arrived.notify_one();
                   });
  }

  // Sleeps until an answer arrives, an attempt is overdue or a retry is due.
  void wait_and_handle() {
    std::optional<Clock::time_point> wake;
    for (const Attempt& a : attempts_) {
      if (a.open && (!wake || a.deadline < *wake)) wake = a.deadline;
    }
    if (in_flight_ < limit_) {
      for (const Retry& r : pending_) {
        if (!wake || r.ready < *wake) wake = r.ready;
      }
    }
    if (const auto after = backup_threshold()) {
      for (const Attempt& a : attempts_) {
        if (!a.open || backed_up_[a.task] || done_[a.task]) continue;
        const auto due = a.started + *after;
        if (!wake || due < *wake) wake = due;
      }
    }
    std::deque<std::pair<std::size_t, InvocationResult>> answers;
    {
      std::unique_lock lock(mailbox_->mutex);
      auto has_answers = [&] { return !mailbox_->answers.empty(); };
      if (wake) {
        mailbox_->arrived.wait_until(lock, *wake, has_answers);
      } else {
        mailbox_->arrived.wait(lock, has_answers);
      }
      answers.swap(mailbox_->answers);
    }
    for (auto& [id, result] : answers) {
      handle(id, std::move(result));
      if (!failure_.empty()) return;
    }
  }

  void give_up_overdue() {
    const auto now = Clock::now();
    for (Attempt& a : attempts_) {
      if (!a.open || a.deadline > now || !failure_.empty()) continue;
      close(a);
      ++telemetry_.timeouts;
      record(CallFate::timed_out, a, {});
      if (open_[a.task] > 0) continue;  // its backup (or original) is still running
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.3g", options_.call_deadline.count() / 1000.0);
      retry_or_fail(a.task, "no answer within " + std::string(seconds) + " s", milliseconds(0));
    }
  }

  // The earlier of backup_after and backup_after_median x the median latency so far; nullopt
  // while neither applies.
  std::optional<Clock::duration> backup_threshold() const {
    std::optional<Clock::duration> after;
    if (options_.backup_after.count() > 0) after = options_.backup_after;
    if (options_.backup_after_median > 0 && !latencies_.empty() &&
        2 * latencies_.size() >= tasks_.size()) {
      std::vector<double> sorted = latencies_;
      std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
      const auto by_median = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double, std::milli>(options_.backup_after_median *
                                                    sorted[sorted.size() / 2]));
      if (!after || by_median < *after) after = by_median;
    }
    return after;
  }

  // One identical second call per straggling task, whatever the in-flight limit (a straggler
  // should not wait behind others for its backup); its answer and the original's race.
  void launch_backups() {
    const auto after = backup_threshold();
    if (!after || !failure_.empty()) return;
    const auto now = Clock::now();
    const std::size_t existing = attempts_.size();
    for (std::size_t id = 0; id < existing; ++id) {
      const Attempt a = attempts_[id];
      if (!a.open || backed_up_[a.task] || done_[a.task] || now - a.started < *after) continue;
      backed_up_[a.task] = true;
      ++telemetry_.backups;
      CallRecord note;
      note.fate = CallFate::backup_launched;
      note.function = tasks_[a.task].function;
      note.task = tasks_[a.task].label;
      note.attempt = calls_[a.task] + 1;
      note.latency_ms = std::chrono::duration<double, std::milli>(now - a.started).count();
      telemetry_.calls.push_back(std::move(note));
      launch(a.task, true);
    }
  }

  void close(Attempt& a) {
    a.open = false;
    --in_flight_;
    --open_[a.task];
  }

  void record(CallFate fate, const Attempt& a, const InvocationTelemetry& t) {
    CallRecord r;
    r.fate = fate;
    r.request_id = t.request_id;
    r.function = tasks_[a.task].function;
    r.task = tasks_[a.task].label;
    r.attempt = a.number;
    r.backup = a.backup;
    r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - a.started).count();
    telemetry_.calls.push_back(std::move(r));
  }

  void count(const InvocationTelemetry& t) {
    if (t.status >= 200 && t.status < 300) ++telemetry_.invocations;
    if (t.cold_start || (t.report && t.report->init_ms)) ++telemetry_.cold_starts;
    if (t.report) {
      telemetry_.billed_ms += t.report->billed_ms;
      telemetry_.cost_usd += invocation_cost(*t.report, options_.prices);
    }
    for (const auto& [name, value] : t.modeled) {
      char* end = nullptr;
      const double number = std::strtod(value.c_str(), &end);
      if (end != value.c_str() && std::isfinite(number)) telemetry_.modeled[name] += number;
    }
  }

  void handle(std::size_t id, InvocationResult result) {
    Attempt& attempt = attempts_[id];
    const std::size_t task = attempt.task;
    const bool was_open = attempt.open;
    if (was_open) close(attempt);
    const InvocationTelemetry& t = result.telemetry;
    count(t);
    if (done_[task]) {
      ++telemetry_.duplicates_ignored;
      record(CallFate::duplicate_ignored, attempt, t);
      return;
    }
    // A late answer (its attempt was given up) is still welcome while the task is open; its
    // failures, though, were already counted when it was given up. While the task's other call
    // (a backup, or the straggler it backs up) runs, a failure waits for that one instead.
    const bool counts_as_failure = was_open && open_[task] == 0;
    auto failed = [&](CallFate fate, const std::string& problem, milliseconds at_least) {
      record(fate, attempt, t);
      if (counts_as_failure) retry_or_fail(task, problem, at_least);
    };
    if (t.status == 0 || t.transport_failure) {
      if (t.timed_out) ++telemetry_.timeouts;
      return failed(t.timed_out ? CallFate::timed_out : CallFate::no_answer,
                    t.error.empty() ? "no answer" : t.error, milliseconds(0));
    }
    if (t.status == 429 && counts_as_failure && throttled_[task] < options_.throttle_retries) {
      ++telemetry_.throttles;
      ++throttled_[task];
      record(CallFate::throttled, attempt, t);
      return schedule_retry(task, throttled_[task], t.retry_after.value_or(milliseconds(0)));
    }
    if (t.status == 429 || t.status >= 500) {
      if (t.status == 429) ++telemetry_.throttles;
      return failed(t.status == 429 ? CallFate::throttled : CallFate::server_error,
                    t.error.empty() ? "HTTP " + std::to_string(t.status) : t.error,
                    t.retry_after.value_or(milliseconds(0)));
    }
    if (t.status < 200 || t.status >= 300) {
      // 400, 403, 404, 413...: sending the same request again cannot help.
      record(CallFate::refused, attempt, t);
      failure_ = tasks_[task].label + ": " +
                 (t.error.empty() ? "HTTP " + std::to_string(t.status) : t.error);
      return;
    }
    if (!t.function_error.empty()) {
      ++telemetry_.function_errors;
      return failed(CallFate::function_error,
                    "function error " + function_error_summary(result.payload), milliseconds(0));
    }
    std::string key;
    try {
      key = decode_(task, result.payload);
    } catch (const std::exception& error) {
      return failed(CallFate::unusable_answer, std::string("unusable answer: ") + error.what(),
                    milliseconds(0));
    }
    if (key != tasks_[task].key) {
      ++telemetry_.duplicates_ignored;
      return failed(CallFate::unusable_answer, "the answer is for another task (" + key + ")",
                    milliseconds(0));
    }
    record(CallFate::answered, attempt, t);
    done_[task] = true;
    --remaining_;
    TaskOutcome& outcome = outcomes_[task];
    outcome.latency_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - attempt.started).count();
    latencies_.push_back(outcome.latency_ms);
    outcome.attempts = calls_[task];
    outcome.result = std::move(result);
  }

  void retry_or_fail(std::size_t task, const std::string& problem, milliseconds at_least) {
    if (++failures_[task] > options_.retries) {
      failure_ = tasks_[task].label + " failed " + std::to_string(failures_[task]) +
                 " times; last: " + problem;
      return;
    }
    schedule_retry(task, failures_[task], at_least);
  }

  void schedule_retry(std::size_t task, int failures, milliseconds at_least) {
    ++telemetry_.retries;
    // Full jitter over a cap that doubles with each failure of this task.
    const double cap = std::min(static_cast<double>(options_.backoff_max.count()),
                                static_cast<double>(options_.backoff_base.count()) *
                                    std::pow(2.0, std::min(failures - 1, 30)));
    std::uniform_real_distribution<double> jitter(0.0, std::max(cap, 0.0));
    const milliseconds delay =
        std::max(milliseconds(static_cast<long long>(jitter(random_))), at_least);
    pending_.push_back({task, Clock::now() + delay});
  }

  Invoker& invoker_;
  const FanOutOptions& options_;
  const std::vector<FanOutTask>& tasks_;
  const AnswerDecoder& decode_;
  std::shared_ptr<Mailbox> mailbox_;
  std::vector<TaskOutcome> outcomes_;
  std::vector<bool> done_;
  std::vector<int> failures_;
  std::vector<int> throttled_;  // 429s per task, within options_.throttle_retries
  std::vector<int> calls_;
  std::vector<int> open_;         // calls of each task in flight (2 while backed up)
  std::vector<bool> backed_up_;   // at most one backup per task
  std::vector<double> latencies_;  // of the tasks answered so far (backup_after_median)
  std::vector<Attempt> attempts_;
  std::deque<Retry> pending_;
  std::size_t remaining_ = tasks_.size();
  int in_flight_ = 0;
  int limit_ = 1;
  std::string failure_;
  FanOutTelemetry telemetry_;
  std::mt19937_64 random_;
};

}  // namespace

const char* call_fate_name(CallFate fate) {
  switch (fate) {
    case CallFate::answered: return "answered";
    case CallFate::duplicate_ignored: return "duplicate_ignored";
    case CallFate::throttled: return "throttled";
    case CallFate::function_error: return "function_error";
    case CallFate::server_error: return "server_error";
    case CallFate::unusable_answer: return "unusable_answer";
    case CallFate::timed_out: return "timed_out";
    case CallFate::no_answer: return "no_answer";
    case CallFate::refused: return "refused";
    case CallFate::backup_launched: return "backup_launched";
  }
  return "unknown";
}

void FanOutTelemetry::add(const FanOutTelemetry& o) {
  invocations += o.invocations;
  cold_starts += o.cold_starts;
  billed_ms += o.billed_ms;
  cost_usd += o.cost_usd;
  retries += o.retries;
  duplicates_ignored += o.duplicates_ignored;
  function_errors += o.function_errors;
  throttles += o.throttles;
  timeouts += o.timeouts;
  backups += o.backups;
  calls.insert(calls.end(), o.calls.begin(), o.calls.end());
  for (const auto& [name, value] : o.modeled) modeled[name] += value;
}

FanOut::FanOut(Invoker& invoker, FanOutOptions options)
    : invoker_(invoker), options_(std::move(options)) {}

std::vector<TaskOutcome> FanOut::run(const std::vector<FanOutTask>& tasks,
                                     const AnswerDecoder& decode, FanOutTelemetry& telemetry) {
  if (tasks.empty()) return {};
  return Run(invoker_, options_, tasks, decode).run(telemetry);
}

}  // namespace stratus::trainer
