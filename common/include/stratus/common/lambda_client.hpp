#pragma once
// A Lambda client for the trainer (fan-out invocations, `deploy`) and for functions (Event
// invocations of other functions): Invoke (RequestResponse, Event, DryRun) and the management calls
// deploying needs, against AWS (HTTPS + SigV4) or any Lambda-compatible endpoint (the emulator).
// Static-linkable like the S3 client: no logging library.
//
// The work runs on the client's own I/O thread (one keep-alive connection pool, HttpClient's
// deadlines). invoke_async() is for many calls in flight from one caller; every other member blocks
// its caller. One client may be used from several threads at the same time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "stratus/common/http_client.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::aws {

struct LambdaClientOptions {
  Endpoint endpoint;
  // SigV4-signed when set; unsigned otherwise (an emulator that does not check signatures).
  std::optional<Credentials> credentials;
  std::string region = "us-east-1";
  // Deadline of each management call, retries included (invocations take theirs from
  // InvokeOptions).
  std::chrono::milliseconds call_deadline{60000};
  std::size_t max_connections = 64;
  // Sync invoke responses are at most 6 MB on Lambda; the rest is room for other endpoints.
  std::uint64_t max_response_bytes = 64ull << 20;
  // For management calls (429 and 5xx retried). Invocations are never retried here (Lambda may
  // have run one whose answer was lost): a throttle or 5xx is returned to the caller, who decides
  // (the trainer's fan-out engine retries with its own counts); only a connection failure before
  // the request was sent is retried.
  RetryPolicy retry;
  std::string ca_file;  // extra trusted CAs (PEM), besides the system's
  bool verify_tls = true;

  // resolve_region, resolve_credentials, resolve_endpoint("lambda", region) and AWS_CA_BUNDLE,
  // as the AWS CLI and SDKs do. Throws ConfigurationError (aws_environment.hpp).
  static LambdaClientOptions from_environment(std::string_view profile = {});
};

enum class InvocationType { RequestResponse, Event, DryRun };

struct InvokeOptions {
  InvocationType type = InvocationType::RequestResponse;
  bool log_tail = false;  // X-Amz-Log-Type: Tail (RequestResponse only): the log's last 4 KB
  std::string qualifier;  // version or alias; empty: $LATEST
  std::chrono::milliseconds deadline{120000};
  // X-Amzn-Trace-Id: a function forwards its own (_X_AMZN_TRACE_ID) so that Lambda's recursive
  // loop detection sees the chain; empty sends none.
  std::string trace_header;
  // X-Stratus-Modeled: 1 (Stratus only; AWS ignores it): the emulator then answers with the
  // invocation's modeled figures as X-Stratus-Modeled-* headers (InvokeResult::headers).
  bool modeled = false;
};

struct InvokeResult {
  std::error_code transport_error;  // set when no HTTP response arrived (connect, timeout, ...)
  std::string transport_message;
  int status = 0;              // 200 / 202 / 204, or the refusal's status
  std::string payload;         // the function's answer, or the refusal's error document
  std::string function_error;  // X-Amz-Function-Error: "", "Unhandled", "Handled"
  std::string error_type;      // X-Amzn-ErrorType of a refusal, e.g. TooManyRequestsException
  std::string log_tail;        // decoded X-Amz-Log-Result (with log_tail)
  std::string request_id;      // x-amzn-RequestId
  std::optional<std::chrono::milliseconds> retry_after;  // Retry-After of a 429
  HttpHeaders headers;  // every response header, for figures this struct does not name
  int attempts = 0;

  // A 2xx answer (which may still carry a function error).
  bool accepted() const { return !transport_error && status >= 200 && status < 300; }
  // "cannot reach ...: ..." / "HTTP 404 ResourceNotFoundException: Function not found: ...".
  std::string describe_refusal(const Endpoint& endpoint) const;
};

// A call Lambda (or the connection to it) refused. status() 0 for transport failures.
class LambdaError : public std::runtime_error {
 public:
  LambdaError(const std::string& what, int status, std::string type)
      : std::runtime_error(what), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }  // e.g. "ResourceNotFoundException"

 private:
  int status_;
  std::string type_;
};

// What CreateFunction / UpdateFunctionConfiguration set.
struct FunctionDefinition {
  std::string name;
  std::string handler;
  std::string runtime = "provided.al2023";
  std::string role;  // IAM role ARN (required by AWS for CreateFunction; the emulator takes any)
  int memory_mb = 128;
  int timeout_s = 3;
  std::string description;
  std::string architecture = "x86_64";
  std::map<std::string, std::string> environment;
};

// The parts of a FunctionConfiguration document deploying looks at.
struct FunctionState {
  std::string name;
  std::string arn;
  std::string state;  // Pending, Active, Inactive, Failed
  std::string state_reason;
  std::string last_update_status;  // InProgress, Successful, Failed
  std::string last_update_status_reason;
  std::string handler;
  std::string runtime;
  int memory_mb = 0;
  int timeout_s = 0;
  std::string code_sha256;  // base64 SHA-256 of the deployment package
  std::string revision_id;
};

class LambdaClient {
 public:
  explicit LambdaClient(LambdaClientOptions options);
  ~LambdaClient();
  LambdaClient(const LambdaClient&) = delete;
  LambdaClient& operator=(const LambdaClient&) = delete;

  const LambdaClientOptions& options() const;

  // Starts an invocation; `done` runs exactly once, on the client's I/O thread (keep it short).
  // Never throws for what the server answers: refusals and transport failures are in the result.
  void invoke_async(const std::string& function, std::string payload, const InvokeOptions& options,
                    std::function<void(InvokeResult)> done);
  // Blocking invoke_async().
  InvokeResult invoke(const std::string& function, std::string payload,
                      const InvokeOptions& options = {});
  // An Event invocation; throws LambdaError unless Lambda accepted it (202).
  void invoke_event(const std::string& function, std::string payload);

  // Management. Each throws LambdaError for a refusal (its type names Lambda's exception).
  FunctionState create_function(const FunctionDefinition& definition, std::string_view zip);
  FunctionState update_function_code(const std::string& name, std::string_view zip);
  FunctionState update_function_configuration(const FunctionDefinition& definition);
  // Changes only the memory size (UpdateFunctionConfiguration with MemorySize alone): what the
  // cost optimiser moves between runs.
  FunctionState set_memory_size(const std::string& name, int memory_mb);
  // Reserved concurrency (PutFunctionConcurrency); 0 throttles every invocation, AWS's own
  // emergency stop. DeleteFunctionConcurrency removes the reservation.
  void put_function_concurrency(const std::string& name, int reserved);
  void delete_function_concurrency(const std::string& name);
  // GetFunctionConcurrency: the reserved concurrency, nullopt when there is none.
  std::optional<int> get_function_concurrency(const std::string& name);
  // PutFunctionRecursionConfig: "Terminate" or "Allow".
  void put_function_recursion_config(const std::string& name, const std::string& recursive_loop);
  // nullopt when the function does not exist.
  std::optional<FunctionState> get_function_configuration(const std::string& name);
  void delete_function(const std::string& name);
  // Polls GetFunctionConfiguration until the function is Active and its last update is no longer
  // InProgress (AWS refuses changes to a function that is being updated). Throws LambdaError when
  // it went Failed or `timeout` passed.
  FunctionState wait_until_ready(
      const std::string& name, std::chrono::milliseconds timeout,
      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(500));

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Reads the fields of FunctionState from a FunctionConfiguration JSON document. Throws
// LambdaError (status 0, type "MalformedResponse") for text that is not one.
FunctionState parse_function_state(std::string_view json_text);

}  // namespace stratus::aws
