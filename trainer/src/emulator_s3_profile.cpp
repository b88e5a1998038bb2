#include "stratus/trainer/emulator_s3_profile.hpp"

#include <cmath>

#include "stratus/common/http_client.hpp"

namespace stratus::trainer {

namespace {

std::optional<std::pair<double, double>> transfer(const nlohmann::json& profile,
                                                  const char* which) {
  auto it = profile.find(which);
  if (it == profile.end() || !it->is_object()) return std::nullopt;
  auto latency = it->find("first_byte_ms");
  auto throughput = it->find("mb_per_s");
  if (latency == it->end() || throughput == it->end() || !latency->is_number() ||
      !throughput->is_number())
    return std::nullopt;
  const double ms = latency->get<double>(), mb = throughput->get<double>();
  if (!std::isfinite(ms) || !std::isfinite(mb) || ms < 0 || mb <= 0) return std::nullopt;
  return std::pair{ms, mb};
}

}  // namespace

std::optional<S3TimeProfile> parse_s3_profile(const nlohmann::json& usage) {
  if (!usage.is_object()) return std::nullopt;
  auto it = usage.find("s3_profile");
  if (it == usage.end() || !it->is_object()) return std::nullopt;
  auto read = transfer(*it, "read");
  auto write = transfer(*it, "write");
  if (!read || !write) return std::nullopt;
  S3TimeProfile profile;
  profile.read_first_byte_ms = read->first;
  profile.read_mb_per_s = read->second;
  profile.write_first_byte_ms = write->first;
  profile.write_mb_per_s = write->second;
  return profile;
}

std::optional<S3TimeProfile> emulator_s3_profile(const Target& target) {
  if (target.kind != TargetKind::Url || !target.remote) return std::nullopt;
  try {
    const Endpoint& endpoint = target.remote->lambda.endpoint;
    HttpRequest request;
    request.method = "GET";
    request.target = endpoint.path + "/stratus/v1/usage";
    const HttpResult result =
        http_request_blocking(endpoint, std::move(request), std::chrono::seconds(10));
    if (!result.ok()) return std::nullopt;
    const auto usage = nlohmann::json::parse(result.body, nullptr, false);
    return parse_s3_profile(usage);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace stratus::trainer
