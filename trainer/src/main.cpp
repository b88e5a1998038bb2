// stratus-trainer: trains models by fanning work out as Lambda invocations, to the local emulator,
// to real AWS Lambda, or in-process, chosen by --target.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "case_commands.hpp"
#include "common_options.hpp"
#include "report_command.hpp"
#include "layers_command.hpp"
#include "predict_command.hpp"
#include "augment_command.hpp"
#include "casec_command.hpp"
#include "optimize_command.hpp"
#include "subcommand.hpp"
#include "sweep_command.hpp"
#include "stratus/common/aws_environment.hpp"
#include "stratus/trainer/dataset.hpp"
#include "stratus/trainer/deploy.hpp"
#include "stratus/trainer/fault_report.hpp"
#include "stratus/trainer/linreg.hpp"
#include "stratus/trainer/run_budget.hpp"
#include "stratus/trainer/stage.hpp"
#include "stratus/trainer/target.hpp"

namespace {

using namespace stratus;
using namespace stratus::trainer;
using nlohmann::json;

struct LinregCommand {
  TargetFlags where;
  std::string function;
  std::string payload = "json";
  std::size_t samples = 10000;
  std::size_t features = 10;
  double noise = 0.1;
  std::uint64_t seed = 1;
  std::string data_file;
  LinregOptions train;
  int max_in_flight = 64;
  double call_timeout_s = 120;
  int retries = 2;
  BackupFlags backup;
  RunBudget budget;  // --max-cost / --max-wall
  ReportFlags report;
  OutputFlags print;
};

LinregOptions linreg_options(const LinregCommand& c) {
  LinregOptions o = c.train;
  o.payload = c.payload == "zlib" ? PayloadFormat::Zlib : PayloadFormat::Json;
  o.function = c.function;
  o.fan_out.max_in_flight = c.max_in_flight;
  o.fan_out.call_deadline = std::chrono::milliseconds(static_cast<long long>(c.call_timeout_s * 1000));
  o.fan_out.retries = c.retries;
  c.backup.apply(o.fan_out);
  return o;
}

std::string format_ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ms);
  return buf;
}

std::string format_cost(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8f", usd);
  return buf;
}

json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"loss", r.loss},
          {"wall_ms", r.wall_ms},
          {"steps", r.steps},
          {"invocations", r.telemetry.invocations},
          {"cold_starts", r.telemetry.cold_starts},
          {"billed_ms", r.telemetry.billed_ms},
          {"cost_usd", r.telemetry.cost_usd},
          {"retries", r.telemetry.retries},
          {"duplicates_ignored", r.telemetry.duplicates_ignored},
          {"backups", r.telemetry.backups},
          // Modeled AWS figures (null where the target reports none, e.g. AWS itself: its billed
          // figures above are real).
          {"modeled_ms", r.modeled_ms ? json(*r.modeled_ms) : json(nullptr)},
          {"modeled_cost_usd", r.telemetry.modeled.count("cost-usd") ? json(r.telemetry.modeled.at("cost-usd"))
                                                                    : json(nullptr)}};
}

int run_linreg(const LinregCommand& c) {
  Dataset data;
  std::string source;
  if (!c.data_file.empty()) {
    data = load_csv(c.data_file);
    source = c.data_file;
  } else {
    data = make_synthetic_linear({c.samples, c.features, c.noise, c.seed});
    source = "synthetic (seed " + std::to_string(c.seed) + ", noise " + json(c.noise).dump() + ")";
  }
  FaultScope fault_scope;
  fault_scope.from = fault_time_now();
  TargetOptions where = c.where.options();
  where.http_connections = static_cast<std::size_t>(c.max_in_flight);
  Target target = make_target(where);
  const LinregOptions options = linreg_options(c);
  const std::string backend = describe_linreg_backend(options, *target.invoker);
  const bool progress = c.print.table() && ::isatty(STDERR_FILENO);
  if (c.print.table()) {
    std::cout << "linreg: " << data.rows << " rows x " << data.features << " features from " << source << "; "
              << c.train.workers << " workers, " << c.train.epochs << " epochs, learning rate "
              << c.train.learning_rate << ", "
              << (c.train.batch_size ? "mini-batch " + std::to_string(c.train.batch_size) : std::string("full batch"))
              << "\nbackend: " << backend << "\n";
    std::printf("%6s %14s %10s %12s %6s %10s %12s %10s %12s\n", "epoch", "loss", "epoch_ms", "invocations", "cold",
                "billed_ms", "cost_usd", "aws_ms", "aws_cost");
  }
  double total_cost = 0;
  double total_modeled_cost = 0;
  LinregObserver observer;
  observer.on_step = [&](int epoch, int step, int steps) {
    if (!progress) return;
    const int width = 30;
    int filled = steps ? width * step / steps : width;
    std::fprintf(stderr, "\r  epoch %d/%d [%s%s] step %d/%d", epoch, c.train.epochs,
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), step, steps);
    std::fflush(stderr);
  };
  observer.on_epoch = [&](const EpochRecord& r) {
    total_cost += r.telemetry.cost_usd;
    if (r.telemetry.modeled.count("cost-usd")) total_modeled_cost += r.telemetry.modeled.at("cost-usd");
    // Past a limit the run stops here (no further step is sent); the message names the limit.
    if (r.epoch < c.train.epochs) c.budget.check(total_modeled_cost > 0 ? total_modeled_cost : total_cost, "after epoch " + std::to_string(r.epoch));
    if (progress) std::fprintf(stderr, "\r\033[K");
    if (c.print.json) {
      std::cout << to_json(r).dump() << "\n" << std::flush;
    } else if (!c.print.quiet) {
      std::printf("%6d %14.8g %10.2f %12d %6d %10.0f %12s %10s %12s\n", r.epoch, r.loss, r.wall_ms,
                  r.telemetry.invocations, r.telemetry.cold_starts, r.telemetry.billed_ms,
                  format_cost(total_cost).c_str(), r.modeled_ms ? format_ms(*r.modeled_ms).c_str() : "-",
                  r.modeled_ms ? format_cost(total_modeled_cost).c_str() : "-");
      std::fflush(stdout);
    }
  };
  LinregResult result = train_linreg(data, options, *target.invoker, observer);
  fault_scope.functions = {options.function.empty() ? std::string(ml::linreg::function_for(options.payload))
                                                    : options.function};
  TrainerActions actions;
  for (const auto& r : result.epochs)
    actions.calls.insert(actions.calls.end(), r.telemetry.calls.begin(), r.telemetry.calls.end());
  const nlohmann::ordered_json faults = run_fault_report(target, fault_scope, actions);

  double total_ms = 0;
  int invocations = 0;
  int cold = 0;
  double billed = 0;
  double modeled_sum_ms = 0;
  bool all_modeled = true;
  for (const auto& r : result.epochs) {
    all_modeled = all_modeled && r.modeled_ms.has_value();
    modeled_sum_ms += r.modeled_ms.value_or(0);
    total_ms += r.wall_ms;
    invocations += r.telemetry.invocations;
    cold += r.telemetry.cold_starts;
    billed += r.telemetry.billed_ms;
  }
  const double average_ms = total_ms / static_cast<double>(result.epochs.size());
  const double final_loss = result.epochs.back().loss;

  if (c.print.table()) {
    std::printf("summary: average epoch %.2f ms, final loss %.8g, %d invocations (%d cold starts), "
                "billed %.0f ms, total cost $%s\n",
                average_ms, final_loss, invocations, cold, billed, format_cost(total_cost).c_str());
    if (all_modeled) {
      std::printf("modeled on AWS: average epoch %.2f ms, total cost $%s\n",
                  modeled_sum_ms / static_cast<double>(result.epochs.size()),
                  format_cost(total_modeled_cost).c_str());
    }
    for (const std::string& line : fault_report_lines(faults)) std::printf("%s\n", line.c_str());
  }
  if (c.report.wanted()) {
    json epochs = json::array();
    for (const auto& r : result.epochs) epochs.push_back(to_json(r));
    json report = {
        {"workload", "linreg"},
        {"backend", backend},
        {"configuration",
         {{"target", c.where.target}, {"payload", c.payload}, {"rows", data.rows}, {"features", data.features},
          {"data", source}, {"workers", c.train.workers}, {"epochs", c.train.epochs},
          {"learning_rate", c.train.learning_rate}, {"batch_size", c.train.batch_size}, {"seed", c.seed}}},
        {"epochs", epochs},
        {"weights", result.weights},
        {"bias", result.bias},
        {"summary",
         {{"average_epoch_ms", average_ms}, {"final_loss", final_loss}, {"invocations", invocations},
          {"cold_starts", cold}, {"billed_ms", billed}, {"total_cost_usd", total_cost},
          {"modeled_total_ms", all_modeled ? json(modeled_sum_ms) : json(nullptr)},
          {"modeled_total_cost_usd", all_modeled ? json(total_modeled_cost) : json(nullptr)}}},
        {"faults", json::parse(faults.dump())}};
    c.report.write(report);
  }
  return 0;
}

struct StageCommand {
  StageRequest request;
  TargetFlags where{StageRequest{}.target};  // into request
  OutputFlags print;
};

int run_stage_command(StageCommand& c) {
  c.request.target = c.where.target;
  c.request.region = c.where.region;
  c.request.profile = c.where.profile;
  bool tty = ::isatty(STDERR_FILENO) != 0;
  StageProgress progress = [&](std::size_t index, std::size_t total, const std::string& key, const std::string& what,
                               std::uint64_t bytes) {
    if (c.print.quiet) return;
    std::fprintf(stderr, "%s[%zu/%zu] %s: %s (%.2f MB)%s", tty ? "\r\033[K" : "", std::min(index + 1, total), total,
                 key.c_str(), what.c_str(), static_cast<double>(bytes) / 1e6, tty && index < total ? "" : "\n");
  };
  StageSummary s = run_stage(c.request, progress);
  if (!c.print.quiet && tty) std::fprintf(stderr, "\n");
  if (c.print.json) {
    std::cout << json{{"bucket", c.request.bucket},
                      {"manifest_key", s.manifest_key},
                      {"samples", s.samples},
                      {"shards", s.shards},
                      {"uploaded", s.uploaded},
                      {"skipped", s.skipped},
                      {"bytes_uploaded", s.bytes_uploaded},
                      {"seconds", s.seconds}}
                     .dump()
              << "\n";
  } else {
    std::printf("staged %llu samples as %zu shards in s3://%s/%s: %zu uploaded, %zu unchanged, %.2f MB in %.2f s\n",
                static_cast<unsigned long long>(s.samples), s.shards, c.request.bucket.c_str(), s.manifest_key.c_str(),
                s.uploaded, s.skipped, static_cast<double>(s.bytes_uploaded) / 1e6, s.seconds);
  }
  return 0;
}

struct DeployCommand {
  TargetFlags where{""};  // --target is required
  std::string role;
  int memory_mb = 0;
  std::string zip;
  std::vector<std::string> only;
  double wait_s = 300;
  OutputFlags print;
};

int run_deploy_command(const DeployCommand& c) {
  if (c.where.target == "local") {
    throw std::invalid_argument("deploy needs a remote --target (an emulator URL or aws): in-process functions "
                                "are always deployed");
  }
  RemoteSettings remote = resolve_remote(c.where.options());
  aws::LambdaClient lambda(remote.lambda);
  DeployRequest request;
  request.zip = c.zip.empty() ? default_functions_zip() : std::filesystem::path(c.zip);
  request.role = c.role;
  if (c.memory_mb != 0) request.memory_mb = c.memory_mb;
  request.only = c.only;
  request.wait = std::chrono::seconds(static_cast<long long>(c.wait_s));
  request.aws = c.where.target == "aws";
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto deployed = deploy_functions(lambda, request, [&](const std::string& function, const std::string& what) {
    if (!c.print.table()) return;
    std::fprintf(stderr, "%s%s: %s%s", tty ? "\r\033[K" : "", function.c_str(), what.c_str(), tty ? "" : "\n");
  });
  if (c.print.table() && tty) std::fprintf(stderr, "\r\033[K");
  if (c.print.json) {
    json out = json::array();
    for (const auto& d : deployed) {
      out.push_back({{"function", d.name},
                     {"action", d.action},
                     {"state", d.state.state},
                     {"memory_mb", d.state.memory_mb},
                     {"timeout_s", d.state.timeout_s},
                     {"handler", d.state.handler},
                     {"code_sha256", d.state.code_sha256},
                     {"arn", d.state.arn}});
    }
    std::cout << json{{"target", remote.label}, {"zip", request.zip.string()}, {"functions", out}}.dump() << "\n";
  } else if (!c.print.quiet) {
    std::printf("deployed %zu functions from %s to %s\n", deployed.size(), request.zip.string().c_str(),
                remote.label.c_str());
    for (const auto& d : deployed) {
      std::printf("  %-14s %-22s %s, %d MB, %d s\n", d.name.c_str(), d.action.c_str(), d.state.state.c_str(),
                  d.state.memory_mb, d.state.timeout_s);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stratus-trainer: serverless training on the Stratus emulator, AWS Lambda, or in-process"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "stratus-trainer 0.1.0");
  LinregCommand c;
  auto* linreg = app.add_subcommand("linreg", "linear regression by data-parallel gradient descent");
  c.where.add_to(*linreg);
  linreg->add_option("--function", c.function, "function name (default: gradient, or gradient_z for zlib)");
  linreg->add_option("--payload", c.payload, "json or zlib")->check(CLI::IsMember({"json", "zlib"}))->capture_default_str();
  auto* data = linreg->add_option("--data", c.data_file, "CSV file: features..., target (header optional)")
                   ->check(CLI::ExistingFile);
  add_budget_options(*linreg, c.budget, BudgetStop::exit);
  linreg->add_option("--samples", c.samples, "synthetic rows")->check(CLI::PositiveNumber)->excludes(data)->capture_default_str();
  linreg->add_option("--features", c.features, "synthetic features")->check(CLI::PositiveNumber)->excludes(data)->capture_default_str();
  linreg->add_option("--noise", c.noise, "synthetic noise standard deviation")->check(CLI::NonNegativeNumber)->excludes(data)->capture_default_str();
  linreg->add_option("--seed", c.seed, "synthetic data seed")->capture_default_str();
  linreg->add_option("--workers", c.train.workers, "shards, one invocation each per step")->check(CLI::Range(1, 100000))->capture_default_str();
  linreg->add_option("--epochs", c.train.epochs)->check(CLI::Range(1, 1000000))->capture_default_str();
  linreg->add_option("--learning-rate,--lr", c.train.learning_rate)->check(CLI::PositiveNumber)->capture_default_str();
  linreg->add_option("--batch-size", c.train.batch_size, "rows per step across all workers; 0 = full batch")->capture_default_str();
  linreg->add_option("--max-in-flight", c.max_in_flight, "concurrent invocations")->check(CLI::Range(1, 10000))->capture_default_str();
  linreg->add_option("--call-timeout", c.call_timeout_s, "seconds per invocation, retries included")->check(CLI::PositiveNumber)->capture_default_str();
  linreg->add_option("--retries", c.retries, "retries of a shard whose function failed")->check(CLI::Range(0, 100))->capture_default_str();
  c.backup.add_to(*linreg, "");
  c.report.add_to(*linreg, "write every epoch, the weights and the configuration as JSON", true);
  c.print.add_to(*linreg, "one JSON object per epoch on stdout instead of the table", "no table, no progress");

  StageCommand st;
  auto* stage = app.add_subcommand("stage", "cut a dataset into shards and write them with a manifest to S3");
  stage->add_option("--dataset", st.request.dataset, "mnist, cifar10, casea, csv or images")
      ->required()
      ->check(CLI::IsMember({"mnist", "cifar10", "casea", "csv", "images"}));
  stage->add_option("--images", st.request.images,
                    "images: s3://BUCKET/PREFIX/ holding PREFIX/<class>/<image>.png|jpg (e.g. augment's output)");
  stage->add_option("--image-size", st.request.image_size, "images: resized to N x N RGB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  stage->add_option("--source", st.request.source,
                    "mnist: directory with the IDX .gz files; cifar10: cifar-10-batches-bin; csv: the file")
      ->check(CLI::ExistingPath);
  stage->add_option("--split", st.request.split, "train or test (mnist, cifar10)")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  stage->add_option("--bucket", st.request.bucket, "bucket (created when missing)")->required();
  stage->add_option("--prefix", st.request.prefix, "key prefix (default: datasets/<name>)");
  stage->add_option("--name", st.request.name, "dataset name in the manifest (default: <dataset>-<split>)");
  stage->add_option("--shards", st.request.shards, "number of shards")->check(CLI::Range(1, 99999))->capture_default_str();
  st.where.add_to(*stage, TargetChoice::s3);
  stage->add_option("--count", st.request.casea_count, "casea: number of samples (at most 2^20)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  stage->add_option("--seed", st.request.seed, "casea: generator seed")->capture_default_str();
  stage->add_flag("--csv-classes", st.request.csv_classes, "csv: the last column is an integer class label");
  stage->add_option("--compression-level", st.request.compression_level, "zlib level of the shards")
      ->check(CLI::Range(-1, 9))
      ->capture_default_str();
  st.print.add_to(*stage, "print the summary as one JSON object", "no progress");
  DeployCommand dc;
  auto* deploy = app.add_subcommand("deploy", "create or update every product function from functions.zip");
  dc.where.add_to(*deploy, TargetChoice::remote)->required();
  deploy->add_option("--role", dc.role, "IAM role ARN the functions run as (required on AWS)");
  deploy->add_option("--memory", dc.memory_mb, "memory size in MB for every function (default: each one's own)")
      ->check(CLI::Range(128, 10240));
  deploy->add_option("--zip", dc.zip, "the deployment package (default: this build's functions/functions.zip)");
  deploy->add_option("--function", dc.only, "deploy only this function (repeatable)");
  deploy->add_option("--wait", dc.wait_s, "seconds to wait for each function to become Active")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  dc.print.add_to(*deploy, "print what was deployed as one JSON object", "no output");
  // In the order `--help` lists them.
  std::vector<Subcommand> commands = {{linreg, [&c] { return run_linreg(c); }},
                                      {stage, [&st] { return run_stage_command(st); }},
                                      {deploy, [&dc] { return run_deploy_command(dc); }}};
  for (Subcommand& command : add_case_commands(app)) commands.push_back(std::move(command));
  CLI::App* report_command = register_report(app);
  commands.push_back(add_layers_command(app));
  commands.push_back(add_predict_command(app));
  commands.push_back(add_augment_command(app));
  commands.push_back(add_casec_command(app));
  commands.push_back(add_optimize_command(app));
  commands.push_back(add_sweep_command(app));
  CLI11_PARSE(app, argc, argv);
  if (report_command->parsed()) return 0;  // ran in its callback
  try {
    for (const Subcommand& command : commands)
      if (const auto code = command.run_if_parsed()) return *code;
    return 0;  // not reached: require_subcommand(1)
  } catch (const std::exception& e) {
    std::cerr << "\nstratus-trainer: " << e.what() << "\n";
    return 1;
  }
}
