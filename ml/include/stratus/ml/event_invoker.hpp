#pragma once
// Event (asynchronous) invocations a function makes of other functions, or of itself (the paper's
// workers start each other and re-invoke themselves to stay under the time limit). Over HTTP it is
// Lambda's Invoke with X-Amz-Invocation-Type: Event (functions/: LambdaEventInvoker); in-process it
// runs the named handler of the same handler table on a bounded worker pool (trainer/).

#include <stdexcept>
#include <string>

namespace stratus::ml {

// The invocation was not accepted (unknown function, throttled, payload too large, unreachable).
class EventInvokeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class EventInvoker {
 public:
  virtual ~EventInvoker() = default;
  // Returns once the event is accepted (Lambda: 202); it runs later, at least once. Throws
  // EventInvokeError on refusal. Thread-safe.
  virtual void invoke_event(const std::string& function, std::string payload) = 0;
};

}  // namespace stratus::ml
