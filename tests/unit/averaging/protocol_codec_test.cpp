// stratus-model-averaging/1 codecs: round trips, and hostile payloads and objects refused with a
// ProtocolError naming what is wrong (truncations, wrong magic, sizes that lie, out-of-range
// fields, wrong types, a result for another run/round/node).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "stratus/ml/model_averaging.hpp"

using namespace stratus::ml;
using namespace stratus::ml::averaging;
using nlohmann::json;

namespace {

RunConfig sample_config() {
  RunConfig c;
  c.run_id = "casea-test.1_x";
  c.bucket = "stratus-runs";
  c.architecture = "cloud2018-casea/1";
  c.dataset_bucket = "stratus-runs";
  c.manifest_key = "datasets/casea-seed1-n8000/manifest.json";
  c.tree = {1, 2, 8};
  c.rounds = 3;
  c.batches = 20;
  c.batch_size = 50;
  c.learning_rate = 0.1f;
  c.orchestration = Orchestration::functions;
  c.function = "model_averaging";
  c.poll_ms = 50;
  c.reserve_ms = 700;
  c.shuffle = true;
  c.shuffle_seed = 0xfedcba9876543210ull;
  return c;
}

template <typename F>
void expect_protocol_error(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no ProtocolError; expected one mentioning '" << fragment << "'";
  } catch (const ProtocolError& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

std::string request_with(const std::function<void(json&)>& mutate) {
  WorkerRequest r;
  r.config = sample_config();
  r.worker = 3;
  r.round = 1;
  r.hop = 2;
  json j = json::parse(encode_request(r));
  mutate(j);
  return j.dump();
}

PartialResult sample_partial() {
  PartialResult p;
  p.run_id = "casea-test.1_x";
  p.round = 2;
  p.node = {1, 1};
  p.leaves = 4;
  p.samples = 4000;
  p.correct = 3100;
  p.loss_sum = 123.456789012345678;
  p.model = std::string("model bytes\0with a NUL", 22);
  return p;
}

}  // namespace

TEST(ProtocolCodec, RunConfigRoundTrip) {
  const RunConfig c = sample_config();
  EXPECT_EQ(run_config_from_json(json::parse(to_json(c).dump())), c);
  EXPECT_EQ(c.merge_tree().workers(), 8u);
}

TEST(ProtocolCodec, RequestRoundTripBothOperations) {
  for (Operation op : {Operation::work, Operation::train}) {
    WorkerRequest r;
    r.op = op;
    r.config = sample_config();
    r.worker = 7;
    r.round = 2;
    r.hop = 41;
    EXPECT_EQ(decode_request(encode_request(r)), r);
  }
}

TEST(ProtocolCodec, HostileRequestsAreTypedErrors) {
  expect_protocol_error([] { decode_request("not json"); }, "not valid JSON");
  expect_protocol_error([] { decode_request("[1,2]"); }, "must be a JSON object");
  expect_protocol_error([] { decode_request("{}"); }, "missing field 'protocol'");
  expect_protocol_error(
      [] { decode_request(request_with([](json& j) { j["protocol"] = "other/1"; })); },
      "'protocol'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["op"] = "merge"; })); },
                        "'op'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["worker"] = 8; })); },
                        "'worker' = 8");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["worker"] = -1; })); },
                        "'worker'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["worker"] = 1.5; })); },
                        "'worker'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["round"] = 3; })); },
                        "'round' = 3");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["hop"] = "2"; })); },
                        "'hop'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j.erase("config"); })); },
                        "'config'");
  expect_protocol_error([] { decode_request(request_with([](json& j) { j["config"] = 5; })); },
                        "must be a JSON object");
  auto config = [](const std::function<void(json&)>& f) {
    return request_with([&](json& j) { f(j["config"]); });
  };
  expect_protocol_error([&] { decode_request(config([](json& c) {
                                c["tree"] = {1, 3, 2};
                              })); },
                        "increase strictly");
  expect_protocol_error([&] { decode_request(config([](json& c) {
                                c["tree"] = {2, 8};
                              })); },
                        "first level must be 1");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["tree"] = "1,2,8"; })); },
                        "'tree'");
  expect_protocol_error([&] { decode_request(config([](json& c) {
                                c["tree"] = {1, 2, -8};
                              })); },
                        "'tree'");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["run_id"] = "../etc"; })); },
                        "run id");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["run_id"] = ".hidden"; })); },
                        "run id");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["run_id"] = std::string(65, 'a'); })); },
      "longer");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["run_id"] = "a\nb"; })); },
                        "control character");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["bucket"] = "Bad_Bucket"; })); }, "bucket");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["architecture"] = "resnet"; })); },
      "architecture");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["rounds"] = 0; })); },
                        "'rounds'");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["batches"] = 1e12; })); },
                        "'batches'");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["learning_rate"] = -0.1; })); },
                        "learning_rate");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["learning_rate"] = "0.1"; })); },
      "learning_rate");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["learning_rate"] = 1e300; })); },
      "learning_rate");
  expect_protocol_error(
      [&] { decode_request(config([](json& c) { c["orchestration"] = "both"; })); },
      "orchestration");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["function"] = "a b"; })); },
                        "'function'");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["poll_ms"] = 0; })); },
                        "'poll_ms'");
  expect_protocol_error([&] { decode_request(config([](json& c) { c["manifest_key"] = ""; })); },
                        "manifest_key");
}

TEST(ProtocolCodec, PartialResultRoundTripIsExact) {
  const PartialResult p = sample_partial();
  const std::string bytes = encode_partial(p);
  EXPECT_EQ(bytes.substr(0, 4), "STMA");
  const PartialResult back = decode_partial(bytes);
  EXPECT_EQ(back, p);
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, &p.loss_sum, 8);
  std::memcpy(&b, &back.loss_sum, 8);
  EXPECT_EQ(a, b);
  // Same input, same bytes.
  EXPECT_EQ(encode_partial(p), bytes);
  const MergeTree tree({1, 2, 8});
  EXPECT_EQ(decode_partial_for(bytes, p.run_id, 2, {1, 1}, tree), p);
}

TEST(ProtocolCodec, HostilePartialResultsAreTypedErrors) {
  const std::string good = encode_partial(sample_partial());
  // Every truncation is refused.
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_THROW(decode_partial(std::string_view(good).substr(0, n)), ProtocolError) << n;
  }
  expect_protocol_error([&] { decode_partial(good + "x"); }, "model length says");
  std::string bad = good;
  bad[0] = 'X';
  expect_protocol_error([&] { decode_partial(bad); }, "bad magic");
  bad = good;
  bad[4] = 2;
  expect_protocol_error([&] { decode_partial(bad); }, "version");
  bad = good;
  bad[6] = 0;  // run id length 0
  bad[7] = 0;
  expect_protocol_error([&] { decode_partial(bad); }, "run id length");
  bad = good;
  bad[48] = '/';  // run id character
  expect_protocol_error([&] { decode_partial(bad); }, "run id");
  bad = good;
  for (int i = 0; i < 8; ++i) bad[48 + 14 + i] = '\xff';  // model length = 2^64-1
  expect_protocol_error([&] { decode_partial(bad); }, "over the limit");
  bad = good;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(bad.data() + 40, &nan, 8);
  expect_protocol_error([&] { decode_partial(bad); }, "not finite");
  bad = good;
  bad[32] = '\xff';  // correct > samples
  bad[33] = '\xff';
  expect_protocol_error([&] { decode_partial(bad); }, "more correct");
  bad = good;
  bad[20] = 0;  // leaves = 0
  expect_protocol_error([&] { decode_partial(bad); }, "out of range");
  // Well formed, but not the result that was asked for.
  const MergeTree tree({1, 2, 8});
  expect_protocol_error(
      [&] {
        decode_partial_for(good, "other-run", 2, {1, 1}, tree);
      },
      "expected run other-run");
  expect_protocol_error(
      [&] {
        decode_partial_for(good, "casea-test.1_x", 1, {1, 1}, tree);
      },
      "round 1");
  expect_protocol_error(
      [&] {
        decode_partial_for(good, "casea-test.1_x", 2, {1, 0}, tree);
      },
      "node 1-0");
  PartialResult wrong_leaves = sample_partial();
  wrong_leaves.leaves = 3;
  expect_protocol_error(
      [&] {
        decode_partial_for(encode_partial(wrong_leaves), "casea-test.1_x", 2, {1, 1}, tree);
      },
      "sums 3 workers");
}

TEST(ProtocolCodec, AnswersAndRecordsRoundTrip) {
  TrainAnswer t{"run-1", 4, 7, 12.5, 1000, 750, std::string(64, 'a'), true};
  EXPECT_EQ(decode_train_answer(encode_train_answer(t)), t);
  WorkAnswer w{"run-1", 3, 9, 2, WorkOutcome::reinvoked};
  const WorkAnswer w2 = decode_work_answer(encode_work_answer(w));
  EXPECT_EQ(w2.outcome, WorkOutcome::reinvoked);
  EXPECT_EQ(w2.hop, 9u);
  RoundRecord r{5, 77.25, 8000, 6000, 8, 1700000000000ull, std::string(64, 'f')};
  const RoundRecord r2 = decode_round_record(encode_round_record(r));
  EXPECT_EQ(r2.loss_sum, 77.25);
  EXPECT_EQ(r2.completed_ms, 1700000000000ull);
  RoundTrace trace;
  trace.round = 2;
  trace.worker = 5;
  trace.hop = 1;
  trace.new_invocation = true;
  trace.elapsed_ms = 12.5;
  trace.memory_mb = 1769;
  const RoundTrace trace2 = decode_trace(encode_trace(trace));
  EXPECT_TRUE(trace2.new_invocation);
  EXPECT_EQ(trace2.memory_mb, 1769u);
  EXPECT_EQ(decode_chain(encode_chain({4, "req-1"})).owner, "req-1");
  EXPECT_EQ(decode_alive(encode_alive({3, 2, 99})).deadline_ms, 99u);
  EXPECT_EQ(decode_error(encode_error({1, 2, 3, "InvalidInput", "bad"})).message, "bad");
}

TEST(ProtocolCodec, HostileAnswersAndRecordsAreTypedErrors) {
  expect_protocol_error([] { decode_train_answer(R"({"protocol":"stratus-model-averaging/1"})"); },
                        "missing field 'run'");
  TrainAnswer t{"run-1", 4, 7, 12.5, 1000, 750, std::string(64, 'a'), false};
  json j = json::parse(encode_train_answer(t));
  j["correct"] = 1001;
  expect_protocol_error([&] { decode_train_answer(j.dump()); }, "'correct'");
  j = json::parse(encode_train_answer(t));
  j["result_sha256"] = "abc";
  expect_protocol_error([&] { decode_train_answer(j.dump()); }, "64 hex");
  j = json::parse(encode_train_answer(t));
  j["run"] = "a/b";
  expect_protocol_error([&] { decode_train_answer(j.dump()); }, "run id");
  expect_protocol_error(
      [] {
        decode_work_answer(
            R"({"protocol":"stratus-model-averaging/1","run":"r","worker":0,"hop":0,"round":0,"outcome":"exploded"})");
      },
      "outcome");
  RoundTrace trace;
  json tj = json::parse(encode_trace(trace));
  tj["elapsed_ms"] = -1;
  expect_protocol_error([&] { decode_trace(tj.dump()); }, "negative");
  tj = json::parse(encode_trace(trace));
  tj["cold_start"] = 1;
  expect_protocol_error([&] { decode_trace(tj.dump()); }, "true or false");
  expect_protocol_error(
      [] { decode_round_record("{\"protocol\":\"stratus-model-averaging/1\",\"round\":1}"); },
      "loss_sum");
  expect_protocol_error([] { decode_alive("null"); }, "JSON object");
  expect_protocol_error(
      [] { decode_chain("{\"protocol\":\"stratus-model-averaging/1\",\"hop\":1,\"owner\":7}"); },
      "'owner'");
}

TEST(ProtocolCodec, TheLeaseIsARunOptionAndOldConfigsHaveNone) {
  RunConfig c = sample_config();
  EXPECT_EQ(c.lease_ms, kDefaultLeaseMs);
  c.lease_ms = 1500;
  EXPECT_EQ(run_config_from_json(json::parse(to_json(c).dump())).lease_ms, 1500u);
  c.lease_ms = 0;  // no lease: until the function's deadline
  EXPECT_EQ(run_config_from_json(json::parse(to_json(c).dump())).lease_ms, 0u);
  // A config written before leases existed (no lease_ms) is read, as its workers ran: no lease.
  json old = to_json(sample_config());
  old.erase("lease_ms");
  EXPECT_EQ(run_config_from_json(old).lease_ms, 0u);
  for (std::uint32_t bad : {1u, kMinLeaseMs - 1, kMaxLeaseMs + 1}) {
    c.lease_ms = bad;
    expect_protocol_error([&] { validate(c); }, "'lease_ms'");
    json j = to_json(sample_config());
    j["lease_ms"] = bad;
    expect_protocol_error([&] { run_config_from_json(j); }, "lease_ms");
  }
  json j = to_json(sample_config());
  j["lease_ms"] = "6000";
  expect_protocol_error([&] { run_config_from_json(j); },
                        "'lease_ms' must be a non-negative integer");
}

TEST(ProtocolCodec, AliveRecordsCarryALeaseAndOldOnesLastUntilTheirDeadline) {
  AliveRecord a;
  a.worker = 3;
  a.hop = 2;
  a.deadline_ms = 10'000;
  a.lease_until_ms = 4'000;
  const AliveRecord b = decode_alive(encode_alive(a));
  EXPECT_EQ(b.lease_until_ms, 4'000u);
  EXPECT_EQ(b.deadline_ms, 10'000u);
  // Running while the lease lasts, whatever the deadline says.
  EXPECT_TRUE(b.running_at(3'999));
  EXPECT_FALSE(b.running_at(4'000));
  EXPECT_FALSE(b.running_at(9'000));
  // A record written before leases existed: its lease is its deadline.
  json old = json::parse(encode_alive(a));
  old.erase("lease_until_ms");
  const AliveRecord c = decode_alive(old.dump());
  EXPECT_EQ(c.lease_until_ms, 10'000u);
  EXPECT_TRUE(c.running_at(9'999));
  EXPECT_FALSE(c.running_at(10'000));
  // A lease that claims to outlast the invocation's own deadline is refused, both ways.
  a.lease_until_ms = 10'001;
  expect_protocol_error([&] { encode_alive(a); }, "deadline");
  json late = json::parse(encode_alive(b));
  late["lease_until_ms"] = 10'001;
  expect_protocol_error([&] { decode_alive(late.dump()); }, "'lease_until_ms'");
  late["lease_until_ms"] = -5;
  expect_protocol_error([&] { decode_alive(late.dump()); }, "'lease_until_ms'");
}

TEST(ProtocolCodec, KeyLayout) {
  const RunLayout layout("run-7");
  EXPECT_EQ(layout.prefix(), "runs/run-7/");
  EXPECT_EQ(layout.config(), "runs/run-7/config.json");
  EXPECT_EQ(layout.model(0), "runs/run-7/model/round-00000.bin");
  EXPECT_EQ(layout.node(3, {2, 7}), "runs/run-7/round-00003/node-2-00007.bin");
  EXPECT_EQ(layout.trace(3, 7, 12), "runs/run-7/round-00003/trace-00007-00012.json");
  EXPECT_EQ(layout.trace(3, 7, 12).rfind(layout.trace_prefix(3), 0), 0u);
  EXPECT_EQ(layout.round_record(19), "runs/run-7/rounds/round-00019.json");
  EXPECT_EQ(layout.error(1, 2), "runs/run-7/errors/round-00001-worker-00002.json");
  EXPECT_EQ(layout.chain(4), "runs/run-7/chain/worker-00004.json");
  EXPECT_EQ(layout.alive(4, 1), "runs/run-7/alive/worker-00004-00001.json");
  EXPECT_EQ(layout.stop(), "runs/run-7/stop");
  EXPECT_THROW(RunLayout("a/b"), ProtocolError);
  EXPECT_THROW(RunLayout(""), ProtocolError);
}

TEST(ProtocolCodec, ShuffledShardRowsArePermutationsFixedBySeedRoundAndWorker) {
  stratus::Shard shard;
  const std::uint64_t rows = 50;
  std::vector<float> features;
  std::vector<std::int32_t> labels;
  for (std::uint64_t i = 0; i < rows; ++i) {
    features.push_back(static_cast<float>(i));
    features.push_back(-static_cast<float>(i));
    labels.push_back(static_cast<std::int32_t>(i));
  }
  shard.features = stratus::Tensor::of_f32({rows, 2}, features);
  shard.labels = stratus::Tensor::of_i32({rows}, labels);
  const stratus::Shard a = shard_rows_shuffled(shard, 7, 2, 3);
  EXPECT_EQ(a.features.shape, shard.features.shape);
  std::vector<std::int32_t> seen = a.labels.i32;
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, labels);  // a permutation
  EXPECT_NE(a.labels.i32, labels);
  for (std::uint64_t row = 0; row < rows; ++row) {  // rows move whole
    EXPECT_EQ(a.features.f32[row * 2], static_cast<float>(a.labels.i32[row]));
    EXPECT_EQ(a.features.f32[row * 2 + 1], -static_cast<float>(a.labels.i32[row]));
  }
  EXPECT_EQ(shard_rows_shuffled(shard, 7, 2, 3).labels.i32, a.labels.i32);
  EXPECT_NE(shard_rows_shuffled(shard, 7, 3, 3).labels.i32, a.labels.i32);
  EXPECT_NE(shard_rows_shuffled(shard, 7, 2, 4).labels.i32, a.labels.i32);
  EXPECT_NE(shard_rows_shuffled(shard, 8, 2, 3).labels.i32, a.labels.i32);
}
