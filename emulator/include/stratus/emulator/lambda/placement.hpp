#pragma once
// What the scheduler answers when handed an invocation: started, or why not. The scheduler returns
// it; the API edge maps a refusal to Lambda's error (refusal_error, api_error.hpp).

namespace stratus::emulator {

// Why a synchronous invocation cannot start now (None when it can).
enum class Throttle { None, Reserved, Account, ScaleUpRate };
// Lambda's Reason for a throttle ("ReservedFunctionConcurrentInvocationLimitExceeded", ...).
const char* throttle_reason(Throttle t);

enum class Placement { Started, FunctionNotFound, ShuttingDown, Throttled };

struct PlacementResult {
  Placement placement = Placement::Started;
  Throttle throttle = Throttle::None;  // why, when Throttled
  bool started() const { return placement == Placement::Started; }
};

}  // namespace stratus::emulator
