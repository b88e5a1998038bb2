#include "stratus/trainer/linreg.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>

#include "stratus/trainer/modeled_round.hpp"

namespace stratus::trainer {

namespace linreg = ml::linreg;

namespace {

std::string task_key(const linreg::ShardIds& ids) {
  return "epoch " + std::to_string(ids.epoch) + " step " + std::to_string(ids.step) + " shard " +
         std::to_string(ids.shard);
}

}  // namespace

std::pair<std::size_t, std::size_t> shard_range(std::size_t rows, int workers, int k) {
  auto w = static_cast<std::size_t>(workers);
  auto i = static_cast<std::size_t>(k);
  return {rows * i / w, rows * (i + 1) / w};
}

std::string describe_linreg_backend(const LinregOptions& options, const Invoker& invoker) {
  const std::string function = options.function.empty()
                                   ? std::string(linreg::function_for(options.payload))
                                   : options.function;
  return invoker.describe() + " function '" + function + "' (" +
         (options.payload == PayloadFormat::Zlib ? "zlib" : "json") + " payload)";
}

LinregResult train_linreg(const Dataset& data, const LinregOptions& options, Invoker& invoker,
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
    per_worker =
        std::max<std::size_t>(1, options.batch_size / static_cast<std::size_t>(options.workers));
    if (options.batch_size < static_cast<std::size_t>(options.workers)) {
      throw std::invalid_argument("--batch-size must be at least --workers");
    }
  }
  const std::size_t window = per_worker ? std::min(per_worker, smallest_shard) : 0;
  const int steps_per_epoch = window ? static_cast<int>((smallest_shard + window - 1) / window) : 1;
  const std::string function = options.function.empty()
                                   ? std::string(linreg::function_for(options.payload))
                                   : options.function;

  FanOut fan_out(invoker, options.fan_out);
  // The rows of a (shard, step) never change: encoded once, reused every epoch (full batch) or
  // every time the window comes round (mini-batch).
  std::map<std::pair<int, int>, std::string> encoded_rows;

  LinregResult result;
  result.weights.assign(data.features, 0.0);
  std::vector<double> total(data.features);
  std::vector<linreg::GradientAnswer> answers(static_cast<std::size_t>(options.workers));
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    EpochRecord record;
    record.epoch = epoch;
    auto epoch_start = std::chrono::steady_clock::now();
    double sse = 0;
    std::size_t rows_seen = 0;
    double modeled_sum_ms = 0;
    bool all_modeled = true;
    for (int step = 0; step < steps_per_epoch; ++step) {
      std::vector<FanOutTask> tasks;
      std::vector<std::size_t> task_rows;
      tasks.reserve(static_cast<std::size_t>(options.workers));
      for (int k = 0; k < options.workers; ++k) {
        auto [begin, end] = shard_range(data.rows, options.workers, k);
        if (window) {
          auto offset = static_cast<std::size_t>(step) * window;
          begin = begin + offset;
          end = std::min(end, begin + window);
        }
        auto cached = encoded_rows.find({k, step});
        if (cached == encoded_rows.end()) {
          const auto x = std::span<const float>(data.x).subspan(begin * data.features,
                                                                (end - begin) * data.features);
          const auto y = std::span<const float>(data.y).subspan(begin, end - begin);
          cached = encoded_rows
                       .emplace(std::pair{k, step},
                                linreg::encode_rows(x, y, data.features, options.payload))
                       .first;
        }
        const linreg::ShardIds ids{static_cast<std::uint32_t>(epoch),
                                   static_cast<std::uint32_t>(step), static_cast<std::uint32_t>(k)};
        tasks.push_back({function,
                         linreg::encode_request(ids, result.weights, result.bias, cached->second,
                                                options.payload),
                         task_key(ids), "shard " + std::to_string(k)});
        task_rows.push_back(end - begin);
      }
      const std::vector<TaskOutcome> outcomes = fan_out.run(
          tasks,
          [&](std::size_t index, const std::string& payload) {
            linreg::GradientAnswer answer =
                linreg::decode_answer(payload, data.features, options.payload);
            if (answer.gradient.rows != task_rows[index]) {
              throw ml::ProtocolError("the answer counts " + std::to_string(answer.gradient.rows) +
                                      " rows, the shard has " + std::to_string(task_rows[index]));
            }
            const std::string key = task_key(answer.ids);
            answers[index] = std::move(answer);
            return key;
          },
          record.telemetry);
      const auto reduce_start = std::chrono::steady_clock::now();
      // Reduce in shard order: the same sums in the same order on every target.
      std::fill(total.begin(), total.end(), 0.0);
      double bias_total = 0;
      std::uint64_t rows = 0;
      for (const auto& answer : answers) {
        const auto& g = answer.gradient;
        for (std::size_t j = 0; j < total.size(); ++j) total[j] += g.gradient[j];
        bias_total += g.bias_gradient;
        sse += g.sse;
        rows += g.rows;
      }
      const double scale = options.learning_rate / static_cast<double>(rows);
      for (std::size_t j = 0; j < total.size(); ++j) result.weights[j] -= scale * total[j];
      result.bias -= scale * bias_total;
      rows_seen += rows;
      const auto slowest = modeled_fan_out_ms(outcomes);
      all_modeled = all_modeled && slowest.has_value();
      modeled_sum_ms += slowest.value_or(0) + std::chrono::duration<double, std::milli>(
                                                  std::chrono::steady_clock::now() - reduce_start).count();
      if (observer.on_step) observer.on_step(epoch, step + 1, steps_per_epoch);
    }
    record.steps = steps_per_epoch;
    if (all_modeled) record.modeled_ms = modeled_sum_ms;
    record.loss = 0.5 * sse / static_cast<double>(rows_seen);
    record.wall_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - epoch_start)
            .count();
    if (observer.on_epoch) observer.on_epoch(record);
    result.epochs.push_back(record);
  }
  return result;
}

}  // namespace stratus::trainer
