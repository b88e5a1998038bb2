#include "stratus/functions/handlers.hpp"

namespace stratus::functions {
namespace {

// Adapts a handler that needs nothing but its payload.
template <std::string (*PlainHandler)(std::string_view)>
std::string payload_only(std::string_view payload, HandlerContext&) {
  return PlainHandler(payload);
}

}  // namespace

std::chrono::milliseconds HandlerContext::remaining_time() const {
  const auto now = std::chrono::system_clock::now();
  if (deadline <= now) return std::chrono::milliseconds::zero();
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
}

runtime::InvocationResponse serve_invocation(const ProductHandler& handler,
                                             std::string_view payload, HandlerContext& context) {
  runtime::InvocationRequest request;
  request.request_id = context.request_id;
  request.deadline = context.deadline;
  const runtime::Handler adapted = [&](const runtime::InvocationRequest&) {
    try {
      return runtime::InvocationResponse::success(handler(payload, context));
    } catch (const ml::ProtocolError& refused) {
      throw InvalidInput(refused.what());
    }
  };
  return runtime::invoke_guarded(adapted, request);
}

std::string echo_handler(std::string_view payload) {
  return std::string(payload);
}

HandlerTable product_handlers() {
  return {
      {"echo", payload_only<echo_handler>},
      {"gradient", payload_only<gradient_handler>},
      {"gradient_z", payload_only<gradient_z_handler>},
      {"shard_stats", shard_stats_handler},
      {"model_averaging", model_averaging_handler},
      {"layer", layer_handler},
      {"predict", predict_handler},
      {"augment", augment_handler},
      {"hyperparameter_trial", hyperparameter_trial_handler},
  };
}

}  // namespace stratus::functions
