#pragma once
// Fully connected networks of any widths as a model architecture: "mlp/1:D-H1-...-O" (e.g.
// "mlp/1:12-8-4-1"), tensors l{i}.weight [in,out] and l{i}.bias [out] for i = 1..layers (the
// DESIGN.md npz names). The layer-parallel workload and the hyperparameter search save their
// models under it, so encode_model / model_sha256 / save_npz validate them like Case A/B.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/ml/architectures.hpp"

namespace stratus::ml {

inline constexpr std::string_view kMlpPrefix = "mlp/1:";
inline constexpr std::size_t kMlpMaxLayers = 32;
inline constexpr std::uint64_t kMlpMaxWidth = 1u << 16;

// "mlp/1:" + widths joined by '-'. Throws std::invalid_argument for fewer than two widths, more
// than kMlpMaxLayers layers, or a width of 0 or above kMlpMaxWidth.
std::string mlp_architecture(const std::vector<std::uint32_t>& widths);
// The widths of an "mlp/1:..." name; nullopt for anything else (another architecture, a malformed
// or out-of-range list).
std::optional<std::vector<std::uint32_t>> mlp_widths(std::string_view architecture);
// The layout of an "mlp/1:..." name (empty when it is not one).
std::vector<TensorLayout> mlp_layout(std::string_view architecture);

}  // namespace stratus::ml
