#pragma once
// The HTML pages of `stratus-trainer optimize` (the trajectory of the two configurations and
// their metrics per step, and the steps table) and `sweep` (the time/cost scatter with the Pareto
// front, and the grid table), from their --report JSON. render_html_report() sends reports whose
// "workload" is "optimize" or "sweep" here, so `stratus-trainer report` renders them too.

#include <nlohmann/json.hpp>
#include <string>

namespace stratus::trainer {

// Throw std::invalid_argument naming what is missing.
std::string render_optimizer_html(const nlohmann::json& report);
std::string render_sweep_html(const nlohmann::json& report);

}  // namespace stratus::trainer
