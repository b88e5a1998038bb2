// Codecs of stratus-model-averaging/1 (layout and rules in model_averaging.hpp).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "stratus/ml/model_averaging.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml::averaging {
namespace {

using nlohmann::json;

// ---- JSON fields, each checked for presence, type and range ----

const json& field(const json& object, const char* name, const std::string& where) {
  if (!object.is_object()) throw ProtocolError(where + " must be a JSON object");
  auto it = object.find(name);
  if (it == object.end()) throw ProtocolError(where + ": missing field '" + name + "'");
  return *it;
}

std::uint64_t unsigned_field(const json& object, const char* name, std::uint64_t lo,
                             std::uint64_t hi, const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_number_unsigned() &&
      !(value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    throw ProtocolError(where + ": '" + name + "' must be a non-negative integer");
  }
  const auto v = value.get<std::uint64_t>();
  if (v < lo || v > hi) {
    throw ProtocolError(where + ": '" + name + "' = " + std::to_string(v) + " is outside " +
                        std::to_string(lo) + ".." + std::to_string(hi));
  }
  return v;
}

std::uint32_t u32_field(const json& object, const char* name, std::uint32_t lo, std::uint32_t hi,
                        const std::string& where) {
  return static_cast<std::uint32_t>(unsigned_field(object, name, lo, hi, where));
}

double number_field(const json& object, const char* name, const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_number()) throw ProtocolError(where + ": '" + name + "' must be a number");
  const double v = value.get<double>();
  if (!std::isfinite(v)) throw ProtocolError(where + ": '" + name + "' must be finite");
  return v;
}

std::string string_field(const json& object, const char* name, std::size_t max_length,
                         const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_string()) throw ProtocolError(where + ": '" + name + "' must be a string");
  std::string text = value.get<std::string>();
  if (text.size() > max_length) {
    throw ProtocolError(where + ": '" + name + "' is longer than " + std::to_string(max_length) +
                        " bytes");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f)
      throw ProtocolError(where + ": '" + name + "' holds a control character");
  }
  return text;
}

bool bool_field(const json& object, const char* name, const std::string& where) {
  const json& value = field(object, name, where);
  if (!value.is_boolean()) throw ProtocolError(where + ": '" + name + "' must be true or false");
  return value.get<bool>();
}

json parse_object(std::string_view text, const std::string& where) {
  json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded()) throw ProtocolError(where + " is not valid JSON");
  if (!parsed.is_object()) throw ProtocolError(where + " must be a JSON object");
  return parsed;
}

void check_protocol(const json& object, const std::string& where) {
  if (string_field(object, "protocol", 64, where) != kProtocol) {
    throw ProtocolError(where + ": 'protocol' must be \"" + std::string(kProtocol) + "\"");
  }
}

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

void validate_bucket(const std::string& bucket, const char* what) {
  if (bucket.size() < 3 || bucket.size() > 63) {
    throw ProtocolError(std::string("run config: '") + what +
                        "' must be a bucket name of 3-63 characters");
  }
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) {
      throw ProtocolError(std::string("run config: '") + what + "' is not a valid bucket name: '" +
                          bucket + "'");
    }
  }
}

// ---- little-endian binary ----

void put_u16(std::string& out, std::uint16_t v) {
  for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(std::string_view bytes, std::size_t offset, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i)
    v |= std::uint64_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
  return v;
}

constexpr std::size_t kPartialHeaderBytes = 48;

}  // namespace

std::string_view orchestration_name(Orchestration orchestration) {
  return orchestration == Orchestration::functions ? "functions" : "driver";
}

std::string_view outcome_name(WorkOutcome outcome) {
  switch (outcome) {
    case WorkOutcome::reinvoked:
      return "reinvoked";
    case WorkOutcome::finished:
      return "finished";
    case WorkOutcome::stopped:
      return "stopped";
    case WorkOutcome::superseded:
      return "superseded";
  }
  return "finished";
}

void validate_run_id(std::string_view run_id) {
  if (run_id.empty() || run_id.size() > kMaxRunIdLength || run_id.front() == '.') {
    throw ProtocolError(
        "run id must be 1-64 characters of A-Z a-z 0-9 . _ - not starting with '.'");
  }
  for (char c : run_id) {
    if (!is_name_char(c) && c != '.' && c != '_' && c != '-') {
      throw ProtocolError("run id '" + std::string(run_id) +
                          "' holds a character outside A-Z a-z 0-9 . _ -");
    }
  }
}

void validate(const RunConfig& c) {
  validate_run_id(c.run_id);
  validate_bucket(c.bucket, "bucket");
  validate_bucket(c.dataset_bucket, "dataset_bucket");
  if (c.architecture != "cloud2018-casea/1" && c.architecture != "cloud2018-caseb/1") {
    throw ProtocolError("run config: unknown architecture '" + c.architecture + "'");
  }
  if (c.manifest_key.empty() || c.manifest_key.size() > 1024) {
    throw ProtocolError("run config: 'manifest_key' must be 1-1024 bytes");
  }
  try {
    MergeTree tree(c.tree);
  } catch (const MergeTreeError& error) {
    throw ProtocolError(std::string("run config: ") + error.what());
  }
  if (c.rounds < 1 || c.rounds > kMaxRounds)
    throw ProtocolError("run config: 'rounds' must be 1..1000000");
  if (c.batches < 1 || c.batches > 1'000'000)
    throw ProtocolError("run config: 'batches' must be 1..1000000");
  if (c.batch_size < 1 || c.batch_size > 1'000'000)
    throw ProtocolError("run config: 'batch_size' must be 1..1000000");
  if (!std::isfinite(c.learning_rate) || c.learning_rate <= 0) {
    throw ProtocolError("run config: 'learning_rate' must be a positive finite number");
  }
  if (c.function.empty() || c.function.size() > 64)
    throw ProtocolError("run config: 'function' must be 1-64 characters");
  for (char ch : c.function) {
    if (!is_name_char(ch) && ch != '_' && ch != '-') {
      throw ProtocolError("run config: 'function' holds a character outside A-Z a-z 0-9 _ -");
    }
  }
  if (c.poll_ms < 1 || c.poll_ms > 60'000)
    throw ProtocolError("run config: 'poll_ms' must be 1..60000");
  if (c.reserve_ms > 900'000)
    throw ProtocolError("run config: 'reserve_ms' must be at most 900000");
  if (c.lease_ms != 0 && (c.lease_ms < kMinLeaseMs || c.lease_ms > kMaxLeaseMs)) {
    throw ProtocolError("run config: 'lease_ms' must be 0 (no lease) or " +
                        std::to_string(kMinLeaseMs) + ".." + std::to_string(kMaxLeaseMs));
  }
}

nlohmann::ordered_json to_json(const RunConfig& c) {
  validate(c);
  return {{"run_id", c.run_id},
          {"bucket", c.bucket},
          {"architecture", c.architecture},
          {"dataset_bucket", c.dataset_bucket},
          {"manifest_key", c.manifest_key},
          {"tree", c.tree},
          {"rounds", c.rounds},
          {"batches", c.batches},
          {"batch_size", c.batch_size},
          {"learning_rate", c.learning_rate},
          {"orchestration", orchestration_name(c.orchestration)},
          {"function", c.function},
          {"poll_ms", c.poll_ms},
          {"reserve_ms", c.reserve_ms},
          {"rounds_per_invocation", c.rounds_per_invocation},
          {"shuffle", c.shuffle},
          {"shuffle_seed", c.shuffle_seed},
          {"lease_ms", c.lease_ms}};
}

RunConfig run_config_from_json(const json& j) {
  const std::string where = "run config";
  RunConfig c;
  c.run_id = string_field(j, "run_id", kMaxRunIdLength, where);
  c.bucket = string_field(j, "bucket", 63, where);
  c.architecture = string_field(j, "architecture", 64, where);
  c.dataset_bucket = string_field(j, "dataset_bucket", 63, where);
  c.manifest_key = string_field(j, "manifest_key", 1024, where);
  const json& tree = field(j, "tree", where);
  if (!tree.is_array() || tree.size() > MergeTree::kMaxLevels) {
    throw ProtocolError(where + ": 'tree' must be an array of at most " +
                        std::to_string(MergeTree::kMaxLevels) + " level sizes");
  }
  for (const json& level : tree) {
    if (!level.is_number_unsigned() || level.get<std::uint64_t>() > MergeTree::kMaxWorkers) {
      throw ProtocolError(where + ": 'tree' levels must be integers 1.." +
                          std::to_string(MergeTree::kMaxWorkers));
    }
    c.tree.push_back(level.get<std::uint32_t>());
  }
  c.rounds = u32_field(j, "rounds", 1, kMaxRounds, where);
  c.batches = u32_field(j, "batches", 1, 1'000'000, where);
  c.batch_size = u32_field(j, "batch_size", 1, 1'000'000, where);
  const double lr = number_field(j, "learning_rate", where);
  if (!(lr > 0) || lr > std::numeric_limits<float>::max())
    throw ProtocolError(where + ": 'learning_rate' must be positive");
  c.learning_rate = static_cast<float>(lr);
  const std::string orchestration = string_field(j, "orchestration", 16, where);
  if (orchestration == "functions")
    c.orchestration = Orchestration::functions;
  else if (orchestration == "driver")
    c.orchestration = Orchestration::driver;
  else
    throw ProtocolError(where + ": 'orchestration' must be \"functions\" or \"driver\"");
  c.function = string_field(j, "function", 64, where);
  c.poll_ms = u32_field(j, "poll_ms", 1, 60'000, where);
  c.reserve_ms = u32_field(j, "reserve_ms", 0, 900'000, where);
  // Absent in run configs written before it existed.
  if (j.contains("rounds_per_invocation"))
    c.rounds_per_invocation = u32_field(j, "rounds_per_invocation", 0, 1'000'000, where);
  c.shuffle = bool_field(j, "shuffle", where);
  c.shuffle_seed =
      unsigned_field(j, "shuffle_seed", 0, std::numeric_limits<std::uint64_t>::max(), where);
  // Absent in run configs written before leases existed: their workers kept no lease.
  c.lease_ms = j.contains("lease_ms") ? u32_field(j, "lease_ms", 0, kMaxLeaseMs, where) : 0;
  validate(c);
  return c;
}

Shard shard_rows_shuffled(const Shard& shard, std::uint64_t seed, std::uint32_t round,
                          std::uint32_t worker) {
  const std::uint64_t rows = shard.count();
  std::vector<std::uint64_t> order(rows);
  for (std::uint64_t i = 0; i < rows; ++i) order[i] = i;
  SplitMix64 random(seed + 0x9e3779b97f4a7c15ULL * (std::uint64_t{round} + 1) +
                    0xbf58476d1ce4e5b9ULL * (std::uint64_t{worker} + 1));
  for (std::uint64_t i = rows; i-- > 1;) std::swap(order[i], order[random.next() % (i + 1)]);
  auto permute = [&](const auto& values, auto& out) {
    const std::size_t width = rows == 0 ? 0 : values.size() / rows;
    out.resize(values.size());
    for (std::uint64_t row = 0; row < rows; ++row) {
      std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(order[row] * width), width,
                  out.begin() + static_cast<std::ptrdiff_t>(row * width));
    }
  };
  Shard shuffled;
  shuffled.features.dtype = shard.features.dtype;
  shuffled.features.shape = shard.features.shape;
  shuffled.labels.dtype = shard.labels.dtype;
  shuffled.labels.shape = shard.labels.shape;
  permute(shard.features.f32, shuffled.features.f32);
  permute(shard.features.f64, shuffled.features.f64);
  permute(shard.features.u8, shuffled.features.u8);
  permute(shard.features.i32, shuffled.features.i32);
  permute(shard.labels.i32, shuffled.labels.i32);
  permute(shard.labels.f32, shuffled.labels.f32);
  return shuffled;
}

std::string encode_request(const WorkerRequest& r) {
  json j = {{"protocol", kProtocol},
            {"op", r.op == Operation::work ? "work" : "train"},
            {"config", to_json(r.config)},
            {"worker", r.worker},
            {"round", r.round},
            {"hop", r.hop}};
  return j.dump();
}

WorkerRequest decode_request(std::string_view payload) {
  const std::string where = "request";
  json j = parse_object(payload, where);
  check_protocol(j, where);
  WorkerRequest r;
  const std::string op = string_field(j, "op", 16, where);
  if (op == "work")
    r.op = Operation::work;
  else if (op == "train")
    r.op = Operation::train;
  else
    throw ProtocolError(where + ": 'op' must be \"work\" or \"train\"");
  r.config = run_config_from_json(field(j, "config", where));
  r.worker = u32_field(j, "worker", 0, r.config.workers() - 1, where);
  r.round = u32_field(j, "round", 0, r.config.rounds - 1, where);
  r.hop = u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where);
  return r;
}

std::string encode_train_answer(const TrainAnswer& a) {
  return json{{"protocol", kProtocol},
              {"run", a.run_id},
              {"round", a.round},
              {"worker", a.worker},
              {"loss_sum", a.loss_sum},
              {"samples", a.samples},
              {"correct", a.correct},
              {"result_sha256", a.result_sha256},
              {"shard_cached", a.shard_cached}}
      .dump();
}

TrainAnswer decode_train_answer(std::string_view payload) {
  const std::string where = "train answer";
  json j = parse_object(payload, where);
  check_protocol(j, where);
  TrainAnswer a;
  a.run_id = string_field(j, "run", kMaxRunIdLength, where);
  validate_run_id(a.run_id);
  a.round = u32_field(j, "round", 0, kMaxRounds, where);
  a.worker = u32_field(j, "worker", 0, MergeTree::kMaxWorkers, where);
  a.loss_sum = number_field(j, "loss_sum", where);
  a.samples = unsigned_field(j, "samples", 0, std::numeric_limits<std::uint64_t>::max(), where);
  a.correct = unsigned_field(j, "correct", 0, a.samples, where);
  a.result_sha256 = string_field(j, "result_sha256", 64, where);
  if (a.result_sha256.size() != 64)
    throw ProtocolError(where + ": 'result_sha256' must be 64 hex digits");
  a.shard_cached = bool_field(j, "shard_cached", where);
  return a;
}

std::string encode_work_answer(const WorkAnswer& a) {
  return json{{"protocol", kProtocol}, {"run", a.run_id},  {"worker", a.worker},
              {"hop", a.hop},          {"round", a.round}, {"outcome", outcome_name(a.outcome)}}
      .dump();
}

WorkAnswer decode_work_answer(std::string_view payload) {
  const std::string where = "work answer";
  json j = parse_object(payload, where);
  check_protocol(j, where);
  WorkAnswer a;
  a.run_id = string_field(j, "run", kMaxRunIdLength, where);
  validate_run_id(a.run_id);
  a.worker = u32_field(j, "worker", 0, MergeTree::kMaxWorkers, where);
  a.hop = u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where);
  a.round = u32_field(j, "round", 0, kMaxRounds, where);
  const std::string outcome = string_field(j, "outcome", 16, where);
  if (outcome == "reinvoked")
    a.outcome = WorkOutcome::reinvoked;
  else if (outcome == "finished")
    a.outcome = WorkOutcome::finished;
  else if (outcome == "stopped")
    a.outcome = WorkOutcome::stopped;
  else if (outcome == "superseded")
    a.outcome = WorkOutcome::superseded;
  else
    throw ProtocolError(where + ": unknown 'outcome' '" + outcome + "'");
  return a;
}

std::string encode_partial(const PartialResult& r) {
  validate_run_id(r.run_id);
  if (r.model.size() > kMaxModelBytes)
    throw ProtocolError("partial result: the model is too large");
  if (!std::isfinite(r.loss_sum)) throw ProtocolError("partial result: loss_sum must be finite");
  std::string out;
  out.reserve(kPartialHeaderBytes + r.run_id.size() + 8 + r.model.size());
  out.append("STMA", 4);
  out.push_back(1);
  out.push_back(0);
  put_u16(out, static_cast<std::uint16_t>(r.run_id.size()));
  put_u32(out, r.round);
  put_u32(out, r.node.level);
  put_u32(out, r.node.index);
  put_u32(out, r.leaves);
  put_u64(out, r.samples);
  put_u64(out, r.correct);
  std::uint64_t loss_bits = 0;
  std::memcpy(&loss_bits, &r.loss_sum, sizeof loss_bits);
  put_u64(out, loss_bits);
  out.append(r.run_id);
  put_u64(out, r.model.size());
  out.append(r.model);
  return out;
}

PartialResult decode_partial(std::string_view bytes) {
  const std::string where = "partial result";
  if (bytes.size() < kPartialHeaderBytes + 1 + 8) {
    throw ProtocolError(where + ": " + std::to_string(bytes.size()) +
                        " bytes is shorter than the header");
  }
  if (bytes.substr(0, 4) != "STMA")
    throw ProtocolError(where + ": bad magic (not a stratus-model-averaging object)");
  if (bytes[4] != 1)
    throw ProtocolError(where + ": unsupported version " +
                        std::to_string(static_cast<unsigned char>(bytes[4])));
  if (bytes[5] != 0) throw ProtocolError(where + ": reserved byte is not 0");
  PartialResult r;
  const auto id_length = static_cast<std::size_t>(get_le(bytes, 6, 2));
  if (id_length == 0 || id_length > kMaxRunIdLength)
    throw ProtocolError(where + ": run id length out of range");
  r.round = static_cast<std::uint32_t>(get_le(bytes, 8, 4));
  r.node.level = static_cast<std::uint32_t>(get_le(bytes, 12, 4));
  r.node.index = static_cast<std::uint32_t>(get_le(bytes, 16, 4));
  r.leaves = static_cast<std::uint32_t>(get_le(bytes, 20, 4));
  r.samples = get_le(bytes, 24, 8);
  r.correct = get_le(bytes, 32, 8);
  const std::uint64_t loss_bits = get_le(bytes, 40, 8);
  std::memcpy(&r.loss_sum, &loss_bits, sizeof loss_bits);
  if (!std::isfinite(r.loss_sum)) throw ProtocolError(where + ": loss_sum is not finite");
  if (r.correct > r.samples) throw ProtocolError(where + ": more correct samples than samples");
  if (r.round >= kMaxRounds || r.node.level >= MergeTree::kMaxLevels ||
      r.node.index >= MergeTree::kMaxWorkers || r.leaves == 0 ||
      r.leaves > MergeTree::kMaxWorkers) {
    throw ProtocolError(where + ": round, node or leaf count out of range");
  }
  if (bytes.size() < kPartialHeaderBytes + id_length + 8)
    throw ProtocolError(where + ": truncated in the run id");
  r.run_id = std::string(bytes.substr(kPartialHeaderBytes, id_length));
  validate_run_id(r.run_id);
  const std::size_t model_at = kPartialHeaderBytes + id_length + 8;
  const std::uint64_t model_length = get_le(bytes, kPartialHeaderBytes + id_length, 8);
  if (model_length > kMaxModelBytes) throw ProtocolError(where + ": model length over the limit");
  if (model_length != bytes.size() - model_at) {
    throw ProtocolError(where + ": the model length says " + std::to_string(model_length) +
                        " bytes, the object holds " + std::to_string(bytes.size() - model_at));
  }
  r.model = std::string(bytes.substr(model_at));
  return r;
}

PartialResult decode_partial_for(std::string_view bytes, std::string_view run_id,
                                 std::uint32_t round, TreeNode node, const MergeTree& tree) {
  PartialResult r = decode_partial(bytes);
  if (r.run_id != run_id || r.round != round || !(r.node == node)) {
    throw ProtocolError("partial result: expected run " + std::string(run_id) + " round " +
                        std::to_string(round) + " node " + std::to_string(node.level) + "-" +
                        std::to_string(node.index) + ", got run " + r.run_id + " round " +
                        std::to_string(r.round) + " node " + std::to_string(r.node.level) + "-" +
                        std::to_string(r.node.index));
  }
  if (r.leaves != tree.leaves(node).count) {
    throw ProtocolError("partial result: node " + std::to_string(node.level) + "-" +
                        std::to_string(node.index) + " sums " + std::to_string(r.leaves) +
                        " workers, the tree says " + std::to_string(tree.leaves(node).count));
  }
  return r;
}

std::string encode_round_record(const RoundRecord& r) {
  return json{{"protocol", kProtocol},          {"round", r.round},
              {"loss_sum", r.loss_sum},         {"samples", r.samples},
              {"correct", r.correct},           {"leaves", r.leaves},
              {"completed_ms", r.completed_ms}, {"model_sha256", r.model_sha256}}
      .dump();
}

RoundRecord decode_round_record(std::string_view text) {
  const std::string where = "round record";
  json j = parse_object(text, where);
  check_protocol(j, where);
  RoundRecord r;
  r.round = u32_field(j, "round", 0, kMaxRounds, where);
  r.loss_sum = number_field(j, "loss_sum", where);
  r.samples = unsigned_field(j, "samples", 0, std::numeric_limits<std::uint64_t>::max(), where);
  r.correct = unsigned_field(j, "correct", 0, r.samples, where);
  r.leaves = u32_field(j, "leaves", 1, MergeTree::kMaxWorkers, where);
  r.completed_ms =
      unsigned_field(j, "completed_ms", 0, std::numeric_limits<std::uint64_t>::max(), where);
  r.model_sha256 = string_field(j, "model_sha256", 64, where);
  return r;
}

std::string encode_trace(const RoundTrace& t) {
  return json{{"protocol", kProtocol},
              {"round", t.round},
              {"worker", t.worker},
              {"hop", t.hop},
              {"new_invocation", t.new_invocation},
              {"cold_start", t.cold_start},
              {"complete", t.complete},
              {"shard_cached", t.shard_cached},
              {"elapsed_ms", t.elapsed_ms},
              {"wait_ms", t.wait_ms},
              {"train_ms", t.train_ms},
              {"merge_ms", t.merge_ms},
              {"memory_mb", t.memory_mb},
              {"train_cpu_ms", t.train_cpu_ms},
              {"merge_cpu_ms", t.merge_cpu_ms},
              {"merged_children", t.merged_children}}
      .dump();
}

RoundTrace decode_trace(std::string_view text) {
  const std::string where = "round trace";
  json j = parse_object(text, where);
  check_protocol(j, where);
  RoundTrace t;
  t.round = u32_field(j, "round", 0, kMaxRounds, where);
  t.worker = u32_field(j, "worker", 0, MergeTree::kMaxWorkers, where);
  t.hop = u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where);
  t.new_invocation = bool_field(j, "new_invocation", where);
  t.cold_start = bool_field(j, "cold_start", where);
  t.complete = bool_field(j, "complete", where);
  t.shard_cached = bool_field(j, "shard_cached", where);
  t.elapsed_ms = number_field(j, "elapsed_ms", where);
  t.wait_ms = number_field(j, "wait_ms", where);
  t.train_ms = number_field(j, "train_ms", where);
  t.merge_ms = number_field(j, "merge_ms", where);
  t.memory_mb = u32_field(j, "memory_mb", 0, 1'000'000, where);
  if (j.contains("train_cpu_ms")) t.train_cpu_ms = number_field(j, "train_cpu_ms", where);
  if (j.contains("merge_cpu_ms")) t.merge_cpu_ms = number_field(j, "merge_cpu_ms", where);
  if (j.contains("merged_children"))
    t.merged_children = u32_field(j, "merged_children", 0, MergeTree::kMaxWorkers, where);
  if (t.elapsed_ms < 0 || t.wait_ms < 0 || t.train_ms < 0 || t.merge_ms < 0 || t.train_cpu_ms < 0 ||
      t.merge_cpu_ms < 0) {
    throw ProtocolError(where + ": negative duration");
  }
  return t;
}

std::string encode_error(const ErrorRecord& e) {
  return json{{"protocol", kProtocol}, {"round", e.round}, {"worker", e.worker},
              {"hop", e.hop},          {"type", e.type},   {"message", e.message}}
      .dump();
}

ErrorRecord decode_error(std::string_view text) {
  const std::string where = "error record";
  json j = parse_object(text, where);
  check_protocol(j, where);
  ErrorRecord e;
  e.round = u32_field(j, "round", 0, kMaxRounds, where);
  e.worker = u32_field(j, "worker", 0, MergeTree::kMaxWorkers, where);
  e.hop = u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where);
  e.type = string_field(j, "type", 256, where);
  e.message = string_field(j, "message", 16384, where);
  return e;
}

std::string encode_chain(const ChainRecord& c) {
  return json{{"protocol", kProtocol}, {"hop", c.hop}, {"owner", c.owner}}.dump();
}

ChainRecord decode_chain(std::string_view text) {
  const std::string where = "chain record";
  json j = parse_object(text, where);
  check_protocol(j, where);
  return {u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where),
          string_field(j, "owner", 256, where)};
}

std::string encode_alive(const AliveRecord& a) {
  if (a.lease_until_ms > a.deadline_ms)
    throw ProtocolError("alive record: the lease ends after the invocation's deadline");
  return json{{"protocol", kProtocol},
              {"worker", a.worker},
              {"hop", a.hop},
              {"deadline_ms", a.deadline_ms},
              {"lease_until_ms", a.lease_until_ms}}
      .dump();
}

AliveRecord decode_alive(std::string_view text) {
  const std::string where = "alive record";
  json j = parse_object(text, where);
  check_protocol(j, where);
  AliveRecord a;
  a.worker = u32_field(j, "worker", 0, MergeTree::kMaxWorkers, where);
  a.hop = u32_field(j, "hop", 0, std::numeric_limits<std::uint32_t>::max(), where);
  a.deadline_ms =
      unsigned_field(j, "deadline_ms", 0, std::numeric_limits<std::uint64_t>::max(), where);
  // Absent in records written before leases existed: alive until the deadline.
  a.lease_until_ms = j.contains("lease_until_ms")
                         ? unsigned_field(j, "lease_until_ms", 0, a.deadline_ms, where)
                         : a.deadline_ms;
  return a;
}

}  // namespace stratus::ml::averaging
