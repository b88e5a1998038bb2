// What the workload architecture costs per invocation in-process, against the direct call it
// replaces (Google Benchmark; bench/RESULTS.md records the numbers):
//   - Echo: serve_invocation on the handler (the floor), one InProcessInvoker round trip (a thread
//     hop), and per task of a 64-task fan-out (the engine's bookkeeping on top);
//   - LinregShard: one shard gradient of 1000 x 10 rows as the old local backend computed it
//     (linear_gradient on the floats), through the gradient_z handler (request decoding and answer
//     encoding), and through the fan-out engine with the in-process invoker (what --target local
//     now does per shard).

#include <benchmark/benchmark.h>

#include <random>

#include "stratus/common/linear_model.hpp"
#include "stratus/functions/handlers.hpp"
#include "stratus/ml/linreg_protocol.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/trainer/fan_out.hpp"
#include "stratus/trainer/local_lambda.hpp"

namespace {

using namespace stratus;
using namespace stratus::trainer;
namespace linreg = ml::linreg;

struct InProcess {
  ml::MemoryObjectStore store;
  LocalLambda lambda{product_function_table(), store};
  InProcessInvoker invoker{lambda, 2};
};

InProcess& in_process() {
  static InProcess instance;
  return instance;
}

struct Shard {
  std::vector<float> x;
  std::vector<float> y;
  std::vector<double> weights;
  std::string rows;  // encoded once, as the driver does
};

const Shard& shard() {
  static const Shard s = [] {
    Shard s;
    std::mt19937 random(3);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (int i = 0; i < 1000 * 10; ++i) s.x.push_back(uniform(random));
    for (int i = 0; i < 1000; ++i) s.y.push_back(uniform(random));
    for (int j = 0; j < 10; ++j) s.weights.push_back(0.1 * j);
    s.rows = linreg::encode_rows(s.x, s.y, 10, linreg::PayloadFormat::Zlib);
    return s;
  }();
  return s;
}

void Echo_ServeInvocation(benchmark::State& state) {
  const functions::ProductHandler handler = functions::product_handlers().at("echo");
  InProcess& p = in_process();
  functions::HandlerContext context{
      p.store, p.lambda, std::chrono::system_clock::now() + std::chrono::hours(1),
      "echo",  "bench",  "/tmp"};
  for (auto _ : state)
    benchmark::DoNotOptimize(functions::serve_invocation(handler, R"({"a":1})", context));
}
BENCHMARK(Echo_ServeInvocation);

void Echo_InProcessInvoke(benchmark::State& state) {
  InProcess& p = in_process();
  for (auto _ : state) benchmark::DoNotOptimize(p.invoker.invoke("echo", R"({"a":1})"));
}
BENCHMARK(Echo_InProcessInvoke)->UseRealTime();

void Echo_FanOutPerTask(benchmark::State& state) {
  InProcess& p = in_process();
  std::vector<FanOutTask> tasks;
  for (int i = 0; i < 64; ++i) {
    const std::string key = std::to_string(i);
    tasks.push_back({"echo", key, key, key});
  }
  FanOut fan_out(p.invoker, {});
  for (auto _ : state) {
    FanOutTelemetry telemetry;
    benchmark::DoNotOptimize(fan_out.run(
        tasks, [](std::size_t, const std::string& payload) { return payload; }, telemetry));
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(Echo_FanOutPerTask)->UseRealTime();

void LinregShard_DirectKernel(benchmark::State& state) {
  const Shard& s = shard();
  for (auto _ : state) benchmark::DoNotOptimize(linear_gradient(s.x, s.y, s.weights, 0.5));
}
BENCHMARK(LinregShard_DirectKernel);

void LinregShard_Handler(benchmark::State& state) {
  const Shard& s = shard();
  const std::string request =
      linreg::encode_request({1, 0, 0}, s.weights, 0.5, s.rows, linreg::PayloadFormat::Zlib);
  for (auto _ : state) benchmark::DoNotOptimize(functions::gradient_z_handler(request));
}
BENCHMARK(LinregShard_Handler);

void LinregShard_FanOut(benchmark::State& state) {
  const Shard& s = shard();
  InProcess& p = in_process();
  FanOut fan_out(p.invoker, {});
  for (auto _ : state) {
    // What the driver does per shard and step: the request from the cached rows, the fan-out, the
    // answer decoded.
    std::vector<FanOutTask> tasks = {
        {"gradient_z",
         linreg::encode_request({1, 0, 0}, s.weights, 0.5, s.rows, linreg::PayloadFormat::Zlib),
         "0", "shard 0"}};
    FanOutTelemetry telemetry;
    benchmark::DoNotOptimize(fan_out.run(
        tasks,
        [](std::size_t, const std::string& payload) {
          return std::to_string(
              linreg::decode_answer(payload, 10, linreg::PayloadFormat::Zlib).ids.shard);
        },
        telemetry));
  }
}
BENCHMARK(LinregShard_FanOut)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
