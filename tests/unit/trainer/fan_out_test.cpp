// The fan-out engine against the in-process invoker (LocalLambda running test handlers through the
// same serve_invocation path the product handlers take), plus a scripted invoker for the HTTP-only
// outcomes (throttles, 5xx, refusals, REPORT lines) the in-process one cannot produce.

#include "stratus/trainer/fan_out.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/trainer/local_lambda.hpp"

using namespace stratus;
using namespace stratus::trainer;
using namespace std::chrono_literals;

namespace {

LocalFunction function_of(functions::ProductHandler handler, int timeout_s = 30) {
  return {"test", std::move(handler), 128, timeout_s};
}

// Answers "key:<payload>" (the decoder below turns that back into the key).
std::string answer_for(std::string_view payload) {
  return "key:" + std::string(payload);
}

AnswerDecoder key_decoder(std::vector<std::string>* answers = nullptr) {
  return [answers](std::size_t index, const std::string& payload) {
    if (payload.rfind("key:", 0) != 0) throw std::runtime_error("not an answer: " + payload);
    if (answers) (*answers)[index] = payload;
    return payload.substr(4);
  };
}

std::vector<FanOutTask> tasks_for(const std::string& function, int count) {
  std::vector<FanOutTask> tasks;
  for (int i = 0; i < count; ++i) {
    const std::string key = std::string("t") + std::to_string(i);
    tasks.push_back({function, key, key, std::string("task ") + std::to_string(i)});
  }
  return tasks;
}

// Counts calls per payload, thread-safely.
class CallCounter {
 public:
  int next(std::string_view payload) {
    std::lock_guard lock(mutex_);
    return ++calls_[std::string(payload)];
  }
  int total() {
    std::lock_guard lock(mutex_);
    int sum = 0;
    for (const auto& [key, n] : calls_) sum += n;
    return sum;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> calls_;
};

struct Fixture {
  explicit Fixture(LocalFunctionTable table, std::size_t threads = 4)
      : lambda(std::move(table), store), invoker(lambda, threads) {}
  ml::MemoryObjectStore store;
  LocalLambda lambda;
  InProcessInvoker invoker;
};

FanOutOptions fast_options() {
  FanOutOptions o;
  o.backoff_base = 1ms;
  o.backoff_max = 5ms;
  return o;
}

}  // namespace

TEST(FanOut, ReturnsAnswersIndexedByTaskWhateverOrderTheyArriveIn) {
  Fixture f({{"echo_late", function_of([](std::string_view payload, functions::HandlerContext&) {
                // Earlier tasks answer later.
                const int index = std::stoi(std::string(payload.substr(1)));
                std::this_thread::sleep_for(std::chrono::milliseconds(2 * (12 - index)));
                return answer_for(payload);
              })}});
  FanOut fan_out(f.invoker, fast_options());
  FanOutTelemetry telemetry;
  std::vector<std::string> answers(12);
  auto outcomes = fan_out.run(tasks_for("echo_late", 12), key_decoder(&answers), telemetry);
  ASSERT_EQ(outcomes.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(outcomes[i].result.payload, "key:t" + std::to_string(i));
    EXPECT_EQ(answers[i], "key:t" + std::to_string(i));
    EXPECT_EQ(outcomes[i].attempts, 1);
  }
  EXPECT_EQ(telemetry.invocations, 12);
  EXPECT_EQ(telemetry.retries, 0);
  // Four threads: the first four calls found no warm environment.
  EXPECT_GE(telemetry.cold_starts, 1);
  EXPECT_LE(telemetry.cold_starts, 4);
}

TEST(FanOut, KeepsNoMoreThanMaxInFlightCallsRunning) {
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  auto tracked = [&](std::string_view payload, functions::HandlerContext&) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(15ms);
    --running;
    return answer_for(payload);
  };
  Fixture f({{"tracked", function_of(tracked)}}, 8);
  FanOutOptions options = fast_options();
  options.max_in_flight = 3;
  FanOutTelemetry telemetry;
  FanOut(f.invoker, options).run(tasks_for("tracked", 24), key_decoder(), telemetry);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2);  // it did fan out
  EXPECT_EQ(telemetry.invocations, 24);

  // The invoker's own concurrency bounds it too: 2 threads, 64 allowed in flight.
  most = 0;
  Fixture two({{"tracked", function_of(tracked)}}, 2);
  FanOut(two.invoker, fast_options()).run(tasks_for("tracked", 12), key_decoder(), telemetry);
  EXPECT_LE(most.load(), 2);
}

TEST(FanOut, RetriesFunctionErrorsWithinTheBudget) {
  CallCounter counter;
  // Fails twice per task, then answers.
  auto flaky = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (counter.next(payload) <= 2)
      throw std::runtime_error("transient trouble with " + std::string(payload));
    return answer_for(payload);
  };
  Fixture f({{"flaky", function_of(flaky)}});
  FanOutOptions options = fast_options();
  options.retries = 2;
  FanOutTelemetry telemetry;
  auto outcomes = FanOut(f.invoker, options).run(tasks_for("flaky", 3), key_decoder(), telemetry);
  for (const auto& outcome : outcomes) EXPECT_EQ(outcome.attempts, 3);
  EXPECT_EQ(telemetry.function_errors, 6);
  EXPECT_EQ(telemetry.retries, 6);
  EXPECT_EQ(telemetry.invocations, 9);
  EXPECT_EQ(counter.total(), 9);
}

TEST(FanOut, GivesUpAfterTheRetriesAndSaysWhy) {
  CallCounter counter;
  auto broken = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    counter.next(payload);
    throw functions::InvalidInput("never works");
  };
  Fixture f({{"broken", function_of(broken)}});
  FanOutOptions options = fast_options();
  options.retries = 1;
  options.max_in_flight = 1;
  FanOutTelemetry telemetry;
  try {
    FanOut(f.invoker, options).run(tasks_for("broken", 5), key_decoder(), telemetry);
    FAIL() << "a task that always fails succeeded";
  } catch (const FanOutError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("task 0 failed 2 times"), std::string::npos) << message;
    EXPECT_NE(message.find("InvalidInput: never works"), std::string::npos) << message;
  }
  // One call at a time, retries queued behind first attempts: t0..t4 fail once, t0's retry fails
  // and stops the run; nothing more is paid for.
  EXPECT_EQ(counter.total(), 6);
  EXPECT_EQ(telemetry.retries, 5);
}

TEST(FanOut, AnUnknownFunctionFailsAtOnce) {
  Fixture f({});
  FanOutTelemetry telemetry;
  try {
    FanOut(f.invoker, fast_options()).run(tasks_for("missing", 2), key_decoder(), telemetry);
    FAIL();
  } catch (const FanOutError& error) {
    EXPECT_NE(std::string(error.what()).find("ResourceNotFoundException"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(telemetry.retries, 0);
}

TEST(FanOut, UnusableAnswersAreRetried) {
  CallCounter counter;
  auto garbled = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    return counter.next(payload) == 1 ? std::string("garbage") : answer_for(payload);
  };
  Fixture f({{"garbled", function_of(garbled)}});
  FanOutTelemetry telemetry;
  auto outcomes =
      FanOut(f.invoker, fast_options()).run(tasks_for("garbled", 4), key_decoder(), telemetry);
  for (const auto& outcome : outcomes) EXPECT_EQ(outcome.attempts, 2);
  EXPECT_EQ(telemetry.retries, 4);
  EXPECT_EQ(telemetry.function_errors, 0);
}

TEST(FanOut, AnswersForAnotherTaskAreIgnoredAsDuplicates) {
  CallCounter counter;
  // The first answer of each task claims to be task t0's (an at-least-once delivery of an old
  // request would look like this).
  auto stray = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    return counter.next(payload) == 1 && payload != "t0" ? answer_for("t0") : answer_for(payload);
  };
  Fixture f({{"stray", function_of(stray)}});
  FanOutTelemetry telemetry;
  std::vector<std::string> answers(3);
  auto outcomes = FanOut(f.invoker, fast_options())
                      .run(tasks_for("stray", 3), key_decoder(&answers), telemetry);
  EXPECT_EQ(telemetry.duplicates_ignored, 2);
  EXPECT_EQ(outcomes[0].attempts, 1);
  EXPECT_EQ(outcomes[1].attempts, 2);
  // What the decoder kept is the genuine answer.
  EXPECT_EQ(answers[1], "key:t1");
  EXPECT_EQ(outcomes[2].result.payload, "key:t2");
}

TEST(FanOut, AnAttemptPastItsDeadlineIsGivenUpAndItsLateAnswerIgnored) {
  CallCounter counter;
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  std::atomic<bool> slow_finished{false};
  // Task t0's first call hangs until the test releases it; every other call answers at once.
  auto hanging = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (payload == "t0" && counter.next(payload) == 1) {
      std::unique_lock lock(mutex);
      released.wait_for(lock, 20s, [&] { return release; });
      slow_finished = true;
    }
    return answer_for(payload);
  };
  Fixture f({{"hanging", function_of(hanging)}});
  FanOutOptions options = fast_options();
  options.call_deadline = 50ms;  // the engine gives up about 1 s later
  FanOutTelemetry telemetry;
  auto outcomes = FanOut(f.invoker, options).run(tasks_for("hanging", 3), key_decoder(), telemetry);
  EXPECT_FALSE(slow_finished.load());  // run() did not wait for the hung call
  EXPECT_EQ(outcomes[0].attempts, 2);
  EXPECT_EQ(outcomes[0].result.payload, "key:t0");
  EXPECT_EQ(telemetry.timeouts, 1);
  EXPECT_EQ(telemetry.retries, 1);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  // The late answer lands in a finished run's mailbox: harmless (the fixture's destructor waits
  // for the hung call; nothing refers to the finished run any more).
}

TEST(FanOut, ALateAnswerStillCountsWhileItsTaskIsOpenAndTheRetryBecomesTheDuplicate) {
  CallCounter counter;
  std::atomic<bool> retry_started{false};
  // t0's first call answers after its deadline but before the retry does; t1 keeps the run going
  // until both have answered.
  auto racing = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (payload == "t0") {
      if (counter.next(payload) == 1) {
        while (!retry_started) std::this_thread::sleep_for(1ms);
        return answer_for(payload);
      }
      retry_started = true;
      std::this_thread::sleep_for(300ms);
      return answer_for(payload);
    }
    std::this_thread::sleep_for(2500ms);
    return answer_for(payload);
  };
  Fixture f({{"racing", function_of(racing)}});
  FanOutOptions options = fast_options();
  options.call_deadline = 50ms;
  options.retries = 5;
  FanOutTelemetry telemetry;
  auto outcomes = FanOut(f.invoker, options).run(tasks_for("racing", 2), key_decoder(), telemetry);
  EXPECT_EQ(outcomes[0].result.payload, "key:t0");
  EXPECT_GE(telemetry.duplicates_ignored, 1);
}

namespace {

// Plays back a script of results per call (HTTP outcomes the in-process invoker never produces).
class ScriptedInvoker : public Invoker {
 public:
  explicit ScriptedInvoker(std::vector<InvocationResult> script) : script_(std::move(script)) {}
  ~ScriptedInvoker() override {
    for (auto& t : threads_) t.join();
  }
  void start(const std::string&, std::string payload, std::chrono::milliseconds,
             Callback done) override {
    std::lock_guard lock(mutex_);
    InvocationResult result = calls_ < script_.size() ? script_[calls_] : script_.back();
    ++calls_;
    if (result.payload.empty()) result.payload = answer_for(payload);
    threads_.emplace_back([result = std::move(result), done = std::move(done)] { done(result); });
  }
  std::string describe() const override { return "scripted"; }
  std::size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::vector<InvocationResult> script_;
  std::mutex mutex_;
  std::size_t calls_ = 0;
  std::vector<std::thread> threads_;
};

InvocationResult http(int status, std::string error_type = {}) {
  InvocationResult r;
  r.telemetry.status = status;
  r.telemetry.error_type = std::move(error_type);
  if (status != 200)
    r.telemetry.error = "HTTP " + std::to_string(status) + " " + r.telemetry.error_type;
  return r;
}

}  // namespace

TEST(FanOut, RetriesThrottlesAndServerErrorsHonouringRetryAfter) {
  InvocationResult throttled = http(429, "TooManyRequestsException");
  throttled.telemetry.retry_after = 30ms;
  ScriptedInvoker invoker({throttled, http(503, "ServiceException"), http(200)});
  FanOutTelemetry telemetry;
  const auto started = std::chrono::steady_clock::now();
  auto outcomes = FanOut(invoker, fast_options()).run(tasks_for("f", 1), key_decoder(), telemetry);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 30ms);  // waited at least Retry-After
  EXPECT_EQ(outcomes[0].attempts, 3);
  EXPECT_EQ(telemetry.throttles, 1);
  EXPECT_EQ(telemetry.retries, 2);
  EXPECT_EQ(telemetry.invocations, 1);  // a throttled or failed request ran no function
}

TEST(FanOut, ThrottlesDrawOnTheirOwnBudgetNotTheFailureRetries) {
  // Four 429s in a row exceed `retries` (2) but not `throttle_retries`: the call never ran, so the
  // task is sent again until it does.
  const InvocationResult throttled = http(429, "TooManyRequestsException");
  std::vector<InvocationResult> script(4, throttled);
  script.push_back(http(200));
  ScriptedInvoker invoker(std::move(script));
  FanOutTelemetry telemetry;
  FanOutOptions options = fast_options();
  options.retries = 2;
  options.throttle_retries = 4;
  auto outcomes = FanOut(invoker, options).run(tasks_for("f", 1), key_decoder(), telemetry);
  EXPECT_EQ(outcomes[0].attempts, 5);
  EXPECT_EQ(telemetry.throttles, 4);
  // One more than the throttle budget fails the task, naming the throttle.
  ScriptedInvoker always(std::vector<InvocationResult>(8, throttled));
  options.throttle_retries = 2;
  FanOutTelemetry t2;
  EXPECT_THROW(FanOut(always, options).run(tasks_for("f", 1), key_decoder(), t2), std::exception);
}

TEST(FanOut, RefusalsThatCannotImproveFailAtOnce) {
  for (int status : {400, 403, 404, 413}) {
    ScriptedInvoker invoker({http(status, "SomeException"), http(200)});
    FanOutTelemetry telemetry;
    EXPECT_THROW(FanOut(invoker, fast_options()).run(tasks_for("f", 1), key_decoder(), telemetry),
                 FanOutError)
        << status;
    EXPECT_EQ(invoker.calls(), 1u) << status;
  }
}

TEST(FanOut, TransportFailuresAreRetried) {
  InvocationResult unreachable;
  unreachable.telemetry.transport_failure = true;
  unreachable.telemetry.error = "cannot reach http://127.0.0.1:1: Connection refused";
  ScriptedInvoker invoker({unreachable});
  FanOutOptions options = fast_options();
  options.retries = 2;
  FanOutTelemetry telemetry;
  try {
    FanOut(invoker, options).run(tasks_for("f", 1), key_decoder(), telemetry);
    FAIL();
  } catch (const FanOutError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("task 0 failed 3 times; last: cannot reach http://127.0.0.1:1"),
              std::string::npos)
        << error.what();
  }
  EXPECT_EQ(invoker.calls(), 3u);
}

TEST(FanOut, SumsReportsCostAndModeledFigures) {
  InvocationResult cold = http(200);
  cold.telemetry.report = InvocationReport{12.3, 13, 1024, 40, 150.0};
  cold.telemetry.modeled = {{"duration-ms", "20.5"}, {"note", "not a number"}};
  InvocationResult warm = http(200);
  warm.telemetry.report = InvocationReport{5.0, 5, 1024, 40, std::nullopt};
  warm.telemetry.modeled = {{"duration-ms", "7.5"}};
  ScriptedInvoker invoker({cold, warm});
  FanOutOptions options = fast_options();
  options.max_in_flight = 1;  // calls in script order
  FanOutTelemetry telemetry;
  FanOut(invoker, options).run(tasks_for("f", 2), key_decoder(), telemetry);
  EXPECT_EQ(telemetry.invocations, 2);
  EXPECT_EQ(telemetry.cold_starts, 1);
  EXPECT_DOUBLE_EQ(telemetry.billed_ms, 18);
  const LambdaPrices prices;
  EXPECT_DOUBLE_EQ(telemetry.cost_usd, 2 * prices.request + 1.0 * 0.018 * prices.gb_second);
  EXPECT_DOUBLE_EQ(telemetry.modeled.at("duration-ms"), 28.0);
  EXPECT_EQ(telemetry.modeled.count("note"), 0u);
}

TEST(FanOut, AStragglerIsBackedUpAndTheFirstAnswerWins) {
  CallCounter counter;
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  // Task t1's first call straggles until the test releases it; its backup answers at once.
  auto straggling = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (payload == "t1" && counter.next(payload) == 1) {
      std::unique_lock lock(mutex);
      released.wait_for(lock, 20s, [&] { return release; });
    }
    return answer_for(payload);
  };
  Fixture f({{"straggling", function_of(straggling)}});
  FanOutOptions options = fast_options();
  // Far above what the other calls take, cold starts included: with 100 ms, a loaded machine
  // left them unanswered that long and they were backed up too (backups 3, not 1).
  options.backup_after = 1500ms;
  FanOutTelemetry telemetry;
  const auto started = std::chrono::steady_clock::now();
  auto outcomes =
      FanOut(f.invoker, options).run(tasks_for("straggling", 3), key_decoder(), telemetry);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // did not wait for the straggler
  EXPECT_EQ(outcomes[1].result.payload, "key:t1");
  EXPECT_EQ(outcomes[1].attempts, 2);
  EXPECT_EQ(outcomes[0].attempts, 1);
  EXPECT_EQ(telemetry.backups, 1);
  EXPECT_EQ(telemetry.retries, 0);  // a backup is not a retry: nothing failed
  int launched = 0, answered = 0;
  for (const CallRecord& c : telemetry.calls) {
    if (c.fate == CallFate::backup_launched) {
      ++launched;
      EXPECT_EQ(c.task, "task 1");
      EXPECT_EQ(c.attempt, 2);
      EXPECT_GE(c.latency_ms, 1500);
    }
    answered += c.fate == CallFate::answered;
  }
  EXPECT_EQ(launched, 1);
  EXPECT_TRUE(std::any_of(telemetry.calls.begin(), telemetry.calls.end(), [](const CallRecord& c) {
    return c.fate == CallFate::answered && c.backup && c.task == "task 1";
  }));
  EXPECT_EQ(answered, 3);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
}

TEST(FanOut, BackupsByAMultipleOfTheMedianWaitForHalfTheTasks) {
  CallCounter counter;
  std::atomic<bool> release{false};
  // t3's first call is slow (far past 3x the others' median); the rest take ~300 ms. Not less:
  // with 20 ms, a fast call that a loaded machine left unscheduled for another 40 ms (its cold
  // start included) passed 3x the median too and got a backup of its own.
  auto slow_one = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (payload == "t3" && counter.next(payload) == 1) {
      for (int i = 0; i < 1000 && !release; ++i) std::this_thread::sleep_for(10ms);
    } else {
      std::this_thread::sleep_for(300ms);
    }
    return answer_for(payload);
  };
  Fixture f({{"slow_one", function_of(slow_one)}}, 8);
  FanOutOptions options = fast_options();
  options.backup_after_median = 3;
  FanOutTelemetry telemetry;
  auto outcomes = FanOut(f.invoker, options).run(tasks_for("slow_one", 6), key_decoder(), telemetry);
  EXPECT_EQ(telemetry.backups, 1);
  EXPECT_EQ(outcomes[3].attempts, 2);
  EXPECT_EQ(outcomes[3].result.payload, "key:t3");
  release = true;
}

TEST(FanOut, EveryCallIsRecordedWithItsFate) {
  CallCounter counter;
  // t0 fails once, then answers; t1 answers at once.
  auto flaky = [&](std::string_view payload, functions::HandlerContext&) -> std::string {
    if (payload == "t0" && counter.next(payload) == 1) throw std::runtime_error("boom");
    return answer_for(payload);
  };
  Fixture f({{"flaky", function_of(flaky)}});
  FanOutTelemetry telemetry;
  FanOut(f.invoker, fast_options()).run(tasks_for("flaky", 2), key_decoder(), telemetry);
  std::map<std::string, std::vector<std::pair<CallFate, int>>> by_task;
  for (const CallRecord& c : telemetry.calls) {
    EXPECT_EQ(c.function, "flaky");
    by_task[c.task].push_back({c.fate, c.attempt});
  }
  using Fates = std::vector<std::pair<CallFate, int>>;
  EXPECT_EQ(by_task["task 0"], (Fates{{CallFate::function_error, 1}, {CallFate::answered, 2}}));
  EXPECT_EQ(by_task["task 1"], (Fates{{CallFate::answered, 1}}));
  EXPECT_STREQ(call_fate_name(CallFate::backup_launched), "backup_launched");
}
