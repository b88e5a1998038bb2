#pragma once
// Seeded initialisers on SplitMix64. Normals come from Marsaglia's polar method with the
// logarithm computed by Eigen's vectorised log (code compiled into stratus_ml, not libm), so a
// seed gives the same bits with every C library, static or dynamic.

#include <cstdint>
#include <span>

#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml {

// A stream of standard normal doubles: each accepted polar pair (u, v) with s = u^2 + v^2 in
// (0, 1) yields u*f then v*f, f = sqrt(-2 ln s / s); u, v = 2*uniform01 - 1 drawn in that order.
class NormalSampler {
 public:
  explicit NormalSampler(SplitMix64& random) : random_(random) {}
  double next();

 private:
  SplitMix64& random_;
  double pending_ = 0;
  bool has_pending_ = false;
};

void fill_normal(std::span<float> out, NormalSampler& normal, float mean, float stddev);
// TF truncated_normal: draws outside mean +/- 2*stddev are discarded and drawn again.
void fill_truncated_normal(std::span<float> out, NormalSampler& normal, float mean, float stddev);
void fill_constant(std::span<float> out, float value);

}  // namespace stratus::ml
