#pragma once
// `stratus-hyperparameter-search/1`: CLOUD 2018 Case C, random search over MLPs on MNIST
// (DESIGN.md). One invocation of the `hyperparameter_trial` function trains one configuration;
// every trial runs in parallel with the others (the driver bounds how many at once).
//
// A trial (the paper's NNtfpt.py, facts): hidden layers randint(1,3) of widths randint(10,100),
// ReLU; a linear 10-way output with softmax cross entropy averaged over the batch (TF's
// sparse_softmax_cross_entropy default reduction); weights truncated normal with std
// 1/sqrt(fan_in), biases 0; plain SGD with lr ~ U(0.001, 0.1); batch count randint(10,1000) and
// batch size floor(train rows / batch count), the batches of an epoch taken in order from the
// start of the training set (the remainder rows are never used); pixels (x - 127.5) / 255;
// after the last epoch the test accuracy (argmax of the logits == label over the test set).
//
// A trial longer than one invocation checkpoints and re-invokes itself (an Event invoke of its own
// function: the function's recursion config must be `Allow`). Everything lives under the run's
// prefix `runs/<run>/trials/<trial, five digits>/`:
//   checkpoint-<segment, five digits>.bin   the state after `segment` invocations (see below)
//   model.bin                               the trained network (stratus-model/1, mlp/1:784-..-10)
//   result.json                             {"protocol", "trial": {config}, "test_accuracy", ...}
// plus `runs/<run>/best.json` that the driver writes at the end.
//
// Determinism: a checkpoint holds the model and every accumulator, so a trial resumed from any
// checkpoint computes the same bytes as one that never stopped; where the checkpoints fall (a time
// budget or a batch budget) changes nothing in the result. At-least-once delivery: a request for a
// segment older than the newest checkpoint, or for a trial whose result exists, does no work
// (answers "stale" or the stored result) and starts nothing.
//
// Request (JSON): {"protocol":..., "run":{run config}, "trial":{trial config},
//   "segment": k (optional: absent = resume from the newest checkpoint)}
// Answer: {"protocol", "run_id", "trial": i, "status": "done"|"continued"|"stale",
//   "segment": k (the invocations the chain had done before this one), "epoch", "batch"
//   (the position reached), "replayed": bool, and for "done" "result": {result document}}.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/model_state.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::hyperparameter_search {

inline constexpr std::string_view kProtocol = "stratus-hyperparameter-search/1";
inline constexpr std::string_view kFunction = "hyperparameter_trial";
inline constexpr std::size_t kMaxRunIdLength = 64;
inline constexpr std::uint32_t kMaxTrials = 100'000;
inline constexpr std::uint32_t kMaxEpochs = 100'000;
inline constexpr std::uint32_t kMaxSegments = 99'999;
inline constexpr std::uint32_t kMaxHiddenLayers = 8;
inline constexpr std::uint32_t kMaxWidth = 4096;
inline constexpr std::uint32_t kMaxBatchCount = 1'000'000;
inline constexpr std::uint32_t kClasses = 10;
// Bound on a decoded checkpoint or model object.
inline constexpr std::uint64_t kMaxObjectBytes = std::uint64_t{256} << 20;

// The paper's search space; the driver may narrow or widen it (every bound inclusive).
struct SearchSpace {
  std::uint32_t min_hidden_layers = 1, max_hidden_layers = 3;
  std::uint32_t min_width = 10, max_width = 100;
  double min_learning_rate = 0.001, max_learning_rate = 0.1;
  std::uint32_t min_batch_count = 10, max_batch_count = 1000;
};
// Throws ProtocolError naming the bad bound (empty range, out of the protocol's limits).
void validate(const SearchSpace& space);

struct TrialConfig {
  std::uint32_t trial = 0;            // index in the search, 0-based
  std::vector<std::uint32_t> hidden;  // widths of the hidden layers (ReLU)
  double learning_rate = 0;           // as drawn; training uses float(learning_rate)
  std::uint32_t batch_count = 0;      // batches per epoch (clamped to the training rows)
  std::uint32_t batch_size = 0;       // floor(train rows / batch_count)
  std::uint32_t epochs = 0;
  std::uint64_t init_seed = 0;  // seed of the initial weights

  bool operator==(const TrialConfig&) const = default;
};
// Throws ProtocolError naming the field.
void validate(const TrialConfig& trial);

// Trial i's configuration from (seed, i) alone: a SplitMix64 stream seeded with a mix of both
// (so trial i does not depend on how many trials the search has), drawing in this order: the
// hidden layer count, each width, the learning rate, the batch count, the init seed. Uniform
// integers by rejection (no modulo bias). `train_rows` clamps the batch count (a batch of at least
// one row) and gives the batch size. Throws ProtocolError for train_rows 0 or a bad space.
TrialConfig sample_trial(std::uint64_t seed, std::uint32_t trial, const SearchSpace& space,
                         std::uint32_t epochs, std::uint64_t train_rows);
std::vector<TrialConfig> sample_trials(std::uint64_t seed, std::uint32_t trials,
                                       const SearchSpace& space, std::uint32_t epochs,
                                       std::uint64_t train_rows);

// "mlp/1:784-h1-...-10" for inputs of `inputs` values.
std::string trial_architecture(const TrialConfig& trial, std::uint32_t inputs);

struct DatasetRef {
  std::string bucket;
  std::string manifest_key;
  bool operator==(const DatasetRef&) const = default;
};

struct RunConfig {
  std::string run_id;  // [A-Za-z0-9._-], at most kMaxRunIdLength
  std::string bucket;  // where runs/<run>/ lives
  DatasetRef train;
  DatasetRef test;
  std::string function = std::string(kFunction);  // what a trial re-invokes (its own name)
  // Minibatches one invocation trains at most before it checkpoints (0: no limit, only time).
  std::uint32_t max_batches_per_invocation = 0;
  // An invocation checkpoints once less than reserve_ms + 2 x its slowest minibatch is left.
  std::uint32_t reserve_ms = 2000;
  bool operator==(const RunConfig&) const = default;
};
void validate(const RunConfig& config);

struct Request {
  RunConfig run;
  TrialConfig trial;
  std::optional<std::uint32_t> segment;
};
std::string encode_request(const Request& request);
// Validates everything (hostile input). Throws ProtocolError.
Request decode_request(std::string_view payload);

struct TrialResult {
  TrialConfig trial;
  std::string architecture;
  double test_accuracy = 0;
  std::uint64_t test_correct = 0;
  std::uint64_t test_samples = 0;
  double final_train_loss = 0;  // mean minibatch loss of the last epoch
  std::string model_sha256;
  std::string model_key;          // runs/<run>/trials/<i>/model.bin
  std::uint32_t invocations = 0;  // segments of the chain that trained (checkpoints + 1)
  double train_ms = 0;            // training time summed over the chain (not deterministic)
};
std::string encode_result(const TrialResult& result);
TrialResult decode_result(std::string_view text);

enum class Status { Done, Continued, Stale };
struct Answer {
  std::string run_id;
  std::uint32_t trial = 0;
  Status status = Status::Done;
  std::uint32_t segment = 0;
  std::uint32_t epoch = 0;
  std::uint32_t batch = 0;
  bool replayed = false;
  std::optional<TrialResult> result;  // Done
};
std::string encode_answer(const Answer& answer);
Answer decode_answer(std::string_view payload);
std::string_view status_name(Status status);

// ---- Keys
std::string trial_prefix(const std::string& run_id, std::uint32_t trial);  // runs/<run>/trials/<i>/
std::string checkpoint_key(const std::string& run_id, std::uint32_t trial, std::uint32_t segment);
std::string result_key(const std::string& run_id, std::uint32_t trial);
std::string model_key(const std::string& run_id, std::uint32_t trial);
std::string best_key(const std::string& run_id);
// What an Event-invoked segment was billed, as it measured itself: the driver sees no REPORT line
// for the segments a trial invokes itself, so each writes runs/<run>/trials/<i>/bill-<k>.json.
std::string bill_key(const std::string& run_id, std::uint32_t trial, std::uint32_t segment);
struct SegmentBill {
  std::uint32_t segment = 0;
  double billed_ms = 0;  // its time from the request's decoding to its last write, rounded up to 1 ms
  std::uint32_t memory_mb = 0;
};
std::string encode_bill(const SegmentBill& bill);
SegmentBill decode_bill(std::string_view text);  // ProtocolError when malformed
// The segment of a checkpoint key's last path component ("checkpoint-00003.bin" -> 3).
std::optional<std::uint32_t> checkpoint_segment(std::string_view key);

// ---- The training state a checkpoint holds
struct TrainingState {
  ModelState model;
  std::uint32_t segment = 0;  // invocations done so far
  std::uint32_t epoch = 0;    // next minibatch: (epoch, batch)
  std::uint32_t batch = 0;
  double epoch_loss_sum = 0;   // summed minibatch losses of the current epoch so far
  double last_epoch_loss = 0;  // mean minibatch loss of the previous epoch
  double train_ms = 0;
  // Done once epoch == the trial's epochs (batch 0).
};
// `stratus-trial-checkpoint/1`: "STHC" | u8 version 1 | 3 zero bytes | u32 header length |
// header JSON {"trial", "segment", "epoch", "batch", "epoch_loss_sum", "last_epoch_loss",
// "train_ms"} | stratus-model/1 bytes.
std::string encode_checkpoint(const TrainingState& state, std::uint32_t trial);
// Validates everything; `trial` must match the checkpoint's, the model must be the trial's
// architecture. Throws ProtocolError.
TrainingState decode_checkpoint(std::string_view bytes, const TrialConfig& trial,
                                std::uint32_t inputs);

// ---- Kernels
// Training data converted once: pixels (x - 127.5) / 255 as float32 [rows, inputs], labels 0..9.
struct TrialData {
  std::uint32_t inputs = 0;
  std::uint64_t rows = 0;
  std::vector<float> x;
  std::vector<std::int32_t> y;
};
// From a staged shard of uint8 images [n, ...] (or float32 features, used as they are) and int32
// labels 0..9. Throws ProtocolError otherwise.
TrialData trial_data(const Shard& shard);

// Fresh model: truncated normal std 1/sqrt(fan_in) per weight tensor, biases 0, from init_seed.
TrainingState initial_state(const TrialConfig& trial, std::uint32_t inputs);
// Trains minibatches from (state.epoch, state.batch) until the trial's last epoch is done or
// `keep_going()` says no (asked before every minibatch but the first: at least one is trained).
// Returns the minibatches trained. Throws TrainingDivergedError (worker_round.hpp) on a
// non-finite loss.
std::uint64_t train_segment(TrainingState& state, const TrialConfig& trial, const TrialData& train,
                            const std::function<bool()>& keep_going);
struct TestScore {
  std::uint64_t correct = 0;
  std::uint64_t samples = 0;
};
TestScore test_accuracy(const ModelState& model, const TrialData& test);

// ---- The function
struct TrialEnvironment {
  ObjectStore& store;
  EventInvoker& events;
  std::function<std::chrono::milliseconds()> remaining;  // time left in this invocation
  std::filesystem::path cache_dir;                       // empty: no shard cache
  std::uint32_t memory_mb = 0;  // the function's memory size; 0 (in-process): nothing is billed
};
// Decodes and serves one request; returns the answer payload. Throws ProtocolError for requests
// and objects it refuses; store and invoke failures propagate (the invocation fails and is
// retried by Lambda's async retries or by the driver, from the newest checkpoint).
std::string serve_trial_request(std::string_view payload, TrialEnvironment& environment);

}  // namespace stratus::ml::hyperparameter_search
