#include "stratus/trainer/http_invoker.hpp"

#include <algorithm>
#include <cctype>

namespace stratus::trainer {

namespace {

constexpr std::string_view kModeledPrefix = "x-stratus-modeled-";

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

InvocationTelemetry telemetry_of(const aws::InvokeResult& result, const std::string& function,
                                 const Endpoint& endpoint) {
  InvocationTelemetry t;
  t.status = result.status;
  t.function_error = result.function_error;
  t.error_type = result.error_type;
  t.request_id = result.request_id;
  t.retry_after = result.retry_after;
  t.transport_failure = static_cast<bool>(result.transport_error);
  t.timed_out = result.transport_error == HttpClientErrc::timeout;
  if (!result.log_tail.empty()) t.report = parse_report(result.log_tail);
  t.cold_start = t.report && t.report->init_ms.has_value();
  for (const HttpHeaderField& field : result.headers.fields()) {
    std::string name = lower(field.name);
    if (name.starts_with(kModeledPrefix))
      t.modeled[name.substr(kModeledPrefix.size())] = field.value;
  }
  if (!result.accepted()) {
    t.error = result.describe_refusal(endpoint);
    if (result.status == 404)
      t.error += " (is function '" + function + "' deployed at " + endpoint.origin() + "?)";
  }
  return t;
}

HttpInvoker::HttpInvoker(aws::LambdaClientOptions options, std::string label)
    : label_(label.empty() ? options.endpoint.origin() : std::move(label)) {
  client_ = std::make_unique<aws::LambdaClient>(std::move(options));
}

HttpInvoker::~HttpInvoker() = default;

int HttpInvoker::concurrency() const {
  return static_cast<int>(std::min<std::size_t>(client_->options().max_connections, 1 << 20));
}

void HttpInvoker::start(const std::string& function, std::string payload,
                        std::chrono::milliseconds deadline, Callback done) {
  aws::InvokeOptions options;
  options.log_tail = true;  // the REPORT line: billed duration, memory, cold start
  options.modeled = true;   // X-Stratus-Modeled-* headers: the modeled round (modeled_round.hpp)
  options.deadline = deadline;
  const auto started = std::chrono::steady_clock::now();
  client_->invoke_async(
      function, std::move(payload), options,
      [this, function, started, done = std::move(done)](aws::InvokeResult answer) {
        InvocationResult result;
        result.telemetry = telemetry_of(answer, function, client_->options().endpoint);
        result.telemetry.latency_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count();
        result.payload = std::move(answer.payload);
        done(std::move(result));
      });
}

}  // namespace stratus::trainer
