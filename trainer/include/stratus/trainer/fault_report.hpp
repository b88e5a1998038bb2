#pragma once
// The run's fault list: the faults the target injected while the run ran (an emulator's
// GET /stratus/v1/faults `recent`, kept to the run's functions, buckets and wall-time window),
// each joined with what the trainer itself saw and did about it (the fan-out engine's record of
// every call by request id, revived workers, replayed answers) into how it was handled. Every
// training command puts it in its report ("faults"), its table and its HTML page.
//
// AWS keeps no such record: there the list holds what the trainer saw (retries, throttles,
// backups, revivals) and says that the target's record was not available.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/target.hpp"

namespace stratus::trainer {

// Which of the target's faults belong to the run.
struct FaultScope {
  std::string from, to;             // UTC, "2026-12-01T14:03:07.123Z" (the emulator's format)
  std::set<std::string> functions;  // Lambda faults: target is the function's name
  std::set<std::string> buckets;    // S3 faults: target is "bucket/key"
};

// What the trainer saw and did during the run.
struct TrainerActions {
  std::vector<CallRecord> calls;  // every request-response call (FanOutTelemetry::calls)
  int revived = 0;                // functions orchestration: workers re-sent by stall detection
  int replayed = 0;               // layers: answers that found their objects written already
  bool events = false;  // the run's functions ran from Event invokes (Lambda retries those itself)
};

// UTC now in FaultScope's format.
std::string fault_time_now();

// The target's fault record (GET /stratus/v1/faults), or nullopt when it keeps none (AWS, an
// endpoint without the admin API, the local target) or cannot be read; `why` says which.
std::optional<nlohmann::json> fetch_fault_record(const Target& target, std::string& why);

// The report's "faults" section. `record` is fetch_fault_record's answer (nullopt: none), `why`
// its reason when there is none.
nlohmann::ordered_json fault_report(const std::optional<nlohmann::json>& record,
                                    const std::string& why, const FaultScope& scope,
                                    const TrainerActions& actions);

// What a command reports when its run ends: `scope` closed now, the target's record fetched
// (fetch_fault_record) and joined with `actions` (fault_report).
nlohmann::ordered_json run_fault_report(const Target& target, FaultScope& scope,
                                        const TrainerActions& actions);

// A few lines for the command's table: the total, then per kind its count and handling.
std::vector<std::string> fault_report_lines(const nlohmann::ordered_json& faults);

}  // namespace stratus::trainer
