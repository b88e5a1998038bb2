#pragma once
// Reads the arrays written by tests/ml_reference/make_reference.py (format in its docstring).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace stratus::ml::testing {

struct RefArray {
  std::vector<std::uint64_t> shape;
  std::vector<double> values;
  std::vector<float> f32() const { return std::vector<float>(values.begin(), values.end()); }
  std::vector<std::int32_t> i32() const {
    std::vector<std::int32_t> out;
    for (double v : values) out.push_back(static_cast<std::int32_t>(v));
    return out;
  }
};

class ReferenceFixtures {
 public:
  explicit ReferenceFixtures(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.compare(0, 8, "STMLREF1") != 0) throw std::runtime_error("bad fixture magic");
    std::size_t pos = 8;
    auto take = [&](void* out, std::size_t n) {
      if (n > bytes.size() - pos) throw std::runtime_error("truncated fixture file");
      std::memcpy(out, bytes.data() + pos, n);
      pos += n;
    };
    while (pos < bytes.size()) {
      std::uint32_t len = 0, rank = 0;
      take(&len, 4);
      std::string name(len, '\0');
      take(name.data(), len);
      take(&rank, 4);
      RefArray a;
      a.shape.resize(rank);
      std::uint64_t count = 1;
      for (auto& d : a.shape) {
        take(&d, 8);
        count *= d;
      }
      a.values.resize(count);
      take(a.values.data(), count * 8);
      arrays_[name] = std::move(a);
    }
  }
  const RefArray& operator[](const std::string& name) const {
    const auto it = arrays_.find(name);
    if (it == arrays_.end()) throw std::runtime_error("no fixture array " + name);
    return it->second;
  }

 private:
  std::map<std::string, RefArray> arrays_;
};

inline const ReferenceFixtures& fixtures() {
  static const ReferenceFixtures f(STRATUS_ML_REFERENCE);
  return f;
}

// Every |actual - expected| <= atol_scale * max|expected| + rtol * |expected|.
inline void expect_close(const std::vector<float>& actual, const std::vector<double>& expected,
                         double rtol, double atol_scale, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double scale = 0;
  for (double e : expected) scale = std::max(scale, std::abs(e));
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double err = std::abs(static_cast<double>(actual[i]) - expected[i]);
    const double allowed = atol_scale * scale + rtol * std::abs(expected[i]);
    if (err - allowed > worst) {
      worst = err - allowed;
      worst_at = i;
    }
  }
  EXPECT_EQ(worst, 0.0) << what << ": index " << worst_at << " is " << actual[worst_at]
                        << ", expected " << expected[worst_at] << " (scale " << scale << ")";
}

}  // namespace stratus::ml::testing
