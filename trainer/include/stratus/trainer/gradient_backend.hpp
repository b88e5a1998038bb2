#pragma once
// Where shard gradients are computed. The local backend calls the gradient kernel in-process; the
// Lambda backend sends each shard to the `gradient`/`gradient_z` function of an emulator or of AWS.
// Both return results indexed by shard, so the reduction order (and hence the model) is the same.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "stratus/common/linear_model.hpp"
#include "stratus/trainer/invocation_report.hpp"

namespace stratus::trainer {

struct ShardTask {
  std::uint32_t epoch = 0;
  std::uint32_t step = 0;
  std::uint32_t shard = 0;
  std::span<const float> x;  // rows x features, row-major
  std::span<const float> y;
  std::size_t features = 0;
  // Identifies the rows (shard, window) so backends can cache their encoded form across epochs.
  std::uint64_t rows_key = 0;
};

struct ShardOutcome {
  ShardGradient gradient;
  std::optional<InvocationReport> report;  // remote backends: the invocation's REPORT line
  int attempts = 1;
  double latency_ms = 0;
};

struct StepTelemetry {
  int invocations = 0;
  int cold_starts = 0;
  double billed_ms = 0;
  double cost_usd = 0;
  int retries = 0;
  int duplicates_ignored = 0;
};

class BackendError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GradientBackend {
 public:
  virtual ~GradientBackend() = default;
  // Computes every task's gradient at (weights, bias); outcome i belongs to tasks[i]. Throws
  // BackendError when a shard fails after the backend's retries.
  virtual std::vector<ShardOutcome> compute(std::span<const double> weights, double bias,
                                            const std::vector<ShardTask>& tasks, StepTelemetry& telemetry) = 0;
  virtual std::string describe() const = 0;
};

std::unique_ptr<GradientBackend> make_local_backend();

}  // namespace stratus::trainer
