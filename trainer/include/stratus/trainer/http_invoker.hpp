#pragma once
// Invocations over Lambda's HTTP API (aws::LambdaClient): to the emulator, any Lambda-compatible
// endpoint, or AWS over HTTPS with SigV4. Every call asks for the log tail, so the REPORT line
// (billed duration, memory, init duration of a cold start) comes back with the answer.

#include <memory>
#include <string>

#include "stratus/common/lambda_client.hpp"
#include "stratus/trainer/invoker.hpp"

namespace stratus::trainer {

class HttpInvoker : public Invoker {
 public:
  // `label` is what describe() returns (default: the endpoint's origin).
  explicit HttpInvoker(aws::LambdaClientOptions options, std::string label = {});
  ~HttpInvoker() override;

  void start(const std::string& function, std::string payload, std::chrono::milliseconds deadline,
             Callback done) override;
  std::string describe() const override { return label_; }
  // The client's connection pool: more calls than that would queue inside their own deadlines.
  int concurrency() const override;

  aws::LambdaClient& client() { return *client_; }

 private:
  std::unique_ptr<aws::LambdaClient> client_;
  std::string label_;
};

// The telemetry of one answer (exposed for tests): status, function error, REPORT line from the
// log tail, modeled figures from X-Stratus-Modeled-* headers, and for refusals a readable error
// that names the function and endpoint when the function is missing.
InvocationTelemetry telemetry_of(const aws::InvokeResult& result, const std::string& function,
                                 const Endpoint& endpoint);

}  // namespace stratus::trainer
