#pragma once
// Images in S3 (PNG or JPEG, e.g. what `stratus-trainer augment` wrote) as a labeled dataset for
// the Case B CNN: one directory per class under a prefix,
//
//   s3://bucket/<prefix>/<class>/<any/path/>image.png
//
// Each image is decoded (libpng / libjpeg), resized bilinearly to size x size RGB and stored as
// CIFAR-10 stores it: uint8 [n, 3, size, size] (R, G, B planes), int32 labels. Classes: when every
// class directory is named by an integer 0..9 ("0/", "7/"), that integer is the label; otherwise
// the directory names in sorted (byte) order get labels 0, 1, 2, ... At most 10 classes (the
// CNN's outputs). Keys are read in S3's sorted order, so the same objects give the same dataset.

#include <cstdint>
#include <string>
#include <vector>

#include "stratus/ml/object_store.hpp"
#include "stratus/trainer/labeled_data.hpp"

namespace stratus::trainer {

struct ImageFolder {
  LabeledData data;
  std::vector<std::string> class_names;  // label i's directory name
  std::size_t skipped = 0;               // objects that are not .png/.jpg/.jpeg
};

inline constexpr std::size_t kMaxImageClasses = 10;
inline constexpr std::size_t kMaxFolderImages = 1'000'000;

// Throws DatasetError naming the object for an undecodable image, an image outside a class
// directory, more than kMaxImageClasses classes or no image at all; ObjectStoreError when the
// store refuses.
ImageFolder read_image_folder(ml::ObjectStore& store, const std::string& bucket, std::string prefix,
                              std::uint32_t size = 32);

// {"classes": [names by label], "images": n, "source": "s3://bucket/prefix/"}: what `stage` writes
// next to the manifest (classes.json), for `predict --labels` and for people.
std::string class_names_json(const ImageFolder& folder, const std::string& source);

}  // namespace stratus::trainer
