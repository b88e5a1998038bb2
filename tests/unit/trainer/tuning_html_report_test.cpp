#include "stratus/trainer/tuning_html_report.hpp"

#include <gtest/gtest.h>

#include "stratus/trainer/html_report.hpp"

using namespace stratus::trainer;
using nlohmann::json;

namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

json slot(const char* function, int setting, double metric) {
  return {{"function", function},
          {"setting", setting},
          {"metric", metric},
          {"iteration_s", {0.5, 0.4}}};
}

}  // namespace

TEST(TuningHtmlReport, OptimizerPageHasTrajectoryMetricsAndSteps) {
  json report = {{"workload", "optimize"},
                 {"objective", "cost"},
                 {"knob", "memory"},
                 {"unit", "MB"},
                 {"target", "http://127.0.0.1:1 <&>"},
                 {"clock", "modeled"},
                 {"functions", {"a", "b"}},
                 {"converged", true},
                 {"best_setting", 512},
                 {"steps",
                  {{{"step", 1},
                    {"slots", {slot("a", 512, 200.5), slot("b", 1536, 600.25)}},
                    {"slope", 0.39},
                    {"change", -128},
                    {"new_setting", 1408},
                    {"changed_function", "b"},
                    {"converged", false}},
                   {{"step", 2},
                    {"slots", {slot("a", 512, 201), slot("b", 1408, 550)}},
                    {"slope", 0.38},
                    {"change", -512},
                    {"new_setting", 896},
                    {"changed_function", "b"},
                    {"converged", false}}}}};
  // render_html_report sends it here (so `stratus-trainer report` renders it too).
  const std::string html = render_html_report(report);
  EXPECT_EQ(html, render_optimizer_html(report));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("id=\"chart-trajectory\""), std::string::npos);
  EXPECT_NE(html.find("id=\"chart-metric\""), std::string::npos);
  EXPECT_NE(html.find("&lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<&>"), std::string::npos);
  EXPECT_EQ(count(html, "<td data-field=\"step\">"), 2u);
  EXPECT_NE(html.find("<td data-field=\"new_setting\">896</td>"), std::string::npos);
  EXPECT_NE(html.find("<td data-field=\"a_metric\">200.5</td>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  report["steps"][0].erase("slots");
  EXPECT_THROW(render_html_report(report), std::exception);
  report.erase("steps");
  EXPECT_THROW(render_html_report(report), std::invalid_argument);
}

TEST(TuningHtmlReport, SweepPageMarksTheFront) {
  json points = json::array();
  const double data[][4] = {{256, 2, 4000, 1e-5}, {512, 2, 2500, 2e-5}, {1024, 2, 2600, 3e-5}};
  for (const auto& d : data) {
    points.push_back({{"memory_mb", d[0]},
                      {"workers", d[1]},
                      {"time_ms", d[2]},
                      {"round_ms", d[2] / 2},
                      {"cost_usd", d[3]},
                      {"pareto", d[0] != 1024}});
  }
  const json report = {
      {"workload", "sweep"}, {"target", "t"}, {"clock", "modeled"}, {"points", points}};
  const std::string html = render_html_report(report);
  EXPECT_NE(html.find("id=\"chart-pareto\""), std::string::npos);
  EXPECT_EQ(count(html, "<circle class=\"front\""), 2u);
  EXPECT_EQ(count(html, "<circle class=\"point\""), 1u);
  EXPECT_EQ(count(html, "class=\"front-line\""), 1u);
  EXPECT_EQ(count(html, "<td data-field=\"pareto\">*</td>"), 2u);
  EXPECT_NE(html.find("<td data-field=\"cost_usd\">3e-05</td>"), std::string::npos);
  EXPECT_THROW(render_sweep_html(json{{"workload", "sweep"}, {"points", json::array()}}),
               std::invalid_argument);
}
