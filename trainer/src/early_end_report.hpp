#pragma once
// A training run that ends early still leaves its report: the command's `write_ended` gets why it
// ended ({"stopped_by", "stop_reason"} for a budget stop, {"failed": true, "error"} otherwise)
// and writes what the run finished; the exception then goes on to the command's exit.

#include <nlohmann/json.hpp>

#include "stratus/trainer/run_budget.hpp"

namespace stratus::trainer {

template <class Run, class WriteEnded>
auto run_reporting_early_end(Run&& run, WriteEnded&& write_ended) -> decltype(run()) {
  try {
    return run();
  } catch (const BudgetExceeded& e) {
    write_ended(nlohmann::ordered_json{{"stopped_by", e.limit()}, {"stop_reason", e.what()}});
    throw;
  } catch (const std::exception& e) {
    write_ended(nlohmann::ordered_json{{"failed", true}, {"error", e.what()}});
    throw;
  }
}

}  // namespace stratus::trainer
