// PNG through libpng's simplified API (its errors come back as return codes, no longjmp), JPEG
// through libjpeg with an error manager that longjmps back into decode_jpeg / encode_jpeg, whose
// only automatic state across setjmp is trivially destructible (the buffers live behind a
// pointer set before it).

#include "stratus/ml/image_codec.hpp"

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

namespace stratus::ml {
namespace {

void check_dimensions(std::uint64_t width, std::uint64_t height, const char* what) {
  if (width == 0 || height == 0)
    throw ImageError(ImageErrorKind::Corrupt, std::string(what) + ": empty image");
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels) {
    throw ImageError(ImageErrorKind::TooLarge, std::string(what) + ": " + std::to_string(width) +
                                                   "x" + std::to_string(height) +
                                                   " exceeds the limit (" +
                                                   std::to_string(kMaxImageSide) + " per side, " +
                                                   std::to_string(kMaxImagePixels) + " pixels)");
  }
}

Image decode_png(std::string_view bytes) {
  // libpng is content once the pixels are in, so a file cut inside its final chunks would pass:
  // a PNG must end with the IEND chunk (length 0, "IEND", its fixed CRC).
  static constexpr std::string_view kEnd("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  if (bytes.size() < 8 + kEnd.size() || bytes.substr(bytes.size() - kEnd.size()) != kEnd) {
    throw ImageError(ImageErrorKind::Truncated,
                     "png: the file does not end with an IEND chunk (truncated)");
  }
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    const std::string message = image.message;
    png_image_free(&image);
    const bool truncated = message.find("EOF") != std::string::npos ||
                           message.find("truncat") != std::string::npos ||
                           message.find("Not enough") != std::string::npos;
    throw ImageError(truncated ? ImageErrorKind::Truncated : ImageErrorKind::Corrupt,
                     "png: " + message);
  }
  try {
    check_dimensions(image.width, image.height, "png");
  } catch (...) {
    png_image_free(&image);
    throw;
  }
  image.format = PNG_FORMAT_RGB;
  Image out;
  out.width = image.width;
  out.height = image.height;
  out.rgb.resize(static_cast<std::size_t>(PNG_IMAGE_SIZE(image)));
  if (!png_image_finish_read(&image, nullptr, out.rgb.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    const bool truncated = message.find("EOF") != std::string::npos ||
                           message.find("Not enough") != std::string::npos ||
                           message.find("truncat") != std::string::npos;
    throw ImageError(truncated ? ImageErrorKind::Truncated : ImageErrorKind::Corrupt,
                     "png: " + message);
  }
  png_image_free(&image);
  return out;
}

struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
  int code;  // libjpeg's message code of the error
};

extern "C" void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  errors->code = info->err->msg_code;
  std::longjmp(errors->jump, 1);
}

// libjpeg warns on a premature end (JWRN_JPEG_EOF) and pads the image: treated as truncation.
extern "C" void jpeg_warn(j_common_ptr info, int level) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  if (level < 0) {
    if (info->err->msg_code == JWRN_JPEG_EOF) errors->truncated = true;
    (*info->err->format_message)(info, errors->message);
  }
}

struct JpegDecodeState {
  jpeg_decompress_struct info;
  JpegErrors errors;
  Image image;
  std::string failure;
  ImageErrorKind kind = ImageErrorKind::Corrupt;
};

// Returns false with state.failure set on any error; no C++ object with a destructor is live in
// this frame across setjmp.
bool decode_jpeg_into(JpegDecodeState* state, const unsigned char* data, unsigned long size) {
  state->info.err = jpeg_std_error(&state->errors.manager);
  state->errors.manager.error_exit = jpeg_fail;
  state->errors.manager.emit_message = jpeg_warn;
  state->errors.truncated = false;
  if (setjmp(state->errors.jump)) {
    jpeg_destroy_decompress(&state->info);
    state->failure = std::string("jpeg: ") + state->errors.message;
    if (state->errors.code == JERR_IMAGE_TOO_BIG) state->kind = ImageErrorKind::TooLarge;
    // Input that runs out (the source then feeds fake EOI markers, warning JWRN_JPEG_EOF first).
    if (state->errors.truncated || state->errors.code == JERR_INPUT_EMPTY ||
        state->errors.code == JERR_INPUT_EOF) {
      state->kind = ImageErrorKind::Truncated;
    }
    return false;
  }
  jpeg_create_decompress(&state->info);
  jpeg_mem_src(&state->info, data, size);
  jpeg_read_header(&state->info, TRUE);
  const std::uint64_t width = state->info.image_width, height = state->info.image_height;
  if (width == 0 || height == 0 || width > kMaxImageSide || height > kMaxImageSide ||
      width * height > kMaxImagePixels) {
    jpeg_destroy_decompress(&state->info);
    state->kind = ImageErrorKind::TooLarge;
    state->failure =
        "jpeg: " + std::to_string(width) + "x" + std::to_string(height) + " exceeds the limit";
    return false;
  }
  state->info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&state->info);
  state->image.width = state->info.output_width;
  state->image.height = state->info.output_height;
  state->image.rgb.resize(std::size_t{state->image.width} * state->image.height * 3);
  while (state->info.output_scanline < state->info.output_height) {
    JSAMPROW row =
        state->image.rgb.data() + std::size_t{state->info.output_scanline} * state->image.width * 3;
    jpeg_read_scanlines(&state->info, &row, 1);
    if (state->errors.truncated) break;
  }
  if (state->errors.truncated) {
    jpeg_destroy_decompress(&state->info);
    state->kind = ImageErrorKind::Truncated;
    state->failure = "jpeg: premature end of data";
    return false;
  }
  jpeg_finish_decompress(&state->info);
  jpeg_destroy_decompress(&state->info);
  return true;
}

Image decode_jpeg(std::string_view bytes) {
  auto state = std::make_unique<JpegDecodeState>();
  if (!decode_jpeg_into(state.get(), reinterpret_cast<const unsigned char*>(bytes.data()),
                        static_cast<unsigned long>(bytes.size()))) {
    throw ImageError(state->kind, state->failure);
  }
  return std::move(state->image);
}

struct JpegEncodeState {
  jpeg_compress_struct info;
  JpegErrors errors;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  std::string failure;
};

bool encode_jpeg_into(JpegEncodeState* state, const Image* image, int quality) {
  state->info.err = jpeg_std_error(&state->errors.manager);
  state->errors.manager.error_exit = jpeg_fail;
  if (setjmp(state->errors.jump)) {
    jpeg_destroy_compress(&state->info);
    state->failure = std::string("jpeg: ") + state->errors.message;
    return false;
  }
  jpeg_create_compress(&state->info);
  jpeg_mem_dest(&state->info, &state->buffer, &state->size);
  state->info.image_width = image->width;
  state->info.image_height = image->height;
  state->info.input_components = 3;
  state->info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&state->info);
  jpeg_set_quality(&state->info, quality, TRUE);
  jpeg_start_compress(&state->info, TRUE);
  while (state->info.next_scanline < state->info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image->rgb.data() +
                                        std::size_t{state->info.next_scanline} * image->width * 3);
    jpeg_write_scanlines(&state->info, &row, 1);
  }
  jpeg_finish_compress(&state->info);
  jpeg_destroy_compress(&state->info);
  return true;
}

void check_image(const Image& image) {
  check_dimensions(image.width, image.height, "image");
  if (image.rgb.size() != std::size_t{image.width} * image.height * 3) {
    throw std::invalid_argument("image: rgb does not hold width x height x 3 bytes");
  }
}

}  // namespace

std::string_view image_error_kind_name(ImageErrorKind kind) {
  switch (kind) {
    case ImageErrorKind::UnknownFormat:
      return "UnknownFormat";
    case ImageErrorKind::Truncated:
      return "Truncated";
    case ImageErrorKind::Corrupt:
      return "Corrupt";
    case ImageErrorKind::TooLarge:
      return "TooLarge";
  }
  return "Corrupt";
}

ImageFormat sniff_image_format(std::string_view bytes) {
  if (bytes.size() >= 8 && bytes.substr(0, 8) == std::string_view("\x89PNG\r\n\x1a\n", 8))
    return ImageFormat::Png;
  if (bytes.size() >= 3 && bytes.substr(0, 3) == std::string_view("\xff\xd8\xff", 3))
    return ImageFormat::Jpeg;
  throw ImageError(ImageErrorKind::UnknownFormat, "not a PNG or JPEG image (unknown magic bytes)");
}

Image decode_image(std::string_view bytes) {
  return sniff_image_format(bytes) == ImageFormat::Png ? decode_png(bytes) : decode_jpeg(bytes);
}

std::string encode_png(const Image& image) {
  check_image(image);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = image.width;
  png.height = image.height;
  png.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.rgb.data(), 0, nullptr)) {
    throw std::runtime_error(std::string("png: ") + png.message);
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&png, out.data(), &size, 0, image.rgb.data(), 0, nullptr)) {
    throw std::runtime_error(std::string("png: ") + png.message);
  }
  out.resize(size);
  return out;
}

std::string encode_jpeg(const Image& image, int quality) {
  check_image(image);
  auto state = std::make_unique<JpegEncodeState>();
  const bool ok = encode_jpeg_into(state.get(), &image, quality);
  std::string out;
  if (ok) out.assign(reinterpret_cast<const char*>(state->buffer), state->size);
  std::free(state->buffer);
  if (!ok) throw std::runtime_error(state->failure);
  return out;
}

Image resize_bilinear(const Image& image, std::uint32_t width, std::uint32_t height) {
  check_image(image);
  check_dimensions(width, height, "resize");
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.resize(std::size_t{width} * height * 3);
  const double sx = static_cast<double>(image.width) / width,
               sy = static_cast<double>(image.height) / height;
  for (std::uint32_t y = 0; y < height; ++y) {
    const double fy = std::max(0.0, (y + 0.5) * sy - 0.5);
    const std::uint32_t y0 =
        std::min<std::uint32_t>(static_cast<std::uint32_t>(fy), image.height - 1);
    const std::uint32_t y1 = std::min<std::uint32_t>(y0 + 1, image.height - 1);
    const double wy = fy - y0;
    for (std::uint32_t x = 0; x < width; ++x) {
      const double fx = std::max(0.0, (x + 0.5) * sx - 0.5);
      const std::uint32_t x0 =
          std::min<std::uint32_t>(static_cast<std::uint32_t>(fx), image.width - 1);
      const std::uint32_t x1 = std::min<std::uint32_t>(x0 + 1, image.width - 1);
      const double wx = fx - x0;
      for (int c = 0; c < 3; ++c) {
        auto at = [&](std::uint32_t yy, std::uint32_t xx) {
          return static_cast<double>(image.rgb[(std::size_t{yy} * image.width + xx) * 3 + c]);
        };
        const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                         wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out.rgb[(std::size_t{y} * width + x) * 3 + c] =
            static_cast<std::uint8_t>(std::min(255.0, v + 0.5));
      }
    }
  }
  return out;
}

}  // namespace stratus::ml
