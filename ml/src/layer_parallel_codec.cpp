// stratus-layer-parallel/1: the run config, requests and answers, the key layout and the
// stratus-frames/1 objects (see layer_parallel.hpp).

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "stratus/ml/layer_parallel.hpp"
#include "stratus/ml/protocol_names.hpp"

namespace stratus::ml::layer_parallel {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(message);
}

std::string five(std::uint32_t n) {
  char text[16];
  std::snprintf(text, sizeof text, "%05u", n);
  return text;
}

std::string slice_name(std::uint32_t layer, std::uint32_t slice) {
  return "layer-" + five(layer) + "-slice-" + five(slice) + ".bin";
}

template <typename T>
T number(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end()) refuse(std::string("missing field \"") + name + "\"");
  if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) refuse(std::string("\"") + name + "\" must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v)) refuse(std::string("\"") + name + "\" must be finite");
    return static_cast<T>(v);
  } else {
    if (!it->is_number_unsigned()) {
      refuse(std::string("\"") + name + "\" must be a non-negative integer");
    }
    const std::uint64_t v = it->get<std::uint64_t>();
    if (v > std::numeric_limits<T>::max()) refuse(std::string("\"") + name + "\" is too large");
    return static_cast<T>(v);
  }
}

std::string text(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || !it->is_string()) {
    refuse(std::string("\"") + name + "\" must be a string");
  }
  return it->get<std::string>();
}

json parse_object(std::string_view body, std::string_view what) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    refuse(std::string(what) + " is not valid JSON: " + e.what());
  }
  if (!doc.is_object()) refuse(std::string(what) + " must be a JSON object");
  return doc;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint64_t get_le(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v |= static_cast<std::uint64_t>(
             static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]))
         << (8 * i);
  }
  return v;
}

RunConfig config_from_doc(const json& doc) {
  RunConfig c;
  c.run_id = text(doc, "run_id");
  c.bucket = text(doc, "bucket");
  const auto widths = doc.find("widths");
  if (widths == doc.end() || !widths->is_array()) refuse("\"widths\" must be an array");
  for (const json& w : *widths) {
    if (!w.is_number_unsigned() || w.get<std::uint64_t>() > 0xffffffffu) {
      refuse("\"widths\" must hold positive integers");
    }
    c.widths.push_back(w.get<std::uint32_t>());
  }
  const std::string hidden = text(doc, "hidden");
  if (hidden == "tanh") {
    c.hidden = Activation::Tanh;
  } else if (hidden == "relu") {
    c.hidden = Activation::Relu;
  } else {
    refuse("\"hidden\" must be \"tanh\" or \"relu\"");
  }
  c.neurons_per_function = number<std::uint32_t>(doc, "neurons_per_function");
  const std::string optimizer = text(doc, "optimizer");
  if (optimizer == "sgd") {
    c.optimizer = Optimizer::Sgd;
  } else if (optimizer == "adam") {
    c.optimizer = Optimizer::Adam;
  } else {
    refuse("\"optimizer\" must be \"sgd\" or \"adam\"");
  }
  c.learning_rate = number<float>(doc, "learning_rate");
  c.l2 = number<float>(doc, "l2");
  c.beta1 = number<float>(doc, "beta1");
  c.beta2 = number<float>(doc, "beta2");
  c.epsilon = number<float>(doc, "epsilon");
  c.batch_size = number<std::uint32_t>(doc, "batch_size");
  validate(c);
  return c;
}

ordered_json config_doc(const RunConfig& c) {
  ordered_json doc;
  doc["run_id"] = c.run_id;
  doc["bucket"] = c.bucket;
  doc["widths"] = c.widths;
  doc["hidden"] = c.hidden == Activation::Tanh ? "tanh" : "relu";
  doc["neurons_per_function"] = c.neurons_per_function;
  doc["optimizer"] = c.optimizer == Optimizer::Sgd ? "sgd" : "adam";
  // floats widen to double exactly and print in the shortest form that reads back the same.
  doc["learning_rate"] = static_cast<double>(c.learning_rate);
  doc["l2"] = static_cast<double>(c.l2);
  doc["beta1"] = static_cast<double>(c.beta1);
  doc["beta2"] = static_cast<double>(c.beta2);
  doc["epsilon"] = static_cast<double>(c.epsilon);
  doc["batch_size"] = c.batch_size;
  return doc;
}

}  // namespace

std::uint32_t RunConfig::slices(std::size_t layer) const {
  const std::uint32_t width = widths.at(layer);
  const std::uint32_t k = neurons_per_function == 0 ? width : neurons_per_function;
  return (width + k - 1) / k;
}

std::pair<std::uint32_t, std::uint32_t> RunConfig::slice_range(std::size_t layer,
                                                               std::uint32_t slice) const {
  const std::uint32_t width = widths.at(layer);
  const std::uint32_t k = neurons_per_function == 0 ? width : neurons_per_function;
  const std::uint32_t first = slice * k;
  return {first, std::min(width, first + k)};
}

void validate(const RunConfig& c) {
  if (!is_valid_run_id(c.run_id, kMaxRunIdLength)) refuse("\"run_id\" must be 1-64 of A-Z a-z 0-9 . _ -");
  if (!is_valid_bucket_name(c.bucket)) refuse("\"bucket\" is not a valid bucket name");
  if (c.widths.size() < 2 || c.widths.size() > 33) refuse("\"widths\" must hold 2 to 33 widths");
  std::uint64_t parameters = 0;
  for (std::size_t i = 0; i < c.widths.size(); ++i) {
    if (c.widths[i] == 0 || c.widths[i] > (1u << 16)) refuse("\"widths\" must be within 1..65536");
    if (i) parameters += std::uint64_t{c.widths[i - 1]} * c.widths[i] + c.widths[i];
  }
  if (parameters > (std::uint64_t{1} << 26)) refuse("the network has more than 2^26 parameters");
  if (c.widths.back() != 1) refuse("\"widths\" must end in 1 (one sigmoid output)");
  std::uint32_t widest = 0;
  for (std::size_t i = 1; i < c.widths.size(); ++i) widest = std::max(widest, c.widths[i]);
  if (c.neurons_per_function > widest) {
    refuse("\"neurons_per_function\" exceeds the widest layer (" + std::to_string(widest) + ")");
  }
  if (!(c.learning_rate > 0) || !std::isfinite(c.learning_rate)) {
    refuse("\"learning_rate\" must be positive");
  }
  if (!(c.l2 >= 0) || !std::isfinite(c.l2)) refuse("\"l2\" must be non-negative");
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) || !(c.epsilon > 0)) {
    refuse("Adam's beta1, beta2 must be in [0, 1) and epsilon positive");
  }
  if (c.batch_size == 0 || c.batch_size > kMaxBatch) {
    refuse("\"batch_size\" must be within 1.." + std::to_string(kMaxBatch));
  }
}

std::string config_to_json(const RunConfig& config) {
  validate(config);
  return config_doc(config).dump();
}

RunConfig config_from_json(std::string_view body) {
  return config_from_doc(parse_object(body, "the run config"));
}

std::string_view direction_name(Direction direction) {
  return direction == Direction::Forward ? "forward" : "backward";
}

std::string encode_request(const RunConfig& config, const StepId& id) {
  ordered_json doc;
  doc["protocol"] = kProtocol;
  doc["direction"] = direction_name(id.direction);
  doc["config"] = config_doc(config);
  doc["step"] = id.step;
  doc["layer"] = id.layer;
  doc["slice"] = id.slice;
  return doc.dump();
}

Request decode_request(std::string_view body) {
  const json doc = parse_object(body, "the event");
  const auto protocol = doc.find("protocol");
  if (protocol == doc.end() || !protocol->is_string() ||
      protocol->get<std::string>() != kProtocol) {
    refuse("\"protocol\" must be \"" + std::string(kProtocol) + "\"");
  }
  Request r;
  const std::string direction = text(doc, "direction");
  if (direction == "forward") {
    r.id.direction = Direction::Forward;
  } else if (direction == "backward") {
    r.id.direction = Direction::Backward;
  } else {
    refuse("\"direction\" must be \"forward\" or \"backward\"");
  }
  const auto config = doc.find("config");
  if (config == doc.end() || !config->is_object()) refuse("\"config\" must be an object");
  r.config = config_from_doc(*config);
  r.id.step = number<std::uint32_t>(doc, "step");
  r.id.layer = number<std::uint32_t>(doc, "layer");
  r.id.slice = number<std::uint32_t>(doc, "slice");
  if (r.id.step >= kMaxSteps) refuse("\"step\" must be below " + std::to_string(kMaxSteps));
  if (r.id.layer < 1 || r.id.layer > r.config.layers()) {
    refuse("\"layer\" must be within 1.." + std::to_string(r.config.layers()));
  }
  if (r.id.slice >= r.config.slices(r.id.layer)) {
    refuse("\"slice\" must be below " + std::to_string(r.config.slices(r.id.layer)) +
           " for layer " + std::to_string(r.id.layer));
  }
  return r;
}

std::string encode_answer(const StepAnswer& a) {
  ordered_json doc;
  doc["protocol"] = kProtocol;
  doc["direction"] = direction_name(a.id.direction);
  doc["run_id"] = a.run_id;
  doc["step"] = a.id.step;
  doc["layer"] = a.id.layer;
  doc["slice"] = a.id.slice;
  doc["replayed"] = a.replayed;
  doc["rows"] = a.rows;
  if (a.l2) doc["l2"] = *a.l2;
  if (a.loss) doc["loss"] = *a.loss;
  if (a.correct) doc["correct"] = *a.correct;
  return doc.dump();
}

StepAnswer decode_answer(std::string_view body) {
  const json doc = parse_object(body, "the answer");
  if (text(doc, "protocol") != kProtocol) refuse("not a " + std::string(kProtocol) + " answer");
  StepAnswer a;
  const std::string direction = text(doc, "direction");
  if (direction == "forward") {
    a.id.direction = Direction::Forward;
  } else if (direction == "backward") {
    a.id.direction = Direction::Backward;
  } else {
    refuse("\"direction\" must be forward or backward");
  }
  a.run_id = text(doc, "run_id");
  a.id.step = number<std::uint32_t>(doc, "step");
  a.id.layer = number<std::uint32_t>(doc, "layer");
  a.id.slice = number<std::uint32_t>(doc, "slice");
  const auto replayed = doc.find("replayed");
  if (replayed == doc.end() || !replayed->is_boolean()) refuse("\"replayed\" must be a boolean");
  a.replayed = replayed->get<bool>();
  a.rows = number<std::uint32_t>(doc, "rows");
  if (doc.contains("l2")) a.l2 = number<double>(doc, "l2");
  if (doc.contains("loss")) a.loss = number<double>(doc, "loss");
  if (doc.contains("correct")) a.correct = number<std::uint32_t>(doc, "correct");
  return a;
}

std::string answer_key(std::string_view run_id, const StepId& id) {
  return std::string(run_id) + "/" + std::string(direction_name(id.direction)) + "/" +
         std::to_string(id.step) + "/" + std::to_string(id.layer) + "/" + std::to_string(id.slice);
}

std::string run_prefix(std::string_view run_id) {
  return "runs/" + std::string(run_id) + "/";
}
std::string batch_key(std::string_view run_id, std::uint32_t step) {
  return run_prefix(run_id) + "batch/step-" + five(step) + ".bin";
}
std::string params_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                       std::uint32_t slice) {
  return run_prefix(run_id) + "params/step-" + five(step) + "/" + slice_name(layer, slice);
}
std::string opt_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                    std::uint32_t slice) {
  return run_prefix(run_id) + "opt/step-" + five(step) + "/" + slice_name(layer, slice);
}
std::string act_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                    std::uint32_t slice) {
  return run_prefix(run_id) + "act/step-" + five(step) + "/" + slice_name(layer, slice);
}
std::string grad_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                     std::uint32_t slice) {
  return run_prefix(run_id) + "grad/step-" + five(step) + "/" + slice_name(layer, slice);
}
std::string wgrad_key(std::string_view run_id, std::uint32_t step, std::uint32_t layer,
                      std::uint32_t slice) {
  return run_prefix(run_id) + "wgrad/step-" + five(step) + "/" + slice_name(layer, slice);
}

std::string encode_frames(const std::vector<Tensor>& tensors) {
  std::string out = "STFR";
  out.push_back(1);
  out.append(3, '\0');
  put_u32(out, static_cast<std::uint32_t>(tensors.size()));
  for (const Tensor& t : tensors) {
    const std::string frame = encode_tensor_binary(t, 0);
    put_u64(out, frame.size());
    out += frame;
  }
  return out;
}

std::vector<Tensor> decode_frames(std::string_view bytes, std::size_t count,
                                  std::string_view what) {
  const std::string where(what);
  if (bytes.size() < 12 || bytes.substr(0, 4) != "STFR") {
    refuse(where + ": not a stratus-frames/1 object (bad magic or truncated)");
  }
  if (bytes[4] != 1 || bytes[5] != 0 || bytes[6] != 0 || bytes[7] != 0) {
    refuse(where + ": unsupported stratus-frames version");
  }
  if (get_le(bytes, 8, 4) != count) {
    refuse(where + ": holds " + std::to_string(get_le(bytes, 8, 4)) + " tensors, expected " +
           std::to_string(count));
  }
  std::vector<Tensor> tensors;
  std::size_t at = 12;
  for (std::size_t i = 0; i < count; ++i) {
    if (bytes.size() - at < 8) refuse(where + ": truncated");
    const std::uint64_t length = get_le(bytes, at, 8);
    at += 8;
    if (length > bytes.size() - at) refuse(where + ": truncated frame");
    try {
      tensors.push_back(decode_tensor_binary(bytes.substr(at, length), kMaxObjectBytes));
    } catch (const TensorFormatError& e) {
      refuse(where + ": " + e.what());
    }
    at += length;
  }
  if (at != bytes.size()) refuse(where + ": trailing bytes");
  return tensors;
}

}  // namespace stratus::ml::layer_parallel
