#pragma once
// The durable async queue: an append-only journal of accepted Event invocations under
// <data-dir>/async/events.journal. An event's 202 is sent only once the record saying it was
// accepted is on disk (fdatasync); records of finished events and retry counts follow without
// being waited for (losing one re-runs an event: at least once). At start the journal is replayed
// and rewritten with only the events still pending; while running it is compacted the same way
// once it is mostly finished events.
//
// Group commit: the io thread only queues records; one writer thread writes everything queued
// since its last round with one write and one fdatasync, then posts the commit callbacks of that
// round back to the io thread. Concurrent accepts share fsyncs, so throughput holds up.
//
// Record framing (little-endian): u32 body length, u32 CRC-32 of the body, body. Body: u8 type,
// then fields; strings are u32 length + bytes. A record that is cut short or fails its CRC ends the
// replay (a crash mid-write): everything before it counts.
//   1 accepted: u32 attempts, i64 received (Unix ms), id, function, client context, payload
//     (journals written before the trace header was kept; still replayed)
//   4 accepted: as 1, then the trace header (its Lineage keeps a recursion chain counted across
//     restarts)
//   2 finished: id
//   3 attempts: u32 attempts, id

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace stratus::emulator {

struct JournaledEvent {
  std::string request_id;
  std::string function_name;
  std::string client_context;
  std::string payload;
  int attempts = 0;
  std::int64_t received_ms = 0;  // Unix epoch milliseconds, for the maximum event age
  std::string trace_id;          // X-Amzn-Trace-Id handed to the function (its Lineage count)
};

// Encoding and decoding, free of files so they are unit-tested on their own.
std::string encode_accepted_record(const JournaledEvent& event);
std::string encode_finished_record(const std::string& request_id);
std::string encode_attempts_record(const std::string& request_id, int attempts);
// Applies the records in `bytes` to `live` (accepted adds, finished removes, attempts updates) in
// order; returns how many bytes were whole, valid records (the rest is a torn tail).
std::size_t replay_records(std::string_view bytes,
                           std::unordered_map<std::string, JournaledEvent>& live,
                           std::vector<std::string>& order);

class EventJournal {
 public:
  // `enabled` false keeps nothing on disk: commits are immediate (benchmarks, throwaway runs).
  EventJournal(boost::asio::io_context& io, std::filesystem::path dir, bool enabled);
  ~EventJournal();  // writes what is queued, then stops the writer
  EventJournal(const EventJournal&) = delete;
  EventJournal& operator=(const EventJournal&) = delete;

  bool enabled() const { return enabled_; }
  // Reads the journal, rewrites it with only the pending events and returns them in the order
  // they were accepted. Call once, before anything is appended.
  std::vector<JournaledEvent> replay();
  // Queues the accepted record; `committed` runs on the io thread once it is on disk (true), or
  // with false when writing or flushing it failed (the event must then be refused).
  using CommitCallback = std::function<void(bool durable)>;
  void append_accepted(const JournaledEvent& event, CommitCallback committed);
  void append_finished(const std::string& request_id);
  void append_attempts(const std::string& request_id, int attempts);

  // For the log and tests: records written, fdatasyncs done, compactions.
  std::uint64_t records_written() const;
  std::uint64_t syncs() const;
  std::uint64_t compactions() const;

 private:
  struct Op {
    enum Kind { Accepted, Finished, Attempts } kind;
    JournaledEvent event;  // Accepted: the event; otherwise only request_id/attempts
  };
  void run_writer();
  void write_all(const std::string& bytes);
  void apply(std::vector<Op>& ops);
  // Rewrites the file with only the live events (temp file, fsync, rename, fsync of the dir).
  void compact();
  void open_for_append();

  boost::asio::io_context& io_;
  std::filesystem::path file_;
  bool enabled_;
  int fd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string queued_bytes_;
  std::vector<Op> queued_ops_;
  std::vector<CommitCallback> queued_callbacks_;
  std::uint64_t records_ = 0;
  std::uint64_t syncs_ = 0;
  std::uint64_t compactions_ = 0;

  // Writer thread only: the pending events, by acceptance order, to rewrite the journal with.
  std::map<std::uint64_t, JournaledEvent> live_;
  std::unordered_map<std::string, std::uint64_t> live_index_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t live_bytes_ = 0;
  std::thread writer_;
};

}  // namespace stratus::emulator
