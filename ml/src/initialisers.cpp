// Normal draws without libm: Marsaglia's polar method needs only a logarithm (Eigen's packet
// log for doubles) and sqrt (IEEE, exact rounding).

#include "stratus/ml/initialisers.hpp"

#include <cmath>

#include "vector_math.hpp"

namespace stratus::ml {

double NormalSampler::next() {
  if (has_pending_) {
    has_pending_ = false;
    return pending_;
  }
  for (;;) {
    const double u = 2.0 * random_.uniform01() - 1.0;
    const double v = 2.0 * random_.uniform01() - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    double log_s = 0;
    detail::vec_log_f64(1, &s, &log_s);
    const double f = std::sqrt(-2.0 * log_s / s);
    pending_ = v * f;
    has_pending_ = true;
    return u * f;
  }
}

void fill_normal(std::span<float> out, NormalSampler& normal, float mean, float stddev) {
  for (float& x : out) {
    x = static_cast<float>(static_cast<double>(mean) + static_cast<double>(stddev) * normal.next());
  }
}

void fill_truncated_normal(std::span<float> out, NormalSampler& normal, float mean, float stddev) {
  for (float& x : out) {
    double z = normal.next();
    while (z < -2.0 || z > 2.0) z = normal.next();
    x = static_cast<float>(static_cast<double>(mean) + static_cast<double>(stddev) * z);
  }
}

void fill_constant(std::span<float> out, float value) {
  for (float& x : out) x = value;
}

}  // namespace stratus::ml
