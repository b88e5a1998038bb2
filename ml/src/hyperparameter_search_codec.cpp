// stratus-hyperparameter-search/1: validation, the JSON codecs of requests, answers and results,
// the key layout and the checkpoint object (hyperparameter_search.hpp).

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "stratus/ml/hyperparameter_search.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/protocol_names.hpp"

namespace stratus::ml::hyperparameter_search {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr char kCheckpointMagic[4] = {'S', 'T', 'H', 'C'};
constexpr std::size_t kCheckpointHeaderBytes = 12;
constexpr std::uint32_t kMaxCheckpointHeader = 1 << 16;

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(std::string(kProtocol) + ": " + message);
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 1024) return false;
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string five(std::uint32_t n) {
  char text[16];
  std::snprintf(text, sizeof text, "%05u", n);
  return text;
}

const json& field(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end()) refuse(std::string("missing field \"") + name + "\"");
  return *it;
}

template <typename T>
T unsigned_field(const json& doc, const char* name, std::uint64_t max) {
  const json& v = field(doc, name);
  if (!v.is_number_unsigned())
    refuse(std::string("\"") + name + "\" must be a non-negative integer");
  const std::uint64_t n = v.get<std::uint64_t>();
  if (n > max) refuse(std::string("\"") + name + "\" must be at most " + std::to_string(max));
  return static_cast<T>(n);
}

double number_field(const json& doc, const char* name) {
  const json& v = field(doc, name);
  if (!v.is_number()) refuse(std::string("\"") + name + "\" must be a number");
  const double d = v.get<double>();
  if (!std::isfinite(d)) refuse(std::string("\"") + name + "\" must be finite");
  return d;
}

std::string string_field(const json& doc, const char* name) {
  const json& v = field(doc, name);
  if (!v.is_string()) refuse(std::string("\"") + name + "\" must be a string");
  return v.get<std::string>();
}

bool bool_field(const json& doc, const char* name) {
  const json& v = field(doc, name);
  if (!v.is_boolean()) refuse(std::string("\"") + name + "\" must be true or false");
  return v.get<bool>();
}

json parse_object(std::string_view text, const char* what) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) refuse(std::string(what) + " must be a JSON object");
  return doc;
}

void check_protocol(const json& doc) {
  if (string_field(doc, "protocol") != kProtocol) {
    refuse("\"protocol\" must be \"" + std::string(kProtocol) + "\"");
  }
}

ordered_json trial_json(const TrialConfig& t) {
  return {{"trial", t.trial},
          {"hidden", t.hidden},
          {"learning_rate", t.learning_rate},
          {"batch_count", t.batch_count},
          {"batch_size", t.batch_size},
          {"epochs", t.epochs},
          {"init_seed", t.init_seed}};
}

TrialConfig trial_from(const json& doc) {
  if (!doc.is_object()) refuse("\"trial\" must be an object");
  TrialConfig t;
  t.trial = unsigned_field<std::uint32_t>(doc, "trial", kMaxTrials - 1);
  const json& hidden = field(doc, "hidden");
  if (!hidden.is_array()) refuse("\"hidden\" must be an array of widths");
  if (hidden.size() > kMaxHiddenLayers) refuse("\"hidden\" has too many layers");
  for (const json& w : hidden) {
    if (!w.is_number_unsigned()) refuse("\"hidden\" widths must be positive integers");
    const std::uint64_t width = w.get<std::uint64_t>();
    if (width == 0 || width > kMaxWidth) {
      refuse("\"hidden\" widths must be in 1.." + std::to_string(kMaxWidth));
    }
    t.hidden.push_back(static_cast<std::uint32_t>(width));
  }
  t.learning_rate = number_field(doc, "learning_rate");
  t.batch_count = unsigned_field<std::uint32_t>(doc, "batch_count", kMaxBatchCount);
  t.batch_size =
      unsigned_field<std::uint32_t>(doc, "batch_size", std::numeric_limits<std::uint32_t>::max());
  t.epochs = unsigned_field<std::uint32_t>(doc, "epochs", kMaxEpochs);
  t.init_seed =
      unsigned_field<std::uint64_t>(doc, "init_seed", std::numeric_limits<std::uint64_t>::max());
  validate(t);
  return t;
}

ordered_json dataset_json(const DatasetRef& d) {
  return {{"bucket", d.bucket}, {"manifest_key", d.manifest_key}};
}

DatasetRef dataset_from(const json& doc, const char* what) {
  if (!doc.is_object()) refuse(std::string("\"") + what + "\" must be an object");
  return {string_field(doc, "bucket"), string_field(doc, "manifest_key")};
}

ordered_json run_json(const RunConfig& r) {
  return {{"run_id", r.run_id},
          {"bucket", r.bucket},
          {"train", dataset_json(r.train)},
          {"test", dataset_json(r.test)},
          {"function", r.function},
          {"max_batches_per_invocation", r.max_batches_per_invocation},
          {"reserve_ms", r.reserve_ms}};
}

RunConfig run_from(const json& doc) {
  if (!doc.is_object()) refuse("\"run\" must be an object");
  RunConfig r;
  r.run_id = string_field(doc, "run_id");
  r.bucket = string_field(doc, "bucket");
  r.train = dataset_from(field(doc, "train"), "train");
  r.test = dataset_from(field(doc, "test"), "test");
  r.function = string_field(doc, "function");
  r.max_batches_per_invocation = unsigned_field<std::uint32_t>(
      doc, "max_batches_per_invocation", std::numeric_limits<std::uint32_t>::max());
  r.reserve_ms = unsigned_field<std::uint32_t>(doc, "reserve_ms", 900'000);
  validate(r);
  return r;
}

ordered_json result_json(const TrialResult& r) {
  return {{"protocol", kProtocol},
          {"trial", trial_json(r.trial)},
          {"architecture", r.architecture},
          {"test_accuracy", r.test_accuracy},
          {"test_correct", r.test_correct},
          {"test_samples", r.test_samples},
          {"final_train_loss", r.final_train_loss},
          {"model_sha256", r.model_sha256},
          {"model_key", r.model_key},
          {"invocations", r.invocations},
          {"train_ms", r.train_ms}};
}

TrialResult result_from(const json& doc) {
  if (!doc.is_object()) refuse("\"result\" must be an object");
  check_protocol(doc);
  TrialResult r;
  r.trial = trial_from(field(doc, "trial"));
  r.architecture = string_field(doc, "architecture");
  r.test_accuracy = number_field(doc, "test_accuracy");
  r.test_correct = unsigned_field<std::uint64_t>(doc, "test_correct", std::uint64_t{1} << 40);
  r.test_samples = unsigned_field<std::uint64_t>(doc, "test_samples", std::uint64_t{1} << 40);
  if (r.test_correct > r.test_samples || r.test_accuracy < 0 || r.test_accuracy > 1) {
    refuse("\"test_accuracy\" disagrees with \"test_correct\" / \"test_samples\"");
  }
  r.final_train_loss = number_field(doc, "final_train_loss");
  r.model_sha256 = string_field(doc, "model_sha256");
  r.model_key = string_field(doc, "model_key");
  r.invocations = unsigned_field<std::uint32_t>(doc, "invocations", kMaxSegments + 1);
  r.train_ms = number_field(doc, "train_ms");
  return r;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

void validate(const SearchSpace& s) {
  if (s.min_hidden_layers < 1 || s.min_hidden_layers > s.max_hidden_layers ||
      s.max_hidden_layers > kMaxHiddenLayers) {
    refuse("hidden layer counts must satisfy 1 <= min <= max <= " +
           std::to_string(kMaxHiddenLayers));
  }
  if (s.min_width < 1 || s.min_width > s.max_width || s.max_width > kMaxWidth) {
    refuse("widths must satisfy 1 <= min <= max <= " + std::to_string(kMaxWidth));
  }
  if (!std::isfinite(s.min_learning_rate) || !std::isfinite(s.max_learning_rate) ||
      s.min_learning_rate <= 0 || s.min_learning_rate > s.max_learning_rate) {
    refuse("learning rates must satisfy 0 < min <= max");
  }
  if (s.min_batch_count < 1 || s.min_batch_count > s.max_batch_count ||
      s.max_batch_count > kMaxBatchCount) {
    refuse("batch counts must satisfy 1 <= min <= max <= " + std::to_string(kMaxBatchCount));
  }
}

void validate(const TrialConfig& t) {
  if (t.trial >= kMaxTrials) refuse("\"trial\" is out of range");
  if (t.hidden.empty() || t.hidden.size() > kMaxHiddenLayers) {
    refuse("\"hidden\" must have 1.." + std::to_string(kMaxHiddenLayers) + " layers");
  }
  for (std::uint32_t w : t.hidden) {
    if (w == 0 || w > kMaxWidth)
      refuse("\"hidden\" widths must be in 1.." + std::to_string(kMaxWidth));
  }
  if (!std::isfinite(t.learning_rate) || t.learning_rate <= 0 || t.learning_rate > 1e3) {
    refuse("\"learning_rate\" must be in (0, 1000]");
  }
  if (t.batch_count == 0 || t.batch_count > kMaxBatchCount)
    refuse("\"batch_count\" is out of range");
  if (t.batch_size == 0) refuse("\"batch_size\" must be positive");
  if (t.epochs == 0 || t.epochs > kMaxEpochs)
    refuse("\"epochs\" must be in 1.." + std::to_string(kMaxEpochs));
}

void validate(const RunConfig& r) {
  if (!is_valid_run_id(r.run_id, kMaxRunIdLength)) refuse("\"run_id\" must be 1-64 characters of [A-Za-z0-9._-]");
  if (!is_valid_bucket_name(r.bucket)) refuse("\"bucket\" is not a valid bucket name");
  for (const DatasetRef* d : {&r.train, &r.test}) {
    if (!is_valid_bucket_name(d->bucket)) refuse("a dataset's \"bucket\" is not a valid bucket name");
    if (!valid_key(d->manifest_key)) refuse("a dataset's \"manifest_key\" is not a valid key");
  }
  if (r.function.empty() || r.function.size() > 140) refuse("\"function\" must be a function name");
  if (r.reserve_ms > 900'000) refuse("\"reserve_ms\" must be at most 900000");
}

std::string trial_architecture(const TrialConfig& trial, std::uint32_t inputs) {
  std::vector<std::uint32_t> widths{inputs};
  widths.insert(widths.end(), trial.hidden.begin(), trial.hidden.end());
  widths.push_back(kClasses);
  return mlp_architecture(widths);
}

std::string encode_request(const Request& request) {
  validate(request.run);
  validate(request.trial);
  ordered_json doc = {{"protocol", kProtocol},
                      {"run", run_json(request.run)},
                      {"trial", trial_json(request.trial)}};
  if (request.segment) doc["segment"] = *request.segment;
  return doc.dump();
}

Request decode_request(std::string_view payload) {
  const json doc = parse_object(payload, "the request");
  check_protocol(doc);
  Request r;
  r.run = run_from(field(doc, "run"));
  r.trial = trial_from(field(doc, "trial"));
  if (doc.contains("segment"))
    r.segment = unsigned_field<std::uint32_t>(doc, "segment", kMaxSegments);
  return r;
}

std::string encode_result(const TrialResult& result) {
  return result_json(result).dump();
}

TrialResult decode_result(std::string_view text) {
  return result_from(parse_object(text, "a trial result"));
}

std::string_view status_name(Status status) {
  switch (status) {
    case Status::Done:
      return "done";
    case Status::Continued:
      return "continued";
    case Status::Stale:
      return "stale";
  }
  return "?";
}

std::string encode_answer(const Answer& a) {
  ordered_json doc = {{"protocol", kProtocol}, {"run_id", a.run_id},
                      {"trial", a.trial},      {"status", status_name(a.status)},
                      {"segment", a.segment},  {"epoch", a.epoch},
                      {"batch", a.batch},      {"replayed", a.replayed}};
  if (a.result) doc["result"] = result_json(*a.result);
  return doc.dump();
}

Answer decode_answer(std::string_view payload) {
  const json doc = parse_object(payload, "the answer");
  check_protocol(doc);
  Answer a;
  a.run_id = string_field(doc, "run_id");
  a.trial = unsigned_field<std::uint32_t>(doc, "trial", kMaxTrials - 1);
  const std::string status = string_field(doc, "status");
  if (status == "done") {
    a.status = Status::Done;
  } else if (status == "continued") {
    a.status = Status::Continued;
  } else if (status == "stale") {
    a.status = Status::Stale;
  } else {
    refuse("\"status\" must be done, continued or stale");
  }
  a.segment = unsigned_field<std::uint32_t>(doc, "segment", kMaxSegments);
  a.epoch = unsigned_field<std::uint32_t>(doc, "epoch", kMaxEpochs);
  a.batch = unsigned_field<std::uint32_t>(doc, "batch", kMaxBatchCount);
  a.replayed = bool_field(doc, "replayed");
  if (a.status == Status::Done) {
    a.result = result_from(field(doc, "result"));
    if (a.result->trial.trial != a.trial) refuse("the result is for another trial");
  }
  return a;
}

std::string trial_prefix(const std::string& run_id, std::uint32_t trial) {
  return "runs/" + run_id + "/trials/" + five(trial) + "/";
}

std::string checkpoint_key(const std::string& run_id, std::uint32_t trial, std::uint32_t segment) {
  return trial_prefix(run_id, trial) + "checkpoint-" + five(segment) + ".bin";
}

std::string result_key(const std::string& run_id, std::uint32_t trial) {
  return trial_prefix(run_id, trial) + "result.json";
}

std::string model_key(const std::string& run_id, std::uint32_t trial) {
  return trial_prefix(run_id, trial) + "model.bin";
}

std::string best_key(const std::string& run_id) {
  return "runs/" + run_id + "/best.json";
}

std::string bill_key(const std::string& run_id, std::uint32_t trial, std::uint32_t segment) {
  return trial_prefix(run_id, trial) + "bill-" + five(segment) + ".json";
}

std::string encode_bill(const SegmentBill& bill) {
  return ordered_json{{"protocol", kProtocol},
                      {"segment", bill.segment},
                      {"billed_ms", bill.billed_ms},
                      {"memory_mb", bill.memory_mb}}
      .dump();
}

SegmentBill decode_bill(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) refuse("a bill must be a JSON object");
  check_protocol(doc);
  SegmentBill bill;
  bill.segment = unsigned_field<std::uint32_t>(doc, "segment", kMaxSegments);
  bill.billed_ms = number_field(doc, "billed_ms");
  bill.memory_mb = unsigned_field<std::uint32_t>(doc, "memory_mb", 10240);
  if (bill.billed_ms < 0 || bill.billed_ms > 900'000) refuse("\"billed_ms\" is out of range");
  return bill;
}

std::optional<std::uint32_t> checkpoint_segment(std::string_view key) {
  const auto slash = key.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  constexpr std::string_view head = "checkpoint-", tail = ".bin";
  if (name.size() != head.size() + 5 + tail.size() || !name.starts_with(head) ||
      !name.ends_with(tail)) {
    return std::nullopt;
  }
  std::uint32_t n = 0;
  for (char c : name.substr(head.size(), 5)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return n;
}

std::string encode_checkpoint(const TrainingState& s, std::uint32_t trial) {
  const std::string header = ordered_json{
      {"trial", trial},
      {"segment", s.segment},
      {"epoch", s.epoch},
      {"batch", s.batch},
      {"epoch_loss_sum", s.epoch_loss_sum},
      {"last_epoch_loss", s.last_epoch_loss},
      {"train_ms", s.train_ms}}.dump();
  std::string out(kCheckpointMagic, 4);
  out.push_back(1);
  out.append(3, '\0');
  put_u32(out, static_cast<std::uint32_t>(header.size()));
  out += header;
  out += encode_model(s.model);
  return out;
}

TrainingState decode_checkpoint(std::string_view bytes, const TrialConfig& trial,
                                std::uint32_t inputs) {
  if (bytes.size() < kCheckpointHeaderBytes ||
      std::memcmp(bytes.data(), kCheckpointMagic, 4) != 0) {
    refuse("checkpoint: not a stratus-trial-checkpoint/1 object (bad magic)");
  }
  if (bytes[4] != 1 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0) {
    refuse("checkpoint: unsupported version or reserved bytes set");
  }
  const std::uint32_t length = get_u32(bytes, 8);
  if (length > kMaxCheckpointHeader || length > bytes.size() - kCheckpointHeaderBytes) {
    refuse("checkpoint: header length out of range");
  }
  const json header =
      parse_object(bytes.substr(kCheckpointHeaderBytes, length), "checkpoint header");
  TrainingState s;
  if (unsigned_field<std::uint32_t>(header, "trial", kMaxTrials - 1) != trial.trial) {
    refuse("checkpoint: it belongs to another trial");
  }
  s.segment = unsigned_field<std::uint32_t>(header, "segment", kMaxSegments);
  s.epoch = unsigned_field<std::uint32_t>(header, "epoch", kMaxEpochs);
  s.batch = unsigned_field<std::uint32_t>(header, "batch", kMaxBatchCount);
  if (s.epoch > trial.epochs || (s.epoch == trial.epochs && s.batch != 0) ||
      s.batch >= trial.batch_count) {
    refuse("checkpoint: position (epoch, batch) is outside the trial");
  }
  s.epoch_loss_sum = number_field(header, "epoch_loss_sum");
  s.last_epoch_loss = number_field(header, "last_epoch_loss");
  s.train_ms = number_field(header, "train_ms");
  try {
    s.model = decode_model(bytes.substr(kCheckpointHeaderBytes + length), kMaxObjectBytes);
  } catch (const ModelFormatError& e) {
    refuse(std::string("checkpoint: ") + e.what());
  }
  if (s.model.architecture != trial_architecture(trial, inputs)) {
    refuse("checkpoint: the model is " + s.model.architecture + ", not the trial's " +
           trial_architecture(trial, inputs));
  }
  return s;
}

}  // namespace stratus::ml::hyperparameter_search
