#include "stratus/emulator/lambda/invocation.hpp"

namespace stratus::emulator {

void Invocation::append_log(std::string_view text) {
  // Only a caller that asked for the tail (LogType Tail) ever reads it: the others' invocations
  // keep no copy of their log (it is in the log stream file either way).
  if (!want_log_tail) return;
  log_.append(text);
  // Keep memory bounded for chatty functions: only the tail is ever returned.
  if (log_.size() > 4 * kLogTailBytes) log_.erase(0, log_.size() - kLogTailBytes);
}

std::string Invocation::log_tail() const {
  if (log_.size() <= kLogTailBytes) return log_;
  return log_.substr(log_.size() - kLogTailBytes);
}

}  // namespace stratus::emulator
