#include "stratus/emulator/lambda/function_registry.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

#include "stratus/common/base64.hpp"
#include "stratus/common/sha256.hpp"
#include "stratus/common/request_id.hpp"
#include "stratus/emulator/atomic_file.hpp"
#include "stratus/emulator/lambda/zip_extract.hpp"

namespace stratus::emulator {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json to_persisted(const FunctionConfig& f) {
  json j = {{"name", f.name},           {"runtime", f.runtime},
            {"handler", f.handler},     {"role", f.role},
            {"description", f.description}, {"architecture", f.architecture},
            {"memory_mb", f.memory_mb}, {"timeout_s", f.timeout_s},
            {"ephemeral_storage_mb", f.ephemeral_storage_mb},
            {"environment", f.environment}, {"provisioned", f.provisioned},
            {"last_modified", f.last_modified}, {"revision_id", f.revision_id},
            {"code_dir", f.code->dir().filename().string()}, {"code_sha256", f.code->sha256()},
            {"code_size", f.code->size()}};
  j["reserved_concurrency"] = f.reserved_concurrency ? json(*f.reserved_concurrency) : json(nullptr);
  j["recursive_loop"] = f.recursive_loop;
  if (f.event_invoke_config) {
    const auto& e = *f.event_invoke_config;
    j["event_invoke_config"] = {{"maximum_retry_attempts", e.maximum_retry_attempts},
                                {"maximum_event_age_s", e.maximum_event_age_s},
                                {"destination_config", e.destination_config},
                                {"last_modified", e.last_modified}};
  }
  return j;
}

FunctionConfig from_persisted(const json& j, const fs::path& function_dir) {
  FunctionConfig f;
  f.name = j.at("name").get<std::string>();
  f.runtime = j.at("runtime").get<std::string>();
  f.handler = j.at("handler").get<std::string>();
  f.role = j.at("role").get<std::string>();
  f.description = j.at("description").get<std::string>();
  f.architecture = j.at("architecture").get<std::string>();
  f.memory_mb = j.at("memory_mb").get<int>();
  f.timeout_s = j.at("timeout_s").get<int>();
  f.ephemeral_storage_mb = j.value("ephemeral_storage_mb", 512);  // absent before it existed
  f.environment = j.at("environment").get<std::map<std::string, std::string>>();
  f.provisioned = j.at("provisioned").get<int>();
  f.last_modified = j.at("last_modified").get<std::string>();
  f.revision_id = j.at("revision_id").get<std::string>();
  f.environment_revision = f.revision_id;
  if (!j.at("reserved_concurrency").is_null()) f.reserved_concurrency = j["reserved_concurrency"].get<int>();
  f.recursive_loop = j.value("recursive_loop", std::string("Terminate"));  // absent before it existed
  if (auto it = j.find("event_invoke_config"); it != j.end()) {
    EventInvokeConfig e;
    e.maximum_retry_attempts = it->at("maximum_retry_attempts").get<int>();
    e.maximum_event_age_s = it->at("maximum_event_age_s").get<int>();
    e.destination_config = it->at("destination_config");
    e.last_modified = it->at("last_modified").get<std::string>();
    f.event_invoke_config = e;
  }
  auto code_dir = function_dir / j.at("code_dir").get<std::string>();
  if (!fs::is_directory(code_dir)) throw std::runtime_error("code directory is missing");
  f.code = std::make_shared<CodeBundle>(code_dir, true, j.at("code_sha256").get<std::string>(),
                                        j.at("code_size").get<std::int64_t>());
  return f;
}

}  // namespace

FunctionRegistry::FunctionRegistry(fs::path data_dir, std::string region, std::string account)
    : functions_dir_(std::move(data_dir) / "functions"),
      region_(std::move(region)),
      account_(std::move(account)) {
  fs::create_directories(functions_dir_);
}

fs::path FunctionRegistry::function_dir(const std::string& name) const {
  // Names are validated ([A-Za-z0-9_-]{1,64}) before they get here, so they are safe path parts.
  return functions_dir_ / name;
}

void FunctionRegistry::load_persisted() {
  for (const auto& entry : fs::directory_iterator(functions_dir_)) {
    if (!entry.is_directory()) continue;
    auto file = entry.path() / "function.json";
    if (!fs::exists(file)) continue;
    try {
      std::ifstream in(file);
      FunctionConfig f = from_persisted(json::parse(in), entry.path());
      if (f.name != entry.path().filename().string()) throw std::runtime_error("name mismatch");
      // Code directories no longer referenced (left by a crash mid-update) are cleaned up.
      for (const auto& sub : fs::directory_iterator(entry.path())) {
        if (sub.is_directory() && sub.path() != f.code->dir()) fs::remove_all(sub.path());
      }
      spdlog::info("loaded function '{}' from {}", f.name, file.string());
      std::string name = f.name;
      functions_[name] = std::make_shared<const FunctionConfig>(std::move(f));
    } catch (const std::exception& e) {
      spdlog::error("skipping persisted function in {}: {}", entry.path().string(), e.what());
    }
  }
}

void FunctionRegistry::add_from_spec(const FunctionSpec& spec) {
  auto bootstrap = spec.code_dir / "bootstrap";
  if (::access(bootstrap.c_str(), X_OK) != 0) {
    throw ConfigError("function '" + spec.name + "': code_dir '" + spec.code_dir.string() +
                      "' has no executable bootstrap (build the project first?)");
  }
  FunctionConfig f;
  f.name = spec.name;
  f.runtime = spec.runtime;
  f.handler = spec.handler;
  f.description = spec.description;
  f.architecture = spec.architecture;
  f.memory_mb = spec.memory_mb;
  f.timeout_s = spec.timeout_s;
  f.ephemeral_storage_mb = spec.ephemeral_storage_mb;
  f.environment = spec.environment;
  f.reserved_concurrency = spec.reserved_concurrency;
  f.recursive_loop = spec.recursive_loop;
  f.provisioned = spec.provisioned;
  f.role = "arn:aws:iam::" + account_ + ":role/stratus";
  f.last_modified = lambda_timestamp_now();
  f.revision_id = make_request_id();
  f.environment_revision = f.revision_id;
  f.from_config_file = true;
  std::error_code ec;
  auto size = static_cast<std::int64_t>(fs::file_size(bootstrap, ec));
  f.code = std::make_shared<CodeBundle>(spec.code_dir, false, "", ec ? 0 : size);
  std::string name = f.name;
  functions_[name] = std::make_shared<const FunctionConfig>(std::move(f));
}

FunctionConfigPtr FunctionRegistry::find(const std::string& name) const {
  auto it = functions_.find(name);
  return it == functions_.end() ? nullptr : it->second;
}

std::vector<FunctionConfigPtr> FunctionRegistry::list() const {
  std::vector<FunctionConfigPtr> out;
  out.reserve(functions_.size());
  for (const auto& [_, f] : functions_) out.push_back(f);
  return out;
}

std::int64_t FunctionRegistry::total_code_size() const {
  std::int64_t total = 0;
  for (const auto& [_, f] : functions_) total += f->code ? f->code->size() : 0;
  return total;
}

FunctionRegistry::ExtractedCode FunctionRegistry::extract_code(const std::string& name,
                                                               std::string_view zip_bytes) const {
  ExtractedCode code;
  code.made_function_dir = fs::create_directories(function_dir(name));
  auto dir = function_dir(name) / ("code-" + make_hex_id(16));
  try {
    extract_zip(zip_bytes, dir);
  } catch (const ZipError& e) {
    if (code.made_function_dir) {
      std::error_code ec;
      fs::remove(function_dir(name), ec);  // only while empty: another upload may be extracting there
    }
    throw FunctionRegistryError(RegistryFailure::UnusableCode, e.what());
  }
  code.bundle = std::make_shared<CodeBundle>(dir, true, base64_encode(sha256_digest(zip_bytes)),
                                             static_cast<std::int64_t>(zip_bytes.size()));
  return code;
}

namespace {

// Removes code that will not be used, and the function directory made for it while it is empty
// (another upload of the same name may be extracting there).
void discard(FunctionRegistry::ExtractedCode& code, const fs::path& function_dir) {
  code.bundle->retire();
  code.bundle.reset();  // the last owner: the code directory goes now
  if (code.made_function_dir) {
    std::error_code ec;
    fs::remove(function_dir, ec);
  }
}

}  // namespace

void FunctionRegistry::persist(const FunctionConfig& f) {
  if (f.from_config_file) return;  // the config file is their source of truth
  write_file_atomically(function_dir(f.name) / "function.json", to_persisted(f).dump(2));
}

FunctionConfigPtr FunctionRegistry::create(FunctionConfig draft, ExtractedCode code) {
  if (functions_.count(draft.name)) {
    code.made_function_dir = false;  // it is the existing function's
    discard(code, function_dir(draft.name));
    throw FunctionRegistryError(RegistryFailure::AlreadyExists, draft.name);
  }
  draft.code = code.bundle;
  draft.last_modified = lambda_timestamp_now();
  draft.revision_id = make_request_id();
  draft.environment_revision = draft.revision_id;
  try {
    persist(draft);
  } catch (...) {
    discard(code, function_dir(draft.name));
    throw;
  }
  auto ptr = std::make_shared<const FunctionConfig>(std::move(draft));
  functions_[ptr->name] = ptr;
  return ptr;
}

FunctionConfigPtr FunctionRegistry::update_code(const std::string& name, ExtractedCode code) {
  auto current = find(name);
  FunctionConfig updated = *current;
  updated.from_config_file = false;  // from now on it is an API-managed function
  updated.code = code.bundle;
  FunctionConfigPtr result;
  try {
    result = replace(std::move(updated), true);
  } catch (...) {
    code.made_function_dir = false;
    discard(code, function_dir(name));
    throw;
  }
  if (current->code) current->code->retire();
  return result;
}

FunctionConfigPtr FunctionRegistry::replace(FunctionConfig updated, bool affects_environments) {
  updated.last_modified = lambda_timestamp_now();
  updated.revision_id = make_request_id();
  if (affects_environments) updated.environment_revision = updated.revision_id;
  persist(updated);
  auto ptr = std::make_shared<const FunctionConfig>(std::move(updated));
  functions_[ptr->name] = ptr;
  return ptr;
}

void FunctionRegistry::remove(const std::string& name) {
  auto it = functions_.find(name);
  if (it == functions_.end()) return;
  if (it->second->code) it->second->code->retire();
  if (!it->second->from_config_file) {
    std::error_code ec;
    fs::remove(function_dir(name) / "function.json", ec);
  }
  functions_.erase(it);
}

}  // namespace stratus::emulator
