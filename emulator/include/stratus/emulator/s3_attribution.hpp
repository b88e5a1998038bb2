#pragma once
// Attributes the S3 requests the emulator serves to the execution environment that made them:
// each environment signs with its own access key id (kEnvironmentAccessKeyPrefix + its id), and
// the S3 endpoint records each request's bytes and time under that key. Environments read their
// totals at the start and the end of each invocation (time_model.hpp). One io_context thread uses
// it; no locking.

#include <map>
#include <string>
#include <string_view>

#include "stratus/emulator/config.hpp"
#include "stratus/emulator/time_model.hpp"

namespace stratus::emulator {

class S3Attribution {
 public:
  explicit S3Attribution(S3Profile profile) : profile_(profile) {}

  // The access key id an environment's process gets; its requests are counted from now on.
  std::string register_environment(const std::string& env_id);
  void unregister(const std::string& access_key_id);
  // One served request signed with `access_key_id` (requests by other keys are not attributed).
  void record(std::string_view access_key_id, bool write_class, std::uint64_t bytes,
              double measured_ms);
  // Everything attributed to the key so far (zero for an unknown key).
  S3Work totals(const std::string& access_key_id) const;
  const S3Profile& profile() const { return profile_; }

 private:
  S3Profile profile_;
  std::map<std::string, S3Work, std::less<>> by_key_;
};

// The access key id of a SigV4 Authorization header value, or "" when it has none.
std::string access_key_of(std::string_view authorization);

}  // namespace stratus::emulator
