// The event loop every bootstrap runs: next -> handler -> response/error, forever.

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <typeinfo>

#include "stratus/runtime/runtime_client.hpp"

namespace stratus::runtime {
namespace {

constexpr std::string_view kNoSuchHandler = "Runtime.NoSuchHandler";
constexpr std::string_view kHandlerException = "Runtime.HandlerException";

// Diagnostics go to stderr, which Lambda (and the emulator) capture into the function's log stream.
void log_runtime_problem(std::string_view message) {
  std::cerr << "[stratus-runtime] " << message << std::endl;
}

// "St13runtime_error" -> "std::runtime_error", so errorType names the exception the way the
// function's author wrote it.
std::string readable_type_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = (status == 0 && demangled != nullptr) ? demangled : type.name();
  std::free(demangled);
  return name;
}

}  // namespace

// A handler must never take the process down: Lambda reports a thrown exception as a function
// error and keeps the environment warm.
InvocationResponse invoke_guarded(const Handler& handler, const InvocationRequest& request) {
  try {
    return handler(request);
  } catch (const FunctionError& error) {
    return InvocationResponse::failure(error.what(), error.error_type());
  } catch (const std::exception& exception) {
    return InvocationResponse::failure(exception.what(), readable_type_name(typeid(exception)));
  } catch (...) {
    return InvocationResponse::failure("the handler threw a value that is not a std::exception",
                                       std::string(kHandlerException));
  }
}

namespace {

// Output written by the handler must reach the log stream before the invocation ends, otherwise a
// pipe-buffered stdout would attribute it to a later invocation (or lose it when the environment
// is killed).
void flush_handler_output() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(stdout);
  std::fflush(stderr);
}

// Lambda's own runtimes expose the current X-Ray trace id to SDKs through this variable.
void publish_trace_id(const std::string& trace_id) {
  if (trace_id.empty()) {
    ::unsetenv("_X_AMZN_TRACE_ID");
  } else {
    ::setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
  }
}

int serve_forever(RuntimeClient& client, const Handler& handler) {
  try {
    for (;;) {
      const InvocationRequest request = client.next();
      publish_trace_id(request.trace_id);
      const InvocationResponse response = invoke_guarded(handler, request);
      flush_handler_output();
      if (response.is_error) {
        log_runtime_problem("invocation " + request.request_id + " failed with " +
                            response.error_type + ": " + response.payload);
      }
      const int status = client.post_invocation_result(request.request_id, response);
      if (status / 100 != 2) {
        // e.g. 413 for an oversized response: Lambda has already failed the invocation; the
        // environment itself is fine, so carry on.
        log_runtime_problem("the Runtime API refused the result of invocation " +
                            request.request_id + " with HTTP " + std::to_string(status));
      }
    }
  } catch (const RuntimeApiError& error) {
    log_runtime_problem(error.what());
    return 1;
  }
}

std::optional<RuntimeClient> client_from_environment() {
  try {
    return RuntimeClient::from_environment();
  } catch (const RuntimeApiError& error) {
    log_runtime_problem(error.what());
    return std::nullopt;
  }
}

std::string handler_names(const std::map<std::string, Handler>& handlers_by_name) {
  std::string names;
  for (const auto& [name, handler] : handlers_by_name) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

}  // namespace

int run_handler(const Handler& handler) {
  auto client = client_from_environment();
  if (!client) return 1;
  return serve_forever(*client, handler);
}

int run_handlers(const std::map<std::string, Handler>& handlers_by_name) {
  auto client = client_from_environment();
  if (!client) return 1;

  const char* handler_variable = std::getenv("_HANDLER");
  const std::string handler_name = handler_variable != nullptr ? handler_variable : "";
  const auto chosen = handlers_by_name.find(handler_name);
  if (chosen == handlers_by_name.end()) {
    const std::string message =
        "no handler named '" + handler_name +
        "' (_HANDLER); this bootstrap provides: " + handler_names(handlers_by_name);
    log_runtime_problem(message);
    try {
      client->post_init_error(kNoSuchHandler, message);
    } catch (const RuntimeApiError& error) {
      log_runtime_problem(error.what());
    }
    return 1;
  }
  return serve_forever(*client, chosen->second);
}

}  // namespace stratus::runtime
