#pragma once
// --backup-after / --backup-after-median, the same on every command that fans out calls.

#include <CLI/CLI.hpp>
#include <chrono>

#include "stratus/trainer/fan_out.hpp"

namespace stratus::trainer {

struct BackupFlags {
  double after_s = 0;
  double after_median = 0;

  void add_to(CLI::App& app, const char* which) {
    app.add_option("--backup-after", after_s,
                   std::string(which) +
                       "back up a call still running after this many seconds with an identical "
                       "second call; the first answer wins (0: never)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    app.add_option("--backup-after-median", after_median,
                   std::string(which) +
                       "back up a call once it has run this many times the median latency of the "
                       "calls answered so far (0: never)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
  }
  void apply(FanOutOptions& fan_out) const {
    fan_out.backup_after = std::chrono::milliseconds(static_cast<long long>(after_s * 1000));
    fan_out.backup_after_median = after_median;
  }
};

}  // namespace stratus::trainer
