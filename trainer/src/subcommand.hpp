#pragma once
// One `stratus-trainer` subcommand: its options are registered on the app when it is added
// (add_<name>_command), and it runs once the command line named it. main.cpp keeps every one in
// a single list, so a new workload's command is one add_ function and one line there.

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>  // an add_ function keeps its options in a shared_ptr that `run` captures
#include <optional>

namespace stratus::trainer {

struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;  // the command, its options parsed; returns the exit code

  // The exit code when this subcommand was on the command line; nullopt otherwise.
  std::optional<int> run_if_parsed() const {
    if (!app->parsed()) return std::nullopt;
    return run();
  }
};

}  // namespace stratus::trainer
