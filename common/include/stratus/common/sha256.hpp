#pragma once
// SHA-256 in one call (streaming: Checksum(ChecksumAlgorithm::sha256), checksum.hpp).

#include <string>
#include <string_view>

namespace stratus {

// 32 raw bytes: Lambda's CodeSha256 is their base64, SigV4's hashes their hex.
std::string sha256_digest(std::string_view data);

}  // namespace stratus
