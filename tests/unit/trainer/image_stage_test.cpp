// Image class directories in an object store as a CIFAR-shaped dataset (image_stage.hpp): labels
// from the directory names (digits as themselves, other names in sorted order), CHW pixels, other
// objects skipped, and hostile folders refused with the object named.

#include "stratus/trainer/image_stage.hpp"

#include <gtest/gtest.h>

#include "stratus/ml/image_codec.hpp"
#include "stratus/ml/memory_object_store.hpp"

using namespace stratus;
using namespace stratus::trainer;

namespace {

std::string png(std::uint8_t r, std::uint8_t g, std::uint8_t b, std::uint32_t w = 4,
                std::uint32_t h = 4) {
  ml::Image image{w, h, {}};
  for (std::uint32_t i = 0; i < w * h; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return ml::encode_png(image);
}

}  // namespace

TEST(ImageFolder, NamedClassesInSortedOrderAndPlanesLikeCifar) {
  ml::MemoryObjectStore store;
  store.ensure_bucket("b");
  store.put("b", "aug/dog/x-aug-000.png", png(10, 20, 30));
  store.put("b", "aug/cat/y.png", png(200, 100, 50));
  store.put("b", "aug/cat/deeper/z.PNG", png(1, 2, 3));
  store.put("b", "aug/notes.txt", "not an image");
  const ImageFolder folder = read_image_folder(store, "b", "aug", 8);
  EXPECT_EQ(folder.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(folder.skipped, 1u);
  ASSERT_EQ(folder.data.count(), 3u);
  EXPECT_EQ(folder.data.features.shape, (std::vector<std::uint64_t>{3, 3, 8, 8}));
  // S3 order: aug/cat/deeper/z.PNG, aug/cat/y.png, aug/dog/x-aug-000.png.
  EXPECT_EQ(folder.data.labels.i32, (std::vector<std::int32_t>{0, 0, 1}));
  const auto& px = folder.data.features.u8;
  EXPECT_EQ(px[64 * 3 + 0], 200);        // image 1, R plane
  EXPECT_EQ(px[64 * 3 + 64], 100);       // G plane
  EXPECT_EQ(px[64 * 3 + 128 + 63], 50);  // B plane, last pixel
  EXPECT_EQ(folder.data.classes, (std::vector<std::int32_t>{0, 1}));
  EXPECT_NE(folder.data.generator.find("count=3"), std::string::npos);
  // The same objects give the same provenance; another image changes it.
  EXPECT_EQ(read_image_folder(store, "b", "aug/", 8).data.generator, folder.data.generator);
  store.put("b", "aug/dog/x-aug-000.png", png(11, 20, 30));
  EXPECT_NE(read_image_folder(store, "b", "aug/", 8).data.generator, folder.data.generator);
}

TEST(ImageFolder, DigitDirectoriesAreTheirOwnLabels) {
  ml::MemoryObjectStore store;
  store.ensure_bucket("b");
  store.put("b", "d/3/a.png", png(1, 1, 1));
  store.put("b", "d/7/b.png", png(2, 2, 2));
  const ImageFolder folder = read_image_folder(store, "b", "d/", 4);
  EXPECT_EQ(folder.data.labels.i32, (std::vector<std::int32_t>{3, 7}));
  EXPECT_EQ(folder.class_names.size(), 8u);
  EXPECT_EQ(folder.class_names[7], "7");
  EXPECT_EQ(folder.data.classes, (std::vector<std::int32_t>{3, 7}));
}

TEST(ImageFolder, HostileFoldersAreRefusedWithTheObjectNamed) {
  ml::MemoryObjectStore store;
  store.ensure_bucket("b");
  EXPECT_THROW(read_image_folder(store, "b", "empty/"), DatasetError);
  store.put("b", "flat/a.png", png(1, 1, 1));
  try {
    read_image_folder(store, "b", "flat/");
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("s3://b/flat/a.png"), std::string::npos) << e.what();
  }
  store.put("b", "bad/cat/a.png", png(1, 1, 1).substr(0, 30));
  try {
    read_image_folder(store, "b", "bad/");
    FAIL();
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("s3://b/bad/cat/a.png"), std::string::npos) << e.what();
  }
  store.put("b", "wrong/cat/a.png", "GIF89a....");
  EXPECT_THROW(read_image_folder(store, "b", "wrong/"), DatasetError);
  for (int c = 0; c < 11; ++c)
    store.put("b", "many/class" + std::to_string(c) + "/a.png", png(1, 1, 1));
  EXPECT_THROW(read_image_folder(store, "b", "many/"), DatasetError);
  EXPECT_THROW(read_image_folder(store, "b", "many/", 0), std::invalid_argument);
}
