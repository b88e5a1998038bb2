#pragma once
// The Case A/B worker (stratus-model-averaging/1, model_averaging.hpp), written once over the
// services a function has: an ObjectStore (S3 or in-memory), an EventInvoker (Lambda Event
// invokes or in-process), its deadline and a scratch directory for the warm-environment shard
// cache. The function handler (functions/) and the trainer's in-process invoker serve it alike.
//
// "train" (driver orchestration): read the round's global model, train `batches` minibatches of
// the worker's shard, write the leaf result, answer with its stats and digest.
//
// "work" (functions orchestration, the paper's): from the request's round on, for every round:
// wait for the global model (polling S3), train, write the leaf, then run the merge nodes this
// worker hosts, deepest first (wait for each child's result in child order, sum, write; the root
// divides by the worker count and writes the next global model and the round record); delete
// consumed children once their parent is written. Before the deadline comes too close it
// re-invokes itself (Event, hop + 1) and returns; the next hop resumes from S3: whatever a round
// already has (the next global model, this worker's leaf or any ancestor's result) is not redone.
// It stops at the stop flag, and steps aside when a later hop or another invocation of the same
// hop owns the worker's chain (chain/worker-<w>.json), so duplicated events do not fork it.
// While it works it holds its alive record as a lease that a heartbeat thread refreshes
// (alive_lease.hpp, RunConfig::lease_ms), removed on every way out; a killed worker's record runs
// out within one lease, and the trainer then revives the worker.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/model_state.hpp"
#include "stratus/ml/object_store.hpp"

namespace stratus::ml::averaging {

struct WorkerEnvironment {
  ObjectStore& store;
  EventInvoker& events;
  std::function<std::chrono::milliseconds()> remaining;  // time left in this invocation
  std::string request_id;
  std::filesystem::path cache_dir;  // empty: no shard cache
  bool cold_start = false;          // this invocation initialised its environment
  std::uint32_t memory_mb = 0;      // the function's memory size (0 in-process)
};

// Decodes and serves one request; returns the answer payload. Throws ProtocolError for requests
// and objects it refuses; store and invoke failures propagate (the invocation fails, Lambda or the
// fan-out retries it). A "work" invocation that fails writes an error record first.
std::string serve_worker_request(std::string_view payload, WorkerEnvironment& environment);

// ---- The merge math, shared by the worker and the trainer's driver ----
struct NodeValue {
  ModelState model;
  std::uint32_t leaves = 0;
  std::uint64_t samples = 0;
  std::uint64_t correct = 0;
  double loss_sum = 0;
};
// The partial result's model decoded and checked against the run's architecture.
NodeValue node_value(const PartialResult& partial, std::string_view architecture);
PartialResult partial_of(const NodeValue& value, const std::string& run_id, std::uint32_t round,
                         TreeNode node);
// Adds the next child (in child order) to a node's sum: the first child becomes the sum, later
// ones are accumulated elementwise; stats add up in the same order.
void add_child(std::optional<NodeValue>& sum, NodeValue child);
// The root's last step: the average over the workers.
void finish_root(NodeValue& root, std::uint32_t workers);

// Lower-case hex SHA-256 of bytes.
std::string sha256_hex(std::string_view bytes);
// Milliseconds since the epoch (system clock): records and alive markers.
std::uint64_t epoch_ms();

}  // namespace stratus::ml::averaging
