#pragma once
// Seeded image augmentations on 8-bit RGB images (image_codec.hpp), each a pure function of its
// inputs: flips, rotation, crop-and-resize, brightness/contrast, blur and sharpen filters.

#include <cstdint>

#include "stratus/ml/image_codec.hpp"

namespace stratus::ml {

Image flip_horizontal(const Image& image);
Image flip_vertical(const Image& image);
// Rotation about the centre by `degrees` (bilinear; outside the source the nearest edge pixel).
Image rotate(const Image& image, double degrees);
// The crop [x, x+w) x [y, y+h), resized back to width x height.
Image crop_resize(const Image& image, std::uint32_t x, std::uint32_t y, std::uint32_t w,
                  std::uint32_t h, std::uint32_t width, std::uint32_t height);
// out = (in - 128) * contrast + 128 + 255 * brightness, clamped to 0..255.
Image brightness_contrast(const Image& image, double brightness, double contrast);
Image box_blur3(const Image& image);  // 3x3 mean, edges clamped
Image sharpen3(const Image& image);   // 3x3 [0 -1 0; -1 5 -1; 0 -1 0], edges clamped

// The transform chain of one variant, drawn from SplitMix64(seed): horizontal flip (p 1/2),
// vertical flip (p 1/10), rotation U(-15, 15) degrees, a crop of 80-100% of each side at a random
// place resized back, brightness U(-0.2, 0.2) and contrast U(0.8, 1.2), then blur (p 1/4) or
// sharpen (p 1/4). Same seed, same image: same bytes.
Image augment_variant(const Image& image, std::uint64_t seed);

}  // namespace stratus::ml
