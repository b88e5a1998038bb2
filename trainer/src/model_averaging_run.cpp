// The Case A/B driver (model_averaging.hpp): starts a run, then either follows the functions
// through S3 or drives every round itself.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "live_invocations.hpp"
#include "model_averaging_data.hpp"
#include "stratus/ml/architectures.hpp"
#include "stratus/ml/model_averaging_worker.hpp"
#include "stratus/ml/worker_round.hpp"
#include "stratus/trainer/model_averaging.hpp"
#include "stratus/trainer/modeled_round.hpp"

namespace stratus::trainer {
namespace {

using namespace ml::averaging;
using ml::MergeTree;
using ml::TreeNode;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string generated_run_id(const std::string& architecture) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  std::random_device device;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%04x", device() & 0xffffu);
  return std::string(architecture == ml::kCaseB ? "caseb" : "casea") + "-" + stamp + "-" + suffix;
}

// One run, started: its config written, its initial model in place.
class Run {
 public:
  Run(const ModelAveragingOptions& options, RunServices& services)
      : options_(options), services_(services), store_(services.store) {}

  ModelAveragingResult execute(const StartObserver& on_start, const RoundObserver& on_round);

 private:
  void start();
  void start_resumed();
  void describe();
  RoundRow evaluate_round(std::uint32_t round, const RoundRecord& record);
  void follow_round(std::uint32_t round, RoundRow& row);
  void drive_round(std::uint32_t round, RoundRow& row);
  void model_functions_round(std::uint32_t round, const std::vector<RoundTrace>& traces, RoundRow& row);
  NodeValue drive_node(std::uint32_t round, TreeNode node, const std::vector<TrainAnswer>& answers);
  void raise_if_errors();
  int revive_lost_workers(std::uint32_t round);
  void request_stop() noexcept;

  const ModelAveragingOptions& options_;
  RunServices& services_;
  ml::ObjectStore& store_;
  RunConfig config_;
  std::optional<MergeTree> tree_;
  std::optional<RunLayout> layout_;
  PreparedData data_;
  ModelAveragingResult result_;
  std::uint64_t started_ms_ = 0;
  double cost_so_far_ = 0;
  std::uint32_t first_round_ = 0;  // > 0 when resumed
  double modeled_cost_so_far_ = 0;
  // What --max-cost compares: the modeled AWS cost where the target models it (the emulator),
  // else the billed one (AWS).
  double budget_cost() const { return modeled_cost_so_far_ > 0 ? modeled_cost_so_far_ : cost_so_far_; }
};

void Run::start_resumed() {
  layout_.emplace(options_.resume);
  const auto text = store_.get(options_.bucket, layout_->config());
  if (!text) {
    throw std::invalid_argument("there is no run " + options_.resume + " in s3://" +
                                options_.bucket + "/");
  }
  nlohmann::json stored = nlohmann::json::parse(*text, nullptr, false);
  if (stored.is_discarded()) throw ProtocolError(layout_->config() + " is not valid JSON");
  config_ = run_config_from_json(stored);
  if (config_.architecture != options_.architecture) {
    throw std::invalid_argument("run " + config_.run_id + " trains " + config_.architecture +
                                ", not " + options_.architecture);
  }
  tree_.emplace(config_.tree);
  if (config_.orchestration == Orchestration::functions &&
      config_.workers() > services_.event_concurrency) {
    throw std::invalid_argument("run " + config_.run_id + " has " +
                                std::to_string(config_.workers()) +
                                " workers, more than this target runs at once");
  }
  while (first_round_ < config_.rounds &&
         store_.exists(options_.bucket, layout_->model(first_round_ + 1))) {
    ++first_round_;
  }
  if (first_round_ == config_.rounds) {
    throw std::invalid_argument("run " + config_.run_id + " is complete: all " +
                                std::to_string(config_.rounds) + " rounds have their model");
  }
  store_.remove(options_.bucket, layout_->stop());
  data_ = open_prepared_data(options_, store_, config_.dataset_bucket, config_.manifest_key);
  describe();
  result_.configuration["resumed_at_round"] = first_round_ + 1;
}

void Run::describe() {
  result_.run_id = config_.run_id;
  result_.backend = services_.backend;
  result_.data_description = data_.description;
  result_.evaluation_description = data_.evaluation_description;
  result_.configuration = to_json(config_);
  result_.configuration["data"] = data_.description;
  result_.configuration["evaluation"] = data_.evaluation_description;
}

void Run::start() {
  if (!options_.resume.empty()) return start_resumed();
  config_.run_id =
      options_.run_id.empty() ? generated_run_id(options_.architecture) : options_.run_id;
  layout_.emplace(config_.run_id);
  const MergeTree tree =
      options_.tree.empty() ? MergeTree::default_for(options_.workers) : MergeTree(options_.tree);
  if (tree.workers() != options_.workers) {
    throw std::invalid_argument("the merge tree " + tree.to_string() + " ends with " +
                                std::to_string(tree.workers()) + " workers, not " +
                                std::to_string(options_.workers));
  }
  tree_.emplace(tree);
  if (options_.orchestration == Orchestration::functions &&
      tree.workers() > services_.event_concurrency) {
    throw std::invalid_argument("the functions orchestration keeps all " +
                                std::to_string(tree.workers()) +
                                " workers running at once; this target runs at most " +
                                std::to_string(services_.event_concurrency) +
                                " Event invocations at a time: use --orchestration driver");
  }
  store_.ensure_bucket(options_.bucket);
  if (store_.exists(options_.bucket, layout_->config())) {
    throw std::invalid_argument("run " + config_.run_id + " already exists in s3://" +
                                options_.bucket + "/: pick another --run-id");
  }
  data_ = prepare_data(options_, store_);

  config_.bucket = options_.bucket;
  config_.architecture = options_.architecture;
  config_.dataset_bucket = data_.dataset.bucket;
  config_.manifest_key = data_.dataset.manifest_key;
  config_.tree = tree.levels();
  config_.rounds = options_.rounds;
  config_.batches = options_.batches;
  config_.batch_size = options_.batch_size;
  config_.learning_rate = options_.learning_rate;
  config_.orchestration = options_.orchestration;
  config_.function = options_.function;
  config_.poll_ms = options_.poll_ms;
  config_.reserve_ms = options_.reserve_ms;
  config_.rounds_per_invocation = options_.rounds_per_invocation;
  config_.shuffle = options_.shuffle;
  config_.shuffle_seed = options_.seed;
  config_.lease_ms = options_.lease_ms;
  validate(config_);

  ml::ModelState initial =
      options_.init_model.empty()
          ? ml::initial_model(
                options_.architecture, options_.seed,
                options_.tutorial_init ? ml::Initialisation::Tutorial : ml::Initialisation::Paper)
          : ml::load_npz(options_.init_model, options_.architecture);
  store_.put(options_.bucket, layout_->config(), to_json(config_).dump(2) + "\n");
  store_.put(options_.bucket, layout_->model(0), ml::encode_model(initial));

  describe();
  result_.configuration["seed"] = options_.seed;
  result_.configuration["init_model"] =
      options_.init_model.empty() ? "initial_model(seed)" : options_.init_model;
  result_.configuration["initialisation"] = options_.tutorial_init ? "tutorial" : "paper";
}

RoundRow Run::evaluate_round(std::uint32_t round, const RoundRecord& record) {
  RoundRow row;
  row.round = round + 1;
  row.loss = record.samples ? record.loss_sum / static_cast<double>(record.samples) : 0;
  std::optional<std::string> bytes;
  for (int attempt = 0; attempt < 600 && !bytes;
       ++attempt) {  // the record is written just before the model
    bytes = store_.get(options_.bucket, layout_->model(round + 1));
    if (!bytes) std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_ms));
  }
  if (!bytes) throw RunFailed("round " + std::to_string(round + 1) + " has a record but no model");
  const ml::ModelState model = ml::decode_model(*bytes, kMaxDecodedModelBytes);
  row.model_sha256 = ml::model_sha256(model);
  if (row.model_sha256 != record.model_sha256) {
    throw RunFailed("round " + std::to_string(round + 1) +
                    ": the global model does not match its round record");
  }
  const ml::Evaluation evaluation = ml::evaluate(model, data_.evaluation);
  row.accuracy = evaluation.accuracy;
  row.eval_loss = evaluation.loss;
  return row;
}

void Run::raise_if_errors() {
  const std::vector<std::string> errors = store_.list(options_.bucket, layout_->errors_prefix());
  if (errors.empty()) return;
  std::string message = "the run failed: ";
  if (const auto text = store_.get(options_.bucket, errors.front())) {
    try {
      const ErrorRecord e = decode_error(*text);
      message += "worker " + std::to_string(e.worker) + " in round " + std::to_string(e.round + 1) +
                 ": " + e.type + ": " + e.message;
    } catch (const ProtocolError&) {
      message += "unreadable error record s3://" + options_.bucket + "/" + errors.front();
    }
  }
  if (errors.size() > 1)
    message += " (and " + std::to_string(errors.size() - 1) + " more error records)";
  throw RunFailed(message);
}

void Run::request_stop() noexcept {
  try {
    if (layout_) store_.put(options_.bucket, layout_->stop(), "stopped by the trainer\n");
  } catch (const std::exception&) {
    // Best effort: the run is failing already.
  }
}

void Run::follow_round(std::uint32_t round, RoundRow& row) {
  const auto started = Clock::now();
  auto last_error_check = Clock::now();
  auto last_revival = Clock::now();
  int revived = 0;
  std::optional<std::string> record_text;
  while (!(record_text = store_.get(options_.bucket, layout_->round_record(round)))) {
    if (Clock::now() - last_error_check > std::chrono::seconds(1)) {
      last_error_check = Clock::now();
      raise_if_errors();
      if (store_.exists(options_.bucket, layout_->stop())) {
        throw RunFailed("run " + config_.run_id + " was stopped (s3://" + options_.bucket + "/" +
                        layout_->stop() + ") before round " + std::to_string(round + 1) + " ended");
      }
    }
    if (options_.interrupted && options_.interrupted()) {
      throw RunFailed("interrupted: run " + config_.run_id + " stopped (s3://" + options_.bucket +
                      "/" + layout_->stop() + " set)");
    }
    options_.budget.check(budget_cost(), "during round " + std::to_string(round + 1));
    if (options_.revive_after.count() > 0 && Clock::now() - last_revival > options_.revive_after) {
      last_revival = Clock::now();
      revived += revive_lost_workers(round);
    }
    if (Clock::now() - started > options_.stall_timeout) {
      throw RunFailed("no round ended for " + std::to_string(options_.stall_timeout.count()) +
                      " s (waiting for round " + std::to_string(round + 1) + "); inspect s3://" +
                      options_.bucket + "/" + layout_->prefix());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_ms));
  }
  const RoundRecord record = decode_round_record(*record_text);
  row = evaluate_round(round, record);
  row.revived = revived;
  const std::uint64_t previous =
      round == first_round_
          ? started_ms_
          : decode_round_record(*store_.get(options_.bucket, layout_->round_record(round - 1)))
                .completed_ms;
  row.wall_ms =
      record.completed_ms > previous ? static_cast<double>(record.completed_ms - previous) : 0;

  // Every worker writes a complete trace once its part of the round is done; the root's comes
  // right after the record. Wait a little for the last ones.
  std::map<std::uint32_t, bool> complete;
  std::vector<RoundTrace> traces;
  const auto trace_deadline = Clock::now() + std::chrono::seconds(10);
  while (true) {
    traces.clear();
    complete.clear();
    for (const std::string& key : store_.list(options_.bucket, layout_->trace_prefix(round))) {
      if (const auto text = store_.get(options_.bucket, key)) {
        traces.push_back(decode_trace(*text));
        if (traces.back().complete) complete[traces.back().worker] = true;
      }
    }
    if (complete.size() >= config_.workers() || Clock::now() > trace_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.poll_ms));
  }
  model_functions_round(round, traces, row);
  row.workers.resize(config_.workers());
  for (std::uint32_t w = 0; w < config_.workers(); ++w) row.workers[w].worker = w;
  for (const RoundTrace& t : traces) {
    if (t.worker >= row.workers.size()) continue;
    WorkerSpan& span = row.workers[t.worker];
    span.cold_start = span.cold_start || t.cold_start;
    span.wait_ms += t.wait_ms;
    span.train_ms += t.train_ms;
    span.merge_ms += t.merge_ms;
  }
  const FanOutOptions& prices = options_.fan_out;
  for (const RoundTrace& t : traces) {
    const double billed = std::ceil(t.elapsed_ms);
    row.billed_ms += billed;
    row.invocations += t.new_invocation ? 1 : 0;
    row.cold_starts += t.cold_start ? 1 : 0;
    row.shard_cache_hits += t.shard_cached ? 1 : 0;
    // In-process functions have no memory size: nothing is billed.
    if (t.memory_mb > 0) {
      row.cost_usd += (t.new_invocation ? prices.prices.request : 0) +
                      prices.prices.gb_second * (t.memory_mb / 1024.0) * (billed / 1000.0);
    }
  }
}

// The paper's orchestration on AWS: each leaf is ready after reading the global model, training
// (its CPU time at the function's vCPU share) and writing its result; a merge node after its last
// child, then reading each child, summing (the merging CPU, spread evenly over the children
// merged) and writing its output (the root: the round record and the next model). S3 requests
// follow the emulator's s3_profile (RunServices::s3_profile). Only when every worker's trace has the CPU figures and a
// memory size (not in-process).
void Run::model_functions_round(std::uint32_t round, const std::vector<RoundTrace>& traces, RoundRow& row) {
  const std::uint32_t workers = config_.workers();
  std::vector<double> train_cpu(workers, 0);
  std::vector<bool> seen(workers, false);
  double merge_cpu = 0;
  std::uint64_t children = 0;
  std::uint32_t memory_mb = 0;
  for (const RoundTrace& t : traces) {
    if (t.worker >= workers || t.memory_mb == 0) continue;
    train_cpu[t.worker] += t.train_cpu_ms;
    seen[t.worker] = seen[t.worker] || t.train_cpu_ms > 0;
    merge_cpu += t.merge_cpu_ms;
    children += t.merged_children;
    memory_mb = t.memory_mb;
  }
  if (memory_mb == 0 || std::find(seen.begin(), seen.end(), false) != seen.end()) return;
  const auto model_bytes = store_.get(options_.bucket, layout_->model(round + 1));
  if (!model_bytes) return;
  const std::uint64_t bytes = model_bytes->size();
  const S3TimeProfile& s3 = services_.s3_profile;
  const double share = single_thread_share(static_cast<int>(memory_mb));
  const double per_child_cpu = children ? merge_cpu / static_cast<double>(children) / share : 0;
  std::vector<double> leaves(workers);
  for (std::uint32_t w = 0; w < workers; ++w)
    leaves[w] = s3.get_ms(bytes) + train_cpu[w] / share + s3.put_ms(bytes);
  TreeShape shape;
  shape.leaf_level = tree_->leaf_level();
  shape.children = [&](std::uint32_t level, std::uint32_t node) {
    const MergeTree::Block block = tree_->children({level, node});
    return std::pair{block.first, block.count};
  };
  const double modeled = compose_merge_tree(shape, leaves, [&](std::uint32_t level, std::uint32_t node) {
    const auto count = tree_->children({level, node}).count;
    const double writes = level == 0 ? 2 : 1;  // the root writes the record and the next model
    return count * (s3.get_ms(bytes) + per_child_cpu) + writes * s3.put_ms(bytes);
  });
  row.modeled_ms = modeled;
  // Cost: every worker is billed for the round's modeled time (it waits for the next model).
  const FanOutOptions& prices = options_.fan_out;
  row.modeled_cost_usd = workers * (prices.prices.request +
                                    prices.prices.gb_second * (memory_mb / 1024.0) * (std::ceil(modeled) / 1000.0));
}

int Run::revive_lost_workers(std::uint32_t round) {
  // Running = an alive record whose lease has not run out: a worker killed mid-round left its
  // record behind, but stopped refreshing it.
  std::set<std::uint32_t> running;
  for (const AliveRecord& alive : live_invocations(store_, options_.bucket, *layout_, epoch_ms()))
    running.insert(alive.worker);
  // A worker whose part of this round is done (its trace is complete) needs nothing: in the last
  // round it has ended, and invoking it again only pays for an invocation that finds its work done.
  std::set<std::uint32_t> done;
  for (const std::string& key : store_.list(options_.bucket, layout_->trace_prefix(round))) {
    if (const auto text = store_.get(options_.bucket, key)) {
      try {
        const RoundTrace trace = decode_trace(*text);
        if (trace.complete) done.insert(trace.worker);
      } catch (const ProtocolError&) {
        // Not a finished part: the worker may still need reviving.
      }
    }
  }
  int revived = 0;
  for (std::uint32_t w = 0; w < config_.workers(); ++w) {
    if (running.count(w) || done.count(w)) continue;
    std::uint32_t hop = 0;
    if (const auto text = store_.get(options_.bucket, layout_->chain(w)))
      hop = decode_chain(*text).hop;
    WorkerRequest request;
    request.op = Operation::work;
    request.config = config_;
    request.worker = w;
    request.round = round;
    request.hop = hop + 1;
    services_.events->invoke_event(config_.function, encode_request(request));
    ++revived;
  }
  return revived;
}

NodeValue Run::drive_node(std::uint32_t round, TreeNode node,
                          const std::vector<TrainAnswer>& answers) {
  const MergeTree::Block block = tree_->children(node);
  std::optional<NodeValue> sum;
  for (std::uint32_t c = block.first; c < block.first + block.count; ++c) {
    const TreeNode child{node.level + 1, c};
    if (child.level == tree_->leaf_level()) {
      const auto bytes = store_.get(options_.bucket, layout_->node(round, child));
      if (!bytes)
        throw RunFailed("worker " + std::to_string(c) + " answered but its result is not in S3");
      if (sha256_hex(*bytes) != answers.at(c).result_sha256) {
        throw RunFailed("worker " + std::to_string(c) +
                        "'s result in S3 is not the one it answered for");
      }
      add_child(sum, node_value(decode_partial_for(*bytes, config_.run_id, round, child, *tree_),
                                config_.architecture));
    } else {
      add_child(sum, drive_node(round, child, answers));
    }
  }
  return std::move(*sum);
}

void Run::drive_round(std::uint32_t round, RoundRow& row) {
  const auto started = Clock::now();
  const std::uint32_t workers = config_.workers();
  std::vector<FanOutTask> tasks(workers);
  for (std::uint32_t w = 0; w < workers; ++w) {
    WorkerRequest request;
    request.op = Operation::train;
    request.config = config_;
    request.worker = w;
    request.round = round;
    tasks[w].function = config_.function;
    tasks[w].payload = encode_request(request);
    tasks[w].key = config_.run_id + "/" + std::to_string(round) + "/" + std::to_string(w);
    tasks[w].label = "worker " + std::to_string(w) + " of round " + std::to_string(round + 1);
  }
  std::vector<TrainAnswer> answers(workers);
  FanOut fan_out(*services_.invoker, options_.fan_out);
  FanOutTelemetry telemetry;
  const std::vector<TaskOutcome> outcomes = fan_out.run(
      tasks,
      [&](std::size_t index, const std::string& payload) {
        TrainAnswer answer = decode_train_answer(payload);
        const std::string key = answer.run_id + "/" + std::to_string(answer.round) + "/" +
                                std::to_string(answer.worker);
        if (key == tasks[index].key) answers[index] = std::move(answer);
        return key;
      },
      telemetry);

  const auto merge_started = Clock::now();
  NodeValue root = drive_node(round, {0, 0}, answers);
  finish_root(root, workers);
  const std::string model = ml::encode_model(root.model);
  RoundRecord record;
  record.round = round;
  record.loss_sum = root.loss_sum;
  record.samples = root.samples;
  record.correct = root.correct;
  record.leaves = root.leaves;
  record.completed_ms = epoch_ms();
  record.model_sha256 = sha256_hex(model);
  store_.put(options_.bucket, layout_->round_record(round), encode_round_record(record));
  store_.put(options_.bucket, layout_->model(round + 1), model);
  for (std::uint32_t w = 0; w < workers; ++w)
    store_.remove(options_.bucket, layout_->node(round, {tree_->leaf_level(), w}));
  const double wall = ms_since(started);

  row = evaluate_round(round, record);
  row.wall_ms = wall;
  row.invocations = telemetry.invocations;
  row.cold_starts = telemetry.cold_starts;
  row.billed_ms = telemetry.billed_ms;
  row.cost_usd = telemetry.cost_usd;
  row.retries = telemetry.retries;
  row.backups = telemetry.backups;
  row.shard_cache_hits = static_cast<int>(std::count_if(
      answers.begin(), answers.end(), [](const TrainAnswer& a) { return a.shard_cached; }));
  row.calls = std::move(telemetry.calls);
  row.workers.resize(workers);
  for (std::uint32_t w = 0; w < workers; ++w) {
    row.workers[w].worker = w;
    row.workers[w].cold_start = outcomes[w].result.telemetry.cold_start;
    row.workers[w].train_ms = outcomes[w].latency_ms;
  }
  // The workers run in parallel; then the trainer merges along the tree itself (its own time).
  if (auto slowest = modeled_fan_out_ms(outcomes)) {
    row.modeled_ms = *slowest + ms_since(merge_started);
    if (telemetry.modeled.count("cost-usd")) row.modeled_cost_usd = telemetry.modeled.at("cost-usd");
  }
}

ModelAveragingResult Run::execute(const StartObserver& on_start, const RoundObserver& on_round) {
  start();
  if (on_start) on_start(result_);
  const bool functions = config_.orchestration == Orchestration::functions;
  if (functions && services_.events == nullptr)
    throw std::invalid_argument("functions orchestration needs an Event invoker");
  if (!functions && services_.invoker == nullptr)
    throw std::invalid_argument("driver orchestration needs an invoker");
  try {
    started_ms_ = epoch_ms();
    if (functions) {
      for (std::uint32_t w = 0; w < config_.workers(); ++w) {
        WorkerRequest request;
        request.op = Operation::work;
        request.config = config_;
        request.worker = w;
        request.round = first_round_;
        if (first_round_ > 0) {  // resumed: take the chain over from whatever is left of it
          if (const auto chain = store_.get(options_.bucket, layout_->chain(w))) {
            request.hop = decode_chain(*chain).hop + 1;
          }
        }
        services_.events->invoke_event(config_.function, encode_request(request));
      }
    }
    for (std::uint32_t round = first_round_; round < config_.rounds; ++round) {
      if (options_.interrupted && options_.interrupted()) {
        throw RunFailed("interrupted before round " + std::to_string(round + 1) + " of run " +
                        config_.run_id);
      }
      RoundRow row;
      if (functions) {
        follow_round(round, row);
      } else {
        drive_round(round, row);
      }
      cost_so_far_ += row.cost_usd;
      row.cost_so_far = cost_so_far_;
      modeled_cost_so_far_ += row.modeled_cost_usd.value_or(0);
      row.modeled_cost_so_far = modeled_cost_so_far_;
      result_.rounds.push_back(row);
      if (on_round) on_round(row);
      if (round + 1 < config_.rounds) options_.budget.check(budget_cost(), "after round " + std::to_string(round + 1));
    }
  } catch (...) {
    request_stop();
    throw;
  }
  const auto final_bytes = store_.get(options_.bucket, layout_->model(config_.rounds));
  if (!final_bytes) throw RunFailed("the final model is missing");
  result_.model = ml::decode_model(*final_bytes, kMaxDecodedModelBytes);
  result_.model_sha256 = ml::model_sha256(result_.model);
  return result_;
}

}  // namespace

ModelAveragingResult run_model_averaging(const ModelAveragingOptions& options,
                                         RunServices& services, const StartObserver& on_start,
                                         const RoundObserver& on_round) {
  Run run(options, services);
  return run.execute(on_start, on_round);
}

}  // namespace stratus::trainer
