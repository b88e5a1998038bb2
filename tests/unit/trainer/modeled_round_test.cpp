#include "stratus/trainer/modeled_round.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "stratus/ml/merge_tree.hpp"
#include "stratus/ml/model_averaging.hpp"
#include "stratus/trainer/emulator_s3_profile.hpp"
#include "stratus/trainer/html_report.hpp"

using namespace stratus::trainer;

namespace {

TaskOutcome outcome(std::map<std::string, std::string> modeled) {
  TaskOutcome o;
  o.result.telemetry.modeled = std::move(modeled);
  return o;
}

}  // namespace

TEST(ModeledRound, CallTimeIsDurationPlusInit) {
  InvocationTelemetry t;
  EXPECT_FALSE(modeled_call_ms(t).has_value());
  t.modeled = {{"duration-ms", "12.5"}, {"init-ms", "40"}, {"cost-usd", "0.001"}};
  EXPECT_DOUBLE_EQ(*modeled_call_ms(t), 52.5);
  EXPECT_DOUBLE_EQ(*modeled_call_cost_usd(t), 0.001);
  t.modeled["duration-ms"] = "nonsense";
  EXPECT_FALSE(modeled_call_ms(t).has_value());
  t.modeled["duration-ms"] = "-3";
  EXPECT_FALSE(modeled_call_ms(t).has_value());
}

TEST(ModeledRound, FanOutWaitsForTheSlowestCall) {
  std::vector<TaskOutcome> outcomes = {outcome({{"duration-ms", "10"}}),
                                       outcome({{"duration-ms", "30"}, {"init-ms", "5"}}),
                                       outcome({{"duration-ms", "20"}})};
  EXPECT_DOUBLE_EQ(*modeled_fan_out_ms(outcomes), 35);
  outcomes.push_back(outcome({}));  // one answer without figures: no modeled time
  EXPECT_FALSE(modeled_fan_out_ms(outcomes).has_value());
}

TEST(ModeledRound, MergeTreeComposesAlongTheCriticalPath) {
  // The paper's tree shape, small: levels 1, 2, 4 (root; 2 mergers of 2 leaves each).
  const stratus::ml::MergeTree tree = stratus::ml::MergeTree::parse("1,2,4");
  TreeShape shape;
  shape.leaf_level = tree.leaf_level();
  shape.children = [&](std::uint32_t level, std::uint32_t node) {
    auto block = tree.children({level, node});
    return std::pair{block.first, block.count};
  };
  const std::vector<double> leaves = {10, 50, 20, 30};
  // Each inner node costs 1 + its level: node (1,0) ready at 50 + 2, node (1,1) at 30 + 2, root at
  // 52 + 1.
  const double root = compose_merge_tree(
      shape, leaves, [](std::uint32_t level, std::uint32_t) { return 1.0 + level; });
  EXPECT_DOUBLE_EQ(root, 53);
  EXPECT_THROW(compose_merge_tree(shape, {1, 2}, [](std::uint32_t, std::uint32_t) { return 0.0; }),
               std::out_of_range);
}

TEST(ModeledRound, S3ProfileAndShare) {
  S3TimeProfile s3;
  EXPECT_DOUBLE_EQ(s3.get_ms(8'500'000), 100 + 100);
  EXPECT_DOUBLE_EQ(single_thread_share(1769), 1.0);
  EXPECT_DOUBLE_EQ(single_thread_share(3008), 1.0);
  EXPECT_NEAR(single_thread_share(512), 0.2894, 1e-4);
}

TEST(ModeledRound, TraceCarriesCpuFiguresAndReadsOldTraces) {
  namespace ma = stratus::ml::averaging;
  ma::RoundTrace t;
  t.round = 2;
  t.worker = 3;
  t.train_cpu_ms = 12.5;
  t.merge_cpu_ms = 1.5;
  t.merged_children = 4;
  const ma::RoundTrace back = ma::decode_trace(ma::encode_trace(t));
  EXPECT_DOUBLE_EQ(back.train_cpu_ms, 12.5);
  EXPECT_DOUBLE_EQ(back.merge_cpu_ms, 1.5);
  EXPECT_EQ(back.merged_children, 4u);
  nlohmann::json old = nlohmann::json::parse(ma::encode_trace(t));
  old.erase("train_cpu_ms");
  old.erase("merge_cpu_ms");
  old.erase("merged_children");
  EXPECT_DOUBLE_EQ(ma::decode_trace(old.dump()).train_cpu_ms, 0);
  old["train_cpu_ms"] = -1;
  EXPECT_THROW(ma::decode_trace(old.dump()), std::exception);
}

TEST(HtmlReport, SelfContainedWithChartsAndTheReportsNumbers) {
  nlohmann::json report = {{"workload", "casea"},
                           {"run_id", "run-<1>"},
                           {"backend", "http://127.0.0.1:9001"},
                           {"rounds",
                            {{{"round", 1},
                              {"loss", 0.75},
                              {"accuracy", 0.6},
                              {"wall_ms", 400.0},
                              {"modeled_ms", 900.5},
                              {"cost_so_far_usd", 1e-5},
                              {"modeled_cost_so_far_usd", 2e-5}},
                             {{"round", 2},
                              {"loss", 0.5},
                              {"accuracy", 0.7},
                              {"wall_ms", 300.0},
                              {"modeled_ms", nullptr},
                              {"cost_so_far_usd", 2e-5},
                              {"modeled_cost_so_far_usd", nullptr}}}}};
  const std::string html = render_html_report(report);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"chart-loss", "chart-time", "chart-cost"})
    EXPECT_NE(html.find(std::string("<svg id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_NE(html.find("run-&lt;1&gt;"), std::string::npos);  // escaped
  EXPECT_NE(html.find("<td data-field=\"modeled_ms\">900.5</td>"), std::string::npos);
  EXPECT_NE(html.find("<td data-field=\"modeled_ms\">-</td>"), std::string::npos);
  EXPECT_THROW(render_html_report(nlohmann::json::object()), std::invalid_argument);
  EXPECT_THROW(render_html_report(nlohmann::json{{"rounds", {{{"loss", 1}}}}}),
               std::invalid_argument);
}

TEST(EmulatorS3Profile, ParsesTheUsageDocumentsProfile) {
  using stratus::trainer::parse_s3_profile;
  const nlohmann::json usage = {
      {"s3_profile",
       {{"read", {{"first_byte_ms", 20.5}, {"mb_per_s", 40}}}, {"write", {{"first_byte_ms", 30}, {"mb_per_s", 10}}}}}};
  auto profile = parse_s3_profile(usage);
  ASSERT_TRUE(profile);
  EXPECT_DOUBLE_EQ(profile->read_first_byte_ms, 20.5);
  EXPECT_DOUBLE_EQ(profile->read_mb_per_s, 40);
  EXPECT_DOUBLE_EQ(profile->write_first_byte_ms, 30);
  EXPECT_DOUBLE_EQ(profile->write_mb_per_s, 10);
  EXPECT_DOUBLE_EQ(profile->put_ms(1'000'000), 30 + 100);  // 1 MB at 10 MB/s
  // Missing, partial or impossible profiles leave the default in place.
  EXPECT_FALSE(parse_s3_profile(nlohmann::json::object()));
  EXPECT_FALSE(parse_s3_profile(nlohmann::json::array()));
  nlohmann::json bad = usage;
  bad["s3_profile"]["write"]["mb_per_s"] = 0;
  EXPECT_FALSE(parse_s3_profile(bad));
  bad = usage;
  bad["s3_profile"]["read"]["first_byte_ms"] = "fast";
  EXPECT_FALSE(parse_s3_profile(bad));
  bad = usage;
  bad["s3_profile"].erase("read");
  EXPECT_FALSE(parse_s3_profile(bad));
}
