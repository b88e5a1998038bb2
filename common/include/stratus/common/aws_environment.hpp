#pragma once
// Where AWS credentials, the region and service endpoints come from, following the AWS CLI/SDKs:
// environment variables first, then the shared files ~/.aws/credentials and ~/.aws/config.
// Supported: static keys (with an optional session token). Not supported: SSO, credential_process,
// assume-role chains, instance metadata.

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "stratus/common/http_client.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::aws {

// Nothing usable was found, or what was found is incomplete; the message names what was looked at.
class ConfigurationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One parsed INI file: section name -> (key -> value). Keys are lower-cased, keys and values are
// trimmed, full-line comments (# or ;) and inline comments (# or ; after whitespace) are dropped.
// Indented lines under a key with an empty value ("s3 =\n  addressing_style = path") are stored as
// "s3.addressing_style". Lines that make no sense are skipped. A later duplicate wins.
using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;
IniFile parse_ini(std::string_view text);

// The shared files in use: AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else ~/.aws/credentials
// and ~/.aws/config ("~" expands to $HOME).
std::string shared_credentials_file();
std::string shared_config_file();
// AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default".
std::string active_profile();

// Static credentials:
//  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), unless `profile` is given
//     explicitly (as with the CLI's --profile, an explicit profile beats the environment);
//  2. the profile's section in the shared credentials file ([name]);
//  3. the profile's section in the shared config file ([profile name], or [default]).
// Throws ConfigurationError when none has both keys, or one has only one of them.
Credentials resolve_credentials(std::string_view profile = {});

// AWS_REGION, else AWS_DEFAULT_REGION, else `region` in the profile's config section.
// Throws ConfigurationError when none is set, or the region is not a plausible region name.
std::string resolve_region(std::string_view profile = {});

// The endpoint of a service ("lambda", "s3"): AWS_ENDPOINT_URL_<SERVICE> (upper case, '-' and ' '
// as '_', e.g. AWS_ENDPOINT_URL_LAMBDA), else AWS_ENDPOINT_URL, else
// https://<service>.<region>.amazonaws.com (amazonaws.com.cn for cn- regions). Setting
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the variables. Throws ConfigurationError for a
// malformed URL or region.
Endpoint resolve_endpoint(std::string_view service, std::string_view region);

}  // namespace stratus::aws
