#pragma once
// `stratus-trainer optimize casea`: CLOUD 2018's cost optimizer (the paper's monitor) over
// memory size or worker count, on short Case A runs (optimizer_loop.hpp, cost_optimizer.hpp).

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct OptimizeCommand;

class OptimizeCommandHandle {
 public:
  explicit OptimizeCommandHandle(CLI::App& app);
  ~OptimizeCommandHandle();
  std::optional<int> run_if_parsed();

 private:
  std::unique_ptr<OptimizeCommand> command_;
};

}  // namespace stratus::trainer
