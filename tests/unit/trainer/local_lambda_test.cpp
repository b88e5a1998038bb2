// The in-process Lambda of --target local: environments (cold, then warm, each with its own
// scratch directory), error reporting as Lambda's, Event invocations on the bounded pool with
// Lambda's retries, and the product table it serves.

#include "stratus/trainer/local_lambda.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "stratus/functions/handlers.hpp"
#include "stratus/functions/product_functions.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/trainer/target.hpp"

using namespace stratus;
using namespace stratus::trainer;
using namespace std::chrono_literals;

namespace {

LocalFunction function_of(functions::ProductHandler handler) {
  return {"test", std::move(handler), 256, 5};
}

}  // namespace

TEST(LocalLambda, ReusesWarmEnvironmentsAndTheirScratchDirectories) {
  ml::MemoryObjectStore store;
  std::mutex mutex;
  std::set<std::string> dirs;
  LocalLambda lambda(
      {{"count", function_of([&](std::string_view, functions::HandlerContext& context) {
          // A warm environment sees what its previous invocation left in /tmp.
          const auto file = context.scratch_dir / "calls";
          int calls = 0;
          if (std::ifstream in(file); in) in >> calls;
          std::ofstream(file) << calls + 1;
          std::lock_guard lock(mutex);
          dirs.insert(context.scratch_dir.string());
          return std::to_string(calls + 1) + " " + context.function_name;
        })}},
      store);
  InvocationResult first = lambda.call("count", "{}");
  InvocationResult second = lambda.call("count", "{}");
  EXPECT_TRUE(first.succeeded());
  EXPECT_TRUE(first.telemetry.cold_start);
  EXPECT_FALSE(second.telemetry.cold_start);
  EXPECT_EQ(first.payload, "1 count");
  EXPECT_EQ(second.payload, "2 count");
  EXPECT_EQ(dirs.size(), 1u);
  EXPECT_FALSE(first.telemetry.request_id.empty());
  EXPECT_NE(first.telemetry.request_id, second.telemetry.request_id);
  const std::string dir = *dirs.begin();
  EXPECT_TRUE(std::filesystem::exists(dir));
  (void)dir;
}

TEST(LocalLambda, ScratchDirectoriesAreRemovedWithIt) {
  ml::MemoryObjectStore store;
  std::string dir;
  {
    LocalLambda lambda(
        {{"f", function_of([&](std::string_view, functions::HandlerContext& context) {
            dir = context.scratch_dir.string();
            return std::string("{}");
          })}},
        store);
    lambda.call("f", "{}");
    ASSERT_TRUE(std::filesystem::is_directory(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(LocalLambda, ReportsFailuresAsLambdaDoes) {
  ml::MemoryObjectStore store;
  LocalLambda lambda(
      {{"refuses", function_of([](std::string_view, functions::HandlerContext&) -> std::string {
          throw ml::ProtocolError("\"x\" must be an array");
        })},
       {"crashes", function_of([](std::string_view, functions::HandlerContext&) -> std::string {
          throw std::out_of_range("index 7");
        })}},
      store);
  InvocationResult refused = lambda.call("refuses", "{}");
  EXPECT_EQ(refused.telemetry.status, 200);
  EXPECT_EQ(refused.telemetry.function_error, "Unhandled");
  auto document = nlohmann::json::parse(refused.payload);
  EXPECT_EQ(document["errorType"], "InvalidInput");
  EXPECT_EQ(document["errorMessage"], "\"x\" must be an array");
  EXPECT_EQ(nlohmann::json::parse(lambda.call("crashes", "{}").payload)["errorType"],
            "std::out_of_range");
  InvocationResult missing = lambda.call("nope", "{}");
  EXPECT_EQ(missing.telemetry.status, 404);
  EXPECT_EQ(missing.telemetry.error_type, "ResourceNotFoundException");
}

TEST(LocalLambda, HandlersSeeTheirDeadline) {
  ml::MemoryObjectStore store;
  LocalLambda lambda(
      {{"deadline", function_of([](std::string_view, functions::HandlerContext& context) {
          return std::to_string(context.remaining_time().count());
        })}},
      store);
  const long long own = std::stoll(lambda.call("deadline", "{}").payload);  // the function's 5 s
  EXPECT_GT(own, 4000);
  EXPECT_LE(own, 5000);
  const long long given = std::stoll(lambda.call("deadline", "{}", 700ms).payload);
  EXPECT_GT(given, 0);
  EXPECT_LE(given, 700);
}

TEST(LocalLambda, AnAnswerPastTheTimeoutIsLostAsInLambda) {
  ml::MemoryObjectStore store;
  LocalLambda lambda({{"slow", function_of([](std::string_view, functions::HandlerContext&) {
                         std::this_thread::sleep_for(120ms);
                         return std::string("too late");
                       })}},
                     store);
  InvocationResult late = lambda.call("slow", "{}", 50ms);
  EXPECT_EQ(late.telemetry.function_error, "Unhandled");
  auto document = nlohmann::json::parse(late.payload);
  EXPECT_EQ(document["errorType"], "Sandbox.Timedout");
  EXPECT_EQ(document["errorMessage"], "Task timed out after 0.05 seconds");
  EXPECT_EQ(lambda.call("slow", "{}").payload, "too late");  // within its own 5 s
}

TEST(LocalLambda, EventInvocationsRunOnThePoolAndCanStartMore) {
  ml::MemoryObjectStore store;
  store.ensure_bucket("runs");
  // A chain: each event writes its number and starts the next until 20, as workers re-invoking
  // themselves do.
  LocalLambda lambda(
      {{"chain", function_of([](std::string_view payload, functions::HandlerContext& context) {
          const int n = std::stoi(std::string(payload));
          context.store.put("runs", "step-" + std::to_string(n), payload);
          if (n < 20) context.events.invoke_event("chain", std::to_string(n + 1));
          return std::string("{}");
        })}},
      store, {.event_threads = 4});
  lambda.invoke_event("chain", "1");
  lambda.drain_events();
  EXPECT_EQ(store.list("runs", "step-").size(), 20u);
  EXPECT_EQ(lambda.event_counts().accepted, 20u);
  EXPECT_EQ(lambda.event_counts().succeeded, 20u);
  EXPECT_THROW(lambda.invoke_event("missing", "{}"), ml::EventInvokeError);
}

TEST(LocalLambda, FailedEventsAreRetriedTwiceThenRecorded) {
  ml::MemoryObjectStore store;
  std::atomic<int> calls{0};
  LocalLambda lambda(
      {{"fails", function_of([&](std::string_view, functions::HandlerContext&) -> std::string {
          ++calls;
          throw std::runtime_error("always");
        })}},
      store);
  lambda.invoke_event("fails", "{}");
  lambda.drain_events();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(lambda.event_counts().retried, 2u);
  EXPECT_EQ(lambda.event_counts().failed, 1u);
  EXPECT_NE(lambda.last_event_error().find("always"), std::string::npos);
}

TEST(LocalLambda, AFullEventQueueRefuses) {
  ml::MemoryObjectStore store;
  std::atomic<bool> go{false};
  std::atomic<int> started{0};
  LocalLambda lambda({{"wait", function_of([&](std::string_view, functions::HandlerContext&) {
                         ++started;
                         while (!go) std::this_thread::sleep_for(1ms);
                         return std::string("{}");
                       })}},
                     store, {.event_threads = 1, .max_queued_events = 2});
  lambda.invoke_event("wait", "{}");  // may start at once, or stay queued
  lambda.invoke_event("wait", "{}");
  // Once the first one runs (on the only thread), one is queued: room for exactly one more. A
  // fixed sleep here is not enough on a loaded machine, where the pool thread may not have
  // picked the first one up yet (the third invoke was then refused too).
  for (int i = 0; i < 10000 && started == 0; ++i) std::this_thread::sleep_for(1ms);
  if (started == 0) go = true;  // so that a failure below does not hang in the destructor
  ASSERT_EQ(started.load(), 1) << "the pool thread never started the first event";
  lambda.invoke_event("wait", "{}");
  EXPECT_THROW(lambda.invoke_event("wait", "{}"), ml::EventInvokeError);
  go = true;
  lambda.drain_events();
  EXPECT_EQ(lambda.event_counts().succeeded, 3u);
}

TEST(ProductFunctions, EveryOneHasAHandlerInTheTableTheBootstrapServes) {
  const functions::HandlerTable handlers = functions::product_handlers();
  std::set<std::string> names;
  for (const functions::FunctionSpec& spec : functions::product_functions()) {
    EXPECT_TRUE(handlers.contains(spec.handler)) << spec.name;
    EXPECT_TRUE(names.insert(spec.name).second) << "listed twice: " << spec.name;
    EXPECT_GE(spec.memory_mb, 128);
    EXPECT_LE(spec.memory_mb, 10240);
    EXPECT_GE(spec.timeout_s, 1);
    EXPECT_LE(spec.timeout_s, 900);
  }
  EXPECT_EQ(product_function_table().size(), functions::product_functions().size());
  EXPECT_NE(functions::find_product_function("gradient_z"), nullptr);
  EXPECT_EQ(functions::find_product_function("nope"), nullptr);
}

TEST(Target, LocalServesTheProductFunctionsInProcess) {
  Target target = make_target(TargetOptions{});
  EXPECT_EQ(target.kind, TargetKind::Local);
  ASSERT_NE(target.local, nullptr);
  InvocationResult echo = target.invoker->invoke("echo", R"({"hello":1})");
  EXPECT_TRUE(echo.succeeded());
  EXPECT_EQ(echo.payload, R"({"hello":1})");
  // The handlers' store is the target's store.
  target.store->ensure_bucket("data");
  target.store->put("data", "k", "v");
  EXPECT_EQ(target.local->store().get("data", "k"), "v");
}

TEST(Target, RefusesWhatItDoesNotKnow) {
  for (const char* bad : {"ftp://example", "lokal", ""}) {
    TargetOptions options;
    options.target = bad;
    EXPECT_THROW(make_target(options), std::invalid_argument) << bad;
  }
  TargetOptions url;
  url.target = "http://127.0.0.1:9";
  Target remote = make_target(url);
  EXPECT_EQ(remote.kind, TargetKind::Url);
  EXPECT_EQ(remote.invoker->describe(), "http://127.0.0.1:9");
  ASSERT_TRUE(remote.remote.has_value());
  EXPECT_EQ(remote.remote->s3.addressing, aws::S3AddressingStyle::Path);
  // The fan-out never keeps more calls in flight than the invoker has connections.
  EXPECT_EQ(remote.invoker->concurrency(), 64);
  url.http_connections = 8;
  EXPECT_EQ(make_target(url).invoker->concurrency(), 8);
  TargetOptions three_threads;
  three_threads.local_threads = 3;
  EXPECT_EQ(make_target(three_threads).invoker->concurrency(), 3);
}
