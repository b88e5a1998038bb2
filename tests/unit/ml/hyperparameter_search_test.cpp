// stratus-hyperparameter-search/1 (CLOUD 2018 Case C): seeded trial sampling, the codecs against
// hostile input, the checkpoint format, a resumed trial giving the same bytes as an uninterrupted
// one, and one SGD step against an independent double-precision reference with central
// differences.

#include "stratus/ml/hyperparameter_search.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "stratus/ml/split_mix64.hpp"

namespace hs = stratus::ml::hyperparameter_search;
using stratus::ml::ProtocolError;

namespace {

hs::RunConfig run_config() {
  hs::RunConfig r;
  r.run_id = "casec-unit";
  r.bucket = "runs";
  r.train = {"data", "datasets/mnist-train/manifest.json"};
  r.test = {"data", "datasets/mnist-test/manifest.json"};
  r.max_batches_per_invocation = 5;
  return r;
}

// A small learnable set: 10 classes, `inputs` features in [-0.5, 0.5].
hs::TrialData make_data(std::uint64_t rows, std::uint32_t inputs, std::uint64_t seed) {
  stratus::ml::SplitMix64 random(seed);
  hs::TrialData d;
  d.inputs = inputs;
  d.rows = rows;
  for (std::uint64_t r = 0; r < rows; ++r) {
    const auto label = static_cast<std::int32_t>(random.next() % 10);
    d.y.push_back(label);
    for (std::uint32_t j = 0; j < inputs; ++j) {
      const double signal = j % 10 == static_cast<std::uint32_t>(label) ? 0.4 : 0.0;
      d.x.push_back(static_cast<float>(signal + random.uniform(-0.1, 0.1)));
    }
  }
  return d;
}

hs::TrialConfig small_trial() {
  hs::TrialConfig t;
  t.trial = 2;
  t.hidden = {7, 5};
  t.learning_rate = 0.05;
  t.batch_count = 6;
  t.batch_size = 10;
  t.epochs = 3;
  t.init_seed = 99;
  return t;
}

std::string model_bytes(const hs::TrainingState& s) {
  return stratus::ml::encode_model(s.model);
}

}  // namespace

TEST(HyperparameterSampling, SameSeedSameTrialsAndTrialIndependentOfCount) {
  const hs::SearchSpace space;
  const auto a = hs::sample_trials(42, 20, space, 50, 60000);
  const auto b = hs::sample_trials(42, 20, space, 50, 60000);
  EXPECT_EQ(a, b);
  const auto fewer = hs::sample_trials(42, 5, space, 50, 60000);
  for (std::size_t i = 0; i < fewer.size(); ++i) EXPECT_EQ(fewer[i], a[i]);
  EXPECT_EQ(hs::sample_trial(42, 13, space, 50, 60000), a[13]);
  const auto other = hs::sample_trials(43, 20, space, 50, 60000);
  int same = 0;
  for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == other[i] ? 1 : 0;
  EXPECT_EQ(same, 0);
}

TEST(HyperparameterSampling, DrawsCoverThePapersSpaceAndNothingOutside) {
  const hs::SearchSpace space;
  std::set<std::size_t> layer_counts;
  std::set<std::uint32_t> widths;
  std::uint32_t min_count = 100000, max_count = 0;
  double min_lr = 1, max_lr = 0;
  for (const auto& t : hs::sample_trials(5, 3000, space, 50, 60000)) {
    layer_counts.insert(t.hidden.size());
    widths.insert(t.hidden.begin(), t.hidden.end());
    min_count = std::min(min_count, t.batch_count);
    max_count = std::max(max_count, t.batch_count);
    min_lr = std::min(min_lr, t.learning_rate);
    max_lr = std::max(max_lr, t.learning_rate);
    EXPECT_EQ(t.batch_size, 60000 / t.batch_count);
    EXPECT_EQ(t.epochs, 50u);
  }
  EXPECT_EQ(layer_counts, (std::set<std::size_t>{1, 2, 3}));
  EXPECT_EQ(*widths.begin(), 10u);
  EXPECT_EQ(*widths.rbegin(), 100u);
  EXPECT_EQ(widths.size(), 91u);  // every width 10..100 drawn
  EXPECT_GE(min_count, 10u);
  EXPECT_LE(max_count, 1000u);
  EXPECT_LT(min_count, 20u);
  EXPECT_GT(max_count, 990u);
  EXPECT_GE(min_lr, 0.001);
  EXPECT_LE(max_lr, 0.1);
  EXPECT_LT(min_lr, 0.002);
  EXPECT_GT(max_lr, 0.099);
}

TEST(HyperparameterSampling, SmallTrainingSetsClampTheBatchCount) {
  for (const auto& t : hs::sample_trials(9, 200, hs::SearchSpace{}, 2, 37)) {
    EXPECT_LE(t.batch_count, 37u);
    EXPECT_EQ(t.batch_size, 37 / t.batch_count);
    EXPECT_GE(t.batch_size, 1u);
  }
  EXPECT_THROW(hs::sample_trial(1, 0, hs::SearchSpace{}, 2, 0), ProtocolError);
  hs::SearchSpace bad;
  bad.min_width = 50;
  bad.max_width = 40;
  EXPECT_THROW(hs::sample_trial(1, 0, bad, 2, 100), ProtocolError);
  bad = {};
  bad.max_hidden_layers = 99;
  EXPECT_THROW(hs::validate(bad), ProtocolError);
  EXPECT_THROW(hs::sample_trials(1, 0, hs::SearchSpace{}, 2, 100), ProtocolError);
}

TEST(HyperparameterCodec, RequestsAnswersAndResultsRoundTrip) {
  hs::Request request{run_config(), small_trial(), std::nullopt};
  auto back = hs::decode_request(hs::encode_request(request));
  EXPECT_EQ(back.run, request.run);
  EXPECT_EQ(back.trial, request.trial);
  EXPECT_FALSE(back.segment);
  request.segment = 7;
  back = hs::decode_request(hs::encode_request(request));
  EXPECT_EQ(back.segment, std::optional<std::uint32_t>(7));

  hs::TrialResult result;
  result.trial = small_trial();
  result.architecture = hs::trial_architecture(result.trial, 20);
  result.test_accuracy = 0.75;
  result.test_correct = 3;
  result.test_samples = 4;
  result.final_train_loss = 0.123456789012345;
  result.model_sha256 = std::string(64, 'a');
  result.model_key = hs::model_key("casec-unit", 2);
  result.invocations = 4;
  result.train_ms = 12.5;
  const auto r = hs::decode_result(hs::encode_result(result));
  EXPECT_EQ(r.trial, result.trial);
  EXPECT_EQ(r.final_train_loss, result.final_train_loss);  // exact: doubles round-trip
  EXPECT_EQ(r.invocations, 4u);

  for (hs::Status status : {hs::Status::Done, hs::Status::Continued, hs::Status::Stale}) {
    hs::Answer a{"casec-unit", 2, status, 3, 1, 4, status == hs::Status::Done, std::nullopt};
    if (status == hs::Status::Done) a.result = result;
    const auto decoded = hs::decode_answer(hs::encode_answer(a));
    EXPECT_EQ(decoded.status, status);
    EXPECT_EQ(decoded.segment, 3u);
    EXPECT_EQ(decoded.result.has_value(), status == hs::Status::Done);
  }
  EXPECT_EQ(hs::checkpoint_key("r", 3, 12), "runs/r/trials/00003/checkpoint-00012.bin");
  EXPECT_EQ(hs::checkpoint_segment("runs/r/trials/00003/checkpoint-00012.bin"),
            std::optional<std::uint32_t>(12));
  EXPECT_FALSE(hs::checkpoint_segment("runs/r/trials/00003/checkpoint-0001x.bin"));
  EXPECT_FALSE(hs::checkpoint_segment("runs/r/trials/00003/result.json"));
  EXPECT_EQ(hs::trial_architecture(small_trial(), 784), "mlp/1:784-7-5-10");
}

TEST(HyperparameterCodec, SegmentBillsRoundTripAndRefuseHostileText) {
  EXPECT_EQ(hs::bill_key("r", 3, 12), "runs/r/trials/00003/bill-00012.json");
  EXPECT_FALSE(hs::checkpoint_segment(hs::bill_key("r", 3, 12)));  // never taken for a checkpoint
  const hs::SegmentBill bill = hs::decode_bill(hs::encode_bill({4, 1234, 1769}));
  EXPECT_EQ(bill.segment, 4u);
  EXPECT_EQ(bill.billed_ms, 1234);
  EXPECT_EQ(bill.memory_mb, 1769u);
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"),
        std::string(R"({"protocol":"other/1","segment":1,"billed_ms":1,"memory_mb":128})"),
        std::string(R"({"protocol":"stratus-hyperparameter-search/1","segment":1,"billed_ms":-1,"memory_mb":128})"),
        std::string(R"({"protocol":"stratus-hyperparameter-search/1","segment":1,"billed_ms":1e12,"memory_mb":128})"),
        std::string(R"({"protocol":"stratus-hyperparameter-search/1","segment":1,"billed_ms":1,"memory_mb":99999})"),
        std::string(R"({"protocol":"stratus-hyperparameter-search/1","segment":1,"memory_mb":128})")}) {
    EXPECT_THROW(hs::decode_bill(bad), ProtocolError) << bad;
  }
}

TEST(HyperparameterCodec, HostileRequestsAreRefusedWithTheirField) {
  const std::string good = hs::encode_request({run_config(), small_trial(), 1});
  auto mutate = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return text;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\"protocol\":\"stratus-hyperparameter-search/1\"", "\"protocol\":\"other/1\""},
      {"\"run_id\":\"casec-unit\"", "\"run_id\":\"../etc\""},
      {"\"bucket\":\"runs\"", "\"bucket\":\"R\""},
      {"\"hidden\":[7,5]", "\"hidden\":[]"},
      {"\"hidden\":[7,5]", "\"hidden\":[7,0]"},
      {"\"hidden\":[7,5]", "\"hidden\":[7,1000000]"},
      {"\"hidden\":[7,5]", "\"hidden\":[1,1,1,1,1,1,1,1,1]"},
      {"\"hidden\":[7,5]", "\"hidden\":\"7-5\""},
      {"\"learning_rate\":0.05", "\"learning_rate\":-1"},
      {"\"learning_rate\":0.05", "\"learning_rate\":\"nan\""},
      {"\"batch_count\":6", "\"batch_count\":0"},
      {"\"batch_size\":10", "\"batch_size\":-10"},
      {"\"epochs\":3", "\"epochs\":4000000000"},
      {"\"segment\":1", "\"segment\":1.5"},
      {"\"segment\":1", "\"segment\":100000"},
      {"\"trial\":2", "\"trial\":1e3"},
  };
  for (const auto& [from, to] : cases) {
    EXPECT_THROW(hs::decode_request(mutate(from, to)), ProtocolError) << to;
  }
  for (const std::string& text : std::vector<std::string>{
           "", "[]", "{", "null", "{\"protocol\":\"stratus-hyperparameter-search/1\"}",
           std::string(good.begin(),
                       good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2))}) {
    EXPECT_THROW(hs::decode_request(text), ProtocolError) << text;
  }
  EXPECT_THROW(
      hs::decode_answer(
          "{\"protocol\":\"stratus-hyperparameter-search/1\",\"run_id\":\"r\",\"trial\":0,"
          "\"status\":\"maybe\",\"segment\":0,\"epoch\":0,\"batch\":0,\"replayed\":false}"),
      ProtocolError);
  // A "done" answer must carry its result, for its own trial.
  EXPECT_THROW(hs::decode_answer(
                   "{\"protocol\":\"stratus-hyperparameter-search/1\",\"run_id\":\"r\",\"trial\":0,"
                   "\"status\":\"done\",\"segment\":0,\"epoch\":0,\"batch\":0,\"replayed\":false}"),
               ProtocolError);
}

TEST(HyperparameterCheckpoint, RoundTripsAndRefusesHostileBytes) {
  const hs::TrialConfig trial = small_trial();
  const hs::TrialData data = make_data(60, 20, 1);
  hs::TrainingState state = hs::initial_state(trial, 20);
  std::uint64_t calls = 0;
  hs::train_segment(state, trial, data, [&] { return ++calls < 8; });
  state.segment = 1;
  const std::string bytes = hs::encode_checkpoint(state, trial.trial);
  const hs::TrainingState back = hs::decode_checkpoint(bytes, trial, 20);
  EXPECT_EQ(model_bytes(back), model_bytes(state));
  EXPECT_EQ(back.epoch, 1u);
  EXPECT_EQ(back.batch, 2u);
  EXPECT_EQ(back.epoch_loss_sum, state.epoch_loss_sum);
  EXPECT_EQ(back.last_epoch_loss, state.last_epoch_loss);
  // Every truncation, wrong magic, a lying header length, another trial, another architecture.
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 8) {
    EXPECT_THROW(hs::decode_checkpoint(std::string_view(bytes).substr(0, n), trial, 20),
                 ProtocolError)
        << n;
  }
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_THROW(hs::decode_checkpoint(bad, trial, 20), ProtocolError);
  bad = bytes;
  bad[8] = '\xff';
  bad[9] = '\xff';
  EXPECT_THROW(hs::decode_checkpoint(bad, trial, 20), ProtocolError);
  hs::TrialConfig other = trial;
  other.trial = 3;
  EXPECT_THROW(hs::decode_checkpoint(bytes, other, 20), ProtocolError);
  other = trial;
  other.hidden = {7, 6};
  EXPECT_THROW(hs::decode_checkpoint(bytes, other, 20), ProtocolError);
  EXPECT_THROW(hs::decode_checkpoint(bytes, trial, 21), ProtocolError);
  other = trial;
  other.epochs = 1;  // the checkpoint's position (epoch 1, batch 2) lies past this trial's end
  EXPECT_THROW(hs::decode_checkpoint(bytes, other, 20), ProtocolError);
}

TEST(HyperparameterTraining, ResumingFromAnyCheckpointGivesTheUninterruptedBytes) {
  const hs::TrialConfig trial = small_trial();
  const hs::TrialData data = make_data(60, 20, 2);
  hs::TrainingState whole = hs::initial_state(trial, 20);
  const std::uint64_t all = hs::train_segment(whole, trial, data, [] { return true; });
  EXPECT_EQ(all, std::uint64_t{trial.batch_count} * trial.epochs);
  EXPECT_EQ(whole.epoch, trial.epochs);
  for (std::uint64_t budget : {1u, 2u, 5u, 6u, 7u, 17u}) {
    hs::TrainingState state = hs::initial_state(trial, 20);
    std::uint32_t segments = 0;
    while (state.epoch < trial.epochs) {
      std::uint64_t calls = 0;
      const std::uint64_t trained =
          hs::train_segment(state, trial, data, [&] { return ++calls < budget; });
      EXPECT_EQ(trained, std::min<std::uint64_t>(
                             budget, all - std::min<std::uint64_t>(all, segments * budget)));
      ++segments;
      state.segment = segments;
      state = hs::decode_checkpoint(hs::encode_checkpoint(state, trial.trial), trial, 20);
      if (state.epoch == trial.epochs) break;
    }
    EXPECT_EQ(model_bytes(state), model_bytes(whole)) << budget;
    EXPECT_EQ(state.last_epoch_loss, whole.last_epoch_loss) << budget;
  }
  // Trained longer, the network learns the classes (chance is 0.1).
  hs::TrialConfig longer = trial;
  longer.epochs = 60;
  longer.learning_rate = 0.3;
  hs::TrainingState learned = hs::initial_state(longer, 20);
  hs::train_segment(learned, longer, data, [] { return true; });
  const hs::TestScore score = hs::test_accuracy(learned.model, make_data(100, 20, 3));
  EXPECT_EQ(score.samples, 100u);
  EXPECT_GT(score.correct, 50u);
}

namespace {

// Independent double-precision mean softmax cross entropy of `rows` rows of `d` through an MLP
// (ReLU hidden, linear output) held as [in,out] weights and biases.
double reference_loss(const std::vector<std::vector<double>>& tensors,
                      const std::vector<std::size_t>& widths, const hs::TrialData& d,
                      std::size_t first, std::size_t rows) {
  double total = 0;
  for (std::size_t r = first; r < first + rows; ++r) {
    std::vector<double> a(d.x.begin() + static_cast<std::ptrdiff_t>(r * d.inputs),
                          d.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * d.inputs));
    for (std::size_t l = 1; l < widths.size(); ++l) {
      std::vector<double> z(widths[l]);
      for (std::size_t o = 0; o < widths[l]; ++o) {
        double s = tensors[2 * (l - 1) + 1][o];
        for (std::size_t i = 0; i < widths[l - 1]; ++i)
          s += a[i] * tensors[2 * (l - 1)][i * widths[l] + o];
        z[o] = l + 1 < widths.size() ? std::max(0.0, s) : s;
      }
      a = std::move(z);
    }
    double m = a[0];
    for (double v : a) m = std::max(m, v);
    double sum = 0;
    for (double v : a) sum += std::exp(v - m);
    total += std::log(sum) + m - a[static_cast<std::size_t>(d.y[r])];
  }
  return total / static_cast<double>(rows);
}

}  // namespace

TEST(HyperparameterTraining, OneStepIsSgdOnTheBatchMeanLossAgainstCentralDifferences) {
  hs::TrialConfig trial = small_trial();
  trial.epochs = 1;
  const hs::TrialData data = make_data(60, 20, 4);
  hs::TrainingState state = hs::initial_state(trial, 20);
  std::vector<std::vector<double>> before;
  for (const auto& t : state.model.tensors) before.emplace_back(t.values.begin(), t.values.end());
  hs::train_segment(state, trial, data, [] { return false; });  // exactly minibatch 0
  EXPECT_EQ(state.batch, 1u);
  const std::vector<std::size_t> widths{20, 7, 5, 10};
  const double lr = static_cast<float>(trial.learning_rate);
  double worst = 0;
  for (std::size_t t = 0; t < before.size(); ++t) {
    for (std::size_t i = 0; i < before[t].size(); i += 1 + before[t].size() / 7) {
      const double step =
          (before[t][i] - static_cast<double>(state.model.tensors[t].values[i])) / lr;
      auto plus = before, minus = before;
      const double h = 1e-5;
      plus[t][i] += h;
      minus[t][i] -= h;
      const double fd = (reference_loss(plus, widths, data, 0, trial.batch_size) -
                         reference_loss(minus, widths, data, 0, trial.batch_size)) /
                        (2 * h);
      const double error = std::abs(step - fd) / std::max(1e-3, std::abs(step) + std::abs(fd));
      worst = std::max(worst, error);
    }
  }
  EXPECT_LT(worst, 2e-2);
}

TEST(HyperparameterTraining, DataConversionUsesThePapersPixelScaling) {
  stratus::Shard shard;
  shard.features = stratus::Tensor::of_u8({2, 2, 2}, {0, 255, 127, 128, 10, 20, 30, 40});
  shard.labels = stratus::Tensor::of_i32({2}, {3, 9});
  const hs::TrialData d = hs::trial_data(shard);
  EXPECT_EQ(d.inputs, 4u);
  EXPECT_EQ(d.rows, 2u);
  EXPECT_FLOAT_EQ(d.x[0], -0.5f);
  EXPECT_FLOAT_EQ(d.x[1], 0.5f);
  EXPECT_FLOAT_EQ(d.x[2], (127.0f - 127.5f) / 255.0f);
  shard.labels = stratus::Tensor::of_i32({2}, {3, 10});
  EXPECT_THROW(hs::trial_data(shard), ProtocolError);
  shard.labels = stratus::Tensor::of_f32({2}, {3, 1});
  EXPECT_THROW(hs::trial_data(shard), ProtocolError);
}
