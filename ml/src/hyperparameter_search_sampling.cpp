// Case C's random search: trial i's configuration from (seed, i) (hyperparameter_search.hpp).

#include <algorithm>
#include <limits>

#include "stratus/ml/hyperparameter_search.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace stratus::ml::hyperparameter_search {
namespace {

// Uniform in [lo, hi] by rejection: the top of the 64-bit range that would bias a modulo is drawn
// again, so every value is exactly equally likely (Python's randint is uniform too).
std::uint64_t uniform_int(SplitMix64& random, std::uint64_t lo, std::uint64_t hi) {
  const std::uint64_t span = hi - lo + 1;
  if (span == 0) return random.next();  // the whole 64-bit range
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % span;
  std::uint64_t draw = random.next();
  while (draw >= limit) draw = random.next();
  return lo + draw % span;
}

// One stream per trial, independent of the number of trials: the seed and the index are mixed
// by a first SplitMix64 step, so neighbouring seeds or trials give unrelated streams.
SplitMix64 trial_stream(std::uint64_t seed, std::uint32_t trial) {
  SplitMix64 mixer(seed ^ (0xd1b54a32d192ed03ULL * (static_cast<std::uint64_t>(trial) + 1)));
  return SplitMix64(mixer.next());
}

}  // namespace

TrialConfig sample_trial(std::uint64_t seed, std::uint32_t trial, const SearchSpace& space,
                         std::uint32_t epochs, std::uint64_t train_rows) {
  validate(space);
  if (train_rows == 0) throw ProtocolError(std::string(kProtocol) + ": the training set is empty");
  SplitMix64 random = trial_stream(seed, trial);
  TrialConfig t;
  t.trial = trial;
  const auto layers = uniform_int(random, space.min_hidden_layers, space.max_hidden_layers);
  for (std::uint64_t l = 0; l < layers; ++l) {
    t.hidden.push_back(
        static_cast<std::uint32_t>(uniform_int(random, space.min_width, space.max_width)));
  }
  t.learning_rate = random.uniform(space.min_learning_rate, space.max_learning_rate);
  const std::uint64_t drawn = uniform_int(random, space.min_batch_count, space.max_batch_count);
  // The paper's 60,000 rows admit every count up to 1000; a smaller set caps it at one row a batch.
  t.batch_count = static_cast<std::uint32_t>(std::min<std::uint64_t>(drawn, train_rows));
  t.batch_size = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      train_rows / t.batch_count, std::numeric_limits<std::uint32_t>::max()));
  t.epochs = epochs;
  t.init_seed = random.next();
  validate(t);
  return t;
}

std::vector<TrialConfig> sample_trials(std::uint64_t seed, std::uint32_t trials,
                                       const SearchSpace& space, std::uint32_t epochs,
                                       std::uint64_t train_rows) {
  if (trials == 0 || trials > kMaxTrials) {
    throw ProtocolError(std::string(kProtocol) + ": the number of trials must be in 1.." +
                        std::to_string(kMaxTrials));
  }
  std::vector<TrialConfig> all;
  all.reserve(trials);
  for (std::uint32_t i = 0; i < trials; ++i)
    all.push_back(sample_trial(seed, i, space, epochs, train_rows));
  return all;
}

}  // namespace stratus::ml::hyperparameter_search
