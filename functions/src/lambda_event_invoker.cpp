#include "stratus/functions/lambda_event_invoker.hpp"

#include <cstdlib>
#include <thread>

namespace stratus::functions {

LambdaEventInvoker::LambdaEventInvoker(aws::LambdaClientOptions options)
    : client_(std::make_unique<aws::LambdaClient>(std::move(options))) {}

LambdaEventInvoker::~LambdaEventInvoker() = default;

void LambdaEventInvoker::invoke_event(const std::string& function, std::string payload) {
  aws::InvokeOptions options;
  options.type = aws::InvocationType::Event;
  options.deadline = std::chrono::seconds(30);
  // The chain continues through this invoke: forwarded as Lambda's SDKs do, for loop detection.
  if (const char* trace = std::getenv("_X_AMZN_TRACE_ID")) options.trace_header = trace;
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    aws::InvokeResult result = client_->invoke(function, payload, options);
    if (result.status == 202) return;
    const bool transient = result.transport_error || result.status == 429 || result.status >= 500;
    if (!transient || attempt == kAttempts) {
      throw ml::EventInvokeError("Event invoke of '" + function + "' refused: " +
                                 result.describe_refusal(client_->options().endpoint));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt == 1 ? 100 : 400));
  }
}

}  // namespace stratus::functions
