#include "stratus/trainer/fault_report.hpp"

#include <cstdio>
#include <map>

#include "stratus/common/http_client.hpp"
#include "stratus/common/utc_time.hpp"

namespace stratus::trainer {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

std::string text(const json& entry, const char* name) {
  auto it = entry.find(name);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool in_scope(const json& entry, const FaultScope& scope,
              const std::multimap<std::string, const CallRecord*>& calls) {
  const std::string time = text(entry, "time");
  if (time < scope.from || time > scope.to) return false;
  if (calls.count(text(entry, "request_id"))) return true;
  const std::string target = text(entry, "target");
  if (scope.functions.count(target)) return true;
  const auto slash = target.find('/');
  return slash != std::string::npos && scope.buckets.count(target.substr(0, slash));
}

// The trainer's calls answered with this request id (a request id names one call).
std::vector<const CallRecord*> calls_for(
    const std::string& request_id, const std::multimap<std::string, const CallRecord*>& calls) {
  std::vector<const CallRecord*> out;
  if (request_id.empty()) return out;
  for (auto [it, end] = calls.equal_range(request_id); it != end; ++it) out.push_back(it->second);
  return out;
}

const CallRecord* with_fate(const std::vector<const CallRecord*>& seen,
                            std::initializer_list<CallFate> fates) {
  for (const CallRecord* c : seen) {
    for (CallFate f : fates)
      if (c->fate == f) return c;
  }
  return nullptr;
}

// How the run dealt with one injected fault: what the trainer saw of its request, else what the
// part of the system that met it does (Lambda's async retries, the S3 clients' back-off).
std::string how_handled(const json& fault, bool fired, const std::vector<const CallRecord*>& seen,
                        const TrainerActions& actions, int backups) {
  const std::string kind = text(fault, "kind");
  const CallRecord* answered = with_fate(seen, {CallFate::answered});
  const CallRecord* late = with_fate(seen, {CallFate::duplicate_ignored});
  if (kind == "throttle") {
    if (with_fate(seen, {CallFate::throttled}))
      return "retried after back-off by the trainer's fan-out";
    if (actions.events) return "retried after back-off by the caller's Event invoke";
    return "not seen by the trainer";
  }
  if (kind == "invoke_latency" || kind == "straggler") {
    if (answered) return "waited for";  // the item's answered_ms says how long
    if (late) return "backed up: a second call answered first, this late answer was ignored";
    if (kind == "straggler" && backups > 0)
      return "backed up: a second call answered first, this one was not waited for";
    if (actions.events)
      return kind == "straggler" ? "waited for (an Event invocation)"
                                 : "waited for (the Event was accepted late)";
    return "not seen by the trainer";
  }
  if (kind == "crash") {
    if (!fired) return "the invocation ended before the kill";
    if (with_fate(seen, {CallFate::function_error, CallFate::no_answer, CallFate::timed_out}))
      return "retried by the trainer's fan-out";
    // The SIGKILL raced the invocation's end: its answer was already on the way.
    if (answered) return "answered anyway (the kill came as the invocation ended)";
    // A killed worker's alive record stops being refreshed (or was never written): once no lease
    // of it was left the trainer's revival invoked it again, and Lambda's retry of the killed
    // event (if it comes) steps aside.
    if (actions.events && actions.revived > 0)
      return "revived by the trainer (--revive-after: no live lease left); a late retry steps "
             "aside";
    if (actions.events) return "retried by Lambda's async retry (the event runs again)";
    return "not seen by the trainer";
  }
  if (kind == "drop_event") {
    return actions.revived > 0 ? "re-sent by the trainer's stall detection (--revive-after)"
                               : "never ran; the trainer re-sent nothing";
  }
  if (kind == "duplicate_event") {
    return "ran twice; results keyed by (run, round, worker): the second run changed nothing";
  }
  if (kind == "s3_slow_down" || kind == "s3_internal_error")
    return "retried with back-off by the S3 client";
  if (kind == "s3_latency") return "waited for";
  return "unknown fault kind";
}

}  // namespace

std::string fault_time_now() {
  return format_utc_millis(std::chrono::system_clock::now(), "Z");
}

std::optional<json> fetch_fault_record(const Target& target, std::string& why) {
  if (target.kind != TargetKind::Url || !target.remote) {
    why = target.kind == TargetKind::Aws ? "AWS keeps no record of injected faults"
                                         : "the local target injects no faults";
    return std::nullopt;
  }
  const Endpoint& endpoint = target.remote->lambda.endpoint;
  HttpRequest request;
  request.method = "GET";
  request.target = endpoint.path + "/stratus/v1/faults";
  const HttpResult answer =
      http_request_blocking(endpoint, std::move(request), std::chrono::seconds(10));
  if (!answer.ok()) {
    why = "the target has no fault record (GET /stratus/v1/faults: " + answer.describe() + ")";
    return std::nullopt;
  }
  json record = json::parse(answer.body, nullptr, false);
  if (!record.is_object() || !record.contains("recent") || !record["recent"].is_array()) {
    why = "the target's GET /stratus/v1/faults is not a fault record";
    return std::nullopt;
  }
  return record;
}

ordered_json fault_report(const std::optional<json>& record, const std::string& why,
                          const FaultScope& scope, const TrainerActions& actions) {
  std::multimap<std::string, const CallRecord*> calls;
  ordered_json trainer = {{"calls", 0},
                          {"retried", 0},
                          {"throttled", 0},
                          {"function_errors", 0},
                          {"timed_out", 0},
                          {"duplicates_ignored", 0},
                          {"backups", 0},
                          {"revived", actions.revived},
                          {"replayed", actions.replayed}};
  for (const CallRecord& c : actions.calls) {
    if (!c.request_id.empty()) calls.emplace(c.request_id, &c);
    if (c.fate == CallFate::backup_launched) {
      trainer["backups"] = trainer["backups"].get<int>() + 1;
      continue;
    }
    trainer["calls"] = trainer["calls"].get<int>() + 1;
    const char* counter = nullptr;
    switch (c.fate) {
      case CallFate::throttled:
        counter = "throttled";
        break;
      case CallFate::function_error:
        counter = "function_errors";
        break;
      case CallFate::timed_out:
      case CallFate::no_answer:
        counter = "timed_out";
        break;
      case CallFate::duplicate_ignored:
        counter = "duplicates_ignored";
        break;
      default:
        break;
    }
    if (counter) trainer[counter] = trainer[counter].get<int>() + 1;
    if (c.attempt > 1 && !c.backup) trainer["retried"] = trainer["retried"].get<int>() + 1;
  }
  const int backups = trainer["backups"].get<int>();

  ordered_json out;
  out["record"] =
      record ? ordered_json("emulator (GET /stratus/v1/faults)") : ordered_json(nullptr);
  if (!record) out["record_note"] = why;
  out["window"] = {{"from", scope.from}, {"to", scope.to}};
  ordered_json list = ordered_json::array();
  std::map<std::string, std::map<std::string, int>> by_kind;
  if (record) {
    const json& recent = (*record)["recent"];
    // A fault's later notes (the crash's SIGKILL) carry a detail; they join their decision.
    std::map<std::string, std::string> details;
    auto key_of = [](const json& e) {
      return text(e, "kind") + "|" + text(e, "request_id") + "|" + e.value("rule", json()).dump() +
             "|" + e.value("match", json()).dump();
    };
    for (const json& e : recent) {
      if (e.is_object() && e.contains("detail")) details[key_of(e)] = text(e, "detail");
    }
    for (const json& e : recent) {
      if (!e.is_object() || e.contains("detail") || !in_scope(e, scope, calls)) continue;
      const auto detail = details.find(key_of(e));
      const bool fired = detail != details.end();
      const auto seen = calls_for(text(e, "request_id"), calls);
      const std::string handled = how_handled(e, fired, seen, actions, backups);
      ordered_json item = {{"time", text(e, "time")},
                           {"kind", text(e, "kind")},
                           {"target", text(e, "target")},
                           {"request_id", text(e, "request_id")},
                           {"handled", handled}};
      if (fired) item["detail"] = detail->second;
      // How long the trainer waited for the call the fault struck, when it was answered.
      if (const CallRecord* answered = with_fate(seen, {CallFate::answered}))
        item["answered_ms"] = answered->latency_ms;
      list.push_back(std::move(item));
      ++by_kind[text(e, "kind")][handled];
    }
  }
  ordered_json kinds = ordered_json::object();
  for (const auto& [kind, handled] : by_kind) {
    int count = 0;
    ordered_json how = ordered_json::object();
    for (const auto& [what, n] : handled) {
      count += n;
      how[what] = n;
    }
    kinds[kind] = {{"count", count}, {"handled", how}};
  }
  out["injected"] = list.size();
  out["by_kind"] = std::move(kinds);
  out["list"] = std::move(list);
  out["trainer"] = std::move(trainer);
  return out;
}

ordered_json run_fault_report(const Target& target, FaultScope& scope,
                              const TrainerActions& actions) {
  scope.to = fault_time_now();
  std::string no_record;
  const auto record = fetch_fault_record(target, no_record);
  return fault_report(record, no_record, scope, actions);
}

std::vector<std::string> fault_report_lines(const ordered_json& faults) {
  std::vector<std::string> lines;
  const ordered_json& t = faults["trainer"];
  char head[256];
  std::snprintf(head, sizeof head,
                "trainer: %d calls, %d retried (%d throttled, %d function errors, %d timed out), "
                "%d duplicates ignored, %d backups, %d revived, %d replayed",
                t["calls"].get<int>(), t["retried"].get<int>(), t["throttled"].get<int>(),
                t["function_errors"].get<int>(), t["timed_out"].get<int>(),
                t["duplicates_ignored"].get<int>(), t["backups"].get<int>(),
                t["revived"].get<int>(), t["replayed"].get<int>());
  if (faults["record"].is_null()) {
    lines.push_back("faults: " + faults.value("record_note", std::string("no record")) + "; " +
                    head);
    return lines;
  }
  lines.push_back("faults: " + std::to_string(faults["injected"].get<std::size_t>()) +
                  " injected during the run (the emulator's record); " + head);
  for (const auto& [kind, entry] : faults["by_kind"].items()) {
    for (const auto& [how, n] : entry["handled"].items()) {
      char line[512];
      std::snprintf(line, sizeof line, "  %-18s %5d  %s", kind.c_str(), n.get<int>(), how.c_str());
      lines.push_back(line);
    }
  }
  return lines;
}

}  // namespace stratus::trainer
