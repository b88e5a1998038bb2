// The trainer commands' shared option groups (common_options.hpp).

#include "common_options.hpp"

#include <chrono>

#include "stratus/trainer/html_report.hpp"
#include "stratus/trainer/output_file.hpp"

namespace stratus::trainer {

namespace {

const char* target_help(TargetChoice accepted) {
  if (accepted == TargetChoice::remote)
    return "an endpoint URL such as http://127.0.0.1:9001, or aws";
  if (accepted == TargetChoice::s3) return "an S3 endpoint URL (the emulator) or aws";
  return "local, aws, or an endpoint URL such as http://127.0.0.1:9001";
}

}  // namespace

CLI::Option* TargetFlags::add_to(CLI::App& app, TargetChoice accepted) {
  CLI::Option* option = app.add_option("--target", target, target_help(accepted));
  option->capture_default_str();
  app.add_option("--region", region, "AWS region (default: AWS_REGION / profile)");
  app.add_option("--profile", profile, "AWS profile (default: AWS_PROFILE or 'default')");
  return option;
}

TargetOptions TargetFlags::options() const {
  TargetOptions o;
  o.target = target;
  o.region = region;
  o.profile = profile;
  return o;
}

void add_budget_options(CLI::App& app, RunBudget& budget, BudgetStop stop) {
  const bool flag = stop == BudgetStop::stop_flag;
  const std::string how =
      flag ? "stop the run (stop flag set, non-zero exit)" : "stop (non-zero exit)";
  app.add_option("--max-cost", budget.max_cost_usd,
                 how + (flag ? " once its cost" : " once the cost") +
                     " passes this many USD (modeled on the emulator, billed on AWS)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-wall", budget.max_wall_s, how + " after this many seconds")
      ->check(CLI::PositiveNumber);
}

void BackupFlags::add_to(CLI::App& app, const char* which) {
  app.add_option("--backup-after", after_s,
                 std::string(which) +
                     "back up a call still running after this many seconds with an identical "
                     "second call; the first answer wins (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--backup-after-median", after_median,
                 std::string(which) +
                     "back up a call once it has run this many times the median latency of the "
                     "calls answered so far (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void BackupFlags::apply(FanOutOptions& fan_out) const {
  fan_out.backup_after = std::chrono::milliseconds(static_cast<long long>(after_s * 1000));
  fan_out.backup_after_median = after_median;
}

void OutputFlags::add_to(CLI::App& app, const std::string& json_help, const char* quiet_help) {
  app.add_flag("--json", json, json_help);
  if (quiet_help) app.add_flag("-q,--quiet", quiet, quiet_help);
}

void ReportFlags::add_to(CLI::App& app, const std::string& report_help, bool with_html) {
  app.add_option("--report", json_file, report_help);
  if (with_html)
    app.add_option("--html", html_file,
                   "write the report as a self-contained HTML page with plots");
}

void ReportFlags::write(const nlohmann::json& report) const {
  if (!html_file.empty()) write_html_report(report, html_file);
  // max_digits10 keeps numbers exact, so two reports can be compared bit for bit.
  if (!json_file.empty()) write_file_replacing(json_file, report.dump(2) + "\n");
}

void ReportFlags::write(const nlohmann::ordered_json& report) const {
  if (!html_file.empty()) write_html_report(nlohmann::json::parse(report.dump()), html_file);
  if (!json_file.empty()) write_file_replacing(json_file, report.dump(2) + "\n");
}

}  // namespace stratus::trainer
