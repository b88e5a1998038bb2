#pragma once
// One invocation of a function: (function name, payload bytes) -> (response bytes, telemetry).
// Implementations: HTTP (http_invoker.hpp: the emulator, any Lambda-compatible endpoint, AWS over
// HTTPS + SigV4) and in-process (local_lambda.hpp: the very handler table the `bootstrap` serves,
// called with the same payload bytes). Workloads never call an Invoker directly: they go through
// the fan-out engine (fan_out.hpp), which adds bounded concurrency, deadlines, retries and cost.

#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "stratus/trainer/invocation_report.hpp"

namespace stratus::trainer {

struct InvocationTelemetry {
  int status = 0;                          // HTTP status (200 for in-process); 0: no answer arrived
  std::string function_error;              // "", "Unhandled", "Handled"
  std::optional<InvocationReport> report;  // the REPORT line (duration, billed, memory, init)
  bool cold_start = false;
  double latency_ms = 0;  // measured by the invoker
  // Modeled figures, once the emulator reports them: the X-Stratus-Modeled-* response headers,
  // names lower-cased without the prefix (e.g. "duration-ms").
  std::map<std::string, std::string> modeled;

  std::string error_type;          // a refusal's X-Amzn-ErrorType, e.g. "TooManyRequestsException"
  bool transport_failure = false;  // no answer: unreachable, connection lost, timed out
  bool timed_out = false;
  // Human-readable reason when the call did not succeed at the HTTP level ("cannot reach ...",
  // "HTTP 404 ResourceNotFoundException: ... (is function 'x' deployed at ...?)").
  std::string error;
  std::optional<std::chrono::milliseconds> retry_after;  // a throttle's Retry-After
  std::string request_id;
};

struct InvocationResult {
  std::string payload;  // the answer; Lambda's error document on a function error
  InvocationTelemetry telemetry;

  // Answered 2xx without a function error.
  bool succeeded() const {
    return telemetry.status >= 200 && telemetry.status < 300 && telemetry.function_error.empty();
  }
};

class Invoker {
 public:
  using Callback = std::function<void(InvocationResult)>;

  virtual ~Invoker() = default;

  // Starts one invocation. `done` runs exactly once, on one of the invoker's threads, never
  // inside start(). Past `deadline` an HTTP call is abandoned and reported timed out; an in-process
  // handler cannot be stopped, so its answer may come late (the fan-out engine's own timer covers
  // that). Thread-safe.
  virtual void start(const std::string& function, std::string payload,
                     std::chrono::milliseconds deadline, Callback done) = 0;

  // At most this many calls make progress at once (in-process: its threads); the fan-out engine
  // keeps no more than that in flight, so queued calls do not eat their deadlines.
  virtual int concurrency() const { return std::numeric_limits<int>::max(); }

  // Where calls go, for tables and reports: "http://127.0.0.1:9001", "local (in-process)", ...
  virtual std::string describe() const = 0;

  // Blocking start().
  InvocationResult invoke(const std::string& function, std::string payload,
                          std::chrono::milliseconds deadline = std::chrono::seconds(120));
};

}  // namespace stratus::trainer
