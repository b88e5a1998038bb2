// `stratus-trainer report RUN.json --html OUT.html`: renders a training report as one
// self-contained HTML page (html_report.hpp).

#include "report_command.hpp"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "stratus/trainer/html_report.hpp"

namespace stratus::trainer {

namespace {

struct ReportCommand {
  std::string input;
  std::string html;
};

}  // namespace

CLI::App* register_report(CLI::App& app) {
  auto command = std::make_shared<ReportCommand>();
  auto* report = app.add_subcommand(
      "report", "render a --report JSON file (linreg, casea, caseb) as an HTML page");
  report->add_option("report", command->input, "the JSON report")
      ->required()
      ->check(CLI::ExistingFile);
  report->add_option("--html", command->html, "the HTML file to write")->required();
  report->callback([command] {
    try {
      std::ifstream in(command->input);
      nlohmann::json document = nlohmann::json::parse(in, nullptr, false);
      if (document.is_discarded())
        throw std::invalid_argument("'" + command->input + "' is not valid JSON");
      write_html_report(document, command->html);
      std::cout << "wrote " << command->html << "\n";
    } catch (const std::exception& e) {
      std::cerr << "stratus-trainer report: " << e.what() << "\n";
      throw CLI::RuntimeError(1);
    }
  });
  return report;
}

}  // namespace stratus::trainer
