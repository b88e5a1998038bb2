#include "stratus/trainer/dataset.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <string>

namespace stratus::trainer {

namespace {

// SplitMix64: tiny, fast and fully specified, so a seed means the same data everywhere.
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
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

}  // namespace

Dataset make_synthetic_linear(const SyntheticLinearSpec& spec, std::vector<double>* true_weights,
                              double* true_bias) {
  if (spec.rows == 0 || spec.features == 0) throw DatasetError("synthetic data needs rows and features > 0");
  SeededRandom rng(spec.seed);
  std::vector<double> w(spec.features);
  for (auto& v : w) v = rng.normal();
  double b = rng.normal();
  Dataset d;
  d.rows = spec.rows;
  d.features = spec.features;
  d.x.resize(spec.rows * spec.features);
  d.y.resize(spec.rows);
  for (std::size_t i = 0; i < spec.rows; ++i) {
    double target = b;
    float* row = &d.x[i * spec.features];
    for (std::size_t j = 0; j < spec.features; ++j) {
      row[j] = static_cast<float>(rng.uniform(-1.0, 1.0));
      target += w[j] * row[j];
    }
    d.y[i] = static_cast<float>(target + spec.noise * rng.normal());
  }
  if (true_weights) *true_weights = w;
  if (true_bias) *true_bias = b;
  return d;
}

namespace {

bool parse_float(std::string_view text, float& out) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  if (text.empty()) return false;
  if (text.front() == '+') text.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

}  // namespace

Dataset load_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw DatasetError("cannot open '" + file.string() + "'");
  Dataset d;
  std::string line;
  std::size_t line_number = 0;
  std::vector<float> values;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    values.clear();
    std::size_t start = 0;
    bool numeric = true;
    std::size_t column = 0;
    while (true) {
      auto comma = line.find(',', start);
      std::string_view cell(line.data() + start, (comma == std::string::npos ? line.size() : comma) - start);
      float v;
      ++column;
      if (!parse_float(cell, v)) {
        numeric = false;
        break;
      }
      values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (!numeric) {
      if (d.rows == 0 && d.features == 0 && line_number == 1) continue;  // a header
      throw DatasetError(file.string() + ":" + std::to_string(line_number) + ": column " +
                         std::to_string(column) + " is not a finite number");
    }
    if (values.size() < 2) {
      throw DatasetError(file.string() + ":" + std::to_string(line_number) +
                         ": needs at least one feature and a target");
    }
    if (d.features == 0) d.features = values.size() - 1;
    if (values.size() != d.features + 1) {
      throw DatasetError(file.string() + ":" + std::to_string(line_number) + ": has " +
                         std::to_string(values.size()) + " columns, expected " +
                         std::to_string(d.features + 1));
    }
    d.x.insert(d.x.end(), values.begin(), values.end() - 1);
    d.y.push_back(values.back());
    ++d.rows;
  }
  if (d.rows == 0) throw DatasetError("'" + file.string() + "' has no data rows");
  return d;
}

}  // namespace stratus::trainer
