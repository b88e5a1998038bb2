// Case A/B runs in-process (LocalLambda over an in-memory store, the very handler table the
// bootstrap serves): both orchestrations against an independent plain-loop reference, at-least-once
// delivery (every Event delivered twice), self re-invocation under short deadlines, hostile
// objects in the store and hostile payloads to the handler.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "stratus/ml/architectures.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/model_averaging_worker.hpp"
#include "stratus/ml/shard_layout.hpp"
#include "stratus/ml/worker_round.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/local_lambda.hpp"
#include "stratus/trainer/model_averaging.hpp"

using namespace stratus;
using namespace stratus::trainer;
using stratus::ml::averaging::Orchestration;

namespace {

ModelAveragingOptions small_case_a(Orchestration orchestration) {
  ModelAveragingOptions o;
  o.architecture = std::string(ml::kCaseA);
  o.workers = 5;
  o.tree = {1, 2, 5};
  o.rounds = 2;
  o.batches = 4;
  o.batch_size = 30;
  o.seed = 11;
  o.orchestration = orchestration;
  o.bucket = "unit-runs";
  o.poll_ms = 5;
  o.reserve_ms = 50;
  o.stall_timeout = std::chrono::seconds(60);
  o.data.samples = 1003;  // not a multiple of 5: the first 3 shards hold one sample more
  return o;
}

// The same training written as a plain loop over the definitions: contiguous shards in order, each
// worker from the round's global model, the tree's sums in child order, the root's division.
ml::ModelState reference_model(const ModelAveragingOptions& o) {
  const LabeledData data = make_case_a({o.data.samples, o.seed});
  const auto ranges = ml::split_evenly(data.count(), o.workers);
  std::vector<Shard> shards;
  for (const auto& range : ranges) {
    Shard s;
    s.features = Tensor::of_f32(
        {range.count, 20},
        std::vector<float>(data.features.f32.begin() + range.first * 20,
                           data.features.f32.begin() + (range.first + range.count) * 20));
    s.labels = Tensor::of_i32(
        {range.count},
        std::vector<std::int32_t>(data.labels.i32.begin() + range.first,
                                  data.labels.i32.begin() + range.first + range.count));
    shards.push_back(std::move(s));
  }
  const ml::MergeTree tree(o.tree);
  ml::ModelState global = ml::initial_model(o.architecture, o.seed);
  for (std::uint32_t round = 0; round < o.rounds; ++round) {
    std::vector<ml::ModelState> level;
    for (std::uint32_t w = 0; w < o.workers; ++w) {
      ml::ModelState model = global;
      if (o.shuffle) {
        ml::train_minibatches(model,
                              ml::averaging::shard_rows_shuffled(shards[w], o.seed, round, w),
                              o.batches, o.batch_size, o.learning_rate);
      } else {
        ml::train_minibatches(model, shards[w], o.batches, o.batch_size, o.learning_rate);
      }
      level.push_back(std::move(model));
    }
    for (std::uint32_t l = tree.leaf_level(); l-- > 0;) {
      std::vector<ml::ModelState> above;
      for (std::uint32_t j = 0; j < tree.levels()[l]; ++j) {
        const auto block = tree.children({l, j});
        ml::ModelState sum = level[block.first];
        for (std::uint32_t c = block.first + 1; c < block.first + block.count; ++c)
          ml::accumulate(sum, level[c]);
        above.push_back(std::move(sum));
      }
      level = std::move(above);
    }
    ml::divide(level[0], o.workers);
    global = std::move(level[0]);
  }
  return global;
}

// Delivers every Event twice, as Lambda may.
class TwiceDelivered : public ml::EventInvoker {
 public:
  explicit TwiceDelivered(ml::EventInvoker& inner) : inner_(inner) {}
  void invoke_event(const std::string& function, std::string payload) override {
    ++events;
    inner_.invoke_event(function, payload);
    inner_.invoke_event(function, std::move(payload));
  }
  std::atomic<int> events{0};

 private:
  ml::EventInvoker& inner_;
};

// Loses the first Event for worker 2, as Lambda sometimes did for the paper.
class LosesAnEvent : public ml::EventInvoker {
 public:
  explicit LosesAnEvent(ml::EventInvoker& inner) : inner_(inner) {}
  void invoke_event(const std::string& function, std::string payload) override {
    if (!lost_ && payload.find("\"worker\":2}") != std::string::npos) {
      lost_ = true;
      return;
    }
    inner_.invoke_event(function, std::move(payload));
  }
  bool lost() const { return lost_; }

 private:
  ml::EventInvoker& inner_;
  std::atomic<bool> lost_{false};
};

// The first put of a key ending in `suffix` succeeds, then the caller "crashes".
class CrashAfterPut : public ml::MemoryObjectStore {
 public:
  explicit CrashAfterPut(std::string suffix) : suffix_(std::move(suffix)) {}
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    ml::MemoryObjectStore::put(bucket, key, bytes);
    if (key.size() >= suffix_.size() &&
        key.compare(key.size() - suffix_.size(), suffix_.size(), suffix_) == 0 &&
        !crashed_.exchange(true)) {
      throw std::runtime_error("simulated crash after writing " + key);
    }
  }
  bool crashed() const { return crashed_; }

 private:
  std::string suffix_;
  std::atomic<bool> crashed_{false};
};

// Puts of keys containing `held` wait (up to 10 s) until `release_key` exists; from then on none
// do.
class HeldUntil : public ml::MemoryObjectStore {
 public:
  HeldUntil(std::string held, std::string release_key)
      : held_(std::move(held)), release_(std::move(release_key)) {}
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    if (!released_ && key.find(held_) != std::string::npos) {
      for (int i = 0; i < 10000 && !exists(bucket, release_); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      released_ = true;
    }
    ml::MemoryObjectStore::put(bucket, key, bytes);
  }

 private:
  std::string held_;
  std::string release_;
  std::atomic<bool> released_{false};
};

// Corrupts one worker's leaf results as they are written.
class CorruptingStore : public ml::MemoryObjectStore {
 public:
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    if (key.find("/node-2-00001.bin") != std::string::npos) {
      std::string bad(bytes);
      bad[0] = 'X';
      ml::MemoryObjectStore::put(bucket, key, bad);
      return;
    }
    ml::MemoryObjectStore::put(bucket, key, bytes);
  }
};

struct InProcess {
  explicit InProcess(LocalFunctionTable table = product_function_table(),
                     ml::ObjectStore* store = nullptr, LocalLambdaOptions options = {})
      : store_(store ? store : &owned_),
        lambda(std::move(table), *store_, options),
        invoker(lambda, 2) {}
  ml::MemoryObjectStore owned_;
  ml::ObjectStore* store_;
  LocalLambda lambda;
  InProcessInvoker invoker;
  RunServices services(ml::EventInvoker* events = nullptr) {
    return RunServices{*store_, events ? events : &lambda, &invoker, "in-process test"};
  }
};

}  // namespace

TEST(ModelAveragingRun, BothOrchestrationsMatchAPlainLoopBitForBit) {
  const ModelAveragingOptions functions_options = small_case_a(Orchestration::functions);
  const std::string expected = ml::model_sha256(reference_model(functions_options));
  for (Orchestration orchestration : {Orchestration::functions, Orchestration::driver}) {
    InProcess local;
    RunServices services = local.services();
    std::vector<RoundRow> rows;
    const ModelAveragingResult result = run_model_averaging(
        small_case_a(orchestration), services, {}, [&](const RoundRow& r) { rows.push_back(r); });
    EXPECT_EQ(result.model_sha256, expected) << ml::averaging::orchestration_name(orchestration);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].round, 1u);
    EXPECT_EQ(rows[1].model_sha256, expected);
    EXPECT_GT(rows[0].loss, 0);
    EXPECT_GE(rows[0].accuracy, 0);
    EXPECT_LE(rows[0].accuracy, 1);
    if (orchestration == Orchestration::functions) {
      EXPECT_EQ(rows[0].invocations, 5);  // every worker started once, carrying the whole run
      EXPECT_EQ(rows[1].invocations, 0);
    } else {
      EXPECT_EQ(rows[0].invocations, 5);
      EXPECT_EQ(rows[1].invocations, 5);
    }
    // Merges consumed every result; the global models of every round stay.
    const auto keys = local.store_->list("unit-runs", "runs/" + result.run_id + "/");
    for (const auto& key : keys) EXPECT_EQ(key.find("/node-"), std::string::npos) << key;
    EXPECT_TRUE(
        local.store_->exists("unit-runs", "runs/" + result.run_id + "/model/round-00002.bin"));
  }
}

TEST(ModelAveragingRun, ShuffledMinibatchesAreTheSameInBothOrchestrations) {
  ModelAveragingOptions o = small_case_a(Orchestration::functions);
  o.shuffle = true;
  const std::string expected = ml::model_sha256(reference_model(o));
  ModelAveragingOptions unshuffled = o;
  unshuffled.shuffle = false;
  EXPECT_NE(expected, ml::model_sha256(reference_model(unshuffled)));
  for (Orchestration orchestration : {Orchestration::functions, Orchestration::driver}) {
    o.orchestration = orchestration;
    InProcess local;
    RunServices services = local.services();
    EXPECT_EQ(run_model_averaging(o, services).model_sha256, expected);
  }
}

TEST(ModelAveragingRun, AnInterruptedRunResumesToTheSameModel) {
  for (Orchestration orchestration : {Orchestration::functions, Orchestration::driver}) {
    ModelAveragingOptions o = small_case_a(orchestration);
    o.rounds = 4;
    o.run_id =
        std::string("resumable-") + std::string(ml::averaging::orchestration_name(orchestration));
    const std::string expected = ml::model_sha256(reference_model(o));
    // Round 3's results wait until the run is stopped: the stop lands in the middle of round 3.
    // (The driver checks between rounds: nothing to hold there.)
    HeldUntil store(orchestration == Orchestration::functions ? "/round-00002/" : "(nothing)",
                    "runs/" + o.run_id + "/stop");
    InProcess local(product_function_table(), &store);
    o.interrupted = [&] {
      return local.store_->exists("unit-runs", "runs/" + o.run_id + "/rounds/round-00001.json");
    };
    RunServices services = local.services();
    EXPECT_THROW(run_model_averaging(o, services), RunFailed);
    local.lambda.drain_events();
    EXPECT_TRUE(local.store_->exists("unit-runs", "runs/" + o.run_id + "/stop"));

    ModelAveragingOptions again = small_case_a(Orchestration::driver);  // the stored config decides
    again.resume = o.run_id;
    std::vector<RoundRow> rows;
    const ModelAveragingResult result =
        run_model_averaging(again, services, {}, [&](const RoundRow& r) { rows.push_back(r); });
    EXPECT_EQ(result.model_sha256, expected) << ml::averaging::orchestration_name(orchestration);
    ASSERT_FALSE(rows.empty());
    // Stopped in round 3 (its results held until the stop flag): resumed at round 3, or at 4 when
    // the workers' merges of round 3 went through before they saw the flag.
    EXPECT_GE(rows.front().round, 3u);
    EXPECT_LE(rows.front().round, 4u);
    EXPECT_EQ(rows.back().round, 4u);
    EXPECT_EQ(result.configuration["orchestration"],
              ml::averaging::orchestration_name(orchestration));
    // A finished run cannot be resumed; an unknown one neither.
    EXPECT_THROW(run_model_averaging(again, services), std::invalid_argument);
    again.resume = "no-such-run";
    EXPECT_THROW(run_model_averaging(again, services), std::invalid_argument);
  }
}

TEST(ModelAveragingRun, EveryEventDeliveredTwiceChangesNothingAndDoesNotFork) {
  const ModelAveragingOptions o = small_case_a(Orchestration::functions);
  const std::string expected = ml::model_sha256(reference_model(o));
  InProcess local;
  TwiceDelivered twice(local.lambda);
  RunServices services = local.services(&twice);
  const ModelAveragingResult result = run_model_averaging(o, services);
  EXPECT_EQ(result.model_sha256, expected);
  local.lambda.drain_events();  // returns only if no chain forked into a runaway
  EXPECT_EQ(local.lambda.event_counts().failed, 0u);
}

namespace {

// Runs `o` (functions orchestration, revival after 1 s) with worker 2's start event lost; checks
// the event was lost and the model is the plain loop's; returns the workers the trainer revived.
int revivals_when_worker_2s_start_is_lost(ModelAveragingOptions o) {
  o.revive_after = std::chrono::seconds(1);
  const std::string expected = ml::model_sha256(reference_model(o));
  InProcess local;
  LosesAnEvent lossy(local.lambda);
  RunServices services = local.services(&lossy);
  int revived = 0;
  const ModelAveragingResult result =
      run_model_averaging(o, services, {}, [&](const RoundRow& r) { revived += r.revived; });
  EXPECT_TRUE(lossy.lost());
  EXPECT_EQ(result.model_sha256, expected);
  return revived;
}

}  // namespace

TEST(ModelAveragingRun, ALostEventIsRevivedByTheTrainerAndChangesNothing) {
  EXPECT_GE(revivals_when_worker_2s_start_is_lost(small_case_a(Orchestration::functions)), 1);
}

TEST(ModelAveragingRun, RevivalInTheLastRoundLeavesFinishedWorkersAlone) {
  // One round, and worker 2's start event is lost: the workers that are only leaves finish their
  // part and end while the mergers wait for worker 2. Reviving the finished ones too would pay for
  // invocations that find their work done; only worker 2 is invoked again.
  ModelAveragingOptions o = small_case_a(Orchestration::functions);
  o.rounds = 1;
  EXPECT_EQ(revivals_when_worker_2s_start_is_lost(o), 1);
}

TEST(ModelAveragingRun, AWorkerCrashingMidRoundIsRetriedAndChangesNothing) {
  for (Orchestration orchestration : {Orchestration::functions, Orchestration::driver}) {
    // Worker 3's invocation dies in round 2 right after writing its leaf, before merging or
    // answering: the retry (Lambda's async retry; the fan-out's) resumes from what S3 has.
    CrashAfterPut store("/round-00001/node-2-00003.bin");
    ModelAveragingOptions o = small_case_a(orchestration);
    o.rounds = 3;
    o.fan_out.backoff_base = std::chrono::milliseconds(1);
    const std::string expected = ml::model_sha256(reference_model(o));
    InProcess local(product_function_table(), &store);
    RunServices services = local.services();
    int retries = 0;
    const ModelAveragingResult result =
        run_model_averaging(o, services, {}, [&](const RoundRow& r) { retries += r.retries; });
    EXPECT_TRUE(store.crashed());
    EXPECT_EQ(result.model_sha256, expected) << ml::averaging::orchestration_name(orchestration);
    if (orchestration == Orchestration::driver) {
      EXPECT_GE(retries, 1);
    } else {
      EXPECT_GE(local.lambda.event_counts().retried, 1u);
    }
  }
}

TEST(ModelAveragingRun, ShortDeadlinesMakeWorkersReinvokeThemselvesAndResume) {
  LocalFunctionTable table = product_function_table();
  table.at("model_averaging").timeout_s = 1;
  ModelAveragingOptions o = small_case_a(Orchestration::functions);
  o.rounds = 4;
  o.reserve_ms = 990;  // every invocation hands over almost at once
  const std::string expected = ml::model_sha256(reference_model(o));
  InProcess local(table);
  RunServices services = local.services();
  int invocations = 0;
  const ModelAveragingResult result = run_model_averaging(
      o, services, {}, [&](const RoundRow& r) { invocations += r.invocations; });
  EXPECT_EQ(result.model_sha256, expected);
  EXPECT_GT(invocations, 5);
  bool later_hop = false;
  for (const auto& key : local.store_->list("unit-runs", "runs/" + result.run_id + "/")) {
    if (key.find("/trace-") != std::string::npos && key.find("-00000.json") == std::string::npos)
      later_hop = true;
  }
  EXPECT_TRUE(later_hop);
}

TEST(ModelAveragingRun, ACorruptResultInTheStoreFailsTheRunWithATypedError) {
  for (Orchestration orchestration : {Orchestration::functions, Orchestration::driver}) {
    CorruptingStore store;
    InProcess local(product_function_table(), &store);
    RunServices services = local.services();
    ModelAveragingOptions o = small_case_a(orchestration);
    o.run_id = "corrupt-run";
    try {
      run_model_averaging(o, services);
      ADD_FAILURE() << "the run succeeded over a corrupt result";
    } catch (const RunFailed& failed) {
      const std::string what = failed.what();
      if (orchestration == Orchestration::functions) {
        EXPECT_NE(what.find("InvalidInput"), std::string::npos) << what;
        EXPECT_NE(what.find("bad magic"), std::string::npos) << what;
      } else {
        EXPECT_NE(what.find("worker 1"), std::string::npos) << what;
      }
    }
    // The failing trainer set the stop flag: every function of the run ends.
    local.lambda.drain_events();
    EXPECT_TRUE(store.exists("unit-runs", "runs/corrupt-run/stop"));
    EXPECT_TRUE(store.list("unit-runs", "runs/corrupt-run/alive/").empty());
  }
}

TEST(ModelAveragingRun, TheHandlerRefusesHostilePayloadsAsInvalidInput) {
  InProcess local;
  for (
      const std::string& payload :
      {std::string("not json"), std::string("{}"),
       std::string(R"({"protocol":"stratus-model-averaging/1","op":"work"})"),
       std::string(
           R"({"protocol":"stratus-model-averaging/1","op":"train","config":{"run_id":"x"},"worker":0,"round":0,"hop":0})")}) {
    const InvocationResult result = local.lambda.call("model_averaging", payload);
    EXPECT_EQ(result.telemetry.function_error, "Unhandled") << payload;
    EXPECT_NE(result.payload.find("InvalidInput"), std::string::npos) << result.payload;
  }
}

TEST(ModelAveragingRun, StopEndsARunAndWaitsForItsFunctions) {
  InProcess local;
  ModelAveragingOptions o = small_case_a(Orchestration::functions);
  o.rounds = 100000;
  o.run_id = "endless";
  RunServices services = local.services();
  // The stopper polls before the run has made its bucket; a missing bucket is an error, not "no".
  local.store_->ensure_bucket("unit-runs");
  std::thread stopper([&] {
    while (!local.store_->exists("unit-runs", "runs/endless/rounds/round-00001.json")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const StopSummary summary =
        stop_run(*local.store_, "unit-runs", "endless", std::chrono::seconds(30));
    EXPECT_GE(summary.running_at_stop, 1u);
    EXPECT_EQ(summary.still_running, 0u);
  });
  try {
    run_model_averaging(o, services);
    ADD_FAILURE() << "an endless run ended";
  } catch (const RunFailed& failed) {
    EXPECT_NE(std::string(failed.what()).find("was stopped"), std::string::npos) << failed.what();
  }
  stopper.join();
  local.lambda.drain_events();
  EXPECT_TRUE(local.store_->list("unit-runs", "runs/endless/alive/").empty());
  EXPECT_THROW(stop_run(*local.store_, "unit-runs", "no-such-run", std::chrono::seconds(1)),
               std::invalid_argument);
}

namespace {

// Kills worker 3's first invocation (hop 0) mid-round the way SIGKILL does: as it is about to
// write its leaf of round 2 (index 1) it stops, and none of its alive record's later writes or
// its removal reach the store: the record stays behind, its deadline (the function's 300 s
// timeout) far off, its lease no longer refreshed.
class KillsWorker3 : public ml::MemoryObjectStore {
 public:
  explicit KillsWorker3(const std::string& run_id)
      : leaf_("runs/" + run_id + "/round-00001/node-2-00003.bin"),
        alive_("runs/" + run_id + "/alive/worker-00003-00000.json") {}
  void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
    if (key == alive_ && killed_) return;
    if (key == leaf_ && !killed_.exchange(true)) throw std::runtime_error("SIGKILL (simulated)");
    ml::MemoryObjectStore::put(bucket, key, bytes);
  }
  void remove(const std::string& bucket, const std::string& key) override {
    if (key == alive_ && killed_) return;
    ml::MemoryObjectStore::remove(bucket, key);
  }
  bool killed() const { return killed_; }
  const std::string& alive_key() const { return alive_; }

 private:
  std::string leaf_;
  std::string alive_;
  std::atomic<bool> killed_{false};
};

// Lambda's retry of worker 3's killed start event, arriving late: when the trainer revives worker
// 3, the original hop-0 event is delivered again too (before or after the revival).
class LateRetryOfWorker3 : public ml::EventInvoker {
 public:
  LateRetryOfWorker3(ml::EventInvoker& inner, bool before_revival)
      : inner_(inner), before_(before_revival) {}
  void invoke_event(const std::string& function, std::string payload) override {
    const ml::averaging::WorkerRequest request = ml::averaging::decode_request(payload);
    if (request.worker != 3) return inner_.invoke_event(function, std::move(payload));
    if (request.hop == 0) {
      original_ = payload;
      return inner_.invoke_event(function, std::move(payload));
    }
    ++revivals;
    if (before_) inner_.invoke_event(function, original_);
    inner_.invoke_event(function, std::move(payload));
    if (!before_) inner_.invoke_event(function, original_);
  }
  std::atomic<int> revivals{0};

 private:
  ml::EventInvoker& inner_;
  bool before_;
  std::string original_;
};

// A run whose only way past the kill is the trainer's revival: no async retry, the function's
// timeout 300 s, a stall fails after 30 s. Revival every second, leases of 1.5 s.
ModelAveragingOptions killed_worker_run(const std::string& run_id) {
  ModelAveragingOptions o = small_case_a(Orchestration::functions);
  o.rounds = 3;
  o.run_id = run_id;
  o.lease_ms = 1500;
  o.revive_after = std::chrono::seconds(1);
  o.stall_timeout = std::chrono::seconds(30);
  return o;
}

LocalLambdaOptions without_async_retries() {
  LocalLambdaOptions options;
  options.event_retries = 0;
  return options;
}

}  // namespace

TEST(ModelAveragingRun, AWorkerKilledMidRoundIsRevivedOnceItsLeaseRunsOutNotAtItsTimeout) {
  const ModelAveragingOptions o = killed_worker_run("killed-worker");
  const std::string expected = ml::model_sha256(reference_model(o));
  KillsWorker3 store(o.run_id);
  InProcess local(product_function_table(), &store, without_async_retries());
  ASSERT_EQ(product_function_table().at("model_averaging").timeout_s, 300);
  RunServices services = local.services();
  std::vector<RoundRow> rows;
  const ModelAveragingResult result =
      run_model_averaging(o, services, {}, [&](const RoundRow& r) { rows.push_back(r); });
  ASSERT_TRUE(store.killed());
  EXPECT_EQ(result.model_sha256, expected);
  ASSERT_EQ(rows.size(), 3u);
  // Revived in round 2, where it was killed; only it: every other worker kept its lease.
  EXPECT_EQ(rows[0].revived, 0);
  EXPECT_EQ(rows[1].revived, 1);
  EXPECT_EQ(rows[2].revived, 0);
  local.lambda.drain_events();
  EXPECT_EQ(local.lambda.event_counts().failed, 1u);  // the killed one, never retried
  EXPECT_EQ(local.lambda.event_counts().retried, 0u);
  // Its record is still there and its deadline still ahead: the revival went by the lease.
  const auto text = store.get("unit-runs", store.alive_key());
  ASSERT_TRUE(text);
  const ml::averaging::AliveRecord dead = ml::averaging::decode_alive(*text);
  EXPECT_GT(dead.deadline_ms, ml::averaging::epoch_ms());
  EXPECT_FALSE(dead.running_at(ml::averaging::epoch_ms()));
  // The revived worker carried rounds 2 and 3 at hop 1.
  EXPECT_TRUE(store.exists("unit-runs", "runs/killed-worker/round-00001/trace-00003-00001.json"));
  // `stop` waits for leases, not timeouts: the dead record does not count as running.
  const StopSummary stop = stop_run(store, "unit-runs", o.run_id, std::chrono::seconds(20));
  EXPECT_EQ(stop.running_at_stop, 0u);
  EXPECT_EQ(stop.still_running, 0u);
}

TEST(ModelAveragingRun, HeartbeatsKeepASlowButLiveWorkerFromBeingRevived) {
  // Worker 3's leaf of round 2 takes 4 s to write: four revival checks and more than two leases
  // go by while it works. Its heartbeat keeps its lease; nobody is invoked again.
  ModelAveragingOptions o = killed_worker_run("slow-worker");
  const std::string expected = ml::model_sha256(reference_model(o));
  class SlowLeaf : public ml::MemoryObjectStore {
   public:
    void put(const std::string& bucket, const std::string& key, std::string_view bytes) override {
      if (key == "runs/slow-worker/round-00001/node-2-00003.bin" && !slowed.exchange(true))
        std::this_thread::sleep_for(std::chrono::seconds(4));
      ml::MemoryObjectStore::put(bucket, key, bytes);
    }
    std::atomic<bool> slowed{false};
  } store;
  InProcess local(product_function_table(), &store, without_async_retries());
  RunServices services = local.services();
  int revived = 0;
  const ModelAveragingResult result =
      run_model_averaging(o, services, {}, [&](const RoundRow& r) { revived += r.revived; });
  EXPECT_TRUE(store.slowed);
  EXPECT_EQ(result.model_sha256, expected);
  EXPECT_EQ(revived, 0);
  EXPECT_FALSE(store.exists("unit-runs", "runs/slow-worker/round-00001/trace-00003-00001.json"));
  local.lambda.drain_events();
  EXPECT_EQ(local.lambda.event_counts().failed, 0u);
}

TEST(ModelAveragingRun, ARevivedWorkerAndTheKilledOnesLateRetryBothRunToTheSameModel) {
  // Lambda's retry of the killed event may still come after the trainer revived the worker (on
  // AWS a minute later): both invocations run; whichever writes a result writes the same bytes,
  // the retry finds the chain taken by the later hop and steps aside, and the run does not fork.
  for (bool retry_first : {true, false}) {
    const ModelAveragingOptions o =
        killed_worker_run(retry_first ? "late-retry-first" : "late-retry-second");
    const std::string expected = ml::model_sha256(reference_model(o));
    KillsWorker3 store(o.run_id);
    InProcess local(product_function_table(), &store, without_async_retries());
    LateRetryOfWorker3 late(local.lambda, retry_first);
    RunServices services = local.services(&late);
    const ModelAveragingResult result = run_model_averaging(o, services);
    EXPECT_TRUE(store.killed());
    EXPECT_GE(late.revivals, 1);
    EXPECT_EQ(result.model_sha256, expected) << (retry_first ? "retry first" : "retry second");
    local.lambda.drain_events();  // returns only if no chain forked into a runaway
    EXPECT_EQ(local.lambda.event_counts().failed, 1u);  // the killed one; the late retry ended well
  }
}
