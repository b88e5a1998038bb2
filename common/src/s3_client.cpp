#include "stratus/common/s3_client.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include "stratus/common/aws_environment.hpp"
#include "stratus/common/base64.hpp"
#include "stratus/common/s3_wire.hpp"

namespace stratus::aws {

namespace asio = boost::asio;

S3Error::S3Error(const std::string& what, int status, std::string code, std::string request_id,
                 std::string server_message, std::error_code transport_error)
    : std::runtime_error(what),
      status_(status),
      code_(std::move(code)),
      request_id_(std::move(request_id)),
      server_message_(std::move(server_message)),
      transport_error_(transport_error) {}

S3ClientOptions S3ClientOptions::from_environment(std::string_view profile) {
  S3ClientOptions options;
  options.region = resolve_region(profile);
  options.credentials = resolve_credentials(profile);
  options.endpoint = resolve_endpoint("s3", options.region);
  if (const char* bundle = std::getenv("AWS_CA_BUNDLE"); bundle && *bundle)
    options.ca_file = bundle;
  return options;
}

namespace {

// Room for an error document where object bytes were expected (the response limit of a ranged GET
// is the range's length).
constexpr std::uint64_t kErrorDocumentLimit = 64 * 1024;
// ListObjectsV2 pages of 1000 keys of up to 1 KiB each, and the other XML documents, fit.
constexpr std::uint64_t kXmlResponseLimit = 8 << 20;
constexpr std::uint64_t kMinDownloadPart = 64 * 1024;
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// One S3 request before addressing and signing.
struct S3Call {
  S3Call(std::string operation_name, std::string http_method, std::string bucket_name,
         std::string object_key)
      : operation(std::move(operation_name)),
        method(std::move(http_method)),
        bucket(std::move(bucket_name)),
        key(std::move(object_key)) {}

  std::string operation;  // "GetObject": for messages
  std::string method;
  std::string bucket;
  std::string key;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string payload_hash;  // empty: SHA-256 of the body, computed when sent
  std::uint64_t max_response_bytes = kXmlResponseLimit;
  std::optional<bool> idempotent;
};

std::string where(const std::string& bucket, const std::string& key) {
  return "s3://" + bucket + (key.empty() ? "" : "/" + key);
}

// Completions of calls running on the I/O thread, for the thread that waits for them.
template <typename T>
class CompletionQueue {
 public:
  void push(T value) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(value));
    }
    ready_.notify_one();
  }
  T pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !items_.empty(); });
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
};

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void add_put_headers(S3Call& call, const S3PutOptions& options) {
  if (!options.content_type.empty())
    call.headers.emplace_back("Content-Type", options.content_type);
  for (const auto& [name, value] : options.metadata) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
      throw std::invalid_argument("S3 metadata name '" + name + "' is not an HTTP token");
    }
    for (char c : value) {
      if (c < 0x20 || c > 0x7e) {
        throw std::invalid_argument("S3 metadata '" + name +
                                    "' must be printable US-ASCII (S3 keeps nothing else)");
      }
    }
    call.headers.emplace_back("x-amz-meta-" + name, value);
  }
}

// S3 computes the ETag of SSE-KMS and SSE-C objects otherwise than as the MD5 of the data.
bool etag_is_md5(const HttpHeaders& headers) {
  std::string sse = headers.get("x-amz-server-side-encryption");
  if (sse.rfind("aws:kms", 0) == 0) return false;
  return headers.find("x-amz-server-side-encryption-customer-algorithm") == nullptr;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

void validate_key(const std::string& key) {
  if (key.empty()) throw std::invalid_argument("S3 object key must not be empty");
  if (key.size() > 1024) throw std::invalid_argument("S3 object key longer than 1024 bytes");
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Where a download goes: told the object's size once, then given its bytes by offset, in any order,
// from the calling thread.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;
  virtual void start(std::uint64_t total) = 0;
  virtual void write(std::uint64_t offset, std::string_view bytes) = 0;
};

class StringSink : public DownloadSink {
 public:
  void start(std::uint64_t total) override {
    if (total > data.max_size()) throw std::length_error("object too large for memory");
    data.resize(static_cast<std::size_t>(total));
  }
  void write(std::uint64_t offset, std::string_view bytes) override {
    std::memcpy(data.data() + offset, bytes.data(), bytes.size());
  }
  std::string data;
};

// A temporary file next to the destination, renamed over it by commit() and removed otherwise.
class TempFileSink : public DownloadSink {
 public:
  explicit TempFileSink(std::filesystem::path destination) : destination_(std::move(destination)) {
    // Hidden (so `*` globs skip it), in the same directory (so rename is atomic), and short enough
    // for NAME_MAX whatever the destination's name.
    std::random_device random;
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".stratus-%08x%08x.tmp", random(), random());
    std::string name = "." + destination_.filename().string().substr(0, 120);
    name += suffix;
    temp_ = destination_.parent_path() / name;
    // 0666 and the umask, like any new file (mkstemp would make it 0600).
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) throw_errno("creating " + temp_.string());
  }
  ~TempFileSink() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }
  void start(std::uint64_t) override {}
  void write(std::uint64_t offset, std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("writing " + temp_.string());
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
  }
  void commit() {
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw_errno("writing " + temp_.string());
    if (::rename(temp_.c_str(), destination_.c_str()) != 0) {
      throw_errno("renaming " + temp_.string() + " to " + destination_.string());
    }
    committed_ = true;
  }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

class FileReader {
 public:
  explicit FileReader(const std::filesystem::path& file) : path_(file.string()) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw_errno("opening " + path_);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      int saved = errno;
      ::close(fd_);
      errno = saved;
      throw_errno("stat " + path_);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~FileReader() { ::close(fd_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::uint64_t size() const { return size_; }
  // Thread-safe (pread).
  void read(std::uint64_t offset, char* data, std::size_t length) const {
    while (length > 0) {
      ssize_t n = ::pread(fd_, data, length, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("reading " + path_);
      }
      if (n == 0) {
        throw std::system_error(std::make_error_code(std::errc::io_error),
                                path_ + " shrank while being uploaded");
      }
      data += n;
      length -= static_cast<std::size_t>(n);
      offset += static_cast<std::uint64_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

}  // namespace

struct S3Client::Impl {
  explicit Impl(S3ClientOptions o) : options(std::move(o)), work(asio::make_work_guard(io)) {
    if (options.region.empty()) options.region = "us-east-1";
    if (options.max_parallel_parts < 1) options.max_parallel_parts = 1;
    ClientOptions client;
    client.retry = options.retry;
    client.ca_file = options.ca_file;
    client.verify_tls = options.verify_tls;
    client.max_connections_per_host =
        std::max<std::size_t>(64, static_cast<std::size_t>(options.max_parallel_parts) * 2);
    http = std::make_unique<HttpClient>(io, client);
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    // The HttpClient belongs to the I/O thread: it goes there, then the thread runs out of work.
    asio::post(io, [this] {
      http.reset();
      work.reset();
    });
    thread.join();
  }

  S3ClientOptions options;
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::unique_ptr<HttpClient> http;
  std::thread thread;

  bool tls() const { return options.endpoint.tls(); }

  // Over HTTPS the payload is not signed: TLS protects it in transit and Content-MD5 end to end
  // (botocore's choice too). Over plain HTTP its SHA-256 is signed.
  std::string payload_hash_for(std::string_view body) const {
    return tls() ? std::string("UNSIGNED-PAYLOAD") : sha256_hex(body);
  }

  // Starts a call on the I/O thread; `done` runs there.
  void submit(S3Call call, HttpCallback done) {
    s3::RequestLocation location = s3::locate(options.endpoint, options.addressing, call.bucket,
                                              call.key, s3::encode_query(call.query));
    HttpRequest request;
    request.method = call.method;
    request.target = std::move(location.target);
    for (auto& [name, value] : call.headers) request.headers.add(name, value);
    request.body = std::move(call.body);
    std::string hash = !call.payload_hash.empty() ? std::move(call.payload_hash)
                       : request.body.empty()     ? std::string(kEmptySha256)
                                                  : sha256_hex(request.body);
    CallOptions call_options;
    call_options.deadline = options.call_deadline;
    call_options.max_response_bytes = call.max_response_bytes;
    call_options.idempotent = call.idempotent;
    call_options.prepare = [credentials = options.credentials,
                            scope = SigningScope{options.region, "s3"},
                            hash = std::move(hash)](HttpRequest& r) {
      sign_with_payload_hash(r, credentials, scope, std::chrono::system_clock::now(), hash);
    };
    asio::post(io, [this, endpoint = std::move(location.endpoint), request = std::move(request),
                    call_options = std::move(call_options), done = std::move(done)]() mutable {
      http->send(endpoint, std::move(request), std::move(call_options), std::move(done));
    });
  }

  HttpResult call(S3Call call) {
    auto promise = std::make_shared<std::promise<HttpResult>>();
    auto future = promise->get_future();
    submit(std::move(call),
           [promise](HttpResult result) { promise->set_value(std::move(result)); });
    return future.get();
  }

  [[noreturn]] static void fail(const HttpResult& result, const std::string& operation,
                                const std::string& bucket, const std::string& key) {
    std::string prefix = operation + " " + where(bucket, key) + ": ";
    if (result.error) {
      throw S3Error(prefix + result.describe(), 0, "", "", result.describe(), result.error);
    }
    std::string request_id = result.headers.get("x-amz-request-id");
    std::string code;
    std::string message;
    if (auto doc = s3::parse_error(result.body)) {
      code = doc->code;
      message = doc->message;
      if (!doc->request_id.empty()) request_id = doc->request_id;
      if (!doc->endpoint.empty()) message += " (endpoint " + doc->endpoint + ")";
    } else {
      code = result.status == 404 ? "NotFound" : "Http" + std::to_string(result.status);
    }
    std::string what = prefix + code + " (HTTP " + std::to_string(result.status) + ")";
    if (!message.empty()) what += ": " + message;
    if (auto region = result.headers.find("x-amz-bucket-region")) {
      what += " [the bucket is in " + *region + "]";
    }
    if (!request_id.empty()) what += " [request id " + request_id + "]";
    throw S3Error(what, result.status, code, request_id, message);
  }

  static void expect_ok(const HttpResult& result, const std::string& operation,
                        const std::string& bucket, const std::string& key) {
    if (!result.ok()) fail(result, operation, bucket, key);
  }

  static void verify_etag(const HttpResult& result, const std::string& etag,
                          const std::string& expected, const std::string& operation,
                          const std::string& bucket, const std::string& key) {
    if (!etag_is_md5(result.headers)) return;
    if (s3::unquote_etag(etag) != expected) {
      throw S3Error(operation + " " + where(bucket, key) + ": the server's ETag " + etag +
                        " is not the MD5 of what was sent (\"" + expected + "\")",
                    result.status, "ETagMismatch", result.headers.get("x-amz-request-id"));
    }
  }

  // ---- downloads ----

  std::uint64_t download_part_size() const {
    return std::max<std::uint64_t>(options.part_size, kMinDownloadPart);
  }

  S3Call get_call(const std::string& bucket, const std::string& key, std::uint64_t offset,
                  std::uint64_t length) {
    S3Call call{"GetObject", "GET", bucket, key};
    call.headers.emplace_back("Range", s3::range_header(offset, length));
    call.max_response_bytes = std::max(length, kErrorDocumentLimit);
    return call;
  }

  // A 206 answer to get_call(offset, length) for an object of `total` bytes (unknown: nullopt).
  static s3::ContentRange check_part(const HttpResult& result, std::uint64_t offset,
                                     std::uint64_t length, std::optional<std::uint64_t> total,
                                     const std::string& bucket, const std::string& key) {
    auto bad = [&](const std::string& why) {
      throw S3Error("GetObject " + where(bucket, key) + ": " + why, result.status,
                    "MalformedResponse", result.headers.get("x-amz-request-id"));
    };
    auto range = s3::parse_content_range(result.headers.get("Content-Range"));
    if (!range)
      bad("206 without a valid Content-Range: '" + result.headers.get("Content-Range") + "'");
    std::uint64_t expected_last = std::min(offset + length, total.value_or(range->total)) - 1;
    if (range->first != offset || range->last != expected_last) {
      bad("asked for bytes " + std::to_string(offset) + "-" + std::to_string(expected_last) +
          ", got " + result.headers.get("Content-Range"));
    }
    if (total && range->total != *total) bad("the object's size changed during the download");
    if (result.body.size() != range->last - range->first + 1) {
      throw S3Error("GetObject " + where(bucket, key) + ": got " +
                        std::to_string(result.body.size()) + " bytes of " +
                        std::to_string(range->last - range->first + 1),
                    result.status, "IncompleteBody");
    }
    return *range;
  }

  // The first range tells the size and ETag; the rest is fetched in parallel, pinned to that ETag.
  void download(const std::string& bucket, const std::string& key, DownloadSink& sink) {
    validate_key(key);
    const std::uint64_t part = download_part_size();
    HttpResult first = call(get_call(bucket, key, 0, part));
    if (first.error == HttpClientErrc::response_too_large) {
      // The server ignored Range and sent everything: ask for the size, then take it whole.
      S3Head info = head(bucket, key);
      S3Call whole{"GetObject", "GET", bucket, key};
      whole.max_response_bytes = std::max(info.size, kErrorDocumentLimit);
      HttpResult result = call(std::move(whole));
      expect_ok(result, "GetObject", bucket, key);
      sink.start(result.body.size());
      sink.write(0, result.body);
      return;
    }
    if (first.status == 416) {
      // No byte 0: the object is empty (S3 answers a range on an empty object with InvalidRange).
      sink.start(0);
      return;
    }
    expect_ok(first, "GetObject", bucket, key);
    if (first.status == 200) {  // Range ignored, and the whole object fit
      sink.start(first.body.size());
      sink.write(0, first.body);
      return;
    }
    s3::ContentRange range = check_part(first, 0, part, std::nullopt, bucket, key);
    const std::uint64_t total = range.total;
    sink.start(total);
    sink.write(0, first.body);
    std::string etag = first.headers.get("ETag");
    first = {};

    struct Piece {
      std::uint64_t offset;
      HttpResult result;
    };
    auto done = std::make_shared<CompletionQueue<Piece>>();
    std::uint64_t next = range.last + 1;
    int in_flight = 0;
    std::exception_ptr failure;
    while (true) {
      while (!failure && next < total && in_flight < options.max_parallel_parts) {
        std::uint64_t length = std::min(part, total - next);
        S3Call piece = get_call(bucket, key, next, length);
        if (!etag.empty()) piece.headers.emplace_back("If-Match", etag);
        submit(std::move(piece), [done, next](HttpResult result) {
          done->push(Piece{next, std::move(result)});
        });
        next += length;
        ++in_flight;
      }
      if (in_flight == 0) break;
      Piece piece = done->pop();
      --in_flight;
      if (failure) continue;  // draining
      try {
        expect_ok(piece.result, "GetObject", bucket, key);
        if (piece.result.status != 206) {
          throw S3Error("GetObject " + where(bucket, key) + ": a range request got HTTP " +
                            std::to_string(piece.result.status) + " instead of 206",
                        piece.result.status, "MalformedResponse");
        }
        check_part(piece.result, piece.offset, part, total, bucket, key);
        sink.write(piece.offset, piece.result.body);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  }

  // ---- HEAD ----

  S3Head head(const std::string& bucket, const std::string& key) {
    validate_key(key);
    HttpResult result = call(S3Call{"HeadObject", "HEAD", bucket, key});
    expect_ok(result, "HeadObject", bucket, key);
    S3Head out;
    auto size = parse_u64(result.headers.get("Content-Length"));
    if (!size) {
      throw S3Error("HeadObject " + where(bucket, key) + ": no valid Content-Length", result.status,
                    "MalformedResponse");
    }
    out.size = *size;
    out.etag = result.headers.get("ETag");
    out.content_type = result.headers.get("Content-Type");
    out.last_modified = result.headers.get("Last-Modified");
    constexpr std::string_view prefix = "x-amz-meta-";
    for (const auto& field : result.headers.fields()) {
      if (field.name.size() > prefix.size() &&
          iequals(std::string_view(field.name).substr(0, prefix.size()), prefix)) {
        std::string name = field.name.substr(prefix.size());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.metadata[name] = field.value;
      }
    }
    return out;
  }

  // ---- uploads ----

  std::string single_put(const std::string& bucket, const std::string& key, std::string body,
                         const S3PutOptions& put) {
    S3Call call{"PutObject", "PUT", bucket, key};
    add_put_headers(call, put);
    std::string digest = s3::md5(body);
    call.headers.emplace_back("Content-MD5", base64_encode(digest));
    call.payload_hash = payload_hash_for(body);
    call.body = std::move(body);
    call.max_response_bytes = kErrorDocumentLimit;
    HttpResult result = this->call(std::move(call));
    expect_ok(result, "PutObject", bucket, key);
    std::string etag = result.headers.get("ETag");
    if (etag.empty()) {
      throw S3Error("PutObject " + where(bucket, key) + ": no ETag in the response", result.status,
                    "MalformedResponse");
    }
    verify_etag(result, etag, to_hex(digest), "PutObject", bucket, key);
    return etag;
  }

  std::string put_parts(const std::string& bucket, const std::string& key, std::uint64_t size,
                        const PartReader& read, const S3PutOptions& put) {
    validate_key(key);
    bool multipart =
        size > s3::kMaxSinglePutSize || (size > 0 && size >= options.multipart_threshold);
    if (!multipart) {
      std::string body(static_cast<std::size_t>(size), '\0');
      if (size > 0) read(0, body.data(), body.size());
      return single_put(bucket, key, std::move(body), put);
    }
    s3::PartPlan plan = s3::plan_parts(size, options.part_size);
    std::string upload_id = initiate(bucket, key, put);
    try {
      std::vector<std::string> digests = upload_parts(bucket, key, upload_id, plan, read);
      return complete(bucket, key, upload_id, digests);
    } catch (...) {
      // Parts of an upload that is neither completed nor aborted are stored (and billed) forever.
      try {
        abort_upload(bucket, key, upload_id);
      } catch (...) {
      }
      throw;
    }
  }

  std::string initiate(const std::string& bucket, const std::string& key, const S3PutOptions& put) {
    S3Call call{"CreateMultipartUpload", "POST", bucket, key};
    call.query.emplace_back("uploads", "");
    add_put_headers(call, put);
    // A retry after a lost response merely leaves an empty upload behind.
    call.idempotent = true;
    HttpResult result = this->call(std::move(call));
    expect_ok(result, "CreateMultipartUpload", bucket, key);
    return s3::parse_initiate_multipart_upload(result.body);
  }

  // Uploads every part, at most max_parallel_parts in memory at once; returns their raw MD5s.
  // Reading and hashing a part runs on a worker thread of its own, so it overlaps with the
  // network and with other parts' hashing.
  std::vector<std::string> upload_parts(const std::string& bucket, const std::string& key,
                                        const std::string& upload_id, const s3::PartPlan& plan,
                                        const PartReader& read) {
    struct Event {
      std::uint32_t index = 0;
      bool prepared = false;  // else: uploaded
      std::string body;
      std::string digest;
      std::string payload_hash;
      std::exception_ptr error;
      HttpResult result;
    };
    auto events = std::make_shared<CompletionQueue<Event>>();
    std::vector<std::string> digests(plan.count);
    std::vector<std::future<void>> workers;
    std::uint32_t next = 0;
    int active = 0;  // parts being read, hashed or sent
    std::exception_ptr failure;
    const bool sign_payload = !tls();

    while (true) {
      while (!failure && next < plan.count && active < options.max_parallel_parts) {
        std::uint32_t index = next++;
        ++active;
        workers.push_back(
            std::async(std::launch::async, [&read, &plan, events, index, sign_payload] {
              Event event;
              event.index = index;
              event.prepared = true;
              try {
                event.body.resize(static_cast<std::size_t>(plan.size(index)));
                read(plan.offset(index), event.body.data(), event.body.size());
                event.digest = s3::md5(event.body);
                event.payload_hash =
                    sign_payload ? sha256_hex(event.body) : std::string("UNSIGNED-PAYLOAD");
              } catch (...) {
                event.error = std::current_exception();
                event.body.clear();
              }
              events->push(std::move(event));
            }));
      }
      if (active == 0) break;
      Event event = events->pop();
      if (event.prepared) {
        if (failure || event.error) {
          if (!failure) failure = event.error;
          --active;
          continue;
        }
        digests[event.index] = event.digest;
        S3Call call{"UploadPart", "PUT", bucket, key};
        call.query = {{"partNumber", std::to_string(event.index + 1)}, {"uploadId", upload_id}};
        call.headers.emplace_back("Content-MD5", base64_encode(event.digest));
        call.payload_hash = std::move(event.payload_hash);
        call.body = std::move(event.body);
        call.max_response_bytes = kErrorDocumentLimit;
        submit(std::move(call), [events, index = event.index](HttpResult result) {
          Event uploaded;
          uploaded.index = index;
          uploaded.result = std::move(result);
          events->push(std::move(uploaded));
        });
        continue;
      }
      --active;
      if (failure) continue;
      try {
        const HttpResult& result = event.result;
        std::string operation = "UploadPart " + std::to_string(event.index + 1);
        expect_ok(result, operation, bucket, key);
        std::string etag = result.headers.get("ETag");
        if (etag.empty()) {
          throw S3Error(operation + " " + where(bucket, key) + ": no ETag in the response",
                        result.status, "MalformedResponse");
        }
        verify_etag(result, etag, to_hex(digests[event.index]), operation, bucket, key);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    for (auto& worker : workers) worker.get();
    if (failure) std::rethrow_exception(failure);
    return digests;
  }

  std::string complete(const std::string& bucket, const std::string& key,
                       const std::string& upload_id, const std::vector<std::string>& digests) {
    std::vector<std::string> etags;
    etags.reserve(digests.size());
    for (const auto& digest : digests) {
      std::string etag(1, '"');
      etag += to_hex(digest);
      etag += '"';
      etags.push_back(std::move(etag));
    }
    const std::string expected = s3::multipart_etag(digests);
    const std::string body = s3::complete_multipart_upload_body(etags);
    for (int attempt = 1;; ++attempt) {
      S3Call call{"CompleteMultipartUpload", "POST", bucket, key};
      call.query.emplace_back("uploadId", upload_id);
      call.headers.emplace_back("Content-Type", "application/xml");
      call.body = body;
      // Completing twice is harmless: the second answer is NoSuchUpload, handled below.
      call.idempotent = true;
      HttpResult result = this->call(std::move(call));
      if (result.status == 404 && result.attempts + attempt > 2) {
        // An earlier attempt may have completed the upload and lost its answer.
        auto info = head_or_nothing(bucket, key);
        if (info && s3::unquote_etag(info->etag) == expected) return info->etag;
      }
      expect_ok(result, "CompleteMultipartUpload", bucket, key);
      // S3 answers 200 before assembling the object; a failure after that is an <Error> document
      // in the 200 response.
      if (auto error = s3::parse_error(result.body)) {
        bool transient = error->code == "InternalError" || error->code == "SlowDown" ||
                         error->code == "ServiceUnavailable";
        if (transient && attempt < options.retry.max_attempts) continue;
        throw S3Error("CompleteMultipartUpload " + where(bucket, key) + ": " + error->code +
                          " (in a 200 response): " + error->message,
                      result.status, error->code, error->request_id, error->message);
      }
      std::string etag = s3::parse_complete_multipart_upload(result.body);
      verify_etag(result, etag, expected, "CompleteMultipartUpload", bucket, key);
      return etag;
    }
  }

  void abort_upload(const std::string& bucket, const std::string& key,
                    const std::string& upload_id) {
    S3Call call{"AbortMultipartUpload", "DELETE", bucket, key};
    call.query.emplace_back("uploadId", upload_id);
    HttpResult result = this->call(std::move(call));
    if (result.status == 404) return;  // already gone
    expect_ok(result, "AbortMultipartUpload", bucket, key);
  }

  std::optional<S3Head> head_or_nothing(const std::string& bucket, const std::string& key) {
    try {
      return head(bucket, key);
    } catch (const S3Error& e) {
      if (e.not_found()) return std::nullopt;
      throw;
    }
  }
};

S3Client::S3Client(S3ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

S3Client::~S3Client() = default;

const S3ClientOptions& S3Client::options() const {
  return impl_->options;
}

std::string S3Client::get(const std::string& bucket, const std::string& key) {
  StringSink sink;
  impl_->download(bucket, key, sink);
  return std::move(sink.data);
}

std::string S3Client::get_range(const std::string& bucket, const std::string& key,
                                std::uint64_t offset, std::uint64_t length) {
  validate_key(key);
  if (length == 0) return {};
  HttpResult result = impl_->call(impl_->get_call(bucket, key, offset, length));
  Impl::expect_ok(result, "GetObject", bucket, key);
  if (result.status == 200) {  // the server ignored Range
    if (offset >= result.body.size()) {
      throw S3Error("GetObject " + where(bucket, key) + ": offset " + std::to_string(offset) +
                        " is past the end",
                    416, "InvalidRange");
    }
    return result.body.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
  }
  Impl::check_part(result, offset, length, std::nullopt, bucket, key);
  return std::move(result.body);
}

void S3Client::get_to_file(const std::string& bucket, const std::string& key,
                           const std::filesystem::path& file) {
  TempFileSink sink(file);
  impl_->download(bucket, key, sink);
  sink.commit();
}

S3Head S3Client::head(const std::string& bucket, const std::string& key) {
  return impl_->head(bucket, key);
}

std::optional<S3Head> S3Client::head_if_exists(const std::string& bucket, const std::string& key) {
  return impl_->head_or_nothing(bucket, key);
}

std::string S3Client::put(const std::string& bucket, const std::string& key, std::string_view body,
                          const S3PutOptions& options) {
  return impl_->put_parts(
      bucket, key, body.size(),
      [body](std::uint64_t offset, char* data, std::size_t length) {
        std::memcpy(data, body.data() + offset, length);
      },
      options);
}

std::string S3Client::put_file(const std::string& bucket, const std::string& key,
                               const std::filesystem::path& file, const S3PutOptions& options) {
  FileReader reader(file);
  return impl_->put_parts(
      bucket, key, reader.size(),
      [&reader](std::uint64_t offset, char* data, std::size_t length) {
        reader.read(offset, data, length);
      },
      options);
}

std::string S3Client::put_parts(const std::string& bucket, const std::string& key,
                                std::uint64_t size, const PartReader& read,
                                const S3PutOptions& options) {
  return impl_->put_parts(bucket, key, size, read, options);
}

S3ListPage S3Client::list_page(const std::string& bucket, const std::string& prefix,
                               const std::string& delimiter, const std::string& continuation_token,
                               int max_keys) {
  S3Call call{"ListObjectsV2", "GET", bucket, ""};
  call.query.emplace_back("list-type", "2");
  if (!continuation_token.empty())
    call.query.emplace_back("continuation-token", continuation_token);
  if (!delimiter.empty()) call.query.emplace_back("delimiter", delimiter);
  // Keys may hold characters XML 1.0 cannot carry; encoded, any key survives (boto3 does the same).
  call.query.emplace_back("encoding-type", "url");
  call.query.emplace_back("max-keys", std::to_string(std::clamp(max_keys, 1, 1000)));
  if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
  HttpResult result = impl_->call(std::move(call));
  Impl::expect_ok(result, "ListObjectsV2", bucket, "");
  return s3::parse_list_objects_v2(result.body);
}

std::vector<S3ObjectInfo> S3Client::list(const std::string& bucket, const std::string& prefix) {
  std::vector<S3ObjectInfo> all;
  std::string token;
  while (true) {
    S3ListPage page = list_page(bucket, prefix, "", token);
    for (auto& object : page.objects) all.push_back(std::move(object));
    if (!page.truncated) return all;
    if (page.next_continuation_token.empty() || page.next_continuation_token == token) {
      throw S3Error("ListObjectsV2 " + where(bucket, prefix) +
                        ": truncated page without a new continuation token",
                    200, "MalformedResponse");
    }
    token = std::move(page.next_continuation_token);
  }
}

void S3Client::remove(const std::string& bucket, const std::string& key) {
  validate_key(key);
  HttpResult result = impl_->call(S3Call{"DeleteObject", "DELETE", bucket, key});
  Impl::expect_ok(result, "DeleteObject", bucket, key);
}

void S3Client::create_bucket(const std::string& bucket) {
  S3Call call{"CreateBucket", "PUT", bucket, ""};
  call.body = s3::create_bucket_body(impl_->options.region);
  if (!call.body.empty()) call.headers.emplace_back("Content-Type", "application/xml");
  HttpResult result = impl_->call(std::move(call));
  if (result.status == 409) {
    auto error = s3::parse_error(result.body);
    if (error && error->code == "BucketAlreadyOwnedByYou") return;
  }
  Impl::expect_ok(result, "CreateBucket", bucket, "");
}

bool S3Client::bucket_exists(const std::string& bucket) {
  HttpResult result = impl_->call(S3Call{"HeadBucket", "HEAD", bucket, ""});
  if (result.status == 404) return false;
  Impl::expect_ok(result, "HeadBucket", bucket, "");
  return true;
}

std::vector<S3MultipartUploadInfo> S3Client::list_multipart_uploads(const std::string& bucket,
                                                                    const std::string& prefix) {
  S3Call call{"ListMultipartUploads", "GET", bucket, ""};
  call.query.emplace_back("uploads", "");
  call.query.emplace_back("encoding-type", "url");
  if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
  HttpResult result = impl_->call(std::move(call));
  Impl::expect_ok(result, "ListMultipartUploads", bucket, "");
  return s3::parse_list_multipart_uploads(result.body);
}

void S3Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  validate_key(key);
  impl_->abort_upload(bucket, key, upload_id);
}

}  // namespace stratus::aws
