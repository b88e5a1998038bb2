#pragma once
// Where a trainer command runs its functions, from the CLI's --target local|URL|aws (with
// --region, --profile): one function builds the Invoker, the ObjectStore and the EventInvoker that
// every command uses.
//
// - local: the product handlers in this process (LocalLambda), an in-memory object store, and
//   in-process Event invocations; nothing but the binary is needed.
// - URL (http:// or https://, e.g. the emulator at http://127.0.0.1:9001): Lambda and S3 at that
//   endpoint (the emulator serves both on one port). Calls are SigV4-signed when credentials are at
//   hand (an emulator checking signatures needs them), unsigned otherwise; S3 then signs with the
//   key the emulator accepts from its own functions.
// - aws: AWS's regional Lambda and S3 endpoints (or AWS_ENDPOINT_URL_*), credentials and region as
//   the AWS CLI finds them.
// Remote stores and Event invokers are built on first use, so a command that needs neither needs
// no credentials for them.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "stratus/common/lambda_client.hpp"
#include "stratus/common/s3_client.hpp"
#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/invoker.hpp"

namespace stratus::trainer {

class LocalLambda;

struct TargetOptions {
  std::string target = "local";
  std::string region;
  std::string profile;
  std::size_t local_threads = 0;  // in-process invoker threads; 0: one per hardware thread
  // Keep-alive connections of a remote target's invoker: its calls in flight at most (the fan-out
  // engine bounds itself by it, so no call waits for a connection inside its own deadline).
  std::size_t http_connections = 64;
};

enum class TargetKind { Local, Url, Aws };

// How to reach a remote target's Lambda and S3.
struct RemoteSettings {
  aws::LambdaClientOptions lambda;
  aws::S3ClientOptions s3;
  std::string label;  // e.g. "http://127.0.0.1:9001", "AWS Lambda us-east-1 (https://...)"
};
// Throws std::invalid_argument for a target that is not a URL or aws (local included), and
// aws::ConfigurationError when aws lacks credentials or a region.
RemoteSettings resolve_remote(const TargetOptions& options);

struct Target {
  TargetKind kind = TargetKind::Local;
  std::string label;
  // Member order is destruction order reversed: the invoker goes first, then the Event invoker
  // (draining in-process events), then the store they use.
  std::unique_ptr<ml::ObjectStore> store;
  std::unique_ptr<ml::EventInvoker> events;
  std::unique_ptr<Invoker> invoker;
  std::optional<RemoteSettings> remote;  // URL and aws targets
  LocalLambda* local = nullptr;          // the local target's in-process Lambda (owned by events)
};

// Throws std::invalid_argument naming the accepted forms for anything else.
Target make_target(const TargetOptions& options);

}  // namespace stratus::trainer
