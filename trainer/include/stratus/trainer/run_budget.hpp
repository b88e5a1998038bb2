#pragma once
// A training run's limits: --max-cost USD and --max-wall SECONDS on every training command. The
// run checks its budget as it goes (after each round or epoch, and while it waits); past either
// limit it is stopped (Case A/B: its stop flag set, so no function keeps it going) and the
// command exits non-zero with a message naming the limit.
//
// Cost is what the run knows of its bill: billed figures from REPORT lines (the modeled figures,
// where the emulator models them, once InvocationTelemetry carries them).

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace stratus::trainer {

class BudgetExceeded : public std::runtime_error {
 public:
  BudgetExceeded(const std::string& what, std::string limit)
      : std::runtime_error(what), limit_(std::move(limit)) {}
  // "--max-cost" or "--max-wall"
  const std::string& limit() const { return limit_; }

 private:
  std::string limit_;
};

struct RunBudget {
  std::optional<double> max_cost_usd;
  std::optional<double> max_wall_s;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  bool limited() const { return max_cost_usd || max_wall_s; }
  // Throws BudgetExceeded when `cost_usd` (so far) or the time since `started` is past its limit.
  // `where` says when it was noticed ("after round 3").
  void check(double cost_usd, const std::string& where) const;
  double elapsed_s() const;
};

}  // namespace stratus::trainer
