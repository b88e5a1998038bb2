#pragma once
// The option groups the `stratus-trainer` commands share, each with what it turns into: where to
// run (--target, --region, --profile -> TargetOptions), the run's limits (--max-cost, --max-wall
// -> RunBudget), straggler backups (--backup-after, --backup-after-median -> FanOutOptions), what
// the command prints (--json, -q/--quiet) and the files it writes (--report, --html). A command
// adds the groups it needs, so a new workload's command writes none of them again, and every
// command spells, checks and explains them the same way.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/run_budget.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

// What a command's --target accepts (its help says so; make_target checks the form).
enum class TargetChoice {
  any,     // local, aws or an endpoint URL
  remote,  // an endpoint URL or aws: the command needs Lambda (and S3) it can reach
  s3,      // an S3 endpoint URL or aws: the command only writes to S3
};

struct TargetFlags {
  TargetFlags() = default;
  // A command whose --target defaults to something else (stage: the emulator's URL).
  explicit TargetFlags(std::string default_target) : target(std::move(default_target)) {}

  std::string target = "local";
  std::string region;
  std::string profile;

  // --target (its default shown), --region and --profile; returns --target, for a command that
  // requires it.
  CLI::Option* add_to(CLI::App& app, TargetChoice accepted = TargetChoice::any);
  // For make_target / resolve_remote: the flags with TargetOptions' defaults for the rest.
  TargetOptions options() const;
};

// How a run that passes --max-cost or --max-wall ends, as the options' help says.
enum class BudgetStop {
  exit,       // the command stops sending work and exits non-zero
  stop_flag,  // Case A/B: the run's stop flag is set as well, so no function keeps it going
};
void add_budget_options(CLI::App& app, RunBudget& budget, BudgetStop stop);

// --backup-after / --backup-after-median, on every command that fans calls out.
struct BackupFlags {
  double after_s = 0;
  double after_median = 0;

  // `which` starts both helps (e.g. "driver: " where only one orchestration fans out).
  void add_to(CLI::App& app, const char* which);
  void apply(FanOutOptions& fan_out) const;
};

struct OutputFlags {
  bool json = false;
  bool quiet = false;

  // --json, and -q,--quiet unless `quiet_help` is null (a command that prints one summary only).
  void add_to(CLI::App& app, const std::string& json_help, const char* quiet_help);
  // The human-readable table (and its progress lines) is printed.
  bool table() const { return !json && !quiet; }
};

struct ReportFlags {
  std::string json_file;  // --report
  std::string html_file;  // --html

  // --report with `report_help`, and --html when the report renders as a page (html_report.hpp).
  void add_to(CLI::App& app, const std::string& report_help, bool with_html);
  bool wanted() const { return !json_file.empty() || !html_file.empty(); }
  // Each file asked for, replaced whole: the JSON indented by 2, the page rendered from it.
  void write(const nlohmann::json& report) const;
  void write(const nlohmann::ordered_json& report) const;
};

}  // namespace stratus::trainer
