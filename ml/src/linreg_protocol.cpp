// The linreg protocol: the functions' request parsing and validation around
// stratus::linear_gradient, and the driver's request encoding and answer decoding.

#include "stratus/ml/linreg_protocol.hpp"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "json_long_strings.hpp"
#include "stratus/common/tensor_codec.hpp"

namespace stratus::ml::linreg {
namespace {

using nlohmann::json;
// Responses keep the documented key order, which makes logs and diffs easier to read.
using ordered_json = nlohmann::ordered_json;

[[noreturn]] void refuse_json(const json::exception& error) {
  throw ProtocolError(std::string("the event is not valid JSON: ") + error.what());
}

void require_object(const json& event) {
  if (!event.is_object()) throw ProtocolError("the event must be a JSON object");
}

json parse_event(std::string_view payload) {
  json event;
  try {
    event = json::parse(payload);
  } catch (const json::exception& error) {
    refuse_json(error);
  }
  require_object(event);
  return event;
}

// gradient_z's requests: the tensors are long strings, read in place (json_long_strings.hpp).
JsonWithLongStrings parse_tensor_event(std::string_view payload) {
  try {
    JsonWithLongStrings event(payload);
    require_object(event.document());
    return event;
  } catch (const json::exception& error) {
    refuse_json(error);
  }
}

const json& field(const json& event, const char* name) {
  const auto found = event.find(name);
  if (found == event.end()) throw ProtocolError(std::string("missing field \"") + name + "\"");
  return *found;
}

// epoch, step and shard identify the request to the trainer; they are echoed back as given.
json counter(const json& event, const char* name) {
  const json& value = field(event, name);
  const bool non_negative_integer =
      value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
  if (!non_negative_integer) {
    throw ProtocolError(std::string("\"") + name + "\" must be a non-negative integer");
  }
  return value;
}

double finite_number(const json& value, const std::string& what) {
  if (!value.is_number()) throw ProtocolError(what + " must be a number");
  const double number = value.get<double>();
  if (!std::isfinite(number)) throw ProtocolError(what + " is not finite");
  return number;
}

const json& array_field(const json& event, const char* name) {
  const json& value = field(event, name);
  if (!value.is_array()) throw ProtocolError(std::string("\"") + name + "\" must be an array");
  return value;
}

void append_numbers(const json& array, const std::string& what, std::vector<double>& out) {
  for (std::size_t i = 0; i < array.size(); ++i) {
    out.push_back(finite_number(array[i], what + "[" + std::to_string(i) + "]"));
  }
}

// Finite inputs can still overflow double (e.g. values near 1e200); such a result is refused
// rather than sent as JSON null.
void require_finite_result(const ShardGradient& result) {
  bool finite = std::isfinite(result.sse) && std::isfinite(result.bias_gradient);
  for (const double value : result.gradient) finite = finite && std::isfinite(value);
  if (!finite) {
    throw ProtocolError("the gradient overflows double precision: the inputs are too large");
  }
}

ordered_json response_head(const json& event) {
  ordered_json response;
  response["epoch"] = counter(event, "epoch");
  response["step"] = counter(event, "step");
  response["shard"] = counter(event, "shard");
  return response;
}

void append_result(ordered_json& response, const ShardGradient& result, ordered_json gradient) {
  response["gradient"] = std::move(gradient);
  response["bias_gradient"] = result.bias_gradient;
  response["sse"] = result.sse;
  response["rows"] = result.rows;
}

Tensor tensor_field(const JsonWithLongStrings& event, const char* name, DType dtype,
                    std::size_t rank) {
  const std::optional<std::string_view> text = event.string_value(field(event.document(), name));
  if (!text) {
    throw ProtocolError(std::string("\"") + name + "\" must be a " + std::string(kTensorFormat) +
                        " string");
  }
  Tensor tensor;
  try {
    tensor = decode_tensor(*text, kMaxRequestTensorBytes);
  } catch (const TensorFormatError& error) {
    throw ProtocolError(std::string("\"") + name + "\": " + error.what());
  }
  if (tensor.dtype != dtype || tensor.rank() != rank) {
    throw ProtocolError(std::string("\"") + name + "\" must be a rank-" + std::to_string(rank) +
                        " " + std::string(dtype_name(dtype)) + " tensor, got rank " +
                        std::to_string(tensor.rank()) + " " +
                        std::string(dtype_name(tensor.dtype)));
  }
  return tensor;
}

// Only called once a result came out non-finite: finds the input to blame for a useful message.
[[noreturn]] void explain_non_finite(std::span<const float> x, std::span<const float> y,
                                     std::size_t features) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      throw ProtocolError("x[" + std::to_string(i / features) + "][" +
                          std::to_string(i % features) + "] is not finite");
    }
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) throw ProtocolError("y[" + std::to_string(i) + "] is not finite");
  }
  throw ProtocolError("the gradient overflows double precision: the inputs are too large");
}

std::string serve_json(std::string_view payload) {
  const json event = parse_event(payload);
  ordered_json response = response_head(event);

  const json& weights_json = array_field(event, "weights");
  std::vector<double> weights;
  weights.reserve(weights_json.size());
  append_numbers(weights_json, "weights", weights);
  const double bias = finite_number(field(event, "bias"), "bias");
  const std::size_t features = weights.size();

  const json& x_json = array_field(event, "x");
  const json& y_json = array_field(event, "y");
  const std::size_t rows = x_json.size();
  if (rows == 0) throw ProtocolError("\"x\" must hold at least one row");
  if (y_json.size() != rows) {
    throw ProtocolError("\"x\" has " + std::to_string(rows) + " rows but \"y\" has " +
                        std::to_string(y_json.size()) + " values");
  }
  std::vector<double> x;
  x.reserve(rows * features);
  for (std::size_t i = 0; i < rows; ++i) {
    const json& row = x_json[i];
    const std::string where = "x[" + std::to_string(i) + "]";
    if (!row.is_array()) throw ProtocolError(where + " must be an array");
    if (row.size() != features) {
      throw ProtocolError(where + " has " + std::to_string(row.size()) + " values but there are " +
                          std::to_string(features) + " weights");
    }
    append_numbers(row, where, x);
  }
  std::vector<double> y;
  y.reserve(rows);
  append_numbers(y_json, "y", y);

  const ShardGradient result = linear_gradient(x, y, weights, bias);
  require_finite_result(result);
  append_result(response, result, ordered_json(result.gradient));
  return response.dump();
}

std::string serve_zlib(std::string_view payload) {
  const JsonWithLongStrings request = parse_tensor_event(payload);
  const json& event = request.document();
  ordered_json response = response_head(event);

  const std::optional<std::string_view> format = request.string_value(field(event, "format"));
  if (format != kTensorFormat) {
    throw ProtocolError("\"format\" must be \"" + std::string(kTensorFormat) + "\"");
  }
  response["format"] = std::string(kTensorFormat);

  const Tensor weights = tensor_field(request, "weights", DType::float64, 1);
  for (std::size_t j = 0; j < weights.f64.size(); ++j) {
    if (!std::isfinite(weights.f64[j])) {
      throw ProtocolError("weights[" + std::to_string(j) + "] is not finite");
    }
  }
  const double bias = finite_number(field(event, "bias"), "bias");
  const Tensor x = tensor_field(request, "x", DType::float32, 2);
  const Tensor y = tensor_field(request, "y", DType::float32, 1);
  const std::uint64_t rows = x.shape[0];
  const std::uint64_t features = x.shape[1];
  if (rows == 0) throw ProtocolError("\"x\" must hold at least one row");
  if (features != weights.shape[0]) {
    throw ProtocolError("\"x\" has " + std::to_string(features) + " columns but there are " +
                        std::to_string(weights.shape[0]) + " weights");
  }
  if (y.shape[0] != rows) {
    throw ProtocolError("\"x\" has " + std::to_string(rows) + " rows but \"y\" has " +
                        std::to_string(y.shape[0]) + " values");
  }

  // Non-finite x or y always make the sse non-finite (NaN or inf never cancels in a sum of
  // squares), so the data is scanned for the culprit only when that happens.
  const ShardGradient result = linear_gradient(x.f32, y.f32, weights.f64, bias);
  if (!std::isfinite(result.sse)) explain_non_finite(x.f32, y.f32, features);
  require_finite_result(result);
  const std::uint64_t gradient_shape[] = {features};
  append_result(response, result,
                encode_tensor(gradient_shape, std::span<const double>(result.gradient)));
  return response.dump();
}

// Bounds the gradient tensor of an answer (8 bytes per feature plus the header).
constexpr std::uint64_t kMaxGradientTensorBytes = 64ull << 20;

}  // namespace

std::string_view function_for(PayloadFormat format) {
  return format == PayloadFormat::Zlib ? "gradient_z" : "gradient";
}

std::string serve(std::string_view request, PayloadFormat format) {
  return format == PayloadFormat::Zlib ? serve_zlib(request) : serve_json(request);
}

std::string encode_rows(std::span<const float> x, std::span<const float> y, std::size_t features,
                        PayloadFormat format) {
  const std::uint64_t rows = y.size();
  if (x.size() != rows * features)
    throw std::invalid_argument("x does not hold rows x features values");
  if (format == PayloadFormat::Zlib) {
    const std::uint64_t x_shape[] = {rows, features};
    const std::uint64_t y_shape[] = {rows};
    return "\"x\":\"" + encode_tensor(x_shape, x) + "\",\"y\":\"" + encode_tensor(y_shape, y) +
           "\"";
  }
  // JSON numbers: each float widened to double prints in the shortest form that reads back as the
  // same double, so the function sees exactly the values the driver holds.
  json x_json = json::array();
  for (std::uint64_t i = 0; i < rows; ++i) {
    json row = json::array();
    for (std::size_t j = 0; j < features; ++j)
      row.push_back(static_cast<double>(x[i * features + j]));
    x_json.push_back(std::move(row));
  }
  json y_json = json::array();
  for (float v : y) y_json.push_back(static_cast<double>(v));
  return "\"x\":" + x_json.dump() + ",\"y\":" + y_json.dump();
}

std::string encode_request(const ShardIds& ids, std::span<const double> weights, double bias,
                           std::string_view encoded_rows, PayloadFormat format) {
  json head = {{"epoch", ids.epoch}, {"step", ids.step}, {"shard", ids.shard}, {"bias", bias}};
  if (format == PayloadFormat::Zlib) {
    const std::uint64_t shape[] = {weights.size()};
    head["format"] = kTensorFormat;
    head["weights"] = encode_tensor(shape, weights);
  } else {
    head["weights"] = std::vector<double>(weights.begin(), weights.end());
  }
  std::string text = head.dump();
  text.pop_back();  // reopen the object for the rows
  text += ',';
  text += encoded_rows;
  text += '}';
  return text;
}

GradientAnswer decode_answer(std::string_view body, std::size_t features, PayloadFormat format) {
  GradientAnswer answer;
  try {
    const json doc = json::parse(body);
    answer.ids = {doc.at("epoch").get<std::uint32_t>(), doc.at("step").get<std::uint32_t>(),
                  doc.at("shard").get<std::uint32_t>()};
    ShardGradient& g = answer.gradient;
    if (format == PayloadFormat::Zlib) {
      Tensor t = decode_tensor(doc.at("gradient").get<std::string>(), kMaxGradientTensorBytes);
      if (t.dtype != DType::float64 || t.size() != features)
        throw ProtocolError("the gradient tensor has the wrong shape");
      g.gradient = std::move(t.f64);
    } else {
      g.gradient = doc.at("gradient").get<std::vector<double>>();
      if (g.gradient.size() != features) throw ProtocolError("the gradient has the wrong length");
    }
    g.bias_gradient = doc.at("bias_gradient").get<double>();
    g.sse = doc.at("sse").get<double>();
    g.rows = doc.at("rows").get<std::uint64_t>();
  } catch (const json::exception& error) {
    throw ProtocolError(std::string("not a gradient answer: ") + error.what());
  } catch (const TensorFormatError& error) {
    throw ProtocolError(std::string("not a gradient answer: ") + error.what());
  }
  return answer;
}

}  // namespace stratus::ml::linreg
