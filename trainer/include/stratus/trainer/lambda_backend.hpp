#pragma once
// Shards as Lambda invocations: to the local emulator or any Lambda-compatible endpoint over HTTP,
// or to real AWS over HTTPS with SigV4. Fan-out is asynchronous on one thread, bounded in flight,
// over a keep-alive connection pool, with a deadline per call, retries (throttles and 5xx in the
// HTTP client; function errors here, bounded) and duplicate answers recognised by their
// (epoch, step, shard) and ignored.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "stratus/common/http_client.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/trainer/gradient_backend.hpp"

namespace stratus::trainer {

enum class PayloadFormat { Json, Zlib };

struct LambdaBackendOptions {
  Endpoint endpoint;
  std::string function = "gradient";
  PayloadFormat payload = PayloadFormat::Json;
  std::optional<aws::Credentials> credentials;  // sign with SigV4 when set
  std::string region = "us-east-1";
  int max_in_flight = 64;
  std::chrono::milliseconds call_deadline{std::chrono::seconds(120)};
  int function_error_retries = 2;
  LambdaPrices prices;
  std::string label;  // how describe() names the target
};

std::unique_ptr<GradientBackend> make_lambda_backend(LambdaBackendOptions options);

// The function's request for one shard (exposed for tests and benchmarks).
std::string encode_gradient_request(const ShardTask& task, std::span<const double> weights, double bias,
                                    PayloadFormat format);

}  // namespace stratus::trainer
