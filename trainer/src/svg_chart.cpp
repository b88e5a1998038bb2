#include "stratus/trainer/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "stratus/common/xml_escape.hpp"
#include "stratus/trainer/output_file.hpp"

namespace stratus::trainer::svg {

// Text and attribute values in the page: XML's escaping is also HTML's (and SVG's), control
// characters included.
std::string escape(std::string_view text) {
  return xml_escape(text);
}

std::string number(double value, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

bool has_values(const Series& s) {
  return std::any_of(s.values.begin(), s.values.end(), [](const auto& v) { return v.has_value(); });
}

namespace {

// What both charts draw the same way: the <svg> box and its title, the "no data" page, the axes
// around the plot area (inside fixed margins), the grid lines with their values, the axis labels.
struct Frame {
  static constexpr double kWidth = 760, kLeft = 95, kRight = 20, kTop = 40, kBottom = 50;
  double height;

  // Where value `v` of the axis range [lo, hi] falls, in pixels.
  double x_at(double v, double lo, double hi) const {
    return kLeft + (v - lo) / (hi - lo) * (kWidth - kLeft - kRight);
  }
  double y_at(double v, double lo, double hi) const {
    return height - kBottom - (v - lo) / (hi - lo) * (height - kTop - kBottom);
  }
  std::string open(const std::string& id, const std::string& title) const {
    return "<svg id=\"" + id + "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
           number(kWidth) + "\" height=\"" + number(height) + "\" viewBox=\"0 0 " +
           number(kWidth) + " " + number(height) + "\" role=\"img\" aria-label=\"" +
           escape(title) + "\">\n" + "<text x=\"" + number(kWidth / 2) +
           "\" y=\"22\" text-anchor=\"middle\" class=\"title\">" + escape(title) + "</text>\n";
  }
  std::string no_data() const {
    return "<text x=\"" + number(kWidth / 2) + "\" y=\"" + number(height / 2) +
           "\" text-anchor=\"middle\">no data</text>\n</svg>\n";
  }
  std::string axes() const {
    return "<line x1=\"" + number(kLeft) + "\" y1=\"" + number(height - kBottom) + "\" x2=\"" +
           number(kWidth - kRight) + "\" y2=\"" + number(height - kBottom) +
           "\" class=\"axis\"/>\n" + "<line x1=\"" + number(kLeft) + "\" y1=\"" + number(kTop) +
           "\" x2=\"" + number(kLeft) + "\" y2=\"" + number(height - kBottom) +
           "\" class=\"axis\"/>\n";
  }
  // A horizontal grid line at `y_px`, labelled with its value.
  std::string grid_line(double y_px, double value) const {
    return "<line x1=\"" + number(kLeft) + "\" y1=\"" + number(y_px) + "\" x2=\"" +
           number(kWidth - kRight) + "\" y2=\"" + number(y_px) + "\" class=\"grid\"/>\n" +
           "<text x=\"" + number(kLeft - 6) + "\" y=\"" + number(y_px + 4) +
           "\" text-anchor=\"end\">" + number(value, "%.4g") + "</text>\n";
  }
  // A value under the x axis at `x_px`.
  std::string x_tick(double x_px, const std::string& text) const {
    return "<text x=\"" + number(x_px) + "\" y=\"" + number(height - kBottom + 18) +
           "\" text-anchor=\"middle\">" + text + "</text>\n";
  }
  std::string axis_labels(const std::string& x_label, const std::string& y_label) const {
    return "<text x=\"" + number((kLeft + kWidth - kRight) / 2) + "\" y=\"" + number(height - 8) +
           "\" text-anchor=\"middle\">" + escape(x_label) + "</text>\n" +
           "<text transform=\"translate(14 " + number((kTop + height - kBottom) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + escape(y_label) + "</text>\n";
  }
};

}  // namespace

// A line chart with axes, ticks, a legend and a <title> tooltip on every point.
std::string line_chart(const std::string& id, const std::string& title, const std::string& y_label,
                       const std::string& x_label, const std::vector<double>& xs,
                       const std::vector<Series>& all_series) {
  std::vector<Series> series;
  for (const Series& s : all_series)
    if (has_values(s)) series.push_back(s);
  const Frame frame{300};
  constexpr double kLeft = Frame::kLeft, kTop = Frame::kTop;
  double lo = INFINITY, hi = -INFINITY;
  for (const Series& s : series)
    for (const auto& v : s.values)
      if (v) lo = std::min(lo, *v), hi = std::max(hi, *v);
  std::string svg = frame.open(id, title);
  if (series.empty() || xs.empty()) return svg + frame.no_data();
  lo = std::min(lo, 0.0);
  if (hi <= lo) hi = lo + 1;
  hi += (hi - lo) * 0.05;
  const double x_min = xs.front(), x_max = xs.size() > 1 ? xs.back() : xs.front() + 1;
  auto px = [&](double x) { return frame.x_at(x, x_min, x_max); };
  auto py = [&](double y) { return frame.y_at(y, lo, hi); };
  // Axes and ticks.
  svg += frame.axes();
  for (int i = 0; i <= 4; ++i) {
    const double y = lo + (hi - lo) * i / 4;
    svg += frame.grid_line(py(y), y);
  }
  const std::size_t step = std::max<std::size_t>(1, xs.size() / 10);
  for (std::size_t i = 0; i < xs.size(); i += step) svg += frame.x_tick(px(xs[i]), number(xs[i]));
  svg += frame.axis_labels(x_label, y_label);
  // Lines, points, legend.
  double legend_x = kLeft + 10;
  for (const Series& s : series) {
    std::string points;
    for (std::size_t i = 0; i < xs.size() && i < s.values.size(); ++i)
      if (s.values[i]) points += number(px(xs[i])) + "," + number(py(*s.values[i])) + " ";
    svg += "<polyline class=\"series\" data-series=\"" + escape(s.name) +
           "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\"" +
           (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + points + "\"/>\n";
    for (std::size_t i = 0; i < xs.size() && i < s.values.size(); ++i) {
      if (!s.values[i]) continue;
      svg += "<circle cx=\"" + number(px(xs[i])) + "\" cy=\"" + number(py(*s.values[i])) +
             "\" r=\"3\" fill=\"" + s.color + "\"><title>" + escape(s.name) + " " +
             escape(x_label) + " " + number(xs[i]) + ": " + number(*s.values[i]) +
             "</title></circle>\n";
    }
    svg += "<rect x=\"" + number(legend_x) + "\" y=\"" + number(kTop - 8) +
           "\" width=\"12\" height=\"4\" fill=\"" + s.color + "\"/><text x=\"" +
           number(legend_x + 16) + "\" y=\"" + number(kTop - 3) + "\">" + escape(s.name) +
           "</text>\n";
    legend_x += 28 + 7.0 * static_cast<double>(s.name.size());
  }
  svg += "</svg>\n";
  return svg;
}

std::string scatter_chart(const std::string& id, const std::string& title,
                          const std::string& x_label, const std::string& y_label,
                          const std::vector<ScatterPoint>& points,
                          const std::string& highlight_name) {
  const Frame frame{360};
  constexpr double kLeft = Frame::kLeft, kTop = Frame::kTop;
  std::string svg = frame.open(id, title);
  if (points.empty()) return svg + frame.no_data();
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const ScatterPoint& p : points) {
    x_lo = std::min(x_lo, p.x), x_hi = std::max(x_hi, p.x);
    y_lo = std::min(y_lo, p.y), y_hi = std::max(y_hi, p.y);
  }
  // A margin of 5% each side so no point sits on an axis; a single value gets a unit span.
  // Times and costs are never negative: a margin does not take the axis below 0.
  auto widen = [](double& lo, double& hi) {
    const double span = hi > lo ? hi - lo : std::max(std::abs(hi), 1e-12);
    lo = lo >= 0 ? std::max(0.0, lo - span * 0.05) : lo - span * 0.05;
    hi += span * 0.05;
  };
  widen(x_lo, x_hi);
  widen(y_lo, y_hi);
  auto px = [&](double x) { return frame.x_at(x, x_lo, x_hi); };
  auto py = [&](double y) { return frame.y_at(y, y_lo, y_hi); };
  svg += frame.axes();
  for (int i = 0; i <= 4; ++i) {
    const double y = y_lo + (y_hi - y_lo) * i / 4, x = x_lo + (x_hi - x_lo) * i / 4;
    svg += frame.grid_line(py(y), y) + frame.x_tick(px(x), number(x, "%.4g"));
  }
  svg += frame.axis_labels(x_label, y_label);
  std::vector<const ScatterPoint*> front;
  for (const ScatterPoint& p : points)
    if (p.highlighted) front.push_back(&p);
  std::sort(front.begin(), front.end(), [](const ScatterPoint* a, const ScatterPoint* b) {
    return a->x < b->x || (a->x == b->x && a->y > b->y);
  });
  if (!front.empty()) {
    std::string line;
    for (const ScatterPoint* p : front) line += number(px(p->x)) + "," + number(py(p->y)) + " ";
    svg +=
        "<polyline class=\"front-line\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" "
        "stroke-dasharray=\"5 3\" points=\"" +
        line + "\"/>\n";
  }
  for (const ScatterPoint& p : points) {
    svg += std::string("<circle class=\"") + (p.highlighted ? "front" : "point") + "\" cx=\"" +
           number(px(p.x)) + "\" cy=\"" + number(py(p.y)) + "\" r=\"" +
           (p.highlighted ? "6" : "4") + "\" fill=\"" + (p.highlighted ? "#d62728" : "#1f77b4") +
           "\"><title>" + escape(p.label) + ": " + number(p.x) + ", " + number(p.y) +
           "</title></circle>\n";
    if (p.highlighted) {
      svg += "<text class=\"front-label\" x=\"" + number(px(p.x) + 8) + "\" y=\"" +
             number(py(p.y) - 6) + "\">" + escape(p.label) + "</text>\n";
    }
  }
  svg += "<circle cx=\"" + number(kLeft + 10) + "\" cy=\"" + number(kTop - 6) +
         "\" r=\"5\" fill=\"#d62728\"/><text x=\"" + number(kLeft + 20) + "\" y=\"" +
         number(kTop - 2) + "\">" + escape(highlight_name) + "</text>\n";
  svg += "<circle cx=\"" + number(kLeft + 200) + "\" cy=\"" + number(kTop - 6) +
         "\" r=\"4\" fill=\"#1f77b4\"/><text x=\"" + number(kLeft + 210) + "\" y=\"" +
         number(kTop - 2) + "\">other configurations</text>\n";
  svg += "</svg>\n";
  return svg;
}

std::string html_page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         escape(title) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:24px;color:#222;max-width:900px}\n"
         "svg.chart{display:block;margin:16px 0;background:#fff;border:1px solid #ddd}\n"
         "svg text{font-size:12px;font-family:sans-serif;fill:#333}\nsvg "
         "text.front-label{font-size:10px}\nsvg "
         "text.title{font-size:15px;font-weight:bold}\n"
         ".axis{stroke:#333;stroke-width:1}\n.grid{stroke:#eee;stroke-width:1}\n"
         "table{border-collapse:collapse;font-size:13px}\ntd,th{border:1px solid #ccc;padding:3px "
         "8px;text-align:right}\ntr.front td{font-weight:bold}\n"
         "dt{font-weight:bold;float:left;width:11em}\ndd{margin-left:12em}\ncode{word-break:break-"
         "all}"
         "\n</style>\n</head>\n<body>\n";
}

std::string html_page_end() {
  return "</body>\n</html>\n";
}

void write_html_file(const std::string& html, const std::filesystem::path& out) {
  write_file_replacing(out, html);
}

}  // namespace stratus::trainer::svg
