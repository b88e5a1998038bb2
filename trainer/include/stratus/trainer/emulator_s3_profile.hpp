#pragma once
// The S3 time profile an emulator models S3 requests with (its config's s3_profile, shown in
// GET /stratus/v1/usage), so the functions orchestration's modeled rounds (composed by the
// trainer from the workers' traces) use the emulator's profile rather than the built-in default.

#include <nlohmann/json.hpp>
#include <optional>

#include "stratus/trainer/modeled_round.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

// The "s3_profile" of a /stratus/v1/usage document; nullopt when it has none (an emulator from
// before it was shown) or it is malformed (a latency below 0, a throughput not above 0).
std::optional<S3TimeProfile> parse_s3_profile(const nlohmann::json& usage);

// For an emulator URL target, its profile (one GET, 10 s at most); nullopt for local and AWS
// targets and when the emulator does not say. Never throws: the default then applies.
std::optional<S3TimeProfile> emulator_s3_profile(const Target& target);

}  // namespace stratus::trainer
