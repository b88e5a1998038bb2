// `stratus-trainer layers` (layers_command.hpp): options, data, the per-step table, the report.

#include "layers_command.hpp"

#include "common_options.hpp"
#include "early_end_report.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "stratus/ml/shard_reader.hpp"
#include "stratus/trainer/dataset.hpp"
#include "stratus/trainer/fault_report.hpp"
#include "stratus/trainer/layer_parallel.hpp"
#include "stratus/trainer/target.hpp"
#include "stratus/trainer/output_file.hpp"
#include "stratus/trainer/run_budget.hpp"
#include "stratus/trainer/s3_url.hpp"

namespace stratus::trainer {
namespace lp = ml::layer_parallel;
using nlohmann::ordered_json;

struct LayersCommand {
  CLI::App* app = nullptr;
  TargetFlags where;
  std::string layers = "12,8,4,1";
  std::string hidden = "tanh";
  std::string optimizer = "sgd";
  std::uint32_t neurons_per_function = 0;
  std::uint32_t epochs = 5;
  std::uint32_t batch_size = 32;
  float learning_rate = 0.01f;
  float l2 = 0.0f;
  std::uint64_t seed = 1;
  std::string run_id;
  std::string bucket = "stratus-runs";
  std::string data_file;
  std::string dataset;
  std::string classes;
  std::size_t samples = 512;
  bool gradient_check = false;
  std::size_t check_probes = 12;
  double check_epsilon = 0;  // 0: 1e-2 for tanh, 1e-3 for ReLU
  int max_in_flight = 64;
  double call_timeout_s = 60;
  BackupFlags backup;
  std::string save_model;
  ReportFlags report;
  RunBudget budget;  // --max-cost / --max-wall
  OutputFlags print;
};

namespace {

std::vector<std::uint32_t> parse_widths(const std::string& text) {
  std::vector<std::uint32_t> widths;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const unsigned long value = std::stoul(item, &used);
      if (used != item.size() || value == 0 || value > 65536) throw std::invalid_argument(item);
      widths.push_back(static_cast<std::uint32_t>(value));
    } catch (const std::exception&) {
      throw std::invalid_argument("--layers: '" + item + "' is not a width in 1..65536");
    }
  }
  return widths;
}

// --dataset s3://bucket/key
S3ObjectUrl parse_s3_url(const std::string& url) {
  if (!url.starts_with("s3://")) throw std::invalid_argument("--dataset must be s3://BUCKET/KEY");
  auto parsed = parse_s3_object_url(url);
  if (!parsed) throw std::invalid_argument("--dataset must be s3://BUCKET/KEY of a manifest");
  return std::move(*parsed);
}

// A staged dataset's samples of two classes: A -> 0, B -> 1; uint8 pixels / 255.
LayersData staged_binary_data(ml::ObjectStore& store, const std::string& url,
                              const std::string& classes) {
  const auto comma = classes.find(',');
  if (comma == std::string::npos) throw std::invalid_argument("--classes must be A,B");
  const int a = std::stoi(classes.substr(0, comma)), b = std::stoi(classes.substr(comma + 1));
  if (a == b) throw std::invalid_argument("--classes needs two different classes");
  const auto [bucket, key] = parse_s3_url(url);
  const ml::StagedDataset staged = ml::open_staged_dataset(store, bucket, key);
  LayersData data;
  for (std::size_t i = 0; i < staged.manifest.shards.size(); ++i) {
    const ml::ShardRead read = ml::read_staged_shard(store, staged, i);
    const Tensor& f = read.shard.features;
    const Tensor& l = read.shard.labels;
    if (l.dtype != DType::int32)
      throw std::invalid_argument("--classes needs integer class labels");
    const std::size_t n = read.shard.count();
    const std::size_t per = n ? f.size() / n : 0;
    if (data.features == 0) data.features = per;
    for (std::size_t r = 0; r < n; ++r) {
      const int label = l.i32[r];
      if (label != a && label != b) continue;
      for (std::size_t j = 0; j < per; ++j) {
        data.x.push_back(f.dtype == DType::uint8 ? static_cast<float>(f.u8[r * per + j]) / 255.0f
                                                 : f.f32[r * per + j]);
      }
      data.y.push_back(label == b ? 1.0f : 0.0f);
    }
  }
  data.rows = data.y.size();
  if (data.rows == 0)
    throw std::invalid_argument("the dataset holds no samples of classes " + classes);
  data.source = url + " classes " + classes;
  return data;
}

LayersData csv_data(const std::string& file) {
  const Dataset csv = load_csv(file);
  LayersData data;
  data.rows = csv.rows;
  data.features = csv.features;
  data.x = csv.x;
  data.y = csv.y;
  data.source = file;
  return data;
}

std::string money(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "%.8f", usd);
  return text;
}

ordered_json step_json(const LayersStep& s) {
  return {{"step", s.step},
          {"epoch", s.epoch},
          {"loss", s.loss},
          {"accuracy", s.rows ? static_cast<double>(s.correct) / s.rows : 0.0},
          {"wall_ms", s.wall_ms},
          {"invocations", s.telemetry.invocations},
          {"cold_starts", s.telemetry.cold_starts},
          {"billed_ms", s.telemetry.billed_ms},
          {"cost_usd", s.telemetry.cost_usd},
          {"retries", s.telemetry.retries},
          {"duplicates_ignored", s.telemetry.duplicates_ignored},
          {"backups", s.telemetry.backups},
          {"replayed", s.replayed}};
}

int run(LayersCommand& c) {
  LayersOptions o;
  lp::RunConfig& config = o.config;
  config.widths = parse_widths(c.layers);
  config.hidden = c.hidden == "relu" ? lp::Activation::Relu : lp::Activation::Tanh;
  config.optimizer = c.optimizer == "adam" ? lp::Optimizer::Adam : lp::Optimizer::Sgd;
  config.neurons_per_function = c.neurons_per_function;
  config.learning_rate = c.learning_rate;
  config.l2 = c.l2;
  config.batch_size = c.batch_size;
  config.bucket = c.bucket;
  config.run_id = c.run_id.empty()
                      ? "layers-" + std::to_string(c.seed) + "-" +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count())
                      : c.run_id;
  lp::validate(config);
  o.epochs = c.epochs;
  o.seed = c.seed;
  o.gradient_check.enabled = c.gradient_check;
  o.gradient_check.probes = c.check_probes;
  // ReLU's kinks: a central difference straddling one is wrong by design, so ReLU networks take a
  // smaller step (float32 rounding of the summed loss still stays well under the tolerance).
  o.gradient_check.epsilon =
      c.check_epsilon > 0 ? c.check_epsilon : (c.hidden == "relu" ? 1e-3 : 1e-2);
  o.fan_out.max_in_flight = c.max_in_flight;
  o.fan_out.call_deadline =
      std::chrono::milliseconds(static_cast<long long>(c.call_timeout_s * 1000));
  c.backup.apply(o.fan_out);
  FaultScope fault_scope;
  fault_scope.from = fault_time_now();
  fault_scope.functions = {o.function};
  fault_scope.buckets = {config.bucket};

  Target target = make_target(c.where.options());
  if (o.fan_out.max_in_flight > target.invoker->concurrency()) {
    o.fan_out.max_in_flight = target.invoker->concurrency();
  }
  LayersData data;
  if (!c.data_file.empty()) {
    data = csv_data(c.data_file);
  } else if (!c.dataset.empty()) {
    if (c.classes.empty()) throw std::invalid_argument("--dataset needs --classes A,B");
    data = staged_binary_data(*target.store, c.dataset, c.classes);
  } else {
    data = generated_layers_data(c.samples, config.widths.front(), c.seed);
  }

  const bool table = c.print.table();
  const bool progress = table && ::isatty(STDERR_FILENO);
  if (table) {
    std::size_t functions_per_pass = 0;
    for (std::size_t l = 1; l <= config.layers(); ++l) functions_per_pass += config.slices(l);
    std::cout << "layers run " << config.run_id << ": network " << c.layers << " (" << c.hidden
              << " hidden, sigmoid output, logistic loss), " << functions_per_pass
              << " layer functions per pass (K = "
              << (c.neurons_per_function ? std::to_string(c.neurons_per_function) : "whole layer")
              << ")\n"
              << "  data: " << data.source << ", " << data.rows << " rows; " << c.epochs
              << " epochs of batch " << c.batch_size << ", " << c.optimizer << " lr "
              << c.learning_rate << ", l2 " << c.l2 << "\n"
              << "  backend: " << target.invoker->describe() << "\n";
    std::printf("%6s %6s %12s %9s %9s %12s %6s %10s %12s\n", "step", "epoch", "loss", "accuracy",
                "step_ms", "invocations", "cold", "billed_ms", "cost_usd");
    std::fflush(stdout);
  }
  double cost = 0, modeled_cost = 0;
  std::vector<LayersStep> steps_so_far;
  LayersObserver observer;
  observer.on_phase = [&](std::uint32_t step, const std::string& phase) {
    if (!progress) return;
    std::fprintf(stderr, "\r\033[K  step %u: %s", step, phase.c_str());
    std::fflush(stderr);
  };
  observer.on_step = [&](const LayersStep& s, std::uint32_t total) {
    cost += s.telemetry.cost_usd;
    if (auto m = s.telemetry.modeled.find("cost-usd"); m != s.telemetry.modeled.end()) {
      modeled_cost += m->second;
    }
    steps_so_far.push_back(s);
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (c.print.json) {
      std::cout << step_json(s).dump() << "\n" << std::flush;
    } else if (table) {
      std::printf("%6u %6u %12.6g %9.4f %9.1f %12d %6d %10.0f %12s\n", s.step, s.epoch, s.loss,
                  s.rows ? static_cast<double>(s.correct) / s.rows : 0.0, s.wall_ms,
                  s.telemetry.invocations, s.telemetry.cold_starts, s.telemetry.billed_ms,
                  money(cost).c_str());
      std::fflush(stdout);
    }
    // Past a limit the run stops here, before the next step is sent; the message names the limit.
    if (s.step + 1 < total) {  // steps count from 0, as the table shows them
      c.budget.check(modeled_cost > 0 ? modeled_cost : cost, "after step " + std::to_string(s.step));
    }
  };
  // A run that ends early, stopped by a budget or failed, still leaves a report: the steps it
  // finished and why it ended.
  auto write_ended_report = [&](ordered_json why) {
    if (c.report.json_file.empty()) return;
    ordered_json steps = ordered_json::array();
    for (const LayersStep& s : steps_so_far) steps.push_back(step_json(s));
    ordered_json ended{{"workload", "layers"}, {"run_id", config.run_id}, {"target", c.where.target}};
    ended.update(why);
    ended["steps"] = steps;
    ended["total_cost_usd"] = cost;
    write_file_replacing(c.report.json_file, ended.dump(2) + "\n");
  };
  c.budget.started = std::chrono::steady_clock::now();
  const LayersResult result = run_reporting_early_end(
      [&] { return run_layers(*target.invoker, *target.store, data, o, observer); },
      write_ended_report);
  TrainerActions actions;
  for (const LayersStep& s : result.steps) {
    actions.calls.insert(actions.calls.end(), s.telemetry.calls.begin(), s.telemetry.calls.end());
    actions.replayed += s.replayed;
  }
  if (result.gradient_check) {
    const auto& calls = result.gradient_check->telemetry.calls;
    actions.calls.insert(actions.calls.end(), calls.begin(), calls.end());
  }
  const ordered_json faults = run_fault_report(target, fault_scope, actions);
  if (!c.save_model.empty()) ml::save_npz(result.model, c.save_model);
  const auto& check = result.gradient_check;
  if (check && !c.print.quiet) {
    std::size_t straddling = 0;
    for (const auto& p : check->probes) straddling += p.straddles_kink ? 1 : 0;
    const std::string kinks =
        straddling ? ", " + std::to_string(straddling) + " left out for straddling a ReLU kink"
                   : "";
    (c.print.json ? std::cerr : std::cout)
        << "gradient check: max relative error " << check->max_relative_error << " over "
        << check->probes.size() << " parameters" << kinks
        << " (distributed backprop vs central differences of the "
        << "distributed forward pass): " << (check->passed ? "passed" : "FAILED") << "\n";
  }
  if (table) {
    std::printf("final: loss %.6g, accuracy %.4f, model_sha256 %s, cost $%s\n",
                result.steps.back().loss,
                static_cast<double>(result.steps.back().correct) / result.steps.back().rows,
                result.model_sha256.c_str(), money(cost).c_str());
    for (const std::string& line : fault_report_lines(faults)) std::printf("%s\n", line.c_str());
  }
  if (c.report.wanted()) {
    ordered_json steps = ordered_json::array();
    for (const LayersStep& s : result.steps) steps.push_back(step_json(s));
    ordered_json report = {{"workload", "layers"},
                           {"run_id", config.run_id},
                           {"backend", target.invoker->describe()},
                           {"target", c.where.target},
                           {"configuration", ordered_json::parse(lp::config_to_json(config))},
                           {"epochs", c.epochs},
                           {"seed", c.seed},
                           {"data", {{"source", data.source}, {"rows", data.rows}}},
                           {"steps", steps},
                           {"model_sha256", result.model_sha256},
                           {"total_cost_usd", cost},
                           {"faults", faults}};
    if (check) {
      ordered_json probes = ordered_json::array();
      for (const auto& p : check->probes) {
        probes.push_back({{"tensor", p.tensor},
                          {"index", p.index},
                          {"backprop", p.backprop},
                          {"finite_difference", p.finite_difference},
                          {"relative_error", p.relative_error},
                          {"straddles_kink", p.straddles_kink}});
      }
      report["gradient_check"] = {{"max_relative_error", check->max_relative_error},
                                  {"passed", check->passed},
                                  {"probes", probes}};
    }
    c.report.write(report);
  }
  return check && !check->passed ? 3 : 0;
}

}  // namespace

Subcommand add_layers_command(CLI::App& app) {
  auto command = std::make_shared<LayersCommand>();
  LayersCommand& c = *command;
  c.app =
      app.add_subcommand("layers",
                         "a logistic network whose layers (or slices of K neurons) are functions: "
                         "forward 1->L, backward L->1, state in S3");
  CLI::App& a = *c.app;
  c.where.add_to(a);
  a.add_option(
       "--layers", c.layers,
       "widths from the input to the single output, e.g. 12,8,4,1 (D,1: logistic regression)")
      ->capture_default_str();
  a.add_option("--neurons-per-function", c.neurons_per_function,
               "K neurons per function (0: a whole layer)")
      ->capture_default_str();
  a.add_option("--activation", c.hidden, "hidden activation")
      ->check(CLI::IsMember({"tanh", "relu"}))
      ->capture_default_str();
  a.add_option("--optimizer", c.optimizer)
      ->check(CLI::IsMember({"sgd", "adam"}))
      ->capture_default_str();
  a.add_option("--epochs", c.epochs)->check(CLI::Range(1, 100000))->capture_default_str();
  a.add_option("--batch-size", c.batch_size)->check(CLI::Range(1, 65536))->capture_default_str();
  a.add_option("--learning-rate,--lr", c.learning_rate)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  a.add_option("--l2", c.l2, "L2 penalty lambda on the weights (0.5*lambda*|W|^2)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  a.add_option("--seed", c.seed, "seed of the initial network (and of generated data)")
      ->capture_default_str();
  a.add_option("--run-id", c.run_id,
               "run id (default: layers-<seed>-<time>); state under s3://BUCKET/runs/<id>/");
  a.add_option("--bucket", c.bucket, "bucket for the run's state (created when missing)")
      ->capture_default_str();
  auto* data =
      a.add_option("--data", c.data_file, "CSV: features..., 0/1 label")->check(CLI::ExistingFile);
  auto* dataset =
      a.add_option("--dataset", c.dataset, "a staged dataset's manifest, s3://B/.../manifest.json")
          ->excludes(data);
  a.add_option("--classes", c.classes, "with --dataset: A,B (A -> 0, B -> 1)")->needs(dataset);
  a.add_option("--samples", c.samples, "generated data: rows")
      ->check(CLI::Range(1, 10000000))
      ->excludes(data)
      ->excludes(dataset)
      ->capture_default_str();
  a.add_flag(
      "--gradient-check", c.gradient_check,
      "compare the distributed backprop with central differences of the distributed forward pass");
  a.add_option("--check-probes", c.check_probes, "parameters the gradient check probes")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  a.add_option("--check-epsilon", c.check_epsilon,
               "central difference step (default 1e-2, 1e-3 for ReLU)")
      ->check(CLI::PositiveNumber);
  a.add_option("--max-in-flight", c.max_in_flight)
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  c.backup.add_to(a, "");
  add_budget_options(a, c.budget, BudgetStop::exit);
  a.add_option("--call-timeout", c.call_timeout_s, "seconds per invocation")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  a.add_option("--save-model", c.save_model,
               "write the trained network as .npz (l{i}.weight [in,out], l{i}.bias)");
  c.report.add_to(a, "write every step, the configuration and model_sha256 as JSON", true);
  c.print.add_to(a, "one JSON object per step on stdout instead of the table",
                  "no table, no progress");
  return {c.app, [command] { return run(*command); }};
}

}  // namespace stratus::trainer
