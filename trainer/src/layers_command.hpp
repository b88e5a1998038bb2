#pragma once
// `stratus-trainer layers`: a logistic network whose layers (or slices of K neurons) are
// functions (trainer/include/stratus/trainer/layer_parallel.hpp).

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct LayersCommand;

// Adds the subcommand; the returned handle runs it when it was given.
class LayersCommandHandle {
 public:
  explicit LayersCommandHandle(CLI::App& app);
  ~LayersCommandHandle();
  // The exit code when `layers` was on the command line; nullopt otherwise.
  std::optional<int> run_if_parsed();

 private:
  std::unique_ptr<LayersCommand> command_;
};

}  // namespace stratus::trainer
