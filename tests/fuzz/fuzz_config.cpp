// Fuzzes the config file reader: the input is parsed as JSON (invalid JSON is simply skipped, it is
// nlohmann's parser and not ours) and applied with apply_config_json. ConfigError is the only
// exception allowed to escape; anything else, a crash or a sanitizer report is a finding. An
// accepted document must leave every field within the limits the reader promises to enforce.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "stratus/emulator/config.hpp"

namespace {

namespace se = stratus::emulator;
using nlohmann::json;

const std::filesystem::path kBaseDir = "/etc/stratus";

void check_accepted(const se::EmulatorConfig& c, const json& doc) {
  FUZZ_CHECK(c.port >= 0 && c.port <= 65535);
  FUZZ_CHECK(c.account_id.size() == 12 &&
             c.account_id.find_first_not_of("0123456789") == std::string::npos);
  FUZZ_CHECK(c.account_concurrency >= se::kMinUnreservedConcurrency &&
             c.account_concurrency <= 1000000);
  FUZZ_CHECK(c.idle_keepalive_s >= 0.01 && c.idle_keepalive_s <= 86400);
  FUZZ_CHECK(c.housekeeping_interval_ms >= 10 && c.housekeeping_interval_ms <= 60000);
  FUZZ_CHECK(c.scale_up_environments >= 1 && c.scale_up_environments <= 1000000);
  FUZZ_CHECK(c.scale_up_window_s >= 0.001 && c.scale_up_window_s <= 3600);
  FUZZ_CHECK(c.async_retry_delay_scale >= 0 && c.async_retry_delay_scale <= 1000);
  FUZZ_CHECK(c.shutdown_grace_s >= 0 && c.shutdown_grace_s <= 3600);
  FUZZ_CHECK(c.init_timeout_s >= 0.1 && c.init_timeout_s <= 600);
  for (double p : {c.prices.request_per_million, c.prices.gb_second_x86_64,
                   c.prices.gb_second_arm64, c.prices.s3_put_per_1000, c.prices.s3_get_per_1000}) {
    FUZZ_CHECK(p >= 0 && p <= 1e6);
  }
  if (doc.contains("data_dir") && !doc["data_dir"].get<std::string>().empty()) {
    FUZZ_CHECK(c.data_dir.is_absolute());
  }

  std::set<std::string> names;
  for (const auto& f : c.functions) {
    FUZZ_CHECK(se::is_valid_function_name(f.name));
    FUZZ_CHECK_MSG(names.insert(f.name).second, "duplicate function '%s' accepted", f.name.c_str());
    FUZZ_CHECK(f.code_dir.is_absolute());
    FUZZ_CHECK(!f.handler.empty());
    FUZZ_CHECK(f.memory_mb >= se::kMinMemoryMb && f.memory_mb <= se::kMaxMemoryMb);
    FUZZ_CHECK(f.timeout_s >= 1 && f.timeout_s <= se::kMaxTimeoutS);
    FUZZ_CHECK(!f.reserved_concurrency || (*f.reserved_concurrency >= 0 &&
                                           *f.reserved_concurrency <= 1000000));
    FUZZ_CHECK(f.provisioned >= 0 && f.provisioned <= 10000);
    FUZZ_CHECK(f.architecture == "x86_64" || f.architecture == "arm64");
  }
}

void apply(const json& doc) {
  se::EmulatorConfig config;
  try {
    se::apply_config_json(config, doc, kBaseDir);
  } catch (const se::ConfigError& e) {
    // Every refusal names the field it is about.
    FUZZ_CHECK(std::string(e.what()).rfind("config field '", 0) == 0);
    return;
  }
  check_accepted(config, doc);

  // Accepting is deterministic.
  se::EmulatorConfig again;
  se::apply_config_json(again, doc, kBaseDir);
  FUZZ_CHECK(again.port == config.port && again.address == config.address);
  FUZZ_CHECK(again.functions.size() == config.functions.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  json doc = json::parse(data, data + size, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return 0;
  apply(doc);
  // The same value as a function entry, so the function reader is reached from any document.
  apply(json{{"functions", json::array({doc})}});
  return 0;
}
