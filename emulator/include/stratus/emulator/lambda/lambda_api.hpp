#pragma once
// The daemon's front door: the Lambda Invoke and management APIs, plus the emulator's own
// endpoints (/healthz, /metrics, /stratus/v1/...). Every refusal goes through make_error_response.

#include "stratus/common/http_server.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_registry.hpp"
#include "stratus/emulator/lambda/function_urls.hpp"
#include "stratus/emulator/lambda/json_validation.hpp"
#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/lambda/lambda_router.hpp"
#include "stratus/emulator/lambda/scheduler.hpp"

namespace stratus::emulator {

// Lambda's request size limits.
inline constexpr std::uint64_t kMaxSyncPayloadBytes = 6291456;
inline constexpr std::uint64_t kMaxEventPayloadBytes = 1048576;
inline constexpr std::uint64_t kMaxInvokeAsyncPayloadBytes = 262144;
inline constexpr std::uint64_t kMaxCodeUploadRequestBytes = 69905067;
inline constexpr std::uint64_t kMaxManagementRequestBytes = 1048576;
inline constexpr std::size_t kMaxClientContextBytes = 3583;

// A Lambda request's route, decided once from its head (LambdaApi::plan) and carried with it.
struct LambdaRequestRoute {
  std::optional<FunctionUrlTarget> url;  // set for a request to a function URL
  Route api;                             // otherwise, the API operation
  std::uint64_t body_limit = 0;          // Lambda's limit for this operation
};
LambdaRequestRoute route_lambda_request(const HttpRequestHead& head);

// /healthz, /metrics, /stratus/v1/...: the emulator's own endpoints (observability_api.cpp), which
// are not signed.
bool is_observability_endpoint(Operation op);

class LambdaApi : public HttpHandler {
 public:
  LambdaApi(const EmulatorConfig& config, FunctionRegistry& registry, Scheduler& scheduler,
            Metering& metering);

  HttpRequestPlan plan(const HttpRequestHead& head) override;
  HttpResponse reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  void handle(HttpRequest request, HttpResponder respond) override;

  // Fault injection (invoke latency, 429 throttles) and its admin API; may stay null.
  void set_faults(class FaultInjector* faults) { faults_ = faults; }
  // Where code uploads are read, checked and extracted (off the io thread); while null they run
  // inline.
  void set_blocking_work(class BlockingWork* work) { blocking_work_ = work; }

 private:
  // The emulator's own endpoints (observability_api.cpp); faults_admin is GET/PUT/DELETE
  // /stratus/v1/faults.
  HttpResponse observe(const Route& route, const HttpRequest& request, const std::string& request_id);
  HttpResponse faults_admin(const Route& route, const HttpRequest& request, const std::string& request_id);
  // Throws ApiException (403, AWS's error types) unless the request carries a valid SigV4
  // signature from an accepted key.
  void check_signature(const HttpRequest& request) const;
  void invoke(const Route& route, HttpRequest& request, const std::string& request_id,
              HttpResponder& respond);
  void invoke_async_legacy(const Route& route, HttpRequest& request, const std::string& request_id,
                           HttpResponder& respond);
  // Runs `start` now, or after an injected invoke latency (answering its refusals itself then).
  void start_after_injected_latency(double latency_ms, const std::string& request_id,
                                    HttpResponder& respond, std::function<void()> start);
  HttpResponse manage(const Route& route, HttpRequest& request, const std::string& request_id);
  // The function's configuration document (GetFunctionConfiguration's shape) as the answer.
  HttpResponse configuration_response(int status, const FunctionConfig& f, const std::string& request_id) const;
  FunctionConfigPtr find_function(const std::string& raw, const std::string& query_qualifier) const;

  // Each answers with `request_id`, the id handle() logs for the request.
  // CreateFunction and UpdateFunctionCode: the body is parsed and the zip extracted on
  // blocking_work_, the function registered back on the io thread.
  void create_function(HttpRequest& request, const std::string& request_id, HttpResponder& respond);
  void update_function_code(const Route& route, HttpRequest& request, const std::string& request_id,
                            HttpResponder& respond);
  // Runs `work` on blocking_work_ (inline while it is null), then `complete` on the io thread, and
  // answers with complete()'s response or the refusal either threw.
  void run_upload(HttpRequestHead head, Operation op, std::string request_id, HttpResponder respond,
                  std::function<void()> work, std::function<HttpResponse()> complete);
  // The answer to a refused request (ApiException, FunctionRegistryError or anything else), logged
  // with its request id. Every refusal of handle() and of the work it started goes through here.
  void refuse(std::exception_ptr error, const HttpRequestHead& head, Operation op, const std::string& request_id,
              HttpResponder& respond) const;
  HttpResponse list_functions(const Route& route, const std::string& request_id);
  HttpResponse get_function(const FunctionConfig& f, const std::string& request_id);
  HttpResponse update_function_configuration(const FunctionConfig& f, const HttpRequest& request,
                                             const std::string& request_id);
  HttpResponse put_function_concurrency(const FunctionConfig& f, const HttpRequest& request,
                                        const std::string& request_id);
  HttpResponse put_event_invoke_config(const FunctionConfig& f, const HttpRequest& request, bool merge,
                                       const std::string& request_id);
  HttpResponse event_invoke_config_response(const FunctionConfig& f, const std::string& request_id);
  HttpResponse account_settings(const std::string& request_id);
  // Function URLs: the management operations (function_url_api.cpp) and a request to a URL
  // (function_url_invoke.cpp), which authorises itself by the URL's AuthType.
  HttpResponse manage_function_url(const Route& route, const FunctionConfig& function, HttpRequest& request,
                                   const std::string& request_id);
  void invoke_function_url(const FunctionUrlTarget& target, HttpRequest& request, const std::string& request_id,
                           HttpResponder& respond);

  const EmulatorConfig& config_;
  FunctionRegistry& registry_;
  Scheduler& scheduler_;
  Metering& metering_;
  JsonValidator json_validator_;
  FunctionUrls function_urls_;
  class FaultInjector* faults_ = nullptr;
  class BlockingWork* blocking_work_ = nullptr;
  std::map<std::string, std::uint64_t> recursion_stops_;  // per function, for /stratus/v1/usage
};

}  // namespace stratus::emulator
