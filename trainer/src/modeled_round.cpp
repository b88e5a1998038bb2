#include "stratus/trainer/modeled_round.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace stratus::trainer {

namespace {

std::optional<double> figure(const InvocationTelemetry& t, const char* name) {
  auto it = t.modeled.find(name);
  if (it == t.modeled.end()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || errno != 0 || !std::isfinite(value) || value < 0)
    return std::nullopt;
  return value;
}

double node_time(const TreeShape& tree, std::uint32_t level, std::uint32_t node,
                 const std::vector<double>& leaves,
                 const std::function<double(std::uint32_t, std::uint32_t)>& node_ms) {
  if (level == tree.leaf_level) {
    if (node >= leaves.size())
      throw std::out_of_range("merge tree leaf " + std::to_string(node) + " has no time");
    return leaves[node];
  }
  auto [first, count] = tree.children(level, node);
  double ready = 0;
  for (std::uint32_t c = first; c < first + count; ++c)
    ready = std::max(ready, node_time(tree, level + 1, c, leaves, node_ms));
  return ready + node_ms(level, node);
}

}  // namespace

std::optional<double> modeled_call_ms(const InvocationTelemetry& telemetry) {
  auto duration = figure(telemetry, "duration-ms");
  if (!duration) return std::nullopt;
  return *duration + figure(telemetry, "init-ms").value_or(0);
}

std::optional<double> modeled_call_cost_usd(const InvocationTelemetry& telemetry) {
  return figure(telemetry, "cost-usd");
}

std::optional<double> modeled_fan_out_ms(const std::vector<TaskOutcome>& outcomes) {
  double slowest = 0;
  for (const TaskOutcome& o : outcomes) {
    auto ms = modeled_call_ms(o.result.telemetry);
    if (!ms) return std::nullopt;
    slowest = std::max(slowest, *ms);
  }
  return slowest;
}

double compose_merge_tree(const TreeShape& tree, const std::vector<double>& leaf_ready_ms,
                          const std::function<double(std::uint32_t, std::uint32_t)>& node_ms) {
  return node_time(tree, 0, 0, leaf_ready_ms, node_ms);
}

double single_thread_share(int memory_mb) {
  return std::min(1.0, memory_mb / 1769.0);
}

}  // namespace stratus::trainer
