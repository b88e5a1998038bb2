#pragma once
// `stratus-trainer augment`: fans the `augment` function out over the images under an S3 prefix
// (stratus/ml/augment_protocol.hpp) and reports images in/out, time and cost.

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct AugmentCommand;

class AugmentCommandHandle {
 public:
  explicit AugmentCommandHandle(CLI::App& app);
  ~AugmentCommandHandle();
  std::optional<int> run_if_parsed();

 private:
  std::unique_ptr<AugmentCommand> command_;
};

}  // namespace stratus::trainer
