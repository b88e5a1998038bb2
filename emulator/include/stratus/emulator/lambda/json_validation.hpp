#pragma once
// Lambda refuses invoke payloads that are not JSON. The check runs on the daemon's only thread for
// every byte of every payload (up to 6 MB each), so it must run at memory speed.

#include <memory>
#include <string_view>

namespace stratus::emulator {

class JsonValidator {
 public:
  JsonValidator();
  ~JsonValidator();
  JsonValidator(const JsonValidator&) = delete;
  JsonValidator& operator=(const JsonValidator&) = delete;

  // True when `text` is one complete JSON value (RFC 8259). Not for concurrent use: each call
  // reuses the validator's parser and buffer (one validator per thread).
  bool valid(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stratus::emulator
