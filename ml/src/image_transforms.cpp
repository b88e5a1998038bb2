// Image augmentations (image_transforms.hpp). Plain loops in double, rounded once per pixel.

#include "stratus/ml/image_transforms.hpp"

#include <algorithm>
#include <cmath>

#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml {
namespace {

std::uint8_t clamp_byte(double v) {
  return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

double sample(const Image& image, double fx, double fy, int c) {
  fx = std::clamp(fx, 0.0, image.width - 1.0);
  fy = std::clamp(fy, 0.0, image.height - 1.0);
  const auto x0 = static_cast<std::uint32_t>(fx), y0 = static_cast<std::uint32_t>(fy);
  const std::uint32_t x1 = std::min(x0 + 1, image.width - 1),
                      y1 = std::min(y0 + 1, image.height - 1);
  const double wx = fx - x0, wy = fy - y0;
  auto at = [&](std::uint32_t x, std::uint32_t y) {
    return static_cast<double>(
        image.rgb[(std::size_t{y} * image.width + x) * 3 + static_cast<std::size_t>(c)]);
  };
  return (1 - wy) * ((1 - wx) * at(x0, y0) + wx * at(x1, y0)) +
         wy * ((1 - wx) * at(x0, y1) + wx * at(x1, y1));
}

Image filter3(const Image& image, const double (&k)[3][3]) {
  Image out = image;
  for (std::uint32_t y = 0; y < image.height; ++y) {
    for (std::uint32_t x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        double sum = 0;
        for (int dy = -1; dy <= 1; ++dy) {
          for (int dx = -1; dx <= 1; ++dx) {
            const auto xx = static_cast<std::uint32_t>(
                std::clamp<long>(long{x} + dx, 0, long{image.width} - 1));
            const auto yy = static_cast<std::uint32_t>(
                std::clamp<long>(long{y} + dy, 0, long{image.height} - 1));
            sum +=
                k[dy + 1][dx + 1] *
                image.rgb[(std::size_t{yy} * image.width + xx) * 3 + static_cast<std::size_t>(c)];
          }
        }
        out.rgb[(std::size_t{y} * image.width + x) * 3 + static_cast<std::size_t>(c)] =
            clamp_byte(sum);
      }
    }
  }
  return out;
}

}  // namespace

Image flip_horizontal(const Image& image) {
  Image out = image;
  for (std::uint32_t y = 0; y < image.height; ++y) {
    for (std::uint32_t x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        out.rgb[(std::size_t{y} * image.width + x) * 3 + static_cast<std::size_t>(c)] =
            image.rgb[(std::size_t{y} * image.width + (image.width - 1 - x)) * 3 +
                      static_cast<std::size_t>(c)];
      }
    }
  }
  return out;
}

Image flip_vertical(const Image& image) {
  Image out = image;
  const std::size_t row = std::size_t{image.width} * 3;
  for (std::uint32_t y = 0; y < image.height; ++y) {
    std::copy_n(image.rgb.begin() + static_cast<std::ptrdiff_t>((image.height - 1 - y) * row), row,
                out.rgb.begin() + static_cast<std::ptrdiff_t>(y * row));
  }
  return out;
}

Image rotate(const Image& image, double degrees) {
  Image out = image;
  const double a = degrees * M_PI / 180.0, ca = std::cos(a), sa = std::sin(a);
  const double cx = (image.width - 1) / 2.0, cy = (image.height - 1) / 2.0;
  for (std::uint32_t y = 0; y < image.height; ++y) {
    for (std::uint32_t x = 0; x < image.width; ++x) {
      const double dx = x - cx, dy = y - cy;
      const double sx = ca * dx + sa * dy + cx, sy = -sa * dx + ca * dy + cy;
      for (int c = 0; c < 3; ++c) {
        out.rgb[(std::size_t{y} * image.width + x) * 3 + static_cast<std::size_t>(c)] =
            clamp_byte(sample(image, sx, sy, c));
      }
    }
  }
  return out;
}

Image crop_resize(const Image& image, std::uint32_t x, std::uint32_t y, std::uint32_t w,
                  std::uint32_t h, std::uint32_t width, std::uint32_t height) {
  if (w == 0 || h == 0 || x + w > image.width || y + h > image.height) {
    throw std::invalid_argument("crop_resize: the crop is not inside the image");
  }
  Image crop{w, h, {}};
  crop.rgb.reserve(std::size_t{w} * h * 3);
  for (std::uint32_t r = 0; r < h; ++r) {
    const auto begin =
        image.rgb.begin() + static_cast<std::ptrdiff_t>((std::size_t{y + r} * image.width + x) * 3);
    crop.rgb.insert(crop.rgb.end(), begin, begin + static_cast<std::ptrdiff_t>(std::size_t{w} * 3));
  }
  return resize_bilinear(crop, width, height);
}

Image brightness_contrast(const Image& image, double brightness, double contrast) {
  Image out = image;
  for (std::uint8_t& v : out.rgb)
    v = clamp_byte((v - 128.0) * contrast + 128.0 + 255.0 * brightness);
  return out;
}

Image box_blur3(const Image& image) {
  static const double k[3][3] = {
      {1 / 9.0, 1 / 9.0, 1 / 9.0}, {1 / 9.0, 1 / 9.0, 1 / 9.0}, {1 / 9.0, 1 / 9.0, 1 / 9.0}};
  return filter3(image, k);
}

Image sharpen3(const Image& image) {
  static const double k[3][3] = {{0, -1, 0}, {-1, 5, -1}, {0, -1, 0}};
  return filter3(image, k);
}

Image augment_variant(const Image& source, std::uint64_t seed) {
  SplitMix64 random(seed);
  Image image = source;
  if (random.uniform01() < 0.5) image = flip_horizontal(image);
  if (random.uniform01() < 0.1) image = flip_vertical(image);
  image = rotate(image, random.uniform(-15.0, 15.0));
  const auto w = std::max<std::uint32_t>(
      1, static_cast<std::uint32_t>(image.width * random.uniform(0.8, 1.0)));
  const auto h = std::max<std::uint32_t>(
      1, static_cast<std::uint32_t>(image.height * random.uniform(0.8, 1.0)));
  const auto x = static_cast<std::uint32_t>((image.width - w + 1) * random.uniform01());
  const auto y = static_cast<std::uint32_t>((image.height - h + 1) * random.uniform01());
  image = crop_resize(image, std::min(x, image.width - w), std::min(y, image.height - h), w, h,
                      source.width, source.height);
  image = brightness_contrast(image, random.uniform(-0.2, 0.2), random.uniform(0.8, 1.2));
  const double filter = random.uniform01();
  if (filter < 0.25) {
    image = box_blur3(image);
  } else if (filter < 0.5) {
    image = sharpen3(image);
  }
  return image;
}

}  // namespace stratus::ml
