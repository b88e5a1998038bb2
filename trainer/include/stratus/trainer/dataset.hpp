#pragma once
// Training data for the linear-regression workload: rows of float32 features and a float32 target,
// row-major. float32 storage keeps every value exactly representable in both payload formats
// (JSON numbers and float32 tensors), which is what makes backends agree bit for bit.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "stratus/ml/dataset_error.hpp"

namespace stratus::trainer {

struct Dataset {
  std::size_t rows = 0;
  std::size_t features = 0;
  std::vector<float> x;  // rows * features
  std::vector<float> y;  // rows
};

using ml::DatasetError;

struct SyntheticLinearSpec {
  std::size_t rows = 10000;
  std::size_t features = 10;
  double noise = 0.1;
  std::uint64_t seed = 1;
};

// y = X w* + b* + noise * N(0,1), with X ~ U(-1, 1) and w*, b* ~ N(0,1), all from `seed` with a
// generator whose output is fixed by this code (not by the standard library's distributions).
Dataset make_synthetic_linear(const SyntheticLinearSpec& spec,
                              std::vector<double>* true_weights = nullptr,
                              double* true_bias = nullptr);

// CSV: features..., target per line; an optional header line (any non-numeric first line);
// blank lines skipped. Errors name the file, line and column.
Dataset load_csv(const std::filesystem::path& file);

}  // namespace stratus::trainer
