// gradient and gradient_z: request parsing and validation around stratus::linear_gradient.

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "stratus/common/linear_model.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/functions/handlers.hpp"

namespace stratus::functions {
namespace {

using nlohmann::json;
// Responses keep the documented key order, which makes logs and diffs easier to read.
using ordered_json = nlohmann::ordered_json;

json parse_event(std::string_view payload) {
  try {
    json event = json::parse(payload);
    if (!event.is_object()) throw InvalidInput("the event must be a JSON object");
    return event;
  } catch (const json::exception& error) {
    throw InvalidInput(std::string("the event is not valid JSON: ") + error.what());
  }
}

const json& field(const json& event, const char* name) {
  const auto found = event.find(name);
  if (found == event.end()) throw InvalidInput(std::string("missing field \"") + name + "\"");
  return *found;
}

// epoch, step and shard identify the request to the trainer; they are echoed back as given.
json counter(const json& event, const char* name) {
  const json& value = field(event, name);
  const bool non_negative_integer =
      value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
  if (!non_negative_integer) {
    throw InvalidInput(std::string("\"") + name + "\" must be a non-negative integer");
  }
  return value;
}

double finite_number(const json& value, const std::string& what) {
  if (!value.is_number()) throw InvalidInput(what + " must be a number");
  const double number = value.get<double>();
  if (!std::isfinite(number)) throw InvalidInput(what + " is not finite");
  return number;
}

const json& array_field(const json& event, const char* name) {
  const json& value = field(event, name);
  if (!value.is_array()) throw InvalidInput(std::string("\"") + name + "\" must be an array");
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
    throw InvalidInput("the gradient overflows double precision: the inputs are too large");
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

Tensor tensor_field(const json& event, const char* name, DType dtype, std::size_t rank) {
  const json& value = field(event, name);
  if (!value.is_string()) {
    throw InvalidInput(std::string("\"") + name + "\" must be a " + std::string(kTensorFormat) +
                       " string");
  }
  Tensor tensor;
  try {
    tensor = decode_tensor(value.get_ref<const std::string&>(), kMaxRequestTensorBytes);
  } catch (const TensorFormatError& error) {
    throw InvalidInput(std::string("\"") + name + "\": " + error.what());
  }
  if (tensor.dtype != dtype || tensor.rank() != rank) {
    throw InvalidInput(std::string("\"") + name + "\" must be a rank-" + std::to_string(rank) +
                       " " + std::string(dtype_name(dtype)) + " tensor, got rank " +
                       std::to_string(tensor.rank()) + " " + std::string(dtype_name(tensor.dtype)));
  }
  return tensor;
}

// Only called once a result came out non-finite: finds the input to blame for a useful message.
[[noreturn]] void explain_non_finite(std::span<const float> x, std::span<const float> y,
                                     std::size_t features) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) {
      throw InvalidInput("x[" + std::to_string(i / features) + "][" + std::to_string(i % features) +
                         "] is not finite");
    }
  }
  for (std::size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) throw InvalidInput("y[" + std::to_string(i) + "] is not finite");
  }
  throw InvalidInput("the gradient overflows double precision: the inputs are too large");
}

}  // namespace

std::string gradient_handler(std::string_view payload) {
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
  if (rows == 0) throw InvalidInput("\"x\" must hold at least one row");
  if (y_json.size() != rows) {
    throw InvalidInput("\"x\" has " + std::to_string(rows) + " rows but \"y\" has " +
                       std::to_string(y_json.size()) + " values");
  }
  std::vector<double> x;
  x.reserve(rows * features);
  for (std::size_t i = 0; i < rows; ++i) {
    const json& row = x_json[i];
    const std::string where = "x[" + std::to_string(i) + "]";
    if (!row.is_array()) throw InvalidInput(where + " must be an array");
    if (row.size() != features) {
      throw InvalidInput(where + " has " + std::to_string(row.size()) + " values but there are " +
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

std::string gradient_z_handler(std::string_view payload) {
  const json event = parse_event(payload);
  ordered_json response = response_head(event);

  const json& format = field(event, "format");
  if (!format.is_string() || format.get_ref<const std::string&>() != kTensorFormat) {
    throw InvalidInput("\"format\" must be \"" + std::string(kTensorFormat) + "\"");
  }
  response["format"] = std::string(kTensorFormat);

  const Tensor weights = tensor_field(event, "weights", DType::float64, 1);
  for (std::size_t j = 0; j < weights.f64.size(); ++j) {
    if (!std::isfinite(weights.f64[j])) {
      throw InvalidInput("weights[" + std::to_string(j) + "] is not finite");
    }
  }
  const double bias = finite_number(field(event, "bias"), "bias");
  const Tensor x = tensor_field(event, "x", DType::float32, 2);
  const Tensor y = tensor_field(event, "y", DType::float32, 1);
  const std::uint64_t rows = x.shape[0];
  const std::uint64_t features = x.shape[1];
  if (rows == 0) throw InvalidInput("\"x\" must hold at least one row");
  if (features != weights.shape[0]) {
    throw InvalidInput("\"x\" has " + std::to_string(features) + " columns but there are " +
                       std::to_string(weights.shape[0]) + " weights");
  }
  if (y.shape[0] != rows) {
    throw InvalidInput("\"x\" has " + std::to_string(rows) + " rows but \"y\" has " +
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

}  // namespace stratus::functions
