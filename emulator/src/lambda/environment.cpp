#include "stratus/emulator/lambda/environment.hpp"

#include "stratus/emulator/faults/fault_injector.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/request_id.hpp"
#include "stratus/common/utc_time.hpp"
#include "stratus/emulator/lambda/lambda_error_document.hpp"
#include "stratus/emulator/peer_credentials.hpp"
#include "stratus/emulator/prefork_pool.hpp"

namespace stratus::emulator {

namespace fs = std::filesystem;
using nlohmann::json;

const char* to_string(EnvironmentState s) {
  switch (s) {
    case EnvironmentState::Starting: return "starting";
    case EnvironmentState::Idle: return "idle";
    case EnvironmentState::Busy: return "busy";
    case EnvironmentState::Dead: return "dead";
  }
  return "unknown";
}

namespace {

std::string utc_date(const char* format) {
  return format_utc(std::chrono::system_clock::now(), format);
}

std::string format_seconds(int seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d.00", seconds);
  return buf;
}

}  // namespace

std::string Environment::new_trace_id() {
  std::string id;
  id.reserve(80);
  id.append("Root=1-");
  append_hex_id(id, 8);
  id.push_back('-');
  append_hex_id(id, 24);
  id.append(";Parent=");
  append_hex_id(id, 16);
  id.append(";Sampled=0");
  return id;
}

double Environment::ms_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

Environment::Environment(EnvironmentContext& context, FunctionConfigPtr function, bool provisioned)
    : ctx_(context),
      function_(std::move(function)),
      provisioned_(provisioned),
      id_(make_hex_id(32)),
      function_arn_(function_arn(context.config.region, context.config.account_id, function_->name)),
      timer_(context.io),
      fault_timer_(context.io) {}

Environment::~Environment() {
  if (runtime_server_) runtime_server_->stop();
  if (output_) {
    boost::system::error_code ec;
    output_->close(ec);
  }
  if (exec_report_) {
    boost::system::error_code ec;
    exec_report_->close(ec);
  }
  // The process handle kills and waits for anything still running.
  process_ = ChildProcess();
  ctx_.limiter.destroy(cgroups_);
  if (!s3_access_key_.empty()) ctx_.metering.s3_attribution().unregister(s3_access_key_);
  if (sandbox_) ctx_.sandbox.release(*sandbox_);
  std::error_code ec;
  if (!tmp_dir_.empty()) fs::remove_all(tmp_dir_, ec);
}

void Environment::start(std::shared_ptr<Invocation> bound) {
  bound_ = std::move(bound);
  const FunctionConfig& f = *function_;
  log_stream_name_ = utc_date("%Y/%m/%d") + "/[$LATEST]" + id_;
  HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.idle_timeout = std::chrono::milliseconds(0);
  options.server_name = "stratus-runtime";
  runtime_server_ = std::make_unique<HttpServer>(ctx_.io, *this, options);

  tmp_dir_ = ctx_.config.data_dir / "tmp" / id_;
  fs::create_directories(tmp_dir_);
  log_.open(ctx_.config.data_dir / "logs" / f.name / (utc_date("%Y-%m-%d") + "-" + id_ + ".log"),
            ctx_.logs);
  s3_access_key_ = ctx_.metering.s3_attribution().register_environment(id_);
  sandbox_ = ctx_.sandbox.plan(f.code->dir(), f.ephemeral_storage_mb, tmp_dir_, ctx_.host.code_dirs());

  // Where the process sees its code: /var/task in a private mount namespace, as on Lambda.
  const std::string task_root = sandbox_->task_root;
  std::vector<std::string> env = {
      "_HANDLER=" + f.handler,
      "AWS_REGION=" + ctx_.config.region,
      "AWS_DEFAULT_REGION=" + ctx_.config.region,
      "AWS_EXECUTION_ENV=AWS_Lambda_" + f.runtime,
      "AWS_LAMBDA_FUNCTION_NAME=" + f.name,
      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(f.memory_mb),
      "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
      std::string("AWS_LAMBDA_INITIALIZATION_TYPE=") +
          (provisioned_ ? "provisioned-concurrency" : "on-demand"),
      "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + f.name,
      "AWS_LAMBDA_LOG_STREAM_NAME=" + log_stream_name_,
      // Functions reach the emulator's own S3/Lambda with these (SigV4 needs some credentials).
      "AWS_ACCESS_KEY_ID=" + s3_access_key_,
      std::string("AWS_SECRET_ACCESS_KEY=") + kFunctionSecretAccessKey,
      "AWS_SESSION_TOKEN=stratus-session",
      "AWS_ENDPOINT_URL=" + ctx_.front_endpoint,
      "AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(runtime_server_->port()),
      "LAMBDA_TASK_ROOT=" + task_root,
      "LAMBDA_RUNTIME_DIR=" + task_root,
      "LANG=en_US.UTF-8",
      "TZ=:UTC",
      "PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
      "LD_LIBRARY_PATH=" + task_root + "/lib:" + task_root + ":/opt/lib",
      "TMPDIR=" + sandbox_->tmp_dir,
  };
  for (const auto& [k, v] : f.environment) env.push_back(k + "=" + v);

  SpawnSpec spec;
  spec.executable = fs::path(task_root) / "bootstrap";
  spec.working_dir = task_root;
  spec.sandbox = &*sandbox_;
  spec.environment = std::move(env);
  spec.rlimit_data_bytes = ctx_.limiter.rlimit_bytes(f.memory_mb);
  spec.wait_for_exec = false;
  spawned_at_ = SteadyClock::now();
  // A pre-forked process already sits in fresh cgroups: no cgroup migration on this path.
  std::optional<ClaimedProcess> claimed;
  if (ctx_.prefork) claimed = ctx_.prefork->claim(spec, f.memory_mb);
  if (claimed) {
    cgroups_ = std::move(claimed->cgroups);
    process_ = std::move(claimed->process);
  } else {
    cgroups_ = ctx_.limiter.create("env-" + id_, f.memory_mb);
    spec.cgroup_procs_files = ctx_.limiter.procs_files(cgroups_);
    process_ = ChildProcess::spawn(spec);
  }
  exec_report_.emplace(ctx_.io, process_.release_exec_report_fd());
  exec_report_->non_blocking(true);
  watch_exec_report();
  ctx_.limiter.open_probes(cgroups_, process_.pid());
  output_.emplace(ctx_.io, process_.release_output_fd());
  output_->non_blocking(true);
  read_output();

  std::weak_ptr<Environment> weak = weak_from_this();
  timer_.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(ctx_.config.init_timeout_s)));
  timer_.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_init_timeout();
  });
  spdlog::debug("environment {} of '{}' started: pid {}, runtime API port {}", id_, f.name,
                process_.pid(), runtime_server_->port());
}

// Waits until the pipe is readable and reads it here, rather than letting an asynchronous read
// take the bytes: bytes held by a read that completed but whose handler has not run yet would be
// invisible to drain_output, so a function's last lines, printed before its /response, could land
// after the invocation's REPORT (and outside its log tail).
void Environment::read_output() {
  std::weak_ptr<Environment> weak = weak_from_this();
  output_->async_wait(boost::asio::posix::stream_descriptor::wait_read, [weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self || ec || !self->output_ || !self->output_->is_open()) return;
    // A bounded number of reads per wake-up, so a function that floods its output cannot hold
    // the event loop.
    for (int reads = 0; reads < 16; ++reads) {
      std::size_t n = self->output_->read_some(boost::asio::buffer(self->output_buffer_), ec);
      if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) break;
      if (ec || n == 0) return;  // end of file (the runtime exited) or an error: stop reading
      self->capture_output(std::string_view(self->output_buffer_.data(), n));
    }
    self->read_output();
  });
}

void Environment::watch_exec_report() {
  std::weak_ptr<Environment> weak = weak_from_this();
  exec_report_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [weak](boost::system::error_code ec) {
                             auto self = weak.lock();
                             if (!self || ec) return;
                             self->read_exec_report_now();
                           });
}

// End-of-file means exec succeeded; an int is the errno with which it failed (the child then exits
// 127, and the invocation waiting for this environment gets Runtime.InvalidEntrypoint).
void Environment::read_exec_report_now() {
  if (!exec_report_ || !exec_report_->is_open()) return;
  int err = 0;
  boost::system::error_code ec;
  std::size_t n = exec_report_->read_some(boost::asio::buffer(&err, sizeof err), ec);
  if (ec == boost::asio::error::would_block) return watch_exec_report();
  if (!ec && n == sizeof err) {
    init_error_ = lambda_error_document("Runtime.InvalidEntrypoint",
                             "Couldn't start " + (function_->code->dir() / "bootstrap").string() + ": " +
                                 std::strerror(err));
  }
  exec_report_->close(ec);
}

// A blind read (nearly always EAGAIN: 1 syscall per invoke): the function may have printed just
// before its /response, and the pipe's readiness may not have been harvested yet (the request can
// have been read speculatively, without an epoll_wait), so no readiness flag can stand in for it.
void Environment::drain_output() {
  if (!output_ || !output_->is_open()) return;
  boost::system::error_code ec;
  while (true) {
    std::size_t n = output_->read_some(boost::asio::buffer(output_buffer_), ec);
    if (ec || n == 0) break;
    capture_output(std::string_view(output_buffer_.data(), n));
  }
}

void Environment::capture_output(std::string_view text) {
  log_.write(text);
  if (current_) {
    current_->append_log(text);
  } else if (bound_) {
    bound_->append_log(text);
  }
}

void Environment::log_line(const std::string& line) {
  capture_output(line + "\n");
}

void Environment::assign(std::shared_ptr<Invocation> invocation) {
  send_invocation(std::move(invocation));
}

bool Environment::finishing() const {
  return state_ == EnvironmentState::Busy && !current_ && !bound_ && !retiring_ && !hand_over_failed_;
}

void Environment::hand_over(std::shared_ptr<Invocation> invocation) {
  bound_ = std::move(invocation);
  // A runtime asks for its next event within microseconds of posting a result; one that does not
  // within this bound gives the invocation back so it is not held up.
  constexpr auto kHandOverWait = std::chrono::milliseconds(200);
  std::weak_ptr<Environment> weak = weak_from_this();
  timer_.expires_after(kHandOverWait);
  timer_.async_wait([weak](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || !self->bound_ || self->state_ != EnvironmentState::Busy || self->current_) return;
    self->hand_over_failed_ = true;
    auto invocation = std::move(self->bound_);
    self->bound_ = nullptr;
    self->ctx_.host.on_invocation_returned(std::move(invocation));
  });
}

void Environment::send_invocation(std::shared_ptr<Invocation> invocation) {
  state_ = EnvironmentState::Busy;
  current_ = std::move(invocation);
  current_id_ = current_->request_id;
  current_->attempts += 1;
  current_started_ = SteadyClock::now();
  current_cpu_start_ms_ = ctx_.limiter.cpu_time_ms(cgroups_, process_.pid());
  if (ctx_.config.time_model == TimeModelMode::Aws) {
    current_run_delay_start_ms_ = run_delay_.read(process_.pid());
    current_s3_start_ = ctx_.metering.s3_attribution().totals(s3_access_key_);
  }
  ++served_;
  // START goes to the stream now, not held for the invocation's next line: someone following the
  // log of a long, quiet invocation sees it start within the flusher's delay (20 ms).
  report_text_.assign("START RequestId: ").append(current_id_).append(" Version: $LATEST\n");
  log_.write(report_text_);
  current_->append_log(report_text_);

  const FunctionConfig& f = *function_;
  auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(f.timeout_s);
  HttpResponse response;
  response.headers.add("Content-Type", "application/json");
  response.headers.add("Lambda-Runtime-Aws-Request-Id", current_id_);
  response.headers.add(
      "Lambda-Runtime-Deadline-Ms",
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count()));
  response.headers.add("Lambda-Runtime-Invoked-Function-Arn", function_arn_);
  response.headers.add("Lambda-Runtime-Trace-Id",
                       current_->trace_id.empty() ? new_trace_id() : current_->trace_id);
  if (!current_->client_context.empty()) {
    response.headers.add("Lambda-Runtime-Client-Context", current_->client_context);
  }
  response.body = current_->payload.empty() ? "{}" : current_->payload;
  auto respond = std::move(parked_next_);
  parked_next_ = nullptr;
  respond(std::move(response));

  std::weak_ptr<Environment> weak = weak_from_this();
  // The attempt is named by its number here, not by a copy of its request id: no allocation.
  const std::uint64_t attempt = served_;
  timer_.expires_after(std::chrono::seconds(f.timeout_s));
  timer_.async_wait([weak, attempt](boost::system::error_code ec) {
    if (ec) return;
    auto self = weak.lock();
    if (self && self->current_ && self->served_ == attempt) self->on_timeout();
  });
  if (ctx_.faults) arm_injected_faults();
}

void Environment::arm_injected_faults() {
  const std::string& name = function_->name;
  std::weak_ptr<Environment> weak = weak_from_this();
  std::string id = current_id_;
  auto fault = ctx_.faults->decide({FaultKind::Crash, FaultKind::Straggler}, name, id);
  if (!fault) return;
  if (fault->kind == FaultKind::Straggler) return pace_straggler(id, fault->rule.factor, true);
  if (auto crash = fault) {
    double at_ms = crash->rule.crash_after_min_ms +
                   crash->uniform * (crash->rule.crash_after_max_ms - crash->rule.crash_after_min_ms);
    fault_timer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(at_ms * 1000)));
    fault_timer_.async_wait([weak, id, crash = *crash, at_ms](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->current_ || self->current_id_ != id) return;
      char detail[96];
      std::snprintf(detail, sizeof detail, "SIGKILL to environment %s, %.1f ms into the invocation",
                    self->id_.c_str(), at_ms);
      self->ctx_.faults->note(crash, self->function_->name, id, detail);
      self->log_line(utc_date("%Y-%m-%dT%H:%M:%SZ") + " " + id + " stratus: injected crash (SIGKILL)");
      self->terminate(SIGKILL);
    });
  }
}

// One pacing period runs the process for period/factor and stops it for the rest, so the
// invocation's wall time grows by `factor` while its CPU time stays what it was. The stop lasts
// (factor - 1) times the run phase as it really went: on a loaded host this timer fires late, a
// 0.5 ms run phase can last 10 ms, and a fixed stop would make a 100-fold straggler a 5-fold one.
void Environment::pace_straggler(std::string id, double factor, bool running) {
  constexpr double kPeriodMs = 50;
  if (!current_ || current_id_ != id || state_ == EnvironmentState::Dead) return stop_pacing();
  const double run_ms = kPeriodMs / factor;
  double phase_ms = run_ms;
  if (running) {
    if (paced_stopped_) {
      process_.signal_group(SIGCONT);
      paced_stopped_ = false;
    }
    paced_run_started_ = SteadyClock::now();
  } else {
    process_.signal_group(SIGSTOP);
    paced_stopped_ = true;
    phase_ms = std::max(run_ms, ms_since(paced_run_started_)) * (factor - 1);
  }
  std::weak_ptr<Environment> weak = weak_from_this();
  fault_timer_.expires_after(std::chrono::microseconds(static_cast<std::int64_t>(phase_ms * 1000)));
  fault_timer_.async_wait([weak, id = std::move(id), factor, running](boost::system::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    if (ec) return self->stop_pacing();
    self->pace_straggler(id, factor, !running);
  });
}

void Environment::stop_pacing() {
  if (paced_stopped_) {
    process_.signal_group(SIGCONT);
    paced_stopped_ = false;
  }
}

void Environment::finish_invocation(InvocationOutcome outcome, bool timed_out) {
  drain_output();
  timer_.cancel();
  fault_timer_.cancel();
  stop_pacing();
  auto invocation = std::move(current_);
  current_ = nullptr;

  InvocationMeasurement m;
  m.function = function_->name;
  m.architecture = function_->architecture;
  m.duration_ms = ms_since(current_started_);
  const bool bill_init = !init_reported_ && !provisioned_;
  if (bill_init) m.init_ms = init_ms_;
  init_reported_ = true;
  m.memory_mb = function_->memory_mb;
  auto peak = ctx_.limiter.memory_peak_bytes(cgroups_, process_.pid());
  m.max_memory_used_mb = (peak + (1 << 20) - 1) >> 20;
  m.cpu_ms = std::max(0.0, ctx_.limiter.cpu_time_ms(cgroups_, process_.pid()) - current_cpu_start_ms_);
  m.error = !outcome.function_error.empty();
  m.timeout = timed_out;
  std::optional<ModeledInvocation> modeled;
  if (ctx_.config.time_model == TimeModelMode::Aws) modeled = model_current(m.duration_ms, m.cpu_ms, bill_init);
  ctx_.metering.record(m, modeled ? &*modeled : nullptr);

  // END, REPORT and MODELED in one write, from one reused buffer.
  const std::string& id = invocation->request_id;
  std::string& text = report_text_;
  text.clear();
  text.append("END RequestId: ").append(id).push_back('\n');
  append_report_line(text, id, m);
  text.push_back('\n');
  if (modeled) {
    const ModeledText figures = format_modeled(*modeled);
    append_modeled_line(text, id, figures);
    text.push_back('\n');
    if (invocation->want_modeled) outcome.modeled = figures;
  }
  log_.write(text);
  invocation->append_log(text);
  if (invocation->want_log_tail) outcome.log_tail = invocation->log_tail();
  invocation->on_complete(std::move(outcome));
}

void Environment::on_timeout() {
  const std::string message = "Task timed out after " + format_seconds(function_->timeout_s) + " seconds";
  log_line(utc_date("%Y-%m-%dT%H:%M:%SZ") + " " + current_id_ + " " + message);
  InvocationOutcome outcome;
  outcome.function_error = "Unhandled";
  outcome.payload = lambda_error_document("Sandbox.Timedout", "RequestId: " + current_id_ + " Error: " + message);
  finish_invocation(std::move(outcome), true);
  spdlog::info("invocation {} of '{}' timed out after {} s; killing environment {}", current_id_,
               function_->name, function_->timeout_s, id_);
  terminate(SIGKILL);
}

void Environment::on_init_timeout() {
  if (state_ != EnvironmentState::Starting) return;
  spdlog::warn("environment {} of '{}' did not ask for work within {} s; killing it", id_,
               function_->name, ctx_.config.init_timeout_s);
  init_error_ = lambda_error_document("Runtime.InitTimeout", "Init timed out after " +
                                                      std::to_string(ctx_.config.init_timeout_s) + " seconds");
  terminate(SIGKILL);
}

void Environment::terminate(int signo) {
  retiring_ = true;
  process_.signal_group(signo);
  stop_pacing();  // a stopped process would not act on SIGTERM
}

void Environment::fail_bound_or_current(const std::string& error_type, const std::string& message,
                                        bool during_init) {
  InvocationOutcome outcome;
  outcome.function_error = "Unhandled";
  if (current_) {
    outcome.payload = lambda_error_document(error_type, "RequestId: " + current_id_ + " Error: " + message);
    finish_invocation(std::move(outcome), false);
  } else if (bound_ && !during_init) {
    // Handed over while finishing; it never reached this runtime, so it goes elsewhere.
    auto invocation = std::move(bound_);
    bound_ = nullptr;
    ctx_.host.on_invocation_returned(std::move(invocation));
  } else if (bound_) {
    // The invocation that caused this cold start never ran: it gets the init failure.
    auto invocation = std::move(bound_);
    bound_ = nullptr;
    outcome.payload = init_error_ ? *init_error_
                                  : lambda_error_document(error_type, "RequestId: " + invocation->request_id +
                                                               " Error: " + message);
    if (invocation->want_log_tail) outcome.log_tail = invocation->log_tail();
    invocation->on_complete(std::move(outcome));
  }
}

void Environment::on_process_exit(int wait_status) {
  auto keep_alive = shared_from_this();  // the host drops its reference below
  process_.mark_exited(wait_status);
  read_exec_report_now();  // an exec failure is reported before the child exits
  drain_output();
  timer_.cancel();
  std::string why = process_.describe_exit();
  if (!retiring_) {
    spdlog::info("environment {} of '{}' (pid {}) exited unexpectedly: {}", id_, function_->name,
                 process_.pid(), why);
  }
  // Dead before anything is re-placed, so nothing is handed back to this environment.
  bool was_starting = state_ == EnvironmentState::Starting;
  state_ = EnvironmentState::Dead;
  retiring_ = true;
  fail_bound_or_current("Runtime.ExitError", "Runtime exited with error: " + why, was_starting);
  parked_next_ = nullptr;
  if (runtime_server_) runtime_server_->stop();
  run_delay_.close();  // the threads are gone; the descriptors would only pin their entries
  log_.flush();        // the environment's last lines (its exit, a crash) without waiting
  ctx_.host.on_environment_dead(*this);
}

ModeledInvocation Environment::model_current(double wall_ms, double cpu_ms, bool bill_init) {
  MeasuredPhase run;
  run.wall_ms = wall_ms;
  run.cpu_ms = cpu_ms;
  auto delay_now = run_delay_.read(process_.pid());
  if (delay_now && current_run_delay_start_ms_) {
    run.run_delay_ms = std::max(0.0, *delay_now - *current_run_delay_start_ms_);
  }
  run.s3 = ctx_.metering.s3_attribution().totals(s3_access_key_) - current_s3_start_;
  std::optional<MeasuredPhase> init;
  if (bill_init) init = init_measured_;
  return model_invocation(run, init, function_->memory_mb, function_->architecture, ctx_.metering.prices());
}

}  // namespace stratus::emulator
