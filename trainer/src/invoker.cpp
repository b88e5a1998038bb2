#include "stratus/trainer/invoker.hpp"

#include <future>

namespace stratus::trainer {

InvocationResult Invoker::invoke(const std::string& function, std::string payload,
                                 std::chrono::milliseconds deadline) {
  std::promise<InvocationResult> promise;
  auto future = promise.get_future();
  start(function, std::move(payload), deadline,
        [&promise](InvocationResult r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace stratus::trainer
