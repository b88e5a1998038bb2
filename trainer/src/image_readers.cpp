// MNIST (IDX) and CIFAR-10 (binary version) readers.

#include <algorithm>
#include <array>
#include <numeric>
#include <system_error>

#include "source_reader.hpp"
#include "stratus/trainer/dataset_readers.hpp"

namespace stratus::trainer {

namespace {

using detail::SourceReader;
namespace fs = std::filesystem;

constexpr std::uint8_t kIdxUnsignedByte = 0x08;
constexpr std::int32_t kImageClasses = 10;

std::vector<std::int32_t> digit_classes() {
  std::vector<std::int32_t> classes(kImageClasses);
  std::iota(classes.begin(), classes.end(), 0);
  return classes;
}

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
         (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
}

std::string hex32(std::uint32_t value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) text.push_back(kDigits[(value >> shift) & 0xf]);
  return text;
}

std::string idx_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "short";
    case 0x0C:
      return "int";
    case 0x0D:
      return "float";
    case 0x0E:
      return "double";
    default:
      return "unknown";
  }
}

// Reads and checks an IDX header: magic (0, 0, type = unsigned byte, `dims`) and the dims.
std::vector<std::uint32_t> read_idx_header(SourceReader& reader, std::uint8_t dims,
                                           std::string_view kind) {
  std::array<unsigned char, 4> magic{};
  reader.read_exact(magic.data(), magic.size(), "header bytes (the IDX magic)");
  const std::uint32_t expected_magic = 0x00000800u | dims;
  const std::uint32_t value = big_endian_u32(magic.data());
  if (magic[0] != 0 || magic[1] != 0) {
    reader.fail_at(0, "bad magic " + hex32(value) + ": not an IDX file (expected " +
                          hex32(expected_magic) + " for MNIST " + std::string(kind) + ")");
  }
  if (magic[2] != kIdxUnsignedByte) {
    reader.fail_at(2, "bad magic " + hex32(value) + ": element type 0x" +
                          hex32(magic[2]).substr(8) + " (" + idx_type_name(magic[2]) +
                          ") is not supported; MNIST uses unsigned bytes (0x08)");
  }
  if (magic[3] != dims) {
    reader.fail_at(3, "bad magic " + hex32(value) + ": " + std::to_string(magic[3]) +
                          " dimensions, MNIST " + std::string(kind) + " have " +
                          std::to_string(dims) + " (expected " + hex32(expected_magic) + ")");
  }
  std::vector<std::uint32_t> shape(dims);
  for (std::uint8_t i = 0; i < dims; ++i) {
    std::array<unsigned char, 4> bytes{};
    reader.read_exact(bytes.data(), bytes.size(),
                      "header bytes (dimension " + std::to_string(i) + ")");
    shape[i] = big_endian_u32(bytes.data());
  }
  return shape;
}

struct IdxLabels {
  std::vector<std::int32_t> values;
  SourceFile source;
};

IdxLabels read_idx_labels(const fs::path& path, const ReadLimits& limits) {
  SourceReader reader(path);
  const std::uint32_t count = read_idx_header(reader, 1, "labels")[0];
  if (count == 0) reader.fail_at(4, "the label file holds no labels (count 0)");
  if (std::uint64_t{count} * sizeof(std::int32_t) > limits.max_bytes) {
    reader.fail_at(4, std::to_string(count) + " labels exceed the limit of " +
                          std::to_string(limits.max_bytes) + " bytes");
  }
  std::vector<std::uint8_t> bytes;
  const std::uint64_t data_offset = reader.offset();
  reader.read_into(bytes, count, "label bytes");
  IdxLabels labels;
  labels.values.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] >= kImageClasses) {
      reader.fail_at(data_offset + i, "label " + std::to_string(bytes[i]) + " of sample " +
                                          std::to_string(i) + " is out of range 0..9");
    }
    labels.values.push_back(bytes[i]);
  }
  reader.expect_end("the last label");
  labels.source = reader.finish();
  return labels;
}

fs::path find_one(const fs::path& directory, std::initializer_list<std::string_view> names,
                  std::string_view what) {
  std::string tried;
  for (const std::string_view name : names) {
    const fs::path candidate = directory / std::string(name);
    std::error_code error;
    if (fs::is_regular_file(candidate, error)) return candidate;
    tried += (tried.empty() ? "" : ", ") + std::string(name);
  }
  throw DatasetError(directory.string() + ": no " + std::string(what) + " file (looked for " +
                     tried + ")");
}

}  // namespace

LabeledData read_mnist(const fs::path& images, const fs::path& labels, const ReadLimits& limits) {
  // Labels first: small, and their count lets a mismatched image file fail on its header.
  IdxLabels label_data = read_idx_labels(labels, limits);
  const std::uint64_t label_count = label_data.values.size();

  SourceReader reader(images);
  const std::vector<std::uint32_t> dims = read_idx_header(reader, 3, "images");
  const std::uint64_t count = dims[0];
  const std::uint64_t rows = dims[1];
  const std::uint64_t cols = dims[2];
  if (count == 0) reader.fail_at(4, "the image file holds no images (count 0)");
  if (rows == 0 || cols == 0) {
    reader.fail_at(rows == 0 ? 8 : 12, "wrong dims: images of " + std::to_string(rows) + "x" +
                                           std::to_string(cols) + " pixels");
  }
  if (count != label_count) {
    reader.fail_at(4, std::to_string(count) + " images, but " + labels.string() + " holds " +
                          std::to_string(label_count) + " labels");
  }
  // count, rows, cols < 2^32 each: the product can overflow 64 bits only through all three.
  std::uint64_t pixels = 0;
  if (__builtin_mul_overflow(count, rows * cols, &pixels) ||
      pixels > limits.max_bytes - std::min(limits.max_bytes, label_count * sizeof(std::int32_t))) {
    reader.fail_at(4, std::to_string(count) + " images of " + std::to_string(rows) + "x" +
                          std::to_string(cols) + " exceed the limit of " +
                          std::to_string(limits.max_bytes) + " bytes");
  }

  LabeledData data;
  data.features.dtype = DType::uint8;
  data.features.shape = {count, rows, cols};
  reader.read_into(data.features.u8, pixels, "image bytes");
  reader.expect_end("the last image");
  data.sources = {reader.finish(), std::move(label_data.source)};
  data.labels = Tensor::of_i32({count}, std::move(label_data.values));
  data.classes = digit_classes();
  return data;
}

LabeledData read_mnist_directory(const fs::path& directory, DatasetSplit split,
                                 const ReadLimits& limits) {
  const bool train = split == DatasetSplit::train;
  const fs::path images = train ? find_one(directory,
                                           {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                                            "train-images.idx3-ubyte"},
                                           "MNIST training images")
                                : find_one(directory,
                                           {"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                                            "t10k-images.idx3-ubyte"},
                                           "MNIST test images");
  const fs::path labels = train ? find_one(directory,
                                           {"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte",
                                            "train-labels.idx1-ubyte"},
                                           "MNIST training labels")
                                : find_one(directory,
                                           {"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte",
                                            "t10k-labels.idx1-ubyte"},
                                           "MNIST test labels");
  return read_mnist(images, labels, limits);
}

LabeledData read_cifar10(std::span<const fs::path> batch_files, const ReadLimits& limits) {
  if (batch_files.empty()) throw DatasetError("CIFAR-10: no batch files given");
  constexpr std::uint64_t kPixels = kCifarRecordBytes - 1;
  constexpr std::uint64_t kDecodedRecord = kPixels + sizeof(std::int32_t);
  // The files' real sizes bound the data before anything is read.
  std::uint64_t stored = 0;
  for (const fs::path& path : batch_files) {
    std::error_code error;
    const std::uint64_t size = fs::file_size(path, error);
    if (!error) stored += size;
  }

  LabeledData data;
  data.features.dtype = DType::uint8;
  data.labels.dtype = DType::int32;
  std::vector<std::uint8_t>& pixels = data.features.u8;
  std::vector<std::int32_t>& labels = data.labels.i32;
  const std::uint64_t expected_records = stored / kCifarRecordBytes;
  if (expected_records <= limits.max_bytes / kDecodedRecord) {
    pixels.reserve(static_cast<std::size_t>(expected_records * kPixels));
    labels.reserve(static_cast<std::size_t>(expected_records));
  }

  constexpr std::size_t kRecordsPerRead = 512;
  std::vector<unsigned char> buffer(kRecordsPerRead * kCifarRecordBytes);
  for (const fs::path& path : batch_files) {
    SourceReader reader(path);
    if (!reader.gzip() && reader.stored_size() % kCifarRecordBytes != 0) {
      const std::uint64_t whole = reader.stored_size() / kCifarRecordBytes;
      reader.fail_at(whole * kCifarRecordBytes,
                     "the file size " + std::to_string(reader.stored_size()) +
                         " is not a multiple of 3073 (" + std::to_string(whole) +
                         " whole records and " +
                         std::to_string(reader.stored_size() % kCifarRecordBytes) +
                         " bytes): not a CIFAR-10 binary batch");
    }
    std::uint64_t records_in_file = 0;
    for (;;) {
      const std::uint64_t start = reader.offset();
      const std::size_t got = reader.read(buffer.data(), buffer.size());
      const std::size_t whole = got / kCifarRecordBytes;
      if ((labels.size() + whole) > limits.max_bytes / kDecodedRecord) {
        reader.fail_at(start, "more than " + std::to_string(limits.max_bytes / kDecodedRecord) +
                                  " records exceed the limit of " +
                                  std::to_string(limits.max_bytes) + " bytes");
      }
      for (std::size_t r = 0; r < whole; ++r) {
        const unsigned char* record = buffer.data() + r * kCifarRecordBytes;
        if (record[0] >= kImageClasses) {
          reader.fail_at(start + r * kCifarRecordBytes,
                         "label " + std::to_string(record[0]) + " of record " +
                             std::to_string(records_in_file + r) + " is out of range 0..9");
        }
        labels.push_back(record[0]);
        pixels.insert(pixels.end(), record + 1, record + kCifarRecordBytes);
      }
      records_in_file += whole;
      if (got != buffer.size()) {
        if (got % kCifarRecordBytes != 0) {
          // Only a gzip stream (or a file that changed while being read) gets here.
          reader.fail_at(start + whole * kCifarRecordBytes,
                         "truncated: the last record has " +
                             std::to_string(got % kCifarRecordBytes) +
                             " of 3073 bytes; the size is not a multiple of 3073");
        }
        break;
      }
    }
    if (records_in_file == 0) reader.fail_at(0, "no records (an empty file)");
    data.sources.push_back(reader.finish());
  }
  const std::uint64_t count = labels.size();
  data.features.shape = {count, 3, 32, 32};
  data.labels.shape = {count};
  data.classes = digit_classes();
  return data;
}

LabeledData read_cifar10_directory(const fs::path& directory, DatasetSplit split,
                                   const ReadLimits& limits) {
  fs::path base = directory;
  std::error_code error;
  if (!fs::exists(base / "test_batch.bin", error) &&
      fs::is_directory(directory / "cifar-10-batches-bin", error)) {
    base = directory / "cifar-10-batches-bin";
  }
  std::vector<fs::path> files;
  if (split == DatasetSplit::train) {
    for (int i = 1; i <= 5; ++i) {
      const std::string name = "data_batch_" + std::to_string(i) + ".bin";
      files.push_back(find_one(base, {name}, "CIFAR-10 training batch"));
    }
  } else {
    files.push_back(find_one(base, {"test_batch.bin"}, "CIFAR-10 test batch"));
  }
  return read_cifar10(files, limits);
}

}  // namespace stratus::trainer
