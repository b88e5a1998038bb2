#pragma once
// `stratus-trainer casec`: CLOUD 2018 Case C, random hyperparameter search on MNIST, one function
// invocation per trial (trainer/include/stratus/trainer/hyperparameter_search.hpp).

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>

namespace stratus::trainer {

struct CasecCommand;

// Adds the subcommand; the returned handle runs it when it was given.
class CasecCommandHandle {
 public:
  explicit CasecCommandHandle(CLI::App& app);
  ~CasecCommandHandle();
  // The exit code when `casec` was on the command line; nullopt otherwise.
  std::optional<int> run_if_parsed();

 private:
  std::unique_ptr<CasecCommand> command_;
};

}  // namespace stratus::trainer
