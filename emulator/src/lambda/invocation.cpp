#include "stratus/emulator/lambda/invocation.hpp"

namespace stratus::emulator {

void Invocation::append_log(std::string_view text) {
  log_.append(text);
  // Keep memory bounded for chatty functions: only the tail is ever returned.
  if (log_.size() > 4 * kLogTailBytes) log_.erase(0, log_.size() - kLogTailBytes);
}

std::string Invocation::log_tail() const {
  if (log_.size() <= kLogTailBytes) return log_;
  return log_.substr(log_.size() - kLogTailBytes);
}

}  // namespace stratus::emulator
