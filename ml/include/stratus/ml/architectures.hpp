#pragma once
// The architectures the engine knows: their tensor layouts (names, shapes, order) and fresh models.

#include <cstdint>
#include <string_view>
#include <vector>

#include "stratus/ml/model_state.hpp"

namespace stratus::ml {

inline constexpr std::string_view kCaseA = "cloud2018-casea/1";
inline constexpr std::string_view kCaseB = "cloud2018-caseb/1";

// Case B: paper = N(0,1) everywhere (default, what the CLOUD 2018 training code runs),
// tutorial = TF CIFAR-10 tutorial init (truncated normal std 5e-2 convs, 0.04 FC 384/192,
// 1/192 output; biases 0, 0.1, 0.1, 0.1, 0). Case A: paper only.
enum class Initialisation { Paper, Tutorial };

// A freshly initialised model from the seed. One SplitMix64(seed) stream feeds every tensor in
// layout order, weights then biases, each row-major; normals come from the engine's libm-free
// sampler (initialisers.hpp). Throws std::invalid_argument for an unknown architecture or an
// initialisation the architecture does not offer.
ModelState initial_model(std::string_view architecture, std::uint64_t seed,
                         Initialisation init = Initialisation::Paper);

struct TensorLayout {
  std::string_view name;
  std::vector<std::uint64_t> shape;
};
// The architecture's tensors in order; empty for an unknown architecture.
std::vector<TensorLayout> architecture_layout(std::string_view architecture);
bool is_known_architecture(std::string_view architecture);

}  // namespace stratus::ml
