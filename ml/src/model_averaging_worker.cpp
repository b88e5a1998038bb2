// The Case A/B worker: "train" (one round, driver orchestration) and "work" (the paper's
// self-driving chain of rounds and merges). Rules in model_averaging_worker.hpp.

#include "stratus/ml/model_averaging_worker.hpp"

#include <time.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "stratus/ml/alive_lease.hpp"
#include "stratus/ml/dataset_manifest.hpp"
#include "stratus/ml/shard_reader.hpp"
#include "stratus/ml/worker_round.hpp"

namespace stratus::ml::averaging {
namespace {

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread: what the work costs, however long the host made it wait.
double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

enum class Wait { ready, stopped, out_of_time };

class Worker {
 public:
  Worker(WorkerRequest request, WorkerEnvironment& environment)
      : request_(std::move(request)),
        config_(request_.config),
        tree_(config_.tree),
        layout_(config_.run_id),
        environment_(environment),
        store_(environment.store),
        leaf_{tree_.leaf_level(), request_.worker},
        started_(Clock::now()) {}

  std::string train();
  std::string work();
  std::uint32_t current_round() const { return round_; }
  // Stops the heartbeat and removes the alive record (best effort: one left behind runs out with
  // its lease).
  void forget_alive_marker() noexcept { alive_.reset(); }

 private:
  const Shard& shard(bool& from_cache);
  ModelState global_model(std::uint32_t round);
  NodeValue train_leaf(std::uint32_t round, RoundTrace& trace);
  // Polls until `key` exists (ready), or one of `done_keys` does (ready too: someone else finished
  // the step), the stop flag is set, or time runs short.
  Wait wait_for(const std::string& key, double& waited_ms,
                const std::vector<std::string>& done_keys = {});
  Wait merge(std::uint32_t round, TreeNode node, RoundTrace& trace);
  bool stop_requested() { return store_.exists(config_.bucket, layout_.stop()); }
  bool still_owner();
  bool time_left_for(double step_ms) const;
  std::string answer(WorkOutcome outcome);
  std::string reinvoke(RoundTrace& trace, Clock::time_point round_started);
  void put_trace(RoundTrace& trace, Clock::time_point round_started);
  std::string node_output_key(std::uint32_t round, TreeNode node) const {
    return node.level == 0 ? layout_.model(round + 1) : layout_.node(round, node);
  }

  WorkerRequest request_;
  const RunConfig& config_;
  MergeTree tree_;
  RunLayout layout_;
  WorkerEnvironment& environment_;
  ObjectStore& store_;
  TreeNode leaf_;
  Clock::time_point started_;
  std::uint32_t round_ = 0;
  std::unique_ptr<AliveLease> alive_;
  std::optional<StagedDataset> dataset_;
  std::optional<Shard> shard_;
  std::string last_leaf_bytes_;
  double slowest_train_ms_ = 0;
  double slowest_merge_ms_ = 0;
  Clock::time_point last_stop_check_{};
};

const Shard& Worker::shard(bool& from_cache) {
  from_cache = false;
  if (shard_) return *shard_;
  if (!dataset_)
    dataset_ = open_staged_dataset(store_, config_.dataset_bucket, config_.manifest_key);
  if (dataset_->manifest.shards.size() != config_.workers()) {
    throw ProtocolError("the dataset s3://" + config_.dataset_bucket + "/" + config_.manifest_key +
                        " has " + std::to_string(dataset_->manifest.shards.size()) +
                        " shards, the run has " + std::to_string(config_.workers()) + " workers");
  }
  ShardRead read = read_staged_shard(store_, *dataset_, request_.worker, environment_.cache_dir);
  from_cache = read.from_cache;
  shard_ = std::move(read.shard);
  return *shard_;
}

ModelState Worker::global_model(std::uint32_t round) {
  const std::optional<std::string> bytes = store_.get(config_.bucket, layout_.model(round));
  if (!bytes)
    throw ProtocolError("no global model at s3://" + config_.bucket + "/" + layout_.model(round));
  ModelState model;
  try {
    model = decode_model(*bytes, kMaxDecodedModelBytes);
  } catch (const ModelFormatError& error) {
    throw ProtocolError("global model of round " + std::to_string(round) + ": " + error.what());
  }
  if (model.architecture != config_.architecture) {
    throw ProtocolError("the global model is a " + model.architecture + ", the run trains " +
                        config_.architecture);
  }
  return model;
}

NodeValue Worker::train_leaf(std::uint32_t round, RoundTrace& trace) {
  bool from_cache = false;
  const Shard& samples = shard(from_cache);
  trace.shard_cached = trace.shard_cached || from_cache;
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_ms();
  NodeValue leaf;
  leaf.model = global_model(round);
  RoundStats stats;
  try {
    if (config_.shuffle) {
      const Shard shuffled =
          shard_rows_shuffled(samples, config_.shuffle_seed, round, request_.worker);
      stats = train_minibatches(leaf.model, shuffled, config_.batches, config_.batch_size,
                                config_.learning_rate);
    } else {
      stats = train_minibatches(leaf.model, samples, config_.batches, config_.batch_size,
                                config_.learning_rate);
    }
  } catch (const std::invalid_argument& error) {
    throw ProtocolError(std::string("training: ") + error.what());
  }
  leaf.leaves = 1;
  leaf.samples = stats.samples;
  leaf.correct = stats.correct;
  leaf.loss_sum = stats.loss_sum;
  last_leaf_bytes_ = encode_partial(partial_of(leaf, config_.run_id, round, leaf_));
  store_.put(config_.bucket, layout_.node(round, leaf_), last_leaf_bytes_);
  const double took = ms_since(start);
  trace.train_ms += took;
  trace.train_cpu_ms += thread_cpu_ms() - cpu_start;
  slowest_train_ms_ = std::max(slowest_train_ms_, took);
  return leaf;
}

std::string Worker::train() {
  round_ = request_.round;
  RoundTrace unused;
  bool from_cache = false;
  shard(from_cache);
  NodeValue leaf = train_leaf(request_.round, unused);
  TrainAnswer answer;
  answer.run_id = config_.run_id;
  answer.round = request_.round;
  answer.worker = request_.worker;
  answer.loss_sum = leaf.loss_sum;
  answer.samples = leaf.samples;
  answer.correct = leaf.correct;
  answer.result_sha256 = sha256_hex(last_leaf_bytes_);
  answer.shard_cached = from_cache;
  return encode_train_answer(answer);
}

bool Worker::time_left_for(double step_ms) const {
  const double remaining = static_cast<double>(environment_.remaining().count());
  return remaining > static_cast<double>(config_.reserve_ms) + 1.5 * step_ms;
}

bool Worker::still_owner() {
  const std::optional<std::string> text =
      store_.get(config_.bucket, layout_.chain(request_.worker));
  if (!text) return true;  // nobody else claimed it
  const ChainRecord chain = decode_chain(*text);
  return chain.hop == request_.hop && chain.owner == environment_.request_id;
}

Wait Worker::wait_for(const std::string& key, double& waited_ms,
                      const std::vector<std::string>& done_keys) {
  const auto start = Clock::now();
  Wait outcome = Wait::ready;
  while (!store_.exists(config_.bucket, key)) {
    if (std::any_of(done_keys.begin(), done_keys.end(),
                    [&](const std::string& done) { return store_.exists(config_.bucket, done); })) {
      break;
    }
    if (Clock::now() - last_stop_check_ > std::chrono::seconds(1)) {
      last_stop_check_ = Clock::now();
      if (stop_requested()) {
        outcome = Wait::stopped;
        break;
      }
    }
    if (!time_left_for(config_.poll_ms)) {
      outcome = Wait::out_of_time;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(config_.poll_ms));
  }
  waited_ms += ms_since(start);
  return outcome;
}

Wait Worker::merge(std::uint32_t round, TreeNode node, RoundTrace& trace) {
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_ms();
  const MergeTree::Block block = tree_.children(node);
  const std::string output = node_output_key(round, node);
  auto remove_children = [&] {
    for (std::uint32_t c = block.first; c < block.first + block.count; ++c) {
      store_.remove(config_.bucket, layout_.node(round, {node.level + 1, c}));
    }
  };
  // Another invocation of this worker (a duplicated event, a retry of one that seemed lost) may
  // have done this merge already: its output is there (or consumed by now: the round is over),
  // its children are gone (or, when this one wrote a leaf after they were consumed, stale: removed
  // again).
  const std::string round_over = layout_.model(round + 1);
  auto merged_elsewhere = [&] {
    if (!store_.exists(config_.bucket, output) && !store_.exists(config_.bucket, round_over))
      return false;
    remove_children();
    trace.merge_ms += ms_since(start);
    return true;
  };
  std::optional<NodeValue> sum;
  for (std::uint32_t c = block.first; c < block.first + block.count; ++c) {
    const TreeNode child{node.level + 1, c};
    const std::string key = layout_.node(round, child);
    std::optional<std::string> bytes;
    while (!bytes) {
      double waited = 0;
      const Wait wait = wait_for(key, waited, {output, round_over});
      trace.merge_ms += waited;
      if (wait != Wait::ready) return wait;
      if (merged_elsewhere()) return Wait::ready;
      bytes = store_.get(config_.bucket, key);
    }
    add_child(sum, node_value(decode_partial_for(*bytes, config_.run_id, round, child, tree_),
                              config_.architecture));
  }
  if (node.level == 0) {
    finish_root(*sum, config_.workers());
    const std::string model = encode_model(sum->model);
    RoundRecord record;
    record.round = round;
    record.loss_sum = sum->loss_sum;
    record.samples = sum->samples;
    record.correct = sum->correct;
    record.leaves = sum->leaves;
    record.completed_ms = epoch_ms();
    record.model_sha256 = sha256_hex(model);
    // The record first: the next global model is what every worker waits for, and a root that
    // dies between the two writes redoes both (its children are deleted only after).
    store_.put(config_.bucket, layout_.round_record(round), encode_round_record(record));
    store_.put(config_.bucket, output, model);
  } else {
    store_.put(config_.bucket, output,
               encode_partial(partial_of(*sum, config_.run_id, round, node)));
  }
  remove_children();
  const double took = ms_since(start);
  trace.merge_cpu_ms += thread_cpu_ms() - cpu_start;  // polling sleeps cost no CPU
  trace.merged_children += block.count;
  slowest_merge_ms_ = std::max(slowest_merge_ms_, took);
  return Wait::ready;
}

std::string Worker::answer(WorkOutcome outcome) {
  forget_alive_marker();
  WorkAnswer a;
  a.run_id = config_.run_id;
  a.worker = request_.worker;
  a.hop = request_.hop;
  a.round = round_;
  a.outcome = outcome;
  return encode_work_answer(a);
}

void Worker::put_trace(RoundTrace& trace, Clock::time_point round_started) {
  trace.elapsed_ms = ms_since(round_started);
  store_.put(config_.bucket, layout_.trace(trace.round, request_.worker, request_.hop),
             encode_trace(trace));
}

std::string Worker::reinvoke(RoundTrace& trace, Clock::time_point round_started) {
  if (!still_owner()) return answer(WorkOutcome::superseded);
  put_trace(trace, round_started);
  WorkerRequest next = request_;
  next.round = round_;
  next.hop = request_.hop + 1;
  environment_.events.invoke_event(config_.function, encode_request(next));
  return answer(WorkOutcome::reinvoked);
}

std::string Worker::work() {
  round_ = request_.round;
  if (stop_requested()) return answer(WorkOutcome::stopped);
  alive_ = std::make_unique<AliveLease>(
      store_, config_.bucket, layout_.alive(request_.worker, request_.hop), request_.worker,
      request_.hop,
      epoch_ms() +
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, environment_.remaining().count())),
      std::chrono::milliseconds(config_.lease_ms));
  if (const auto text = store_.get(config_.bucket, layout_.chain(request_.worker))) {
    if (decode_chain(*text).hop > request_.hop) return answer(WorkOutcome::superseded);
  }
  store_.put(config_.bucket, layout_.chain(request_.worker),
             encode_chain({request_.hop, environment_.request_id}));

  const std::vector<TreeNode> merges = tree_.merges_on(request_.worker);
  bool first = true;
  std::uint32_t rounds_done_here = 0;
  while (round_ < config_.rounds) {
    const auto round_started = first ? started_ : Clock::now();
    RoundTrace trace;
    trace.round = round_;
    trace.worker = request_.worker;
    trace.hop = request_.hop;
    trace.new_invocation = first;
    trace.cold_start = first && environment_.cold_start;
    trace.memory_mb = environment_.memory_mb;

    last_stop_check_ = Clock::now();
    if (stop_requested()) return answer(WorkOutcome::stopped);
    if (!first && !still_owner()) return answer(WorkOutcome::superseded);
    if (config_.rounds_per_invocation > 0 && rounds_done_here >= config_.rounds_per_invocation)
      return reinvoke(trace, round_started);
    if (store_.exists(config_.bucket, layout_.model(round_ + 1))) {
      // The round is over already: this invocation resumes a worker whose part of it was done
      // (say, it died after writing its leaf). The trainer counts on a complete trace of every
      // worker in every round; write it unless the earlier invocation did.
      if (first &&
          !store_.exists(config_.bucket, layout_.trace(round_, request_.worker, request_.hop))) {
        trace.complete = true;
        put_trace(trace, round_started);
        first = false;
      }
      ++round_;
      continue;
    }
    // A resumed hop: how far up this worker's ancestors the round already got. Index 0 is the
    // leaf, i the i-th ancestor; done = 1 + the highest index whose output exists.
    std::size_t done = 0;
    if (first) {
      TreeNode node = leaf_;
      for (std::size_t i = 0; node.level > 0; ++i) {
        if (store_.exists(config_.bucket, layout_.node(round_, node))) done = i + 1;
        node = tree_.parent(node);
      }
      // Results consumed by a merge this worker hosts that did not finish are still there; its
      // children's deletion after a finished merge is redone (a crash may have cut it short).
      for (std::size_t i = 0; i + 1 < done && i < merges.size(); ++i) {
        const MergeTree::Block block = tree_.children(merges[i]);
        for (std::uint32_t c = block.first; c < block.first + block.count; ++c) {
          store_.remove(config_.bucket, layout_.node(round_, {merges[i].level + 1, c}));
        }
      }
    }
    if (done == 0) {
      double waited = 0;
      const Wait wait = wait_for(layout_.model(round_), waited);
      trace.wait_ms += waited;
      if (wait == Wait::stopped) return answer(WorkOutcome::stopped);
      if (wait == Wait::out_of_time || !time_left_for(slowest_train_ms_))
        return reinvoke(trace, round_started);
      train_leaf(round_, trace);
    }
    for (std::size_t i = done == 0 ? 0 : done - 1; i < merges.size(); ++i) {
      if (!time_left_for(slowest_merge_ms_)) return reinvoke(trace, round_started);
      const Wait wait = merge(round_, merges[i], trace);
      if (wait == Wait::stopped) return answer(WorkOutcome::stopped);
      if (wait == Wait::out_of_time) return reinvoke(trace, round_started);
    }
    trace.complete = true;
    put_trace(trace, round_started);
    ++round_;
    ++rounds_done_here;
    first = false;
  }
  return answer(WorkOutcome::finished);
}

// Errors that retrying cannot fix get an error record, so the trainer stops waiting; a store or
// invoke failure may be transient and is left to Lambda's retries.
bool is_permanent(const std::exception& error) {
  return dynamic_cast<const ProtocolError*>(&error) != nullptr ||
         dynamic_cast<const ModelFormatError*>(&error) != nullptr ||
         dynamic_cast<const DatasetError*>(&error) != nullptr ||
         dynamic_cast<const ShardFormatError*>(&error) != nullptr ||
         dynamic_cast<const TrainingDivergedError*>(&error) != nullptr ||  // deterministic
         dynamic_cast<const std::invalid_argument*>(&error) != nullptr;
}

}  // namespace

std::string serve_worker_request(std::string_view payload, WorkerEnvironment& environment) {
  WorkerRequest request = decode_request(payload);
  Worker worker(request, environment);
  if (request.op == Operation::train) return worker.train();
  try {
    return worker.work();
  } catch (const std::exception& error) {
    try {
      if (is_permanent(error)) {
        ErrorRecord record{worker.current_round(), request.worker, request.hop,
                           dynamic_cast<const ProtocolError*>(&error)           ? "InvalidInput"
                           : dynamic_cast<const TrainingDivergedError*>(&error) ? "TrainingDiverged"
                                                                                : "Error",
                           error.what()};
        environment.store.put(request.config.bucket,
                              RunLayout(request.config.run_id).error(record.round, record.worker),
                              encode_error(record));
      }
      worker.forget_alive_marker();
    } catch (const std::exception&) {
      // The original error is the one to report.
    }
    throw;
  }
}

}  // namespace stratus::ml::averaging
