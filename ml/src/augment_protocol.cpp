// The augment protocol (augment_protocol.hpp).

#include "stratus/ml/augment_protocol.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "stratus/ml/image_codec.hpp"
#include "stratus/ml/image_transforms.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml::augment {
namespace {

using nlohmann::json;

[[noreturn]] void refuse(const std::string& message) {
  throw ProtocolError(message);
}

std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string text_field(const json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || !it->is_string()) refuse(std::string("\"") + name + "\" must be a string");
  return it->get<std::string>();
}

Request decode_request(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) refuse("the event must be a JSON object");
  Request r;
  r.bucket = text_field(doc, "bucket");
  r.input_prefix = text_field(doc, "input_prefix");
  r.output_prefix = text_field(doc, "output_prefix");
  if (r.bucket.empty()) refuse("\"bucket\" must not be empty");
  if (r.output_prefix.empty() || r.output_prefix == r.input_prefix) {
    refuse("\"output_prefix\" must be non-empty and differ from \"input_prefix\"");
  }
  const auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array() || keys->size() > kMaxKeysPerRequest) {
    refuse("\"keys\" must be a list of at most " + std::to_string(kMaxKeysPerRequest) + " keys");
  }
  for (const json& k : *keys) {
    if (!k.is_string() || !k.get_ref<const std::string&>().starts_with(r.input_prefix)) {
      refuse("every key must be a string under \"input_prefix\"");
    }
    r.keys.push_back(k.get<std::string>());
  }
  const auto k = doc.find("per_image");
  if (k == doc.end() || !k->is_number_unsigned() || k->get<std::uint64_t>() == 0 ||
      k->get<std::uint64_t>() > kMaxPerImage) {
    refuse("\"per_image\" must be within 1.." + std::to_string(kMaxPerImage));
  }
  r.per_image = k->get<std::uint32_t>();
  const auto seed = doc.find("seed");
  if (seed == doc.end() || !seed->is_number_unsigned())
    refuse("\"seed\" must be a non-negative integer");
  r.seed = seed->get<std::uint64_t>();
  return r;
}

// The source passes through /tmp as Lambda's examples do (a function's only writable place);
// written, read back, removed.
std::string through_scratch(const std::filesystem::path& scratch_dir, const std::string& bytes) {
  if (scratch_dir.empty()) return bytes;
  const auto file = scratch_dir / "stratus-augment-source.bin";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) refuse("cannot stage the image in " + scratch_dir.string() + " (is /tmp full?)");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream copy;
  copy << in.rdbuf();
  std::filesystem::remove(file);
  return copy.str();
}

}  // namespace

bool is_image_key(std::string_view key) {
  const std::string k = lower(key);
  return k.ends_with(".png") || k.ends_with(".jpg") || k.ends_with(".jpeg");
}

std::string output_key(const Request& request, const std::string& key, std::uint32_t variant) {
  std::string rest = key.substr(request.input_prefix.size());
  const auto dot = rest.rfind('.');
  const auto slash = rest.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) rest.resize(dot);
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, "-aug-%03u.png", variant);
  return request.output_prefix + rest + suffix;
}

std::string encode_request(const Request& r) {
  return json{
      {"bucket", r.bucket}, {"input_prefix", r.input_prefix}, {"output_prefix", r.output_prefix},
      {"keys", r.keys},     {"per_image", r.per_image},       {"seed", r.seed}}
      .dump();
}

Answer decode_answer(std::string_view body) {
  try {
    const json doc = json::parse(body);
    Answer a;
    a.images_in = doc.at("images_in").get<std::uint64_t>();
    a.images_out = doc.at("images_out").get<std::uint64_t>();
    a.bytes_in = doc.at("bytes_in").get<std::uint64_t>();
    a.bytes_out = doc.at("bytes_out").get<std::uint64_t>();
    a.outputs = doc.at("outputs").get<std::vector<std::string>>();
    return a;
  } catch (const json::exception& e) {
    refuse(std::string("not an augment answer: ") + e.what());
  }
}

std::string serve(std::string_view body, ObjectStore& store,
                  const std::filesystem::path& scratch_dir) {
  const Request request = decode_request(body);
  Answer answer;
  for (const std::string& key : request.keys) {
    std::optional<std::string> bytes;
    try {
      bytes = store.get(request.bucket, key);
    } catch (const ObjectStoreError& e) {
      refuse("s3://" + request.bucket + "/" + key + ": " + e.what());
    }
    if (!bytes) refuse("no object s3://" + request.bucket + "/" + key);
    if (bytes->size() > kMaxImageObjectBytes)
      refuse(key + ": larger than " + std::to_string(kMaxImageObjectBytes) + " bytes");
    Image image;
    try {
      image = decode_image(through_scratch(scratch_dir, *bytes));
    } catch (const ImageError& e) {
      refuse(key + ": " + std::string(image_error_kind_name(e.kind())) + ": " + e.what());
    }
    answer.images_in += 1;
    answer.bytes_in += bytes->size();
    const std::uint64_t base = SplitMix64(request.seed ^ fnv1a64(key)).next();
    for (std::uint32_t v = 0; v < request.per_image; ++v) {
      const std::string png = encode_png(augment_variant(image, base + v));
      const std::string out = output_key(request, key, v);
      store.put(request.bucket, out, png);
      answer.images_out += 1;
      answer.bytes_out += png.size();
      answer.outputs.push_back(out);
    }
  }
  return json{{"images_in", answer.images_in},
              {"images_out", answer.images_out},
              {"bytes_in", answer.bytes_in},
              {"bytes_out", answer.bytes_out},
              {"outputs", answer.outputs}}
      .dump();
}

}  // namespace stratus::ml::augment
