#pragma once
// `stratus-model-averaging/1`: the protocol of CLOUD 2018 Case A and Case B (synchronous model
// averaging along a merge tree, merge_tree.hpp), shared by the function handler, the trainer's
// driver and its follower. One file: the run configuration, the request and answer codecs, the
// binary partial-result object, the run-state records and the S3 key layout under runs/<run-id>/.
//
// Everything that arrives (payloads, objects read back from S3) is hostile: decoders check every
// field and size and throw ProtocolError naming the field; nothing is trusted from a payload that
// a check did not pass.
//
// Run state, all under `runs/<run-id>/` in the run's bucket (t = round counted from 0, five
// digits):
//   config.json                      the RunConfig (written by the trainer when the run starts)
//   model/round-<t>.bin              the global model at the start of round t (encode_model bytes;
//                                    round 0 = the initial model, round R = the final model)
//   round-<t>/node-<l>-<j>.bin       partial result of tree node (l, j) in round t: a leaf (l = L)
//                                    is worker j's trained model, a merge node the sum of its block
//   round-<t>/trace-<w>-<h>.json     what worker w's invocation (hop h) did in round t (timings,
//                                    cold start, shard cache), for the per-round figures
//   rounds/round-<t>.json            the round record the root writes with round t+1's model
//   errors/round-<t>-worker-<w>.json an error record (the trainer prints it and stops the run)
//   chain/worker-<w>.json            which invocation currently carries worker w (hop, owner)
//   alive/worker-<w>-<hop>.json      present while an invocation of worker w runs: its lease,
//                                    refreshed by its heartbeat, and its deadline (alive_lease.hpp)
//   stop                             the stop flag: functions stop at their next check
// Objects are written once per key with the same bytes whoever writes them (retries and
// duplicates included); a merge node reads exactly one result per child, in child order.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/merge_tree.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::averaging {

inline constexpr std::string_view kProtocol = "stratus-model-averaging/1";

using ml::ProtocolError;

// Bounds on what a decoder accepts.
inline constexpr std::uint64_t kMaxModelBytes = std::uint64_t{256} << 20;  // encoded model object
inline constexpr std::uint64_t kMaxDecodedModelBytes = std::uint64_t{512} << 20;
inline constexpr std::size_t kMaxRunIdLength = 64;
inline constexpr std::uint32_t kMaxRounds = 1'000'000;
// The alive record's lease (RunConfig::lease_ms): a worker whose lease ran out without a
// heartbeat is presumed dead. 6 s = three heartbeats of 2 s: two may fail or come late (an S3
// PUT takes milliseconds on the emulator, tens to hundreds on AWS, the S3 client's retries of a
// 503 well under a second; a heartbeat thread on a host oversubscribed 50-fold still runs within
// a fraction of a second) before a live worker looks dead. Each heartbeat is one S3 PUT: 0.5 per
// second per running worker. 0 turns leases off (the record lasts until the function's timeout).
inline constexpr std::uint32_t kDefaultLeaseMs = 6000;
inline constexpr std::uint32_t kMinLeaseMs = 500;
inline constexpr std::uint32_t kMaxLeaseMs = 900'000;

enum class Orchestration { functions, driver };
std::string_view orchestration_name(Orchestration orchestration);

struct RunConfig {
  std::string run_id;               // 1-64 of [A-Za-z0-9._-], not starting with '.'
  std::string bucket;               // run state
  std::string architecture;         // "cloud2018-casea/1" or "cloud2018-caseb/1"
  std::string dataset_bucket;       // where the dataset's manifest and shards are
  std::string manifest_key;         // e.g. "datasets/casea-seed1-n8000-w8/manifest.json"
  std::vector<std::uint32_t> tree;  // merge tree levels, last = workers
  std::uint32_t rounds = 20;
  std::uint32_t batches = 20;  // minibatches per worker per round
  std::uint32_t batch_size = 50;
  float learning_rate = 0.1f;
  Orchestration orchestration = Orchestration::functions;
  std::string function = "model_averaging";  // the function workers run as (self re-invocation)
  std::uint32_t poll_ms = 200;               // S3 polling interval while waiting for a key
  std::uint32_t reserve_ms = 1000;  // re-invoke when less than this (+ the slowest step) remains
  // The paper's `rounditer`: an invocation re-invokes itself after this many rounds whatever time
  // it has left (0: only when its time runs short). Makes the hand-over a function of the run,
  // not of how fast the host happens to be.
  std::uint32_t rounds_per_invocation = 0;
  // The paper trains each shard's consecutive slices in order, every round the same. With
  // `shuffle`, round t's minibatches come from shard_rows_shuffled(shard, shuffle_seed, t, worker).
  bool shuffle = false;
  std::uint64_t shuffle_seed = 0;
  // The alive record's lease (kDefaultLeaseMs): 0 (no lease, the record lasts until the
  // function's deadline) or kMinLeaseMs..kMaxLeaseMs. Run configs written before leases existed
  // have none and decode as 0, the behaviour their workers had.
  std::uint32_t lease_ms = kDefaultLeaseMs;

  std::uint32_t workers() const { return tree.empty() ? 0 : tree.back(); }
  MergeTree merge_tree() const { return MergeTree(tree); }
  bool operator==(const RunConfig&) const = default;
};

// Throws ProtocolError naming the first bad field.
void validate(const RunConfig& config);

// The rows of `shard` in a new order: a Fisher-Yates shuffle (from the last row down, row i swapped
// with row r mod (i+1)) driven by SplitMix64 seeded with
// seed + 0x9e3779b97f4a7c15 * (round + 1) + 0xbf58476d1ce4e5b9 * (worker + 1) (mod 2^64).
Shard shard_rows_shuffled(const Shard& shard, std::uint64_t seed, std::uint32_t round,
                          std::uint32_t worker);
nlohmann::ordered_json to_json(const RunConfig& config);
RunConfig run_config_from_json(const nlohmann::json& json);

// ---- Requests (JSON payloads, at most a few KB) ----
// {"protocol":"stratus-model-averaging/1","op":"work"|"train","config":{...},"worker":w,
//  "round":t,"hop":h}
// "work" (functions orchestration): worker w carries the run from round t on, merging its nodes,
//   re-invoking itself (hop h+1) before its deadline, until the run ends or stops.
// "train" (driver orchestration): worker w trains round t once and writes its leaf; no merging.
enum class Operation { work, train };
struct WorkerRequest {
  Operation op = Operation::work;
  RunConfig config;
  std::uint32_t worker = 0;
  std::uint32_t round = 0;
  std::uint32_t hop = 0;
  bool operator==(const WorkerRequest&) const = default;
};
std::string encode_request(const WorkerRequest& request);
// Checks the protocol, the op, the config, worker < workers, round < rounds.
WorkerRequest decode_request(std::string_view payload);

// The answer to "train": what the leaf object holds, so the driver can check it against
// (run, round, worker) and ignore duplicates.
struct TrainAnswer {
  std::string run_id;
  std::uint32_t round = 0;
  std::uint32_t worker = 0;
  double loss_sum = 0;
  std::uint64_t samples = 0;
  std::uint64_t correct = 0;
  std::string result_sha256;  // of the leaf object's bytes
  bool shard_cached = false;  // the shard came from this environment's cache
  bool operator==(const TrainAnswer&) const = default;
};
std::string encode_train_answer(const TrainAnswer& answer);
TrainAnswer decode_train_answer(std::string_view payload);

// The answer to "work": how this invocation ended.
enum class WorkOutcome { reinvoked, finished, stopped, superseded };
std::string_view outcome_name(WorkOutcome outcome);
struct WorkAnswer {
  std::string run_id;
  std::uint32_t worker = 0;
  std::uint32_t hop = 0;
  std::uint32_t round = 0;  // where it stopped (the next hop resumes there)
  WorkOutcome outcome = WorkOutcome::finished;
};
std::string encode_work_answer(const WorkAnswer& answer);
WorkAnswer decode_work_answer(std::string_view payload);

// ---- Partial results (binary objects, round-<t>/node-<l>-<j>.bin), little-endian ----
//   0  "STMA"            magic
//   4  u8 version = 1, u8 reserved = 0, u16 run id length n (1..64)
//   8  u32 round, u32 level, u32 index, u32 leaves (worker models summed in it)
//   24 u64 samples, u64 correct, f64 loss_sum (the summed RoundStats of those workers)
//   48 n bytes run id, then u64 model length m, then m bytes: encode_model of the summed model
//   the object ends exactly there.
struct PartialResult {
  std::string run_id;
  std::uint32_t round = 0;
  TreeNode node;
  std::uint32_t leaves = 0;
  std::uint64_t samples = 0;
  std::uint64_t correct = 0;
  double loss_sum = 0;
  std::string model;  // encode_model bytes (decoded and checked by the caller with decode_model)
  bool operator==(const PartialResult&) const = default;
};
std::string encode_partial(const PartialResult& result);
// Throws ProtocolError for anything malformed; the model bytes are bounded by kMaxModelBytes.
PartialResult decode_partial(std::string_view bytes);
// decode_partial, then checks that it is the expected (run, round, node) of `tree` with the leaf
// count the tree implies.
PartialResult decode_partial_for(std::string_view bytes, std::string_view run_id,
                                 std::uint32_t round, TreeNode node, const MergeTree& tree);

// ---- Records (JSON objects) ----
struct RoundRecord {
  std::uint32_t round = 0;  // the round that ended (its model is model/round-<round+1>)
  double loss_sum = 0;
  std::uint64_t samples = 0;
  std::uint64_t correct = 0;
  std::uint32_t leaves = 0;
  std::uint64_t completed_ms = 0;  // epoch ms when the root wrote it
  std::string model_sha256;        // of model/round-<round+1>.bin
};
std::string encode_round_record(const RoundRecord& record);
RoundRecord decode_round_record(std::string_view text);

// One invocation's share of one round (functions orchestration).
struct RoundTrace {
  std::uint32_t round = 0;
  std::uint32_t worker = 0;
  std::uint32_t hop = 0;
  bool new_invocation = false;  // the invocation started in this round
  bool cold_start = false;      // ... and in a fresh environment
  bool complete = false;        // the worker finished its part of the round in this invocation
  bool shard_cached = false;
  double elapsed_ms = 0;  // time this invocation spent on the round
  double wait_ms = 0;     // of which waiting for the global model
  double train_ms = 0;
  double merge_ms = 0;          // of which merging (waiting for children included)
  std::uint32_t memory_mb = 0;  // the function's memory (0 in-process)
  // CPU time of this thread in the training and merging (waits and S3 transfers excluded: the
  // trainer models those, modeled_round.hpp), and the children its merges read. Older traces
  // lack them (0).
  double train_cpu_ms = 0;
  double merge_cpu_ms = 0;
  std::uint32_t merged_children = 0;
};
std::string encode_trace(const RoundTrace& trace);
RoundTrace decode_trace(std::string_view text);

struct ErrorRecord {
  std::uint32_t round = 0;
  std::uint32_t worker = 0;
  std::uint32_t hop = 0;
  std::string type;
  std::string message;
};
std::string encode_error(const ErrorRecord& record);
ErrorRecord decode_error(std::string_view text);

struct ChainRecord {
  std::uint32_t hop = 0;
  std::string owner;  // the invocation's request id
};
std::string encode_chain(const ChainRecord& record);
ChainRecord decode_chain(std::string_view text);

// {"protocol":..,"worker":w,"hop":h,"deadline_ms":..,"lease_until_ms":..}. Records written before
// leases existed have no lease_until_ms: their lease is their deadline. A lease past the deadline
// is refused.
struct AliveRecord {
  std::uint32_t worker = 0;
  std::uint32_t hop = 0;
  std::uint64_t deadline_ms = 0;     // epoch ms: after it, the invocation cannot be running
  std::uint64_t lease_until_ms = 0;  // epoch ms: after it, an invocation that stopped refreshing
                                     // its record (killed) is presumed dead; <= deadline_ms
  // Whether the invocation counts as running at `now_ms` (epoch ms of the reader's clock; the
  // writer's and the reader's clocks are taken to agree to well within a lease, as NTP keeps them).
  bool running_at(std::uint64_t now_ms) const {
    return (lease_until_ms < deadline_ms ? lease_until_ms : deadline_ms) > now_ms;
  }
};
std::string encode_alive(const AliveRecord& record);
AliveRecord decode_alive(std::string_view text);

// ---- Keys ----
class RunLayout {
 public:
  explicit RunLayout(std::string run_id);                // throws ProtocolError for a bad run id
  const std::string& prefix() const { return prefix_; }  // "runs/<run-id>/"
  std::string config() const;
  std::string model(std::uint32_t round) const;
  std::string round_prefix(std::uint32_t round) const;  // "runs/<id>/round-00003/"
  std::string node(std::uint32_t round, TreeNode node) const;
  std::string trace(std::uint32_t round, std::uint32_t worker, std::uint32_t hop) const;
  std::string trace_prefix(std::uint32_t round) const;
  std::string round_record(std::uint32_t round) const;
  std::string errors_prefix() const;
  std::string error(std::uint32_t round, std::uint32_t worker) const;
  std::string chain(std::uint32_t worker) const;
  std::string alive_prefix() const;
  std::string alive(std::uint32_t worker, std::uint32_t hop) const;
  std::string stop() const;

 private:
  std::string prefix_;
};

void validate_run_id(std::string_view run_id);

}  // namespace stratus::ml::averaging
