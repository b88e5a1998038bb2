#include "stratus/functions/lambda_services.hpp"

#include <cstdlib>
#include <memory>

#include "stratus/common/lambda_client.hpp"
#include "stratus/common/s3_client.hpp"
#include "stratus/functions/lambda_event_invoker.hpp"
#include "stratus/functions/lazy_services.hpp"
#include "stratus/functions/s3_object_store.hpp"

namespace stratus::functions {

namespace {

struct EnvironmentServices {
  LazyObjectStore store{
      [] { return std::make_unique<S3ObjectStore>(aws::S3ClientOptions::from_environment()); }};
  LazyEventInvoker events{[] {
    return std::make_unique<LambdaEventInvoker>(aws::LambdaClientOptions::from_environment());
  }};
};

// One per environment (process), reused across warm invocations: the clients' connection pools
// survive between them.
EnvironmentServices& environment_services() {
  static EnvironmentServices services;
  return services;
}

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

std::map<std::string, runtime::Handler> lambda_runtime_handlers(const HandlerTable& table) {
  std::map<std::string, runtime::Handler> handlers;
  for (const auto& [name, handler] : table) {
    handlers[name] = [handler](const runtime::InvocationRequest& request) {
      EnvironmentServices& services = environment_services();
      HandlerContext context{services.store,     services.events,
                             request.deadline,   environment_variable("AWS_LAMBDA_FUNCTION_NAME"),
                             request.request_id, "/tmp"};
      return serve_invocation(handler, request.payload, context);
    };
  }
  return handlers;
}

}  // namespace stratus::functions
