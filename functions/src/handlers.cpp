#include "stratus/functions/handlers.hpp"

namespace stratus::functions {

std::string echo_handler(std::string_view payload) {
  return std::string(payload);
}

std::map<std::string, runtime::Handler> product_handlers() {
  return {
      {"echo",
       [](const runtime::InvocationRequest& request) {
         return runtime::InvocationResponse::success(echo_handler(request.payload));
       }},
  };
}

}  // namespace stratus::functions
