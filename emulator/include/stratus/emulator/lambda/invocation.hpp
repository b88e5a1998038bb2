#pragma once
// One invocation of a function, from the moment the API accepts it until its outcome is known.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "stratus/emulator/time_model.hpp"

namespace stratus::emulator {

using SteadyClock = std::chrono::steady_clock;

struct InvocationOutcome {
  std::string payload;
  std::string function_error;  // empty on success, else "Unhandled"
  std::string log_tail;        // the invocation's log, capped to its last 4 KB
  // The modeled figures for the X-Stratus-Modeled-* headers (time_model.hpp): set only when the
  // caller asked for them (Invocation::want_modeled) and time_model is "aws".
  std::optional<ModeledText> modeled;
};

struct Invocation {
  std::string request_id;
  std::string function_name;
  std::string payload;
  std::string client_context;  // decoded JSON, empty when none
  bool want_log_tail = false;
  bool want_modeled = false;  // the request sent X-Stratus-Modeled: 1
  bool is_event = false;
  // The X-Amzn-Trace-Id the caller sent (carries the recursion chain's Lineage), empty when none.
  std::string trace_id;

  SteadyClock::time_point received = SteadyClock::now();
  std::chrono::system_clock::time_point received_wall = std::chrono::system_clock::now();
  int attempts = 0;                       // times handed to an environment
  SteadyClock::time_point not_before{};   // async retries wait until then
  InvocationOutcome last_outcome;         // async: what the last attempt answered

  // Called exactly once per attempt with its outcome.
  std::function<void(InvocationOutcome)> on_complete;

  void append_log(std::string_view text);
  std::string log_tail() const;

 private:
  std::string log_;
};

inline constexpr std::size_t kLogTailBytes = 4096;

}  // namespace stratus::emulator
