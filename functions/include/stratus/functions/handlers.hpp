#pragma once
// The product's Lambda handlers. Each is a plain function so the trainer's in-process invoker can
// call it directly; product_handlers() wraps them for the runtime, keyed by their _HANDLER name.

#include <map>
#include <string>
#include <string_view>

#include "stratus/runtime/runtime_client.hpp"

namespace stratus::functions {

// Returns the event unchanged.
std::string echo_handler(std::string_view payload);

// name -> handler, as the `bootstrap` selects them with _HANDLER.
std::map<std::string, runtime::Handler> product_handlers();

}  // namespace stratus::functions
