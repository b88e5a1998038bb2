// The single core's floating-point peak, measured: independent chains of packed FMAs (12
// accumulators hide the FMA latency), for AVX2 (the engine's x86-64-v3 level) and, for context,
// AVX-512 (what PyTorch's oneDNN kernels may use on this CPU). flops/s = peak GFLOP/s.

#include <benchmark/benchmark.h>
#include <immintrin.h>

namespace {

constexpr int kSteps = 1 << 16;

__attribute__((target("avx2,fma"))) float avx2_chains(float seed) {
  __m256 acc[12];
  for (auto& a : acc) a = _mm256_set1_ps(seed);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < kSteps; ++i) {
    for (auto& a : acc) a = _mm256_fmadd_ps(a, m, c);
  }
  __m256 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, acc[k]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) float avx512_chains(float seed) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_set1_ps(seed);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < kSteps; ++i) {
    for (auto& a : acc) a = _mm512_fmadd_ps(a, m, c);
  }
  for (int k = 1; k < 12; ++k) acc[0] = _mm512_add_ps(acc[0], acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  return lanes[0] + lanes[15];
}

void BM_PeakAvx2Fma(benchmark::State& state) {
  float x = 1.0f;
  for (auto _ : state) benchmark::DoNotOptimize(x = avx2_chains(x));
  state.counters["flops"] =
      benchmark::Counter(2.0 * 8 * 12 * kSteps, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PeakAvx2Fma)->Unit(benchmark::kMicrosecond);

void BM_PeakAvx512Fma(benchmark::State& state) {
  float x = 1.0f;
  for (auto _ : state) benchmark::DoNotOptimize(x = avx512_chains(x));
  state.counters["flops"] =
      benchmark::Counter(2.0 * 16 * 12 * kSteps, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PeakAvx512Fma)->Unit(benchmark::kMicrosecond);

}  // namespace
