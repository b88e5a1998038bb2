// stratus-emulator: a local AWS Lambda (and, later, S3) endpoint that runs functions as real
// worker processes.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "stratus/common/logging.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/daemon.hpp"

int main(int argc, char** argv) {
  using namespace stratus::emulator;
  CLI::App app{"stratus-emulator: a local AWS Lambda endpoint running functions as worker processes"};
  std::string config_file;
  std::optional<int> port;
  std::optional<std::string> bind;
  std::optional<std::string> data_dir;
  std::string log_level = "info";
  app.add_option("-c,--config", config_file, "JSON config file (see config/emulator.json)")
      ->check(CLI::ExistingFile);
  app.add_option("-p,--port", port, "TCP port to listen on (0 picks a free one; default 9001)")
      ->check(CLI::Range(0, 65535));
  app.add_option("-b,--bind", bind, "address to listen on (default 127.0.0.1)");
  app.add_option("-d,--data-dir", data_dir, "where functions, logs and state are kept");
  app.add_option("-l,--log-level", log_level, "trace, debug, info, warn, error, critical or off");
  app.set_version_flag("--version", "stratus-emulator 0.1.0");
  CLI11_PARSE(app, argc, argv);

  try {
    stratus::setup_logging(log_level, "stratus-emulator");
    EmulatorConfig config = config_file.empty() ? EmulatorConfig{} : load_config_file(config_file);
    if (port) config.port = *port;
    if (bind) config.address = *bind;
    if (data_dir) config.data_dir = *data_dir;
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
