// PNG/JPEG decoding with hostile files (wrong magic, every truncation, huge dimensions, corrupt
// bytes) and the predict protocol over Case B and mlp/1 models.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "stratus/common/base64.hpp"
#include "stratus/common/tensor_codec.hpp"
#include "stratus/ml/architectures.hpp"
#include "stratus/ml/image_codec.hpp"
#include "stratus/ml/memory_object_store.hpp"
#include "stratus/ml/predict_protocol.hpp"

using namespace stratus;
using namespace stratus::ml;

namespace {

Image gradient_image(std::uint32_t w, std::uint32_t h) {
  Image image{w, h, {}};
  for (std::uint32_t y = 0; y < h; ++y) {
    for (std::uint32_t x = 0; x < w; ++x) {
      image.rgb.push_back(static_cast<std::uint8_t>(x * 255 / w));
      image.rgb.push_back(static_cast<std::uint8_t>(y * 255 / h));
      image.rgb.push_back(static_cast<std::uint8_t>((x + y) % 256));
    }
  }
  return image;
}

ImageErrorKind kind_of(const std::string& bytes) {
  try {
    decode_image(bytes);
  } catch (const ImageError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "decoded";
  return ImageErrorKind::Corrupt;
}

void put_be32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

}  // namespace

TEST(ImageCodec, PngAndJpegRoundTrips) {
  const Image image = gradient_image(37, 23);
  const std::string png = encode_png(image);
  EXPECT_EQ(sniff_image_format(png), ImageFormat::Png);
  const Image back = decode_image(png);
  EXPECT_EQ(back.width, 37u);
  EXPECT_EQ(back.height, 23u);
  EXPECT_EQ(back.rgb, image.rgb);
  const std::string jpeg = encode_jpeg(image, 95);
  EXPECT_EQ(sniff_image_format(jpeg), ImageFormat::Jpeg);
  const Image lossy = decode_image(jpeg);
  ASSERT_EQ(lossy.rgb.size(), image.rgb.size());
  double error = 0;
  for (std::size_t i = 0; i < image.rgb.size(); ++i) error += std::abs(lossy.rgb[i] - image.rgb[i]);
  EXPECT_LT(error / static_cast<double>(image.rgb.size()), 6.0);
  EXPECT_EQ(encode_png(image), png);  // same image, same bytes
}

TEST(ImageCodec, HostileFilesGiveTypedErrors) {
  const std::string png = encode_png(gradient_image(16, 16));
  const std::string jpeg = encode_jpeg(gradient_image(16, 16));
  EXPECT_EQ(kind_of(""), ImageErrorKind::UnknownFormat);
  EXPECT_EQ(kind_of("GIF89a......"), ImageErrorKind::UnknownFormat);
  EXPECT_EQ(kind_of("\x89PNX" + png.substr(4)), ImageErrorKind::UnknownFormat);
  for (std::size_t n = 8; n < png.size(); ++n) {
    EXPECT_THROW(decode_image(png.substr(0, n)), ImageError) << "png cut at " << n;
  }
  for (std::size_t n = 3; n < jpeg.size() - 2; ++n) {
    EXPECT_THROW(decode_image(jpeg.substr(0, n)), ImageError) << "jpeg cut at " << n;
  }
  EXPECT_EQ(kind_of(png.substr(0, png.size() / 2)), ImageErrorKind::Truncated);
  EXPECT_EQ(kind_of(jpeg.substr(0, jpeg.size() / 2)), ImageErrorKind::Truncated);
  // Huge dimensions announced by a valid header: refused before any allocation.
  std::string huge_png = png;
  put_be32(huge_png, 16, 100000);  // IHDR width
  put_be32(huge_png, 20, 100000);  // IHDR height
  put_be32(huge_png, 29,
           static_cast<std::uint32_t>(
               crc32(0, reinterpret_cast<const Bytef*>(huge_png.data() + 12), 17)));
  EXPECT_EQ(kind_of(huge_png), ImageErrorKind::TooLarge);
  std::string huge_jpeg = jpeg;
  const auto sof = huge_jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  huge_jpeg[sof + 5] = huge_jpeg[sof + 6] = huge_jpeg[sof + 7] = huge_jpeg[sof + 8] =
      '\xff';  // 65535 x 65535
  EXPECT_EQ(kind_of(huge_jpeg), ImageErrorKind::TooLarge);
  // Corrupt data after a valid header.
  std::string corrupt = png;
  for (std::size_t i = 40; i < corrupt.size() - 12; ++i)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  EXPECT_THROW(decode_image(corrupt), ImageError);
}

TEST(ImageCodec, Resize) {
  const Image image = gradient_image(64, 48);
  const Image small = resize_bilinear(image, 32, 32);
  EXPECT_EQ(small.rgb.size(), 32u * 32 * 3);
  Image flat{4, 4, std::vector<std::uint8_t>(48, 77)};
  for (std::uint8_t v : resize_bilinear(flat, 9, 3).rgb) EXPECT_EQ(v, 77);
  EXPECT_THROW(resize_bilinear(image, 0, 3), ImageError);
}

TEST(Predict, CaseBAndMlpModelsFromTheStore) {
  MemoryObjectStore store;
  store.ensure_bucket("models");
  store.put("models", "caseb.bin",
            encode_model(initial_model(kCaseB, 3, Initialisation::Tutorial)));
  const predict::ModelLoader loader = [&](const std::string& url) {
    return predict::load_model(store, url);
  };
  Image image = gradient_image(40, 30);
  nlohmann::json event = {{"model", "s3://models/caseb.bin"},
                          {"image", base64_encode(encode_png(image))},
                          {"top_k", 10}};
  const auto answer = nlohmann::ordered_json::parse(predict::serve(event.dump(), loader));
  ASSERT_EQ(answer.size(), 10u);
  double sum = 0, previous = 2;
  for (const auto& [label, p] : answer.items()) {
    sum += p.get<double>();
    EXPECT_LE(p.get<double>(), previous);
    previous = p.get<double>();
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(predict::serve(event.dump(), loader), predict::serve(event.dump(), loader));
  // The same picture as a JPEG, and as the resized uint8 tensor: answers of the same shape.
  event["image"] = base64_encode(encode_jpeg(image));
  event["top_k"] = 3;
  event["labels"] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  EXPECT_EQ(nlohmann::json::parse(predict::serve(event.dump(), loader)).size(), 3u);
  const Image small = resize_bilinear(image, 32, 32);
  const std::uint64_t shape[] = {32, 32, 3};
  nlohmann::json tensor_event = {
      {"model", "s3://models/caseb.bin"},
      {"tensor", encode_tensor(TensorView::of(shape, std::span<const std::uint8_t>(small.rgb)))}};
  EXPECT_EQ(nlohmann::json::parse(predict::serve(tensor_event.dump(), loader)).size(), 5u);

  // mlp/1 with one sigmoid output: classes 0 and 1.
  ModelState mlp;
  mlp.architecture = "mlp/1:3-1";
  mlp.tensors = {{"l1.weight", {3, 1}, {1.0f, -1.0f, 0.5f}}, {"l1.bias", {1}, {0.0f}}};
  store.put("models", "mlp.bin", encode_model(mlp));
  const std::uint64_t three[] = {3};
  const float x[] = {2.0f, 0.0f, 0.0f};
  nlohmann::json mlp_event = {{"model", "s3://models/mlp.bin"},
                              {"tensor", encode_tensor(three, std::span<const float>(x))}};
  const auto two = nlohmann::ordered_json::parse(predict::serve(mlp_event.dump(), loader));
  EXPECT_EQ(two.begin().key(), "1");
  EXPECT_NEAR(two["1"].get<double>(), 1.0 / (1.0 + std::exp(-2.0)), 1e-6);

  // An mlp/1:3072-1 model given an image: "pixels" chooses the training's scaling. With weights
  // that sum the inputs, the logit is the sum of the scaled pixels of the 32x32 resized image.
  ModelState wide;
  wide.architecture = "mlp/1:3072-1";
  wide.tensors = {{"l1.weight", {3072, 1}, std::vector<float>(3072, 1.0f / 3072)},
                  {"l1.bias", {1}, {0.0f}}};
  store.put("models", "wide.bin", encode_model(wide));
  double unit = 0, centered = 0;
  for (std::uint8_t v : small.rgb) {
    unit += static_cast<float>(v / 255.0) / 3072.0;
    centered += static_cast<float>((v - 127.5) / 255.0) / 3072.0;
  }
  nlohmann::json wide_event = {{"model", "s3://models/wide.bin"},
                               {"image", base64_encode(encode_png(image))}};
  const auto sigmoid = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  EXPECT_NEAR(nlohmann::json::parse(predict::serve(wide_event.dump(), loader))["1"].get<double>(),
              sigmoid(unit), 1e-5);
  wide_event["pixels"] = "centered";
  EXPECT_NEAR(nlohmann::json::parse(predict::serve(wide_event.dump(), loader))["1"].get<double>(),
              sigmoid(centered), 1e-5);
  EXPECT_GT(std::abs(unit - centered), 0.4);  // the two scalings really differ (by 0.5 per input)
  wide_event["pixels"] = "signed";
  EXPECT_THROW(predict::serve(wide_event.dump(), loader), ProtocolError);

  for (const nlohmann::json& bad :
       {nlohmann::json{{"model", "s3://models/none.bin"}, {"tensor", "x"}},
        nlohmann::json{{"model", "http://x"}, {"tensor", "x"}},
        nlohmann::json{{"model", "s3://models/caseb.bin"}},
        nlohmann::json{{"model", "s3://models/caseb.bin"}, {"image", "!!"}},
        nlohmann::json{{"model", "s3://models/caseb.bin"}, {"image", base64_encode("GIF8")}},
        nlohmann::json{{"model", "s3://models/caseb.bin"},
                       {"tensor", encode_tensor(three, std::span<const float>(x))}},
        nlohmann::json{{"model", "s3://models/mlp.bin"},
                       {"image", base64_encode(encode_png(image))}},
        nlohmann::json{{"model", "s3://models/caseb.bin"},
                       {"image", base64_encode(encode_png(image))},
                       {"top_k", 0}},
        nlohmann::json{{"model", "s3://models/caseb.bin"},
                       {"image", base64_encode(encode_png(image))},
                       {"labels", {"a"}}}}) {
    EXPECT_THROW(predict::serve(bad.dump(), loader), ProtocolError) << bad.dump();
  }
  store.put("models", "junk.bin", "not a model");
  EXPECT_THROW(
      predict::serve(nlohmann::json{{"model", "s3://models/junk.bin"}, {"tensor", "x"}}.dump(),
                     loader),
      ProtocolError);
}
