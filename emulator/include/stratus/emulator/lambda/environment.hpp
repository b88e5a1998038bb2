#pragma once
// One execution environment: a worker process running the function's bootstrap, plus the Runtime
// API endpoint (its own loopback port) that this process polls for work. The environment owns the
// lifecycle of each invocation handed to it: START/END/REPORT lines, timeout, metering. The process
// lifecycle is in environment.cpp, the Runtime API server in runtime_api.cpp.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "stratus/common/http_server.hpp"
#include "stratus/emulator/child_process.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/lambda/function_config.hpp"
#include "stratus/emulator/lambda/invocation.hpp"
#include "stratus/emulator/lambda/log_stream.hpp"
#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/resource_limits.hpp"
#include "stratus/emulator/run_delay_probe.hpp"
#include "stratus/emulator/sandbox.hpp"
#include "stratus/emulator/time_model.hpp"

namespace stratus::emulator {

class Environment;

// What an environment tells the scheduler that owns it.
class EnvironmentHost {
 public:
  virtual ~EnvironmentHost() = default;
  // The runtime asked for work (/next) and none is bound to this environment.
  virtual void on_environment_ready(Environment& env) = 0;
  // The process is gone (exited, crashed, killed). The environment must be dropped.
  virtual void on_environment_dead(Environment& env) = 0;
  // An invocation handed over to a finishing environment could not be delivered there (the
  // runtime died or did not ask for work in time); it must be placed elsewhere.
  virtual void on_invocation_returned(std::shared_ptr<Invocation> invocation) = 0;
  // Every function's code directory: an environment's sandbox hides the others'.
  virtual std::vector<std::filesystem::path> code_dirs() const = 0;
};

enum class EnvironmentState { Starting, Idle, Busy, Dead };
const char* to_string(EnvironmentState s);

struct EnvironmentContext {
  boost::asio::io_context& io;
  const EmulatorConfig& config;
  ResourceLimiter& limiter;
  Sandbox& sandbox;
  Metering& metering;
  EnvironmentHost& host;
  std::string front_endpoint;  // the daemon's own URL, exported as AWS_ENDPOINT_URL
  class FaultInjector* faults = nullptr;  // crashes and stragglers; may stay null
  class PreforkPool* prefork = nullptr;   // processes forked ahead (prefork_pool.hpp); may stay null
  std::shared_ptr<LogFlusher> logs;        // writes log-stream lines in batches; null: at once
};

class Environment : public HttpHandler, public std::enable_shared_from_this<Environment> {
 public:
  Environment(EnvironmentContext& context, FunctionConfigPtr function, bool provisioned);
  ~Environment() override;

  // Starts the runtime endpoint and the process. `bound` (may be null) is the invocation whose
  // arrival caused this cold start; it is the first one served. Throws on spawn failure.
  void start(std::shared_ptr<Invocation> bound);
  // Hands an invocation to an idle environment.
  void assign(std::shared_ptr<Invocation> invocation);
  // True after the runtime posted its result but before it asked for the next event: the
  // environment is about to be idle, and a back-to-back call should wait for it, not cold-start.
  bool finishing() const;
  // Queues an invocation for a finishing environment's next /next.
  void hand_over(std::shared_ptr<Invocation> invocation);
  // Asks the process to stop (signal to its group). Dead once reaped.
  void terminate(int signo);
  void on_process_exit(int wait_status);

  const std::string& id() const { return id_; }
  const FunctionConfigPtr& function() const { return function_; }
  EnvironmentState state() const { return state_; }
  bool provisioned() const { return provisioned_; }
  bool retiring() const { return retiring_; }
  pid_t pid() const { return process_.pid(); }
  SteadyClock::time_point idle_since() const { return idle_since_; }
  std::uint64_t invocations_served() const { return served_; }
  double init_ms() const { return init_ms_; }
  bool has_bound_invocation() const { return bound_ != nullptr; }
  // Running an invocation, or holding one it is about to run (cold start, hand-over): what counts
  // against the function's concurrency.
  bool executing() const { return current_ != nullptr || bound_ != nullptr; }

  // Lambda's sync response limit: a larger /response fails the invocation.
  static constexpr std::uint64_t kMaxResponseBytes = 6291456;

  // HttpHandler: the Runtime API (runtime_api.cpp).
  HttpRequestPlan plan(const HttpRequestHead& head) override;
  HttpResponse reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  void handle(HttpRequest request, HttpResponder respond) override;

 private:
  static double ms_since(SteadyClock::time_point start);
  // An X-Ray trace header for an invocation whose caller sent none.
  static std::string new_trace_id();
  void read_output();
  void watch_exec_report();
  void read_exec_report_now();
  void drain_output();
  void capture_output(std::string_view text);
  void log_line(const std::string& line);
  void send_invocation(std::shared_ptr<Invocation> invocation);
  void finish_invocation(InvocationOutcome outcome, bool timed_out);
  void fail_bound_or_current(const std::string& error_type, const std::string& message,
                             bool during_init);
  void on_timeout();
  // Injected faults (faults/): a SIGKILL at a drawn point of the invocation, or pacing its
  // process with SIGSTOP/SIGCONT so that it runs `factor` times slower.
  void arm_injected_faults();
  void pace_straggler(std::string id, double factor, bool running);
  void stop_pacing();
  void on_init_timeout();
  HttpResponse runtime_error_response(int status, const std::string& type, const std::string& message);
  // With a uid of its own, only this environment's processes may use its Runtime API (other
  // functions share the loopback network and could otherwise take or answer its invocations).
  bool peer_is_this_environment(const HttpRequest& request);
  void handle_next(HttpResponder respond);
  void handle_result(const std::string& request_id, bool is_error, HttpRequest& request,
                     HttpResponder& respond);

  EnvironmentContext& ctx_;
  FunctionConfigPtr function_;
  bool provisioned_;
  std::string id_;
  std::string function_arn_;  // Lambda-Runtime-Invoked-Function-Arn, the same for every invocation
  std::string log_stream_name_;
  EnvironmentState state_ = EnvironmentState::Starting;
  bool retiring_ = false;
  std::unique_ptr<HttpServer> runtime_server_;
  ChildProcess process_;
  EnvironmentCgroups cgroups_;
  std::filesystem::path tmp_dir_;
  std::optional<SandboxPlan> sandbox_;
  std::string verified_peer_;  // the runtime's connection last checked to be this environment's
  std::optional<boost::asio::posix::stream_descriptor> output_;
  std::optional<boost::asio::posix::stream_descriptor> exec_report_;
  std::array<char, 16384> output_buffer_{};
  LogStream log_;
  std::string report_text_;    // START, then END/REPORT/MODELED of one invocation; capacity reused
  boost::asio::steady_timer timer_;  // init timeout, then each invocation's timeout
  boost::asio::steady_timer fault_timer_;  // an injected crash's moment, or a straggler's pace
  bool paced_stopped_ = false;             // the process group is SIGSTOPped by the pacing
  SteadyClock::time_point paced_run_started_;  // when the pacing last let it run

  SteadyClock::time_point spawned_at_;
  SteadyClock::time_point idle_since_;
  double init_ms_ = 0;
  bool init_reported_ = false;
  bool hand_over_failed_ = false;  // a runtime that was slow to ask again gets no more hand-overs  // Init Duration goes on the first REPORT only
  std::optional<std::string> init_error_;  // body posted to /runtime/init/error
  std::uint64_t served_ = 0;

  HttpResponder parked_next_;  // the runtime's pending GET /next
  std::shared_ptr<Invocation> bound_;
  std::shared_ptr<Invocation> current_;  // handed out, no result yet
  std::string current_id_;               // id of the last invocation handed out
  SteadyClock::time_point current_started_;
  double current_cpu_start_ms_ = 0;

  // Modeled time (time_model.hpp): the readings at the start of the current invocation and what
  // the INIT phase measured.
  ModeledInvocation model_current(double wall_ms, double cpu_ms, bool bill_init);
  std::string s3_access_key_;  // this environment's own key id (S3 attribution)
  RunDelayProbe run_delay_;  // the process's schedstat files, kept open
  std::optional<double> current_run_delay_start_ms_;
  S3Work current_s3_start_;
  std::optional<MeasuredPhase> init_measured_;
};

}  // namespace stratus::emulator
