#include "stratus/trainer/invocation_report.hpp"

#include <charconv>
#include <string>

namespace stratus::trainer {

namespace {

// The number after "<label>: " on the line, if the label is there.
std::optional<double> field(std::string_view line, std::string_view label) {
  auto pos = line.find(label);
  if (pos == std::string_view::npos) return std::nullopt;
  pos += label.size();
  while (pos < line.size() && line[pos] == ' ') ++pos;
  double value = 0;
  auto [ptr, ec] = std::from_chars(line.data() + pos, line.data() + line.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<InvocationReport> parse_report(std::string_view log_tail) {
  auto pos = log_tail.rfind("REPORT RequestId:");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view line = log_tail.substr(pos);
  line = line.substr(0, line.find('\n'));
  InvocationReport r;
  auto duration = field(line, "\tDuration:");
  auto billed = field(line, "Billed Duration:");
  if (!duration || !billed) return std::nullopt;
  r.duration_ms = *duration;
  r.billed_ms = *billed;
  r.memory_mb = static_cast<int>(field(line, "Memory Size:").value_or(0));
  r.max_memory_used_mb = static_cast<int>(field(line, "Max Memory Used:").value_or(0));
  r.init_ms = field(line, "Init Duration:");
  return r;
}

double invocation_cost(const InvocationReport& report, const LambdaPrices& prices) {
  return prices.request + (report.memory_mb / 1024.0) * (report.billed_ms / 1000.0) * prices.gb_second;
}

}  // namespace stratus::trainer
