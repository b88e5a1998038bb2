#include "stratus/emulator/s3_attribution.hpp"

#include "stratus/common/sigv4.hpp"

namespace stratus::emulator {

std::string S3Attribution::register_environment(const std::string& env_id) {
  std::string key = std::string(kEnvironmentAccessKeyPrefix) + env_id;
  by_key_[key] = S3Work{};
  return key;
}

void S3Attribution::unregister(const std::string& access_key_id) {
  by_key_.erase(access_key_id);
}

void S3Attribution::record(std::string_view access_key_id, bool write_class, std::uint64_t bytes,
                           double measured_ms) {
  auto it = by_key_.find(access_key_id);
  if (it == by_key_.end()) return;
  it->second.requests += 1;
  it->second.bytes += bytes;
  it->second.measured_ms += measured_ms;
  it->second.modeled_ms += modeled_s3_request_ms(profile_, write_class, bytes);
}

S3Work S3Attribution::totals(const std::string& access_key_id) const {
  auto it = by_key_.find(access_key_id);
  return it == by_key_.end() ? S3Work{} : it->second;
}

std::string access_key_of(std::string_view authorization) {
  auto parsed = aws::parse_authorization(authorization);
  return parsed ? parsed->access_key_id : std::string();
}

}  // namespace stratus::emulator
