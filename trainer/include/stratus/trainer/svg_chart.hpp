#pragma once
// The pieces every Stratus HTML report is drawn with (html_report.cpp for training runs,
// tuning_html_report.cpp for the optimizer and the sweep): the page's head and style, escaping,
// number formatting, a line chart and a scatter chart in inline SVG. No scripts, no fonts, no
// network.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::trainer::svg {

// Text and attribute values: XML's escaping is also HTML's (and SVG's).
std::string escape(std::string_view text);
std::string number(double value, const char* format = "%.6g");

struct Series {
  std::string name;
  std::string color;
  std::vector<std::optional<double>> values;
  bool dashed = false;
};
bool has_values(const Series& s);

// A line chart with axes, ticks, a legend and a <title> tooltip on every point; the y axis
// starts at 0 or below.
std::string line_chart(const std::string& id, const std::string& title, const std::string& y_label,
                       const std::string& x_label, const std::vector<double>& xs,
                       const std::vector<Series>& series);

// A scatter chart: every point a circle with its <title> (label: x, y); `highlighted` points
// drawn in the highlight colour and joined by a line in x order (a Pareto front), with their
// circles marked class="front".
struct ScatterPoint {
  double x = 0, y = 0;
  std::string label;
  bool highlighted = false;
};
std::string scatter_chart(const std::string& id, const std::string& title,
                          const std::string& x_label, const std::string& y_label,
                          const std::vector<ScatterPoint>& points,
                          const std::string& highlight_name);

// The page up to <body> (title escaped), and its end.
std::string html_page_start(const std::string& title);
std::string html_page_end();
// Writes atomically (a temporary file renamed into place); throws std::runtime_error.
void write_html_file(const std::string& html, const std::filesystem::path& out);

}  // namespace stratus::trainer::svg
