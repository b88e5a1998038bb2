#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <Eigen/Dense>

#include <bit>

#include "stratus/functions/handlers.hpp"
#include "stratus/ml/linreg_protocol.hpp"
#include "stratus/trainer/linreg.hpp"
#include "stratus/trainer/target.hpp"

using namespace stratus::trainer;
namespace linreg = stratus::ml::linreg;

TEST(Shards, CoverAllRowsContiguously) {
  for (std::size_t rows : {7u, 100u, 101u}) {
    for (int workers : {1, 3, 7}) {
      std::size_t expected_begin = 0;
      for (int k = 0; k < workers; ++k) {
        auto [b, e] = shard_range(rows, workers, k);
        EXPECT_EQ(b, expected_begin);
        EXPECT_LE(e - b, rows / static_cast<std::size_t>(workers) + 1);
        expected_begin = e;
      }
      EXPECT_EQ(expected_begin, rows);
    }
  }
}

// Full-batch GD on well-conditioned data converges to the least-squares solution, whatever the
// number of shards.
TEST(Linreg, ConvergesToLeastSquares) {
  auto data = make_synthetic_linear({2000, 4, 0.5, 7});
  Eigen::MatrixXd a(data.rows, data.features + 1);
  Eigen::VectorXd b(data.rows);
  for (std::size_t i = 0; i < data.rows; ++i) {
    for (std::size_t j = 0; j < data.features; ++j) a(i, j) = data.x[i * data.features + j];
    a(i, data.features) = 1.0;
    b(i) = data.y[i];
  }
  Eigen::VectorXd exact = a.colPivHouseholderQr().solve(b);
  Target local = make_target(TargetOptions{});  // --target local
  Invoker& backend = *local.invoker;
  LinregOptions options;
  options.epochs = 3000;
  options.learning_rate = 0.5;
  options.workers = 5;
  // Binary tensors: 15,000 in-process invocations parse much faster than as JSON numbers (both
  // formats give the same bits: see KeepsTheBitsOfTheModelsItTrainedBefore).
  options.payload = PayloadFormat::Zlib;
  auto result = train_linreg(data, options, backend);
  for (std::size_t j = 0; j < data.features; ++j) EXPECT_NEAR(result.weights[j], exact(j), 1e-6) << j;
  EXPECT_NEAR(result.bias, exact(data.features), 1e-6);
  EXPECT_LT(result.epochs.back().loss, result.epochs.front().loss);
}

TEST(Linreg, ShardCountDoesNotChangeTheLossMuch) {
  auto data = make_synthetic_linear({1000, 3, 0.1, 3});
  Target local = make_target(TargetOptions{});  // --target local
  Invoker& backend = *local.invoker;
  LinregOptions one;
  one.epochs = 20;
  one.workers = 1;
  LinregOptions many = one;
  many.workers = 8;
  auto a = train_linreg(data, one, backend);
  auto b = train_linreg(data, many, backend);
  EXPECT_NEAR(a.epochs.back().loss, b.epochs.back().loss, 1e-9);
}

TEST(Linreg, MiniBatchTakesManyStepsPerEpoch) {
  auto data = make_synthetic_linear({1000, 3, 0.1, 3});
  Target local = make_target(TargetOptions{});  // --target local
  Invoker& backend = *local.invoker;
  LinregOptions options;
  options.epochs = 2;
  options.workers = 4;
  options.batch_size = 100;
  int steps = 0;
  LinregObserver observer;
  observer.on_step = [&](int, int, int) { ++steps; };
  auto result = train_linreg(data, options, backend, observer);
  EXPECT_EQ(result.epochs[0].steps, 10);
  EXPECT_EQ(steps, 20);
}

TEST(Linreg, RejectsOptionsThatDoNotFit) {
  auto data = make_synthetic_linear({10, 2, 0.1, 1});
  Target local = make_target(TargetOptions{});  // --target local
  Invoker& backend = *local.invoker;
  LinregOptions options;
  options.workers = 11;
  EXPECT_THROW(train_linreg(data, options, backend), std::invalid_argument);
  options.workers = 2;
  options.batch_size = 1;
  EXPECT_THROW(train_linreg(data, options, backend), std::invalid_argument);
}

// The request the trainer sends, handled in-process by the very handler the function runs, gives
// exactly the local kernel's gradient, for both payload formats.
TEST(GradientRequest, HandlerAgreesWithLocalKernelBitForBit) {
  auto data = make_synthetic_linear({300, 6, 0.2, 11});
  std::vector<double> weights = {0.1, -0.2, 0.3, 0.4, -0.5, 0.6};
  const auto x = std::span<const float>(data.x).subspan(60 * 6, 120 * 6);
  const auto y = std::span<const float>(data.y).subspan(60, 120);
  const linreg::ShardIds ids{3, 0, 2};
  auto local = stratus::linear_gradient(x, y, weights, 0.25);
  auto request = [&](linreg::PayloadFormat format) {
    return linreg::encode_request(ids, weights, 0.25, linreg::encode_rows(x, y, 6, format), format);
  };
  auto via_json = nlohmann::json::parse(stratus::functions::gradient_handler(request(linreg::PayloadFormat::Json)));
  EXPECT_EQ(via_json["gradient"].get<std::vector<double>>(), local.gradient);
  EXPECT_EQ(via_json["bias_gradient"].get<double>(), local.bias_gradient);
  EXPECT_EQ(via_json["sse"].get<double>(), local.sse);
  EXPECT_EQ(via_json["rows"], 120);
  EXPECT_EQ(via_json["shard"], 2);
  const std::string zlib_answer = stratus::functions::gradient_z_handler(request(linreg::PayloadFormat::Zlib));
  auto via_zlib = nlohmann::json::parse(zlib_answer);
  EXPECT_EQ(via_zlib["sse"].get<double>(), local.sse);
  EXPECT_EQ(via_zlib["bias_gradient"].get<double>(), local.bias_gradient);
  // The driver's decoder reads both answers back exactly.
  const auto decoded = linreg::decode_answer(zlib_answer, 6, linreg::PayloadFormat::Zlib);
  EXPECT_EQ(decoded.ids, ids);
  EXPECT_EQ(decoded.gradient.gradient, local.gradient);
  EXPECT_EQ(decoded.gradient.rows, 120u);
}

namespace {

std::vector<std::uint64_t> bits_of(const LinregResult& result) {
  std::vector<std::uint64_t> bits;
  for (double w : result.weights) bits.push_back(std::bit_cast<std::uint64_t>(w));
  bits.push_back(std::bit_cast<std::uint64_t>(result.bias));
  return bits;
}

}  // namespace

// The model bits of two small runs, recorded with the trainer before linreg moved onto the fan-out
// engine (commit 6364eb7: `stratus-trainer linreg --samples 3000 --features 6 --workers 4
// --epochs 4 --seed 5 [--batch-size 400] --report ...`). Every target and payload format must keep
// giving exactly these: a change in the protocol, the kernel's compilation or the reduction order
// shows up here first.
TEST(Linreg, KeepsTheBitsOfTheModelsItTrainedBefore) {
  const std::vector<std::uint64_t> full_batch = {0x3f853fefb8c363cd, 0x3fc6e5e569065bda, 0xbfc62e41abbf2606,
                                                 0xbf9a027133209853, 0xbfc17b5976bf1b77, 0x3fb94d9010f3d9d5,
                                                 0xbfc578ed974f43a3};
  const std::vector<std::uint64_t> mini_batch = {0x3fa0fc74a69411ab, 0x3fed831a7a414101, 0xbfecb82eca8833c1,
                                                 0xbfbf726b4acf7fee, 0xbfe66f1791cfc37e, 0x3fe0d310134ca696,
                                                 0xbfddfdb41b8d07c2};
  auto data = make_synthetic_linear({3000, 6, 0.1, 5});
  Target local = make_target(TargetOptions{});
  for (PayloadFormat format : {PayloadFormat::Json, PayloadFormat::Zlib}) {
    LinregOptions options;
    options.epochs = 4;
    options.workers = 4;
    options.payload = format;
    EXPECT_EQ(bits_of(train_linreg(data, options, *local.invoker)), full_batch);
    options.batch_size = 400;
    EXPECT_EQ(bits_of(train_linreg(data, options, *local.invoker)), mini_batch);
  }
}
