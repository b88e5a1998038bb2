#include "stratus/emulator/faults/fault_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

namespace stratus::emulator {

using nlohmann::json;

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::DropEvent:
      return "drop_event";
    case FaultKind::DuplicateEvent:
      return "duplicate_event";
    case FaultKind::Crash:
      return "crash";
    case FaultKind::Straggler:
      return "straggler";
    case FaultKind::InvokeLatency:
      return "invoke_latency";
    case FaultKind::Throttle:
      return "throttle";
    case FaultKind::S3Latency:
      return "s3_latency";
    case FaultKind::S3SlowDown:
      return "s3_slow_down";
    case FaultKind::S3InternalError:
      return "s3_internal_error";
  }
  return "unknown";
}

std::optional<FaultKind> parse_fault_kind(std::string_view name) {
  for (FaultKind k : kAllFaultKinds) {
    if (name == fault_kind_name(k)) return k;
  }
  return std::nullopt;
}

bool is_s3_fault(FaultKind kind) {
  return kind == FaultKind::S3Latency || kind == FaultKind::S3SlowDown ||
         kind == FaultKind::S3InternalError;
}

namespace {

constexpr std::uint64_t kMaxScheduleEntries = 10000;
constexpr double kMaxLatencyMs = 60000;
constexpr double kMaxStragglerFactor = 100;
constexpr double kMaxCrashAfterMs = 900000;

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw FaultPlanError(where + ": " + what);
}

double number_in(const json& v, const std::string& where, double min, double max) {
  if (!v.is_number()) fail(where, "must be a number");
  double d = v.get<double>();
  if (!(d >= min && d <= max)) {
    char range[96];
    std::snprintf(range, sizeof range, "must be between %g and %g, got ", min, max);
    fail(where, range + v.dump());
  }
  return d;
}

std::uint64_t positive_integer(const json& v, const std::string& where) {
  if (!v.is_number_unsigned() || v.get<std::uint64_t>() == 0)
    fail(where, "must be a positive integer");
  return v.get<std::uint64_t>();
}

std::string name_in(const json& v, const std::string& where) {
  if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 1024) {
    fail(where, "must be a non-empty string (\"*\" matches any)");
  }
  return v.get<std::string>();
}

FaultRule parse_rule(const json& r, const std::string& where) {
  if (!r.is_object()) fail(where, "must be a JSON object");
  FaultRule rule;
  auto kind = r.find("kind");
  if (kind == r.end()) fail(where + ".kind", "is required");
  if (!kind->is_string() || !parse_fault_kind(kind->get<std::string>())) {
    std::string names;
    for (FaultKind k : kAllFaultKinds)
      names += std::string(names.empty() ? "" : ", ") + fault_kind_name(k);
    fail(where + ".kind", "must be one of " + names + ", got " + kind->dump());
  }
  rule.kind = *parse_fault_kind(kind->get<std::string>());
  const bool s3 = is_s3_fault(rule.kind);

  std::set<std::string> allowed = {"kind", "probability", "schedule", "max_count"};
  if (s3) {
    allowed.insert({"bucket", "key_prefix"});
  } else {
    allowed.insert("function");
  }
  if (rule.kind == FaultKind::InvokeLatency || rule.kind == FaultKind::S3Latency)
    allowed.insert("latency_ms");
  if (rule.kind == FaultKind::Straggler) allowed.insert("factor");
  if (rule.kind == FaultKind::Crash) allowed.insert({"crash_after_min_ms", "crash_after_max_ms"});
  for (const auto& [key, _] : r.items()) {
    if (!allowed.count(key))
      fail(where + "." + key,
           std::string("is not a field of a ") + fault_kind_name(rule.kind) + " rule");
  }

  if (auto f = r.find("function"); f != r.end()) rule.function = name_in(*f, where + ".function");
  if (auto b = r.find("bucket"); b != r.end()) rule.bucket = name_in(*b, where + ".bucket");
  if (auto k = r.find("key_prefix"); k != r.end()) {
    if (!k->is_string() || k->get<std::string>().size() > 1024)
      fail(where + ".key_prefix", "must be a string");
    rule.key_prefix = k->get<std::string>();
  }

  auto p = r.find("probability");
  auto s = r.find("schedule");
  if ((p == r.end()) == (s == r.end()))
    fail(where, "needs exactly one of 'probability' and 'schedule'");
  if (p != r.end()) rule.probability = number_in(*p, where + ".probability", 0, 1);
  if (s != r.end()) {
    if (!s->is_array() || s->empty() || s->size() > kMaxScheduleEntries) {
      fail(where + ".schedule", "must be a non-empty array of at most " +
                                    std::to_string(kMaxScheduleEntries) +
                                    " positive integers (1-based positions of matching requests)");
    }
    for (std::size_t i = 0; i < s->size(); ++i) {
      rule.schedule.push_back(
          positive_integer((*s)[i], where + ".schedule[" + std::to_string(i) + "]"));
    }
    std::sort(rule.schedule.begin(), rule.schedule.end());
    rule.schedule.erase(std::unique(rule.schedule.begin(), rule.schedule.end()),
                        rule.schedule.end());
  }
  if (auto m = r.find("max_count"); m != r.end())
    rule.max_count = positive_integer(*m, where + ".max_count");

  if (rule.kind == FaultKind::InvokeLatency || rule.kind == FaultKind::S3Latency) {
    auto l = r.find("latency_ms");
    if (l == r.end()) fail(where + ".latency_ms", "is required for a latency rule");
    rule.latency_ms = number_in(*l, where + ".latency_ms", 0, kMaxLatencyMs);
  }
  if (rule.kind == FaultKind::Straggler) {
    auto f = r.find("factor");
    if (f == r.end()) fail(where + ".factor", "is required for a straggler rule");
    rule.factor = number_in(*f, where + ".factor", 1, kMaxStragglerFactor);
    if (rule.factor <= 1) fail(where + ".factor", "must be greater than 1");
  }
  if (rule.kind == FaultKind::Crash) {
    if (auto a = r.find("crash_after_min_ms"); a != r.end()) {
      rule.crash_after_min_ms = number_in(*a, where + ".crash_after_min_ms", 0, kMaxCrashAfterMs);
    }
    if (auto b = r.find("crash_after_max_ms"); b != r.end()) {
      rule.crash_after_max_ms = number_in(*b, where + ".crash_after_max_ms", 0, kMaxCrashAfterMs);
    }
    if (rule.crash_after_min_ms > rule.crash_after_max_ms) {
      fail(where + ".crash_after_min_ms", "must not exceed crash_after_max_ms");
    }
  }
  return rule;
}

}  // namespace

FaultPlan parse_fault_plan(const json& doc) {
  if (!doc.is_object()) fail("faults", "must be a JSON object {\"seed\": N, \"rules\": [...]}");
  FaultPlan plan;
  for (const auto& [key, _] : doc.items()) {
    if (key != "seed" && key != "rules")
      fail("faults." + key, "unknown field (expected 'seed' and 'rules')");
  }
  if (auto seed = doc.find("seed"); seed != doc.end()) {
    if (!seed->is_number_unsigned()) fail("seed", "must be a non-negative integer");
    plan.seed = seed->get<std::uint64_t>();
  }
  auto rules = doc.find("rules");
  if (rules == doc.end()) fail("rules", "is required (an empty array injects nothing)");
  if (!rules->is_array()) fail("rules", "must be an array");
  if (rules->size() > 1000) fail("rules", "must have at most 1000 rules");
  for (std::size_t i = 0; i < rules->size(); ++i) {
    plan.rules.push_back(parse_rule((*rules)[i], "rules[" + std::to_string(i) + "]"));
  }
  return plan;
}

json fault_plan_json(const FaultPlan& plan) {
  json rules = json::array();
  for (const auto& r : plan.rules) {
    json j = {{"kind", fault_kind_name(r.kind)}};
    if (is_s3_fault(r.kind)) {
      j["bucket"] = r.bucket;
      if (!r.key_prefix.empty()) j["key_prefix"] = r.key_prefix;
    } else {
      j["function"] = r.function;
    }
    if (r.probability) j["probability"] = *r.probability;
    if (!r.schedule.empty()) j["schedule"] = r.schedule;
    if (r.max_count) j["max_count"] = *r.max_count;
    if (r.kind == FaultKind::InvokeLatency || r.kind == FaultKind::S3Latency)
      j["latency_ms"] = r.latency_ms;
    if (r.kind == FaultKind::Straggler) j["factor"] = r.factor;
    if (r.kind == FaultKind::Crash) {
      j["crash_after_min_ms"] = r.crash_after_min_ms;
      j["crash_after_max_ms"] = r.crash_after_max_ms;
    }
    rules.push_back(std::move(j));
  }
  return {{"seed", plan.seed}, {"rules", rules}};
}

double fault_draw(std::uint64_t seed, std::uint64_t rule, std::uint64_t match,
                  std::uint64_t stream) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::uint64_t h = mix(seed);
  h = mix(h ^ rule);
  h = mix(h ^ match);
  h = mix(h ^ stream);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

FaultSchedule::FaultSchedule(FaultPlan plan)
    : plan_(std::move(plan)), matched_(plan_.rules.size(), 0), injected_(plan_.rules.size(), 0) {}

std::optional<FaultDecision> FaultSchedule::decide(std::initializer_list<FaultKind> kinds,
                                                   const std::string& target,
                                                   const std::string& key) {
  std::optional<FaultDecision> chosen;
  for (std::size_t i = 0; i < plan_.rules.size(); ++i) {
    const FaultRule& r = plan_.rules[i];
    if (std::find(kinds.begin(), kinds.end(), r.kind) == kinds.end()) continue;
    if (is_s3_fault(r.kind)) {
      if (r.bucket != "*" && r.bucket != target) continue;
      if (key.compare(0, r.key_prefix.size(), r.key_prefix) != 0) continue;
    } else if (r.function != "*" && r.function != target) {
      continue;
    }
    // Every matching rule counts the request, fired or not, so each rule's positions depend only
    // on the requests it matches.
    std::uint64_t n = ++matched_[i];
    if (chosen) continue;
    if (r.max_count && injected_[i] >= *r.max_count) continue;
    bool fires = r.probability ? fault_draw(plan_.seed, i, n, 0) < *r.probability
                               : std::binary_search(r.schedule.begin(), r.schedule.end(), n);
    if (!fires) continue;
    ++injected_[i];
    chosen = FaultDecision{i, n, fault_draw(plan_.seed, i, n, 1), &r};
  }
  return chosen;
}

}  // namespace stratus::emulator
