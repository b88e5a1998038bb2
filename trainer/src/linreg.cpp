#include "stratus/trainer/linreg.hpp"

#include <chrono>
#include <cmath>
#include <stdexcept>

namespace stratus::trainer {

std::pair<std::size_t, std::size_t> shard_range(std::size_t rows, int workers, int k) {
  auto w = static_cast<std::size_t>(workers);
  auto i = static_cast<std::size_t>(k);
  return {rows * i / w, rows * (i + 1) / w};
}

LinregResult train_linreg(const Dataset& data, const LinregOptions& options, GradientBackend& backend,
                          const LinregObserver& observer) {
  if (options.workers < 1) throw std::invalid_argument("--workers must be at least 1");
  if (static_cast<std::size_t>(options.workers) > data.rows) {
    throw std::invalid_argument("--workers (" + std::to_string(options.workers) + ") exceeds the " +
                                std::to_string(data.rows) + " rows of data");
  }
  if (options.epochs < 1) throw std::invalid_argument("--epochs must be at least 1");
  if (!(options.learning_rate > 0) || !std::isfinite(options.learning_rate)) {
    throw std::invalid_argument("--learning-rate must be a positive number");
  }
  // Mini-batch: each worker takes its next window of batch/workers rows from its own shard.
  std::size_t per_worker = 0;
  std::size_t smallest_shard = data.rows;
  for (int k = 0; k < options.workers; ++k) {
    auto [b, e] = shard_range(data.rows, options.workers, k);
    smallest_shard = std::min(smallest_shard, e - b);
  }
  if (options.batch_size > 0) {
    per_worker = std::max<std::size_t>(1, options.batch_size / static_cast<std::size_t>(options.workers));
    if (options.batch_size < static_cast<std::size_t>(options.workers)) {
      throw std::invalid_argument("--batch-size must be at least --workers");
    }
  }
  const std::size_t window = per_worker ? std::min(per_worker, smallest_shard) : 0;
  const int steps_per_epoch = window ? static_cast<int>((smallest_shard + window - 1) / window) : 1;

  LinregResult result;
  result.weights.assign(data.features, 0.0);
  std::vector<double> total(data.features);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    EpochRecord record;
    record.epoch = epoch;
    auto epoch_start = std::chrono::steady_clock::now();
    double sse = 0;
    std::size_t rows_seen = 0;
    for (int step = 0; step < steps_per_epoch; ++step) {
      std::vector<ShardTask> tasks;
      tasks.reserve(static_cast<std::size_t>(options.workers));
      for (int k = 0; k < options.workers; ++k) {
        auto [begin, end] = shard_range(data.rows, options.workers, k);
        if (window) {
          auto offset = static_cast<std::size_t>(step) * window;
          begin = begin + offset;
          end = std::min(end, begin + window);
        }
        ShardTask task;
        task.epoch = static_cast<std::uint32_t>(epoch);
        task.step = static_cast<std::uint32_t>(step);
        task.shard = static_cast<std::uint32_t>(k);
        task.features = data.features;
        task.x = std::span<const float>(data.x).subspan(begin * data.features, (end - begin) * data.features);
        task.y = std::span<const float>(data.y).subspan(begin, end - begin);
        task.rows_key = (static_cast<std::uint64_t>(k) << 32) | static_cast<std::uint64_t>(step);
        tasks.push_back(task);
      }
      auto outcomes = backend.compute(result.weights, result.bias, tasks, record.telemetry);
      // Reduce in shard order: the same sums in the same order on every backend.
      std::fill(total.begin(), total.end(), 0.0);
      double bias_total = 0;
      std::uint64_t rows = 0;
      for (const auto& outcome : outcomes) {
        const auto& g = outcome.gradient;
        for (std::size_t j = 0; j < total.size(); ++j) total[j] += g.gradient[j];
        bias_total += g.bias_gradient;
        sse += g.sse;
        rows += g.rows;
      }
      const double scale = options.learning_rate / static_cast<double>(rows);
      for (std::size_t j = 0; j < total.size(); ++j) result.weights[j] -= scale * total[j];
      result.bias -= scale * bias_total;
      rows_seen += rows;
      if (observer.on_step) observer.on_step(epoch, step + 1, steps_per_epoch);
    }
    record.steps = steps_per_epoch;
    record.loss = 0.5 * sse / static_cast<double>(rows_seen);
    record.wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch_start).count();
    if (observer.on_epoch) observer.on_epoch(record);
    result.epochs.push_back(record);
  }
  return result;
}

}  // namespace stratus::trainer
