// stratus-linear-gradient-throughput [rows] [features] [repetitions]
//
// Measures stratus::linear_gradient on a float32 shard (default 1,000,000 x 100, 400 MB) against
// a memory-bandwidth probe run in the same process on the same array: a sum of its 64-bit
// words, which streams the data once and does almost no arithmetic. Reports the best and median
// repetitions as GB/s of x (the y and weight traffic is under 1%), and the ratio of the two.
// Single-threaded, like the kernel. Not a test: build target stratus-linear-gradient-throughput.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "stratus/common/linear_model.hpp"

namespace {

template <typename Work>
double seconds_of(Work&& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Timing {
  double best = 0;
  double median = 0;
};

Timing summarise(std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  return {seconds.front(), seconds[seconds.size() / 2]};
}

// Reads the array as 64-bit words and adds them: integer addition is associative, so the compiler
// vectorises it freely and the loop runs at the speed memory delivers the data.
std::uint64_t sum_words(const std::vector<float>& values) {
  const std::size_t words = values.size() * sizeof(float) / sizeof(std::uint64_t);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t word;
    std::memcpy(&word, reinterpret_cast<const char*>(values.data()) + i * sizeof(word),
                sizeof(word));
    total += word;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::size_t features = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100;
  const int repetitions = argc > 3 ? std::atoi(argv[3]) : 7;

  std::mt19937 random(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(rows * features);
  std::vector<float> y(rows);
  std::vector<double> weights(features);
  for (float& v : x) v = uniform(random);
  for (float& v : y) v = uniform(random);
  for (double& w : weights) w = uniform(random);

  volatile double sink = 0;
  const double bytes = static_cast<double>(x.size() * sizeof(float));
  // Interleaved so that both see the same machine state (frequency, other load). On a shared
  // machine the best run is the better estimate of what the hardware does; the median shows the
  // noise.
  std::vector<double> probe_seconds;
  std::vector<double> kernel_seconds;
  for (int round = 0; round < repetitions; ++round) {
    probe_seconds.push_back(seconds_of([&] { sink = static_cast<double>(sum_words(x)); }));
    kernel_seconds.push_back(
        seconds_of([&] { sink = stratus::linear_gradient(x, y, weights, 0.5).sse; }));
  }
  const Timing probe = summarise(probe_seconds);
  const Timing kernel = summarise(kernel_seconds);
  std::printf("x: %zu x %zu float32 = %.1f MB, %d interleaved repetitions\n", rows, features,
              bytes / 1e6, repetitions);
  std::printf("%-24s %9s %9s %11s %11s\n", "", "best ms", "median ms", "best GB/s", "median GB/s");
  for (const auto& [name, timing] :
       {std::pair{"bandwidth probe (sum)", probe}, std::pair{"linear_gradient", kernel}}) {
    std::printf("%-24s %9.2f %9.2f %11.2f %11.2f\n", name, timing.best * 1e3, timing.median * 1e3,
                bytes / timing.best / 1e9, bytes / timing.median / 1e9);
  }
  std::printf("kernel / probe throughput: best %.2f, median %.2f\n", probe.best / kernel.best,
              probe.median / kernel.median);
  return 0;
}
