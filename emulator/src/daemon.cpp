#include "stratus/emulator/daemon.hpp"

#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/request_id.hpp"
#include "stratus/emulator/lambda/async_destinations.hpp"
#include "stratus/emulator/atomic_file.hpp"
#include "stratus/emulator/lambda/event_journal.hpp"
#include "stratus/emulator/faults/fault_injector.hpp"
#include "stratus/emulator/front_door.hpp"
#include "stratus/emulator/lambda/function_registry.hpp"
#include "stratus/emulator/blocking_work.hpp"
#include "stratus/emulator/lambda/lambda_api.hpp"
#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/prefork_pool.hpp"
#include "stratus/emulator/resource_limits.hpp"
#include "stratus/emulator/sandbox.hpp"
#include "stratus/emulator/s3/object_store.hpp"
#include "stratus/emulator/s3/s3_api.hpp"
#include "stratus/emulator/lambda/scheduler.hpp"
#include "stratus/emulator/startup_hint.hpp"

namespace stratus::emulator {

namespace fs = std::filesystem;

struct Daemon::Parts {
  explicit Parts(EmulatorConfig c)
      : config(std::move(c)),
        metering(config.prices, config.s3_profile),
        registry(config.data_dir, config.region, config.account_id),
        limiter(ResourceLimiter::probe(true, config.cgroup_mode)),
        sandbox(Sandbox::probe(config.sandbox, config.data_dir)),
        prefork(std::make_unique<PreforkPool>(*limiter, static_cast<std::size_t>(config.prefork_pool_size))),
        journal(io, config.data_dir / "async", config.async_journal),
        faults(io, config.faults),
        scheduler(io, config, *limiter, *sandbox, metering, journal),
        api(config, registry, scheduler, metering),
        code_uploads(io, 1),
        store(io, config.data_dir / "s3", s3::StoreOptions{config.s3.fsync}),
        destinations(config, store,
                     [this](const std::string& function, std::string payload) {
                       return enqueue_destination_event(function, std::move(payload));
                     }),
        s3_api(config, store, metering),
        front_door(api, s3_api),
        signals(io, SIGINT, SIGTERM),
        children(io, SIGCHLD),
        housekeeping(io) {
    api.set_blocking_work(&code_uploads);
  }

  boost::asio::io_context io;
  EmulatorConfig config;
  Metering metering;
  FunctionRegistry registry;
  std::unique_ptr<ResourceLimiter> limiter;
  std::unique_ptr<Sandbox> sandbox;
  // After the limiter (it uses it), before the scheduler: destroyed after every environment.
  std::unique_ptr<PreforkPool> prefork;
  EventJournal journal;
  FaultInjector faults;
  Scheduler scheduler;
  LambdaApi api;
  BlockingWork code_uploads;  // after api: joined (on destruction) before api goes
  s3::ObjectStore store;
  AsyncDestinations destinations;
  s3::S3Api s3_api;
  FrontDoor front_door;
  std::unique_ptr<HttpServer> front;
  boost::asio::signal_set signals;
  boost::asio::signal_set children;
  boost::asio::steady_timer housekeeping;
  bool stopping = false;

  // A Lambda destination: the record becomes an Event invocation of that function.
  bool enqueue_destination_event(const std::string& function, std::string payload) {
    if (!registry.find(function)) return false;
    auto invocation = std::make_shared<Invocation>();
    invocation->request_id = make_request_id();
    invocation->function_name = function;
    invocation->payload = std::move(payload);
    try {
      return scheduler.enqueue_event(std::move(invocation), nullptr);
    } catch (const std::exception&) {
      return false;
    }
  }

  void wait_children() {
    children.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      scheduler.reap_children();
      wait_children();
    });
  }

  void schedule_housekeeping() {
    housekeeping.expires_after(std::chrono::milliseconds(config.housekeeping_interval_ms));
    housekeeping.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      scheduler.housekeeping();
      schedule_housekeeping();
    });
  }

  // Responses still being written when the last environment stops must reach their clients:
  // wait (bounded) for the front's connections to close before stopping.
  std::chrono::steady_clock::time_point drain_deadline;
  void drain_connections() {
    if (front->open_connections() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      front->stop();
      signals.cancel();
      children.cancel();
      io.stop();
      return;
    }
    housekeeping.expires_after(std::chrono::milliseconds(10));
    housekeeping.async_wait([this](boost::system::error_code) { drain_connections(); });
  }

  void wait_signals() {
    signals.async_wait([this](boost::system::error_code ec, int signo) {
      if (ec) return;
      if (stopping) {
        spdlog::warn("second {}: stopping environments now", signo == SIGINT ? "SIGINT" : "SIGTERM");
        scheduler.shutdown(std::chrono::milliseconds(0), nullptr);
        wait_signals();
        return;
      }
      stopping = true;
      spdlog::info("{} received: no new requests; waiting up to {} s for in-flight invocations",
                   signo == SIGINT ? "SIGINT" : "SIGTERM", config.shutdown_grace_s);
      front->stop_accepting();
      scheduler.shutdown(std::chrono::milliseconds(static_cast<long>(config.shutdown_grace_s * 1000)),
                         [this] {
                           spdlog::info("all environments stopped");
                           housekeeping.cancel();
                           drain_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
                           drain_connections();
                         });
      wait_signals();
    });
  }
};

Daemon::Daemon(EmulatorConfig config) {
  fs::create_directories(config.data_dir);
  config.data_dir = fs::canonical(config.data_dir);
  parts_ = std::make_unique<Parts>(std::move(config));
}

Daemon::~Daemon() = default;

void Daemon::run() {
  auto& p = *parts_;
  // Writes to a client that went away must fail with EPIPE, not kill the daemon.
  ::signal(SIGPIPE, SIG_IGN);
  spdlog::info("data directory {}", p.config.data_dir.string());
  spdlog::info("resource limits: {}", p.limiter->describe());
  spdlog::info("pre-fork pool: {} process(es) waiting in fresh cgroups", p.prefork->size());

  HttpServerOptions options;
  options.address = p.config.address;
  options.port = static_cast<std::uint16_t>(p.config.port);
  try {
    p.front = std::make_unique<HttpServer>(p.io, p.front_door, options);
  } catch (const std::system_error& e) {
    throw std::runtime_error("cannot listen on " + p.config.address + ":" + std::to_string(p.config.port) +
                             ": " + e.code().message());
  }
  std::string host = p.config.address.find(':') != std::string::npos ? "[" + p.config.address + "]"
                                                                      : p.config.address;
  std::string endpoint = "http://" + host + ":" + std::to_string(p.front->port());
  p.scheduler.set_front_endpoint(endpoint);
  p.scheduler.set_prefork_pool(p.prefork.get());
  p.scheduler.set_destinations(&p.destinations);
  p.scheduler.set_faults(&p.faults);
  p.api.set_faults(&p.faults);
  p.s3_api.set_faults(&p.faults);

  p.store.load();
  p.registry.load_persisted();
  for (const auto& spec : p.config.functions) p.registry.add_from_spec(spec);
  for (const auto& f : p.registry.list()) {
    p.scheduler.upsert_function(f);
    spdlog::info("function '{}' ({} MB, {} s, handler {}) from {}", f->name, f->memory_mb, f->timeout_s,
                 f->handler, f->code->dir().string());
  }
  p.scheduler.restore_pending_events();

  p.wait_signals();
  p.wait_children();
  p.schedule_housekeeping();
  auto endpoint_file = p.config.data_dir / "emulator.endpoint";
  write_file_atomically(endpoint_file, endpoint + "\n");
  spdlog::info("listening on {} (account concurrency {}, idle keep-alive {} s)", endpoint,
               p.config.account_concurrency, p.config.idle_keepalive_s);
  for (const auto& line : startup_hint(endpoint, p.registry.list().size())) spdlog::info("{}", line);
  p.io.run();
  std::error_code ec;
  fs::remove(endpoint_file, ec);
  spdlog::info("stopped");
}

}  // namespace stratus::emulator
