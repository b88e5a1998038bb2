#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <Eigen/Dense>

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
