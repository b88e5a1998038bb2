#pragma once
// The project's seeded generator, shared by the trainer and the functions. SplitMix64 is tiny,
// fast and fully specified, so a seed means the same data on every platform and with every
// standard library (std::mt19937 is specified too, but std's distributions are not).

#include <cmath>
#include <cstdint>

namespace stratus::ml {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // Box-Muller; one of the pair is dropped to keep the sequence simple to reason about.
  double normal() {
    double u1 = uniform01();
    double u2 = uniform01();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::uint64_t state_;
};

}  // namespace stratus::ml
