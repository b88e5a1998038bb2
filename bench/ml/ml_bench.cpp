// Worker rounds of the CLOUD 2018 cases, in-process, one thread, and the GEMMs inside them.
// Counters: flops = floating-point operations of one iteration (multiply-adds count 2), so
// Google Benchmark's rate is GFLOP/s.

#include <benchmark/benchmark.h>

#include <vector>

#include "stratus/ml/architectures.hpp"
#include "stratus/ml/layers.hpp"
#include "stratus/ml/split_mix64.hpp"
#include "stratus/ml/worker_round.hpp"

namespace {

using namespace stratus;
using namespace stratus::ml;

Shard case_a_shard(std::uint64_t n) {
  SplitMix64 r(1);
  std::vector<float> f(n * 20);
  std::vector<std::int32_t> l(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint64_t j = 0; j < 20; ++j) f[i * 20 + j] = (r.next() >> 63) ? 1.0f : -1.0f;
    l[i] = f[i * 20 + 19] > 0 ? 1 : -1;
  }
  Shard s;
  s.features = Tensor::of_f32({n, 20}, std::move(f));
  s.labels = Tensor::of_i32({n}, std::move(l));
  return s;
}

Shard case_b_shard(std::uint64_t n) {
  SplitMix64 r(2);
  std::vector<std::uint8_t> f(n * 3 * 32 * 32);
  for (auto& v : f) v = static_cast<std::uint8_t>(r.next() >> 56);
  std::vector<std::int32_t> l(n);
  for (auto& v : l) v = static_cast<std::int32_t>(r.next() % 10);
  Shard s;
  s.features = Tensor::of_u8({n, 3, 32, 32}, std::move(f));
  s.labels = Tensor::of_i32({n}, std::move(l));
  return s;
}

// Multiply-adds of one minibatch forward + backward (x2 for flops).
double case_a_flops(double batch) {
  const double fwd = batch * (20 * 100 + 4 * 100 * 100 + 100 * 1);
  const double bwd = 2 * fwd - batch * 20 * 100;  // no input gradient for layer 1
  return 2 * (fwd + bwd);
}
double case_b_flops(double batch) {
  const double conv1 = batch * 32 * 32 * 75 * 64, conv2 = batch * 16 * 16 * 1600 * 64;
  const double fc = batch * (4096 * 384 + 384 * 192 + 192 * 10);
  const double fwd = conv1 + conv2 + fc;
  const double bwd = conv1 + 2 * conv2 + 2 * fc;  // conv1 needs no input gradient
  return 2 * (fwd + bwd);
}

void BM_CaseARound(benchmark::State& state) {
  const Shard shard = case_a_shard(1000);
  const ModelState start = initial_model(kCaseA, 1);
  for (auto _ : state) {
    ModelState m = start;
    const RoundStats s = train_minibatches(m, shard, 20, 50, 0.1f);
    benchmark::DoNotOptimize(s.loss_sum);
  }
  state.counters["flops"] =
      benchmark::Counter(20 * case_a_flops(50), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaseARound)->Unit(benchmark::kMillisecond);

void BM_CaseBRound(benchmark::State& state) {
  const Shard shard = case_b_shard(500);
  const ModelState start = initial_model(kCaseB, 1, Initialisation::Tutorial);
  for (auto _ : state) {
    ModelState m = start;
    const RoundStats s = train_minibatches(m, shard, 20, 25, 0.1f);
    benchmark::DoNotOptimize(s.loss_sum);
  }
  state.counters["flops"] =
      benchmark::Counter(20 * case_b_flops(25), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaseBRound)->Unit(benchmark::kMillisecond)->Iterations(3);

// The second convolution's forward GEMM: im2col [6400,1600] x weights [1600,64].
void BM_Conv2ForwardGemmShape(benchmark::State& state) {
  const DenseShape s{6400, 1600, 64};
  std::vector<float> x(6400 * 1600, 0.5f), w(1600 * 64, 0.25f), b(64, 0.0f), y(6400 * 64);
  for (auto _ : state) {
    dense_forward(s, x.data(), w.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["flops"] =
      benchmark::Counter(2.0 * 6400 * 1600 * 64, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Conv2ForwardGemmShape)->Unit(benchmark::kMillisecond);

// The second convolution's backward GEMMs: dW = cols^T dy ([1600,6400] x [6400,64]) and, with
// range(0) = 1, also d(cols) = dy W^T ([6400,64] x [64,1600]).
void BM_Conv2BackwardGemmShapes(benchmark::State& state) {
  const DenseShape s{6400, 1600, 64};
  std::vector<float> x(6400 * 1600, 0.5f), w(1600 * 64, 0.25f), dy(6400 * 64, 0.1f),
      dx(6400 * 1600), dw(1600 * 64), db(64);
  const bool with_dx = state.range(0) != 0;
  for (auto _ : state) {
    dense_backward(s, x.data(), w.data(), dy.data(), with_dx ? dx.data() : nullptr, dw.data(),
                   db.data());
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["flops"] = benchmark::Counter((with_dx ? 4.0 : 2.0) * 6400 * 1600 * 64,
                                               benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Conv2BackwardGemmShapes)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Case B's layers at their minibatch shapes (25 images): range(0) selects the layer.
void BM_CaseBLayer(benchmark::State& state) {
  const Conv2dShape conv1{25, 32, 32, 3, 64, 5, 5}, conv2{25, 16, 16, 64, 64, 5, 5};
  const Conv2dShape& c = state.range(0) == 0 || state.range(0) == 1 ? conv1 : conv2;
  std::vector<float> x(c.batch * c.height * c.width * c.in, 0.5f),
      w(c.kernel_h * c.kernel_w * c.in * c.out, 0.01f), b(c.out, 0.1f),
      y(c.batch * c.height * c.width * c.out), scratch(conv2d_scratch_floats(c)), dx(x.size()),
      dw(w.size()), db(b.size());
  const bool backward = state.range(0) % 2 == 1;
  conv2d_forward(c, x.data(), w.data(), b.data(), y.data(), scratch.data());
  for (auto _ : state) {
    if (backward) {
      conv2d_backward(c, x.data(), w.data(), y.data(), &c == &conv1 ? nullptr : dx.data(),
                      dw.data(), db.data(), scratch.data());
    } else {
      conv2d_forward(c, x.data(), w.data(), b.data(), y.data(), scratch.data());
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double macs =
      static_cast<double>(c.batch * c.height * c.width) * c.kernel_h * c.kernel_w * c.in * c.out;
  const double passes = backward ? (&c == &conv1 ? 1 : 2) : 1;
  state.counters["flops"] =
      benchmark::Counter(2 * macs * passes, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaseBLayer)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// LRN (range 0: forward, 1: backward) and max-pool (2: forward, 3: backward) at Case B's shapes.
void BM_CaseBNormPool(benchmark::State& state) {
  const std::size_t pixels = 25 * 16 * 16, channels = 64, n = pixels * channels;
  const LrnParams lrn;
  const PoolShape pool{25, 32, 32, 64, 3, 2};
  std::vector<float> x(25 * 32 * 32 * 64), y(x.size()), s(x.size()), dx(x.size()),
      dy(x.size(), 0.1f);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 97) * 0.01f;
  std::vector<std::uint32_t> arg(x.size());
  lrn_forward(lrn, pixels, channels, x.data(), y.data(), s.data());
  max_pool_forward(pool, x.data(), y.data() + n, arg.data());
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0:
        lrn_forward(lrn, pixels, channels, x.data(), y.data(), s.data());
        break;
      case 1:
        lrn_backward(lrn, pixels, channels, x.data(), y.data(), s.data(), dy.data(), dx.data());
        break;
      case 2:
        max_pool_forward(pool, x.data(), y.data() + n, arg.data());
        break;
      default:
        max_pool_backward(pool, dy.data(), arg.data(), dx.data());
        break;
    }
    benchmark::DoNotOptimize(dx.data());
  }
}
BENCHMARK(BM_CaseBNormPool)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// Case B's FC 4096->384 at batch 25: range 0 forward, 1 backward (with dx).
void BM_CaseBFc1(benchmark::State& state) {
  const DenseShape s{25, 4096, 384};
  std::vector<float> x(25 * 4096, 0.5f), w(4096 * 384, 0.01f), b(384), y(25 * 384), dx(x.size()),
      dw(w.size()), db(384);
  for (auto _ : state) {
    if (state.range(0) == 0)
      dense_forward(s, x.data(), w.data(), b.data(), y.data());
    else
      dense_backward(s, x.data(), w.data(), y.data(), dx.data(), dw.data(), db.data());
    benchmark::DoNotOptimize(dw.data());
  }
  state.counters["flops"] =
      benchmark::Counter(2.0 * 25 * 4096 * 384 * (state.range(0) == 0 ? 1 : 2),
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaseBFc1)->DenseRange(0, 1)->Unit(benchmark::kMicrosecond);

void BM_CaseBMinibatchGradients(benchmark::State& state) {
  const Shard shard = case_b_shard(25);
  const ModelState m = initial_model(kCaseB, 1, Initialisation::Tutorial);
  for (auto _ : state) {
    ModelState g = minibatch_gradients(m, shard, 0, 25);
    benchmark::DoNotOptimize(g.tensors[0].values.data());
  }
  state.counters["flops"] =
      benchmark::Counter(case_b_flops(25), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CaseBMinibatchGradients)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
