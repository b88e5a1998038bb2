#include "stratus/emulator/faults/fault_injector.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

namespace stratus::emulator {

using nlohmann::json;

namespace {

constexpr std::size_t kRecentFaults = 1000;

std::string utc_now_iso() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

std::string prometheus_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

FaultInjector::FaultInjector(boost::asio::io_context& io, FaultPlan plan)
    : io_(io), schedule_(std::move(plan)) {
  if (active()) {
    spdlog::warn("fault injection on: {} rules, seed {}", schedule_.plan().rules.size(),
                 schedule_.plan().seed);
  }
}

std::optional<InjectedFault> FaultInjector::decide(std::initializer_list<FaultKind> kinds,
                                                   const std::string& target,
                                                   const std::string& request_id,
                                                   const std::string& key) {
  if (!active()) return std::nullopt;
  auto d = schedule_.decide(kinds, target, key);
  if (!d) return std::nullopt;
  const FaultKind kind = d->spec->kind;
  InjectedFault fault{kind, *d->spec, d->rule, d->match, d->uniform};
  ++counts_[{fault_kind_name(kind), target}];
  ++total_;
  std::string where = key.empty() ? target : target + "/" + key;
  spdlog::warn("fault injected: {} on {} (request {}, rule {}, match {})", fault_kind_name(kind),
               where, request_id, d->rule, d->match);
  remember({{"time", utc_now_iso()},
            {"kind", fault_kind_name(kind)},
            {"target", where},
            {"request_id", request_id},
            {"rule", d->rule},
            {"match", d->match}});
  return fault;
}

void FaultInjector::note(const InjectedFault& fault, const std::string& target,
                         const std::string& request_id, const std::string& detail) {
  spdlog::warn("fault {} on {} (request {}): {}", fault_kind_name(fault.kind), target, request_id,
               detail);
  remember({{"time", utc_now_iso()},
            {"kind", fault_kind_name(fault.kind)},
            {"target", target},
            {"request_id", request_id},
            {"rule", fault.rule_index},
            {"match", fault.match},
            {"detail", detail}});
}

void FaultInjector::remember(json entry) {
  recent_.push_back(std::move(entry));
  while (recent_.size() > kRecentFaults) recent_.pop_front();
}

void FaultInjector::after(double ms, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(ms * 1000)));
  timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
    if (!ec) fn();
  });
}

void FaultInjector::replace(FaultPlan plan) {
  spdlog::warn("fault plan replaced: {} rules, seed {}", plan.rules.size(), plan.seed);
  schedule_ = FaultSchedule(std::move(plan));
}

json FaultInjector::counts_json() const {
  json out = json::object();
  for (const auto& [key, n] : counts_) out[key.first][key.second] = n;
  return out;
}

json FaultInjector::state_json() const {
  json out = fault_plan_json(schedule_.plan());
  out["injected_total"] = total_;
  out["counts"] = counts_json();
  out["recent"] = json(recent_);
  return out;
}

std::string FaultInjector::prometheus_text() const {
  std::string out =
      "# HELP stratus_faults_injected_total Faults injected by the emulator\n"
      "# TYPE stratus_faults_injected_total counter\n";
  for (const auto& [key, n] : counts_) {
    out += "stratus_faults_injected_total{kind=\"" + prometheus_label(key.first) + "\",target=\"" +
           prometheus_label(key.second) + "\"} " + std::to_string(n) + "\n";
  }
  return out;
}

}  // namespace stratus::emulator
