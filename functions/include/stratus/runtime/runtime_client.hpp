#pragma once
// Client for the AWS Lambda Runtime API (2018-06-01), the protocol a custom runtime's `bootstrap`
// speaks to whoever runs it: real Lambda, the stratus emulator, or AWS's Runtime Interface
// Emulator.
//
// Most functions only need run_handlers() (or run_handler()): it fetches events, calls the handler
// and reports the result until the process is stopped. RuntimeClient is the single-request layer
// underneath, public for tests and for runtimes that need their own loop.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace stratus::runtime {

// One event handed out by GET /runtime/invocation/next, with the Lambda-Runtime-* headers.
struct InvocationRequest {
  std::string payload;
  std::string request_id;
  std::string function_arn;
  std::string trace_id;
  std::string client_context;    // JSON text, empty when the caller sent none
  std::string cognito_identity;  // JSON text, empty when the caller sent none
  std::chrono::system_clock::time_point deadline;

  // Time left before the invocation times out; zero once the deadline has passed.
  std::chrono::milliseconds remaining_time() const;
};

struct InvocationResponse {
  // On success the handler's output; on failure Lambda's error document
  // {"errorMessage":..,"errorType":..,"stackTrace":[]}.
  std::string payload;
  bool is_error = false;
  std::string error_type;  // empty on success

  static InvocationResponse success(std::string payload);
  static InvocationResponse failure(std::string error_message, std::string error_type);
};

using Handler = std::function<InvocationResponse(const InvocationRequest&)>;

// Builds Lambda's error document, the body of every /error and /init/error post.
std::string error_document(std::string_view error_type, std::string_view error_message);

// A failure a handler reports with its own errorType: throw a subclass (or this class) and the
// runtime posts error_type() verbatim, e.g. "InvalidInput", instead of the exception's C++ type
// name, which is what any other std::exception becomes.
class FunctionError : public std::runtime_error {
 public:
  FunctionError(std::string error_type, const std::string& message)
      : std::runtime_error(message), error_type_(std::move(error_type)) {}
  const std::string& error_type() const noexcept { return error_type_; }

 private:
  std::string error_type_;
};

// The Runtime API could not be reached or answered outside the protocol. A runtime cannot recover
// from this: the environment is gone or broken, so the loop ends and the process exits non-zero.
class RuntimeApiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One keep-alive HTTP/1.1 connection to the Runtime API. Not thread-safe: an execution environment
// runs one invocation at a time, so one connection is all a runtime ever needs.
class RuntimeClient {
 public:
  // endpoint is "host:port", the value of AWS_LAMBDA_RUNTIME_API. Connects lazily on first use.
  explicit RuntimeClient(std::string endpoint);
  // Reads AWS_LAMBDA_RUNTIME_API; throws RuntimeApiError when it is unset or empty.
  static RuntimeClient from_environment();

  RuntimeClient(RuntimeClient&&) noexcept;
  RuntimeClient& operator=(RuntimeClient&&) noexcept;
  ~RuntimeClient();

  // Blocks with no client-side timeout until the next event arrives (the Runtime API long-polls).
  // Throws RuntimeApiError on transport failure, a non-200 answer or a missing request id.
  InvocationRequest next();

  // The post_* calls return the HTTP status (202 when accepted). A 4xx is not thrown: Lambda
  // answers 413 for an oversized response and the runtime must simply carry on with the next event.
  // Transport failures throw RuntimeApiError.
  int post_response(std::string_view request_id, std::string_view body);
  int post_error(std::string_view request_id, std::string_view error_type,
                 std::string_view error_message);
  int post_init_error(std::string_view error_type, std::string_view error_message);
  // Posts to /response or /error depending on response.is_error.
  int post_invocation_result(std::string_view request_id, const InvocationResponse& response);

  const std::string& endpoint() const { return endpoint_; }

 private:
  class Connection;
  // POSTs body to target; a non-empty error_type sets Lambda-Runtime-Function-Error-Type.
  int post(const std::string& target, std::string_view body, std::string_view error_type);

  std::string endpoint_;
  std::unique_ptr<Connection> connection_;
};

// Calls the handler as the runtime loop does: it never throws. A FunctionError becomes its own
// errorType, any other std::exception its C++ type name ("std::runtime_error"), anything else
// "Runtime.HandlerException". The trainer's in-process invoker uses it too, so a refused request
// reads the same in-process as from Lambda.
InvocationResponse invoke_guarded(const Handler& handler, const InvocationRequest& request);

// Serves events with this handler until the Runtime API goes away. Returns the process exit code
// (non-zero: the Runtime API failed or AWS_LAMBDA_RUNTIME_API is unset).
int run_handler(const Handler& handler);

// Picks the handler named by the _HANDLER environment variable and runs it. An unknown name is
// reported as init error Runtime.NoSuchHandler and returns non-zero, as Lambda's own runtimes do.
int run_handlers(const std::map<std::string, Handler>& handlers_by_name);

}  // namespace stratus::runtime
