// An execution environment's Runtime API (2018-06-01): the loopback endpoint its runtime polls
// for work (/next) and posts results and errors to. The process lifecycle is in environment.cpp.

#include <signal.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "stratus/emulator/lambda/environment.hpp"
#include "stratus/emulator/lambda/lambda_error_document.hpp"
#include "stratus/emulator/peer_credentials.hpp"

namespace stratus::emulator {

using nlohmann::json;

namespace {

// The Runtime API's 202 answer to a response or error post.
HttpResponse runtime_accepted() {
  HttpResponse response;
  response.status = 202;
  response.body = R"({"status":"OK"})";
  return response;
}

constexpr std::string_view kRuntimePrefix = "/2018-06-01/runtime/";

// Lambda passes a runtime's error body through; a body that is not a JSON object is wrapped.
std::string normalize_error_body(const std::string& body, const std::string& type_header) {
  auto parsed = json::parse(body, nullptr, false);
  if (parsed.is_object()) return body;
  return lambda_error_document(type_header.empty() ? "Unknown" : type_header, body);
}

}  // namespace

HttpResponse Environment::runtime_error_response(int status, const std::string& type,
                                                 const std::string& message) {
  HttpResponse response;
  response.status = status;
  response.headers.add("Content-Type", "application/json");
  response.body = json{{"errorMessage", message}, {"errorType", type}}.dump();
  return response;
}

// The Runtime API's paths are few and short: handle() reads them; nothing is carried.
HttpRequestPlan Environment::plan(const HttpRequestHead&) { return {kMaxResponseBytes, nullptr}; }

HttpResponse Environment::reject_oversized(const HttpRequestHead& head, const HttpRequestPlan&) {
  // A /response over the limit fails the invocation, as on Lambda; the runtime gets 413.
  if (current_ && head.target.find(current_id_) != std::string::npos) {
    InvocationOutcome outcome;
    outcome.function_error = "Unhandled";
    outcome.payload = lambda_error_document("Function.ResponseSizeTooLarge",
                                 "Response payload size exceeded maximum allowed payload size (" +
                                     std::to_string(kMaxResponseBytes) + " bytes).");
    finish_invocation(std::move(outcome), false);
  }
  return runtime_error_response(413, "RequestEntityTooLarge",
                                "Payload exceeds " + std::to_string(kMaxResponseBytes) + " bytes");
}

bool Environment::peer_is_this_environment(const HttpRequest& request) {
  if (!sandbox_ || !sandbox_->own_uid || request.remote_address == verified_peer_) return true;
  PeerUid peer = loopback_peer_uid(request.remote_address, runtime_server_->port());
  if (peer.result == PeerLookup::Unavailable) {
    static bool logged = false;
    if (!logged) spdlog::warn("sandbox: the kernel refused socket diagnostics; Runtime API callers are not checked");
    logged = true;
    return true;
  }
  if (peer.result == PeerLookup::Found && peer.uid == sandbox_->uid) {
    verified_peer_ = request.remote_address;
    return true;
  }
  spdlog::warn("environment {} of '{}': Runtime API request from {} (uid {}) refused: not this environment's",
               id_, function_->name, request.remote_address,
               peer.result == PeerLookup::Found ? std::to_string(peer.uid) : "unknown");
  return false;
}

void Environment::handle(HttpRequest request, HttpResponder respond) {
  if (!peer_is_this_environment(request)) {
    return respond(runtime_error_response(403, "AccessDeniedException",
                                          "this Runtime API belongs to another execution environment"));
  }
  std::string_view path = split_target(request.target).path;
  if (path.substr(0, kRuntimePrefix.size()) != kRuntimePrefix) {
    return respond(runtime_error_response(404, "NotFound", "unknown Runtime API path"));
  }
  path.remove_prefix(kRuntimePrefix.size());
  if (path == "invocation/next" && request.method == "GET") return handle_next(std::move(respond));
  if (path == "init/error" && request.method == "POST") {
    if (state_ != EnvironmentState::Starting) {
      return respond(runtime_error_response(403, "InvalidStateTransition",
                                            "init/error is only valid before the first /next"));
    }
    init_error_ = normalize_error_body(request.body,
                                       request.headers.get("Lambda-Runtime-Function-Error-Type"));
    log_line("INIT_REPORT Init Duration: " + std::to_string(ms_since(spawned_at_)) +
             " ms\tPhase: init\tStatus: error\tError Type: " +
             request.headers.get("Lambda-Runtime-Function-Error-Type", "Runtime.Unknown"));
    respond(runtime_accepted());
    terminate(SIGKILL);
    return;
  }
  constexpr std::string_view kInvocation = "invocation/";
  if (request.method == "POST" && path.substr(0, kInvocation.size()) == kInvocation) {
    path.remove_prefix(kInvocation.size());
    auto slash = path.find('/');
    if (slash != std::string_view::npos) {
      std::string id(path.substr(0, slash));
      std::string_view action = path.substr(slash + 1);
      if (action == "response") return handle_result(id, false, request, respond);
      if (action == "error") return handle_result(id, true, request, respond);
    }
  }
  respond(runtime_error_response(404, "NotFound", "unknown Runtime API path"));
}

void Environment::handle_next(HttpResponder respond) {
  if (state_ == EnvironmentState::Dead || retiring_) return;  // never answered; it is being killed
  if (current_) {
    // The runtime asked for more work without answering the last: Lambda fails that invocation.
    fail_bound_or_current("Runtime.InvalidResponse", "Runtime asked for the next event without a result",
                          false);
  }
  if (parked_next_) parked_next_(runtime_error_response(409, "DuplicateNext", "superseded"));
  parked_next_ = std::move(respond);
  if (state_ == EnvironmentState::Starting) {
    init_ms_ = ms_since(spawned_at_);
    if (ctx_.config.time_model == TimeModelMode::Aws) {
      // The cgroup and the process are new: their totals so far are the INIT phase's.
      MeasuredPhase init;
      init.wall_ms = init_ms_;
      init.cpu_ms = ctx_.limiter.cpu_time_ms(cgroups_, process_.pid());
      init.run_delay_ms = run_delay_.read(process_.pid());
      init.s3 = ctx_.metering.s3_attribution().totals(s3_access_key_);
      init_measured_ = init;
    }
  }
  timer_.cancel();  // the init timeout, or a hand-over's wait
  hand_over_failed_ = false;
  if (bound_) {
    auto invocation = std::move(bound_);
    bound_ = nullptr;
    return send_invocation(std::move(invocation));
  }
  state_ = EnvironmentState::Idle;
  idle_since_ = SteadyClock::now();
  ctx_.host.on_environment_ready(*this);
}

void Environment::handle_result(const std::string& request_id, bool is_error, HttpRequest& request,
                                HttpResponder& respond) {
  if (!current_ || request_id != current_id_) {
    if (request_id == current_id_) {
      return respond(runtime_error_response(403, "InvalidStateTransition",
                                            "a result for this request was already sent"));
    }
    return respond(runtime_error_response(400, "InvalidRequestID", "Invalid request ID"));
  }
  InvocationOutcome outcome;
  if (is_error) {
    outcome.function_error = "Unhandled";
    outcome.payload = normalize_error_body(request.body,
                                           request.headers.get("Lambda-Runtime-Function-Error-Type"));
  } else {
    outcome.payload = std::move(request.body);
  }
  respond(runtime_accepted());
  finish_invocation(std::move(outcome), false);
}

}  // namespace stratus::emulator
