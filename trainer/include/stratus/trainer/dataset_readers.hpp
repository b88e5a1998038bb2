#pragma once
// Readers for the datasets of the CLOUD 2018 experiments, and the Case A generator.
//
// Every reader streams its files once, front to back, and treats them as hostile: sizes in headers
// are checked against ReadLimits before anything is read, memory grows only with the bytes that
// actually arrive, and anything malformed (bad magic, wrong dims, truncation anywhere, a corrupt
// gzip stream, a label out of range, trailing bytes, counts that do not match) is a DatasetError
// whose message names the file and the byte offset:
//
//   "<path>: offset 16: truncated: expected 47040000 image bytes, the file ends after 1200"
//
// For gzip files the offset counts bytes of the decompressed stream (the message then says
// "offset 16 (decompressed)"), since that is where the IDX layout lives.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "stratus/trainer/labeled_data.hpp"

namespace stratus::trainer {

struct ReadLimits {
  // Most decoded bytes (features + labels) one call may produce; a file announcing more is refused
  // from its header alone. CIFAR-10 train is 150 MiB, MNIST train 45 MiB.
  std::uint64_t max_bytes = std::uint64_t{2} << 30;
};

enum class DatasetSplit { train, test };

// ---- MNIST (IDX) ----
// Images: big-endian u32 magic 0x00000803 (unsigned bytes, 3 dims), then u32 count, rows, cols,
// then count*rows*cols pixels. Labels: magic 0x00000801, u32 count, then count bytes 0..9.
// Either file may be gzip-compressed (detected by content). The result has uint8 features
// [count, rows, cols] and int32 labels with classes 0..9; the two counts must agree.
LabeledData read_mnist(const std::filesystem::path& images, const std::filesystem::path& labels,
                       const ReadLimits& limits = {});
// The standard file names in `directory`: train-images-idx3-ubyte.gz + train-labels-idx1-ubyte.gz
// or t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz; the names without ".gz" (already
// decompressed) are accepted too.
LabeledData read_mnist_directory(const std::filesystem::path& directory, DatasetSplit split,
                                 const ReadLimits& limits = {});

// ---- CIFAR-10 (binary version) ----
// Each file: records of 1 label byte (0..9) and 3072 pixel bytes (1024 R, 1024 G, 1024 B, each
// 32x32 row-major); the size must be a non-zero multiple of 3073. Files are concatenated in the
// order given. uint8 features [count, 3, 32, 32], int32 labels, classes 0..9.
inline constexpr std::uint64_t kCifarRecordBytes = 3073;
LabeledData read_cifar10(std::span<const std::filesystem::path> batch_files,
                         const ReadLimits& limits = {});
// `directory` is cifar-10-batches-bin (or its parent): data_batch_1.bin .. data_batch_5.bin for
// train (50,000 images), test_batch.bin for test (10,000).
LabeledData read_cifar10_directory(const std::filesystem::path& directory, DatasetSplit split,
                                   const ReadLimits& limits = {});

// ---- CSV ----
// Lines of "feature,...,feature,label" (as load_csv: optional header line, blank lines skipped,
// finite numbers only, plain or gzip). float32 features [rows, features]. Labels are float32
// targets, or int32 classes (each label must be an integer in int32 range; classes = the distinct
// values seen, at most 65536 of them). Errors name the file, the line and the column.
enum class CsvLabels { float32_targets, int32_classes };
LabeledData read_csv(const std::filesystem::path& file,
                     CsvLabels labels = CsvLabels::float32_targets, const ReadLimits& limits = {});

// ---- CLOUD 2018 Case A: synthetic +/-1 vectors, the paper's rule ----
// `count` distinct 20-dimensional vectors of +/-1 with labels +/-1, fully determined by `seed`
// (SplitMix64, the same on every platform), as the paper's gen_random_sample/initialize_samples:
//  1. Draw `count` distinct integers of [0, 2^20): each SplitMix64 output r gives v = r >> 44; a
//     value already drawn is skipped (no repeats).
//  2. Sort them ascending. Sample i of the sorted list is the bits of the i-th integer: component
//     m (m = 0 first) is 2*bit_m - 1. The first floor(count/2) sorted samples get label -1, the
//     rest +1 (exactly half each for an even count).
//  3. Shuffle the rows with the same generator (Fisher-Yates: for i = count-1 down to 1, swap
//     row i with row r mod (i+1), r the next output; the modulo bias is below 2^-44).
// There are 2^20 distinct vectors, so count must be 1..2^20. float32 features [count, 20], int32
// labels, classes {-1, +1}.
inline constexpr std::size_t kCaseADimension = 20;
inline constexpr std::uint64_t kCaseAMaxCount = std::uint64_t{1} << kCaseADimension;
struct CaseASpec {
  std::uint64_t count = 100'000;
  std::uint64_t seed = 1;
};
LabeledData make_case_a(const CaseASpec& spec);

}  // namespace stratus::trainer
