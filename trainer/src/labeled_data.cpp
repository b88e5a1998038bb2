#include "stratus/trainer/labeled_data.hpp"

#include <algorithm>

namespace stratus::trainer {

std::vector<std::uint64_t> LabeledData::sample_shape() const {
  if (features.shape.empty()) return {};
  return {features.shape.begin() + 1, features.shape.end()};
}

std::uint64_t LabeledData::sample_elements() const {
  std::uint64_t elements = 1;
  for (std::size_t i = 1; i < features.shape.size(); ++i) {
    if (__builtin_mul_overflow(elements, features.shape[i], &elements)) {
      throw DatasetError("labeled data: the sample shape overflows");
    }
  }
  return elements;
}

void LabeledData::validate() const {
  auto fail = [](const std::string& message) { throw DatasetError("labeled data: " + message); };
  if (features.dtype != DType::uint8 && features.dtype != DType::float32) {
    fail("features must be uint8 or float32, not " + std::string(dtype_name(features.dtype)));
  }
  if (features.shape.size() < 2 || features.shape.size() > 4) {
    fail("features must have shape [count, 1 to 3 sample dims]");
  }
  for (std::size_t i = 1; i < features.shape.size(); ++i) {
    if (features.shape[i] == 0) fail("a sample dimension is 0");
  }
  const std::uint64_t n = count();
  if (n == 0) fail("no samples");
  std::uint64_t elements = 0;
  if (__builtin_mul_overflow(n, sample_elements(), &elements) || features.size() != elements) {
    fail("the features hold " + std::to_string(features.size()) + " values, their shape says " +
         std::to_string(elements));
  }
  const std::size_t stored =
      features.f32.size() + features.f64.size() + features.u8.size() + features.i32.size();
  if (stored != features.size()) fail("the features hold values of another dtype");

  if (labels.dtype != DType::int32 && labels.dtype != DType::float32) {
    fail("labels must be int32 or float32, not " + std::string(dtype_name(labels.dtype)));
  }
  if (labels.shape.size() != 1 || labels.shape[0] != n || labels.size() != n) {
    fail("labels must have shape [" + std::to_string(n) + "] with as many values");
  }
  if (labels.f32.size() + labels.f64.size() + labels.u8.size() + labels.i32.size() != n) {
    fail("the labels hold values of another dtype");
  }
  if (labels.dtype == DType::int32) {
    if (classes.empty()) fail("int32 labels need their classes");
    if (!std::is_sorted(classes.begin(), classes.end()) ||
        std::adjacent_find(classes.begin(), classes.end()) != classes.end()) {
      fail("classes must be strictly ascending");
    }
    for (std::size_t i = 0; i < labels.i32.size(); ++i) {
      if (!std::binary_search(classes.begin(), classes.end(), labels.i32[i])) {
        fail("label " + std::to_string(labels.i32[i]) + " of sample " + std::to_string(i) +
             " is not one of the classes");
      }
    }
  } else if (!classes.empty()) {
    fail("float32 targets have no classes");
  }
  if (sources.empty() && generator.empty()) fail("neither source files nor a generator");
}

}  // namespace stratus::trainer
