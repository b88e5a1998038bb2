// `stratus-trainer casea|caseb|stop` (case_commands.hpp): options, the per-round table, the report.

#include "case_commands.hpp"
#include "early_end_report.hpp"
#include "interrupt_flag.hpp"

#include "stratus/trainer/fault_report.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "stratus/common/lambda_client.hpp"
#include "stratus/ml/architectures.hpp"
#include "stratus/trainer/emulator_s3_profile.hpp"
#include "stratus/trainer/local_lambda.hpp"
#include "stratus/trainer/target.hpp"
#include "stratus/trainer/output_file.hpp"

namespace stratus::trainer {
namespace {

using nlohmann::json;

using nlohmann::ordered_json;

void add_common_options(CLI::App& app, CaseCommand& c) {
  auto& o = c.options;
  c.where.add_to(app);
  app.add_option("--workers", o.workers, "data-parallel workers, one contiguous shard each")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option(
      "--merge-tree", c.merge_tree,
      "merge tree levels from the root, e.g. 1,5,20,50,100 (default: the paper's for 100 workers, "
      "fan-in <= 5 otherwise)");
  app.add_option("--rounds", o.rounds)->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--batches", o.batches, "minibatches per worker per round")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "samples per minibatch")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--learning-rate,--lr", o.learning_rate)
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the initial model (and of Case A's generated data)")
      ->capture_default_str();
  app.add_option(
         "--orchestration", c.orchestration,
         "functions: the paper's (functions start, merge and re-invoke each other through S3); "
         "driver: the trainer invokes every worker per round and merges")
      ->check(CLI::IsMember({"functions", "driver"}))
      ->capture_default_str();
  app.add_option("--threads", c.threads,
                 "--target local: worker threads of the in-process driver (0: one per core)");
  app.add_flag(
      "--shuffle", o.shuffle,
      "reshuffle each worker's shard every round (seeded by --seed, round and worker); the paper "
      "trains the same consecutive slices every round");
  app.add_option("--bucket", o.bucket,
                 "S3 bucket for the run's state and data (created when missing)")
      ->capture_default_str();
  app.add_option(
      "--resume", o.resume,
      "resume this run from its last finished round (its stored configuration; --target, "
      "--bucket and the output options apply)");
  app.add_option("--run-id", o.run_id,
                 "name of the run (default: generated); its state is s3://BUCKET/runs/RUN-ID/");
  app.add_option("--function", o.function, "the worker function's name")->capture_default_str();
  app.add_option("--init-model", o.init_model, "initial model (.npz, DESIGN.md names)")
      ->check(CLI::ExistingFile);
  app.add_option("--save-model", c.save_model, "write the final model as .npz");
  c.report.add_to(app, "write every round, the configuration, the backend and model_sha256 as JSON",
                  true);
  app.add_option("--poll-ms", o.poll_ms,
                 "S3 polling interval of waiting workers and of the trainer")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--reserve-ms", o.reserve_ms,
                 "a worker re-invokes itself when less than this (plus its slowest step) is left")
      ->check(CLI::Range(0, 900000))
      ->capture_default_str();
  app.add_option("--rounds-per-invocation", o.rounds_per_invocation,
                 "functions: a worker re-invokes itself after this many rounds, as the paper's "
                 "rounditer (0: only when its time runs short)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--stall-timeout", c.stall_timeout_s,
                 "functions: fail (and stop the run) when no round ends for this many seconds")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--revive-after", c.revive_after_s,
                 "functions: after this many seconds without a round ending, invoke again every "
                 "worker that "
                 "has no running invocation (lost events); 0: never")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--lease-ms", o.lease_ms,
                 "functions: a running worker's alive record is a lease of this many ms that its "
                 "heartbeat refreshes every third of it; a worker killed mid-round counts as gone "
                 "(and --revive-after revives it) once its lease runs out; 0: no lease, until the "
                 "function's timeout (1-499: refused)")
      ->check(CLI::Range(0u, ml::averaging::kMaxLeaseMs))  // 1..499: refused by the run config
      ->capture_default_str();
  app.add_option("--call-timeout", c.call_timeout_s, "driver: seconds per worker invocation")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--retries", o.fan_out.retries,
                 "driver: retries of a worker whose invocation failed")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  add_budget_options(app, o.budget, BudgetStop::stop_flag);
  c.backup.add_to(app, "driver: ");
  app.add_option("--max-in-flight", o.fan_out.max_in_flight, "driver: concurrent invocations")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  c.print.add_to(app, "one JSON object per round on stdout instead of the table", "no table");
}

std::string money(double usd) {
  char text[32];
  std::snprintf(text, sizeof text, "%.8f", usd);
  return text;
}

ordered_json workers_json(const std::vector<WorkerSpan>& spans) {
  ordered_json out = ordered_json::array();
  for (const WorkerSpan& w : spans) {
    out.push_back({{"worker", w.worker}, {"cold_start", w.cold_start}, {"wait_ms", w.wait_ms},
                   {"train_ms", w.train_ms}, {"merge_ms", w.merge_ms}});
  }
  return out;
}

ordered_json row_json(const RoundRow& r) {
  return {{"round", r.round},
          {"loss", r.loss},
          {"accuracy", r.accuracy},
          {"eval_loss", r.eval_loss},
          {"wall_ms", r.wall_ms},
          {"invocations", r.invocations},
          {"cold_starts", r.cold_starts},
          {"billed_ms", r.billed_ms},
          {"cost_usd", r.cost_usd},
          {"cost_so_far_usd", r.cost_so_far},
          {"retries", r.retries},
          {"shard_cache_hits", r.shard_cache_hits},
          {"revived", r.revived},
          {"backups", r.backups},
          {"model_sha256", r.model_sha256},
          {"modeled_ms", r.modeled_ms ? ordered_json(*r.modeled_ms) : ordered_json(nullptr)},
          {"modeled_cost_usd", r.modeled_cost_usd ? ordered_json(*r.modeled_cost_usd) : ordered_json(nullptr)},
          {"modeled_cost_so_far_usd", r.modeled_ms ? ordered_json(r.modeled_cost_so_far) : ordered_json(nullptr)},
          {"workers", workers_json(r.workers)}};
}

int run_case(CaseCommand& c, std::string_view architecture) {
  ModelAveragingOptions o = c.options;
  o.architecture = std::string(architecture);
  o.orchestration = c.orchestration == "driver" ? ml::averaging::Orchestration::driver
                                                : ml::averaging::Orchestration::functions;
  if (!c.merge_tree.empty()) o.tree = ml::MergeTree::parse(c.merge_tree).levels();
  o.tutorial_init = c.initialisation == "tutorial";
  o.stall_timeout = std::chrono::seconds(c.stall_timeout_s);
  o.revive_after = std::chrono::seconds(c.revive_after_s);
  // Ctrl-C (or SIGTERM) ends the run between polls, stop flag set: functions do not keep going.
  o.interrupted = catch_interrupts();
  o.fan_out.call_deadline =
      std::chrono::milliseconds(static_cast<long long>(c.call_timeout_s * 1000));
  c.backup.apply(o.fan_out);
  FaultScope fault_scope;
  fault_scope.from = fault_time_now();
  fault_scope.functions = {o.function};
  fault_scope.buckets = {o.bucket};
  if (c.threads != 0 && c.where.target != "local")
    throw std::invalid_argument("--threads is for --target local only");

  TargetOptions target_options = c.where.options();
  target_options.local_threads = c.threads;
  Target target = make_target(target_options);
  if (o.fan_out.max_in_flight > target.invoker->concurrency())
    o.fan_out.max_in_flight = target.invoker->concurrency();
  RunServices services{*target.store, target.events.get(), target.invoker.get(), target.label};
  if (target.kind == TargetKind::Local)
    services.event_concurrency = LocalLambdaOptions{}.event_threads;
  if (o.orchestration == ml::averaging::Orchestration::functions)
    if (auto profile = emulator_s3_profile(target)) services.s3_profile = *profile;

  const bool table = c.print.table();
  auto on_start = [&](const ModelAveragingResult& run) {
    if (!table) return;
    std::cout << (architecture == ml::kCaseA ? "casea" : "caseb") << " run " << run.run_id << ": "
              << run.data_description << "\n"
              << "  " << run.configuration["tree"].back().get<std::uint64_t>()
              << " workers, merge tree " << run.configuration["tree"].dump() << ", "
              << run.configuration["rounds"].get<std::uint64_t>() << " rounds of "
              << run.configuration["batches"].get<std::uint64_t>() << " x "
              << run.configuration["batch_size"].get<std::uint64_t>() << ", learning rate "
              << run.configuration["learning_rate"].get<double>() << ", orchestration "
              << run.configuration["orchestration"].get<std::string>()
              << (run.configuration.contains("resumed_at_round")
                      ? ", resumed at round " +
                            std::to_string(
                                run.configuration["resumed_at_round"].get<std::uint64_t>())
                      : std::string())
              << "\n"
              << "  accuracy on " << run.evaluation_description << "; backend: " << run.backend
              << "\n";
    std::printf("%6s %12s %9s %10s %12s %6s %11s %12s %10s %12s\n", "round", "loss", "accuracy", "round_ms",
                "invocations", "cold", "billed_ms", "cost_usd", "aws_ms", "aws_cost");
    std::fflush(stdout);
  };
  auto on_round = [&](const RoundRow& r) {
    if (c.print.json) {
      std::cout << row_json(r).dump() << "\n" << std::flush;
    } else if (table) {
      char modeled[32] = "-";
      if (r.modeled_ms) std::snprintf(modeled, sizeof modeled, "%.1f", *r.modeled_ms);
      std::printf("%6u %12.6g %9.4f %10.1f %12d %6d %11.0f %12s %10s %12s\n", r.round, r.loss, r.accuracy,
                  r.wall_ms, r.invocations, r.cold_starts, r.billed_ms,
                  money(r.cost_so_far).c_str(), modeled,
                  r.modeled_ms ? money(r.modeled_cost_so_far).c_str() : "-");
      std::fflush(stdout);
    }
  };
  std::vector<RoundRow> rows_so_far;
  auto record_round = [&](const RoundRow& r) {
    rows_so_far.push_back(r);
    on_round(r);
  };
  o.budget.started = std::chrono::steady_clock::now();
  // The faults the target injected during the run, joined with what the trainer saw and did.
  auto faults_of = [&](const std::vector<RoundRow>& rows) {
    TrainerActions actions;
    actions.events = o.orchestration == ml::averaging::Orchestration::functions;
    for (const RoundRow& r : rows) {
      actions.calls.insert(actions.calls.end(), r.calls.begin(), r.calls.end());
      actions.revived += r.revived;
    }
    return run_fault_report(target, fault_scope, actions);
  };
  // A run that ends early, stopped by a budget or failed, still leaves a report: the rounds it
  // finished, why it ended, and the faults seen (what a user needs to find out what happened).
  auto write_ended_report = [&](ordered_json why) {
    if (c.report.json_file.empty()) return;
    ordered_json rounds = ordered_json::array();
    for (const RoundRow& r : rows_so_far) rounds.push_back(row_json(r));
    ordered_json faults;
    try {
      faults = faults_of(rows_so_far);
    } catch (const std::exception& error) {
      faults = {{"error", error.what()}};
    }
    ordered_json ended{{"workload", architecture == ml::kCaseA ? "casea" : "caseb"},
                       {"target", c.where.target}};
    ended.update(why);
    ended["rounds"] = rounds;
    ended["faults"] = faults;
    write_file_replacing(c.report.json_file, ended.dump(2) + "\n");
  };
  const ModelAveragingResult result = run_reporting_early_end(
      [&] { return run_model_averaging(o, services, on_start, record_round); }, write_ended_report);
  if (!c.save_model.empty()) ml::save_npz(result.model, c.save_model);
  const ordered_json faults = faults_of(result.rounds);
  if (table) {
    std::printf("final: accuracy %.4f, loss %.6g, model_sha256 %s, cost $%s\n",
                result.rounds.back().accuracy, result.rounds.back().loss,
                result.model_sha256.c_str(), money(result.rounds.back().cost_so_far).c_str());
    double modeled_total = 0;
    bool modeled = true;
    for (const RoundRow& r : result.rounds) {
      modeled = modeled && r.modeled_ms.has_value();
      modeled_total += r.modeled_ms.value_or(0);
    }
    if (modeled) {
      std::printf("modeled on AWS: %.1f ms for %zu rounds, cost $%s\n", modeled_total, result.rounds.size(),
                  money(result.rounds.back().modeled_cost_so_far).c_str());
    }
    for (const std::string& line : fault_report_lines(faults)) std::printf("%s\n", line.c_str());
  }
  if (c.report.wanted()) {
    ordered_json rounds = ordered_json::array();
    for (const RoundRow& r : result.rounds) rounds.push_back(row_json(r));
    ordered_json report = {{"workload", architecture == ml::kCaseA ? "casea" : "caseb"},
                           {"run_id", result.run_id},
                           {"backend", result.backend},
                           {"target", c.where.target},
                           {"configuration", result.configuration},
                           {"rounds", rounds},
                           {"model_sha256", result.model_sha256},
                           {"final_accuracy", result.rounds.back().accuracy},
                           {"total_cost_usd", result.rounds.back().cost_so_far},
                           {"modeled_total_cost_usd", result.rounds.back().modeled_ms
                                                          ? ordered_json(result.rounds.back().modeled_cost_so_far)
                                                          : ordered_json(nullptr)},
                           {"faults", faults}};
    c.report.write(report);
  }
  return 0;
}

// The reserved concurrency of the run's function before `stop` set it to 0, put back on every
// way out (timeout, Ctrl-C, a failure in the wait): the kill switch must never stay on.
struct KillSwitch {
  aws::LambdaClient* lambda = nullptr;
  std::string function;
  std::optional<int> previous;
  bool engaged = false;
  bool restored = false;
  std::string restore_error;
  std::vector<std::string>* log = nullptr;

  void engage() {
    previous = lambda->get_function_concurrency(function);
    log->push_back("function " + function + ": reserved concurrency was " +
                   (previous ? std::to_string(*previous) : std::string("unreserved")));
    lambda->put_function_concurrency(function, 0);
    engaged = true;
    log->push_back("function " + function +
                   ": reserved concurrency set to 0 (no new invocation starts)");
  }
  void restore() noexcept {
    if (!engaged || restored) return;
    try {
      if (previous) {
        lambda->put_function_concurrency(function, *previous);
        log->push_back("function " + function + ": reserved concurrency restored to " +
                       std::to_string(*previous));
      } else {
        lambda->delete_function_concurrency(function);
        log->push_back("function " + function + ": reservation removed again (it had none)");
      }
      restored = true;
    } catch (const std::exception& e) {
      restore_error = e.what();
      log->push_back("function " + function + ": FAILED to restore its reserved concurrency: " +
                     restore_error);
    }
  }
  ~KillSwitch() { restore(); }
};

int run_stop(StopCommand& c) {
  Target target = make_target(c.where.options());
  const std::function<bool()> interrupted = catch_interrupts();
  std::vector<std::string> log;
  std::optional<aws::LambdaClient> lambda;
  KillSwitch kill_switch;
  kill_switch.log = &log;
  if (target.remote) {
    // The function the run's workers run as, from the run's own config.
    const auto config_text =
        target.store->get(c.bucket, ml::averaging::RunLayout(c.run_id).config());
    if (config_text) {
      kill_switch.function =
          ml::averaging::run_config_from_json(nlohmann::json::parse(*config_text)).function;
      lambda.emplace(target.remote->lambda);
      kill_switch.lambda = &*lambda;
    }
  }
  StopSummary summary;
  try {
    summary = stop_run(
        *target.store, c.bucket, c.run_id, std::chrono::seconds(c.timeout_s),
        [&] {
          log.push_back("run " + c.run_id + ": stop flag set");
          if (kill_switch.lambda) kill_switch.engage();
          else log.push_back("target local: no reserved concurrency to set (in-process functions)");
        },
        interrupted);
  } catch (...) {
    kill_switch.restore();
    for (const auto& line : log) std::fprintf(stderr, "%s\n", line.c_str());
    throw;
  }
  if (summary.interrupted) log.push_back("interrupted: restoring before the wait ended");
  else if (summary.still_running != 0) log.push_back("wait timed out: restoring anyway");
  kill_switch.restore();
  const bool ok = summary.still_running == 0 && !summary.interrupted &&
                  kill_switch.restore_error.empty();
  if (c.print.json) {
    nlohmann::ordered_json out = {
        {"run_id", c.run_id},
        {"stop_flag_set", true},
        {"function", kill_switch.lambda ? nlohmann::ordered_json(kill_switch.function)
                                        : nlohmann::ordered_json(nullptr)},
        {"previous_reserved_concurrency",
         kill_switch.previous ? nlohmann::ordered_json(*kill_switch.previous)
                              : nlohmann::ordered_json(nullptr)},
        {"concurrency_set_to_zero", kill_switch.engaged},
        {"concurrency_restored", kill_switch.restored},
        {"restore_error", kill_switch.restore_error.empty()
                              ? nlohmann::ordered_json(nullptr)
                              : nlohmann::ordered_json(kill_switch.restore_error)},
        {"running_at_stop", summary.running_at_stop},
        {"still_running", summary.still_running},
        {"waited_s", summary.waited_s},
        {"interrupted", summary.interrupted},
        {"timed_out", !summary.interrupted && summary.still_running != 0}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& line : log) std::printf("%s\n", line.c_str());
    // The line scripts (and the tests) have read since the first `stop`.
    std::printf(
        "run %s: stop flag set; %zu invocation(s) were running, %zu still are (waited %.1f s)\n",
        c.run_id.c_str(), summary.running_at_stop, summary.still_running, summary.waited_s);
  }
  return ok ? 0 : 1;
}

}  // namespace

std::vector<Subcommand> add_case_commands(CLI::App& app) {
  auto casea = std::make_shared<CaseCommand>();
  CaseCommand& a = *casea;
  CLI::App* casea_app = app.add_subcommand(
      "casea",
      "CLOUD 2018 Case A: 20-100-100-100-100-100-1 tanh net, model averaging over a merge tree");
  a.options.workers = 100;
  a.options.rounds = 20;
  a.options.batches = 20;
  a.options.batch_size = 50;
  add_common_options(*casea_app, a);
  auto* csv = casea_app
                  ->add_option("--data", a.options.data.csv_file,
                               "CSV: 20 features then the label (-1/+1) per row")
                  ->check(CLI::ExistingFile);
  casea_app
      ->add_option("--samples", a.options.data.samples,
                   "samples generated by the paper's rule (at most 2^20)")
      ->check(CLI::Range(1, 1 << 20))
      ->excludes(csv)
      ->capture_default_str();

  auto caseb = std::make_shared<CaseCommand>();
  CaseCommand& b = *caseb;
  CLI::App* caseb_app = app.add_subcommand(
      "caseb", "CLOUD 2018 Case B: the CIFAR-10 CNN, model averaging over a merge tree");
  b.options.workers = 100;
  b.options.rounds = 10;
  b.options.batches = 20;
  b.options.batch_size = 25;
  add_common_options(*caseb_app, b);
  auto* dir =
      caseb_app
          ->add_option(
              "--data", b.options.data.cifar_dir,
              "CIFAR-10 binary directory (cifar-10-batches-bin), staged to S3 unless it is already")
          ->check(CLI::ExistingDirectory);
  caseb_app
      ->add_option("--dataset", b.options.data.dataset_url,
                   "a staged dataset: s3://bucket/prefix/manifest.json")
      ->excludes(dir);
  caseb_app
      ->add_option("--init", b.initialisation,
                   "paper: N(0,1) everywhere (the paper's code); tutorial: TF's CIFAR-10 tutorial")
      ->check(CLI::IsMember({"paper", "tutorial"}))
      ->capture_default_str();

  auto stop = std::make_shared<StopCommand>();
  StopCommand& s = *stop;
  CLI::App* stop_app = app.add_subcommand(
      "stop", "stop a Case A/B run: set its stop flag and wait until none of its functions runs");
  stop_app->add_option("run_id", s.run_id, "the run id")->required();
  stop_app->add_option("--bucket", s.bucket, "the run's bucket")->capture_default_str();
  s.where.add_to(*stop_app);
  stop_app->add_option("--timeout", s.timeout_s, "seconds to wait for running functions")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  s.print.add_to(*stop_app, "print a machine-readable summary", nullptr);

  return {{casea_app, [casea] { return run_case(*casea, ml::kCaseA); }},
          {caseb_app,
           [caseb] {
             if (caseb->options.data.cifar_dir.empty() && caseb->options.data.dataset_url.empty()) {
               throw std::invalid_argument(
                   "caseb needs --data DIR (CIFAR-10 binary batches) or --dataset "
                   "s3://.../manifest.json");
             }
             return run_case(*caseb, ml::kCaseB);
           }},
          {stop_app, [stop] { return run_stop(*stop); }}};
}

}  // namespace stratus::trainer
