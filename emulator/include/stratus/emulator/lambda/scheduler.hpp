#pragma once
// Decides where every invocation runs. Per function: warm idle environments (most recently used
// first), cold starts within the function's and the account's concurrency, throttling (429) for
// synchronous calls beyond them, a queue for asynchronous events with Lambda's retry policy,
// provisioned environments, idle reaping and the scale-up rate limit. Runs on the daemon's single
// io_context thread. Placement and environments are in scheduler.cpp, the async event queue
// (journal, retries, destinations) in async_event_queue.cpp.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "stratus/emulator/lambda/environment.hpp"
#include "stratus/emulator/lambda/event_journal.hpp"
#include "stratus/emulator/lambda/placement.hpp"

namespace stratus::emulator {

// The capacity arithmetic, kept free of processes so it is unit-tested on its own.
struct ConcurrencySnapshot {
  int account_limit = 1000;
  int reserved_total = 0;          // sum of every function's reserved concurrency
  int unreserved_in_use = 0;       // in use by functions without a reservation
  int function_in_use = 0;         // starting + busy environments of this function
  std::optional<int> function_reserved;
  int recent_spawns = 0;           // cold starts of this function within the scale-up window
  int scale_up_limit = 1000;
  // Whether the invocation needs a new environment: the scale-up rate limits only those, while
  // the concurrency caps count executions, warm or cold.
  bool new_environment = true;
};
Throttle decide_throttle(const ConcurrencySnapshot& s);

class Scheduler : public EnvironmentHost {
 public:
  Scheduler(boost::asio::io_context& io, const EmulatorConfig& config, ResourceLimiter& limiter,
            Sandbox& sandbox, Metering& metering, EventJournal& journal);
  ~Scheduler() override;

  void set_front_endpoint(std::string url) { context_.front_endpoint = std::move(url); }
  void set_prefork_pool(class PreforkPool* pool) { context_.prefork = pool; }
  // Where records of finished async invocations go (besides the on-failure file); may stay null.
  void set_destinations(class AsyncDestinations* destinations) { destinations_ = destinations; }
  // Fault injection (dropped and duplicated events; crashes and stragglers in environments).
  void set_faults(class FaultInjector* faults) {
    faults_ = faults;
    context_.faults = faults;
  }

  // Registers a new or changed function: idle environments of an older revision are retired,
  // provisioned ones are started.
  void upsert_function(FunctionConfigPtr config);
  // Stops the function's environments; its queued events go to the on-failure log.
  void remove_function(const std::string& name);

  // Starts a synchronous invocation, or says why it cannot (throttled, with the reason; unknown
  // function; shutting down), in which case `invocation` has not been taken and never completes.
  [[nodiscard]] PlacementResult invoke(std::shared_ptr<Invocation> invocation);
  // Accepts an asynchronous (Event) invocation; it is never refused for capacity. `accepted` runs
  // once the event is in the journal (on disk), which is when the client may be told 202, and the
  // event is queued at that moment; or with false when the journal could not write it (the event
  // is dropped; the client gets an error). Returns false for an unknown function (nothing is
  // journaled and `accepted` never runs).
  [[nodiscard]] bool enqueue_event(std::shared_ptr<Invocation> invocation, std::function<void(bool durable)> accepted);

  // Periodic work: idle reaping, provisioned top-up, due async retries, event age expiry.
  void housekeeping();
  // Reaps exited children (called on SIGCHLD and from housekeeping).
  void reap_children();

  // Graceful stop: no new work starts; busy environments get `grace` to finish; then every
  // environment gets SIGTERM, 2 s later SIGKILL. `done` runs once all are reaped. A later call
  // can only shorten the grace; a null `done` keeps the earlier one.
  void shutdown(std::chrono::milliseconds grace, std::function<void()> done);

  // Re-queues the events the journal holds: accepted by an earlier run and not finished, whether
  // it stopped cleanly or was killed.
  void restore_pending_events();

  nlohmann::json environments_json() const;
  std::size_t environment_count() const;
  std::size_t queued_events() const;

  // EnvironmentHost
  void on_environment_ready(Environment& env) override;
  void on_environment_dead(Environment& env) override;
  void on_invocation_returned(std::shared_ptr<Invocation> invocation) override;
  std::vector<std::filesystem::path> code_dirs() const override;

 private:
  struct Pool {
    FunctionConfigPtr config;
    std::vector<std::shared_ptr<Environment>> environments;
    std::vector<std::shared_ptr<Environment>> idle;  // a stack: the warmest on top
    std::deque<std::shared_ptr<Invocation>> events;
    std::deque<SteadyClock::time_point> recent_spawns;
  };

  Throttle check_capacity(Pool& pool, bool new_environment);
  // Executions in flight: environments running an invocation or starting (or about to receive
  // one) for a bound invocation. Idle and finishing environments without one do not count.
  int in_use(const Pool& pool) const;
  std::shared_ptr<Environment> spawn(Pool& pool, std::shared_ptr<Invocation> bound, bool provisioned);
  std::shared_ptr<Environment> take_idle(Pool& pool);
  // Idle, or finishing (result posted, next /next imminent): either way warm. Returns false when
  // the invocation could not be placed warm.
  bool place_warm(Pool& pool, std::shared_ptr<Invocation>& invocation);
  // `expire_all`: also fail every event past its maximum age, however far back in a capped queue.
  void dispatch_events(Pool& pool, bool expire_all = false);
  void dispatch_all_events();
  void complete_event(const std::shared_ptr<Invocation>& event, InvocationOutcome outcome);
  void fail_event(const std::shared_ptr<Invocation>& event, const std::string& condition);
  // Puts an accepted event in its function's queue (or fails it if the function is gone).
  void queue_event(std::shared_ptr<Invocation> event);
  void ensure_provisioned(Pool& pool);
  void check_shutdown_progress();

  boost::asio::io_context& io_;
  const EmulatorConfig& config_;
  EnvironmentContext context_;
  EventJournal& journal_;
  class AsyncDestinations* destinations_ = nullptr;
  class FaultInjector* faults_ = nullptr;
  std::map<std::string, Pool> pools_;
  std::unordered_map<pid_t, std::weak_ptr<Environment>> by_pid_;

  bool shutting_down_ = false;
  SteadyClock::time_point shutdown_deadline_;
  SteadyClock::time_point kill_deadline_;
  bool sent_sigterm_ = false;
  std::function<void()> shutdown_done_;
};

}  // namespace stratus::emulator
