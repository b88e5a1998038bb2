#pragma once
// The names a workload protocol accepts from an untrusted request: run ids (they become S3 key
// segments, so a safe character set) and bucket names (S3's own rule, so a bad one fails at the
// codec with a clear message, not later as an S3 error).

#include <cstddef>
#include <string_view>

namespace stratus::ml {

// 1..max_length characters of A-Z a-z 0-9 . _ -
inline bool is_valid_run_id(std::string_view id, std::size_t max_length) {
  if (id.empty() || id.size() > max_length) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// 3..63 characters of a-z 0-9 . -
inline bool is_valid_bucket_name(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

}  // namespace stratus::ml
