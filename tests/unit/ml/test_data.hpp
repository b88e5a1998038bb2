#pragma once
// Small deterministic shards for the engine's tests (SplitMix64, like the trainer's datasets).

#include <cstdint>
#include <vector>

#include "stratus/common/shard_codec.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml::testing {

// Case A style: n rows of 20 values +/-1. As in the paper's data (the upper half of the sorted
// 20-bit integers is +1), the label is a threshold on the leading bits: +1 when
// 4*x[19] + 2*x[18] + x[17] > 0.
inline Shard case_a_shard(std::uint64_t n, std::uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<float> f(n * 20);
  std::vector<std::int32_t> l(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    for (std::uint64_t j = 0; j < 20; ++j) f[i * 20 + j] = (r.next() >> 63) != 0 ? 1.0f : -1.0f;
    const float* x = f.data() + i * 20;
    l[i] = 4 * x[19] + 2 * x[18] + x[17] > 0 ? 1 : -1;
  }
  Shard s;
  s.features = Tensor::of_f32({n, 20}, std::move(f));
  s.labels = Tensor::of_i32({n}, std::move(l));
  return s;
}

// Case B style: n CHW uint8 images [n,3,32,32] with labels 0..9; each image is noise plus a
// class-dependent brightness in one colour plane, so a network can learn something.
inline Shard case_b_shard(std::uint64_t n, std::uint64_t seed) {
  SplitMix64 r(seed);
  std::vector<std::uint8_t> f(n * 3 * 32 * 32);
  std::vector<std::int32_t> l(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::int32_t>(r.next() % 10);
    l[i] = label;
    for (std::uint64_t c = 0; c < 3; ++c) {
      for (std::uint64_t p = 0; p < 32 * 32; ++p) {
        const std::uint64_t noise = r.next() % 64;
        const std::uint64_t signal = (static_cast<std::uint64_t>(label) % 3 == c)
                                         ? 20 * static_cast<std::uint64_t>(label)
                                         : 0;
        f[(i * 3 + c) * 1024 + p] =
            static_cast<std::uint8_t>(std::min<std::uint64_t>(255, noise + signal));
      }
    }
  }
  Shard s;
  s.features = Tensor::of_u8({n, 3, 32, 32}, std::move(f));
  s.labels = Tensor::of_i32({n}, std::move(l));
  return s;
}

}  // namespace stratus::ml::testing
