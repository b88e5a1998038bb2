#include <chrono>

#include "stratus/trainer/gradient_backend.hpp"

namespace stratus::trainer {

namespace {

// In-process: the same kernel the `gradient` function runs, without serialisation. Cost-free.
class LocalBackend : public GradientBackend {
 public:
  std::vector<ShardOutcome> compute(std::span<const double> weights, double bias,
                                    const std::vector<ShardTask>& tasks, StepTelemetry&) override {
    std::vector<ShardOutcome> outcomes(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      auto start = std::chrono::steady_clock::now();
      outcomes[i].gradient = linear_gradient(tasks[i].x, tasks[i].y, weights, bias);
      outcomes[i].latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    }
    return outcomes;
  }
  std::string describe() const override { return "local (in-process)"; }
};

}  // namespace

std::unique_ptr<GradientBackend> make_local_backend() { return std::make_unique<LocalBackend>(); }

}  // namespace stratus::trainer
