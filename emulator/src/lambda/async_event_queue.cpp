// The scheduler's async event queue: accepting Event invocations into the journal, queueing and
// dispatching them within the concurrency caps, retries (about 1 and 2 minutes later), their end
// (destinations, the on-failure record, the journal) and the replay at start-up. Synchronous
// placement and environments are in scheduler.cpp.

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "stratus/emulator/faults/fault_injector.hpp"
#include "stratus/emulator/lambda/async_destinations.hpp"
#include "stratus/emulator/lambda/destination_record.hpp"
#include "stratus/emulator/lambda/scheduler.hpp"

namespace stratus::emulator {

using nlohmann::json;

bool Scheduler::enqueue_event(std::shared_ptr<Invocation> invocation,
                              std::function<void(bool durable)> accepted) {
  auto it = pools_.find(invocation->function_name);
  if (it == pools_.end() || !it->second.config) return false;
  invocation->is_event = true;
  JournaledEvent record;
  record.request_id = invocation->request_id;
  record.function_name = invocation->function_name;
  record.client_context = invocation->client_context;
  record.payload = invocation->payload;
  record.attempts = invocation->attempts;
  record.trace_id = invocation->trace_id;
  record.received_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           invocation->received_wall.time_since_epoch())
                           .count();
  journal_.append_accepted(record, [this, invocation = std::move(invocation),
                                    accepted = std::move(accepted)](bool durable) mutable {
    if (accepted) accepted(durable);
    if (!durable) return;
    if (faults_) {
      const std::string& name = invocation->function_name;
      auto fault = faults_->decide({FaultKind::DropEvent, FaultKind::DuplicateEvent}, name, invocation->request_id);
      if (fault && fault->kind == FaultKind::DropEvent) {
        // Accepted (the client has its 202) and never run: the paper's missed event.
        journal_.append_finished(invocation->request_id);
        return;
      }
      if (fault) {  // DuplicateEvent
        // At-least-once delivery: a second copy with the same request id runs on its own.
        auto twin = std::make_shared<Invocation>();
        twin->request_id = invocation->request_id;
        twin->function_name = invocation->function_name;
        twin->client_context = invocation->client_context;
        twin->payload = invocation->payload;
        twin->trace_id = invocation->trace_id;
        twin->is_event = true;
        twin->received = invocation->received;
        twin->received_wall = invocation->received_wall;
        queue_event(std::move(invocation));
        queue_event(std::move(twin));
        return;
      }
    }
    queue_event(std::move(invocation));
  });
  return true;
}

void Scheduler::queue_event(std::shared_ptr<Invocation> invocation) {
  std::weak_ptr<Invocation> weak = invocation;
  invocation->on_complete = [this, weak](InvocationOutcome outcome) {
    if (auto event = weak.lock()) complete_event(event, std::move(outcome));
  };
  auto it = pools_.find(invocation->function_name);
  if (it == pools_.end() || !it->second.config) return fail_event(invocation, "FunctionDeleted");
  it->second.events.push_back(std::move(invocation));
  dispatch_events(it->second);
}

void Scheduler::dispatch_events(Pool& pool, bool expire_all) {
  if (shutting_down_ || !pool.config) return;
  auto now = SteadyClock::now();
  auto max_age = std::chrono::seconds(pool.config->max_event_age_s());
  // Once a cap is reached, events wait (never refused) until capacity frees, the reservation is
  // raised, or they age out. Only housekeeping scans the rest of a capped queue for age: on every
  // accept that scan would make a long queue quadratic.
  bool capped = false;
  for (std::size_t i = 0; i < pool.events.size();) {
    if (capped && !expire_all) break;
    auto event = pool.events[i];
    if (now - event->received > max_age) {
      pool.events.erase(pool.events.begin() + static_cast<std::ptrdiff_t>(i));
      fail_event(event, "EventAgeExceeded");
      continue;
    }
    if (capped || event->not_before > now) {
      ++i;
      continue;
    }
    if (check_capacity(pool, false) != Throttle::None) {
      capped = true;
      ++i;
      continue;
    }
    if (place_warm(pool, event)) {
      pool.events.erase(pool.events.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (check_capacity(pool, true) != Throttle::None) {
      capped = true;
      ++i;
      continue;
    }
    pool.events.erase(pool.events.begin() + static_cast<std::ptrdiff_t>(i));
    spawn(pool, event, false);
  }
}

void Scheduler::dispatch_all_events() {
  for (auto& [_, pool] : pools_) {
    if (!pool.events.empty()) dispatch_events(pool);
  }
}

void Scheduler::complete_event(const std::shared_ptr<Invocation>& event, InvocationOutcome outcome) {
  event->last_outcome = std::move(outcome);
  auto it = pools_.find(event->function_name);
  if (it == pools_.end() || !it->second.config) return fail_event(event, "FunctionDeleted");
  Pool& pool = it->second;
  if (event->last_outcome.function_error.empty()) {
    if (destinations_) {
      auto arn = function_arn(config_.region, config_.account_id, event->function_name) + ":$LATEST";
      destinations_->deliver(pool.config.get(), make_destination_record(*event, arn, "Success"), true);
    }
    journal_.append_finished(event->request_id);
    return;
  }
  int retries_done = event->attempts - 1;
  if (retries_done >= pool.config->max_retry_attempts()) return fail_event(event, "RetriesExhausted");
  // Lambda waits about a minute before the first retry and two before the second.
  double delay_s = (retries_done == 0 ? 60.0 : 120.0) * config_.async_retry_delay_scale;
  event->not_before = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                               std::chrono::duration<double>(delay_s));
  spdlog::info("event {} of '{}' failed (attempt {}); retrying in {:.3f} s", event->request_id,
               event->function_name, event->attempts, delay_s);
  journal_.append_attempts(event->request_id, event->attempts);
  pool.events.push_back(event);
}

void Scheduler::fail_event(const std::shared_ptr<Invocation>& event, const std::string& condition) {
  auto arn = function_arn(config_.region, config_.account_id, event->function_name) + ":$LATEST";
  json record = make_destination_record(*event, arn, condition);
  auto it = pools_.find(event->function_name);
  const FunctionConfig* function = it != pools_.end() && it->second.config ? it->second.config.get() : nullptr;
  if (destinations_) destinations_->deliver(function, record, false);
  journal_.append_finished(event->request_id);
  spdlog::warn("event {} of '{}' failed for good ({}, {} attempts)", event->request_id, event->function_name,
               condition, event->attempts);
}

void Scheduler::restore_pending_events() {
  auto now_wall = std::chrono::system_clock::now();
  auto now = SteadyClock::now();
  std::size_t restored = 0;
  for (auto& e : journal_.replay()) {
    auto invocation = std::make_shared<Invocation>();
    invocation->request_id = std::move(e.request_id);
    invocation->function_name = std::move(e.function_name);
    invocation->client_context = std::move(e.client_context);
    invocation->payload = std::move(e.payload);
    invocation->attempts = e.attempts;
    invocation->trace_id = std::move(e.trace_id);
    invocation->is_event = true;
    // The age counts from the first acceptance, across restarts.
    invocation->received_wall = std::chrono::system_clock::time_point(std::chrono::milliseconds(e.received_ms));
    auto age = std::max(now_wall - invocation->received_wall, std::chrono::system_clock::duration::zero());
    invocation->received = now - std::chrono::duration_cast<SteadyClock::duration>(age);
    queue_event(std::move(invocation));
    ++restored;
  }
  if (restored > 0) spdlog::info("restored {} accepted events from the event journal", restored);
}

std::size_t Scheduler::queued_events() const {
  std::size_t n = 0;
  for (const auto& [_, pool] : pools_) n += pool.events.size();
  return n;
}

}  // namespace stratus::emulator
