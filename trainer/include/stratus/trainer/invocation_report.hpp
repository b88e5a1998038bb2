#pragma once
// What one invocation cost, read from the REPORT line Lambda writes into its log (which
// `X-Amz-Log-Type: Tail` returns). The emulator writes the same line, so this works on both.

#include <optional>
#include <string_view>

namespace stratus::trainer {

struct InvocationReport {
  double duration_ms = 0;
  double billed_ms = 0;
  int memory_mb = 0;
  int max_memory_used_mb = 0;
  std::optional<double> init_ms;  // present on a cold start
};

// Finds the last REPORT line in a log tail and parses it; nullopt when there is none.
std::optional<InvocationReport> parse_report(std::string_view log_tail);

struct LambdaPrices {
  double request = 0.20 / 1e6;
  double gb_second = 0.0000166667;  // x86_64
};

double invocation_cost(const InvocationReport& report, const LambdaPrices& prices);

}  // namespace stratus::trainer
