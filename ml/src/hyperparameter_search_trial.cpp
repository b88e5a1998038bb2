// The `hyperparameter_trial` function's work: one segment of one Case C trial, from the newest
// checkpoint to the end of the trial or of the invocation's budget; then the result, or a
// checkpoint and an Event invocation of itself for the next segment (hyperparameter_search.hpp).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

#include "stratus/ml/hyperparameter_search.hpp"
#include "stratus/ml/shard_reader.hpp"

namespace stratus::ml::hyperparameter_search {
namespace {

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(std::string(kProtocol) + ": " + message);
}

// Converted datasets kept per process: a warm environment (or the in-process Lambda, whose
// handlers share one process) converts a dataset once. Keyed by the shards' digests, so another
// dataset, or the same name staged again with other samples, is never served from it.
class TrialDataCache {
 public:
  std::shared_ptr<const TrialData> get(const std::string& key) {
    std::lock_guard lock(mutex_);
    for (const auto& [k, data] : entries_) {
      if (k == key) return data;
    }
    return nullptr;
  }
  void put(const std::string& key, std::shared_ptr<const TrialData> data) {
    std::lock_guard lock(mutex_);
    entries_.emplace_back(key, std::move(data));
    // A search reads two datasets (train and test): room for both, and for a second search.
    if (entries_.size() > 4) entries_.erase(entries_.begin());
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::shared_ptr<const TrialData>>> entries_;
};

TrialDataCache& data_cache() {
  static TrialDataCache cache;
  return cache;
}

std::shared_ptr<const TrialData> load_dataset(ObjectStore& store, const DatasetRef& ref,
                                              const std::filesystem::path& cache_dir) {
  const StagedDataset dataset = open_staged_dataset(store, ref.bucket, ref.manifest_key);
  std::string key = ref.bucket + "/" + ref.manifest_key;
  for (const auto& shard : dataset.manifest.shards) key += ":" + shard.sha256;
  if (auto cached = data_cache().get(key)) return cached;
  Shard all;
  for (std::size_t i = 0; i < dataset.manifest.shards.size(); ++i) {
    Shard part = read_staged_shard(store, dataset, i, cache_dir).shard;
    if (i == 0) {
      all = std::move(part);
      continue;
    }
    all.features.shape[0] += part.features.shape[0];
    all.labels.shape[0] += part.labels.shape[0];
    all.features.u8.insert(all.features.u8.end(), part.features.u8.begin(), part.features.u8.end());
    all.features.f32.insert(all.features.f32.end(), part.features.f32.begin(),
                            part.features.f32.end());
    all.labels.i32.insert(all.labels.i32.end(), part.labels.i32.begin(), part.labels.i32.end());
  }
  auto data = std::make_shared<const TrialData>(trial_data(all));
  data_cache().put(key, data);
  return data;
}

std::optional<std::uint32_t> newest_checkpoint(ObjectStore& store, const RunConfig& run,
                                               std::uint32_t trial) {
  std::optional<std::uint32_t> newest;
  for (const std::string& key :
       store.list(run.bucket, trial_prefix(run.run_id, trial) + "checkpoint-")) {
    if (const auto segment = checkpoint_segment(key))
      newest = std::max(newest.value_or(0), *segment);
  }
  return newest;
}

}  // namespace

std::string serve_trial_request(std::string_view payload, TrialEnvironment& env) {
  const auto started = std::chrono::steady_clock::now();
  const Request request = decode_request(payload);
  const RunConfig& run = request.run;
  const TrialConfig& trial = request.trial;
  Answer answer;
  answer.run_id = run.run_id;
  answer.trial = trial.trial;
  // A segment the chain invoked itself (its request names the segment; the driver's never do) is
  // an Event invocation whose REPORT the driver never sees, so it writes what it was billed.
  const auto write_bill = [&](std::uint32_t segment) {
    if (!request.segment || env.memory_mb == 0) return;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    env.store.put(run.bucket, bill_key(run.run_id, trial.trial, segment),
                  encode_bill({segment, std::ceil(ms), env.memory_mb}));
  };

  // A finished trial answers with its result, whatever segment was asked for (a late duplicate).
  if (const auto stored = env.store.get(run.bucket, result_key(run.run_id, trial.trial))) {
    TrialResult result = decode_result(*stored);
    if (result.trial != trial)
      refuse("trial " + std::to_string(trial.trial) + " has a result for another configuration");
    answer.status = Status::Done;
    answer.replayed = true;
    answer.segment = result.invocations;
    answer.epoch = trial.epochs;
    answer.result = std::move(result);
    return encode_answer(answer);
  }

  const std::uint32_t newest = newest_checkpoint(env.store, run, trial.trial).value_or(0);
  if (request.segment && *request.segment < newest) {
    // Segment k ran already (this is a duplicate delivery, or the driver resumed it meanwhile):
    // its successor exists, so doing it again would only start a second chain.
    answer.status = Status::Stale;
    answer.segment = *request.segment;
    return encode_answer(answer);
  }
  if (request.segment && *request.segment > newest) {
    refuse("trial " + std::to_string(trial.trial) + ": no checkpoint for segment " +
           std::to_string(*request.segment));
  }
  const std::uint32_t segment = request.segment.value_or(newest);
  if (segment >= kMaxSegments)
    refuse("trial " + std::to_string(trial.trial) + " reached the segment limit");

  const std::shared_ptr<const TrialData> train = load_dataset(env.store, run.train, env.cache_dir);
  if (static_cast<std::uint64_t>(trial.batch_count) * trial.batch_size > train->rows) {
    refuse("trial " + std::to_string(trial.trial) + ": batch_count x batch_size exceeds the " +
           std::to_string(train->rows) + " training rows");
  }
  TrainingState state;
  if (segment == 0) {
    state = initial_state(trial, train->inputs);
  } else {
    const auto bytes = env.store.get(run.bucket, checkpoint_key(run.run_id, trial.trial, segment));
    if (!bytes)
      refuse("trial " + std::to_string(trial.trial) + ": checkpoint " + std::to_string(segment) +
             " vanished");
    if (bytes->size() > kMaxObjectBytes) refuse("checkpoint is too large");
    state = decode_checkpoint(*bytes, trial, train->inputs);
    if (state.segment != segment)
      refuse("checkpoint " + std::to_string(segment) + " says it is segment " +
             std::to_string(state.segment));
  }

  // The budget: a batch count (testable, deterministic) and the invocation's time, keeping room
  // for the slowest minibatch seen twice over plus the checkpoint's write and the next invoke.
  std::uint64_t trained = 0;
  auto last = std::chrono::steady_clock::now();
  double slowest_ms = 0;
  const auto keep_going = [&] {
    const auto now = std::chrono::steady_clock::now();
    slowest_ms =
        std::max(slowest_ms, std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
    ++trained;
    if (run.max_batches_per_invocation != 0 && trained >= run.max_batches_per_invocation)
      return false;
    return static_cast<double>(env.remaining().count()) > run.reserve_ms + 2 * slowest_ms;
  };
  train_segment(state, trial, *train, keep_going);

  if (state.epoch >= trial.epochs) {
    const std::shared_ptr<const TrialData> test = load_dataset(env.store, run.test, env.cache_dir);
    const TestScore score = test_accuracy(state.model, *test);
    TrialResult result;
    result.trial = trial;
    result.architecture = state.model.architecture;
    result.test_correct = score.correct;
    result.test_samples = score.samples;
    result.test_accuracy =
        score.samples ? static_cast<double>(score.correct) / static_cast<double>(score.samples)
                      : 0.0;
    result.final_train_loss = state.last_epoch_loss;
    result.model_sha256 = model_sha256(state.model);
    result.model_key = model_key(run.run_id, trial.trial);
    result.invocations = segment + 1;
    result.train_ms = state.train_ms;
    // The bill and the model first: a result always names a model that is there, and the driver
    // reading a result finds every segment's bill.
    write_bill(segment);
    env.store.put(run.bucket, result.model_key, encode_model(state.model));
    env.store.put(run.bucket, result_key(run.run_id, trial.trial), encode_result(result));
    for (const std::string& key :
         env.store.list(run.bucket, trial_prefix(run.run_id, trial.trial) + "checkpoint-")) {
      env.store.remove(run.bucket, key);
    }
    answer.status = Status::Done;
    answer.segment = segment;
    answer.epoch = state.epoch;
    answer.result = std::move(result);
    return encode_answer(answer);
  }

  // Out of budget: checkpoint, then hand the rest to a fresh invocation of this function.
  state.segment = segment + 1;
  env.store.put(run.bucket, checkpoint_key(run.run_id, trial.trial, state.segment),
                encode_checkpoint(state, trial.trial));
  if (segment > 0) env.store.remove(run.bucket, checkpoint_key(run.run_id, trial.trial, segment));
  write_bill(segment);
  env.events.invoke_event(run.function, encode_request({run, trial, state.segment}));
  answer.status = Status::Continued;
  answer.segment = segment;
  answer.epoch = state.epoch;
  answer.batch = state.batch;
  return encode_answer(answer);
}

}  // namespace stratus::ml::hyperparameter_search
