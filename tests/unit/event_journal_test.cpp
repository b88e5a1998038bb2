#include "stratus/emulator/lambda/event_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <zlib.h>

#include "stratus/common/request_id.hpp"

using namespace stratus::emulator;
namespace fs = std::filesystem;

namespace {

JournaledEvent event(const std::string& id, std::string payload = R"({"n":1})") {
  JournaledEvent e;
  e.request_id = id;
  e.function_name = "fn";
  e.payload = std::move(payload);
  e.client_context = "";
  e.received_ms = 1700000000123;
  return e;
}

fs::path scratch_dir() {
  fs::path dir = fs::temp_directory_path() / ("stratus-journal-test-" + stratus::make_hex_id(8));
  fs::create_directories(dir);
  return dir;
}

// Appends through a journal and runs the io_context until every commit callback ran.
void append_and_commit(const fs::path& dir, const std::vector<JournaledEvent>& accepted,
                       const std::vector<std::string>& finished) {
  boost::asio::io_context io;
  EventJournal journal(io, dir, true);
  journal.replay();
  auto keep = boost::asio::make_work_guard(io);  // run_one waits for the writer's post
  std::size_t committed = 0;
  for (const auto& e : accepted) journal.append_accepted(e, [&](bool durable) { committed += durable; });
  for (const auto& id : finished) journal.append_finished(id);
  while (committed < accepted.size()) io.run_one();
}

}  // namespace

TEST(EventJournal, TheTraceHeaderSurvivesTheJournal) {
  JournaledEvent traced = event("t");
  traced.trace_id = "Root=1-00000000-000000000000000000000001;Sampled=0;Lineage=0a1b2c3d:7";
  const std::string bytes = encode_accepted_record(traced);
  std::unordered_map<std::string, JournaledEvent> live;
  std::vector<std::string> order;
  EXPECT_EQ(replay_records(bytes, live, order), bytes.size());
  EXPECT_EQ(live.at("t").trace_id, traced.trace_id);
  EXPECT_EQ(live.at("t").payload, traced.payload);
}

TEST(EventJournal, AcceptedRecordsWithoutATraceFromOlderJournalsStillReplay) {
  // The type-1 record older daemons wrote: the type-4 body without its trailing trace string.
  const std::string current = encode_accepted_record(event("old"));
  std::string body = current.substr(8, current.size() - 8 - 4);  // drop the empty trace (u32 0)
  body[0] = 1;
  std::string framed;
  auto put_u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) framed.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  put_u32(static_cast<std::uint32_t>(body.size()));
  put_u32(static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  framed += body;
  std::unordered_map<std::string, JournaledEvent> live;
  std::vector<std::string> order;
  EXPECT_EQ(replay_records(framed, live, order), framed.size());
  EXPECT_EQ(live.at("old").payload, R"({"n":1})");
  EXPECT_EQ(live.at("old").trace_id, "");
}

TEST(EventJournal, RecordsRoundTripInOrderWithRetriesAndFinishes) {
  std::string bytes = encode_accepted_record(event("a", std::string("\0binary\xff", 8))) +
                      encode_accepted_record(event("b")) + encode_attempts_record("a", 2) +
                      encode_finished_record("b") + encode_accepted_record(event("c"));
  std::unordered_map<std::string, JournaledEvent> live;
  std::vector<std::string> order;
  EXPECT_EQ(replay_records(bytes, live, order), bytes.size());
  EXPECT_EQ(live.size(), 2u);
  EXPECT_EQ(live.at("a").attempts, 2);
  EXPECT_EQ(live.at("a").payload, std::string("\0binary\xff", 8));
  EXPECT_EQ(live.at("a").received_ms, 1700000000123);
  EXPECT_EQ(live.count("b"), 0u);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EventJournal, ATornOrCorruptTailEndsTheReplay) {
  std::string good = encode_accepted_record(event("a")) + encode_accepted_record(event("b"));
  std::string third = encode_accepted_record(event("c"));
  for (std::size_t cut = 1; cut < third.size(); ++cut) {
    std::unordered_map<std::string, JournaledEvent> live;
    std::vector<std::string> order;
    std::string bytes = good + third.substr(0, cut);
    EXPECT_EQ(replay_records(bytes, live, order), good.size()) << cut;
    EXPECT_EQ(live.size(), 2u);
  }
  std::string flipped = good + third;
  flipped[good.size() + 12] ^= 0x40;  // a payload byte: the CRC no longer matches
  std::unordered_map<std::string, JournaledEvent> live;
  std::vector<std::string> order;
  EXPECT_EQ(replay_records(flipped, live, order), good.size());
}

TEST(EventJournal, ReplayReturnsWhatIsPendingAndRewritesTheFile) {
  fs::path dir = scratch_dir();
  append_and_commit(dir, {event("a"), event("b"), event("c")}, {"b"});
  // A crash in the middle of a write leaves half a record at the end.
  {
    std::ofstream out(dir / "events.journal", std::ios::app | std::ios::binary);
    out << encode_accepted_record(event("torn")).substr(0, 10);
  }
  boost::asio::io_context io;
  {
    EventJournal journal(io, dir, true);
    auto pending = journal.replay();
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0].request_id, "a");
    EXPECT_EQ(pending[1].request_id, "c");
    // Rewritten: exactly the two pending records, the torn tail and the finished event gone.
    EXPECT_EQ(fs::file_size(dir / "events.journal"), encode_accepted_record(event("a")).size() +
                                                         encode_accepted_record(event("c")).size());
    journal.append_finished("a");
    journal.append_finished("c");
  }  // the destructor writes what is queued
  EventJournal again(io, dir, true);
  EXPECT_TRUE(again.replay().empty());
  EXPECT_EQ(fs::file_size(dir / "events.journal"), 0u);
  fs::remove_all(dir);
}

TEST(EventJournal, ConcurrentAcceptsShareFsyncsAndTheFileIsCompacted) {
  fs::path dir = scratch_dir();
  boost::asio::io_context io;
  {
    EventJournal journal(io, dir, true);
    journal.replay();
    // 64 KB payloads: 200 of them (13 MB) pass the 4 MB compaction threshold.
    std::string payload(64 * 1024 + 2, 'x');  // a JSON string
    payload.front() = payload.back() = '"';
    auto keep = boost::asio::make_work_guard(io);
    std::size_t committed = 0;
    for (int i = 0; i < 200; ++i) {
      std::string id = "e";
      id += std::to_string(i);
      journal.append_accepted(event(id, payload), [&](bool durable) { committed += durable; });
      journal.append_finished(id);  // finished as soon as accepted
    }
    while (committed < 200) io.run_one();
    EXPECT_LT(journal.syncs(), 200u);  // group commit: fewer fsyncs than accepts
    for (int i = 0; i < 200 && journal.compactions() < 2; ++i) ::usleep(10000);
    // The replay's rewrite, then at least one while running: the file never kept all 13 MB.
    EXPECT_GE(journal.compactions(), 2u);
  }  // stops the writer once everything queued is written
  EventJournal again(io, dir, true);
  EXPECT_TRUE(again.replay().empty());
  EXPECT_EQ(fs::file_size(dir / "events.journal"), 0u);
  fs::remove_all(dir);
}

TEST(EventJournal, DisabledCommitsAtOnceAndWritesNothing) {
  fs::path dir = scratch_dir() / "off";
  boost::asio::io_context io;
  EventJournal journal(io, dir, false);
  EXPECT_TRUE(journal.replay().empty());
  bool committed = false;
  journal.append_accepted(event("a"), [&](bool durable) { committed = durable; });
  EXPECT_TRUE(committed);
  EXPECT_FALSE(fs::exists(dir / "events.journal"));
  fs::remove_all(dir.parent_path());
}
