// The merge tree on the paper's trees: grouping (contiguous blocks, the first N_{l+1} mod N_l
// nodes one child more), placement (a merge node runs on the worker holding its group's last
// leaf), checked against a literal re-implementation of the paper's start_structure/merge loops.

#include "stratus/ml/merge_tree.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace stratus::ml;

namespace {

// The paper's `merge`: node `node` of level `layer` reads children [sn, en) of level layer+1.
std::pair<std::uint32_t, std::uint32_t> paper_children(const std::vector<std::uint32_t>& m,
                                                       std::uint32_t layer, std::uint32_t node) {
  std::uint32_t base = m[layer + 1] / m[layer];
  std::uint32_t remin = m[layer + 1] % m[layer];
  std::uint32_t sn = 0;
  for (std::uint32_t n = 0; n < node; ++n) {
    sn += base;
    if (remin) {
      sn += 1;
      remin -= 1;
    }
  }
  std::uint32_t en = sn + base;
  if (remin) en += 1;
  return {sn, en};
}

// The paper's `start_structure`: mstart[l][j] = the worker that runs merge node j of level l.
std::vector<std::vector<std::uint32_t>> paper_placement(const std::vector<std::uint32_t>& m) {
  std::vector<std::vector<std::uint32_t>> mstart;
  for (int l = static_cast<int>(m.size()) - 2; l >= 0; --l) {
    std::uint32_t base = m[l + 1] / m[l];
    std::uint32_t remin = m[l + 1] % m[l];
    std::vector<std::uint32_t> temp;
    std::uint32_t now = 0;
    for (std::uint32_t i = 0; i < m[l]; ++i) {
      now += base;
      if (remin > 0) {
        now += 1;
        remin -= 1;
      }
      temp.push_back(now - 1);
    }
    if (l != static_cast<int>(m.size()) - 2) {
      for (auto& t : temp) t = mstart.back()[t];
    }
    mstart.push_back(temp);
  }
  std::reverse(mstart.begin(), mstart.end());
  return mstart;
}

const std::vector<std::vector<std::uint32_t>> kTrees = {
    {1, 5, 20, 50, 100}, {1, 2, 8}, {1, 3, 7}, {1, 4, 10, 33}, {1, 100}, {1, 1}, {1, 2},
    {1, 6, 7, 13}};

}  // namespace

TEST(MergeTree, PapersTreeForOneHundredWorkers) {
  const MergeTree tree = MergeTree::default_for(100);
  EXPECT_EQ(tree.levels(), (std::vector<std::uint32_t>{1, 5, 20, 50, 100}));
  EXPECT_EQ(tree.leaf_level(), 4u);
  // Level 3 (50 nodes) over 100 leaves: two each.
  EXPECT_EQ(tree.children({3, 0}).first, 0u);
  EXPECT_EQ(tree.children({3, 0}).count, 2u);
  EXPECT_EQ(tree.children({3, 49}).first, 98u);
  // Level 2 (20 nodes) over 50: 50 mod 20 = 10 nodes of 3, then 10 of 2.
  EXPECT_EQ(tree.children({2, 9}).count, 3u);
  EXPECT_EQ(tree.children({2, 10}).count, 2u);
  EXPECT_EQ(tree.children({2, 10}).first, 30u);
  // The root sums level 1's five nodes and runs on the last worker.
  EXPECT_EQ(tree.children({0, 0}).count, 5u);
  EXPECT_EQ(tree.host({0, 0}), 99u);
  EXPECT_EQ(tree.leaves({0, 0}).count, 100u);
  // Worker 99 hosts the whole right spine, deepest first.
  EXPECT_EQ(tree.merges_on(99), (std::vector<TreeNode>{{3, 49}, {2, 19}, {1, 4}, {0, 0}}));
  EXPECT_TRUE(tree.merges_on(0).empty());
  EXPECT_EQ(tree.merges_on(1), (std::vector<TreeNode>{{3, 0}}));
}

TEST(MergeTree, GroupingMatchesThePapersMergeLoop) {
  for (const auto& levels : kTrees) {
    const MergeTree tree(levels);
    for (std::uint32_t l = 0; l + 1 < levels.size(); ++l) {
      std::uint32_t next_first = 0;
      for (std::uint32_t j = 0; j < levels[l]; ++j) {
        const auto [sn, en] = paper_children(levels, l, j);
        const auto block = tree.children({l, j});
        ASSERT_EQ(block.first, sn) << tree.to_string() << " level " << l << " node " << j;
        ASSERT_EQ(block.first + block.count, en)
            << tree.to_string() << " level " << l << " node " << j;
        // Contiguous, in order, covering the level below exactly once.
        ASSERT_EQ(block.first, next_first);
        next_first += block.count;
        const std::uint32_t base = levels[l + 1] / levels[l];
        ASSERT_EQ(block.count, base + (j < levels[l + 1] % levels[l] ? 1u : 0u));
        for (std::uint32_t c = block.first; c < block.first + block.count; ++c) {
          ASSERT_EQ(tree.parent({l + 1, c}), (TreeNode{l, j}));
        }
      }
      ASSERT_EQ(next_first, levels[l + 1]);
    }
  }
}

TEST(MergeTree, PlacementMatchesThePapersStartStructure) {
  for (const auto& levels : kTrees) {
    const MergeTree tree(levels);
    const auto mstart = paper_placement(levels);
    std::map<std::uint32_t, std::vector<TreeNode>> expected;  // worker -> merges, deepest first
    for (int l = static_cast<int>(levels.size()) - 2; l >= 0; --l) {
      for (std::uint32_t j = 0; j < levels[l]; ++j) {
        const TreeNode node{static_cast<std::uint32_t>(l), j};
        ASSERT_EQ(tree.host(node), mstart[l][j])
            << tree.to_string() << " level " << l << " node " << j;
        const auto leaves = tree.leaves(node);
        ASSERT_EQ(tree.host(node), leaves.first + leaves.count - 1);
        expected[mstart[l][j]].push_back(node);
      }
    }
    for (std::uint32_t w = 0; w < tree.workers(); ++w) {
      ASSERT_EQ(tree.merges_on(w), expected[w]) << tree.to_string() << " worker " << w;
    }
  }
}

TEST(MergeTree, SmallTreesUsedByTheTests) {
  const MergeTree tree = MergeTree::parse("1, 2,8");
  EXPECT_EQ(tree.levels(), (std::vector<std::uint32_t>{1, 2, 8}));
  EXPECT_EQ(tree.merges_on(3), (std::vector<TreeNode>{{1, 0}}));
  EXPECT_EQ(tree.merges_on(7), (std::vector<TreeNode>{{1, 1}, {0, 0}}));
  EXPECT_EQ(tree.to_string(), "1,2,8");
  const MergeTree one = MergeTree::default_for(1);
  EXPECT_EQ(one.levels(), (std::vector<std::uint32_t>{1, 1}));
  EXPECT_EQ(one.merges_on(0), (std::vector<TreeNode>{{0, 0}}));
  EXPECT_EQ(one.children({0, 0}).count, 1u);
}

TEST(MergeTree, DefaultTreesAreValidWithSmallFanIn) {
  for (std::uint32_t workers : {2u, 3u, 5u, 6u, 8u, 25u, 26u, 99u, 101u, 1000u, 4096u}) {
    const MergeTree tree = MergeTree::default_for(workers);
    EXPECT_EQ(tree.workers(), workers);
    for (std::uint32_t l = 0; l < tree.leaf_level(); ++l) {
      for (std::uint32_t j = 0; j < tree.levels()[l]; ++j)
        EXPECT_LE(tree.children({l, j}).count, 8u) << tree.to_string();
    }
  }
  EXPECT_EQ(MergeTree::default_for(8).levels(), (std::vector<std::uint32_t>{1, 3, 8}));
}

TEST(MergeTree, RefusesMalformedTrees) {
  for (const auto& bad : std::vector<std::vector<std::uint32_t>>{
           {}, {1}, {2, 4}, {1, 4, 4}, {1, 5, 3}, {1, 0}, {0, 1}, {1, 200000}}) {
    EXPECT_THROW(MergeTree{bad}, MergeTreeError);
  }
  for (const char* text :
       {"", "1,,2", "1,2,", "a", "1,2x", "1;2", "-1,2", "1,99999999999", " , "}) {
    EXPECT_THROW(MergeTree::parse(text), MergeTreeError) << text;
  }
  EXPECT_THROW(MergeTree::default_for(0), MergeTreeError);
  const MergeTree tree({1, 2, 8});
  EXPECT_THROW(tree.children({2, 0}), std::out_of_range);
  EXPECT_THROW(tree.parent({0, 0}), std::out_of_range);
  EXPECT_THROW(tree.host({1, 2}), std::out_of_range);
  EXPECT_THROW(tree.merges_on(8), std::out_of_range);
}
