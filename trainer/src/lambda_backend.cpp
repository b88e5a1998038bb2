#include "stratus/trainer/lambda_backend.hpp"

#include <deque>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "stratus/common/base64.hpp"
#include "stratus/common/tensor_codec.hpp"

namespace stratus::trainer {

using nlohmann::json;

namespace {

constexpr std::uint64_t kMaxGradientTensorBytes = 64ull << 20;

// The parts of a request that never change for a given set of rows: encoded once, reused every
// epoch (full batch) or every time the window comes round (mini-batch).
std::string encode_rows(const ShardTask& task, PayloadFormat format) {
  const std::uint64_t rows = task.y.size();
  if (format == PayloadFormat::Zlib) {
    std::uint64_t x_shape[] = {rows, task.features};
    std::uint64_t y_shape[] = {rows};
    return "\"x\":\"" + encode_tensor(x_shape, task.x) + "\",\"y\":\"" + encode_tensor(y_shape, task.y) + "\"";
  }
  // JSON numbers: each float widened to double prints in the shortest form that reads back as the
  // same double, so the function sees exactly the values this process holds.
  json x = json::array();
  for (std::uint64_t i = 0; i < rows; ++i) {
    json row = json::array();
    for (std::size_t j = 0; j < task.features; ++j) row.push_back(static_cast<double>(task.x[i * task.features + j]));
    x.push_back(std::move(row));
  }
  json y = json::array();
  for (float v : task.y) y.push_back(static_cast<double>(v));
  return "\"x\":" + x.dump() + ",\"y\":" + y.dump();
}

std::string encode_head(const ShardTask& task, std::span<const double> weights, double bias,
                        PayloadFormat format) {
  json head = {{"epoch", task.epoch}, {"step", task.step}, {"shard", task.shard}, {"bias", bias}};
  if (format == PayloadFormat::Zlib) {
    std::uint64_t shape[] = {weights.size()};
    head["format"] = kTensorFormat;
    head["weights"] = encode_tensor(shape, weights);
  } else {
    head["weights"] = std::vector<double>(weights.begin(), weights.end());
  }
  std::string text = head.dump();
  text.pop_back();  // reopen the object for the rows
  return text + ",";
}

ShardGradient decode_gradient_response(const std::string& body, const ShardTask& task, std::size_t features,
                                       PayloadFormat format) {
  json doc = json::parse(body);
  if (doc.at("epoch").get<std::uint32_t>() != task.epoch || doc.at("step").get<std::uint32_t>() != task.step ||
      doc.at("shard").get<std::uint32_t>() != task.shard) {
    throw std::runtime_error("answer is for another (epoch, step, shard)");
  }
  ShardGradient g;
  if (format == PayloadFormat::Zlib) {
    Tensor t = decode_tensor(doc.at("gradient").get<std::string>(), kMaxGradientTensorBytes);
    if (t.dtype != DType::float64 || t.size() != features) throw std::runtime_error("gradient tensor has the wrong shape");
    g.gradient = std::move(t.f64);
  } else {
    g.gradient = doc.at("gradient").get<std::vector<double>>();
    if (g.gradient.size() != features) throw std::runtime_error("gradient has the wrong length");
  }
  g.bias_gradient = doc.at("bias_gradient").get<double>();
  g.sse = doc.at("sse").get<double>();
  g.rows = doc.at("rows").get<std::uint64_t>();
  if (g.rows != task.y.size()) throw std::runtime_error("answer counts a different number of rows");
  return g;
}

class LambdaBackend : public GradientBackend {
 public:
  explicit LambdaBackend(LambdaBackendOptions options)
      : options_(std::move(options)), client_(io_, client_options(options_)) {
    path_ = options_.endpoint.path;
    while (!path_.empty() && path_.back() == '/') path_.pop_back();
    path_ += "/2015-03-31/functions/" + options_.function + "/invocations";
  }

  std::string describe() const override {
    return (options_.label.empty() ? options_.endpoint.origin() : options_.label) + " function '" +
           options_.function + "' (" + (options_.payload == PayloadFormat::Zlib ? "zlib" : "json") + " payload)";
  }

  std::vector<ShardOutcome> compute(std::span<const double> weights, double bias,
                                    const std::vector<ShardTask>& tasks, StepTelemetry& telemetry) override {
    Step step{weights, bias, tasks, telemetry, {}, {}, {}, {}, 0, {}};
    step.outcomes.resize(tasks.size());
    step.done.assign(tasks.size(), false);
    step.function_errors.assign(tasks.size(), 0);
    for (std::size_t i = 0; i < tasks.size(); ++i) step.pending.push_back(i);
    current_ = &step;
    pump();
    io_.restart();
    io_.run();
    current_ = nullptr;
    if (!step.failure.empty()) throw BackendError(step.failure);
    return std::move(step.outcomes);
  }

 private:
  struct Step {
    std::span<const double> weights;
    double bias;
    const std::vector<ShardTask>& tasks;
    StepTelemetry& telemetry;
    std::vector<ShardOutcome> outcomes;
    std::vector<bool> done;
    std::vector<int> function_errors;
    std::deque<std::size_t> pending;
    int in_flight = 0;
    std::string failure;
  };

  static ClientOptions client_options(const LambdaBackendOptions& o) {
    ClientOptions c;
    c.max_connections_per_host = static_cast<std::size_t>(std::max(1, o.max_in_flight));
    c.max_response_bytes = 64ull << 20;
    return c;
  }

  const std::string& rows_fragment(const ShardTask& task) {
    auto it = rows_cache_.find(task.rows_key);
    if (it == rows_cache_.end()) it = rows_cache_.emplace(task.rows_key, encode_rows(task, options_.payload)).first;
    return it->second;
  }

  void pump() {
    Step& step = *current_;
    while (step.failure.empty() && !step.pending.empty() && step.in_flight < options_.max_in_flight) {
      std::size_t index = step.pending.front();
      step.pending.pop_front();
      launch(index);
    }
  }

  void launch(std::size_t index) {
    Step& step = *current_;
    const ShardTask& task = step.tasks[index];
    HttpRequest request;
    request.method = "POST";
    request.target = path_;
    request.headers.add("Content-Type", "application/json");
    request.headers.add("X-Amz-Log-Type", "Tail");
    request.body = encode_head(task, step.weights, step.bias, options_.payload) + rows_fragment(task) + "}";
    CallOptions call;
    call.deadline = options_.call_deadline;
    call.idempotent = true;  // a gradient is a pure function of its request
    if (options_.credentials) {
      call.prepare = [this](HttpRequest& r) {
        aws::sign(r, *options_.credentials, {options_.region, "lambda"}, std::chrono::system_clock::now());
      };
    }
    ++step.in_flight;
    auto started = std::chrono::steady_clock::now();
    client_.send(options_.endpoint, std::move(request), std::move(call),
                 [this, index, started](HttpResult result) { on_answer(index, started, std::move(result)); });
  }

  void on_answer(std::size_t index, std::chrono::steady_clock::time_point started, HttpResult result) {
    Step& step = *current_;
    --step.in_flight;
    const ShardTask& task = step.tasks[index];
    if (step.done[index]) {
      ++step.telemetry.duplicates_ignored;
      return pump();
    }
    step.telemetry.retries += std::max(0, result.attempts - 1);
    if (result.error || result.status < 200 || result.status >= 300) {
      step.failure = "shard " + std::to_string(task.shard) + ": " + explain(result);
      return;
    }
    ++step.telemetry.invocations;
    std::optional<InvocationReport> report;
    if (const std::string* tail = result.headers.find("X-Amz-Log-Result")) {
      if (auto decoded = base64_decode(*tail)) report = parse_report(*decoded);
    }
    if (report) {
      step.telemetry.billed_ms += report->billed_ms;
      step.telemetry.cost_usd += invocation_cost(*report, options_.prices);
      if (report->init_ms) ++step.telemetry.cold_starts;
    }
    std::string error_kind = result.headers.get("X-Amz-Function-Error");
    std::string problem;
    ShardGradient gradient;
    if (error_kind.empty()) {
      try {
        gradient = decode_gradient_response(result.body, task, task.features, options_.payload);
      } catch (const std::exception& e) {
        problem = std::string("unusable answer: ") + e.what();
      }
    } else {
      problem = "function error " + summarize_function_error(result.body);
    }
    if (!problem.empty()) {
      if (++step.function_errors[index] > options_.function_error_retries) {
        step.failure = "shard " + std::to_string(task.shard) + " failed " +
                       std::to_string(step.function_errors[index]) + " times; last: " + problem;
        return;
      }
      ++step.telemetry.retries;
      step.pending.push_back(index);
      return pump();
    }
    step.done[index] = true;
    ShardOutcome& outcome = step.outcomes[index];
    outcome.gradient = std::move(gradient);
    outcome.report = report;
    outcome.attempts = result.attempts + step.function_errors[index];
    outcome.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    pump();
  }

  std::string explain(const HttpResult& result) const {
    std::string where = options_.endpoint.origin();
    if (result.error) return "cannot reach " + where + ": " + result.describe();
    std::string type = result.headers.get("X-Amzn-ErrorType");
    std::string message;
    auto doc = json::parse(result.body, nullptr, false);
    if (doc.is_object()) message = doc.value("message", doc.value("Message", std::string()));
    std::string text = "HTTP " + std::to_string(result.status) + (type.empty() ? "" : " " + type) +
                       (message.empty() ? "" : ": " + message);
    if (result.status == 404) {
      text += " (is function '" + options_.function + "' deployed at " + where + "?)";
    }
    return text;
  }

  static std::string summarize_function_error(const std::string& body) {
    auto doc = json::parse(body, nullptr, false);
    if (!doc.is_object()) return body.substr(0, 200);
    return doc.value("errorType", std::string("Unknown")) + ": " + doc.value("errorMessage", std::string());
  }

  LambdaBackendOptions options_;
  boost::asio::io_context io_;
  HttpClient client_;
  std::string path_;
  std::unordered_map<std::uint64_t, std::string> rows_cache_;
  Step* current_ = nullptr;
};

}  // namespace

std::string encode_gradient_request(const ShardTask& task, std::span<const double> weights, double bias,
                                    PayloadFormat format) {
  return encode_head(task, weights, bias, format) + encode_rows(task, format) + "}";
}

std::unique_ptr<GradientBackend> make_lambda_backend(LambdaBackendOptions options) {
  return std::make_unique<LambdaBackend>(std::move(options));
}

}  // namespace stratus::trainer
