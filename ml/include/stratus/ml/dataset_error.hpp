#pragma once
// Data that cannot be used: unreadable files, inconsistent samples, a malformed manifest. Shared
// by the trainer (which reads and stages datasets) and the functions (which read staged shards).

#include <stdexcept>

namespace stratus::ml {

class DatasetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace stratus::ml
