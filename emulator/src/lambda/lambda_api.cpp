#include "stratus/emulator/lambda/lambda_api.hpp"

#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/base64.hpp"
#include "stratus/common/carried_route.hpp"
#include "stratus/common/request_id.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/lambda/api_error.hpp"
#include "stratus/emulator/lambda/api_messages.hpp"
#include "stratus/emulator/lambda/async_destinations.hpp"
#include "stratus/emulator/lambda/function_config_validation.hpp"
#include "stratus/emulator/blocking_work.hpp"
#include "stratus/emulator/faults/fault_injector.hpp"
#include "stratus/emulator/lambda/recursion_chain.hpp"

namespace stratus::emulator {

using nlohmann::json;

namespace {

// A 202 promises the event is on disk; when the journal cannot write it, the client is told to retry.
HttpResponse journal_failure_response(const std::string& request_id) {
  return make_error_response(LambdaError::Service,
                             "The event could not be stored (see the emulator's log); retry the request.",
                             request_id);
}

// Lambda's answer to a change the registry refused.
ApiException api_error_for(const FunctionRegistryError& e) {
  switch (e.failure) {
    case RegistryFailure::AlreadyExists:
      return ApiException(LambdaError::ResourceConflict, std::string("Function already exist: ") + e.what());
    case RegistryFailure::UnusableCode:
      return ApiException(LambdaError::InvalidParameterValue,
                          std::string("Could not unzip uploaded file. Please check your file, then try to upload "
                                      "again. (") + e.what() + ")");
  }
  return ApiException(LambdaError::Service, e.what());
}

[[noreturn]] void invalid(const std::string& message) {
  throw ApiException(LambdaError::InvalidParameterValue, message);
}

// A RevisionId in the body must name the function's current revision.
void require_revision(const json& body, const std::string& revision_id) {
  if (body.contains("RevisionId") && body["RevisionId"] != revision_id) {
    throw ApiException(LambdaError::PreconditionFailed,
                       "The Revision Id provided does not match the latest Revision Id.");
  }
}

int int_field(const json& body, const char* name, int min, int max) {
  const json& v = body.at(name);
  if (!v.is_number_integer()) invalid(std::string(name) + " must be an integer");
  auto i = v.get<long long>();
  if (i < min || i > max) {
    invalid("1 validation error detected: Value '" + std::to_string(i) + "' at '" + name +
            "' failed to satisfy constraint: Member must have value between " + std::to_string(min) +
            " and " + std::to_string(max));
  }
  return static_cast<int>(i);
}

std::string string_field(const json& body, const char* name) {
  const json& v = body.at(name);
  if (!v.is_string()) invalid(std::string(name) + " must be a string");
  return v.get<std::string>();
}

std::map<std::string, std::string> read_environment(const json& body) {
  std::map<std::string, std::string> out;
  const json& env = body.at("Environment");
  if (!env.is_object()) invalid("Environment must be an object");
  auto vars = env.find("Variables");
  if (vars == env.end() || vars->is_null()) return out;
  if (!vars->is_object()) invalid("Environment.Variables must be an object");
  for (const auto& [key, value] : vars->items()) {
    if (!value.is_string()) invalid("Environment variable '" + key + "' must be a string");
    out[key] = value.get<std::string>();
  }
  return out;
}

std::string decode_zip(const json& code_or_body) {
  auto zip = code_or_body.find("ZipFile");
  if (zip == code_or_body.end()) {
    if (code_or_body.contains("S3Bucket") || code_or_body.contains("ImageUri")) {
      invalid("This emulator accepts function code as ZipFile only (S3 and image code are not "
              "supported).");
    }
    invalid("Code must contain ZipFile");
  }
  if (!zip->is_string()) invalid("ZipFile must be base64 text");
  auto bytes = base64_decode(zip->get<std::string>());
  if (!bytes) invalid("Could not unzip uploaded file. Please check your file, then try to upload again.");
  return std::move(*bytes);
}

// Fields of CreateFunction / UpdateFunctionConfiguration that both accept.
void apply_configuration_fields(FunctionConfig& f, const json& body) {
  if (body.contains("MemorySize")) f.memory_mb = int_field(body, "MemorySize", kMinMemoryMb, kMaxMemoryMb);
  if (body.contains("Timeout")) f.timeout_s = int_field(body, "Timeout", 1, kMaxTimeoutS);
  if (body.contains("Handler")) f.handler = string_field(body, "Handler");
  if (body.contains("Description")) f.description = string_field(body, "Description");
  if (body.contains("Role")) f.role = string_field(body, "Role");
  if (body.contains("Runtime")) f.runtime = string_field(body, "Runtime");
  if (body.contains("Environment")) f.environment = read_environment(body);
  if (body.contains("EphemeralStorage")) {
    const json& storage = body["EphemeralStorage"];
    if (!storage.is_object() || !storage.contains("Size")) invalid("EphemeralStorage must be {\"Size\": MB}");
    f.ephemeral_storage_mb = int_field(storage, "Size", kMinEphemeralStorageMb, kMaxEphemeralStorageMb);
  }
  if (auto problem = check_function_settings(f.handler, f.description, f.environment)) invalid(problem->message);
}

// {"OnSuccess": {"Destination": ARN}, "OnFailure": {"Destination": ARN}}, either optional; an empty
// ARN means none. Only destinations the emulator can deliver to are accepted.
json read_destination_config(const json& config) {
  if (!config.is_object()) invalid("DestinationConfig must be an object");
  json out = json::object();
  for (const auto& [key, value] : config.items()) {
    if (key != "OnSuccess" && key != "OnFailure") invalid("DestinationConfig has no field '" + key + "'");
    if (!value.is_object()) invalid("DestinationConfig." + key + " must be an object");
    for (const auto& [field, _] : value.items()) {
      if (field != "Destination") invalid("DestinationConfig." + key + " has no field '" + field + "'");
    }
    auto arn = value.find("Destination");
    if (arn == value.end() || arn->is_null()) continue;
    if (!arn->is_string() || arn->get<std::string>().size() > 350) {
      invalid("DestinationConfig." + key + ".Destination must be an ARN of at most 350 characters");
    }
    if (arn->get<std::string>().empty()) continue;
    std::string why;
    if (!parse_destination_arn(arn->get<std::string>(), key == "OnFailure", why)) {
      invalid("The destination ARN " + arn->get<std::string>() + " is invalid: " + why);
    }
    out[key] = {{"Destination", arn->get<std::string>()}};
  }
  return out;
}

double epoch_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

LambdaApi::LambdaApi(const EmulatorConfig& config, FunctionRegistry& registry, Scheduler& scheduler,
                     Metering& metering)
    : config_(config), registry_(registry), scheduler_(scheduler), metering_(metering) {}

LambdaRequestRoute route_lambda_request(const HttpRequestHead& head) {
  LambdaRequestRoute decided;
  decided.url = function_url_target(head);
  if (decided.url) {
    decided.body_limit = kMaxSyncPayloadBytes;
    return decided;
  }
  decided.api = route_request(head.method, head.target);
  switch (decided.api.operation) {
    case Operation::Invoke:
      decided.body_limit = iequals(head.headers.get("X-Amz-Invocation-Type"), "Event") ? kMaxEventPayloadBytes
                                                                                       : kMaxSyncPayloadBytes;
      break;
    case Operation::InvokeAsync: decided.body_limit = kMaxInvokeAsyncPayloadBytes; break;
    case Operation::CreateFunction:
    case Operation::UpdateFunctionCode: decided.body_limit = kMaxCodeUploadRequestBytes; break;
    default: decided.body_limit = kMaxManagementRequestBytes; break;
  }
  return decided;
}

HttpRequestPlan LambdaApi::plan(const HttpRequestHead& head) {
  LambdaRequestRoute decided = route_lambda_request(head);
  const std::uint64_t limit = decided.body_limit;
  return {limit, carry_route(std::move(decided))};
}

HttpResponse LambdaApi::reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) {
  std::optional<LambdaRequestRoute> storage;
  const LambdaRequestRoute& decided = carried_route_or(plan.route, storage, [&] { return route_lambda_request(head); });
  const Operation op = decided.url ? Operation::Invoke : decided.api.operation;
  spdlog::info("{} {} refused: body over {} bytes", head.method, head.target, decided.body_limit);
  return make_error_response(LambdaError::RequestTooLarge,
                             "Request must be smaller than " + std::to_string(decided.body_limit) +
                                 " bytes for the " + operation_name(op) + " operation",
                             make_request_id());
}

void LambdaApi::check_signature(const HttpRequest& request) const {
  auto lookup = [this](const std::string& key) { return config_.sigv4.secret_for(key); };
  auto result = aws::verify(request, request.body, lookup, std::chrono::system_clock::now());
  switch (result) {
    case aws::VerifyResult::Ok: return;
    case aws::VerifyResult::Missing:
      throw ApiException(LambdaError::MissingAuthenticationToken, "Missing Authentication Token");
    case aws::VerifyResult::Malformed:
      throw ApiException(LambdaError::IncompleteSignature,
                         "The request signature is incomplete or malformed (Authorization, X-Amz-Date, "
                         "or a signed Host header is missing).");
    case aws::VerifyResult::UnknownKey:
      throw ApiException(LambdaError::UnrecognizedClient,
                         "The security token included in the request is invalid.");
    case aws::VerifyResult::Expired:
      throw ApiException(LambdaError::InvalidSignature,
                         "Signature expired: X-Amz-Date is more than 15 minutes from the server's time.");
    case aws::VerifyResult::Mismatch:
      throw ApiException(LambdaError::InvalidSignature,
                         "The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method.");
  }
}

void LambdaApi::handle(HttpRequest request, HttpResponder respond) {
  const std::string request_id = make_request_id();
  std::optional<LambdaRequestRoute> storage;
  const std::shared_ptr<const HttpRoute> carried = request.route;  // keeps the route alive
  const LambdaRequestRoute& decided = carried_route_or(carried, storage, [&] { return route_lambda_request(request); });
  if (decided.url) return invoke_function_url(*decided.url, request, request_id, respond);
  const Route& route = decided.api;
  try {
    if (config_.sigv4.enabled && !is_observability_endpoint(route.operation)) check_signature(request);
    switch (route.operation) {
      case Operation::Invoke: return invoke(route, request, request_id, respond);
      case Operation::InvokeAsync: return invoke_async_legacy(route, request, request_id, respond);
      case Operation::CreateFunction: return create_function(request, request_id, respond);
      case Operation::UpdateFunctionCode: return update_function_code(route, request, request_id, respond);
      default: {
        HttpResponse response = manage(route, request, request_id);
        if (route.operation != Operation::Metrics && route.operation != Operation::Usage &&
            route.operation != Operation::GetFaults &&
            route.operation != Operation::Health && route.operation != Operation::Environments) {
          spdlog::info("{} {} -> {} (request {})", operation_name(route.operation), route.function, response.status,
                       request_id);
        }
        return respond(std::move(response));
      }
    }
  } catch (...) {
    refuse(std::current_exception(), request, route.operation, request_id, respond);
  }
}

void LambdaApi::refuse(std::exception_ptr error, const HttpRequestHead& head, Operation op,
                       const std::string& request_id, HttpResponder& respond) const {
  try {
    std::rethrow_exception(error);
  } catch (const ApiException& e) {
    spdlog::info("{} {} {} refused: {} {} (request {})", head.method, head.target, operation_name(op),
                 describe(e.error()).type, e.message(), request_id);
    respond(make_error_response(e.error(), e.message(), request_id, e.reason()));
  } catch (const FunctionRegistryError& e) {
    const ApiException refusal = api_error_for(e);
    spdlog::info("{} {} {} refused: {} {} (request {})", head.method, head.target, operation_name(op),
                 describe(refusal.error()).type, refusal.message(), request_id);
    respond(make_error_response(refusal.error(), refusal.message(), request_id));
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {} (request {})", head.method, head.target, e.what(), request_id);
    respond(make_error_response(LambdaError::Service, std::string("Internal error: ") + e.what(), request_id));
  } catch (...) {
    spdlog::error("{} {} failed: unknown exception (request {})", head.method, head.target, request_id);
    respond(make_error_response(LambdaError::Service, "Internal error", request_id));
  }
}

void LambdaApi::run_upload(HttpRequestHead head, Operation op, std::string request_id, HttpResponder respond,
                           std::function<void()> work, std::function<HttpResponse()> complete) {
  auto then = [this, head = std::move(head), op, request_id = std::move(request_id), respond = std::move(respond),
               complete = std::move(complete)](std::exception_ptr error) mutable {
    if (!error) {
      try {
        HttpResponse response = complete();
        spdlog::info("{} {} -> {} (request {})", operation_name(op), head.target, response.status, request_id);
        return respond(std::move(response));
      } catch (...) {
        error = std::current_exception();
      }
    }
    refuse(error, head, op, request_id, respond);
  };
  if (blocking_work_) return blocking_work_->run(std::move(work), std::move(then));
  std::exception_ptr error;
  try {
    work();
  } catch (...) {
    error = std::current_exception();
  }
  then(error);
}

HttpResponse LambdaApi::configuration_response(int status, const FunctionConfig& f,
                                               const std::string& request_id) const {
  return json_response(status, to_function_configuration(f, config_.region, config_.account_id), request_id);
}

FunctionConfigPtr LambdaApi::find_function(const std::string& raw, const std::string& query_qualifier) const {
  FunctionReference ref;
  if (!parse_function_reference(raw, ref)) {
    invalid("1 validation error detected: Value '" + raw +
            "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern");
  }
  std::string qualifier = !query_qualifier.empty() ? query_qualifier : ref.qualifier;
  auto f = registry_.find(ref.name);
  // The ARN is only for the error messages: not built on every invoke.
  if (!f) {
    throw ApiException(LambdaError::ResourceNotFound,
                       "Function not found: " + function_arn(config_.region, config_.account_id, ref.name));
  }
  if (!qualifier.empty() && qualifier != "$LATEST") {
    // Only $LATEST exists: the emulator does not publish versions or aliases.
    throw ApiException(LambdaError::ResourceNotFound, "Function not found: " +
                                                          function_arn(config_.region, config_.account_id, ref.name) +
                                                          ":" + qualifier);
  }
  return f;
}

void LambdaApi::invoke(const Route& route, HttpRequest& request, const std::string& request_id,
                       HttpResponder& respond) {
  auto qualifier = route.query.count("Qualifier") ? route.query.at("Qualifier") : std::string();
  auto function = find_function(route.function, qualifier);

  std::string type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse");
  if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
    invalid("1 validation error detected: Value '" + type +
            "' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: "
            "[Event, RequestResponse, DryRun]");
  }
  std::string log_type = request.headers.get("X-Amz-Log-Type", "None");
  if (log_type != "None" && log_type != "Tail") {
    invalid("1 validation error detected: Value '" + log_type +
            "' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [Tail, None]");
  }
  // The modeled figures as response headers are Stratus's, not AWS's: sent only when asked for.
  const std::string* modeled = request.headers.find(kModeledRequestHeader);
  if (modeled && *modeled != "0" && *modeled != "1") {
    invalid("1 validation error detected: Value '" + *modeled + "' at '" + kModeledRequestHeader +
            "' failed to satisfy constraint: Member must be 0 or 1");
  }
  if (!request.body.empty() && !json_validator_.valid(request.body)) {
    throw ApiException(LambdaError::InvalidRequestContent,
                       "Could not parse request body into json: the payload is not valid JSON");
  }
  std::string client_context;
  if (const std::string* encoded = request.headers.find("X-Amz-Client-Context")) {
    if (encoded->size() > kMaxClientContextBytes) {
      invalid("Client context must be less than " + std::to_string(kMaxClientContextBytes) + " bytes");
    }
    auto decoded = base64_decode(*encoded);
    if (!decoded || !json::accept(*decoded)) {
      invalid("Client context must be a valid Base64-encoded JSON object.");
    }
    client_context = std::move(*decoded);
  }
  if (type == "DryRun") return respond(empty_response(204, request_id));

  // The chain this invoke continues (0 from outside any function), and the guard on it.
  const std::string incoming_trace = request.headers.get("X-Amzn-Trace-Id");
  const int hops = lineage_hops(incoming_trace);
  if (hops >= config_.recursion_limit && function->recursive_loop != "Allow") {
    ++recursion_stops_[function->name];
    spdlog::warn("recursive loop stopped: invoke {} of '{}' would be hop {} of its chain (limit {}, trace {})",
                 request_id, function->name, hops + 1, config_.recursion_limit, incoming_trace);
    throw ApiException(LambdaError::RecursiveInvocation,
                       "Lambda has detected that the function " + function->name +
                           " is being invoked in a recursive loop (chain of " + std::to_string(hops + 1) +
                           " invocations, limit " + std::to_string(config_.recursion_limit) +
                           "); set its recursion config to Allow if this is by design.");
  }

  auto invocation = std::make_shared<Invocation>();
  invocation->request_id = request_id;
  invocation->function_name = function->name;
  invocation->payload = std::move(request.body);
  invocation->client_context = std::move(client_context);
  invocation->trace_id = chain_trace_header(incoming_trace, hops + 1);

  auto fault = faults_ ? faults_->decide({FaultKind::Throttle, FaultKind::InvokeLatency}, function->name, request_id)
                       : std::nullopt;
  if (fault && fault->kind == FaultKind::Throttle) {
    throw ApiException(LambdaError::TooManyRequests, "Rate Exceeded. (injected fault)",
                       "ConcurrentInvocationLimitExceeded");
  }
  const double latency_ms = fault ? fault->rule.latency_ms : 0;
  if (type == "Event") {
    // 202 only once the event is on disk (the journal's group commit).
    auto start = [this, invocation, respond, request_id]() mutable {
      const std::string name = invocation->function_name;
      const bool queued = scheduler_.enqueue_event(std::move(invocation), [respond, request_id](bool durable) {
        respond(durable ? empty_response(202, request_id) : journal_failure_response(request_id));
      });
      if (!queued) throw refusal_error({Placement::FunctionNotFound}, name);
    };
    if (latency_ms <= 0) return start();
    return start_after_injected_latency(latency_ms, request_id, respond, std::move(start));
  }
  invocation->want_log_tail = log_type == "Tail";
  invocation->want_modeled = modeled && *modeled == "1";
  invocation->on_complete = [respond, request_id](InvocationOutcome outcome) {
    HttpResponse response;
    response.headers.add("Content-Type", "application/json");
    response.headers.add("X-Amz-Executed-Version", "$LATEST");
    response.headers.add("x-amzn-RequestId", request_id);
    if (!outcome.function_error.empty()) response.headers.add("X-Amz-Function-Error", outcome.function_error);
    if (!outcome.log_tail.empty()) response.headers.add("X-Amz-Log-Result", base64_encode(outcome.log_tail));
    if (outcome.modeled) {
      for (const ModeledHeader& h : modeled_headers(*outcome.modeled)) {
        response.headers.add(std::string(h.name), std::string(h.value));
      }
    }
    response.body = std::move(outcome.payload);
    respond(std::move(response));
  };
  auto start = [this, invocation]() mutable {
    const std::string name = invocation->function_name;
    const PlacementResult placed = scheduler_.invoke(std::move(invocation));
    if (!placed.started()) throw refusal_error(placed, name);
  };
  // Without an injected latency the invocation starts here, not through a std::function.
  if (latency_ms <= 0) return start();
  start_after_injected_latency(latency_ms, request_id, respond, std::move(start));
}

void LambdaApi::start_after_injected_latency(double latency_ms, const std::string& request_id,
                                             HttpResponder& respond, std::function<void()> start) {
  if (latency_ms <= 0) return start();
  // Later, on the io thread: refusals (throttles, a deleted function) are answered from here.
  faults_->after(latency_ms, [start = std::move(start), respond, request_id]() mutable {
    try {
      start();
    } catch (const ApiException& e) {
      respond(make_error_response(e.error(), e.message(), request_id, e.reason()));
    } catch (const std::exception& e) {
      respond(make_error_response(LambdaError::Service, std::string("Internal error: ") + e.what(), request_id));
    }
  });
}

void LambdaApi::invoke_async_legacy(const Route& route, HttpRequest& request,
                                    const std::string& request_id, HttpResponder& respond) {
  auto function = find_function(route.function, "");
  if (!request.body.empty() && !json_validator_.valid(request.body)) {
    throw ApiException(LambdaError::InvalidRequestContent, "Could not parse request body into json");
  }
  auto invocation = std::make_shared<Invocation>();
  invocation->request_id = request_id;
  invocation->function_name = function->name;
  invocation->payload = std::move(request.body);
  const std::string name = invocation->function_name;
  const bool queued = scheduler_.enqueue_event(std::move(invocation), [respond, request_id](bool durable) {
    respond(durable ? json_response(202, {{"Status", 202}}, request_id)
                    : journal_failure_response(request_id));
  });
  if (!queued) throw refusal_error({Placement::FunctionNotFound}, name);
}

HttpResponse LambdaApi::manage(const Route& route, HttpRequest& request, const std::string& request_id) {
  switch (route.operation) {
    case Operation::Health:
    case Operation::Usage:
    case Operation::Metrics:
    case Operation::Environments:
    case Operation::GetFaults:
    case Operation::PutFaults:
    case Operation::DeleteFaults: return observe(route, request, request_id);
    case Operation::ListFunctions: return list_functions(route, request_id);
    case Operation::GetAccountSettings: return account_settings(request_id);
    case Operation::BadRequest: invalid("The request path or query string is malformed");
    case Operation::Unknown:
      throw ApiException(LambdaError::UnknownOperation,
                         "No operation matches " + request.method + " " +
                             std::string(split_target(request.target).path));
    default: break;
  }
  auto qualifier = route.query.count("Qualifier") ? route.query.at("Qualifier") : std::string();
  auto function = find_function(route.function, qualifier);
  switch (route.operation) {
    case Operation::GetFunction: return get_function(*function, request_id);
    case Operation::GetFunctionConfiguration:
      return configuration_response(200, *function, request_id);
    case Operation::DeleteFunction:
      function_urls_.remove(function->name);
      registry_.remove(function->name);
      scheduler_.remove_function(function->name);
      return empty_response(204, request_id);
    case Operation::UpdateFunctionConfiguration: return update_function_configuration(*function, request, request_id);
    case Operation::PutFunctionConcurrency: return put_function_concurrency(*function, request, request_id);
    case Operation::GetFunctionConcurrency: {
      json body = json::object();
      if (function->reserved_concurrency) body["ReservedConcurrentExecutions"] = *function->reserved_concurrency;
      return json_response(200, body, request_id);
    }
    case Operation::DeleteFunctionConcurrency: {
      FunctionConfig updated = *function;
      updated.reserved_concurrency.reset();
      scheduler_.upsert_function(registry_.replace(std::move(updated), false));
      return empty_response(204, request_id);
    }
    case Operation::GetFunctionRecursionConfig:
      return json_response(200, {{"RecursiveLoop", function->recursive_loop}}, request_id);
    case Operation::PutFunctionRecursionConfig: {
      json body = parse_json_body(request);
      auto loop = body.find("RecursiveLoop");
      if (loop == body.end() || !loop->is_string() || (*loop != "Terminate" && *loop != "Allow")) {
        invalid("1 validation error detected: Value at 'recursiveLoop' failed to satisfy constraint: Member must "
                "satisfy enum value set: [Allow, Terminate]");
      }
      FunctionConfig updated = *function;
      updated.recursive_loop = loop->get<std::string>();
      auto stored = registry_.replace(std::move(updated), false);
      scheduler_.upsert_function(stored);
      return json_response(200, {{"RecursiveLoop", stored->recursive_loop}}, request_id);
    }
    case Operation::PutFunctionEventInvokeConfig: return put_event_invoke_config(*function, request, false, request_id);
    case Operation::CreateFunctionUrlConfig:
    case Operation::GetFunctionUrlConfig:
    case Operation::UpdateFunctionUrlConfig:
    case Operation::DeleteFunctionUrlConfig:
    case Operation::ListFunctionUrlConfigs: return manage_function_url(route, *function, request, request_id);
    case Operation::UpdateFunctionEventInvokeConfig: return put_event_invoke_config(*function, request, true, request_id);
    case Operation::GetFunctionEventInvokeConfig: return event_invoke_config_response(*function, request_id);
    case Operation::DeleteFunctionEventInvokeConfig: {
      if (!function->event_invoke_config) {
        throw ApiException(LambdaError::ResourceNotFound,
                           "The function " + function->name + " doesn't have an EventInvokeConfig");
      }
      FunctionConfig updated = *function;
      updated.event_invoke_config.reset();
      scheduler_.upsert_function(registry_.replace(std::move(updated), false));
      return empty_response(204, request_id);
    }
    default: break;
  }
  throw ApiException(LambdaError::UnknownOperation, "Unsupported operation");
}

namespace {

// A CreateFunction request, read and checked (on a worker thread: the body holds the zip, up to
// 50 MB of base64): the function it declares and its code.
struct CreateFunctionRequest {
  FunctionConfig function;
  std::string zip;
};

CreateFunctionRequest read_create_function(std::string_view request_body) {
  json body = parse_json_body(request_body);
  if (!body.contains("FunctionName")) invalid("FunctionName is required");
  CreateFunctionRequest out;
  FunctionConfig& f = out.function;
  f.name = string_field(body, "FunctionName");
  if (!is_valid_function_name(f.name)) {
    invalid("1 validation error detected: Value '" + f.name +
            "' at 'functionName' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: [a-zA-Z0-9-_]+ (1-64 characters)");
  }
  if (body.value("PackageType", std::string("Zip")) != "Zip") {
    invalid("This emulator runs Zip functions only (PackageType Image is not supported).");
  }
  if (!body.contains("Role")) invalid("Role is required");
  if (!body.contains("Code") || !body["Code"].is_object()) invalid("Code is required");
  f.runtime = "";
  apply_configuration_fields(f, body);
  if (f.runtime.empty()) invalid("Runtime is required for Zip functions");
  if (f.handler.empty()) invalid("Handler is required for Zip functions");
  if (body.contains("Architectures")) {
    const json& arch = body["Architectures"];
    if (!arch.is_array() || arch.size() != 1 || !arch[0].is_string() ||
        (arch[0] != "x86_64" && arch[0] != "arm64")) {
      invalid("Architectures must be [\"x86_64\"] or [\"arm64\"]");
    }
    f.architecture = arch[0].get<std::string>();
  }
  out.zip = decode_zip(body["Code"]);
  return out;
}

// What a worker thread made of a code upload, handed to the io thread.
struct PreparedUpload {
  std::optional<FunctionConfig> function;  // CreateFunction's declared function
  FunctionRegistry::ExtractedCode code;
  bool dry_run = false;  // UpdateFunctionCode with DryRun: checked, nothing extracted
};

}  // namespace

void LambdaApi::create_function(HttpRequest& request, const std::string& request_id, HttpResponder& respond) {
  auto body = std::make_shared<std::string>(std::move(request.body));
  auto prepared = std::make_shared<PreparedUpload>();
  run_upload(
      request, Operation::CreateFunction, request_id, respond,
      [this, body, prepared] {
        CreateFunctionRequest read = read_create_function(*body);
        body->clear();
        prepared->code = registry_.extract_code(read.function.name, read.zip);
        prepared->function = std::move(read.function);
      },
      [this, prepared, request_id] {
        auto created = registry_.create(std::move(*prepared->function), std::move(prepared->code));
        scheduler_.upsert_function(created);
        return configuration_response(201, *created, request_id);
      });
}

HttpResponse LambdaApi::list_functions(const Route& route, const std::string& request_id) {
  int max_items = 50;
  if (auto it = route.query.find("MaxItems"); it != route.query.end()) {
    try {
      max_items = std::stoi(it->second);
    } catch (const std::exception&) {
      invalid("MaxItems must be a number");
    }
    if (max_items < 1 || max_items > 10000) invalid("MaxItems must be between 1 and 10000");
  }
  std::string marker;
  if (auto it = route.query.find("Marker"); it != route.query.end()) marker = it->second;
  json functions = json::array();
  std::string last;
  bool more = false;
  for (const auto& f : registry_.list()) {  // sorted by name: the marker is the last name returned
    if (!marker.empty() && f->name <= marker) continue;
    if (static_cast<int>(functions.size()) == max_items) {
      more = true;
      break;
    }
    functions.push_back(to_function_configuration(*f, config_.region, config_.account_id));
    last = f->name;
  }
  json body = {{"Functions", functions}};
  if (more) body["NextMarker"] = last;
  return json_response(200, body, request_id);
}

HttpResponse LambdaApi::get_function(const FunctionConfig& f, const std::string& request_id) {
  json body = {{"Configuration", to_function_configuration(f, config_.region, config_.account_id)},
               {"Code", {{"RepositoryType", "S3"}}},
               {"Tags", json::object()}};
  if (f.reserved_concurrency) {
    body["Concurrency"] = {{"ReservedConcurrentExecutions", *f.reserved_concurrency}};
  }
  return json_response(200, body, request_id);
}

void LambdaApi::update_function_code(const Route& route, HttpRequest& request, const std::string& request_id,
                                     HttpResponder& respond) {
  auto qualifier = route.query.count("Qualifier") ? route.query.at("Qualifier") : std::string();
  FunctionConfigPtr f = find_function(route.function, qualifier);
  auto body = std::make_shared<std::string>(std::move(request.body));
  auto prepared = std::make_shared<PreparedUpload>();
  run_upload(
      request, Operation::UpdateFunctionCode, request_id, respond,
      [this, f, body, prepared] {
        json parsed = parse_json_body(*body);
        body->clear();
        require_revision(parsed, f->revision_id);
        std::string zip = decode_zip(parsed);
        prepared->dry_run = parsed.value("DryRun", false);
        if (!prepared->dry_run) prepared->code = registry_.extract_code(f->name, zip);
      },
      [this, f, prepared, request_id] {
        if (prepared->dry_run) {
          return configuration_response(200, *f, request_id);
        }
        // The function may have been deleted while its code was extracted.
        if (!registry_.find(f->name)) {
          prepared->code.bundle->retire();
          throw ApiException(LambdaError::ResourceNotFound,
                             "Function not found: " + function_arn(config_.region, config_.account_id, f->name));
        }
        auto updated = registry_.update_code(f->name, std::move(prepared->code));
        scheduler_.upsert_function(updated);
        return configuration_response(200, *updated, request_id);
      });
}

HttpResponse LambdaApi::update_function_configuration(const FunctionConfig& f, const HttpRequest& request,
                                                       const std::string& request_id) {
  json body = parse_json_body(request);
  require_revision(body, f.revision_id);
  FunctionConfig updated = f;
  apply_configuration_fields(updated, body);
  auto stored = registry_.replace(std::move(updated), true);
  scheduler_.upsert_function(stored);
  return configuration_response(200, *stored, request_id);
}

HttpResponse LambdaApi::put_function_concurrency(const FunctionConfig& f, const HttpRequest& request,
                                                  const std::string& request_id) {
  json body = parse_json_body(request);
  if (!body.contains("ReservedConcurrentExecutions")) invalid("ReservedConcurrentExecutions is required");
  int reserved = int_field(body, "ReservedConcurrentExecutions", 0, config_.account_concurrency);
  int others = 0;
  for (const auto& other : registry_.list()) {
    if (other->name != f.name && other->reserved_concurrency) others += *other->reserved_concurrency;
  }
  if (config_.account_concurrency - others - reserved < kMinUnreservedConcurrency) {
    invalid("Specified ReservedConcurrentExecutions for function decreases account's "
            "UnreservedConcurrentExecution below its minimum value of [" +
            std::to_string(kMinUnreservedConcurrency) + "].");
  }
  if (reserved < f.provisioned) {
    // Provisioned environments are part of the reservation; it cannot be smaller.
    invalid("ReservedConcurrentExecutions (" + std::to_string(reserved) +
            ") cannot be lower than the function's provisioned concurrency (" +
            std::to_string(f.provisioned) + ").");
  }
  FunctionConfig updated = f;
  updated.reserved_concurrency = reserved;
  scheduler_.upsert_function(registry_.replace(std::move(updated), false));
  return json_response(200, {{"ReservedConcurrentExecutions", reserved}}, request_id);
}

HttpResponse LambdaApi::put_event_invoke_config(const FunctionConfig& f, const HttpRequest& request,
                                                bool merge, const std::string& request_id) {
  json body = parse_json_body(request);
  EventInvokeConfig e = merge && f.event_invoke_config ? *f.event_invoke_config : EventInvokeConfig{};
  if (body.contains("MaximumRetryAttempts")) e.maximum_retry_attempts = int_field(body, "MaximumRetryAttempts", 0, 2);
  if (body.contains("MaximumEventAgeInSeconds")) {
    e.maximum_event_age_s = int_field(body, "MaximumEventAgeInSeconds", 60, 21600);
  }
  if (body.contains("DestinationConfig")) e.destination_config = read_destination_config(body["DestinationConfig"]);
  e.last_modified = std::to_string(epoch_seconds_now());
  FunctionConfig updated = f;
  updated.event_invoke_config = e;
  auto stored = registry_.replace(std::move(updated), false);
  scheduler_.upsert_function(stored);
  return event_invoke_config_response(*stored, request_id);
}

HttpResponse LambdaApi::event_invoke_config_response(const FunctionConfig& f, const std::string& request_id) {
  if (!f.event_invoke_config) {
    throw ApiException(LambdaError::ResourceNotFound,
                       "The function " + f.name + " doesn't have an EventInvokeConfig");
  }
  const auto& e = *f.event_invoke_config;
  json body = {{"LastModified", std::stod(e.last_modified.empty() ? "0" : e.last_modified)},
               {"FunctionArn", function_arn(config_.region, config_.account_id, f.name) + ":$LATEST"},
               {"MaximumRetryAttempts", e.maximum_retry_attempts},
               {"MaximumEventAgeInSeconds", e.maximum_event_age_s},
               {"DestinationConfig", e.destination_config}};
  return json_response(200, body, request_id);
}

HttpResponse LambdaApi::account_settings(const std::string& request_id) {
  int reserved = 0;
  for (const auto& f : registry_.list()) reserved += f->reserved_concurrency.value_or(0);
  json body = {{"AccountLimit",
                {{"TotalCodeSize", 80530636800LL},
                 {"CodeSizeUnzipped", 262144000},
                 {"CodeSizeZipped", 52428800},
                 {"ConcurrentExecutions", config_.account_concurrency},
                 {"UnreservedConcurrentExecutions", config_.account_concurrency - reserved}}},
               {"AccountUsage",
                {{"TotalCodeSize", registry_.total_code_size()},
                 {"FunctionCount", registry_.list().size()}}}};
  return json_response(200, body, request_id);
}

}  // namespace stratus::emulator
