#pragma once
// `stratus-trainer sweep casea`: a what-if grid of memory sizes x worker counts, each point a real
// short Case A run whose modeled AWS time and cost are read, with the Pareto front marked
// (pareto.hpp). AWS Lambda Power Tuning's idea, for whole training runs and for free.

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct SweepCommand;

class SweepCommandHandle {
 public:
  explicit SweepCommandHandle(CLI::App& app);
  ~SweepCommandHandle();
  std::optional<int> run_if_parsed();

 private:
  std::unique_ptr<SweepCommand> command_;
};

}  // namespace stratus::trainer
