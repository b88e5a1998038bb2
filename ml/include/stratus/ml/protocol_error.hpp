#pragma once
// A request a workload's handler refuses (malformed, inconsistent, out of range), or an answer the
// driver cannot use. Functions report it as errorType "InvalidInput" (functions/handlers.hpp);
// the message names the offending field.

#include <stdexcept>

namespace stratus::ml {

class ProtocolError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace stratus::ml
