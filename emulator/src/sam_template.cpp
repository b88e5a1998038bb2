#include "stratus/emulator/sam_template.hpp"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "stratus/emulator/lambda/zip_extract.hpp"

namespace stratus::emulator {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kServerlessFunction = "AWS::Serverless::Function";
constexpr const char* kLambdaFunction = "AWS::Lambda::Function";

// Nodes a template may expand to while Globals are merged: aliases share nodes in yaml-cpp, so a
// hostile template ("billion laughs") is small as parsed but huge once copied.
constexpr long kMaxCopiedNodes = 200000;

// Zipped code larger than Lambda's unzipped limit cannot be valid.
constexpr std::uintmax_t kMaxZipBytes = kMaxUnzippedCodeBytes;

// Properties that change nothing when the function runs on the emulator (event sources, IAM,
// deployment, tracing, networking): ignored, and said so.
const std::set<std::string> kIgnoredProperties = {
    "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256", "CodeSigningConfigArn", "DeadLetterConfig", "DeadLetterQueue",
    "DeploymentPreference", "EventInvokeConfig", "Events", "FunctionUrlConfig", "KmsKeyArn",
    "LoggingConfig", "PermissionsBoundary", "Policies", "Role",
    "RolePath", "RuntimeManagementConfig", "SnapStart", "Tags", "Tracing", "TracingConfig",
    "VersionDescription", "VpcConfig", "PropagateTags"};

// Properties that would change what runs, which the emulator cannot provide.
const std::map<std::string, std::string> kUnservedProperties = {
    {"ImageUri", "container images cannot be served (the emulator runs zip/directory code with a bootstrap)"},
    {"ImageConfig", "container images cannot be served (the emulator runs zip/directory code with a bootstrap)"},
    {"InlineCode", "inline code cannot be served (only custom runtimes, whose code has an executable bootstrap)"},
    {"Layers", "layers cannot be served: put what the function needs into its code"},
    {"FileSystemConfigs", "EFS file systems cannot be served"},
};

const std::set<std::string> kCustomRuntimes = {"provided.al2023", "provided.al2", "provided"};

struct Where {
  std::string resource;
  std::string type;
  std::string property;  // dotted, e.g. "Environment.Variables.LEVEL"
};

[[noreturn]] void fail(const Where& w, std::string_view what) {
  std::string msg = "template resource '" + w.resource + "'";
  if (!w.type.empty()) msg += " (" + w.type + ")";
  if (!w.property.empty()) msg += " property '" + w.property + "'";
  msg += ": ";
  msg += what;
  throw TemplateError(msg);
}

Where sub(const Where& w, std::string_view child) {
  Where out = w;
  out.property = w.property.empty() ? std::string(child) : w.property + "." + std::string(child);
  return out;
}

bool is_custom_tag(const YAML::Node& n) {
  const std::string& tag = n.Tag();
  return tag.size() > 1 && tag[0] == '!' && tag.rfind("tag:yaml.org", 0) != 0;
}

// The single key of a long-form intrinsic ({"Ref": ...}, {"Fn::Sub": ...}), or empty.
std::string long_form_intrinsic(const YAML::Node& n) {
  if (!n.IsMap() || n.size() != 1) return {};
  const YAML::Node key = n.begin()->first;
  if (!key.IsScalar()) return {};
  const std::string& k = key.Scalar();
  if (k == "Ref" || k == "Condition" || k.rfind("Fn::", 0) == 0) return k;
  return {};
}

// Deep copy with a node budget (see kMaxCopiedNodes); tags are kept (they mark intrinsics).
YAML::Node copy_node(const YAML::Node& n, long& budget) {
  if (--budget < 0) throw TemplateError("template expands to more than 200000 nodes (aliases?); refused");
  if (!n.IsDefined()) return YAML::Node();
  YAML::Node out(n.IsScalar() ? YAML::NodeType::Scalar : n.Type());
  if (n.IsScalar()) {
    out = n.Scalar();
  } else if (n.IsSequence()) {
    for (const auto& item : n) out.push_back(copy_node(item, budget));
  } else if (n.IsMap()) {
    for (const auto& kv : n) out[copy_node(kv.first, budget)] = copy_node(kv.second, budget);
  }
  out.SetTag(n.Tag());
  return out;
}

// SAM's Globals rule: the resource's scalars win, maps merge key by key (recursively), lists are
// the globals' entries followed by the resource's. An intrinsic is a value, never merged into.
YAML::Node merge_globals(const YAML::Node& global, const YAML::Node& local, long& budget) {
  if (!global.IsDefined() || global.IsNull()) return copy_node(local, budget);
  if (!local.IsDefined()) return copy_node(global, budget);
  bool plain = !is_custom_tag(global) && !is_custom_tag(local) && long_form_intrinsic(global).empty() &&
               long_form_intrinsic(local).empty();
  if (plain && global.IsMap() && local.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& kv : global) {
      if (!kv.first.IsScalar()) continue;
      const YAML::Node mine = local[kv.first.Scalar()];
      out[kv.first.Scalar()] = mine.IsDefined() ? merge_globals(kv.second, mine, budget)
                                                : copy_node(kv.second, budget);
    }
    for (const auto& kv : local) {
      if (!kv.first.IsScalar() || global[kv.first.Scalar()].IsDefined()) continue;
      out[kv.first.Scalar()] = copy_node(kv.second, budget);
    }
    return out;
  }
  if (plain && global.IsSequence() && local.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : global) out.push_back(copy_node(item, budget));
    for (const auto& item : local) out.push_back(copy_node(item, budget));
    return out;
  }
  return copy_node(local, budget);
}

// Keys of a map, in order, refusing non-scalar and repeated keys (YAML allows neither meaningfully;
// a repeated key would silently pick one value).
std::vector<std::pair<std::string, YAML::Node>> map_entries(const YAML::Node& n, const Where& w) {
  std::vector<std::pair<std::string, YAML::Node>> entries;
  std::set<std::string> seen;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) fail(w, "has a key that is not a string");
    const std::string& key = kv.first.Scalar();
    if (!seen.insert(key).second) fail(w, "has the key '" + key + "' twice");
    entries.emplace_back(key, kv.second);
  }
  return entries;
}

class Resolver {
 public:
  Resolver(const YAML::Node& root, const TemplateOptions& options) {
    values_["AWS::Region"] = options.region;
    values_["AWS::AccountId"] = options.account_id;
    values_["AWS::Partition"] = "aws";
    values_["AWS::StackName"] = options.stack_name;
    values_["AWS::URLSuffix"] = "amazonaws.com";
    const YAML::Node params = root["Parameters"];
    if (!params.IsDefined() || params.IsNull()) return;
    Where w{"Parameters", "", ""};
    if (!params.IsMap()) fail(w, "must be a map of parameters");
    for (const auto& [name, param] : map_entries(params, w)) {
      if (!param.IsMap()) fail(sub(w, name), "must be a map (Type, Default, ...)");
      const YAML::Node def = param["Default"];
      if (def.IsDefined() && def.IsScalar() && !is_custom_tag(def)) values_[name] = def.Scalar();
    }
  }

  // A scalar property's value, with Ref and Sub resolved.
  std::string scalar(const YAML::Node& n, const Where& w) const {
    if (!n.IsDefined() || n.IsNull()) fail(w, "has no value");
    const std::string& tag = n.Tag();
    if (is_custom_tag(n)) {
      // The short form's argument is the tagged node itself.
      if (tag == "!Ref") return ref(n, w, true);
      if (tag == "!Sub") return substitute(n, w, true);
      fail(w, "the intrinsic function " + tag + " cannot be resolved by the emulator; write the value itself");
    }
    if (std::string key = long_form_intrinsic(n); !key.empty()) {
      const YAML::Node arg = n[key];
      if (key == "Ref") return ref(arg, w, false);
      if (key == "Fn::Sub") return substitute(arg, w, false);
      fail(w, "the intrinsic function " + key + " cannot be resolved by the emulator; write the value itself");
    }
    if (!n.IsScalar()) fail(w, "must be a single value, not a list or map");
    return n.Scalar();
  }

  // Fails when `n` is an intrinsic where a map or list is expected.
  void no_intrinsic(const YAML::Node& n, const Where& w) const {
    if (is_custom_tag(n)) fail(w, "the intrinsic function " + n.Tag() + " cannot be resolved by the emulator");
    if (std::string key = long_form_intrinsic(n); !key.empty()) {
      fail(w, "the intrinsic function " + key + " cannot be resolved by the emulator");
    }
  }

 private:
  std::string lookup(const std::string& name, const Where& w, std::string_view form) const {
    auto it = values_.find(name);
    if (it != values_.end()) return it->second;
    fail(w, std::string(form) + " '" + name +
                "' cannot be resolved: only template parameters with a Default and AWS::Region, "
                "AWS::AccountId, AWS::Partition, AWS::StackName can be (resources have no ids here)");
  }
  std::string ref(const YAML::Node& arg, const Where& w, bool short_form) const {
    if (!arg.IsScalar() || (!short_form && is_custom_tag(arg))) fail(w, "Ref takes a name");
    return lookup(arg.Scalar(), w, "Ref");
  }
  std::string substitute(const YAML::Node& arg, const Where& w, bool short_form) const {
    if (!arg.IsScalar() || (!short_form && is_custom_tag(arg))) {
      fail(w, "only the one-string form of Sub can be resolved by the emulator");
    }
    const std::string& text = arg.Scalar();
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
      auto open = text.find("${", i);
      if (open == std::string::npos) {
        out.append(text, i, std::string::npos);
        break;
      }
      out.append(text, i, open - i);
      auto close = text.find('}', open + 2);
      if (close == std::string::npos) fail(w, "Sub has an unclosed '${'");
      std::string name = text.substr(open + 2, close - open - 2);
      if (!name.empty() && name[0] == '!') {
        out.append("${").append(name, 1, std::string::npos).append("}");  // ${!Literal}
      } else if (name.find('.') != std::string::npos) {
        fail(w, "Sub's '${" + name + "}' is an attribute of a resource, which cannot be resolved by the emulator");
      } else {
        out += lookup(name, w, "Sub variable");
      }
      i = close + 1;
    }
    return out;
  }

  std::map<std::string, std::string> values_;
};

long long integer(const Resolver& r, const YAML::Node& n, const Where& w) {
  std::string text = r.scalar(n, w);
  long long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    fail(w, "must be an integer, got '" + text.substr(0, 64) + "'");
  }
  return value;
}

std::string read_file_bounded(const fs::path& file, std::uintmax_t limit, const Where& w) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) fail(w, "cannot read '" + file.string() + "': " + ec.message());
  if (size > limit) fail(w, "'" + file.string() + "' is larger than " + std::to_string(limit) + " bytes");
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) fail(w, "cannot read '" + file.string() + "'");
  return bytes;
}

// A code location: a local directory used in place, or a local zip unpacked under
// options.code_dir/<function>. S3 locations cannot be fetched.
fs::path code_location(const Resolver& r, const YAML::Node& n, const Where& w, const fs::path& base_dir,
                       const std::string& function, const TemplateOptions& options) {
  r.no_intrinsic(n, w);
  if (n.IsMap()) {
    if (n["ZipFile"].IsDefined()) fail(w, "inline code (ZipFile) cannot be served; give a local directory or zip");
    fail(w, "S3 code locations cannot be served; give a local directory or zip (as before `sam package`)");
  }
  std::string text = r.scalar(n, w);
  if (text.rfind("s3://", 0) == 0) fail(w, "S3 code locations cannot be served; give a local directory or zip");
  fs::path path = fs::path(text).is_absolute() ? fs::path(text) : (base_dir / text).lexically_normal();
  std::error_code ec;
  fs::path code;
  if (fs::is_directory(path, ec)) {
    code = fs::canonical(path, ec);
    if (ec) fail(w, "cannot resolve '" + path.string() + "': " + ec.message());
  } else if (fs::is_regular_file(path, ec)) {
    if (options.code_dir.empty()) fail(w, "a zip needs a directory to be unpacked in");
    std::string bytes = read_file_bounded(path, kMaxZipBytes, w);
    fs::create_directories(options.code_dir, ec);
    code = options.code_dir / function;
    fs::path staging = options.code_dir / ("." + function + ".unpacking-" + std::to_string(::getpid()));
    fs::remove_all(staging, ec);
    try {
      extract_zip(bytes, staging);
    } catch (const ZipError& e) {
      fail(w, "'" + path.string() + "' is not a usable zip: " + e.what());
    }
    // Replace the previous start's copy only once the new one is complete.
    fs::remove_all(code, ec);
    fs::rename(staging, code, ec);
    if (ec) {
      fs::remove_all(staging, ec);
      fail(w, "cannot unpack into '" + code.string() + "'");
    }
  } else {
    fail(w, "'" + path.string() + "' is neither a directory nor a zip file");
  }
  if (::access((code / "bootstrap").c_str(), X_OK) != 0) {
    fail(w, "'" + path.string() + "' has no executable 'bootstrap' at its top level (the custom runtime's entry point)");
  }
  return code;
}

// The config-file field of a function entry, as the template spells it (for error messages).
std::string template_property(const std::string& field, bool serverless) {
  static const std::map<std::string, std::string> names = {
      {"name", "FunctionName"},
      {"memory_mb", "MemorySize"},
      {"timeout_s", "Timeout"},
      {"ephemeral_storage_mb", "EphemeralStorage.Size"},
      {"reserved_concurrency", "ReservedConcurrentExecutions"},
      {"provisioned", "ProvisionedConcurrencyConfig.ProvisionedConcurrentExecutions"},
      {"handler", "Handler"},
      {"runtime", "Runtime"},
      {"architecture", "Architectures"},
      {"description", "Description"},
      {"recursive_loop", "RecursiveLoop"},
  };
  if (field == "code_dir") return serverless ? "CodeUri" : "Code";
  if (field.rfind("environment.", 0) == 0) return "Environment.Variables." + field.substr(12);
  if (field == "environment") return "Environment.Variables";
  auto it = names.find(field);
  return it == names.end() ? field : it->second;
}

// Runs the entry through the config file's validation, reporting its errors in template terms.
FunctionSpec validate_as_config(const json& entry, const Where& resource, bool serverless) {
  EmulatorConfig scratch;
  try {
    apply_config_json(scratch, json{{"functions", json::array({entry})}}, fs::path("/"));
  } catch (const ConfigError& e) {
    // "config field 'functions[0].memory_mb': must be between ..."
    std::string msg = e.what();
    const std::string prefix = "config field 'functions[0].";
    if (msg.rfind(prefix, 0) == 0) {
      auto end = msg.find("': ", prefix.size());
      if (end != std::string::npos) {
        fail(sub(resource, template_property(msg.substr(prefix.size(), end - prefix.size()), serverless)),
             msg.substr(end + 3));
      }
    }
    fail(resource, msg);
  }
  return std::move(scratch.functions.front());
}

FunctionSpec read_function(const std::string& logical_id, const std::string& type, const YAML::Node& props,
                           const Resolver& r, const fs::path& base_dir, const TemplateOptions& options,
                           std::vector<std::string>& notes) {
  const bool serverless = type == kServerlessFunction;
  Where w{logical_id, type, ""};
  json entry = json::object();
  std::map<std::string, YAML::Node> p;
  for (const auto& [key, value] : map_entries(props, sub(w, "Properties"))) p.emplace(key, value);
  auto has = [&](const std::string& key) { return p.count(key) && !p[key].IsNull(); };

  std::vector<std::string> ignored;
  std::vector<std::string> unknown;
  const std::set<std::string> served = {
      "CodeUri", "Code", "Handler", "Runtime", "MemorySize", "Timeout", "Environment",
      "ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "EphemeralStorage",
      "Architectures", "Description", "FunctionName", "PackageType", "RecursiveLoop"};
  for (const auto& [key, value] : p) {
    if (auto it = kUnservedProperties.find(key); it != kUnservedProperties.end()) fail(sub(w, key), it->second);
    if (served.count(key)) continue;
    (kIgnoredProperties.count(key) ? ignored : unknown).push_back(key);
  }
  if ((serverless && p.count("Code")) || (!serverless && p.count("CodeUri"))) {
    std::string key = serverless ? "Code" : "CodeUri";
    fail(sub(w, key), std::string("is not a property of ") + type + " (use " + (serverless ? "CodeUri" : "Code") + ")");
  }
  if (!serverless && p.count("ProvisionedConcurrencyConfig")) {
    fail(sub(w, "ProvisionedConcurrencyConfig"),
         "is not a property of AWS::Lambda::Function (it belongs to a version or alias)");
  }

  std::string name = logical_id;
  if (has("FunctionName")) name = r.scalar(p["FunctionName"], sub(w, "FunctionName"));
  if (!is_valid_function_name(name)) {
    fail(has("FunctionName") ? sub(w, "FunctionName") : w,
         "'" + name.substr(0, 80) + "' is not a Lambda function name (1-64 letters, digits, '-' and '_')");
  }
  entry["name"] = name;

  if (has("PackageType") && r.scalar(p["PackageType"], sub(w, "PackageType")) != "Zip") {
    fail(sub(w, "PackageType"), "only Zip packages can be served (not container images)");
  }
  if (!has("Runtime")) fail(sub(w, "Runtime"), "is required (provided.al2023, provided.al2 or provided)");
  std::string runtime = r.scalar(p["Runtime"], sub(w, "Runtime"));
  if (!kCustomRuntimes.count(runtime)) {
    fail(sub(w, "Runtime"), "'" + runtime.substr(0, 64) +
                                "' cannot be served: the emulator runs custom runtimes (provided.al2023, "
                                "provided.al2, provided), whose code has an executable bootstrap");
  }
  entry["runtime"] = runtime;
  if (!has("Handler")) fail(sub(w, "Handler"), "is required");
  entry["handler"] = r.scalar(p["Handler"], sub(w, "Handler"));
  if (has("Description")) entry["description"] = r.scalar(p["Description"], sub(w, "Description"));
  if (has("RecursiveLoop")) entry["recursive_loop"] = r.scalar(p["RecursiveLoop"], sub(w, "RecursiveLoop"));
  if (has("MemorySize")) entry["memory_mb"] = integer(r, p["MemorySize"], sub(w, "MemorySize"));
  if (has("Timeout")) entry["timeout_s"] = integer(r, p["Timeout"], sub(w, "Timeout"));
  if (has("ReservedConcurrentExecutions")) {
    entry["reserved_concurrency"] = integer(r, p["ReservedConcurrentExecutions"], sub(w, "ReservedConcurrentExecutions"));
  }
  auto sub_map = [&](const std::string& key) {
    const YAML::Node n = p[key];
    r.no_intrinsic(n, sub(w, key));
    if (!n.IsMap()) fail(sub(w, key), "must be a map");
    return n;
  };
  if (has("ProvisionedConcurrencyConfig")) {
    const YAML::Node n = sub_map("ProvisionedConcurrencyConfig");
    Where pw = sub(w, "ProvisionedConcurrencyConfig");
    for (const auto& [key, _] : map_entries(n, pw)) {
      if (key != "ProvisionedConcurrentExecutions") fail(sub(pw, key), "unknown property");
    }
    if (!n["ProvisionedConcurrentExecutions"].IsDefined()) fail(sub(pw, "ProvisionedConcurrentExecutions"), "is required");
    entry["provisioned"] = integer(r, n["ProvisionedConcurrentExecutions"], sub(pw, "ProvisionedConcurrentExecutions"));
  }
  if (has("EphemeralStorage")) {
    const YAML::Node n = sub_map("EphemeralStorage");
    Where ew = sub(w, "EphemeralStorage");
    for (const auto& [key, _] : map_entries(n, ew)) {
      if (key != "Size") fail(sub(ew, key), "unknown property");
    }
    if (!n["Size"].IsDefined()) fail(sub(ew, "Size"), "is required");
    entry["ephemeral_storage_mb"] = integer(r, n["Size"], sub(ew, "Size"));
  }
  if (has("Environment")) {
    const YAML::Node n = sub_map("Environment");
    Where ew = sub(w, "Environment");
    json variables = json::object();
    for (const auto& [key, value] : map_entries(n, ew)) {
      if (key != "Variables") fail(sub(ew, key), "unknown property (Environment holds Variables)");
      Where vw = sub(ew, "Variables");
      if (value.IsNull()) continue;
      r.no_intrinsic(value, vw);
      if (!value.IsMap()) fail(vw, "must be a map of names to values");
      for (const auto& [var, v] : map_entries(value, vw)) variables[var] = r.scalar(v, sub(vw, var));
    }
    entry["environment"] = variables;
  }
  if (has("Architectures")) {
    const YAML::Node n = p["Architectures"];
    Where aw = sub(w, "Architectures");
    r.no_intrinsic(n, aw);
    if (!n.IsSequence() || n.size() != 1) fail(aw, "must be a list of exactly one architecture (x86_64 or arm64)");
    entry["architecture"] = r.scalar(n[0], aw);
  }
  const std::string code_key = serverless ? "CodeUri" : "Code";
  if (!serverless && !has("Code")) fail(sub(w, "Code"), "is required (a local directory or zip)");
  // Every value is checked before any code is unpacked; the code location comes last.
  entry["code_dir"] = "/";
  FunctionSpec spec = validate_as_config(entry, w, serverless);
  const YAML::Node code_node = has(code_key) ? p[code_key] : YAML::Node(".");  // SAM's default: the template's directory
  spec.code_dir = code_location(r, code_node, sub(w, code_key), base_dir, name, options);

  if (!ignored.empty()) {
    std::string list;
    for (const auto& key : ignored) list += (list.empty() ? "" : ", ") + key;
    notes.push_back("template resource '" + logical_id + "': ignored " + list + " (no effect on the emulator)");
  }
  for (const auto& key : unknown) {
    notes.push_back("template resource '" + logical_id + "': unknown property '" + key + "' ignored");
  }
  return spec;
}

}  // namespace

TemplateFunctions functions_from_template(std::string_view yaml_text, const fs::path& base_dir,
                                          const TemplateOptions& options) {
  if (yaml_text.size() > kMaxTemplateBytes) {
    throw TemplateError("template is larger than " + std::to_string(kMaxTemplateBytes) + " bytes");
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    throw TemplateError("template is not valid YAML: line " + std::to_string(e.mark.line + 1) + ", column " +
                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    throw TemplateError(std::string("template is not valid YAML: ") + e.what());
  }
  const YAML::Node& root = parsed;  // const: lookups must never insert into the parsed tree
  if (!root.IsMap()) throw TemplateError("template must be a YAML map (with a Resources section)");
  // Validate the top-level keys once (repeated ones would hide a section).
  map_entries(root, Where{"<template>", "", ""});
  const YAML::Node resources = root["Resources"];
  if (!resources.IsDefined() || !resources.IsMap()) {
    throw TemplateError("template has no Resources map");
  }
  Resolver resolver(root, options);

  const YAML::Node g = root["Globals"];
  if (g.IsDefined() && !g.IsNull()) {
    Where gw{"Globals", "", ""};
    if (!g.IsMap()) fail(gw, "must be a map");
    map_entries(g, gw);  // Api, HttpApi, ... are not served; Function is
  }
  const YAML::Node globals = g.IsDefined() && g.IsMap() ? g["Function"] : YAML::Node();
  if (globals.IsDefined() && !globals.IsNull()) {
    if (!globals.IsMap()) fail(Where{"Globals", "", "Function"}, "must be a map of properties");
    map_entries(globals, Where{"Globals", "", "Function"});
  }

  TemplateFunctions out;
  long budget = kMaxCopiedNodes;
  std::set<std::string> names;
  for (const auto& [logical_id, resource] : map_entries(resources, Where{"Resources", "", ""})) {
    Where w{logical_id, "", ""};
    if (!resource.IsMap()) fail(w, "must be a map with Type and Properties");
    const YAML::Node type_node = resource["Type"];
    if (!type_node.IsDefined() || !type_node.IsScalar()) fail(w, "has no Type");
    const std::string type = type_node.Scalar();
    if (type != kServerlessFunction && type != kLambdaFunction) {
      out.notes.push_back("template resource '" + logical_id + "' (" + type + ") ignored: not a function");
      continue;
    }
    w.type = type;
    if (resource["Condition"].IsDefined()) fail(sub(w, "Condition"), "conditions cannot be evaluated by the emulator");
    const YAML::Node raw = resource["Properties"];
    if (raw.IsDefined() && !raw.IsNull() && !raw.IsMap()) fail(sub(w, "Properties"), "must be a map");
    const YAML::Node own = raw.IsDefined() && raw.IsMap() ? raw : YAML::Node(YAML::NodeType::Map);
    // A new tree: the parsed one is shared by aliases and must not change.
    const YAML::Node props = type == kServerlessFunction && globals.IsDefined() && globals.IsMap()
                                 ? merge_globals(globals, own, budget)
                                 : own;
    FunctionSpec spec = read_function(logical_id, type, props, resolver, base_dir, options, out.notes);
    if (!names.insert(spec.name).second) {
      fail(w, "function name '" + spec.name + "' is used by another resource");
    }
    out.functions.push_back(std::move(spec));
  }
  return out;
}

TemplateFunctions load_template_file(const fs::path& file, const TemplateOptions& options) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw TemplateError("cannot read template '" + file.string() + "': " + ec.message());
  if (size > kMaxTemplateBytes) {
    throw TemplateError("template '" + file.string() + "' is larger than " + std::to_string(kMaxTemplateBytes) + " bytes");
  }
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw TemplateError("cannot read template '" + file.string() + "'");
  try {
    return functions_from_template(text, fs::absolute(file).parent_path(), options);
  } catch (const TemplateError& e) {
    throw TemplateError(file.filename().string() + ": " + e.what());
  }
}

}  // namespace stratus::emulator
