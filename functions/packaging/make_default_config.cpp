// Writes the emulator's default config: every product function (product_functions(), the same list
// `stratus-trainer deploy` uses), with its code in `<prefix>/functions/stratus` where the config
// sits at `<prefix>/share/stratus/emulator.json`. A bare `stratus-emulator` loads it (see
// emulator/include/stratus/emulator/default_paths.hpp), so a new user gets the functions served.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "stratus/functions/product_functions.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Writes stratus-emulator's default config (the product functions)"};
  std::filesystem::path output;
  app.add_option("-o,--output", output, "the config file to write")->required();
  CLI11_PARSE(app, argc, argv);

  nlohmann::json functions = nlohmann::json::array();
  for (const auto& spec : stratus::functions::product_functions()) {
    functions.push_back({{"name", spec.name},
                         {"code_dir", "../../functions/stratus"},  // relative to this file
                         {"handler", spec.handler},
                         {"memory_mb", spec.memory_mb},
                         {"timeout_s", spec.timeout_s},
                         {"description", spec.description},
                         {"recursive_loop", spec.recursive_by_design ? "Allow" : "Terminate"}});
  }
  nlohmann::json doc = {{"functions", functions}};

  std::filesystem::create_directories(output.parent_path());
  auto temporary = output;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << doc.dump(2) << "\n";
    if (!out.flush()) {
      std::cerr << "cannot write " << temporary << "\n";
      return 1;
    }
  }
  std::filesystem::rename(temporary, output);  // a reader never sees half a file
  return 0;
}
