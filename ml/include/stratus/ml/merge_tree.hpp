#pragma once
// The merge tree of synchronous model averaging (CLOUD 2018, "mlayers"): levels
// N_0 = 1 < N_1 < ... < N_L = workers. Level L holds the workers' models (leaf j = worker j);
// node j of level l < L sums a contiguous block of children of level l+1; the root (level 0)
// divides the sum by the worker count. The grouping and placement are the paper's:
//  - node j at level l owns floor(N_{l+1}/N_l) children, the first (N_{l+1} mod N_l) nodes one
//    more, in order (node 0 the first block, ...);
//  - a merge node runs on the worker that holds its group's last leaf (the last leaf under it).
// Both orchestrations (functions, driver) evaluate this tree, children in index order, so they
// give the same bits.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::ml {

class MergeTreeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct TreeNode {
  std::uint32_t level = 0;
  std::uint32_t index = 0;
  bool operator==(const TreeNode&) const = default;
};

class MergeTree {
 public:
  // Throws MergeTreeError unless levels = [1, ..., workers], strictly increasing, at least two
  // levels (one worker: [1, 1], the only tree where two levels are equal), workers <= kMaxWorkers.
  explicit MergeTree(std::vector<std::uint32_t> levels);

  static constexpr std::uint32_t kMaxWorkers = 100'000;
  static constexpr std::size_t kMaxLevels = 32;

  // "1,5,20,50,100" (spaces allowed around the numbers). Throws MergeTreeError.
  static MergeTree parse(std::string_view text);
  // The paper's [1,5,20,50,100] for 100 workers; otherwise levels growing by a factor of at most
  // 5 from the root: L = ceil(log5(workers)) levels below the root, N_l = round(workers^(l/L)),
  // made strictly increasing. Throws MergeTreeError for 0 or more than kMaxWorkers workers.
  static MergeTree default_for(std::uint32_t workers);

  const std::vector<std::uint32_t>& levels() const { return levels_; }
  std::uint32_t workers() const { return levels_.back(); }
  std::uint32_t leaf_level() const { return static_cast<std::uint32_t>(levels_.size() - 1); }
  std::string to_string() const;  // "1,5,20,50,100"

  // Children of a merge node (level < leaf_level): indices [first, first + count) at level + 1.
  struct Block {
    std::uint32_t first = 0;
    std::uint32_t count = 0;
  };
  Block children(TreeNode node) const;
  // The node of level `level - 1` whose block holds `node` (level >= 1).
  TreeNode parent(TreeNode node) const;
  // The leaves (workers) under a node: [first, first + count).
  Block leaves(TreeNode node) const;
  // The worker a node runs on: the last leaf under it (a leaf runs on itself).
  std::uint32_t host(TreeNode node) const;
  // The merge nodes hosted by `worker`, deepest level first: the order the worker runs them in
  // after training (each one needs the one before it, when both are on the same worker).
  std::vector<TreeNode> merges_on(std::uint32_t worker) const;

  bool operator==(const MergeTree&) const = default;

 private:
  void check(TreeNode node) const;
  std::vector<std::uint32_t> levels_;
};

}  // namespace stratus::ml
