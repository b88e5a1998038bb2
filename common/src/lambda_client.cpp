#include "stratus/common/lambda_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "stratus/common/aws_environment.hpp"
#include "stratus/common/base64.hpp"

namespace stratus::aws {

namespace asio = boost::asio;
using nlohmann::json;

LambdaClientOptions LambdaClientOptions::from_environment(std::string_view profile) {
  LambdaClientOptions options;
  options.region = resolve_region(profile);
  options.credentials = resolve_credentials(profile);
  options.endpoint = resolve_endpoint("lambda", options.region);
  if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); bundle && *bundle)
    options.ca_file = bundle;
  return options;
}

std::string InvokeResult::describe_refusal(const Endpoint& endpoint) const {
  if (transport_error) {
    return "cannot reach " + endpoint.origin() + ": " +
           (transport_message.empty() ? transport_error.message() : transport_message);
  }
  std::string message;
  auto doc = json::parse(payload, nullptr, false);
  if (doc.is_object()) {
    for (const char* field : {"message", "Message", "errorMessage"}) {
      if (doc.contains(field) && doc[field].is_string()) {
        message = doc[field].get<std::string>();
        break;
      }
    }
  }
  return "HTTP " + std::to_string(status) + (error_type.empty() ? "" : " " + error_type) +
         (message.empty() ? "" : ": " + message);
}

namespace {

const char* invocation_type_name(InvocationType type) {
  switch (type) {
    case InvocationType::Event:
      return "Event";
    case InvocationType::DryRun:
      return "DryRun";
    case InvocationType::RequestResponse:
      break;
  }
  return "RequestResponse";
}

std::optional<std::chrono::milliseconds> parse_retry_after(const HttpHeaders& headers) {
  const std::string* value = headers.find("Retry-After");
  if (!value || value->empty()) return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(value->c_str(), &end);
  if (end == value->c_str() || !(seconds >= 0) || seconds > 3600) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// X-Amzn-ErrorType may carry a suffix after ':' (AWS's "Type:http://internal.amazon.com/...").
std::string error_type_of(const HttpHeaders& headers) {
  std::string type = headers.get("X-Amzn-ErrorType");
  if (auto colon = type.find(':'); colon != std::string::npos) type.resize(colon);
  return type;
}

InvokeResult to_invoke_result(HttpResult http) {
  InvokeResult result;
  result.transport_error = http.error;
  result.transport_message = http.error_message;
  result.status = http.status;
  result.attempts = http.attempts;
  if (http.error) return result;
  result.function_error = http.headers.get("X-Amz-Function-Error");
  if (http.status >= 300) result.error_type = error_type_of(http.headers);
  if (const std::string* tail = http.headers.find("X-Amz-Log-Result")) {
    if (auto decoded = base64_decode(*tail)) result.log_tail = std::move(*decoded);
  }
  result.request_id = http.headers.get("x-amzn-RequestId");
  result.retry_after = parse_retry_after(http.headers);
  result.payload = std::move(http.body);
  result.headers = std::move(http.headers);
  return result;
}

std::string string_member(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int int_member(const json& doc, const char* name) {
  auto it = doc.find(name);
  return it != doc.end() && it->is_number_integer() ? it->get<int>() : 0;
}

json configuration_body(const FunctionDefinition& d) {
  json body = {{"Handler", d.handler},
               {"Runtime", d.runtime},
               {"MemorySize", d.memory_mb},
               {"Timeout", d.timeout_s},
               {"Description", d.description}};
  if (!d.role.empty()) body["Role"] = d.role;
  json variables = json::object();
  for (const auto& [name, value] : d.environment) variables[name] = value;
  body["Environment"] = {{"Variables", variables}};
  return body;
}

}  // namespace

FunctionState parse_function_state(std::string_view json_text) {
  auto doc = json::parse(json_text, nullptr, false);
  if (doc.is_object() && doc.contains("Configuration") && doc["Configuration"].is_object()) {
    doc = doc["Configuration"];  // GetFunction's shape
  }
  if (!doc.is_object() || !doc.contains("FunctionName")) {
    throw LambdaError("Lambda answered with something that is not a FunctionConfiguration: " +
                          std::string(json_text.substr(0, 200)),
                      0, "MalformedResponse");
  }
  FunctionState s;
  s.name = string_member(doc, "FunctionName");
  s.arn = string_member(doc, "FunctionArn");
  s.state = string_member(doc, "State");
  s.state_reason = string_member(doc, "StateReason");
  s.last_update_status = string_member(doc, "LastUpdateStatus");
  s.last_update_status_reason = string_member(doc, "LastUpdateStatusReason");
  s.handler = string_member(doc, "Handler");
  s.runtime = string_member(doc, "Runtime");
  s.memory_mb = int_member(doc, "MemorySize");
  s.timeout_s = int_member(doc, "Timeout");
  s.code_sha256 = string_member(doc, "CodeSha256");
  s.revision_id = string_member(doc, "RevisionId");
  return s;
}

struct LambdaClient::Impl {
  explicit Impl(LambdaClientOptions o) : options(std::move(o)), work(asio::make_work_guard(io)) {
    if (options.region.empty()) options.region = "us-east-1";
    ClientOptions client;
    client.max_connections_per_host = std::max<std::size_t>(1, options.max_connections);
    client.max_response_bytes = options.max_response_bytes;
    client.retry = options.retry;
    client.ca_file = options.ca_file;
    client.verify_tls = options.verify_tls;
    http = std::make_unique<HttpClient>(io, client);
    // Invocations: see LambdaClientOptions::retry. A connection failure before sending is still
    // retried (the request never reached Lambda).
    client.retry.max_attempts = 2;
    client.retry.retry_throttling_and_server_errors = false;
    invoke_http = std::make_unique<HttpClient>(io, client);
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    // The HttpClient belongs to the I/O thread: it goes there, then the thread runs out of work.
    asio::post(io, [this] {
      http.reset();
      invoke_http.reset();
      work.reset();
    });
    thread.join();
  }

  std::string target(std::string_view path) const {
    std::string prefix = options.endpoint.path;
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    return prefix + std::string(path);
  }

  // Starts a call on the I/O thread; `done` runs there.
  void submit(std::unique_ptr<HttpClient>& client, HttpRequest request, CallOptions call,
              HttpCallback done) {
    if (options.credentials) {
      call.prepare = [credentials = *options.credentials,
                      scope = SigningScope{options.region, "lambda"}](HttpRequest& r) {
        sign(r, credentials, scope, std::chrono::system_clock::now());
      };
    }
    asio::post(io, [this, &client, request = std::move(request), call = std::move(call),
                    done = std::move(done)]() mutable {
      client->send(options.endpoint, std::move(request), std::move(call), std::move(done));
    });
  }

  HttpResult blocking(HttpRequest request, CallOptions call) {
    std::promise<HttpResult> promise;
    auto future = promise.get_future();
    submit(http, std::move(request), std::move(call),
           [&promise](HttpResult r) { promise.set_value(std::move(r)); });
    return future.get();
  }

  // A management call: JSON in, JSON out; a non-2xx answer throws LambdaError.
  HttpResult management(const std::string& method, const std::string& path, std::string body) {
    HttpRequest request;
    request.method = method;
    request.target = target(path);
    if (!body.empty()) request.headers.add("Content-Type", "application/json");
    request.body = std::move(body);
    CallOptions call;
    call.deadline = options.call_deadline;
    HttpResult result = blocking(std::move(request), std::move(call));
    if (!result.ok() && !(result.status == 404 && method == "GET")) {
      InvokeResult refusal = to_invoke_result(result);
      throw LambdaError(method + " " + path + ": " + refusal.describe_refusal(options.endpoint),
                        result.status, refusal.error_type);
    }
    return result;
  }

  static std::string function_path(const std::string& name) {
    return "/2015-03-31/functions/" + uri_encode(name, false);
  }

  LambdaClientOptions options;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<HttpClient> http;         // management calls
  std::unique_ptr<HttpClient> invoke_http;  // invocations
  std::thread thread;
};

LambdaClient::LambdaClient(LambdaClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
LambdaClient::~LambdaClient() = default;

const LambdaClientOptions& LambdaClient::options() const {
  return impl_->options;
}

void LambdaClient::invoke_async(const std::string& function, std::string payload,
                                const InvokeOptions& options,
                                std::function<void(InvokeResult)> done) {
  HttpRequest request;
  request.method = "POST";
  std::string path = Impl::function_path(function) + "/invocations";
  if (!options.qualifier.empty()) path += "?Qualifier=" + uri_encode(options.qualifier, false);
  request.target = impl_->target(path);
  request.headers.add("Content-Type", "application/json");
  request.headers.add("X-Amz-Invocation-Type", invocation_type_name(options.type));
  if (!options.trace_header.empty()) request.headers.add("X-Amzn-Trace-Id", options.trace_header);
  if (options.log_tail && options.type == InvocationType::RequestResponse) {
    request.headers.add("X-Amz-Log-Type", "Tail");
  }
  if (options.modeled && options.type == InvocationType::RequestResponse) {
    request.headers.add("X-Stratus-Modeled", "1");
  }
  request.body = std::move(payload);
  CallOptions call;
  call.deadline = options.deadline;
  impl_->submit(
      impl_->invoke_http, std::move(request), std::move(call),
      [done = std::move(done)](HttpResult http) { done(to_invoke_result(std::move(http))); });
}

InvokeResult LambdaClient::invoke(const std::string& function, std::string payload,
                                  const InvokeOptions& options) {
  std::promise<InvokeResult> promise;
  auto future = promise.get_future();
  invoke_async(function, std::move(payload), options,
               [&promise](InvokeResult r) { promise.set_value(std::move(r)); });
  return future.get();
}

void LambdaClient::invoke_event(const std::string& function, std::string payload) {
  InvokeOptions options;
  options.type = InvocationType::Event;
  options.deadline = std::chrono::milliseconds(30000);
  InvokeResult result = invoke(function, std::move(payload), options);
  if (result.status != 202) {
    throw LambdaError(
        "Event invoke of '" + function + "': " + result.describe_refusal(impl_->options.endpoint),
        result.status, result.error_type);
  }
}

FunctionState LambdaClient::create_function(const FunctionDefinition& definition,
                                            std::string_view zip) {
  json body = configuration_body(definition);
  body["FunctionName"] = definition.name;
  body["PackageType"] = "Zip";
  body["Architectures"] = json::array({definition.architecture});
  body["Code"] = {{"ZipFile", base64_encode(zip)}};
  return parse_function_state(impl_->management("POST", "/2015-03-31/functions", body.dump()).body);
}

FunctionState LambdaClient::update_function_code(const std::string& name, std::string_view zip) {
  json body = {{"ZipFile", base64_encode(zip)}};
  return parse_function_state(
      impl_->management("PUT", Impl::function_path(name) + "/code", body.dump()).body);
}

FunctionState LambdaClient::update_function_configuration(const FunctionDefinition& definition) {
  return parse_function_state(
      impl_
          ->management("PUT", Impl::function_path(definition.name) + "/configuration",
                       configuration_body(definition).dump())
          .body);
}

FunctionState LambdaClient::set_memory_size(const std::string& name, int memory_mb) {
  json body = {{"MemorySize", memory_mb}};
  return parse_function_state(
      impl_->management("PUT", Impl::function_path(name) + "/configuration", body.dump()).body);
}

void LambdaClient::put_function_concurrency(const std::string& name, int reserved) {
  json body = {{"ReservedConcurrentExecutions", reserved}};
  impl_->management("PUT", "/2017-10-31/functions/" + uri_encode(name, false) + "/concurrency",
                    body.dump());
}

void LambdaClient::put_function_recursion_config(const std::string& name, const std::string& recursive_loop) {
  json body = {{"RecursiveLoop", recursive_loop}};
  impl_->management("PUT", "/2024-08-31/functions/" + uri_encode(name, false) + "/recursion-config",
                    body.dump());
}

void LambdaClient::delete_function_concurrency(const std::string& name) {
  impl_->management("DELETE", "/2017-10-31/functions/" + uri_encode(name, false) + "/concurrency",
                    {});
}

std::optional<int> LambdaClient::get_function_concurrency(const std::string& name) {
  HttpResult result = impl_->management(
      "GET", "/2019-09-30/functions/" + uri_encode(name, false) + "/concurrency", {});
  json body = json::parse(result.body, nullptr, false);
  if (!body.is_object())
    throw LambdaError("GetFunctionConcurrency: not a JSON object", 0, "MalformedResponse");
  const auto it = body.find("ReservedConcurrentExecutions");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer())
    throw LambdaError("GetFunctionConcurrency: not an integer", 0, "MalformedResponse");
  return it->get<int>();
}

std::optional<FunctionState> LambdaClient::get_function_configuration(const std::string& name) {
  HttpResult result = impl_->management("GET", Impl::function_path(name) + "/configuration", {});
  if (result.status == 404) return std::nullopt;
  return parse_function_state(result.body);
}

void LambdaClient::delete_function(const std::string& name) {
  impl_->management("DELETE", Impl::function_path(name), {});
}

FunctionState LambdaClient::wait_until_ready(const std::string& name,
                                             std::chrono::milliseconds timeout,
                                             std::chrono::milliseconds poll_interval) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::optional<FunctionState> state = get_function_configuration(name);
    if (!state)
      throw LambdaError("function '" + name + "' disappeared while deploying", 404,
                        "ResourceNotFoundException");
    if (state->state == "Failed" || state->last_update_status == "Failed") {
      const std::string reason =
          state->state == "Failed" ? state->state_reason : state->last_update_status_reason;
      throw LambdaError("function '" + name + "' failed to deploy: " + reason, 0, "FunctionFailed");
    }
    // An emulator that reports no state has nothing pending.
    const bool active = state->state.empty() || state->state == "Active";
    if (active && state->last_update_status != "InProgress") return *state;
    if (std::chrono::steady_clock::now() + poll_interval > give_up) {
      throw LambdaError("function '" + name + "' is still " + state->state + "/" +
                            state->last_update_status + " after " +
                            std::to_string(timeout.count() / 1000) + " s",
                        0, "Timeout");
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace stratus::aws
