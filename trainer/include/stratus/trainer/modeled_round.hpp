#pragma once
// Modeled AWS time of a step or round, composed from the emulator's per-invocation modeled figures
// (X-Stratus-Modeled-* headers, InvocationTelemetry::modeled) along the step's dependency graph:
// a fan-out waits for its slowest call; a merge tree's node is ready when its last child is, plus
// its own work; the round ends when the root is ready. docs/TIME_MODEL.md.

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/invoker.hpp"

namespace stratus::trainer {

// What the caller of one invocation waits for on AWS: modeled duration + modeled init (a cold
// start). nullopt when the answer carries no modeled figures (real AWS, in-process, time model
// off).
std::optional<double> modeled_call_ms(const InvocationTelemetry& telemetry);
std::optional<double> modeled_call_cost_usd(const InvocationTelemetry& telemetry);

// A fan-out of independent calls: the slowest one. nullopt unless every outcome has figures.
std::optional<double> modeled_fan_out_ms(const std::vector<TaskOutcome>& outcomes);

// A merge tree evaluated bottom-up: `children(level, node)` lists a node's children as
// (first, count) at level + 1; leaves are at `leaf_level` and ready at leaf_ready_ms[i]; each
// inner node costs node_ms(level, node) after its last child is ready. Returns the root's time.
struct TreeShape {
  std::uint32_t leaf_level = 0;
  std::function<std::pair<std::uint32_t, std::uint32_t>(std::uint32_t level, std::uint32_t node)>
      children;
};
double compose_merge_tree(
    const TreeShape& tree, const std::vector<double>& leaf_ready_ms,
    const std::function<double(std::uint32_t level, std::uint32_t node)>& node_ms);

// The S3 time profile the trainer models S3 requests with where no emulator measured them (the
// functions orchestration's merges): the emulator's default s3_profile (docs/TIME_MODEL.md).
struct S3TimeProfile {
  double read_first_byte_ms = 100;
  double read_mb_per_s = 85;
  double write_first_byte_ms = 100;
  double write_mb_per_s = 85;
  double get_ms(std::uint64_t bytes) const {
    return read_first_byte_ms + bytes / (read_mb_per_s * 1e3);
  }
  double put_ms(std::uint64_t bytes) const {
    return write_first_byte_ms + bytes / (write_mb_per_s * 1e3);
  }
};

// Lambda's vCPU share of a memory size for single-threaded work: min(1, MB / 1769).
double single_thread_share(int memory_mb);

}  // namespace stratus::trainer
