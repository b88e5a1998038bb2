#pragma once
// What a product handler gets besides its payload bytes: the services it may use and the facts of
// its invocation. The `bootstrap` builds it over S3 and Lambda (lambda_services.hpp); the trainer's
// in-process invoker over an in-memory store and in-process Event invocations. Both call the very
// same handler table (handlers.hpp) with the same payload bytes.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/runtime/runtime_client.hpp"

namespace stratus::functions {

struct HandlerContext {
  ml::ObjectStore& store;
  ml::EventInvoker& events;
  std::chrono::system_clock::time_point deadline;  // when the invocation times out
  std::string function_name;
  std::string request_id;
  // Survives between invocations of the same (warm) environment: Lambda's /tmp, a per-environment
  // temporary directory in-process. For caches (e.g. ml::read_staged_shard's shard cache).
  std::filesystem::path scratch_dir;

  // Time left before the deadline; zero once it has passed.
  std::chrono::milliseconds remaining_time() const;
};

// Returns the answer's bytes. Throws InvalidInput (handlers.hpp) or ml::ProtocolError for a request
// it refuses; anything else it throws is reported under its C++ type name.
using ProductHandler =
    std::function<std::string(std::string_view payload, HandlerContext& context)>;
// Handler name (Lambda's _HANDLER) -> handler.
using HandlerTable = std::map<std::string, ProductHandler>;

// Runs one invocation the way the runtime reports it: the answer, or Lambda's error document with
// errorType InvalidInput for ml::ProtocolError, a FunctionError's own type, or the C++ type name.
// Never throws.
runtime::InvocationResponse serve_invocation(const ProductHandler& handler,
                                             std::string_view payload, HandlerContext& context);

}  // namespace stratus::functions
