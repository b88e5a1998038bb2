#pragma once
// `stratus-trainer predict`: one image classified by the `predict` function
// (stratus/ml/predict_protocol.hpp) with a model in S3.

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct PredictCommand;

class PredictCommandHandle {
 public:
  explicit PredictCommandHandle(CLI::App& app);
  ~PredictCommandHandle();
  std::optional<int> run_if_parsed();  // the exit code when `predict` was given

 private:
  std::unique_ptr<PredictCommand> command_;
};

}  // namespace stratus::trainer
