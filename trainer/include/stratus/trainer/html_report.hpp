#pragma once
// One self-contained HTML page for a training report (the --report JSON of linreg, casea, caseb):
// inline SVG charts (loss and accuracy per round, round time measured vs modeled AWS, cumulative
// cost measured vs modeled) and the table of every number the charts show. No scripts, no fonts,
// no network: it opens offline in any browser.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace stratus::trainer {

// Throws std::invalid_argument naming what is missing when `report` is not a training report.
std::string render_html_report(const nlohmann::json& report);
// Renders and writes atomically (a temporary file renamed into place).
void write_html_report(const nlohmann::json& report, const std::filesystem::path& out);

}  // namespace stratus::trainer
