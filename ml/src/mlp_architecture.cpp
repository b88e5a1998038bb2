// "mlp/1:D-H-...-O" architectures: parsing and layout.

#include "stratus/ml/mlp_architecture.hpp"

#include <charconv>
#include <deque>
#include <mutex>
#include <stdexcept>

namespace stratus::ml {
namespace {

// TensorLayout names are string_views: the names of every possible layer live here for the
// program's lifetime (2 x kMlpMaxLayers short strings).
std::string_view layer_tensor_name(std::size_t layer, bool bias) {
  static const std::deque<std::string> names = [] {
    std::deque<std::string> all;
    for (std::size_t i = 1; i <= kMlpMaxLayers; ++i) {
      // Appended piece by piece: GCC 12 misreads `"l" + std::to_string(i)` as an overlapping
      // memcpy (-Wrestrict), which -Werror turns into a build failure.
      std::string prefix(1, 'l');
      prefix += std::to_string(i);
      all.push_back(prefix + ".weight");
      all.push_back(prefix + ".bias");
    }
    return all;
  }();
  return names[2 * (layer - 1) + (bias ? 1 : 0)];
}

bool valid_widths(const std::vector<std::uint32_t>& widths) {
  if (widths.size() < 2 || widths.size() > kMlpMaxLayers + 1) return false;
  for (std::uint32_t w : widths) {
    if (w == 0 || w > kMlpMaxWidth) return false;
  }
  return true;
}

}  // namespace

std::string mlp_architecture(const std::vector<std::uint32_t>& widths) {
  if (!valid_widths(widths)) {
    throw std::invalid_argument("an mlp needs 2 to " + std::to_string(kMlpMaxLayers + 1) +
                                " widths, each 1.." + std::to_string(kMlpMaxWidth));
  }
  std::string name(kMlpPrefix);
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (i) name += '-';
    name += std::to_string(widths[i]);
  }
  return name;
}

std::optional<std::vector<std::uint32_t>> mlp_widths(std::string_view architecture) {
  if (!architecture.starts_with(kMlpPrefix)) return std::nullopt;
  std::string_view rest = architecture.substr(kMlpPrefix.size());
  std::vector<std::uint32_t> widths;
  while (true) {
    std::uint32_t value = 0;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (error != std::errc() || end == rest.data()) return std::nullopt;
    widths.push_back(value);
    if (widths.size() > kMlpMaxLayers + 1) return std::nullopt;
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    if (rest.empty()) break;
    if (rest.front() != '-') return std::nullopt;
    rest.remove_prefix(1);
  }
  if (!valid_widths(widths)) return std::nullopt;
  // Only the canonical spelling names the architecture (no leading zeros, no '+').
  if (mlp_architecture(widths) != architecture) return std::nullopt;
  return widths;
}

std::vector<TensorLayout> mlp_layout(std::string_view architecture) {
  const auto widths = mlp_widths(architecture);
  if (!widths) return {};
  std::vector<TensorLayout> layout;
  for (std::size_t i = 1; i < widths->size(); ++i) {
    layout.push_back({layer_tensor_name(i, false), {(*widths)[i - 1], (*widths)[i]}});
    layout.push_back({layer_tensor_name(i, true), {(*widths)[i]}});
  }
  return layout;
}

}  // namespace stratus::ml
