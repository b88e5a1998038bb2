#pragma once
// The daemon's one fault injector: the current FaultSchedule, the timers that delay requests,
// and the record of every fault injected (logged with what, where and the request id; counted per
// kind and target for /stratus/v1/usage and /metrics; the most recent kept for GET
// /stratus/v1/faults). Runs on the daemon's io_context thread, like everything it hooks into.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "stratus/emulator/faults/fault_plan.hpp"

namespace stratus::emulator {

struct InjectedFault {
  FaultKind kind;
  FaultRule rule;  // a copy: the plan may be replaced while the fault plays out
  std::size_t rule_index = 0;
  std::uint64_t match = 0;
  double uniform = 0;  // the seeded draw for the fault's own randomness
};

class FaultInjector {
 public:
  explicit FaultInjector(boost::asio::io_context& io, FaultPlan plan = {});

  // Whether `kind` strikes this request; when it does, the fault is logged and counted here.
  // `target` is the function (Lambda faults) or bucket (S3 faults), `key` the S3 key.
  // A group of kinds: at most one of them strikes (FaultSchedule::decide).
  std::optional<InjectedFault> decide(std::initializer_list<FaultKind> kinds,
                                      const std::string& target, const std::string& request_id,
                                      const std::string& key = {});
  std::optional<InjectedFault> decide(FaultKind kind, const std::string& target,
                                      const std::string& request_id, const std::string& key = {}) {
    return decide({kind}, target, request_id, key);
  }
  // Records a fault's follow-up (e.g. the moment a crash's SIGKILL is sent) in the recent log.
  void note(const InjectedFault& fault, const std::string& target, const std::string& request_id,
            const std::string& detail);

  // Runs `fn` on the io_context after `ms` milliseconds.
  void after(double ms, std::function<void()> fn);

  // Replaces the plan; every rule's counters start again from zero.
  void replace(FaultPlan plan);
  bool active() const { return !schedule_.plan().rules.empty(); }

  // {"seed", "rules", "injected_total", "counts", "recent"}: GET /stratus/v1/faults.
  nlohmann::json state_json() const;
  // {kind: {target: count}}: the "faults" member of /stratus/v1/usage.
  nlohmann::json counts_json() const;
  // stratus_faults_injected_total{kind,target}.
  std::string prometheus_text() const;
  std::uint64_t total() const { return total_; }

 private:
  void remember(nlohmann::json entry);

  boost::asio::io_context& io_;
  FaultSchedule schedule_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;  // (kind, target)
  std::uint64_t total_ = 0;
  std::deque<nlohmann::json> recent_;
};

}  // namespace stratus::emulator
