#pragma once
// The `augment` function's protocol (DESIGN.md system 4): a worker reads its images (PNG or JPEG)
// from S3, writes K seeded variants of each (image_transforms.hpp: augment_variant) as PNG under
// the output prefix, staging each source in its /tmp on the way (Lambda's only writable place).
//
// Request:  {"bucket":B,"input_prefix":P,"output_prefix":Q,"keys":[keys under P],"per_image":K,
//            "seed":S}
// Response: {"images_in":n,"images_out":n*K,"bytes_in":..,"bytes_out":..,"outputs":[keys]}
// Output key of variant v of P + "dir/name.ext": Q + "dir/name-aug-<v>.png" (v from 0, 3 digits).
// Variant v of key k uses seed SplitMix64(S ^ fnv1a64(k)) + v: the same request writes the same
// bytes (a repeated delivery rewrites identical objects). A key that is not an image the codec
// reads is refused (ProtocolError naming the key and the ImageError kind).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "stratus/ml/object_store.hpp"
#include "stratus/ml/protocol_error.hpp"

namespace stratus::ml::augment {

inline constexpr std::string_view kFunction = "augment";
inline constexpr std::uint32_t kMaxPerImage = 100;
inline constexpr std::size_t kMaxKeysPerRequest = 10000;
inline constexpr std::uint64_t kMaxImageObjectBytes = std::uint64_t{64} << 20;

struct Request {
  std::string bucket, input_prefix, output_prefix;
  std::vector<std::string> keys;
  std::uint32_t per_image = 1;
  std::uint64_t seed = 1;
};
std::string encode_request(const Request& request);

struct Answer {
  std::uint64_t images_in = 0, images_out = 0, bytes_in = 0, bytes_out = 0;
  std::vector<std::string> outputs;
};
Answer decode_answer(std::string_view body);

std::string output_key(const Request& request, const std::string& key, std::uint32_t variant);
bool is_image_key(std::string_view key);  // .png, .jpg, .jpeg (any case)

std::string serve(std::string_view request, ObjectStore& store,
                  const std::filesystem::path& scratch_dir);

}  // namespace stratus::ml::augment
