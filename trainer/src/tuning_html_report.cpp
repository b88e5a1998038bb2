#include "stratus/trainer/tuning_html_report.hpp"

#include <optional>
#include <stdexcept>

#include "stratus/trainer/svg_chart.hpp"

namespace stratus::trainer {

namespace {

using nlohmann::json;
using namespace svg;

const json& required_array(const json& report, const char* key, const char* what) {
  auto it = report.find(key);
  if (it == report.end() || !it->is_array() || it->empty())
    throw std::invalid_argument(std::string("the ") + what + " report has no \"" + key + "\"");
  return *it;
}

double number_at(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_number())
    throw std::invalid_argument(std::string("a report entry has no number \"") + key + "\"");
  return it->get<double>();
}

std::string text_at(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string cell(const char* field, const std::string& text) {
  return std::string("<td data-field=\"") + field + "\">" + escape(text) + "</td>";
}

std::string definition(const char* term, const std::string& id, const std::string& text) {
  return std::string("<dt>") + term + "</dt><dd id=\"" + id + "\"><code>" + escape(text) +
         "</code></dd>\n";
}

}  // namespace

std::string render_optimizer_html(const json& report) {
  const json& steps = required_array(report, "steps", "optimize");
  const std::string knob = text_at(report, "knob");
  const std::string unit = text_at(report, "unit");
  std::vector<double> xs;
  Series a_setting{"A setting", "#1f77b4", {}}, b_setting{"B setting", "#ff7f0e", {}, true};
  Series a_metric{"A metric", "#1f77b4", {}}, b_metric{"B metric", "#ff7f0e", {}, true};
  std::string rows;
  for (const json& step : steps) {
    const json& slots = step.at("slots");
    if (!slots.is_array() || slots.size() != 2)
      throw std::invalid_argument("an optimize step has no two \"slots\"");
    xs.push_back(number_at(step, "step"));
    a_setting.values.push_back(number_at(slots[0], "setting"));
    b_setting.values.push_back(number_at(slots[1], "setting"));
    a_metric.values.push_back(number_at(slots[0], "metric"));
    b_metric.values.push_back(number_at(slots[1], "metric"));
    rows += "<tr>" + cell("step", number(number_at(step, "step"))) +
            cell("a_setting", number(number_at(slots[0], "setting"))) +
            cell("a_metric", number(number_at(slots[0], "metric"), "%.10g")) +
            cell("b_setting", number(number_at(slots[1], "setting"))) +
            cell("b_metric", number(number_at(slots[1], "metric"), "%.10g")) +
            cell("slope", number(number_at(step, "slope"), "%.10g")) +
            cell("change", number(number_at(step, "change"))) +
            cell("new_setting", number(number_at(step, "new_setting"))) +
            cell("changed_function", text_at(step, "changed_function")) +
            cell("converged", step.value("converged", false) ? "yes" : "no") + "</tr>\n";
  }
  // Where the two functions stand after the last step (the loser's last update included).
  if (auto final_settings = report.find("final_settings");
      final_settings != report.end() && final_settings->is_object() &&
      report.contains("functions") && report["functions"].is_array() &&
      report["functions"].size() == 2) {
    const json& names = report["functions"];
    auto setting = [&](std::size_t i) -> std::optional<double> {
      auto it = final_settings->find(names[i].is_string() ? names[i].get<std::string>() : "");
      if (it == final_settings->end() || !it->is_number()) return std::nullopt;
      return it->get<double>();
    };
    if (setting(0) && setting(1)) {
      xs.push_back(xs.back() + 1);
      a_setting.values.push_back(setting(0));
      b_setting.values.push_back(setting(1));
    }
  }
  std::string html =
      html_page_start("Stratus cost optimizer: " + text_at(report, "objective") + " over " + knob);
  html += "<h1>Cost optimizer (CLOUD 2018 monitor): " + escape(text_at(report, "objective")) +
          ", varying " + escape(knob) + "</h1>\n<dl>\n";
  html += definition("target", "target", text_at(report, "target"));
  html += definition("iteration time", "clock", text_at(report, "clock"));
  html += definition("functions", "functions", text_at(report, "functions"));
  html += definition("rule", "rule", text_at(report, "rule"));
  html += definition("configuration", "configuration", text_at(report, "configuration"));
  html += definition("result", "result",
                     (report.value("converged", false) ? std::string("converged at ")
                                                       : std::string("step budget spent; best ")) +
                         text_at(report, "best_setting") + " " + unit);
  html +=
      "</dl>\n<p>Each step runs both configurations (A and B, two functions), compares their "
      "trimmed-median metric, and gives the losing one the new setting; it stops when they "
      "agree.</p>\n";
  html +=
      line_chart("chart-trajectory",
                 "Trajectory: the two configurations per step (last point: after the last step)",
                 knob + " (" + unit + ")", "step", xs, {a_setting, b_setting});
  xs.resize(a_metric.values.size());
  html +=
      line_chart("chart-metric",
                 "Metric per step (" + text_at(report, "objective") +
                     (text_at(report, "objective") == "cost" ? ": lower wins)" : ": higher wins)"),
                 "metric", "step", xs, {a_metric, b_metric});
  html += "<table id=\"steps\">\n<tr><th>step</th><th>A " + escape(unit) +
          "</th><th>A metric</th><th>B " + escape(unit) +
          "</th><th>B metric</th><th>slope</th><th>change</th><th>new setting</th><th>changed "
          "function</th><th>agree</th></tr>\n" +
          rows + "</table>\n" + html_page_end();
  return html;
}

std::string render_sweep_html(const json& report) {
  const json& points = required_array(report, "points", "sweep");
  std::vector<ScatterPoint> scatter;
  std::string rows;
  for (const json& p : points) {
    const double memory = number_at(p, "memory_mb"), workers = number_at(p, "workers");
    const double ms = number_at(p, "time_ms"), cost = number_at(p, "cost_usd");
    const bool front = p.value("pareto", false);
    scatter.push_back(
        {ms / 1000.0, cost, number(memory) + " MB, " + number(workers) + " workers", front});
    rows += std::string("<tr") + (front ? " class=\"front\"" : "") + ">" +
            cell("memory_mb", number(memory)) + cell("workers", number(workers)) +
            cell("time_ms", number(ms, "%.10g")) +
            cell("round_ms", number(number_at(p, "round_ms"), "%.10g")) +
            cell("cost_usd", number(cost, "%.10g")) + cell("pareto", front ? "*" : "") + "</tr>\n";
  }
  std::string html = html_page_start("Stratus sweep: Case A time and cost");
  html += "<h1>What-if sweep: Case A modeled time and cost</h1>\n<dl>\n";
  html += definition("target", "target", text_at(report, "target"));
  html += definition("time and cost", "clock", text_at(report, "clock"));
  html += definition("configuration", "configuration", text_at(report, "configuration"));
  html +=
      "</dl>\n<p>Every point is a real short Case A run; the Pareto front (marked *) holds the "
      "configurations no other one beats on both time and cost.</p>\n";
  html += scatter_chart("chart-pareto", "Run time vs cost, Pareto front", "run time (s)",
                        "cost (USD)", scatter, "Pareto front");
  html +=
      "<table id=\"grid\">\n<tr><th>memory "
      "MB</th><th>workers</th><th>run ms</th><th>ms per round</th><th>cost "
      "USD</th><th>Pareto</th></tr>\n" +
      rows + "</table>\n" + html_page_end();
  return html;
}

}  // namespace stratus::trainer
