// MNIST, CIFAR-10 and CSV readers on files written in the real formats, and every class of
// corruption they must refuse with a DatasetError naming the file and the offset.

#include "stratus/trainer/dataset_readers.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>

#include "dataset_files.hpp"
#include "stratus/common/sigv4.hpp"

using namespace stratus;
using namespace stratus::trainer;
using stratus::test::TempDir;

namespace {

// The DatasetError message `read` throws, or "(no error)".
std::string error_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const DatasetError& error) {
    return error.what();
  }
  return "(no error)";
}

void expect_fragments(const std::string& message,
                      std::initializer_list<std::string_view> fragments) {
  for (const std::string_view fragment : fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "'" << fragment << "' not in: " << message;
  }
}

struct MnistFiles {
  std::filesystem::path images;
  std::filesystem::path labels;
};

MnistFiles write_mnist(const TempDir& dir, std::string_view images, std::string_view labels,
                       bool gzip = false) {
  const std::string suffix = gzip ? ".gz" : "";
  return {test::write_file(dir / ("images-idx3-ubyte" + suffix),
                           gzip ? test::gzip(images) : std::string(images)),
          test::write_file(dir / ("labels-idx1-ubyte" + suffix),
                           gzip ? test::gzip(labels) : std::string(labels))};
}

}  // namespace

// ---------------------------------------------------------------- MNIST

TEST(MnistReader, ReadsPlainAndGzipFilesToTheSameData) {
  TempDir dir("mnist");
  const std::string images = test::mnist_images(5);
  const std::string labels = test::mnist_labels(5);
  const MnistFiles plain = write_mnist(dir, images, labels);
  std::filesystem::create_directory(dir / "gz");
  const MnistFiles gz{test::write_file(dir / "gz/train-images-idx3-ubyte.gz", test::gzip(images)),
                      test::write_file(dir / "gz/train-labels-idx1-ubyte.gz", test::gzip(labels))};
  const LabeledData a = read_mnist(plain.images, plain.labels);
  const LabeledData b = read_mnist(gz.images, gz.labels);
  for (const LabeledData* data : {&a, &b}) {
    EXPECT_NO_THROW(data->validate());
    EXPECT_EQ(data->count(), 5u);
    EXPECT_EQ(data->features.dtype, DType::uint8);
    EXPECT_EQ(data->features.shape, (std::vector<std::uint64_t>{5, 28, 28}));
    EXPECT_EQ(data->sample_shape(), (std::vector<std::uint64_t>{28, 28}));
    ASSERT_EQ(data->features.u8.size(), 5u * 784);
    for (std::uint64_t i = 0; i < 5; ++i) {
      for (std::uint64_t p = 0; p < 784; p += 97) {
        EXPECT_EQ(data->features.u8[i * 784 + p], test::pixel_value(i, p));
      }
      EXPECT_EQ(data->labels.i32[i], test::digit_label(i));
    }
    EXPECT_EQ(data->labels.dtype, DType::int32);
    EXPECT_EQ(data->classes, (std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    EXPECT_TRUE(data->generator.empty());
  }
  EXPECT_EQ(a.features.u8, b.features.u8);
  EXPECT_EQ(a.labels.i32, b.labels.i32);
  // Sources: name only, stored size and digest of the stored (compressed) bytes, images first.
  ASSERT_EQ(b.sources.size(), 2u);
  EXPECT_EQ(b.sources[0].name, "train-images-idx3-ubyte.gz");
  EXPECT_EQ(b.sources[0].bytes, std::filesystem::file_size(gz.images));
  EXPECT_EQ(b.sources[0].sha256, aws::sha256_hex(test::read_file(gz.images)));
  EXPECT_EQ(b.sources[1].sha256, aws::sha256_hex(test::read_file(gz.labels)));
  EXPECT_EQ(a.sources[0].sha256, aws::sha256_hex(images));
}

TEST(MnistReader, ReadsAnyImageSizeAndMultiMemberGzip) {
  TempDir dir("mnist-size");
  const std::string images = test::mnist_images(4, 3, 5);
  // Two gzip members back to back are one valid gzip file (RFC 1952).
  const std::string two_members = test::gzip(images.substr(0, 30)) + test::gzip(images.substr(30));
  const MnistFiles files{test::write_file(dir / "i.gz", two_members),
                         test::write_file(dir / "l", test::mnist_labels(4))};
  const LabeledData data = read_mnist(files.images, files.labels);
  EXPECT_EQ(data.features.shape, (std::vector<std::uint64_t>{4, 3, 5}));
  EXPECT_EQ(data.features.u8[3 * 15 + 14], test::pixel_value(3, 14));
}

TEST(MnistReader, FindsTheStandardFileNamesInADirectory) {
  TempDir dir("mnist-dir");
  test::write_file(dir / "train-images-idx3-ubyte.gz", test::gzip(test::mnist_images(6)));
  test::write_file(dir / "train-labels-idx1-ubyte.gz", test::gzip(test::mnist_labels(6)));
  test::write_file(dir / "t10k-images-idx3-ubyte", test::mnist_images(2));  // already gunzipped
  test::write_file(dir / "t10k-labels-idx1-ubyte", test::mnist_labels(2));
  EXPECT_EQ(read_mnist_directory(dir.path(), DatasetSplit::train).count(), 6u);
  const LabeledData test_split = read_mnist_directory(dir.path(), DatasetSplit::test);
  EXPECT_EQ(test_split.count(), 2u);
  EXPECT_EQ(test_split.sources[0].name, "t10k-images-idx3-ubyte");
  std::filesystem::remove(dir / "t10k-labels-idx1-ubyte");
  expect_fragments(error_of([&] { read_mnist_directory(dir.path(), DatasetSplit::test); }),
                   {"no MNIST test labels file", "t10k-labels-idx1-ubyte.gz"});
}

TEST(MnistReader, RefusesBadMagic) {
  TempDir dir("mnist-magic");
  const std::string labels = test::mnist_labels(2);
  auto images_error = [&](std::string images) {
    const MnistFiles files = write_mnist(dir, images, labels);
    const std::string message = error_of([&] { read_mnist(files.images, files.labels); });
    EXPECT_EQ(message.rfind(files.images.string() + ": offset ", 0), 0u) << message;
    return message;
  };
  std::string images = test::mnist_images(2);
  images[1] = 1;
  expect_fragments(images_error(images), {"offset 0: bad magic 0x00010803", "not an IDX file"});
  images = test::mnist_images(2);
  images[2] = 0x0D;
  expect_fragments(images_error(images),
                   {"offset 2: bad magic 0x00000d03", "element type 0x0d (float)"});
  // A labels file given as images: one dimension instead of three.
  expect_fragments(images_error(test::mnist_labels(2)),
                   {"offset 3: bad magic 0x00000801", "1 dimensions"});
  // And a labels file with three dimensions.
  const MnistFiles swapped = write_mnist(dir, test::mnist_images(2), test::mnist_images(2));
  expect_fragments(error_of([&] { read_mnist(swapped.images, swapped.labels); }),
                   {swapped.labels.string(), "offset 3: bad magic 0x00000803", "3 dimensions"});
}

TEST(MnistReader, RefusesWrongDims) {
  TempDir dir("mnist-dims");
  const MnistFiles zero_rows =
      write_mnist(dir, test::idx_file(8, {2, 0, 28}, ""), test::mnist_labels(2));
  expect_fragments(error_of([&] { read_mnist(zero_rows.images, zero_rows.labels); }),
                   {"offset 8: wrong dims: images of 0x28 pixels"});
  const MnistFiles zero_count =
      write_mnist(dir, test::idx_file(8, {0, 28, 28}, ""), test::mnist_labels(2));
  expect_fragments(error_of([&] { read_mnist(zero_count.images, zero_count.labels); }),
                   {"offset 4: the image file holds no images"});
  const MnistFiles no_labels = write_mnist(dir, test::mnist_images(1), test::idx_file(8, {0}, ""));
  expect_fragments(error_of([&] { read_mnist(no_labels.images, no_labels.labels); }),
                   {"labels-idx1-ubyte: offset 4: the label file holds no labels"});
}

TEST(MnistReader, RefusesATruncatedHeaderAtEveryOffset) {
  TempDir dir("mnist-header");
  const std::string images = test::mnist_images(2);
  for (const bool gzip : {false, true}) {
    for (std::size_t length = 0; length < 16; ++length) {
      const MnistFiles files =
          write_mnist(dir, images.substr(0, length), test::mnist_labels(2), gzip);
      const std::string message = error_of([&] { read_mnist(files.images, files.labels); });
      const std::size_t field = length < 4 ? 0 : length / 4 * 4;
      expect_fragments(
          message, {files.images.string() + ": offset " + std::to_string(field) +
                        (gzip ? " (decompressed)" : "") + ": truncated: expected 4 header bytes",
                    "ends after " + std::to_string(length - field)});
    }
  }
}

TEST(MnistReader, RefusesATruncatedBodyAtSeveralOffsets) {
  TempDir dir("mnist-body");
  const std::string images = test::mnist_images(3);
  const std::string labels = test::mnist_labels(3);
  for (const bool gzip : {false, true}) {
    for (const std::size_t pixels : {0u, 1u, 783u, 784u, 2351u}) {
      const MnistFiles files = write_mnist(dir, images.substr(0, 16 + pixels), labels, gzip);
      expect_fragments(
          error_of([&] { read_mnist(files.images, files.labels); }),
          {files.images.string() + ": offset 16" + (gzip ? " (decompressed)" : "") +
           ": truncated: expected 2352 image bytes, the " +
           (gzip ? "decompressed stream" : "file") + " ends after " + std::to_string(pixels)});
    }
    const MnistFiles short_labels = write_mnist(dir, images, labels.substr(0, 8 + 2), gzip);
    expect_fragments(error_of([&] { read_mnist(short_labels.images, short_labels.labels); }),
                     {"offset 8", "truncated: expected 3 label bytes", "ends after 2"});
  }
}

TEST(MnistReader, RefusesBytesAfterTheDeclaredData) {
  TempDir dir("mnist-trailing");
  const MnistFiles files =
      write_mnist(dir, test::mnist_images(2) + "xyz", test::mnist_labels(2), true);
  expect_fragments(error_of([&] { read_mnist(files.images, files.labels); }),
                   {"offset 1584 (decompressed): 3 unexpected bytes after the last image"});
  const MnistFiles labels = write_mnist(dir, test::mnist_images(2), test::mnist_labels(2) + "x");
  expect_fragments(error_of([&] { read_mnist(labels.images, labels.labels); }),
                   {"offset 10: 1 unexpected bytes after the last label"});
}

TEST(MnistReader, RefusesBadGzip) {
  TempDir dir("mnist-gzip");
  const std::string labels = test::mnist_labels(50);
  const std::string images = test::gzip(test::mnist_images(50));
  const auto labels_path = test::write_file(dir / "labels", labels);
  auto error_for = [&](const std::string& stored) {
    const auto path = test::write_file(dir / "images.gz", stored);
    return error_of([&] { read_mnist(path, labels_path); });
  };
  // A corrupt deflate stream (a block type that does not exist).
  std::string corrupt = images;
  corrupt[10] = static_cast<char>(0xff);
  expect_fragments(error_for(corrupt), {"images.gz: offset 0 (decompressed): corrupt gzip data"});
  // The stored CRC-32 does not match the data.
  std::string bad_crc = images;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 1);
  expect_fragments(error_for(bad_crc), {"corrupt gzip data", "incorrect data check"});
  // The compressed file is cut short, in the middle and within the trailer.
  for (const std::size_t cut : {images.size() / 2, images.size() - 3}) {
    expect_fragments(error_for(images.substr(0, cut)),
                     {"images.gz: offset", "truncated gzip stream"});
  }
  // Garbage after the gzip stream.
  expect_fragments(error_for(images + "garbage"),
                   {"unexpected bytes after the end of the gzip stream"});
  // Named .gz but not gzip at all.
  expect_fragments(error_for(test::mnist_images(50)), {"images.gz: offset 0: not a gzip file"});
  // The gzip header itself is broken (bad compression method).
  std::string bad_header = images;
  bad_header[2] = 7;
  expect_fragments(error_for(bad_header), {"corrupt gzip data"});
}

TEST(MnistReader, RefusesLabelsOutOfRange) {
  TempDir dir("mnist-label");
  std::string labels = test::mnist_labels(4);
  labels[8 + 2] = 10;
  const MnistFiles files = write_mnist(dir, test::mnist_images(4), labels);
  expect_fragments(
      error_of([&] { read_mnist(files.images, files.labels); }),
      {files.labels.string() + ": offset 10: label 10 of sample 2 is out of range 0..9"});
}

TEST(MnistReader, RefusesCountMismatch) {
  TempDir dir("mnist-count");
  const MnistFiles files = write_mnist(dir, test::mnist_images(5), test::mnist_labels(4));
  expect_fragments(error_of([&] { read_mnist(files.images, files.labels); }),
                   {files.images.string() + ": offset 4: 5 images, but", files.labels.string(),
                    "holds 4 labels"});
}

TEST(MnistReader, RefusesHugeHeadersWithoutAllocating) {
  TempDir dir("mnist-huge");
  // 2^32-1 images of 2^16 x 2^16: refused from the header against the limit.
  const MnistFiles huge = write_mnist(dir, test::idx_file(8, {0xffffffffu, 65536, 65536}, "abc"),
                                      test::idx_file(8, {0xffffffffu}, ""));
  expect_fragments(error_of([&] { read_mnist(huge.images, huge.labels); }),
                   {"labels-idx1-ubyte: offset 4: 4294967295 labels exceed the limit"});
  const MnistFiles big =
      write_mnist(dir, test::idx_file(8, {3, 65536, 65536}, "abc"), test::mnist_labels(3));
  expect_fragments(error_of([&] { read_mnist(big.images, big.labels); }),
                   {"offset 4: 3 images of 65536x65536 exceed the limit of 2147483648 bytes"});
  // Within the limit but a lie: memory follows the bytes that arrive, and the error is clean.
  const MnistFiles lie =
      write_mnist(dir, test::idx_file(8, {3, 16384, 16384}, "abc"), test::mnist_labels(3), true);
  expect_fragments(
      error_of([&] { read_mnist(lie.images, lie.labels); }),
      {"offset 16 (decompressed): truncated: expected 805306368 image bytes", "ends after 3"});
  // A caller's tighter limit.
  const MnistFiles small = write_mnist(dir, test::mnist_images(10), test::mnist_labels(10));
  expect_fragments(error_of([&] { read_mnist(small.images, small.labels, ReadLimits{5000}); }),
                   {"10 images of 28x28 exceed the limit of 5000 bytes"});
}

// ---------------------------------------------------------------- CIFAR-10

TEST(CifarReader, ConcatenatesBatchesWithPlanesIntact) {
  TempDir dir("cifar");
  const std::vector<std::filesystem::path> files = {
      test::write_file(dir / "a.bin", test::cifar_batch(3, 0)),
      test::write_file(dir / "b.bin", test::cifar_batch(2, 3))};
  const LabeledData data = read_cifar10(files);
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.features.shape, (std::vector<std::uint64_t>{5, 3, 32, 32}));
  EXPECT_EQ(data.features.dtype, DType::uint8);
  ASSERT_EQ(data.features.u8.size(), 5u * 3072);
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(data.labels.i32[i], test::digit_label(i));
    for (const std::uint64_t p : {0u, 1023u, 1024u, 2048u, 3071u}) {  // R, G, B planes
      EXPECT_EQ(data.features.u8[i * 3072 + p], test::pixel_value(i, p)) << i << " " << p;
    }
  }
  ASSERT_EQ(data.sources.size(), 2u);
  EXPECT_EQ(data.sources[1].name, "b.bin");
  EXPECT_EQ(data.sources[1].bytes, 2u * 3073);
  EXPECT_EQ(data.sources[1].sha256, aws::sha256_hex(test::cifar_batch(2, 3)));
}

TEST(CifarReader, FindsTheBinaryVersionDirectory) {
  TempDir dir("cifar-dir");
  const auto batches = dir / "cifar-10-batches-bin";
  std::filesystem::create_directory(batches);
  for (int i = 1; i <= 5; ++i) {
    test::write_file(batches / ("data_batch_" + std::to_string(i) + ".bin"),
                     test::cifar_batch(2, 2 * (i - 1)));
  }
  test::write_file(batches / "test_batch.bin", test::cifar_batch(3));
  test::write_file(batches / "batches.meta.txt", "airplane\n");
  const LabeledData train = read_cifar10_directory(dir.path(), DatasetSplit::train);  // the parent
  EXPECT_EQ(train.count(), 10u);
  EXPECT_EQ(train.sources[4].name, "data_batch_5.bin");
  EXPECT_EQ(train.features.u8[9 * 3072 + 5], test::pixel_value(9, 5));
  EXPECT_EQ(read_cifar10_directory(batches, DatasetSplit::test).count(), 3u);  // the directory
  std::filesystem::remove(batches / "data_batch_4.bin");
  expect_fragments(error_of([&] { read_cifar10_directory(batches, DatasetSplit::train); }),
                   {"no CIFAR-10 training batch file", "data_batch_4.bin"});
}

TEST(CifarReader, RefusesASizeThatIsNotAMultipleOfTheRecord) {
  TempDir dir("cifar-size");
  for (const std::size_t extra : {1u, 5u, 3072u}) {
    const std::vector<std::filesystem::path> files = {
        test::write_file(dir / "data_batch_1.bin", test::cifar_batch(3) + std::string(extra, 'x'))};
    expect_fragments(
        error_of([&] { read_cifar10(files); }),
        {"data_batch_1.bin: offset 9219: the file size " + std::to_string(9219 + extra) +
         " is not a multiple of 3073 (3 whole records and " + std::to_string(extra) + " bytes)"});
  }
  // The same inside a gzip stream is found at the end of the data.
  const std::vector<std::filesystem::path> gz = {
      test::write_file(dir / "b.bin.gz", test::gzip(test::cifar_batch(2) + "xy"))};
  expect_fragments(error_of([&] { read_cifar10(gz); }),
                   {"offset 6146 (decompressed): truncated: the last record has 2 of 3073 bytes"});
  const std::vector<std::filesystem::path> empty = {test::write_file(dir / "empty.bin", "")};
  expect_fragments(error_of([&] { read_cifar10(empty); }), {"empty.bin: offset 0: no records"});
}

TEST(CifarReader, RefusesLabelsOutOfRange) {
  TempDir dir("cifar-label");
  std::string batch = test::cifar_batch(3);
  batch[3073] = static_cast<char>(200);
  const std::vector<std::filesystem::path> files = {
      test::write_file(dir / "test_batch.bin", batch)};
  expect_fragments(error_of([&] { read_cifar10(files); }),
                   {"test_batch.bin: offset 3073: label 200 of record 1 is out of range 0..9"});
}

TEST(CifarReader, HonoursTheLimitAndMissingFiles) {
  TempDir dir("cifar-limit");
  const std::vector<std::filesystem::path> files = {
      test::write_file(dir / "a.bin", test::cifar_batch(4))};
  expect_fragments(error_of([&] { read_cifar10(files, ReadLimits{3 * 3076}); }),
                   {"exceed the limit"});
  EXPECT_EQ(read_cifar10(files, ReadLimits{4 * 3076}).count(), 4u);
  const std::vector<std::filesystem::path> missing = {dir / "nope.bin"};
  expect_fragments(error_of([&] { read_cifar10(missing); }), {"nope.bin: cannot open"});
  EXPECT_THROW(read_cifar10({}), DatasetError);
}

// ---------------------------------------------------------------- CSV

TEST(CsvReader, ReadsFeaturesAndFloatTargets) {
  TempDir dir("csv");
  const auto path = test::write_file(dir / "data.csv", "a,b,y\n1,2,0.5\n\n3,4,-1.25\n");
  const LabeledData data = read_csv(path);
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.features.dtype, DType::float32);
  EXPECT_EQ(data.features.shape, (std::vector<std::uint64_t>{2, 2}));
  EXPECT_EQ(data.features.f32, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(data.labels.dtype, DType::float32);
  EXPECT_EQ(data.labels.f32, (std::vector<float>{0.5f, -1.25f}));
  EXPECT_TRUE(data.classes.empty());
  EXPECT_EQ(data.sources.at(0).name, "data.csv");
  // gzip works the same way.
  const auto gz = test::write_file(dir / "data.csv.gz", test::gzip("1,2,0.5\n3,4,-1.25"));
  EXPECT_EQ(read_csv(gz).features.f32, data.features.f32);
}

TEST(CsvReader, ReadsIntegerClassLabels) {
  TempDir dir("csv-classes");
  const auto path = test::write_file(dir / "c.csv", "0.5,7\n1.5,-3\n2.5,7\n3.5,2147483647\n");
  const LabeledData data = read_csv(path, CsvLabels::int32_classes);
  EXPECT_NO_THROW(data.validate());
  EXPECT_EQ(data.labels.i32, (std::vector<std::int32_t>{7, -3, 7, 2147483647}));
  EXPECT_EQ(data.classes, (std::vector<std::int32_t>{-3, 7, 2147483647}));
  const auto fractional = test::write_file(dir / "f.csv", "0.5,7\n1.5,0.5\n");
  expect_fragments(error_of([&] { read_csv(fractional, CsvLabels::int32_classes); }),
                   {"f.csv:2: column 2: a class label must be an integer"});
  const auto huge = test::write_file(dir / "h.csv", "0.5,3e9\n");
  EXPECT_THROW(read_csv(huge, CsvLabels::int32_classes), DatasetError);
}

TEST(CsvReader, RefusesMalformedLinesAndOverlongLines) {
  TempDir dir("csv-bad");
  expect_fragments(error_of([&] { read_csv(test::write_file(dir / "a.csv", "1,2,3\n4,x,6\n")); }),
                   {"a.csv:2: column 2"});
  expect_fragments(error_of([&] { read_csv(test::write_file(dir / "b.csv", "1,2,3\n4,5\n")); }),
                   {"b.csv:2: has 2 columns, expected 3"});
  expect_fragments(error_of([&] { read_csv(test::write_file(dir / "c.csv", "1\n")); }),
                   {"needs at least one feature"});
  expect_fragments(
      error_of([&] { read_csv(test::write_file(dir / "d.csv", std::string(2 << 20, '1'))); }),
      {"d.csv: offset", "line 1 is longer than 1048576 bytes"});
  expect_fragments(error_of([&] {
                     read_csv(test::write_file(dir / "e.csv", "1,2\n3,4\n"),
                              CsvLabels::float32_targets, ReadLimits{8});
                   }),
                   {"e.csv:2: the data exceeds the limit of 8 bytes"});
}

// ---------------------------------------------------------------- the Python generator

#ifdef STRATUS_MAKE_DATASETS_SCRIPT
TEST(MakeDatasetsScript, WritesFilesTheReadersAccept) {
  if (std::system("python3 --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  TempDir dir("make-datasets");
  const std::string command =
      std::string("python3 ") + STRATUS_MAKE_DATASETS_SCRIPT + " " + dir.path().string() +
      " --mnist-train 30 --mnist-test 7 --cifar-per-batch 4 --cifar-test 5 > /dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const LabeledData mnist = read_mnist_directory(dir / "mnist", DatasetSplit::train);
  EXPECT_EQ(mnist.features.shape, (std::vector<std::uint64_t>{30, 28, 28}));
  EXPECT_EQ(read_mnist_directory(dir / "mnist", DatasetSplit::test).count(), 7u);
  const LabeledData cifar = read_cifar10_directory(dir.path(), DatasetSplit::train);
  EXPECT_EQ(cifar.count(), 20u);
  EXPECT_EQ(read_cifar10_directory(dir / "cifar-10-batches-bin", DatasetSplit::test).count(), 5u);
  // The script's pixel formula, checked here so the two generators cannot drift apart.
  for (std::uint64_t i = 0; i < 30; i += 7) {
    for (std::uint64_t p = 0; p < 784; p += 101)
      EXPECT_EQ(mnist.features.u8[i * 784 + p], test::pixel_value(i, p));
    EXPECT_EQ(mnist.labels.i32[i], test::digit_label(i));
  }
  for (std::uint64_t p = 0; p < 3072; p += 333)
    EXPECT_EQ(cifar.features.u8[13 * 3072 + p], test::pixel_value(13, p));
  // Deterministic: a second run writes byte-identical files.
  TempDir again("make-datasets-again");
  const std::string command2 =
      std::string("python3 ") + STRATUS_MAKE_DATASETS_SCRIPT + " " + again.path().string() +
      " --mnist-train 30 --mnist-test 7 --cifar-per-batch 4 --cifar-test 5 > /dev/null";
  ASSERT_EQ(std::system(command2.c_str()), 0);
  EXPECT_EQ(test::read_file(dir / "mnist/train-images-idx3-ubyte.gz"),
            test::read_file(again / "mnist/train-images-idx3-ubyte.gz"));
}
#endif
