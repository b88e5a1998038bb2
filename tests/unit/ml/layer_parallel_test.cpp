// stratus-layer-parallel/1: a step's distributed gradients against an independent double
// reference, any slicing K; repeated deliveries change nothing; conflicts and hostile requests
// are refused; the mlp/1 architecture names.

#include "stratus/ml/layer_parallel.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "stratus/ml/memory_object_store.hpp"
#include "stratus/ml/mlp_architecture.hpp"
#include "stratus/ml/split_mix64.hpp"

namespace lp = stratus::ml::layer_parallel;
using stratus::ml::MemoryObjectStore;
using stratus::ml::ModelState;
using stratus::ml::ProtocolError;

namespace {

lp::RunConfig config(std::uint32_t k, lp::Activation hidden = lp::Activation::Tanh) {
  lp::RunConfig c;
  c.run_id = "unit";
  c.bucket = "runs";
  c.widths = {5, 4, 3, 1};
  c.hidden = hidden;
  c.neurons_per_function = k;
  c.batch_size = 6;
  c.learning_rate = 0.05f;
  c.l2 = 0.01f;
  return c;
}

struct Data {
  std::vector<float> x, y;
};

Data data(std::size_t rows, std::size_t d) {
  stratus::ml::SplitMix64 r(7);
  Data out;
  for (std::size_t i = 0; i < rows * d; ++i) out.x.push_back(static_cast<float>(r.uniform(-1, 1)));
  for (std::size_t i = 0; i < rows; ++i) out.y.push_back(static_cast<float>(i % 2));
  return out;
}

std::vector<std::string> step_requests(const lp::RunConfig& c, std::uint32_t step) {
  std::vector<std::string> requests;
  for (std::uint32_t l = 1; l <= c.layers(); ++l) {
    for (std::uint32_t j = 0; j < c.slices(l); ++j) {
      requests.push_back(lp::encode_request(c, {lp::Direction::Forward, step, l, j}));
    }
  }
  for (std::uint32_t l = static_cast<std::uint32_t>(c.layers()); l >= 1; --l) {
    for (std::uint32_t j = 0; j < c.slices(l); ++j) {
      requests.push_back(lp::encode_request(c, {lp::Direction::Backward, step, l, j}));
    }
  }
  return requests;
}

std::map<std::string, std::string> snapshot(MemoryObjectStore& store, const std::string& bucket) {
  std::map<std::string, std::string> all;
  for (const auto& key : store.list(bucket, "")) all[key] = *store.get(bucket, key);
  return all;
}

// Independent reference in double: plain loops, no project kernel. Returns dL/dparams (weights
// [in,out] then biases per layer) of the summed logistic loss + 0.5*l2*|W|^2 on the batch.
std::vector<std::vector<double>> reference_gradients(const lp::RunConfig& c, const ModelState& m,
                                                     const std::vector<float>& x,
                                                     const std::vector<float>& y) {
  const std::size_t B = c.batch_size, L = c.layers();
  std::vector<std::vector<double>> acts(L + 1);
  acts[0].assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(B * c.widths[0]));
  for (std::size_t l = 1; l <= L; ++l) {
    const std::size_t in = c.widths[l - 1], out = c.widths[l];
    const auto& W = m.tensors[2 * (l - 1)].values;
    const auto& b = m.tensors[2 * (l - 1) + 1].values;
    acts[l].assign(B * out, 0.0);
    for (std::size_t r = 0; r < B; ++r) {
      for (std::size_t o = 0; o < out; ++o) {
        double z = b[o];
        for (std::size_t i = 0; i < in; ++i) z += acts[l - 1][r * in + i] * W[i * out + o];
        acts[l][r * out + o] =
            l == L ? z : (c.hidden == lp::Activation::Tanh ? std::tanh(z) : std::max(z, 0.0));
      }
    }
  }
  std::vector<std::vector<double>> grads(2 * L);
  std::vector<double> delta(B);
  for (std::size_t r = 0; r < B; ++r) delta[r] = 1.0 / (1.0 + std::exp(-acts[L][r])) - y[r];
  for (std::size_t l = L; l >= 1; --l) {
    const std::size_t in = c.widths[l - 1], out = c.widths[l];
    const auto& W = m.tensors[2 * (l - 1)].values;
    auto& dW = grads[2 * (l - 1)];
    auto& db = grads[2 * (l - 1) + 1];
    dW.assign(in * out, 0.0);
    db.assign(out, 0.0);
    for (std::size_t r = 0; r < B; ++r) {
      for (std::size_t o = 0; o < out; ++o) {
        db[o] += delta[r * out + o];
        for (std::size_t i = 0; i < in; ++i)
          dW[i * out + o] += acts[l - 1][r * in + i] * delta[r * out + o];
      }
    }
    for (std::size_t i = 0; i < in * out; ++i) dW[i] += c.l2 * W[i];
    if (l == 1) break;
    std::vector<double> below(B * in, 0.0);
    for (std::size_t r = 0; r < B; ++r) {
      for (std::size_t i = 0; i < in; ++i) {
        double s = 0;
        for (std::size_t o = 0; o < out; ++o) s += delta[r * out + o] * W[i * out + o];
        const double a = acts[l - 1][r * in + i];
        below[r * in + i] = c.hidden == lp::Activation::Tanh ? s * (1 - a * a) : (a > 0 ? s : 0);
      }
    }
    delta = std::move(below);
  }
  return grads;
}

class LayerParallelTest : public ::testing::TestWithParam<std::uint32_t> {};

}  // namespace

TEST_P(LayerParallelTest, GradientsMatchAnIndependentDoubleReference) {
  for (const auto hidden : {lp::Activation::Tanh, lp::Activation::Relu}) {
    const lp::RunConfig c = config(GetParam(), hidden);
    MemoryObjectStore store;
    store.ensure_bucket(c.bucket);
    const ModelState initial = lp::initial_network(c, 3);
    lp::write_params(store, c, 0, initial);
    const Data d = data(10, 5);
    lp::write_batch(store, c, 0, d.x, d.y);
    for (const auto& request : step_requests(c, 0)) lp::serve(request, store);
    const ModelState grads = lp::read_gradients(store, c, 0);
    const auto reference = reference_gradients(c, initial, d.x, d.y);
    for (std::size_t t = 0; t < grads.tensors.size(); ++t) {
      for (std::size_t i = 0; i < reference[t].size(); ++i) {
        EXPECT_NEAR(grads.tensors[t].values[i], reference[t][i],
                    1e-5 * (1 + std::fabs(reference[t][i])))
            << grads.tensors[t].name << "[" << i << "]";
      }
    }
    // The update is SGD on exactly those gradients.
    const ModelState next = lp::read_params(store, c, 1);
    for (std::size_t t = 0; t < next.tensors.size(); ++t) {
      for (std::size_t i = 0; i < next.tensors[t].values.size(); ++i) {
        EXPECT_EQ(next.tensors[t].values[i],
                  initial.tensors[t].values[i] - c.learning_rate * grads.tensors[t].values[i]);
      }
    }
  }
}

TEST_P(LayerParallelTest, RepeatedDeliveriesWriteTheSameBytesAndAdvanceNothing) {
  lp::RunConfig c = config(GetParam());
  c.optimizer = lp::Optimizer::Adam;
  MemoryObjectStore store;
  store.ensure_bucket(c.bucket);
  lp::write_params(store, c, 0, lp::initial_network(c, 5));
  const Data d = data(12, 5);
  for (std::uint32_t step = 0; step < 2; ++step) {
    lp::write_batch(store, c, step, d.x, d.y);
    for (const auto& request : step_requests(c, step)) {
      EXPECT_FALSE(lp::decode_answer(lp::serve(request, store)).replayed);
    }
  }
  const auto before = snapshot(store, c.bucket);
  // Every step of both steps delivered again, in a scrambled order (late duplicates of step 0
  // after step 1 ran): the same answers, marked replayed, and not one byte changes.
  auto again = step_requests(c, 1);
  const auto first = step_requests(c, 0);
  again.insert(again.end(), first.rbegin(), first.rend());
  for (const auto& request : again) {
    const auto answer = lp::decode_answer(lp::serve(request, store));
    EXPECT_TRUE(answer.replayed) << request;
  }
  EXPECT_EQ(snapshot(store, c.bucket), before);
}

INSTANTIATE_TEST_SUITE_P(Slicing, LayerParallelTest, ::testing::Values(0u, 1u, 2u, 3u));

TEST(LayerParallel, SameSeedSameBytesWhateverTheSlicingOfTheInitialNetwork) {
  EXPECT_EQ(stratus::ml::model_sha256(lp::initial_network(config(0), 9)),
            stratus::ml::model_sha256(lp::initial_network(config(1), 9)));
  MemoryObjectStore store;
  store.ensure_bucket("runs");
  const ModelState m = lp::initial_network(config(2), 9);
  lp::write_params(store, config(2), 0, m);
  EXPECT_EQ(stratus::ml::model_sha256(lp::read_params(store, config(2), 0)),
            stratus::ml::model_sha256(m));
}

TEST(LayerParallel, AConflictingObjectIsRefusedNotReplaced) {
  const lp::RunConfig c = config(2);
  MemoryObjectStore store;
  store.ensure_bucket(c.bucket);
  lp::write_params(store, c, 0, lp::initial_network(c, 1));
  const Data d = data(6, 5);
  lp::write_batch(store, c, 0, d.x, d.y);
  const std::string request = lp::encode_request(c, {lp::Direction::Forward, 0, 1, 0});
  lp::serve(request, store);
  const std::string key = lp::act_key(c.run_id, 0, 1, 0);
  const std::string other =
      lp::encode_frames({stratus::Tensor::of_f32({6, 2}, std::vector<float>(12, 0.5f))});
  store.put(c.bucket, key, other);
  EXPECT_THROW(lp::serve(request, store), ProtocolError);
  EXPECT_EQ(*store.get(c.bucket, key), other);
}

TEST(LayerParallel, HostileRequestsAndObjectsAreRefused) {
  const lp::RunConfig c = config(2);
  MemoryObjectStore store;
  store.ensure_bucket(c.bucket);
  const std::string good = lp::encode_request(c, {lp::Direction::Forward, 0, 1, 0});
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string r = good;
    const auto at = r.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    r.replace(at, from.size(), to);
    return r;
  };
  for (const std::string& bad :
       {std::string("not json"), std::string("[]"), edit("stratus-layer-parallel/1", "other/1"),
        edit("\"forward\"", "\"sideways\""), edit("\"layer\":1", "\"layer\":0"),
        edit("\"layer\":1", "\"layer\":4"), edit("\"slice\":0", "\"slice\":2"),
        edit("\"slice\":0", "\"slice\":-1"), edit("\"widths\":[5,4,3,1]", "\"widths\":[5,4,3,2]"),
        edit("\"widths\":[5,4,3,1]", "\"widths\":[5,0,3,1]"),
        edit("\"run_id\":\"unit\"", "\"run_id\":\"../x\""),
        edit("\"batch_size\":6", "\"batch_size\":0"),
        edit("\"neurons_per_function\":2", "\"neurons_per_function\":9")}) {
    EXPECT_THROW(lp::serve(bad, store), ProtocolError) << bad;
  }
  // No batch, no params yet: a typed refusal naming the missing key.
  try {
    lp::serve(good, store);
    FAIL();
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("missing s3://runs/runs/unit/"), std::string::npos)
        << e.what();
  }
  // Truncated, wrong-magic and wrong-count objects.
  const std::string frames = lp::encode_frames({stratus::Tensor::of_f32({2}, {1, 2})});
  for (std::size_t n = 0; n < frames.size(); ++n) {
    EXPECT_THROW(lp::decode_frames(frames.substr(0, n), 1, "x"), ProtocolError) << n;
  }
  EXPECT_THROW(lp::decode_frames("XXXX" + frames.substr(4), 1, "x"), ProtocolError);
  EXPECT_THROW(lp::decode_frames(frames, 2, "x"), ProtocolError);
  EXPECT_THROW(lp::decode_frames(frames + "z", 1, "x"), ProtocolError);
  EXPECT_EQ(lp::decode_frames(frames, 1, "x")[0].f32, (std::vector<float>{1, 2}));
}

TEST(MlpArchitecture, NamesAndLayouts) {
  using stratus::ml::mlp_widths;
  EXPECT_EQ(stratus::ml::mlp_architecture({12, 8, 4, 1}), "mlp/1:12-8-4-1");
  EXPECT_EQ(*mlp_widths("mlp/1:12-8-4-1"), (std::vector<std::uint32_t>{12, 8, 4, 1}));
  for (const char* bad :
       {"mlp/1:", "mlp/1:3", "mlp/1:03-1", "mlp/1:3--1", "mlp/1:3-1-", "mlp/1:0-1", "mlp/1:65537-1",
        "mlp/2:3-1", "mlp/1:+3-1", "mlp/1:3-99999999999"}) {
    EXPECT_FALSE(mlp_widths(bad)) << bad;
  }
  const auto layout = stratus::ml::architecture_layout("mlp/1:3-2-1");
  ASSERT_EQ(layout.size(), 4u);
  EXPECT_EQ(layout[2].name, "l2.weight");
  EXPECT_EQ(layout[2].shape, (std::vector<std::uint64_t>{2, 1}));
  EXPECT_TRUE(stratus::ml::is_known_architecture("mlp/1:784-100-10"));
}
