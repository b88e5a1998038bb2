#include "stratus/emulator/lambda/scheduler.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "stratus/emulator/lambda/api_error.hpp"
#include "stratus/emulator/lambda/lambda_error_document.hpp"

namespace stratus::emulator {

namespace fs = std::filesystem;
using nlohmann::json;

const char* throttle_reason(Throttle t) {
  switch (t) {
    case Throttle::Reserved: return "ReservedFunctionConcurrentInvocationLimitExceeded";
    case Throttle::Account: return "ConcurrentInvocationLimitExceeded";
    case Throttle::ScaleUpRate: return "FunctionInvocationRateLimitExceeded";
    case Throttle::None: return "";
  }
  return "";
}

Throttle decide_throttle(const ConcurrencySnapshot& s) {
  if (s.function_reserved) {
    // Reserved concurrency is both the function's guaranteed floor and its cap.
    if (s.function_in_use >= *s.function_reserved) return Throttle::Reserved;
  } else if (s.unreserved_in_use >= s.account_limit - s.reserved_total) {
    return Throttle::Account;
  }
  if (s.new_environment && s.recent_spawns >= s.scale_up_limit) return Throttle::ScaleUpRate;
  return Throttle::None;
}

Scheduler::Scheduler(boost::asio::io_context& io, const EmulatorConfig& config,
                     ResourceLimiter& limiter, Sandbox& sandbox, Metering& metering,
                     EventJournal& journal)
    : io_(io),
      config_(config),
      context_{io,      config,  limiter, sandbox, metering, *this, "",
               nullptr, nullptr, std::make_shared<LogFlusher>(io)},
      journal_(journal) {
  fs::create_directories(config_.data_dir / "async");
  fs::create_directories(config_.data_dir / "tmp");
}

Scheduler::~Scheduler() {
  // Environments' destructors kill and wait for their processes, and write their logs' last
  // lines; lines of environments that something else still holds are written here, since the
  // io loop (and the flusher's timer) has stopped.
  pools_.clear();
  context_.logs->flush_all();
}

void Scheduler::upsert_function(FunctionConfigPtr config) {
  Pool& pool = pools_[config->name];
  bool changed = pool.config && pool.config->environment_revision != config->environment_revision;
  pool.config = std::move(config);
  if (changed) {
    // New configuration or code applies to new environments; idle old ones are retired now, busy
    // ones when they next ask for work.
    for (auto& env : pool.environments) {
      if (env->function()->environment_revision != pool.config->environment_revision &&
          env->state() != EnvironmentState::Busy && !env->has_bound_invocation()) {
        env->terminate(SIGKILL);
      }
    }
    pool.idle.clear();
  }
  if (!shutting_down_) ensure_provisioned(pool);
}

void Scheduler::remove_function(const std::string& name) {
  auto it = pools_.find(name);
  if (it == pools_.end()) return;
  for (auto& env : it->second.environments) env->terminate(SIGKILL);
  for (auto& event : it->second.events) fail_event(event, "FunctionDeleted");
  it->second.events.clear();
  it->second.idle.clear();
  // The pool stays until its environments are reaped; it no longer has a config to start more.
  if (it->second.environments.empty()) {
    pools_.erase(it);
  } else {
    it->second.config = nullptr;
  }
}

int Scheduler::in_use(const Pool& pool) const {
  int n = 0;
  for (const auto& env : pool.environments) {
    if (env->state() != EnvironmentState::Dead && env->executing()) ++n;
  }
  return n;
}

Throttle Scheduler::check_capacity(Pool& pool, bool new_environment) {
  ConcurrencySnapshot s;
  s.new_environment = new_environment;
  s.account_limit = config_.account_concurrency;
  // Runs for every invoke and walks every environment: this pool's count is taken from the same
  // walk when the pool is unreserved, not counted a second time.
  int own_in_use = -1;
  for (const auto& [_, p] : pools_) {
    if (!p.config) continue;
    if (p.config->reserved_concurrency) {
      s.reserved_total += *p.config->reserved_concurrency;
    } else {
      const int n = in_use(p);
      s.unreserved_in_use += n;
      if (&p == &pool) own_in_use = n;
    }
  }
  s.function_in_use = own_in_use >= 0 ? own_in_use : in_use(pool);
  s.function_reserved = pool.config->reserved_concurrency;
  auto window = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(config_.scale_up_window_s));
  auto now = SteadyClock::now();
  while (!pool.recent_spawns.empty() && now - pool.recent_spawns.front() > window) {
    pool.recent_spawns.pop_front();
  }
  s.recent_spawns = static_cast<int>(pool.recent_spawns.size());
  s.scale_up_limit = config_.scale_up_environments;
  return decide_throttle(s);
}

std::shared_ptr<Environment> Scheduler::take_idle(Pool& pool) {
  while (!pool.idle.empty()) {
    auto env = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (env->state() != EnvironmentState::Idle || env->retiring()) continue;
    if (env->function()->environment_revision != pool.config->environment_revision) {
      env->terminate(SIGKILL);
      continue;
    }
    return env;
  }
  return nullptr;
}

bool Scheduler::place_warm(Pool& pool, std::shared_ptr<Invocation>& invocation) {
  if (auto env = take_idle(pool)) {
    env->assign(std::move(invocation));
    return true;
  }
  for (auto& env : pool.environments) {
    if (env->finishing() && env->function()->environment_revision == pool.config->environment_revision) {
      env->hand_over(std::move(invocation));
      return true;
    }
  }
  return false;
}

std::shared_ptr<Environment> Scheduler::spawn(Pool& pool, std::shared_ptr<Invocation> bound,
                                              bool provisioned) {
  auto env = std::make_shared<Environment>(context_, pool.config, provisioned);
  pool.environments.push_back(env);
  if (!provisioned) pool.recent_spawns.push_back(SteadyClock::now());
  try {
    env->start(bound);
  } catch (const std::exception& e) {
    spdlog::error("cannot start an environment for '{}': {}", pool.config->name, e.what());
    pool.environments.pop_back();
    if (bound) {
      InvocationOutcome outcome;
      outcome.function_error = "Unhandled";
      outcome.payload = platform_error_document("Runtime.InvalidEntrypoint", bound->request_id,
                                                std::string("Couldn't start the runtime: ") + e.what());
      bound->on_complete(std::move(outcome));
    }
    return nullptr;
  }
  by_pid_[env->pid()] = env;
  return env;
}

PlacementResult Scheduler::invoke(std::shared_ptr<Invocation> invocation) {
  auto it = pools_.find(invocation->function_name);
  if (it == pools_.end() || !it->second.config) return {Placement::FunctionNotFound};
  if (shutting_down_) return {Placement::ShuttingDown};
  Pool& pool = it->second;
  // The concurrency caps apply before placement: a warm environment is no way around them.
  Throttle throttle = check_capacity(pool, false);
  if (throttle == Throttle::None) {
    if (place_warm(pool, invocation)) return {};
    throttle = check_capacity(pool, true);
  }
  if (throttle != Throttle::None) {
    context_.metering.record_throttle(pool.config->name);
    return {Placement::Throttled, throttle};
  }
  spawn(pool, std::move(invocation), false);  // a failed spawn completes the invocation itself
  return {};
}

void Scheduler::ensure_provisioned(Pool& pool) {
  if (!pool.config) return;
  int alive = 0;
  for (const auto& env : pool.environments) {
    if (env->provisioned() && !env->retiring() &&
        env->function()->environment_revision == pool.config->environment_revision) {
      ++alive;
    }
  }
  for (int i = alive; i < pool.config->provisioned; ++i) {
    if (!spawn(pool, nullptr, true)) break;
  }
}

void Scheduler::on_environment_ready(Environment& env) {
  auto self = env.shared_from_this();
  auto it = pools_.find(env.function()->name);
  if (it == pools_.end() || !it->second.config || shutting_down_ ||
      env.function()->environment_revision != it->second.config->environment_revision) {
    env.terminate(SIGKILL);
    return;
  }
  Pool& pool = it->second;
  pool.idle.push_back(self);
  if (!pool.events.empty()) dispatch_events(pool);
}

void Scheduler::on_environment_dead(Environment& env) {
  auto self = env.shared_from_this();
  by_pid_.erase(env.pid());
  auto it = pools_.find(env.function()->name);
  if (it != pools_.end()) {
    Pool& pool = it->second;
    std::erase(pool.environments, self);
    std::erase(pool.idle, self);
    if (!pool.config && pool.environments.empty()) pools_.erase(it);
  }
  dispatch_all_events();
  if (shutting_down_) check_shutdown_progress();
}

void Scheduler::on_invocation_returned(std::shared_ptr<Invocation> invocation) {
  if (invocation->is_event) {
    auto it = pools_.find(invocation->function_name);
    if (it == pools_.end() || !it->second.config) return fail_event(invocation, "FunctionDeleted");
    it->second.events.push_front(std::move(invocation));
    return dispatch_events(it->second);
  }
  const PlacementResult placed = invoke(invocation);
  if (placed.started()) return;
  // The client already waits for a 200-style answer; report why it could not run.
  const ApiException refusal = refusal_error(placed, invocation->function_name);
  InvocationOutcome outcome;
  outcome.function_error = "Unhandled";
  outcome.payload = platform_error_document(describe(refusal.error()).type, invocation->request_id, refusal.message());
  invocation->on_complete(std::move(outcome));
}

void Scheduler::reap_children() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = by_pid_.find(pid);
    if (it == by_pid_.end()) continue;
    auto env = it->second.lock();
    by_pid_.erase(it);
    if (env) env->on_process_exit(status);
  }
}

void Scheduler::housekeeping() {
  reap_children();
  auto now = SteadyClock::now();
  auto keepalive = std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::duration<double>(config_.idle_keepalive_s));
  for (auto& [name, pool] : pools_) {
    for (auto it = pool.idle.begin(); it != pool.idle.end();) {
      auto& env = *it;
      if (!env->provisioned() && env->state() == EnvironmentState::Idle &&
          now - env->idle_since() > keepalive) {
        spdlog::debug("reaping idle environment {} of '{}'", env->id(), name);
        env->terminate(SIGKILL);
        it = pool.idle.erase(it);
      } else {
        ++it;
      }
    }
    if (!shutting_down_) {
      ensure_provisioned(pool);
      dispatch_events(pool, true);
    }
  }
  if (shutting_down_) check_shutdown_progress();
}

void Scheduler::shutdown(std::chrono::milliseconds grace, std::function<void()> done) {
  // A second call (a second SIGTERM: "now") may only shorten the grace period, and keeps the
  // first call's completion unless it brings its own: dropping it left the daemon running for ever.
  const auto deadline = SteadyClock::now() + grace;
  shutdown_deadline_ = shutting_down_ ? std::min(shutdown_deadline_, deadline) : deadline;
  shutting_down_ = true;
  if (done) shutdown_done_ = std::move(done);
  check_shutdown_progress();
}

void Scheduler::check_shutdown_progress() {
  auto now = SteadyClock::now();
  std::size_t working = 0;
  for (const auto& [_, pool] : pools_) working += static_cast<std::size_t>(in_use(pool));
  if (!sent_sigterm_ && (working == 0 || now >= shutdown_deadline_)) {
    if (working > 0) spdlog::warn("grace period over: stopping {} busy environments", working);
    for (auto& [_, pool] : pools_) {
      for (auto& env : pool.environments) env->terminate(SIGTERM);
    }
    sent_sigterm_ = true;
    kill_deadline_ = now + std::chrono::seconds(2);
  } else if (sent_sigterm_ && now >= kill_deadline_) {
    for (auto& [_, pool] : pools_) {
      for (auto& env : pool.environments) env->terminate(SIGKILL);
    }
  }
  if (environment_count() == 0 && shutdown_done_) {
    if (std::size_t queued = queued_events()) {
      spdlog::info("{} queued events stay in the event journal for the next start", queued);
    }
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();
  }
}

json Scheduler::environments_json() const {
  json list = json::array();
  for (const auto& [name, pool] : pools_) {
    for (const auto& env : pool.environments) {
      list.push_back({{"id", env->id()},
                      {"function", name},
                      {"pid", env->pid()},
                      {"state", to_string(env->state())},
                      {"invocations", env->invocations_served()},
                      {"provisioned", env->provisioned()},
                      {"retiring", env->retiring()},
                      {"init_ms", env->init_ms()}});
    }
  }
  return {{"environments", list}};
}

std::vector<fs::path> Scheduler::code_dirs() const {
  std::vector<fs::path> dirs;
  for (const auto& [_, pool] : pools_) {
    if (pool.config && pool.config->code) dirs.push_back(pool.config->code->dir());
    for (const auto& env : pool.environments) dirs.push_back(env->function()->code->dir());
  }
  return dirs;
}

std::size_t Scheduler::environment_count() const {
  std::size_t n = 0;
  for (const auto& [_, pool] : pools_) n += pool.environments.size();
  return n;
}

}  // namespace stratus::emulator
