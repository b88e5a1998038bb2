#include "stratus/emulator/lambda/event_journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace stratus::emulator {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t kMaxRecordBytes = 64u << 20;  // far above Lambda's 1 MB event payload
// Compact once the file is this large and mostly finished events.
constexpr std::uint64_t kCompactMinBytes = 4u << 20;

// kAccepted is what journals written before the trace was kept hold; they still replay.
enum RecordType : std::uint8_t { kAccepted = 1, kFinished = 2, kAttempts = 3, kAcceptedTraced = 4 };

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i64(std::string& out, std::int64_t value) {
  auto v = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::uint32_t crc_of(std::string_view body) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
}

std::string frame(const std::string& body) {
  std::string out;
  out.reserve(body.size() + 8);
  put_u32(out, static_cast<std::uint32_t>(body.size()));
  put_u32(out, crc_of(body));
  out += body;
  return out;
}

// Reads fields of one record body; any overrun marks it bad.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : rest_(body) {}
  bool ok() const { return ok_; }
  bool done() const { return rest_.empty(); }
  std::uint8_t u8() {
    if (rest_.empty()) return fail<std::uint8_t>();
    auto v = static_cast<std::uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return v;
  }
  std::uint32_t u32() {
    if (rest_.size() < 4) return fail<std::uint32_t>();
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(rest_[i])) << (8 * i);
    rest_.remove_prefix(4);
    return v;
  }
  std::int64_t i64() {
    if (rest_.size() < 8) return fail<std::int64_t>();
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(rest_[i])) << (8 * i);
    rest_.remove_prefix(8);
    return static_cast<std::int64_t>(v);
  }
  std::string str() {
    std::uint32_t n = u32();
    if (!ok_ || rest_.size() < n) return fail<std::string>();
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }

 private:
  template <typename T>
  T fail() {
    ok_ = false;
    rest_ = {};
    return T{};
  }
  std::string_view rest_;
  bool ok_ = true;
};

std::uint32_t read_u32_at(std::string_view bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

std::string encode_accepted_record(const JournaledEvent& e) {
  std::string body;
  body.reserve(e.payload.size() + e.request_id.size() + e.function_name.size() +
               e.client_context.size() + 32);
  body.push_back(static_cast<char>(kAcceptedTraced));
  put_u32(body, static_cast<std::uint32_t>(e.attempts));
  put_i64(body, e.received_ms);
  put_str(body, e.request_id);
  put_str(body, e.function_name);
  put_str(body, e.client_context);
  put_str(body, e.payload);
  put_str(body, e.trace_id);
  return frame(body);
}

std::string encode_finished_record(const std::string& request_id) {
  std::string body(1, static_cast<char>(kFinished));
  put_str(body, request_id);
  return frame(body);
}

std::string encode_attempts_record(const std::string& request_id, int attempts) {
  std::string body(1, static_cast<char>(kAttempts));
  put_u32(body, static_cast<std::uint32_t>(attempts));
  put_str(body, request_id);
  return frame(body);
}

std::size_t replay_records(std::string_view bytes,
                           std::unordered_map<std::string, JournaledEvent>& live,
                           std::vector<std::string>& order) {
  std::size_t at = 0;
  while (bytes.size() - at >= 8) {
    std::uint32_t length = read_u32_at(bytes, at);
    std::uint32_t crc = read_u32_at(bytes, at + 4);
    if (length == 0 || length > kMaxRecordBytes || bytes.size() - at - 8 < length) break;
    std::string_view body = bytes.substr(at + 8, length);
    if (crc_of(body) != crc) break;
    BodyReader r(body);
    std::uint8_t type = r.u8();
    if (type == kAccepted || type == kAcceptedTraced) {
      JournaledEvent e;
      e.attempts = static_cast<int>(r.u32());
      e.received_ms = r.i64();
      e.request_id = r.str();
      e.function_name = r.str();
      e.client_context = r.str();
      e.payload = r.str();
      if (type == kAcceptedTraced) e.trace_id = r.str();
      if (!r.ok() || !r.done()) break;
      if (!live.count(e.request_id)) order.push_back(e.request_id);
      std::string id = e.request_id;
      live[id] = std::move(e);
    } else if (type == kFinished) {
      std::string id = r.str();
      if (!r.ok() || !r.done()) break;
      live.erase(id);
    } else if (type == kAttempts) {
      auto attempts = static_cast<int>(r.u32());
      std::string id = r.str();
      if (!r.ok() || !r.done()) break;
      if (auto it = live.find(id); it != live.end()) it->second.attempts = attempts;
    } else {
      break;
    }
    at += 8 + length;
  }
  return at;
}

EventJournal::EventJournal(boost::asio::io_context& io, fs::path dir, bool enabled)
    : io_(io), file_(dir / "events.journal"), enabled_(enabled) {
  if (!enabled_) return;
  fs::create_directories(dir);
}

EventJournal::~EventJournal() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
    spdlog::info("event journal: {} records in {} fdatasyncs, {} compactions this run", records_,
                 syncs_, compactions_);
  }
  if (fd_ >= 0) ::close(fd_);
}

void EventJournal::open_for_append() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open " + file_.string());
  struct stat st {};
  file_bytes_ = ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::vector<JournaledEvent> EventJournal::replay() {
  std::vector<JournaledEvent> pending;
  if (!enabled_) return pending;
  std::string bytes;
  if (int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) bytes.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
  }
  std::unordered_map<std::string, JournaledEvent> live;
  std::vector<std::string> order;
  std::size_t valid = replay_records(bytes, live, order);
  if (valid < bytes.size()) {
    spdlog::warn(
        "event journal {}: ignoring {} bytes after the last whole record (a write cut short "
        "by a crash)",
        file_.string(), bytes.size() - valid);
  }
  for (const auto& id : order) {
    auto it = live.find(id);
    if (it == live.end()) continue;
    std::uint64_t seq = next_seq_++;
    live_index_[id] = seq;
    live_bytes_ += encode_accepted_record(it->second).size();
    pending.push_back(it->second);
    live_.emplace(seq, std::move(it->second));
  }
  // Rewritten before anything is appended: a torn tail must not sit in front of new records.
  compact();
  writer_ = std::thread([this] { run_writer(); });
  return pending;
}

void EventJournal::append_accepted(const JournaledEvent& event, CommitCallback committed) {
  if (!enabled_) return committed(true);
  std::string record = encode_accepted_record(event);
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += record;
    queued_ops_.push_back({Op::Accepted, event});
    queued_callbacks_.push_back(std::move(committed));
  }
  wake_.notify_one();
}

void EventJournal::append_finished(const std::string& request_id) {
  if (!enabled_) return;
  std::string record = encode_finished_record(request_id);
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += record;
    Op op{Op::Finished, {}};
    op.event.request_id = request_id;
    queued_ops_.push_back(std::move(op));
  }
  wake_.notify_one();
}

void EventJournal::append_attempts(const std::string& request_id, int attempts) {
  if (!enabled_) return;
  std::string record = encode_attempts_record(request_id, attempts);
  {
    std::lock_guard lock(mutex_);
    queued_bytes_ += record;
    Op op{Op::Attempts, {}};
    op.event.request_id = request_id;
    op.event.attempts = attempts;
    queued_ops_.push_back(std::move(op));
  }
  wake_.notify_one();
}

void EventJournal::write_all(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::system_error(errno, std::generic_category(), "write " + file_.string());
    off += static_cast<std::size_t>(n);
  }
  file_bytes_ += bytes.size();
}

void EventJournal::apply(std::vector<Op>& ops) {
  for (auto& op : ops) {
    if (op.kind == Op::Accepted) {
      std::uint64_t seq = next_seq_++;
      live_bytes_ += encode_accepted_record(op.event).size();
      live_index_[op.event.request_id] = seq;
      live_.emplace(seq, std::move(op.event));
      continue;
    }
    auto it = live_index_.find(op.event.request_id);
    if (it == live_index_.end()) continue;
    auto event = live_.find(it->second);
    if (op.kind == Op::Attempts) {
      event->second.attempts = op.event.attempts;
    } else {
      std::uint64_t size = encode_accepted_record(event->second).size();
      live_bytes_ -= std::min(live_bytes_, size);
      live_.erase(event);
      live_index_.erase(it);
    }
  }
}

void EventJournal::compact() {
  fs::path temp = file_;
  temp += ".compact";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "create " + temp.string());
  std::string bytes;
  for (const auto& [_, event] : live_) bytes += encode_accepted_record(event);
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      throw std::system_error(err, std::generic_category(), "write " + temp.string());
    }
    off += static_cast<std::size_t>(n);
  }
  ::fdatasync(fd);
  ::close(fd);
  if (::rename(temp.c_str(), file_.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(), "rename to " + file_.string());
  }
  fsync_dir(file_.parent_path());
  open_for_append();
  live_bytes_ = bytes.size();
  std::lock_guard lock(mutex_);
  ++compactions_;
}

void EventJournal::run_writer() {
  std::string bytes;
  std::vector<Op> ops;
  std::vector<CommitCallback> callbacks;
  bool rewrite_first = false;  // a failed round may have left a torn record at the end
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queued_bytes_.empty(); });
      if (queued_bytes_.empty() && stopping_) return;
      bytes.swap(queued_bytes_);
      ops.swap(queued_ops_);
      callbacks.swap(queued_callbacks_);
    }
    bool durable = true;
    try {
      if (rewrite_first) {
        compact();  // records after a torn one would never be replayed
        rewrite_first = false;
      }
      write_all(bytes);
      // One flush covers every record of this round: this is the group commit.
      if (::fdatasync(fd_) != 0) {
        throw std::system_error(errno, std::generic_category(), "fdatasync");
      }
    } catch (const std::exception& e) {
      // Not on disk: these accepts are refused (500), never answered 202.
      durable = false;
      rewrite_first = true;
      spdlog::error("event journal: {}: {} accepted events are refused", e.what(), callbacks.size());
      std::erase_if(ops, [](const Op& op) { return op.kind == Op::Accepted; });
    }
    std::size_t written = ops.size();
    apply(ops);
    if (!callbacks.empty()) {
      boost::asio::post(io_, [cbs = std::move(callbacks), durable]() mutable {
        for (auto& cb : cbs) cb(durable);
      });
    }
    {
      std::lock_guard lock(mutex_);
      records_ += written;
      ++syncs_;
    }
    bytes.clear();
    ops.clear();
    callbacks = {};
    if (file_bytes_ >= kCompactMinBytes && live_bytes_ * 2 < file_bytes_) {
      try {
        compact();
      } catch (const std::exception& e) {
        spdlog::error("event journal: compaction failed: {}", e.what());
      }
    }
  }
}

std::uint64_t EventJournal::records_written() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::uint64_t EventJournal::syncs() const {
  std::lock_guard lock(mutex_);
  return syncs_;
}

std::uint64_t EventJournal::compactions() const {
  std::lock_guard lock(mutex_);
  return compactions_;
}

}  // namespace stratus::emulator
