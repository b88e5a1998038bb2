#include "stratus/trainer/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <vector>

#include "stratus/trainer/svg_chart.hpp"
#include "stratus/trainer/tuning_html_report.hpp"

namespace stratus::trainer {

namespace {

using nlohmann::json;
using namespace svg;

std::optional<double> field(const json& row, const char* name) {
  auto it = row.find(name);
  if (it == row.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// Per worker, one lane across the run: in every round (which starts where the previous one's
// measured wall time ended) its wait for the global model, its training and its merging, with a
// mark where it started cold. As measured on this host.
std::string timeline_chart(const json& rows) {
  std::size_t workers = 0;
  double total_ms = 0;
  for (const json& row : rows) {
    if (row.contains("workers") && row["workers"].is_array())
      workers = std::max(workers, row["workers"].size());
    total_ms += field(row, "wall_ms").value_or(0);
  }
  if (workers == 0 || total_ms <= 0) return "";
  constexpr double kWidth = 760, kLeft = 95, kRight = 20, kTop = 50;
  const double lane = std::clamp(240.0 / static_cast<double>(workers), 3.0, 16.0);
  const double height = kTop + lane * static_cast<double>(workers) + 45;
  auto px = [&](double ms) { return kLeft + ms / total_ms * (kWidth - kLeft - kRight); };
  std::string svg =
      "<svg id=\"chart-timeline\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
      number(kWidth) + "\" height=\"" + number(height) + "\" viewBox=\"0 0 " + number(kWidth) +
      " " + number(height) + "\" role=\"img\" aria-label=\"per-worker timeline\">\n";
  svg += "<text x=\"" + number(kWidth / 2) +
         "\" y=\"22\" text-anchor=\"middle\" class=\"title\">Per-worker timeline "
         "(measured): wait, train, merge; cold starts marked</text>\n";
  const struct {
    const char* name;
    const char* color;
  } kinds[] = {
      {"wait", "#bbbbbb"}, {"train", "#1f77b4"}, {"merge", "#ff7f0e"}, {"cold start", "#d62728"}};
  double legend_x = kLeft;
  for (const auto& k : kinds) {
    svg += "<rect x=\"" + number(legend_x) + "\" y=\"32\" width=\"12\" height=\"8\" fill=\"" +
           k.color + "\"/><text x=\"" + number(legend_x + 16) + "\" y=\"40\">" + k.name +
           "</text>\n";
    legend_x += 90;
  }
  double round_start = 0;
  for (const json& row : rows) {
    const double wall = field(row, "wall_ms").value_or(0);
    svg += "<line x1=\"" + number(px(round_start)) + "\" y1=\"" + number(kTop) + "\" x2=\"" +
           number(px(round_start)) + "\" y2=\"" + number(height - 40) + "\" class=\"grid\"/>\n";
    if (row.contains("workers") && row["workers"].is_array()) {
      for (const json& w : row["workers"]) {
        const double index = field(w, "worker").value_or(0);
        const double y = kTop + index * lane;
        double t = round_start;
        const struct {
          const char* key;
          const char* color;
        } parts[] = {{"wait_ms", "#bbbbbb"}, {"train_ms", "#1f77b4"}, {"merge_ms", "#ff7f0e"}};
        for (const auto& part : parts) {
          const double ms = field(w, part.key).value_or(0);
          if (ms <= 0) continue;
          // A worker may wait past the round's end (for the next model): clipped to the chart.
          const double x0 = std::min(px(t), kWidth - kRight),
                       x1 = std::min(px(t + ms), kWidth - kRight);
          svg += "<rect x=\"" + number(x0) + "\" y=\"" + number(y) + "\" width=\"" +
                 number(std::max(0.5, x1 - x0)) + "\" height=\"" + number(std::max(1.0, lane - 1)) +
                 "\" fill=\"" + part.color + "\"><title>worker " + number(index) + " round " +
                 number(field(row, "round").value_or(0)) + " " +
                 std::string(part.key, std::strlen(part.key) - 3) + ": " + number(ms) +
                 " ms</title></rect>\n";
          t += ms;
        }
        if (w.value("cold_start", false)) {
          svg += "<rect x=\"" + number(px(round_start)) + "\" y=\"" + number(y) +
                 "\" width=\"3\" height=\"" + number(std::max(1.0, lane - 1)) +
                 "\" fill=\"#d62728\"/>\n";
        }
      }
    }
    round_start += wall;
  }
  svg += "<text x=\"" + number(kLeft - 6) + "\" y=\"" + number(kTop + 10) +
         "\" text-anchor=\"end\">worker 0</text>\n";
  svg += "<text x=\"" + number(kLeft - 6) + "\" y=\"" +
         number(kTop + lane * static_cast<double>(workers)) + "\" text-anchor=\"end\">worker " +
         std::to_string(workers - 1) + "</text>\n";
  svg += "<text x=\"" + number((kLeft + kWidth - kRight) / 2) + "\" y=\"" + number(height - 12) +
         "\" text-anchor=\"middle\">ms since the first round started (" + number(total_ms) +
         " ms in all)</text>\n";
  svg += "</svg>\n";
  return svg;
}

// The report's "faults" section (fault_report.hpp): per kind how each was handled, then every
// fault with its request id.
std::string faults_section(const json& faults) {
  if (!faults.is_object()) return "";
  std::string html = "<h2>Faults</h2>\n";
  if (faults.value("record", json()).is_null()) {
    html += "<p id=\"faults-record\">" + escape(faults.value("record_note", std::string("no record"))) +
            "</p>\n";
  } else {
    const json window = faults.value("window", json::object());
    html += "<p id=\"faults-record\">" + escape(std::to_string(faults.value("injected", 0))) +
            " injected during the run (" + escape(window.value("from", std::string("?"))) + " to " +
            escape(window.value("to", std::string("?"))) + "), from the emulator's record.</p>\n";
  }
  const json trainer = faults.value("trainer", json::object());
  if (trainer.is_object() && !trainer.empty()) {
    html += "<p id=\"faults-trainer\">The trainer:";
    bool first = true;
    for (const auto& [name, value] : trainer.items()) {
      html += std::string(first ? " " : ", ") + escape(name) + " " + escape(value.dump());
      first = false;
    }
    html += ".</p>\n";
  }
  const json by_kind = faults.value("by_kind", json::object());
  if (by_kind.is_object() && !by_kind.empty()) {
    html += "<table id=\"faults-by-kind\">\n<tr><th>kind</th><th>count</th><th>how handled</th></tr>\n";
    for (const auto& [kind, entry] : by_kind.items()) {
      const json handled = entry.value("handled", json::object());
      for (const auto& [how, n] : handled.items()) {
        html += "<tr><td>" + escape(kind) + "</td><td>" + escape(n.dump()) +
                "</td><td style=\"text-align:left\">" + escape(how) + "</td></tr>\n";
      }
    }
    html += "</table>\n";
  }
  const json list = faults.value("list", json::array());
  if (list.is_array() && !list.empty()) {
    html += "<table id=\"faults\">\n<tr><th>time</th><th>kind</th><th>target</th><th>request "
            "id</th><th>how handled</th></tr>\n";
    auto cell = [](const json& f, const char* name) {
      const auto it = f.find(name);
      return "<td style=\"text-align:left\">" +
             escape(it != f.end() && it->is_string() ? it->get<std::string>() : std::string()) + "</td>";
    };
    for (const json& f : list) {
      if (!f.is_object()) continue;
      html += "<tr>" + cell(f, "time") + cell(f, "kind") + cell(f, "target") +
              cell(f, "request_id") + cell(f, "handled") + "</tr>\n";
    }
    html += "</table>\n";
  }
  return html;
}

}  // namespace

std::string render_html_report(const json& report) {
  if (!report.is_object()) throw std::invalid_argument("the report is not a JSON object");
  if (auto kind = report.find("workload"); kind != report.end() && kind->is_string()) {
    if (*kind == "optimize") return render_optimizer_html(report);
    if (*kind == "sweep") return render_sweep_html(report);
  }
  // linreg reports epochs, layers steps (both per-row costs), Case A/B rounds (running totals).
  const bool epochs = report.contains("epochs") && report["epochs"].is_array();
  const bool steps = !epochs && !report.contains("rounds") && report.contains("steps");
  const json* rows_ptr = epochs                      ? &report["epochs"]
                         : steps                     ? &report["steps"]
                         : report.contains("rounds") ? &report["rounds"]
                                                     : nullptr;
  if (!rows_ptr || !rows_ptr->is_array() || rows_ptr->empty())
    throw std::invalid_argument(
        "the report has no \"rounds\", \"epochs\" or \"steps\" (is it a --report of linreg, casea, "
        "caseb or layers?)");
  const json& rows = *rows_ptr;
  const std::string workload = report.value("workload", std::string("training"));
  const char* x_name = epochs ? "epoch" : steps ? "step" : "round";
  const bool per_row_cost = epochs || steps;

  std::vector<double> xs;
  Series loss{"loss", "#1f77b4", {}}, accuracy{"accuracy", "#2ca02c", {}};
  Series measured{"measured (this host)", "#d62728", {}},
      modeled{"modeled AWS", "#1f77b4", {}, true};
  Series cost{"measured cost", "#d62728", {}},
      modeled_cost{"modeled AWS cost", "#1f77b4", {}, true};
  double cost_sum = 0, modeled_sum = 0;
  bool modeled_missing = false;
  for (const json& row : rows) {
    if (!row.is_object()) throw std::invalid_argument("a report row is not an object");
    auto x = field(row, x_name);
    if (!x) throw std::invalid_argument(std::string("a report row has no \"") + x_name + "\"");
    xs.push_back(*x);
    loss.values.push_back(field(row, "loss"));
    accuracy.values.push_back(field(row, "accuracy"));
    measured.values.push_back(field(row, "wall_ms"));
    modeled.values.push_back(field(row, "modeled_ms"));
    if (per_row_cost) {
      cost_sum += field(row, "cost_usd").value_or(0);
      cost.values.push_back(cost_sum);
      auto m = field(row, "modeled_cost_usd");
      modeled_missing = modeled_missing || !m;
      modeled_sum += m.value_or(0);
      modeled_cost.values.push_back(modeled_missing ? std::nullopt
                                                    : std::optional<double>(modeled_sum));
    } else {
      cost.values.push_back(field(row, "cost_so_far_usd"));
      modeled_cost.values.push_back(field(row, "modeled_cost_so_far_usd"));
    }
  }

  std::string html = html_page_start("Stratus report: " + workload);
  html += "<h1>" + escape(workload) +
          (report.contains("run_id") ? " run " + escape(report.value("run_id", "")) : "") +
          "</h1>\n<dl>\n";
  html += "<dt>backend</dt><dd id=\"backend\">" +
          escape(report.value("backend", std::string("?"))) + "</dd>\n";
  if (report.contains("model_sha256"))
    html += "<dt>model_sha256</dt><dd id=\"model-sha256\">" +
            escape(report.value("model_sha256", "")) + "</dd>\n";
  if (report.contains("configuration"))
    html += "<dt>configuration</dt><dd><code>" + escape(report["configuration"].dump()) +
            "</code></dd>\n";
  html +=
      "</dl>\n<p>Measured figures are what happened on this host; modeled ones are what the same "
      "invocations would take and cost on AWS Lambda (docs/TIME_MODEL.md).</p>\n";
  html += line_chart(
      "chart-loss",
      std::string("Loss") + (has_values(accuracy) ? " and accuracy" : "") + " per " + x_name,
      "value", x_name, xs, {loss, accuracy});
  html += line_chart("chart-time",
                     std::string(epochs ? "Epoch" : steps ? "Step" : "Round") +
                         " time: measured vs modeled AWS",
                     "ms", x_name, xs, {measured, modeled});
  html +=
      line_chart("chart-cost", "Cumulative cost (USD)", "USD", x_name, xs, {cost, modeled_cost});

  html += timeline_chart(rows);
  html += "<table id=\"rows\">\n<tr><th>" + std::string(x_name) +
          "</th><th>loss</th><th>accuracy</th><th>measured ms</th><th>modeled AWS "
          "ms</th><th>measured cost so far</th>"
          "<th>modeled cost so far</th></tr>\n";
  auto cell = [](const char* name, const std::optional<double>& v, const char* format = "%.6g") {
    return std::string("<td data-field=\"") + name + "\">" + (v ? number(*v, format) : "-") +
           "</td>";
  };
  for (std::size_t i = 0; i < xs.size(); ++i) {
    html += "<tr>" + cell(x_name, xs[i]) + cell("loss", loss.values[i]) +
            cell("accuracy", accuracy.values[i]) + cell("wall_ms", measured.values[i]) +
            cell("modeled_ms", modeled.values[i]) +
            cell("cost_so_far_usd", cost.values[i], "%.10g") +
            cell("modeled_cost_so_far_usd", modeled_cost.values[i], "%.10g") + "</tr>\n";
  }
  html += "</table>\n";
  if (report.contains("faults")) html += faults_section(report["faults"]);
  html += html_page_end();
  return html;
}

void write_html_report(const json& report, const std::filesystem::path& out) {
  write_html_file(render_html_report(report), out);
}

}  // namespace stratus::trainer
