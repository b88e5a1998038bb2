// stratus-emulator: a local AWS Lambda (and, later, S3) endpoint that runs functions as real
// worker processes.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/logging.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/daemon.hpp"
#include "stratus/emulator/default_paths.hpp"
#include "stratus/emulator/sam_template.hpp"

namespace {

// Settles where the functions come from: --config and/or --template as given; with neither, the
// default config beside the binary (the built product functions; default_paths.hpp).
void load_function_sources(stratus::emulator::EmulatorConfig& config, const std::string& config_file,
                           bool have_template, const char* argv0) {
  using namespace stratus::emulator;
  if (!config_file.empty()) {
    apply_config_file(config, config_file);
    spdlog::info("config: {}", config_file);
    return;
  }
  if (have_template) return;  // the template's functions, on built-in defaults
  auto executable = own_executable(argv0);
  if (auto found = find_default_config(executable)) {
    apply_config_file(config, *found);
    spdlog::info("config: {} (the default beside {}; --config FILE or --template FILE to choose)",
                 found->string(), executable.filename().string());
  } else {
    spdlog::warn("config: none (no --config, no --template, and no default at {}): built-in defaults, "
                 "no functions until some are created",
                 default_config_path(executable).string());
  }
}

void add_template_functions(stratus::emulator::EmulatorConfig& config, const std::string& template_file) {
  using namespace stratus::emulator;
  TemplateOptions options;
  options.code_dir = config.data_dir / "template-code";
  options.region = config.region;
  options.account_id = config.account_id;
  TemplateFunctions loaded = load_template_file(template_file, options);
  for (const auto& note : loaded.notes) spdlog::info("{}", note);
  for (auto& spec : loaded.functions) {
    for (const auto& existing : config.functions) {
      if (existing.name == spec.name) {
        throw ConfigError("template '" + template_file + "' defines function '" + spec.name +
                          "', which the config file defines too");
      }
    }
    config.functions.push_back(std::move(spec));
  }
  spdlog::info("template: {} ({} function{})", template_file, loaded.functions.size(),
               loaded.functions.size() == 1 ? "" : "s");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stratus::emulator;
  CLI::App app{"stratus-emulator: a local AWS Lambda endpoint running functions as worker processes.\n"
               "With no flags it serves the built product functions on http://127.0.0.1:9001 and keeps\n"
               "its data in $XDG_STATE_HOME/stratus (else ~/.local/state/stratus)."};
  std::string config_file;
  std::string template_file;
  std::optional<int> port;
  std::optional<std::string> bind;
  std::optional<std::string> data_dir;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file,
                 "JSON config file (see config/emulator.json); default: <prefix>/share/stratus/emulator.json "
                 "beside the binary, unless --template is given")
      ->check(CLI::ExistingFile);
  app.add_option("-t,--template", template_file,
                 "AWS SAM / CloudFormation template whose functions to serve (AWS::Serverless::Function, "
                 "AWS::Lambda::Function)")
      ->check(CLI::ExistingFile);
  app.add_option("-p,--port", port, "TCP port to listen on (0 picks a free one; default 9001)")
      ->check(CLI::Range(0, 65535));
  app.add_option("-b,--bind", bind,
                 "address to listen on (default 127.0.0.1; 0.0.0.0 only inside a container or behind a firewall)");
  app.add_option("-d,--data-dir", data_dir,
                 "where functions, logs and state are kept (default $XDG_STATE_HOME/stratus, else "
                 "~/.local/state/stratus)");
  app.add_option("-l,--log-level", log_level, "trace, debug, info, warn, error, critical or off");
  app.set_version_flag("--version", "stratus-emulator 0.1.0");
  CLI11_PARSE(app, argc, argv);

  try {
    stratus::setup_logging(log_level, "stratus-emulator");
    EmulatorConfig config;
    config.data_dir = default_data_dir();
    load_function_sources(config, config_file, !template_file.empty(), argv[0]);
    if (port) config.port = *port;
    if (bind) config.address = *bind;
    if (data_dir) config.data_dir = *data_dir;
    if (config.data_dir == default_data_dir()) {
      spdlog::info("data directory {} is the default ($XDG_STATE_HOME/stratus, else ~/.local/state/stratus); "
                   "--data-dir DIR to change it",
                   config.data_dir.string());
    }
    if (!template_file.empty()) add_template_functions(config, template_file);
    if (config.address != "127.0.0.1" && config.address != "::1" && config.address != "localhost") {
      spdlog::warn("listening on {}: the emulator has no authentication unless SigV4 checking is on; "
                   "anyone who can reach this address can run code",
                   config.address);
    }
    Daemon daemon(std::move(config));
    daemon.run();
  } catch (const ConfigError& e) {
    std::cerr << "stratus-emulator: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "stratus-emulator: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
