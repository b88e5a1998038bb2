// Case C end to end in-process: the trial function's segment chain over an in-memory store (every
// segment checkpoints and Event-invokes the next; the result equals one uninterrupted
// invocation's; stale and repeated deliveries do nothing), and the search driver on the
// in-process Lambda (sorted ranking, best trial, a trial that fails every attempt retried a
// bounded number of times and reported while the others finish).

#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "stratus/ml/memory_object_store.hpp"
#include "stratus/ml/split_mix64.hpp"
#include "stratus/trainer/hyperparameter_search.hpp"
#include "stratus/trainer/local_lambda.hpp"
#include "stratus/trainer/stage_plan.hpp"

namespace hs = stratus::ml::hyperparameter_search;
using namespace stratus;
using namespace stratus::trainer;

namespace {

trainer::LabeledData images(std::size_t count, std::uint64_t seed) {
  ml::SplitMix64 random(seed);
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;
  for (std::size_t n = 0; n < count; ++n) {
    const auto label = static_cast<std::int32_t>(random.next() % 10);
    labels.push_back(label);
    for (std::size_t p = 0; p < 6 * 5; ++p) {
      pixels.push_back(static_cast<std::uint8_t>(p / 3 == static_cast<std::size_t>(label)
                                                     ? 200 + random.next() % 50
                                                     : random.next() % 60));
    }
  }
  trainer::LabeledData d;
  d.features = Tensor::of_u8({count, 6, 5}, std::move(pixels));
  d.labels = Tensor::of_i32({count}, std::move(labels));
  for (std::int32_t c = 0; c < 10; ++c) d.classes.push_back(c);
  d.generator = "unit bands seed=" + std::to_string(seed);
  return d;
}

void stage(ml::ObjectStore& store, const trainer::LabeledData& data, const std::string& name) {
  StagePlan plan = plan_stage(data, name, 3, "datasets/" + name);
  store.ensure_bucket("data");
  for (std::size_t i = 0; i < plan.shard_count(); ++i) {
    const StagedShard shard = plan.encode_shard(i);
    store.put("data", shard.object_key, shard.bytes);
  }
  store.put("data", plan.manifest_key(), plan.manifest_text());
}

struct Staged {
  ml::MemoryObjectStore store;
  trainer::LabeledData train = images(120, 1), test = images(50, 2);
  Staged() {
    stage(store, train, "bands-train");
    stage(store, test, "bands-test");
    store.ensure_bucket("runs");
  }
};

hs::RunConfig run_config(const std::string& id, std::uint32_t batches) {
  hs::RunConfig r;
  r.run_id = id;
  r.bucket = "runs";
  r.train = {"data", "datasets/bands-train/manifest.json"};
  r.test = {"data", "datasets/bands-test/manifest.json"};
  r.max_batches_per_invocation = batches;
  r.reserve_ms = 0;
  return r;
}

// Keeps the Event invocations a segment makes, to deliver them by hand.
struct RecordingEvents : ml::EventInvoker {
  std::deque<std::pair<std::string, std::string>> events;
  void invoke_event(const std::string& function, std::string payload) override {
    events.emplace_back(function, std::move(payload));
  }
};

hs::Answer serve(Staged& s, RecordingEvents& events, const std::string& payload) {
  hs::TrialEnvironment env{s.store, events, [] { return std::chrono::milliseconds(600000); }, {}};
  return hs::decode_answer(hs::serve_trial_request(payload, env));
}

}  // namespace

TEST(HyperparameterTrialFunction,
     ASegmentChainGivesTheUninterruptedResultAndIgnoresStaleDeliveries) {
  Staged s;
  const hs::TrialConfig trial = hs::sample_trial(11, 0, {}, 4, 120);
  RecordingEvents events;

  // Uninterrupted: one invocation, no event.
  const hs::Answer whole =
      serve(s, events, hs::encode_request({run_config("whole", 0), trial, std::nullopt}));
  ASSERT_EQ(whole.status, hs::Status::Done);
  EXPECT_TRUE(events.events.empty());
  EXPECT_EQ(whole.result->invocations, 1u);

  // Chained: 5 minibatches per invocation; deliver every event it makes, each one twice.
  const hs::RunConfig chained = run_config("chained", 5);
  hs::Answer answer = serve(s, events, hs::encode_request({chained, trial, std::nullopt}));
  std::uint32_t continued = 0, stale = 0;
  while (answer.status != hs::Status::Done) {
    ASSERT_EQ(answer.status, hs::Status::Continued);
    ++continued;
    ASSERT_EQ(events.events.size(), 1u);
    const auto [function, payload] = events.events.front();
    events.events.pop_front();
    EXPECT_EQ(function, hs::kFunction);
    EXPECT_EQ(hs::decode_request(payload).segment, std::optional<std::uint32_t>(continued));
    answer = serve(s, events, payload);
    // The same event again (at-least-once delivery): it ran already, so it does nothing.
    const std::size_t pending = events.events.size();
    const hs::Answer again = serve(s, events, payload);
    EXPECT_TRUE(again.status == hs::Status::Stale ||
                (again.status == hs::Status::Done && again.replayed));
    stale += again.status == hs::Status::Stale ? 1 : 0;
    EXPECT_EQ(events.events.size(), pending);
  }
  const std::uint32_t total = trial.batch_count * trial.epochs;
  EXPECT_EQ(continued, (total + 4) / 5 - 1);
  EXPECT_EQ(stale, continued - 1);  // the last repeat finds the result instead
  EXPECT_EQ(answer.result->invocations, continued + 1);
  EXPECT_EQ(answer.result->model_sha256, whole.result->model_sha256);
  EXPECT_EQ(answer.result->test_accuracy, whole.result->test_accuracy);
  EXPECT_EQ(answer.result->final_train_loss, whole.result->final_train_loss);
  // The model is stored under the key the result names, and the checkpoints are gone.
  const auto model = s.store.get("runs", answer.result->model_key);
  ASSERT_TRUE(model);
  EXPECT_EQ(ml::model_sha256(ml::decode_model(*model, 1 << 24)), whole.result->model_sha256);
  EXPECT_TRUE(s.store.list("runs", hs::trial_prefix("chained", 0) + "checkpoint-").empty());

  // Asking again for a finished trial answers its stored result and trains nothing.
  const hs::Answer replay = serve(s, events, hs::encode_request({chained, trial, std::nullopt}));
  EXPECT_EQ(replay.status, hs::Status::Done);
  EXPECT_TRUE(replay.replayed);
  EXPECT_TRUE(events.events.empty());

  // A segment beyond the newest checkpoint cannot be served.
  EXPECT_THROW(serve(s, events, hs::encode_request({run_config("fresh", 5), trial, 3u})),
               ml::ProtocolError);
  // A configuration that does not fit the data is refused (batch_count x batch_size > rows).
  hs::TrialConfig too_big = trial;
  too_big.batch_size = 1000;
  EXPECT_THROW(serve(s, events, hs::encode_request({run_config("big", 0), too_big, std::nullopt})),
               ml::ProtocolError);
}

TEST(HyperparameterSearchDriver, RanksTrialsRetriesAFailingOneAndReportsIt) {
  auto store = std::make_unique<Staged>();
  LocalLambda lambda(product_function_table(), store->store);
  InProcessInvoker invoker(lambda, 2);
  std::vector<hs::TrialConfig> trials = hs::sample_trials(5, 5, {}, 3, 120);
  trials[3].batch_size = 1000;  // fails on every attempt

  SearchOptions options;
  options.run = run_config("search", 4);
  options.max_concurrency = 3;
  options.retries = 2;
  options.poll_interval = std::chrono::milliseconds(5);
  std::size_t reported = 0, most_running = 0;
  SearchObserver observer;
  observer.on_progress = [&](const SearchProgress& p) {
    most_running = std::max(most_running, p.running);
  };
  observer.on_trial = [&](const TrialOutcome&, const SearchProgress&) { ++reported; };
  const SearchResult result = run_search(invoker, store->store, options, trials, observer);
  lambda.drain_events();

  ASSERT_EQ(result.trials.size(), 5u);
  EXPECT_EQ(reported, 5u);
  EXPECT_LE(most_running, 3u);
  const TrialOutcome& failed = result.trials[3];
  EXPECT_EQ(failed.state, TrialState::Failed);
  EXPECT_EQ(failed.attempts, 3);  // the first and two retries
  ASSERT_EQ(failed.errors.size(), 3u);
  EXPECT_NE(failed.errors.back().find("exceeds"), std::string::npos) << failed.errors.back();
  for (std::size_t i : {0u, 1u, 2u, 4u}) {
    ASSERT_EQ(result.trials[i].state, TrialState::Done) << i;
    EXPECT_EQ(result.trials[i].attempts, 1);
    EXPECT_EQ(result.trials[i].result->invocations, (trials[i].batch_count * 3 + 3) / 4);
  }
  const std::vector<std::size_t> order = ranking(result);
  EXPECT_EQ(order.back(), 3u);
  for (std::size_t k = 1; k + 1 < order.size(); ++k) {
    EXPECT_GE(result.trials[order[k - 1]].result->test_accuracy,
              result.trials[order[k]].result->test_accuracy);
  }
  ASSERT_TRUE(result.best);
  EXPECT_EQ(*result.best, order.front());
  const auto best = store->store.get("runs", hs::best_key("search"));
  ASSERT_TRUE(best);
  EXPECT_NE(best->find(result.trials[*result.best].result->model_sha256), std::string::npos);

  // The same trials in one invocation each give the same results, bit for bit.
  options.run = run_config("search-unsplit", 0);
  const SearchResult again = run_search(invoker, store->store, options, trials);
  lambda.drain_events();
  for (std::size_t i : {0u, 1u, 2u, 4u}) {
    EXPECT_EQ(again.trials[i].result->model_sha256, result.trials[i].result->model_sha256);
    EXPECT_EQ(again.trials[i].result->invocations, 1u);
  }
}

TEST(HyperparameterTrialFunction, ATimeBudgetCheckpointsWhenTheInvocationRunsShort) {
  Staged s;
  hs::TrialConfig trial = hs::sample_trial(11, 1, {}, 1, 120);
  RecordingEvents events;
  hs::RunConfig run = run_config("timed", 0);  // no batch budget: time alone decides
  run.reserve_ms = 1000;
  // Less time left than the reserve: each invocation trains its one guaranteed minibatch only.
  hs::TrialEnvironment env{s.store, events, [] { return std::chrono::milliseconds(500); }, {}};
  const hs::Answer first = hs::decode_answer(
      hs::serve_trial_request(hs::encode_request({run, trial, std::nullopt}), env));
  ASSERT_EQ(first.status, hs::Status::Continued);
  EXPECT_EQ(first.epoch * trial.batch_count + first.batch, 1u);
  ASSERT_EQ(events.events.size(), 1u);
  // Plenty of time: the next invocation finishes the trial, with the uninterrupted bytes.
  hs::TrialEnvironment roomy{s.store, events, [] { return std::chrono::milliseconds(600000); }, {}};
  const std::string next = events.events.front().second;
  events.events.clear();
  const hs::Answer done = hs::decode_answer(hs::serve_trial_request(next, roomy));
  ASSERT_EQ(done.status, hs::Status::Done);
  EXPECT_EQ(done.result->invocations, 2u);
  const hs::Answer whole = hs::decode_answer(hs::serve_trial_request(
      hs::encode_request({run_config("timed-whole", 0), trial, std::nullopt}), roomy));
  EXPECT_EQ(done.result->model_sha256, whole.result->model_sha256);
}
