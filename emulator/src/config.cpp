#include "stratus/emulator/config.hpp"

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "stratus/emulator/lambda/function_config_validation.hpp"

namespace stratus::emulator {

using nlohmann::json;

bool is_valid_function_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

namespace {

// Reads typed fields out of one JSON object, remembering the path for error messages and
// rejecting keys nobody asked for (a typo in a config key should not be silently ignored).
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
    if (!obj_.is_object()) fail("", "must be a JSON object");
  }

  [[noreturn]] void fail(std::string_view key, std::string_view what) const {
    std::string where = path_;
    if (!key.empty()) where += (where.empty() ? "" : ".") + std::string(key);
    throw ConfigError("config field '" + (where.empty() ? std::string("<root>") : where) + "': " +
                      std::string(what));
  }

  const json* get(std::string_view key) {
    seen_.insert(std::string(key));
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  void read(std::string_view key, std::string& out) {
    if (const json* v = get(key)) {
      if (!v->is_string()) fail(key, "must be a string");
      out = v->get<std::string>();
    }
  }
  void read(std::string_view key, double& out, double min, double max) {
    if (const json* v = get(key)) {
      if (!v->is_number()) fail(key, "must be a number");
      double d = v->get<double>();
      if (!(d >= min && d <= max)) {
        fail(key, "must be between " + number(min) + " and " + number(max) + ", got " + number(d));
      }
      out = d;
    }
  }
  void read(std::string_view key, int& out, int min, int max) {
    if (const json* v = get(key)) {
      if (!v->is_number_integer()) fail(key, "must be an integer");
      auto i = v->get<long long>();
      if (i < min || i > max) {
        fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                      ", got " + std::to_string(i));
      }
      out = static_cast<int>(i);
    }
  }
  ObjectReader child(std::string_view key) {
    const json* v = get(key);
    static const json empty = json::object();
    return ObjectReader(v ? *v : empty, path_.empty() ? std::string(key) : path_ + "." + std::string(key));
  }
  void reject_unknown() const {
    for (const auto& [key, _] : obj_.items()) {
      if (!seen_.count(key)) fail(key, "unknown field");
    }
  }
  const std::string& path() const { return path_; }

 private:
  static std::string number(double d) {
    std::string s = std::to_string(d);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  const json& obj_;
  std::string path_;
  std::set<std::string> seen_;
};

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : (base / path).lexically_normal();
}

FunctionSpec read_function(ObjectReader& r, const std::filesystem::path& base_dir) {
  FunctionSpec f;
  r.read("name", f.name);
  if (!is_valid_function_name(f.name)) {
    r.fail("name", "must be 1-64 characters of letters, digits, '-' and '_'");
  }
  std::string code_dir;
  r.read("code_dir", code_dir);
  if (code_dir.empty()) r.fail("code_dir", "is required (a directory holding an executable bootstrap)");
  f.code_dir = resolve(base_dir, code_dir);
  r.read("handler", f.handler);
  if (f.handler.empty()) r.fail("handler", "is required");
  r.read("memory_mb", f.memory_mb, kMinMemoryMb, kMaxMemoryMb);
  r.read("timeout_s", f.timeout_s, 1, kMaxTimeoutS);
  r.read("ephemeral_storage_mb", f.ephemeral_storage_mb, kMinEphemeralStorageMb, kMaxEphemeralStorageMb);
  r.read("recursive_loop", f.recursive_loop);
  if (f.recursive_loop != "Terminate" && f.recursive_loop != "Allow") {
    r.fail("recursive_loop", "must be \"Terminate\" or \"Allow\"");
  }
  if (const json* v = r.get("reserved_concurrency"); v && !v->is_null()) {
    if (!v->is_number_integer() || v->get<long long>() < 0 || v->get<long long>() > 1000000) {
      r.fail("reserved_concurrency", "must be null or a non-negative integer");
    }
    f.reserved_concurrency = v->get<int>();
  }
  r.read("provisioned", f.provisioned, 0, 10000);
  if (f.reserved_concurrency && f.provisioned > *f.reserved_concurrency) {
    r.fail("provisioned", "cannot exceed reserved_concurrency (provisioned environments are part of it)");
  }
  if (const json* v = r.get("environment")) {
    if (!v->is_object()) r.fail("environment", "must be an object of string values");
    for (const auto& [key, value] : v->items()) {
      if (!value.is_string()) r.fail("environment." + key, "must be a string");
      f.environment[key] = value.get<std::string>();
    }
  }
  r.read("runtime", f.runtime);
  r.read("architecture", f.architecture);
  if (f.architecture != "x86_64" && f.architecture != "arm64") {
    r.fail("architecture", "must be \"x86_64\" or \"arm64\"");
  }
  r.read("description", f.description);
  // The checks CreateFunction applies, so a function the config declares is one the API would take.
  if (auto problem = check_function_settings(f.handler, f.description, f.environment)) {
    static const std::map<std::string, std::string, std::less<>> config_key = {
        {"Handler", "handler"}, {"Description", "description"}, {"Environment", "environment"}};
    r.fail(config_key.at(problem->field), "function '" + f.name + "': " + problem->message);
  }
  r.reject_unknown();
  return f;
}

}  // namespace

void apply_config_json(EmulatorConfig& config, const json& doc, const std::filesystem::path& base_dir) {
  ObjectReader root(doc, "");
  {
    ObjectReader listen = root.child("listen");
    listen.read("address", config.address);
    listen.read("port", config.port, 0, 65535);
    listen.reject_unknown();
  }
  std::string data_dir;
  root.read("data_dir", data_dir);
  if (!data_dir.empty()) config.data_dir = resolve(base_dir, data_dir);
  root.read("region", config.region);
  root.read("account_id", config.account_id);
  if (config.account_id.size() != 12 ||
      config.account_id.find_first_not_of("0123456789") != std::string::npos) {
    root.fail("account_id", "must be 12 digits");
  }
  root.read("account_concurrency", config.account_concurrency, kMinUnreservedConcurrency, 1000000);
  root.read("idle_keepalive_s", config.idle_keepalive_s, 0.01, 86400);
  root.read("housekeeping_interval_ms", config.housekeeping_interval_ms, 10, 60000);
  {
    ObjectReader scale = root.child("scale_up");
    scale.read("environments", config.scale_up_environments, 1, 1000000);
    scale.read("window_s", config.scale_up_window_s, 0.001, 3600);
    scale.reject_unknown();
  }
  {
    ObjectReader async = root.child("async");
    async.read("retry_delay_scale", config.async_retry_delay_scale, 0, 1000);
    if (const json* journal = async.get("journal")) {
      if (!journal->is_boolean()) async.fail("journal", "must be true or false");
      config.async_journal = journal->get<bool>();
    }
    async.reject_unknown();
  }
  root.read("shutdown_grace_s", config.shutdown_grace_s, 0, 3600);
  root.read("init_timeout_s", config.init_timeout_s, 0.1, 600);
  root.read("prefork_pool_size", config.prefork_pool_size, 0, 64);
  {
    ObjectReader prices = root.child("prices");
    auto& p = config.prices;
    prices.read("request_per_million", p.request_per_million, 0, 1e6);
    prices.read("gb_second_x86_64", p.gb_second_x86_64, 0, 1e6);
    prices.read("gb_second_arm64", p.gb_second_arm64, 0, 1e6);
    prices.read("s3_put_per_1000", p.s3_put_per_1000, 0, 1e6);
    prices.read("s3_get_per_1000", p.s3_get_per_1000, 0, 1e6);
    prices.reject_unknown();
  }
  {
    ObjectReader sigv4 = root.child("sigv4");
    if (const json* enabled = sigv4.get("enabled")) {
      if (!enabled->is_boolean()) sigv4.fail("enabled", "must be true or false");
      config.sigv4.enabled = enabled->get<bool>();
    }
    if (const json* list = sigv4.get("credentials")) {
      if (!list->is_array()) sigv4.fail("credentials", "must be an array");
      for (std::size_t i = 0; i < list->size(); ++i) {
        ObjectReader entry((*list)[i], sigv4.path() + ".credentials[" + std::to_string(i) + "]");
        std::string id;
        std::string secret;
        entry.read("access_key_id", id);
        entry.read("secret_access_key", secret);
        if (id.empty() || secret.empty()) {
          entry.fail("", "needs non-empty access_key_id and secret_access_key");
        }
        entry.reject_unknown();
        config.sigv4.secrets[id] = secret;
      }
    }
    sigv4.reject_unknown();
  }
  {
    ObjectReader s3 = root.child("s3");
    if (const json* fsync = s3.get("fsync")) {
      if (!fsync->is_boolean()) s3.fail("fsync", "must be true or false");
      config.s3.fsync = fsync->get<bool>();
    }
    s3.reject_unknown();
  }
  if (const json* mode = root.get("time_model")) {
    if (!mode->is_string() || (*mode != "aws" && *mode != "off")) root.fail("time_model", "must be \"aws\" or \"off\"");
    config.time_model = *mode == "aws" ? TimeModelMode::Aws : TimeModelMode::Off;
  }
  {
    ObjectReader profile = root.child("s3_profile");
    for (auto [name, target] : {std::pair{"read", &config.s3_profile.read}, std::pair{"write", &config.s3_profile.write}}) {
      ObjectReader r = profile.child(name);
      r.read("first_byte_ms", target->first_byte_ms, 0, 60000);
      r.read("mb_per_s", target->mb_per_s, 0.001, 1e6);
      r.reject_unknown();
    }
    profile.reject_unknown();
  }
  {
    ObjectReader sandbox = root.child("sandbox");
    sandbox.read("user", config.sandbox.user);
    sandbox.read("uid_range_start", config.sandbox.uid_range_start, 1000, 2000000000);
    sandbox.read("uid_range_size", config.sandbox.uid_range_size, 1, 1000000);
    if (const json* ns = sandbox.get("mount_namespace")) {
      if (!ns->is_boolean()) sandbox.fail("mount_namespace", "must be true or false");
      config.sandbox.mount_namespace = ns->get<bool>();
    }
    sandbox.reject_unknown();
  }
  if (const json* functions = root.get("functions")) {
    if (!functions->is_array()) root.fail("functions", "must be an array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < functions->size(); ++i) {
      ObjectReader r((*functions)[i], "functions[" + std::to_string(i) + "]");
      FunctionSpec spec = read_function(r, base_dir);
      if (!names.insert(spec.name).second) r.fail("name", "duplicate function name '" + spec.name + "'");
      config.functions.push_back(std::move(spec));
    }
  }
  if (const json* faults = root.get("faults")) {
    try {
      config.faults = parse_fault_plan(*faults);
    } catch (const FaultPlanError& e) {
      throw ConfigError(std::string("config field 'faults': ") + e.what());
    }
  }
  root.read("recursion_limit", config.recursion_limit, 1, 1000);
  if (const json* mode = root.get("cgroup_mode")) {
    static const std::pair<const char*, CgroupMode> modes[] = {
        {"auto", CgroupMode::Auto}, {"v2", CgroupMode::V2}, {"v1", CgroupMode::V1}, {"off", CgroupMode::Off}};
    bool found = false;
    for (const auto& [name, value] : modes) {
      if (mode->is_string() && *mode == name) {
        config.cgroup_mode = value;
        found = true;
      }
    }
    if (!found) root.fail("cgroup_mode", "must be \"auto\", \"v2\", \"v1\" or \"off\"");
  }
  root.reject_unknown();
}

EmulatorConfig load_config_file(const std::filesystem::path& file) {
  EmulatorConfig config;
  apply_config_file(config, file);
  return config;
}

void apply_config_file(EmulatorConfig& config, const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError("cannot read config file '" + file.string() + "'");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ConfigError("config file '" + file.string() + "' is not valid JSON: " + e.what());
  }
  apply_config_json(config, doc, std::filesystem::absolute(file).parent_path());
}

}  // namespace stratus::emulator
