// Images in S3, one directory per class, as a CIFAR-shaped labeled dataset (image_stage.hpp).

#include "stratus/trainer/image_stage.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "stratus/common/checksum.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/ml/image_codec.hpp"

namespace stratus::trainer {
namespace {

bool is_image_key(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return key.ends_with(".png") || key.ends_with(".jpg") || key.ends_with(".jpeg");
}

// "0".."9" -> the digit; anything else (including "07") -> -1.
int digit_name(const std::string& name) {
  return name.size() == 1 && name[0] >= '0' && name[0] <= '9' ? name[0] - '0' : -1;
}

}  // namespace

ImageFolder read_image_folder(ml::ObjectStore& store, const std::string& bucket, std::string prefix,
                              std::uint32_t size) {
  if (size == 0 || size > 1024) throw std::invalid_argument("--image-size must be 1..1024");
  while (prefix.starts_with("/")) prefix.erase(0, 1);
  if (!prefix.empty() && !prefix.ends_with("/")) prefix += "/";
  const std::string where = "s3://" + bucket + "/" + prefix;

  ImageFolder folder;
  std::vector<std::pair<std::string, std::string>> images;  // (key, class directory)
  for (const std::string& key : store.list(bucket, prefix)) {
    if (!is_image_key(key)) {
      ++folder.skipped;
      continue;
    }
    const std::string rest = key.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos || slash == 0) {
      throw DatasetError("s3://" + bucket + "/" + key +
                         ": images must sit in one directory per class, " + where +
                         "<class>/<image>");
    }
    images.emplace_back(key, rest.substr(0, slash));
    if (images.size() > kMaxFolderImages)
      throw DatasetError(where + ": more than 1,000,000 images");
  }
  if (images.empty()) throw DatasetError(where + ": no PNG or JPEG images under this prefix");

  std::vector<std::string> names;
  for (const auto& [key, name] : images) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.size() > kMaxImageClasses) {
    throw DatasetError(where + ": " + std::to_string(names.size()) +
                       " class directories; the CNN has " + std::to_string(kMaxImageClasses) +
                       " outputs");
  }
  const bool digits = std::all_of(names.begin(), names.end(),
                                  [](const std::string& n) { return digit_name(n) >= 0; });
  std::map<std::string, std::int32_t> label_of;
  if (digits) {
    for (const std::string& n : names) label_of[n] = digit_name(n);
    folder.class_names.assign(static_cast<std::size_t>(digit_name(names.back())) + 1, "");
    for (const std::string& n : names)
      folder.class_names[static_cast<std::size_t>(digit_name(n))] = n;
  } else {
    for (std::size_t i = 0; i < names.size(); ++i)
      label_of[names[i]] = static_cast<std::int32_t>(i);
    folder.class_names = names;
  }

  const std::size_t plane = static_cast<std::size_t>(size) * size;
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;
  pixels.reserve(images.size() * 3 * plane);
  // Provenance without a manifest entry per image: the digest of every (key, image digest) line.
  Checksum provenance(ChecksumAlgorithm::sha256);
  for (const auto& [key, name] : images) {
    const auto bytes = store.get(bucket, key);
    if (!bytes) throw DatasetError("s3://" + bucket + "/" + key + ": vanished while staging");
    ml::Image image;
    try {
      image = ml::resize_bilinear(ml::decode_image(*bytes), size, size);
    } catch (const std::exception& e) {
      throw DatasetError("s3://" + bucket + "/" + key + ": " + e.what());
    }
    for (std::size_t c = 0; c < 3; ++c) {
      for (std::size_t p = 0; p < plane; ++p) pixels.push_back(image.rgb[p * 3 + c]);
    }
    labels.push_back(label_of.at(name));
    Checksum sha(ChecksumAlgorithm::sha256);
    sha.update(bytes->data(), bytes->size());
    const std::string line = key.substr(prefix.size()) + " " + aws::to_hex(sha.digest()) + "\n";
    provenance.update(line.data(), line.size());
  }
  const std::uint64_t count = labels.size();
  folder.data.features = Tensor::of_u8({count, 3, size, size}, std::move(pixels));
  folder.data.labels = Tensor::of_i32({count}, std::move(labels));
  folder.data.generator = "images " + where + " size=" + std::to_string(size) +
                          " count=" + std::to_string(count) +
                          " sha256=" + aws::to_hex(provenance.digest());
  for (const auto& [name, label] : label_of) folder.data.classes.push_back(label);
  std::sort(folder.data.classes.begin(), folder.data.classes.end());
  folder.data.validate();
  return folder;
}

std::string class_names_json(const ImageFolder& folder, const std::string& source) {
  return nlohmann::ordered_json{
             {"classes", folder.class_names}, {"images", folder.data.count()}, {"source", source}}
             .dump(2) +
         "\n";
}

}  // namespace stratus::trainer
