#include "stratus/trainer/target.hpp"

#include <algorithm>
#include <stdexcept>

#include "stratus/common/aws_environment.hpp"
#include "stratus/common/emulator_credentials.hpp"
#include "stratus/functions/lambda_event_invoker.hpp"
#include "stratus/functions/lazy_services.hpp"
#include "stratus/functions/s3_object_store.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/trainer/http_invoker.hpp"
#include "stratus/trainer/local_lambda.hpp"

namespace stratus::trainer {

namespace {

bool is_url(const std::string& target) {
  return target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
}

}  // namespace

RemoteSettings resolve_remote(const TargetOptions& o) {
  RemoteSettings settings;
  if (o.target == "aws") {
    const std::string region = o.region.empty() ? aws::resolve_region(o.profile) : o.region;
    const aws::Credentials credentials = aws::resolve_credentials(o.profile);
    settings.lambda.region = region;
    settings.lambda.endpoint = aws::resolve_endpoint("lambda", region);
    settings.lambda.credentials = credentials;
    settings.s3.region = region;
    settings.s3.endpoint = aws::resolve_endpoint("s3", region);
    settings.s3.credentials = credentials;
    if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); bundle && *bundle) {
      settings.lambda.ca_file = bundle;
      settings.s3.ca_file = bundle;
    }
    settings.label = "AWS Lambda " + region + " (" + settings.lambda.endpoint.origin() + ")";
    return settings;
  }
  if (!is_url(o.target)) {
    throw std::invalid_argument("--target must be local, aws, or an http(s):// URL; got '" +
                                o.target + "'");
  }
  const Endpoint endpoint = Endpoint::parse(o.target);
  settings.lambda.endpoint = endpoint;
  settings.s3.endpoint = endpoint;
  settings.s3.addressing = aws::S3AddressingStyle::Path;
  // Sign when credentials are at hand (an emulator with SigV4 checking needs them); else Lambda
  // calls go unsigned and S3 ones carry the key the emulator accepts from its own functions.
  try {
    settings.lambda.credentials = aws::resolve_credentials(o.profile);
    settings.s3.credentials = *settings.lambda.credentials;
  } catch (const aws::ConfigurationError&) {
    settings.s3.credentials = {kEmulatorFunctionAccessKeyId, kEmulatorFunctionSecretAccessKey, ""};
  }
  std::string region = o.region;
  if (region.empty()) {
    try {
      region = aws::resolve_region(o.profile);
    } catch (const aws::ConfigurationError&) {
      region = "us-east-1";
    }
  }
  settings.lambda.region = region;
  settings.s3.region = region;
  settings.label = endpoint.origin();
  return settings;
}

Target make_target(const TargetOptions& options) {
  Target target;
  if (options.target == "local") {
    target.kind = TargetKind::Local;
    target.label = "local (in-process)";
    target.store = std::make_unique<ml::MemoryObjectStore>();
    auto lambda = std::make_unique<LocalLambda>(product_function_table(), *target.store);
    target.local = lambda.get();
    target.invoker = std::make_unique<InProcessInvoker>(*lambda, options.local_threads);
    target.events = std::move(lambda);
    return target;
  }
  RemoteSettings settings = resolve_remote(options);
  target.kind = options.target == "aws" ? TargetKind::Aws : TargetKind::Url;
  target.label = settings.label;
  target.store = std::make_unique<functions::LazyObjectStore>(
      [s3 = settings.s3] { return std::make_unique<functions::S3ObjectStore>(s3); });
  target.events = std::make_unique<functions::LazyEventInvoker>([lambda = settings.lambda] {
    return std::make_unique<functions::LambdaEventInvoker>(lambda);
  });
  aws::LambdaClientOptions invoking = settings.lambda;
  invoking.max_connections = std::max<std::size_t>(1, options.http_connections);
  target.invoker = std::make_unique<HttpInvoker>(std::move(invoking), settings.label);
  target.remote = std::move(settings);
  return target;
}

}  // namespace stratus::trainer
