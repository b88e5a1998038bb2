#pragma once
// s3://BUCKET/KEY, the form the trainer's options name an object in S3 with (a staged dataset's
// manifest, a model). Each option says in its own words what it expected; this only splits.

#include <optional>
#include <string>
#include <string_view>

namespace stratus::trainer {

struct S3ObjectUrl {
  std::string bucket;
  std::string key;
};

// nullopt unless `url` is s3:// followed by a non-empty bucket, a slash and a non-empty key.
std::optional<S3ObjectUrl> parse_s3_object_url(std::string_view url);

}  // namespace stratus::trainer
