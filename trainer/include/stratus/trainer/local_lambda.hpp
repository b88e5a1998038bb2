#pragma once
// The in-process "Lambda" of --target local: the product's functions (product_functions() over
// product_handlers(), the very table the `bootstrap` serves) run in this process, with an
// in-memory object store. Each function keeps environments like Lambda's: an invocation takes an
// idle one (warm) or creates one (cold), and each has its own scratch directory that survives
// between its invocations (Lambda's /tmp). Event invocations run on a bounded worker pool; the
// synchronous ones (InProcessInvoker) on the invoker's own threads.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/functions/handler_context.hpp"
#include "stratus/ml/event_invoker.hpp"
#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/invoker.hpp"
#include "stratus/trainer/worker_pool.hpp"

namespace stratus::trainer {

struct LocalFunction {
  std::string handler_name;
  functions::ProductHandler handler;
  int memory_mb = 128;
  int timeout_s = 3;
};
// Function name -> what runs it.
using LocalFunctionTable = std::map<std::string, LocalFunction>;

// Every product function (product_functions()) over its product handler.
LocalFunctionTable product_function_table();

struct LocalLambdaOptions {
  // Event invocations running at once. Functions that wait for each other (workers polling for
  // their children's models) each hold a thread while they wait, so this must exceed the number
  // of such functions alive at once.
  std::size_t event_threads = 256;
  // Event invocations accepted but not started yet, beyond which invoke_event refuses.
  std::size_t max_queued_events = 100000;
  // A failed Event invocation is run again up to this many times (Lambda's default: 2).
  int event_retries = 2;
};

class LocalLambda : public ml::EventInvoker {
 public:
  LocalLambda(LocalFunctionTable functions, ml::ObjectStore& store,
              LocalLambdaOptions options = {});
  // Drains the Event invocations (and those they start), then removes the scratch directories.
  ~LocalLambda() override;
  LocalLambda(const LocalLambda&) = delete;
  LocalLambda& operator=(const LocalLambda&) = delete;

  // Runs one invocation on the calling thread in an environment of the function, with `timeout`
  // (0: the function's own) as its deadline. A handler that returns after it has its answer
  // replaced by Lambda's timeout error (errorType Sandbox.Timedout): Lambda would have stopped it
  // and lost the answer. An unknown function answers 404 ResourceNotFoundException, as Lambda does.
  InvocationResult call(const std::string& function, std::string_view payload,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds::zero());

  // Queues the invocation; throws ml::EventInvokeError for an unknown function or a full queue.
  void invoke_event(const std::string& function, std::string payload) override;
  // Returns once no Event invocation is queued or running (including those started meanwhile).
  void drain_events();

  struct EventCounts {
    std::uint64_t accepted = 0;
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;  // failed after every retry
    std::uint64_t retried = 0;
  };
  EventCounts event_counts() const;
  // The error document of the last Event invocation that failed for good ("" if none did).
  std::string last_event_error() const;

  ml::ObjectStore& store() { return store_; }
  bool has_function(const std::string& function) const { return functions_.count(function) != 0; }

 private:
  struct Environment {
    std::filesystem::path scratch_dir;
  };
  // Takes an idle environment of `function` or creates one; `cold` says which.
  std::unique_ptr<Environment> acquire(const std::string& function, bool& cold);
  void release(const std::string& function, std::unique_ptr<Environment> environment);
  void run_event(const std::string& function, const std::string& payload, int attempt);

  LocalFunctionTable functions_;
  ml::ObjectStore& store_;
  LocalLambdaOptions options_;
  std::filesystem::path scratch_root_;

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::unique_ptr<Environment>>> idle_;
  std::map<std::string, std::uint64_t> environments_created_;
  EventCounts counts_;
  std::string last_event_error_;
  std::atomic<std::uint64_t> next_request_{1};
  std::atomic<std::size_t> queued_events_{0};

  // Declared last: destroyed (drained) first, while everything its jobs use still exists.
  WorkerPool events_;
};

// trainer::Invoker over a LocalLambda: each call runs on one of `threads` threads (0: one per
// hardware thread).
class InProcessInvoker : public Invoker {
 public:
  InProcessInvoker(LocalLambda& lambda, std::size_t threads = 0);
  ~InProcessInvoker() override;

  void start(const std::string& function, std::string payload, std::chrono::milliseconds deadline,
             Callback done) override;
  int concurrency() const override { return static_cast<int>(pool_.max_threads()); }
  std::string describe() const override { return "local (in-process)"; }

 private:
  LocalLambda& lambda_;
  WorkerPool pool_;
};

}  // namespace stratus::trainer
