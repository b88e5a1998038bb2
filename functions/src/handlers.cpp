#include "stratus/functions/handlers.hpp"

namespace stratus::functions {
namespace {

// Adapts a plain string -> string handler to the runtime's request/response types.
template <std::string (*PlainHandler)(std::string_view)>
runtime::InvocationResponse serve(const runtime::InvocationRequest& request) {
  return runtime::InvocationResponse::success(PlainHandler(request.payload));
}

}  // namespace

std::string echo_handler(std::string_view payload) {
  return std::string(payload);
}

std::map<std::string, runtime::Handler> product_handlers() {
  return {
      {"echo", serve<echo_handler>},
      {"gradient", serve<gradient_handler>},
      {"gradient_z", serve<gradient_z_handler>},
      {"shard_stats", serve<shard_stats_handler>},
  };
}

}  // namespace stratus::functions
