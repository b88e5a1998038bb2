#pragma once
// ml::EventInvoker over Lambda's Invoke API (X-Amz-Invocation-Type: Event, SigV4): what a function
// in Lambda or in the emulator uses to start other functions, or itself.

#include <memory>

#include "stratus/common/lambda_client.hpp"
#include "stratus/ml/event_invoker.hpp"

namespace stratus::functions {

class LambdaEventInvoker : public ml::EventInvoker {
 public:
  explicit LambdaEventInvoker(aws::LambdaClientOptions options);
  ~LambdaEventInvoker() override;

  // Throttles (429), 5xx and connection failures are retried twice, 100 ms and 400 ms apart;
  // anything else, or the last failure, throws ml::EventInvokeError.
  void invoke_event(const std::string& function, std::string payload) override;

 private:
  std::unique_ptr<aws::LambdaClient> client_;
};

}  // namespace stratus::functions
