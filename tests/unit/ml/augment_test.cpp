// Image transforms and the augment protocol: sizes kept, flips invert, same seed same bytes,
// variants differ, outputs decode, hostile inputs and requests refused.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "stratus/ml/augment_protocol.hpp"
#include "stratus/ml/image_codec.hpp"
#include "stratus/ml/image_transforms.hpp"
#include "stratus/ml/memory_object_store.hpp"

using namespace stratus::ml;

namespace {

Image pattern(std::uint32_t w, std::uint32_t h, int seed) {
  Image image{w, h, {}};
  for (std::uint32_t i = 0; i < w * h * 3; ++i)
    image.rgb.push_back(static_cast<std::uint8_t>((i * 37 + seed * 11) % 251));
  return image;
}

}  // namespace

TEST(ImageTransforms, Basics) {
  const Image image = pattern(20, 12, 1);
  EXPECT_EQ(flip_horizontal(flip_horizontal(image)).rgb, image.rgb);
  EXPECT_EQ(flip_vertical(flip_vertical(image)).rgb, image.rgb);
  EXPECT_NE(flip_horizontal(image).rgb, image.rgb);
  EXPECT_EQ(rotate(image, 0).rgb, image.rgb);
  EXPECT_EQ(brightness_contrast(image, 0, 1).rgb, image.rgb);
  const Image white = brightness_contrast(image, 1.0, 1.0);
  for (auto v : white.rgb) EXPECT_EQ(v, 255);
  Image flat{5, 5, std::vector<std::uint8_t>(75, 90)};
  EXPECT_EQ(box_blur3(flat).rgb, flat.rgb);
  EXPECT_EQ(sharpen3(flat).rgb, flat.rgb);
  const Image crop = crop_resize(image, 2, 1, 10, 8, 20, 12);
  EXPECT_EQ(crop.width, 20u);
  EXPECT_EQ(crop.height, 12u);
  EXPECT_THROW(crop_resize(image, 15, 0, 10, 5, 4, 4), std::invalid_argument);
  const Image a = augment_variant(image, 7), b = augment_variant(image, 7),
              c = augment_variant(image, 8);
  EXPECT_EQ(a.rgb, b.rgb);
  EXPECT_NE(a.rgb, c.rgb);
  EXPECT_EQ(a.width, image.width);
  EXPECT_EQ(a.height, image.height);
}

TEST(Augment, WritesKVariantsPerImageDeterministically) {
  MemoryObjectStore store;
  store.ensure_bucket("img");
  store.put("img", "in/a.png", encode_png(pattern(24, 16, 1)));
  store.put("img", "in/sub/b.jpg", encode_jpeg(pattern(16, 16, 2)));
  augment::Request request{"img", "in/", "out/", {"in/a.png", "in/sub/b.jpg"}, 3, 42};
  // Its own directory: the emptiness check below must not see another run's files (two clones
  // testing on one machine, or what a crashed run left behind).
  const auto scratch = std::filesystem::temp_directory_path() /
                       ("stratus-augment-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(scratch);
  std::filesystem::create_directories(scratch);
  const auto answer =
      augment::decode_answer(augment::serve(augment::encode_request(request), store, scratch));
  EXPECT_EQ(answer.images_in, 2u);
  EXPECT_EQ(answer.images_out, 6u);
  EXPECT_EQ(answer.outputs.front(), "out/a-aug-000.png");
  EXPECT_EQ(answer.outputs.back(), "out/sub/b-aug-002.png");
  std::map<std::string, std::string> first;
  for (const auto& key : answer.outputs) {
    first[key] = *store.get("img", key);
    const Image out = decode_image(first[key]);
    EXPECT_EQ(out.width, key.find("/a-") != std::string::npos ? 24u : 16u);
  }
  EXPECT_NE(first["out/a-aug-000.png"], first["out/a-aug-001.png"]);
  augment::serve(augment::encode_request(request), store, scratch);  // a repeated delivery
  for (const auto& [key, bytes] : first) EXPECT_EQ(*store.get("img", key), bytes);
  EXPECT_TRUE(std::filesystem::is_empty(scratch));  // nothing left in /tmp

  store.put("img", "in/bad.png", "\x89PNG\r\n\x1a\nbroken");
  request.keys = {"in/bad.png"};
  try {
    augment::serve(augment::encode_request(request), store, scratch);
    FAIL();
  } catch (const stratus::ml::ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("in/bad.png"), std::string::npos);
  }
  for (const std::string& bad :
       {std::string("{}"), std::string("[]"),
        augment::encode_request({"img", "in/", "in/", {}, 1, 1}),
        augment::encode_request({"img", "in/", "out/", {"elsewhere/x.png"}, 1, 1}),
        augment::encode_request({"img", "in/", "out/", {"in/missing.png"}, 1, 1})}) {
    EXPECT_THROW(augment::serve(bad, store, scratch), stratus::ml::ProtocolError) << bad;
  }
  auto too_many = nlohmann::json::parse(augment::encode_request({"img", "in/", "out/", {}, 1, 1}));
  too_many["per_image"] = 101;
  EXPECT_THROW(augment::serve(too_many.dump(), store, scratch), stratus::ml::ProtocolError);
  std::filesystem::remove_all(scratch);
}
