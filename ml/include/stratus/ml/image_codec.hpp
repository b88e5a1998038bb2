#pragma once
// Images in and out of PNG and JPEG (Debian's libpng and libjpeg-turbo, linked statically into
// the bootstrap), as 8-bit RGB, row-major, interleaved (HWC). Every input is untrusted: a wrong
// magic, a truncated or corrupt stream, or dimensions beyond the limits give ImageError with
// its kind, never a crash and never a huge allocation.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::ml {

inline constexpr std::uint32_t kMaxImageSide = 16384;
inline constexpr std::uint64_t kMaxImagePixels = std::uint64_t{1} << 26;  // 64 Mpixel

enum class ImageErrorKind { UnknownFormat, Truncated, Corrupt, TooLarge };
std::string_view image_error_kind_name(ImageErrorKind kind);  // "UnknownFormat", ...

class ImageError : public std::runtime_error {
 public:
  ImageError(ImageErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ImageErrorKind kind() const { return kind_; }

 private:
  ImageErrorKind kind_;
};

struct Image {
  std::uint32_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // height * width * 3
};

enum class ImageFormat { Png, Jpeg };
// By magic bytes; throws ImageError(UnknownFormat) for anything else.
ImageFormat sniff_image_format(std::string_view bytes);
Image decode_image(std::string_view bytes);  // PNG or JPEG, any colour type -> RGB
std::string encode_png(const Image& image);
std::string encode_jpeg(const Image& image, int quality = 90);

// Bilinear resampling to width x height (pixel centres aligned, edges clamped).
Image resize_bilinear(const Image& image, std::uint32_t width, std::uint32_t height);

}  // namespace stratus::ml
