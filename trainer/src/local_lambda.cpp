#include "stratus/trainer/local_lambda.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "stratus/common/request_id.hpp"
#include "stratus/functions/handlers.hpp"
#include "stratus/functions/product_functions.hpp"
#include "stratus/runtime/runtime_client.hpp"

namespace stratus::trainer {

namespace {

std::filesystem::path make_scratch_root() {
  std::string pattern = (std::filesystem::temp_directory_path() / "stratus-local-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot create a scratch directory under " +
                                std::filesystem::temp_directory_path().string());
  }
  return pattern;
}

// What Lambda answers for a function it does not know.
InvocationResult not_found(const std::string& function) {
  InvocationResult result;
  result.telemetry.status = 404;
  result.telemetry.error_type = "ResourceNotFoundException";
  result.telemetry.error = "HTTP 404 ResourceNotFoundException: Function not found: " + function +
                           " (in-process: not a product function)";
  result.payload = R"({"Type":"User","message":"Function not found"})";
  return result;
}

}  // namespace

LocalFunctionTable product_function_table() {
  const functions::HandlerTable handlers = functions::product_handlers();
  LocalFunctionTable table;
  for (const functions::FunctionSpec& spec : functions::product_functions()) {
    auto handler = handlers.find(spec.handler);
    if (handler == handlers.end()) {
      throw std::logic_error("product function '" + spec.name + "' names handler '" + spec.handler +
                             "', which product_handlers() does not have");
    }
    table[spec.name] = {spec.handler, handler->second, spec.memory_mb, spec.timeout_s};
  }
  return table;
}

LocalLambda::LocalLambda(LocalFunctionTable functions, ml::ObjectStore& store,
                         LocalLambdaOptions options)
    : functions_(std::move(functions)),
      store_(store),
      options_(options),
      scratch_root_(make_scratch_root()),
      events_(options.event_threads) {}

LocalLambda::~LocalLambda() {
  events_.drain();
  std::error_code ignored;
  std::filesystem::remove_all(scratch_root_, ignored);
}

std::unique_ptr<LocalLambda::Environment> LocalLambda::acquire(const std::string& function,
                                                               bool& cold) {
  std::uint64_t number = 0;
  {
    std::lock_guard lock(mutex_);
    auto& idle = idle_[function];
    if (!idle.empty()) {
      std::unique_ptr<Environment> environment = std::move(idle.back());
      idle.pop_back();
      cold = false;
      return environment;
    }
    number = environments_created_[function]++;
  }
  cold = true;
  auto environment = std::make_unique<Environment>();
  environment->scratch_dir = scratch_root_ / (function + "-" + std::to_string(number));
  std::filesystem::create_directories(environment->scratch_dir);
  return environment;
}

void LocalLambda::release(const std::string& function, std::unique_ptr<Environment> environment) {
  std::lock_guard lock(mutex_);
  idle_[function].push_back(std::move(environment));
}

InvocationResult LocalLambda::call(const std::string& function, std::string_view payload,
                                   std::chrono::milliseconds timeout) {
  auto found = functions_.find(function);
  if (found == functions_.end()) return not_found(function);
  const LocalFunction& spec = found->second;
  if (timeout <= std::chrono::milliseconds::zero()) timeout = std::chrono::seconds(spec.timeout_s);

  bool cold = false;
  std::unique_ptr<Environment> environment = acquire(function, cold);
  const auto started = std::chrono::steady_clock::now();
  functions::HandlerContext context{store_,
                                    *this,
                                    std::chrono::system_clock::now() + timeout,
                                    function,
                                    make_request_id(),
                                    environment->scratch_dir};
  runtime::InvocationResponse response =
      functions::serve_invocation(spec.handler, payload, context);
  const double elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  release(function, std::move(environment));

  InvocationResult result;
  result.telemetry.status = 200;
  if (std::chrono::duration<double, std::milli>(timeout).count() < elapsed) {
    // Lambda would have stopped it at its timeout and lost the answer; in-process the handler ran
    // to the end, but what it answered is lost the same way.
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", std::chrono::duration<double>(timeout).count());
    response = runtime::InvocationResponse::failure(
        "Task timed out after " + std::string(seconds) + " seconds", "Sandbox.Timedout");
  }
  // The runtime posts a handler's failure to /error, which Lambda reports as Unhandled.
  if (response.is_error) result.telemetry.function_error = "Unhandled";
  result.telemetry.cold_start = cold;
  result.telemetry.latency_ms = elapsed;
  result.telemetry.request_id = context.request_id;
  result.payload = std::move(response.payload);
  return result;
}

void LocalLambda::invoke_event(const std::string& function, std::string payload) {
  if (!has_function(function)) {
    throw ml::EventInvokeError("Event invoke of '" + function +
                               "' refused: ResourceNotFoundException (in-process: "
                               "not a product function)");
  }
  if (queued_events_.fetch_add(1) >= options_.max_queued_events) {
    --queued_events_;
    throw ml::EventInvokeError("Event invoke of '" + function +
                               "' refused: " + std::to_string(options_.max_queued_events) +
                               " events are queued already");
  }
  {
    std::lock_guard lock(mutex_);
    ++counts_.accepted;
  }
  events_.post([this, function, payload = std::move(payload)] {
    --queued_events_;
    run_event(function, payload, 0);
  });
}

void LocalLambda::run_event(const std::string& function, const std::string& payload, int attempt) {
  InvocationResult result = call(function, payload);
  std::lock_guard lock(mutex_);
  if (result.succeeded()) {
    ++counts_.succeeded;
    return;
  }
  if (attempt < options_.event_retries) {
    ++counts_.retried;
    // Lambda retries a failed event later; in-process "later" is the back of the queue.
    events_.post([this, function, payload, attempt] { run_event(function, payload, attempt + 1); });
    return;
  }
  ++counts_.failed;
  last_event_error_ = result.payload;
}

void LocalLambda::drain_events() {
  events_.drain();
}

LocalLambda::EventCounts LocalLambda::event_counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

std::string LocalLambda::last_event_error() const {
  std::lock_guard lock(mutex_);
  return last_event_error_;
}

InProcessInvoker::InProcessInvoker(LocalLambda& lambda, std::size_t threads)
    : lambda_(lambda),
      pool_(threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency())) {}

InProcessInvoker::~InProcessInvoker() = default;

void InProcessInvoker::start(const std::string& function, std::string payload,
                             std::chrono::milliseconds, Callback done) {
  // The handler gets its function's own timeout, as in Lambda; the caller's deadline is how long it
  // waits (the fan-out engine's timer), which cannot stop a running handler.
  pool_.post([this, function, payload = std::move(payload), done = std::move(done)] {
    done(lambda_.call(function, payload));
  });
}

}  // namespace stratus::trainer
