// The architectures' tensor layouts (DESIGN.md npz names) and their initial models.

#include "stratus/ml/architectures.hpp"

#include <stdexcept>
#include <string>

#include "stratus/ml/initialisers.hpp"
#include "stratus/ml/mlp_architecture.hpp"

namespace stratus::ml {
namespace {

std::vector<TensorLayout> case_a_layout() {
  // 20-100-100-100-100-100-1
  static constexpr std::string_view kNames[] = {"l1.weight", "l1.bias", "l2.weight", "l2.bias",
                                                "l3.weight", "l3.bias", "l4.weight", "l4.bias",
                                                "l5.weight", "l5.bias", "l6.weight", "l6.bias"};
  const std::uint64_t widths[] = {20, 100, 100, 100, 100, 100, 1};
  std::vector<TensorLayout> layout;
  for (std::size_t i = 0; i < 6; ++i) {
    layout.push_back({kNames[2 * i], {widths[i], widths[i + 1]}});
    layout.push_back({kNames[2 * i + 1], {widths[i + 1]}});
  }
  return layout;
}

std::vector<TensorLayout> case_b_layout() {
  return {
      {"conv1.weight", {5, 5, 3, 64}},   {"conv1.bias", {64}},
      {"conv2.weight", {5, 5, 64, 64}},  {"conv2.bias", {64}},
      {"fc1.weight", {8 * 8 * 64, 384}}, {"fc1.bias", {384}},
      {"fc2.weight", {384, 192}},        {"fc2.bias", {192}},
      {"fc3.weight", {192, 10}},         {"fc3.bias", {10}},
  };
}

std::uint64_t element_count(const std::vector<std::uint64_t>& shape) {
  std::uint64_t n = 1;
  for (std::uint64_t d : shape) n *= d;
  return n;
}

ModelState empty_model(std::string_view architecture) {
  ModelState model;
  model.architecture = std::string(architecture);
  for (const TensorLayout& t : architecture_layout(architecture)) {
    model.tensors.push_back({std::string(t.name), t.shape,
                             std::vector<float>(static_cast<std::size_t>(element_count(t.shape)))});
  }
  return model;
}

// The TF CIFAR-10 tutorial's initialisation, tensor by tensor in layout order:
// (truncated-normal stddev of the weight, constant bias).
struct TutorialInit {
  float weight_stddev;
  float bias;
};
constexpr TutorialInit kCaseBTutorial[] = {
    {5e-2f, 0.0f}, {5e-2f, 0.1f}, {0.04f, 0.1f}, {0.04f, 0.1f}, {1.0f / 192.0f, 0.0f}};

}  // namespace

std::vector<TensorLayout> architecture_layout(std::string_view architecture) {
  if (architecture == kCaseA) return case_a_layout();
  if (architecture == kCaseB) return case_b_layout();
  return mlp_layout(architecture);  // "mlp/1:..." (mlp_architecture.hpp), else empty
}

bool is_known_architecture(std::string_view architecture) {
  return !architecture_layout(architecture).empty();
}

ModelState initial_model(std::string_view architecture, std::uint64_t seed, Initialisation init) {
  if (!is_known_architecture(architecture)) {
    throw std::invalid_argument("initial_model: unknown architecture '" +
                                std::string(architecture) + "'");
  }
  if (init == Initialisation::Tutorial && architecture != kCaseB) {
    throw std::invalid_argument("initial_model: '" + std::string(architecture) +
                                "' has only the paper's initialisation");
  }
  ModelState model = empty_model(architecture);
  SplitMix64 random(seed);
  NormalSampler normal(random);
  if (init == Initialisation::Paper) {
    // TF random_normal(mean 0, stddev 1) for every weight and bias.
    for (NamedTensor& t : model.tensors) fill_normal(t.values, normal, 0.0f, 1.0f);
    return model;
  }
  for (std::size_t layer = 0; layer < std::size(kCaseBTutorial); ++layer) {
    fill_truncated_normal(model.tensors[2 * layer].values, normal, 0.0f,
                          kCaseBTutorial[layer].weight_stddev);
    fill_constant(model.tensors[2 * layer + 1].values, kCaseBTutorial[layer].bias);
  }
  return model;
}

}  // namespace stratus::ml
