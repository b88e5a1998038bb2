#include "stratus/common/aws_environment.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace stratus::aws {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "value # note" -> "value". A '#' or ';' inside a value (no whitespace before it) stays.
std::string_view strip_inline_comment(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if ((s[i] == '#' || s[i] == ';') && is_space(s[i - 1])) return trim(s.substr(0, i));
  }
  return s;
}

// "profile   dev" -> "profile dev", so the lookup does not depend on spacing.
std::string normalize_section(std::string_view name) {
  name = trim(name);
  if (name.size() > 7 && name.substr(0, 7) == "profile" && is_space(name[7])) {
    return "profile " + std::string(trim(name.substr(7)));
  }
  return std::string(name);
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::string home_directory() {
  if (auto home = env("HOME")) return *home;
  if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) return pw->pw_dir;
  return {};
}

std::string expand_home(const std::string& path) {
  if (path == "~") return home_directory();
  if (path.size() >= 2 && path[0] == '~' && path[1] == '/')
    return home_directory() + path.substr(1);
  return path;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

struct LoadedFile {
  std::string path;
  std::optional<IniFile> ini;  // nullopt: missing or unreadable
};

LoadedFile load(std::string path) {
  LoadedFile file{std::move(path), std::nullopt};
  if (auto text = read_file(file.path)) file.ini = parse_ini(*text);
  return file;
}

const IniSection* find_section(const LoadedFile& file, const std::string& name) {
  if (!file.ini) return nullptr;
  auto it = file.ini->find(name);
  return it == file.ini->end() ? nullptr : &it->second;
}

// The config file names profiles "[profile x]", except the default one, which may also be
// "[default]".
const IniSection* find_config_profile(const LoadedFile& config, const std::string& profile) {
  if (const IniSection* s = find_section(config, "profile " + profile)) return s;
  if (profile == "default") return find_section(config, "default");
  return nullptr;
}

std::string value_of(const IniSection& section, const char* key) {
  auto it = section.find(key);
  return it == section.end() ? std::string() : it->second;
}

// Credentials from one profile section; nullopt when it has no keys at all.
std::optional<Credentials> credentials_from(const IniSection& section, const std::string& where) {
  Credentials c;
  c.access_key_id = value_of(section, "aws_access_key_id");
  c.secret_access_key = value_of(section, "aws_secret_access_key");
  c.session_token = value_of(section, "aws_session_token");
  if (c.session_token.empty()) c.session_token = value_of(section, "aws_security_token");
  if (c.access_key_id.empty() && c.secret_access_key.empty()) return std::nullopt;
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    throw ConfigurationError(where + " has " +
                             (c.access_key_id.empty()
                                  ? "aws_secret_access_key but no aws_access_key_id"
                                  : "aws_access_key_id but no aws_secret_access_key"));
  }
  return c;
}

std::string describe_miss(const LoadedFile& file, const std::string& section) {
  if (!file.ini) return file.path + " (missing or unreadable)";
  return file.path + " (no [" + section + "] with keys)";
}

bool valid_region(std::string_view region) {
  if (region.empty() || region.size() > 64) return false;
  for (char c : region) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

IniFile parse_ini(std::string_view text) {
  IniFile out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  IniSection* section = nullptr;
  std::string parent_key;  // a key with an empty value, owning the indented lines below it
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
    std::string_view t = trim(line);
    if (t.empty() || t.front() == '#' || t.front() == ';') continue;
    if (t.front() == '[') {
      auto close = t.find(']');
      parent_key.clear();
      std::string name = close == std::string_view::npos
                             ? std::string()
                             : normalize_section(t.substr(1, close - 1));
      std::string_view rest =
          close == std::string_view::npos ? std::string_view{} : trim(t.substr(close + 1));
      bool rest_ok = rest.empty() || rest.front() == '#' || rest.front() == ';';
      // A malformed header makes the lines below it belong to no section rather than to the
      // previous one.
      section = (name.empty() || !rest_ok) ? nullptr : &out[name];
      continue;
    }
    if (!section) continue;
    auto eq = t.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = lower(trim(t.substr(0, eq)));
    if (key.empty()) continue;
    std::string value(strip_inline_comment(trim(t.substr(eq + 1))));
    if (indented && !parent_key.empty()) {
      (*section)[parent_key + "." + key] = std::move(value);
      continue;
    }
    parent_key = value.empty() ? key : std::string();
    (*section)[key] = std::move(value);
  }
  return out;
}

std::string shared_credentials_file() {
  if (auto path = env("AWS_SHARED_CREDENTIALS_FILE")) return expand_home(*path);
  return home_directory() + "/.aws/credentials";
}

std::string shared_config_file() {
  if (auto path = env("AWS_CONFIG_FILE")) return expand_home(*path);
  return home_directory() + "/.aws/config";
}

std::string active_profile() {
  if (auto p = env("AWS_PROFILE")) return *p;
  if (auto p = env("AWS_DEFAULT_PROFILE")) return *p;
  return "default";
}

Credentials resolve_credentials(std::string_view explicit_profile) {
  std::vector<std::string> looked;
  if (explicit_profile.empty()) {
    auto id = env("AWS_ACCESS_KEY_ID");
    auto secret = env("AWS_SECRET_ACCESS_KEY");
    if (id && secret) {
      Credentials c{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
      if (c.session_token.empty()) c.session_token = env("AWS_SECURITY_TOKEN").value_or("");
      return c;
    }
    if (id || secret) {
      throw ConfigurationError(std::string("incomplete AWS credentials in the environment: ") +
                               (id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                                   : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"));
    }
    looked.push_back("environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (not set)");
  }
  std::string profile = explicit_profile.empty() ? active_profile() : std::string(explicit_profile);

  LoadedFile credentials = load(shared_credentials_file());
  if (const IniSection* s = find_section(credentials, profile)) {
    if (auto c = credentials_from(*s, credentials.path + " [" + profile + "]")) return *c;
  }
  looked.push_back(describe_miss(credentials, profile));

  LoadedFile config = load(shared_config_file());
  if (const IniSection* s = find_config_profile(config, profile)) {
    if (auto c = credentials_from(*s, config.path + " [profile " + profile + "]")) return *c;
  }
  looked.push_back(describe_miss(config, "profile " + profile));

  std::string message = "no AWS credentials found for profile '" + profile + "'; looked at: ";
  for (std::size_t i = 0; i < looked.size(); ++i) message += (i ? "; " : "") + looked[i];
  throw ConfigurationError(message);
}

std::string resolve_region(std::string_view explicit_profile) {
  std::string region;
  std::string source;
  if (auto r = env("AWS_REGION")) {
    region = *r;
    source = "AWS_REGION";
  } else if (auto r = env("AWS_DEFAULT_REGION")) {
    region = *r;
    source = "AWS_DEFAULT_REGION";
  } else {
    std::string profile =
        explicit_profile.empty() ? active_profile() : std::string(explicit_profile);
    LoadedFile config = load(shared_config_file());
    if (const IniSection* s = find_config_profile(config, profile)) region = value_of(*s, "region");
    if (region.empty()) {
      throw ConfigurationError(
          "no AWS region configured: AWS_REGION and AWS_DEFAULT_REGION are not "
          "set and " +
          describe_miss(config, "profile " + profile) + (config.ini ? " has no region" : ""));
    }
    source = config.path + " [profile " + profile + "]";
  }
  if (!valid_region(region)) {
    throw ConfigurationError("invalid AWS region '" + region + "' from " + source);
  }
  return region;
}

Endpoint resolve_endpoint(std::string_view service, std::string_view region) {
  if (!valid_region(lower(service))) {  // same alphabet as a region: it becomes a host label
    throw ConfigurationError("resolve_endpoint: invalid service name '" + std::string(service) +
                             "'");
  }
  bool ignore_configured = iequals(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").value_or(""), "true");
  if (!ignore_configured) {
    std::string variable = "AWS_ENDPOINT_URL_";
    for (char c : service) {
      variable += (c == '-' || c == ' ')
                      ? '_'
                      : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    for (const std::string& name : {variable, std::string("AWS_ENDPOINT_URL")}) {
      if (auto url = env(name.c_str())) {
        try {
          return Endpoint::parse(*url);
        } catch (const std::invalid_argument& e) {
          throw ConfigurationError(name + ": " + e.what());
        }
      }
    }
  }
  if (!valid_region(region)) {
    throw ConfigurationError("cannot build the " + std::string(service) +
                             " endpoint: invalid region '" + std::string(region) + "'");
  }
  std::string domain = region.substr(0, 3) == "cn-" ? "amazonaws.com.cn" : "amazonaws.com";
  Endpoint ep;
  ep.scheme = "https";
  ep.host = lower(service) + "." + std::string(region) + "." + domain;
  ep.port = "443";
  return ep;
}

}  // namespace stratus::aws
