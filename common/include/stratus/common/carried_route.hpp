#pragma once
// Reading a handler's own route back from a request (HttpRoute, http_message.hpp).

#include <memory>
#include <optional>

#include "stratus/common/http_message.hpp"

namespace stratus {

// The T carried in `route`; for a request handed over without a plan (a test calling handle()
// directly), `decide()` kept in `storage`.
template <class T, class Decide>
const T& carried_route_or(const std::shared_ptr<const HttpRoute>& route, std::optional<T>& storage, Decide&& decide) {
  if (const T* carried = carried_route<T>(route)) return *carried;
  return storage.emplace(decide());
}

}  // namespace stratus
