#include "stratus/trainer/run_budget.hpp"

#include <cstdio>

namespace stratus::trainer {

double RunBudget::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

void RunBudget::check(double cost_usd, const std::string& where) const {
  char text[256];
  if (max_cost_usd && cost_usd > *max_cost_usd) {
    std::snprintf(text, sizeof text,
                  "--max-cost %g USD exceeded: the run cost $%.8f %s; run stopped", *max_cost_usd,
                  cost_usd, where.c_str());
    throw BudgetExceeded(text, "--max-cost");
  }
  if (max_wall_s && elapsed_s() > *max_wall_s) {
    std::snprintf(text, sizeof text,
                  "--max-wall %g s exceeded: the run took %.1f s %s; run stopped", *max_wall_s,
                  elapsed_s(), where.c_str());
    throw BudgetExceeded(text, "--max-wall");
  }
}

}  // namespace stratus::trainer
