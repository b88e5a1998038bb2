// Not a test: measures the dataset readers and the shard codec on full-size generated files.
//
//   ninja -C build/<preset> stratus-dataset-read-throughput &&
//   build/<preset>/bin/stratus-dataset-read-throughput
//
// MNIST-sized: 60,000 images of 28x28 as train-images-idx3-ubyte.gz, written to compress about as
// well as the real file (mostly black with a noisy stroke region: ~9-10 MB for 47 MB). CIFAR-sized:
// one batch of 10,000 records (30.7 MB) of noisy pixels. Throughput is decoded bytes per second,
// median of 5 runs, files in the page cache.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "dataset_files.hpp"
#include "stratus/trainer/dataset_readers.hpp"
#include "stratus/trainer/shard.hpp"

using namespace stratus;
using namespace stratus::trainer;

namespace {

template <typename Work>
double median_seconds(Work&& work) {
  std::vector<double> times;
  for (int run = 0; run < 5; ++run) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::uint64_t state = 0x1234;
std::uint8_t noise() {
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return static_cast<std::uint8_t>(state >> 56);
}

}  // namespace

int main() {
  test::TempDir dir("throughput");
  constexpr std::uint32_t kImages = 60000;
  std::string pixels(std::size_t{kImages} * 784, '\0');
  for (std::uint32_t i = 0; i < kImages; ++i) {
    // A 14x14 stroke box at a varying place; inside, ~60% of pixels lit with noisy values.
    const std::uint32_t top = 4 + i % 8, left = 4 + (i / 8) % 8;
    for (std::uint32_t r = top; r < top + 14; ++r) {
      for (std::uint32_t c = left; c < left + 14; ++c) {
        const std::uint8_t v = noise();
        if (v < 150)
          pixels[std::size_t{i} * 784 + r * 28 + c] = static_cast<char>(v < 60 ? 255 : v + 100);
      }
    }
  }
  const std::string images_gz = test::gzip(test::idx_file(8, {kImages, 28, 28}, pixels), 9);
  test::write_file(dir / "train-images-idx3-ubyte.gz", images_gz);
  test::write_file(dir / "train-labels-idx1-ubyte.gz", test::gzip(test::mnist_labels(kImages), 9));
  std::string cifar(std::size_t{10000} * kCifarRecordBytes, '\0');
  for (std::size_t r = 0; r < 10000; ++r) {
    cifar[r * kCifarRecordBytes] = static_cast<char>(r % 10);
    for (std::size_t p = 1; p < kCifarRecordBytes; ++p)
      cifar[r * kCifarRecordBytes + p] = static_cast<char>(noise());
  }
  const auto cifar_path = test::write_file(dir / "data_batch_1.bin", cifar);

  LabeledData mnist;
  const double mnist_s =
      median_seconds([&] { mnist = read_mnist_directory(dir.path(), DatasetSplit::train); });
  const double mnist_mb = static_cast<double>(mnist.features.u8.size() + 16) / 1e6;
  std::printf(
      "MNIST train-images gz (%.1f MB stored, %.1f MB decoded) + labels: %.3f s, %.0f MB/s "
      "decoded\n",
      static_cast<double>(images_gz.size()) / 1e6, mnist_mb, mnist_s, mnist_mb / mnist_s);

  LabeledData batch;
  const std::vector<std::filesystem::path> files = {cifar_path};
  const double cifar_s = median_seconds([&] { batch = read_cifar10(files); });
  const double cifar_mb = static_cast<double>(cifar.size()) / 1e6;
  std::printf("CIFAR-10 batch (10,000 records, %.1f MB): %.3f s, %.0f MB/s\n", cifar_mb, cifar_s,
              cifar_mb / cifar_s);

  for (const LabeledData* data : {&mnist, &batch}) {
    const auto ranges = split_evenly(data->count(), 8);
    for (const int level : {0, 1, 6}) {
      std::vector<std::string> shards(ranges.size());
      const double encode_s = median_seconds([&] {
        for (std::size_t i = 0; i < ranges.size(); ++i)
          shards[i] = encode_shard(*data, ranges[i], level);
      });
      std::uint64_t stored = 0;
      for (const std::string& s : shards) stored += s.size();
      const double decode_s = median_seconds([&] {
        for (const std::string& s : shards) decode_shard(s, std::uint64_t{1} << 30);
      });
      const double raw_mb = static_cast<double>(data->features.u8.size()) / 1e6;
      std::printf(
          "  8 shards, zlib level %d: %.1f MB -> %.1f MB; encode %.0f MB/s, decode %.0f MB/s\n",
          level, raw_mb, static_cast<double>(stored) / 1e6, raw_mb / encode_s, raw_mb / decode_s);
    }
  }
  return 0;
}
