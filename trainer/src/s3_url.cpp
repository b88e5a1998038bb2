#include "stratus/trainer/s3_url.hpp"

namespace stratus::trainer {

std::optional<S3ObjectUrl> parse_s3_object_url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) return std::nullopt;
  const std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
    return std::nullopt;
  return S3ObjectUrl{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
}

}  // namespace stratus::trainer
