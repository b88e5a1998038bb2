// `stratus-trainer casec` (casec_command.hpp): the data, the trials, progress, the sorted table,
// the best trial and the report.

#include "casec_command.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common_options.hpp"
#include "model_averaging_data.hpp"
#include "stratus/common/lambda_client.hpp"
#include "stratus/functions/product_functions.hpp"
#include "stratus/ml/shard_reader.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/hyperparameter_search.hpp"
#include "stratus/trainer/s3_url.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {
namespace hs = ml::hyperparameter_search;
using nlohmann::ordered_json;

struct CasecCommand {
  CLI::App* app = nullptr;
  TargetFlags where;
  std::string dataset, test_dataset, data_dir;
  std::uint32_t shards = 4;
  std::uint32_t trials = 8;
  std::uint32_t epochs = 50;
  int max_concurrency = 100;
  std::uint64_t seed = 1;
  int retries = 2;
  std::uint32_t batches_per_invocation = 0;
  std::uint32_t reserve_ms = 2000;
  double stall_timeout_s = 0;  // 0: 2 x the function timeout + 30 s
  double poll_s = 0.25;
  std::string function = std::string(hs::kFunction);
  std::string run_id;
  std::string bucket = "stratus-runs";
  hs::SearchSpace space;
  ReportFlags report;  // JSON only
  OutputFlags print;
};

namespace {

S3ObjectUrl parse_s3_url(const std::string& url, const char* option) {
  auto parsed = parse_s3_object_url(url);
  if (!parsed) throw std::invalid_argument(std::string(option) + " must be s3://BUCKET/KEY of a manifest");
  return std::move(*parsed);
}

// The test set of a staged training set: --test-dataset, or the stage command's sibling name
// (datasets/mnist-train/... -> datasets/mnist-test/...).
std::string test_url_for(const CasecCommand& c) {
  if (!c.test_dataset.empty()) return c.test_dataset;
  const auto at = c.dataset.rfind("-train/");
  if (at == std::string::npos) {
    throw std::invalid_argument("--dataset " + c.dataset +
                                ": give the test set with --test-dataset s3://B/.../manifest.json");
  }
  return c.dataset.substr(0, at) + "-test/" + c.dataset.substr(at + 7);
}

struct SearchData {
  hs::DatasetRef train, test;
  std::uint64_t train_rows = 0, test_rows = 0;
  std::string description;
};

SearchData prepare(const CasecCommand& c, ml::ObjectStore& store) {
  SearchData d;
  if (!c.data_dir.empty()) {
    const LabeledData train = read_mnist_directory(c.data_dir, DatasetSplit::train);
    const LabeledData test = read_mnist_directory(c.data_dir, DatasetSplit::test);
    const auto staged_train = stage_into(store, c.bucket, train, "mnist-train", c.shards);
    const auto staged_test = stage_into(store, c.bucket, test, "mnist-test", c.shards);
    d.train = {c.bucket, staged_train.manifest_key};
    d.test = {c.bucket, staged_test.manifest_key};
    d.description = c.data_dir + " staged at s3://" + c.bucket + "/datasets/mnist-{train,test}/";
  } else {
    const auto [train_bucket, train_key] = parse_s3_url(c.dataset, "--dataset");
    const std::string test_url = test_url_for(c);
    const auto [test_bucket, test_key] = parse_s3_url(test_url, "--test-dataset");
    d.train = {train_bucket, train_key};
    d.test = {test_bucket, test_key};
    d.description = c.dataset + " (test: " + test_url + ")";
  }
  const auto train = ml::open_staged_dataset(store, d.train.bucket, d.train.manifest_key);
  const auto test = ml::open_staged_dataset(store, d.test.bucket, d.test.manifest_key);
  d.train_rows = train.manifest.count;
  d.test_rows = test.manifest.count;
  return d;
}

// The function's timeout: the deployed configuration on a remote target, the product's own
// in-process.
int function_timeout_s(const CasecCommand& c, const Target& target) {
  const functions::FunctionSpec* spec = functions::find_product_function(c.function);
  int timeout = spec ? spec->timeout_s : 300;
  if (target.remote) {
    aws::LambdaClient lambda(target.remote->lambda);
    const auto state = lambda.get_function_configuration(c.function);
    if (!state) {
      throw std::invalid_argument("function '" + c.function + "' is not deployed at " +
                                  target.remote->label + " (run `stratus-trainer deploy --target " +
                                  c.where.target + "`)");
    }
    timeout = state->timeout_s;
  }
  return timeout;
}

std::string hidden_text(const std::vector<std::uint32_t>& hidden) {
  std::string text;
  for (std::uint32_t w : hidden) text += (text.empty() ? "" : "-") + std::to_string(w);
  return text;
}

ordered_json outcome_json(const TrialOutcome& o) {
  ordered_json j = {{"trial", o.config.trial},
                    {"status", o.state == TrialState::Done ? "done" : "failed"},
                    {"hidden", o.config.hidden},
                    {"learning_rate", o.config.learning_rate},
                    {"batch_count", o.config.batch_count},
                    {"batch_size", o.config.batch_size},
                    {"epochs", o.config.epochs},
                    {"init_seed", o.config.init_seed},
                    {"attempts", o.attempts},
                    {"retries", std::max(0, o.attempts - 1)},
                    {"stalls", o.stalls},
                    {"errors", o.errors},
                    {"wall_ms", o.wall_ms},
                    {"billed_ms", o.billed_ms},
                    {"cost_usd", o.cost_usd},
                    {"chained_segments_billed", o.chained_segments}};
  if (o.result) {
    j["test_accuracy"] = o.result->test_accuracy;
    j["test_correct"] = o.result->test_correct;
    j["test_samples"] = o.result->test_samples;
    j["final_train_loss"] = o.result->final_train_loss;
    j["architecture"] = o.result->architecture;
    j["model_sha256"] = o.result->model_sha256;
    j["model_key"] = o.result->model_key;
    j["invocations"] = o.result->invocations;
    j["checkpoints"] = o.result->invocations - 1;
    j["train_ms"] = o.result->train_ms;
  }
  return j;
}

int run(CasecCommand& c) {
  if (c.dataset.empty() == c.data_dir.empty()) {
    throw std::invalid_argument(
        "casec needs exactly one of --dataset s3://B/.../manifest.json and --data MNIST_DIR");
  }
  hs::validate(c.space);
  Target target = make_target(c.where.options());
  const SearchData data = prepare(c, *target.store);
  const std::vector<hs::TrialConfig> trials =
      hs::sample_trials(c.seed, c.trials, c.space, c.epochs, data.train_rows);

  SearchOptions o;
  hs::RunConfig& run = o.run;
  run.run_id = c.run_id.empty()
                   ? "casec-" + std::to_string(c.seed) + "-" +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count())
                   : c.run_id;
  run.bucket = c.bucket;
  run.train = data.train;
  run.test = data.test;
  run.function = c.function;
  run.max_batches_per_invocation = c.batches_per_invocation;
  run.reserve_ms = c.reserve_ms;
  hs::validate(run);
  const int timeout_s = function_timeout_s(c, target);
  // Not capped by the invoker's own concurrency: a chained trial holds no call, and calls beyond it
  // wait in its queue well inside their deadline (a trial's timeout plus 30 s).
  o.max_concurrency = c.max_concurrency;
  o.retries = c.retries;
  o.call_deadline = std::chrono::seconds(timeout_s + 30);
  o.poll_interval = std::chrono::milliseconds(static_cast<long long>(c.poll_s * 1000));
  o.stall_timeout = std::chrono::milliseconds(static_cast<long long>(
      (c.stall_timeout_s > 0 ? c.stall_timeout_s : 2.0 * timeout_s + 30) * 1000));

  const bool table = c.print.table();
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (table) {
    std::cout << "casec run " << run.run_id << ": " << c.trials << " trials of random search (seed "
              << c.seed << "), " << c.epochs << " epochs each, at most " << o.max_concurrency
              << " at once\n"
              << "  data: " << data.description << "; " << data.train_rows << " training, "
              << data.test_rows << " test images\n"
              << "  backend: " << target.invoker->describe() << ", function " << c.function
              << " (timeout " << timeout_s << " s"
              << (c.batches_per_invocation
                      ? ", at most " + std::to_string(c.batches_per_invocation) +
                            " minibatches per invocation"
                      : std::string())
              << ")\n";
    std::fflush(stdout);
  }
  SearchObserver observer;
  auto progress_line = [&](const SearchProgress& p) {
    char line[160];
    std::snprintf(line, sizeof line,
                  "progress: %zu done, %zu running, %zu failed, %zu queued (of %u)", p.done,
                  p.running, p.failed, p.queued, c.trials);
    return std::string(line);
  };
  observer.on_progress = [&](const SearchProgress& p) {
    if (table && tty) {
      std::fprintf(stderr, "\r\033[K%s", progress_line(p).c_str());
      std::fflush(stderr);
    }
  };
  observer.on_trial = [&](const TrialOutcome& t, const SearchProgress& p) {
    if (c.print.json) {
      std::cout << outcome_json(t).dump() << "\n" << std::flush;
      return;
    }
    if (c.print.quiet) return;
    char line[256];
    if (t.result) {
      std::snprintf(line, sizeof line,
                    "trial %u done: accuracy %.4f (hidden %s, lr %.5f, %u batches of %u), %u "
                    "invocation(s), %d attempt(s)",
                    t.config.trial, t.result->test_accuracy, hidden_text(t.config.hidden).c_str(),
                    t.config.learning_rate, t.config.batch_count, t.config.batch_size,
                    t.result->invocations, t.attempts);
    } else {
      std::snprintf(line, sizeof line, "trial %u FAILED after %d attempt(s): %s", t.config.trial,
                    t.attempts, t.errors.empty() ? "?" : t.errors.back().c_str());
    }
    std::fprintf(stderr, "%s%s; %s\n", tty ? "\r\033[K" : "", line, progress_line(p).c_str());
  };
  const SearchResult result = run_search(*target.invoker, *target.store, o, trials, observer);
  if (table && tty) std::fprintf(stderr, "\r\033[K");

  const std::vector<std::size_t> order = ranking(result);
  std::size_t failed = 0, checkpoints = 0, retried = 0;
  for (const auto& t : result.trials) {
    failed += t.state == TrialState::Failed ? 1 : 0;
    retried += t.attempts > 1 ? 1 : 0;
    if (t.result) checkpoints += t.result->invocations - 1;
  }
  if (table) {
    std::printf("%4s %5s %9s %-12s %9s %7s %6s %6s %11s %8s %9s  %s\n", "rank", "trial", "accuracy",
                "hidden", "lr", "batches", "batch", "epochs", "invocations", "attempts", "train_s",
                "status");
    std::size_t rank = 0;
    for (std::size_t i : order) {
      const TrialOutcome& t = result.trials[i];
      const std::string hidden = hidden_text(t.config.hidden);
      if (t.result) {
        std::printf("%4zu %5u %9.4f %-12s %9.5f %7u %6u %6u %11u %8d %9.2f  done\n", ++rank,
                    t.config.trial, t.result->test_accuracy, hidden.c_str(), t.config.learning_rate,
                    t.config.batch_count, t.config.batch_size, t.config.epochs,
                    t.result->invocations, t.attempts, t.result->train_ms / 1000);
      } else {
        std::printf("%4s %5u %9s %-12s %9.5f %7u %6u %6u %11s %8d %9s  FAILED: %s\n", "-",
                    t.config.trial, "-", hidden.c_str(), t.config.learning_rate,
                    t.config.batch_count, t.config.batch_size, t.config.epochs, "-", t.attempts,
                    "-", t.errors.empty() ? "?" : t.errors.back().c_str());
      }
    }
    if (result.best) {
      const TrialOutcome& b = result.trials[*result.best];
      std::printf(
          "best: trial %u, test accuracy %.4f (%llu/%llu): hidden %s, lr %.6f, %u batches of %u, "
          "%u epochs; "
          "model s3://%s/%s (predict it with --pixels centered)\n",
          b.config.trial, b.result->test_accuracy,
          static_cast<unsigned long long>(b.result->test_correct),
          static_cast<unsigned long long>(b.result->test_samples),
          hidden_text(b.config.hidden).c_str(), b.config.learning_rate, b.config.batch_count,
          b.config.batch_size, b.config.epochs, run.bucket.c_str(), b.result->model_key.c_str());
    }
    std::printf(
        "summary: %zu trials, %zu done, %zu failed, %zu retried, %zu checkpoints (self "
        "re-invocations), "
        "%d invocations by the driver, %.2f s, cost $%.8f\n",
        result.trials.size(), result.trials.size() - failed, failed, retried, checkpoints,
        result.invocations, result.wall_ms / 1000, result.cost_usd);
  }
  ordered_json trials_json = ordered_json::array();
  for (std::size_t i : order) trials_json.push_back(outcome_json(result.trials[i]));
  ordered_json best =
      result.best ? outcome_json(result.trials[*result.best]) : ordered_json(nullptr);
  if (c.print.json) {
    std::cout << ordered_json{{"best", best},
                              {"failed", failed},
                              {"checkpoints", checkpoints},
                              {"wall_ms", result.wall_ms},
                              {"cost_usd", result.cost_usd}}
                     .dump()
              << "\n";
  }
  if (c.report.wanted()) {
    ordered_json report = {{"workload", "casec"},
                           {"run_id", run.run_id},
                           {"backend", target.invoker->describe()},
                           {"target", c.where.target},
                           {"seed", c.seed},
                           {"epochs", c.epochs},
                           {"data",
                            {{"source", data.description},
                             {"train_rows", data.train_rows},
                             {"test_rows", data.test_rows}}},
                           {"function_timeout_s", timeout_s},
                           {"max_batches_per_invocation", c.batches_per_invocation},
                           {"trials", trials_json},
                           {"best", best},
                           {"failed", failed},
                           {"retried", retried},
                           {"checkpoints", checkpoints},
                           {"driver_invocations", result.invocations},
                           {"wall_ms", result.wall_ms},
                           {"cost_usd", result.cost_usd}};
    c.report.write(report);
  }
  if (!result.best) {
    std::cerr << "stratus-trainer: casec: every trial failed\n";
    return 1;
  }
  return 0;
}

}  // namespace

Subcommand add_casec_command(CLI::App& app) {
  auto command = std::make_shared<CasecCommand>();
  CasecCommand& c = *command;
  c.app = app.add_subcommand(
      "casec",
      "CLOUD 2018 Case C: random hyperparameter search over MLPs on MNIST, one function per trial");
  CLI::App& a = *c.app;
  c.where.add_to(a);
  auto* dataset =
      a.add_option("--dataset", c.dataset, "the staged training set, s3://B/.../manifest.json");
  a.add_option("--test-dataset", c.test_dataset,
               "the staged test set (default: the --dataset key with -train/ replaced by -test/)")
      ->needs(dataset);
  a.add_option("--data", c.data_dir,
               "MNIST directory (train-/t10k- IDX files, .gz or not), staged into --bucket")
      ->check(CLI::ExistingDirectory)
      ->excludes(dataset);
  a.add_option("--shards", c.shards, "with --data: shards per split")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  a.add_option("--trials", c.trials, "configurations drawn")
      ->check(CLI::Range(1u, hs::kMaxTrials))
      ->capture_default_str();
  a.add_option("--epochs", c.epochs, "epochs per trial (the paper: 50)")
      ->check(CLI::Range(1u, hs::kMaxEpochs))
      ->capture_default_str();
  a.add_option("--max-concurrency", c.max_concurrency, "trials running at once")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  a.add_option("--seed", c.seed, "seed of the configurations (and of each trial's initial weights)")
      ->capture_default_str();
  a.add_option("--retries", c.retries,
               "re-invocations of a failed trial before it is reported failed")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  a.add_option("--batches-per-invocation", c.batches_per_invocation,
               "checkpoint and re-invoke after this many minibatches (0: only when the function's "
               "time runs out)")
      ->capture_default_str();
  a.add_option("--reserve-ms", c.reserve_ms,
               "time kept free at the end of an invocation to checkpoint")
      ->check(CLI::Range(0u, 900000u))
      ->capture_default_str();
  a.add_option("--stall-timeout", c.stall_timeout_s,
               "seconds a chained trial may go without a new checkpoint before it is retried "
               "(default: 2 x timeout + 30)")
      ->check(CLI::PositiveNumber);
  a.add_option("--poll", c.poll_s, "seconds between looks at chained trials in S3")
      ->check(CLI::Range(0.01, 60.0))
      ->capture_default_str();
  a.add_option("--function", c.function, "the trial function's name")->capture_default_str();
  a.add_option("--run-id", c.run_id,
               "run id (default: casec-<seed>-<time>); state under s3://BUCKET/runs/<id>/");
  a.add_option("--bucket", c.bucket, "bucket for the run's state (created when missing)")
      ->capture_default_str();
  a.add_option("--min-hidden-layers", c.space.min_hidden_layers)->capture_default_str();
  a.add_option("--max-hidden-layers", c.space.max_hidden_layers)->capture_default_str();
  a.add_option("--min-width", c.space.min_width)->capture_default_str();
  a.add_option("--max-width", c.space.max_width)->capture_default_str();
  a.add_option("--min-lr", c.space.min_learning_rate)->capture_default_str();
  a.add_option("--max-lr", c.space.max_learning_rate)->capture_default_str();
  a.add_option("--min-batch-count", c.space.min_batch_count, "batches per epoch, at least")
      ->capture_default_str();
  a.add_option("--max-batch-count", c.space.max_batch_count, "batches per epoch, at most")
      ->capture_default_str();
  c.report.add_to(a, "write every trial, the best and the run's figures as JSON", false);
  c.print.add_to(a,
                  "one JSON object per finished trial on stdout, then the best, instead of the table",
                  "no table, no progress");
  return {c.app, [command] { return run(*command); }};
}

}  // namespace stratus::trainer
