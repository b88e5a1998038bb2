// The merge tree's grouping and placement (rules in merge_tree.hpp).

#include "stratus/ml/merge_tree.hpp"

#include <charconv>
#include <cmath>

namespace stratus::ml {

MergeTree::MergeTree(std::vector<std::uint32_t> levels) : levels_(std::move(levels)) {
  if (levels_.size() < 2 || levels_.size() > kMaxLevels) {
    throw MergeTreeError("merge tree: expected 2 to " + std::to_string(kMaxLevels) +
                         " levels (1,...,workers), got " + std::to_string(levels_.size()));
  }
  if (levels_.front() != 1)
    throw MergeTreeError("merge tree: the first level must be 1 (the root)");
  if (levels_.back() == 0 || levels_.back() > kMaxWorkers) {
    throw MergeTreeError("merge tree: the last level (the worker count) must be 1.." +
                         std::to_string(kMaxWorkers));
  }
  const bool single_worker = levels_.size() == 2 && levels_[1] == 1;
  for (std::size_t l = 1; l < levels_.size() && !single_worker; ++l) {
    if (levels_[l] <= levels_[l - 1]) {
      throw MergeTreeError("merge tree: levels must increase strictly, but level " +
                           std::to_string(l) + " has " + std::to_string(levels_[l]) +
                           " nodes after " + std::to_string(levels_[l - 1]) + " (" + to_string() +
                           ")");
    }
  }
}

MergeTree MergeTree::parse(std::string_view text) {
  std::vector<std::uint32_t> levels;
  std::size_t position = 0;
  while (true) {
    std::size_t comma = text.find(',', position);
    std::string_view item =
        text.substr(position, comma == std::string_view::npos ? text.npos : comma - position);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    std::uint32_t value = 0;
    auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size()) {
      throw MergeTreeError("merge tree: '" + std::string(text) +
                           "' is not a comma-separated list of level sizes such as 1,5,20,50,100");
    }
    levels.push_back(value);
    if (levels.size() > kMaxLevels)
      throw MergeTreeError("merge tree: more than " + std::to_string(kMaxLevels) + " levels");
    if (comma == std::string_view::npos) break;
    position = comma + 1;
  }
  return MergeTree(std::move(levels));
}

MergeTree MergeTree::default_for(std::uint32_t workers) {
  if (workers == 0 || workers > kMaxWorkers) {
    throw MergeTreeError("merge tree: the worker count must be 1.." + std::to_string(kMaxWorkers));
  }
  if (workers == 100) return MergeTree({1, 5, 20, 50, 100});
  if (workers == 1) return MergeTree({1, 1});
  std::uint32_t depth = 1;
  for (std::uint64_t reach = 5; reach < workers; reach *= 5) ++depth;
  std::vector<std::uint32_t> levels{1};
  for (std::uint32_t l = 1; l <= depth; ++l) {
    auto size = static_cast<std::uint32_t>(
        std::llround(std::pow(double(workers), double(l) / double(depth))));
    if (l == depth) size = workers;
    if (size > levels.back() && size <= workers) levels.push_back(size);
  }
  if (levels.back() != workers) levels.push_back(workers);
  return MergeTree(std::move(levels));
}

std::string MergeTree::to_string() const {
  std::string text;
  for (std::size_t l = 0; l < levels_.size(); ++l) {
    if (l > 0) text += ',';
    text += std::to_string(levels_[l]);
  }
  return text;
}

void MergeTree::check(TreeNode node) const {
  if (node.level >= levels_.size() || node.index >= levels_[node.level]) {
    throw std::out_of_range("merge tree " + to_string() + " has no node " +
                            std::to_string(node.index) + " at level " + std::to_string(node.level));
  }
}

MergeTree::Block MergeTree::children(TreeNode node) const {
  check(node);
  if (node.level == leaf_level()) throw std::out_of_range("merge tree: a leaf has no children");
  const std::uint32_t parents = levels_[node.level];
  const std::uint32_t below = levels_[node.level + 1];
  const std::uint32_t base = below / parents;
  const std::uint32_t extra = below % parents;
  const std::uint32_t first = node.index * base + std::min(node.index, extra);
  return {first, base + (node.index < extra ? 1u : 0u)};
}

TreeNode MergeTree::parent(TreeNode node) const {
  check(node);
  if (node.level == 0) throw std::out_of_range("merge tree: the root has no parent");
  const std::uint32_t parents = levels_[node.level - 1];
  const std::uint32_t below = levels_[node.level];
  const std::uint32_t base = below / parents;
  const std::uint32_t extra = below % parents;
  // The first `extra` parents own base + 1 children each.
  const std::uint32_t big = extra * (base + 1);
  const std::uint32_t index =
      node.index < big ? node.index / (base + 1) : extra + (node.index - big) / base;
  return {node.level - 1, index};
}

MergeTree::Block MergeTree::leaves(TreeNode node) const {
  check(node);
  Block block{node.index, 1};
  for (std::uint32_t level = node.level; level < leaf_level(); ++level) {
    const Block first = children({level, block.first});
    const Block last = children({level, block.first + block.count - 1});
    block = {first.first, last.first + last.count - first.first};
  }
  return block;
}

std::uint32_t MergeTree::host(TreeNode node) const {
  const Block block = leaves(node);
  return block.first + block.count - 1;
}

std::vector<TreeNode> MergeTree::merges_on(std::uint32_t worker) const {
  if (worker >= workers())
    throw std::out_of_range("merge tree: no worker " + std::to_string(worker));
  std::vector<TreeNode> nodes;
  TreeNode node{leaf_level(), worker};
  while (node.level > 0) {
    const TreeNode up = parent(node);
    if (host(up) != worker) break;  // hosts are the last leaf: once not ours, no ancestor is
    nodes.push_back(up);
    node = up;
  }
  return nodes;
}

}  // namespace stratus::ml
