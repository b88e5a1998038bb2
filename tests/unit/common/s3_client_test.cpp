// S3Client against a scripted S3 stand-in (a real stratus::HttpServer on 127.0.0.1 running on its
// own thread): what goes on the wire (signatures, checksums, parts, ranges) and how the client
// reacts to the answers S3 can give (errors, 200 with an error inside, throttling, a server that
// ignores Range, an object replaced mid-download).

#include "stratus/common/s3_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stratus/common/base64.hpp"
#include "stratus/common/http_server.hpp"
#include "stratus/common/s3_wire.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::aws {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::uint64_t MiB = 1 << 20;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<std::size_t>(8, n - i));
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const std::filesystem::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

HttpResponse respond(int status, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  for (auto& [name, value] : headers) r.headers.add(name, value);
  return r;
}

HttpResponse error_response(int status, const std::string& code, const std::string& message = "m") {
  return respond(status,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
                     "</Code><Message>" + message +
                     "</Message><RequestId>REQ123</RequestId></Error>",
                 {{"Content-Type", "application/xml"}, {"x-amz-request-id", "REQ123"}});
}

std::string query_param(const HttpRequest& request, std::string_view name) {
  auto params = parse_query(split_target(request.target).query);
  if (!params) return "<bad query>";
  for (auto& [k, v] : *params) {
    if (k == name) return v;
  }
  return "<absent>";
}

bool has_query_param(const HttpRequest& request, std::string_view name) {
  return query_param(request, name) != "<absent>";
}

// Serves GET/HEAD of one object the way S3 does: Range (206 / 416), If-Match (412).
HttpResponse serve_object(const HttpRequest& request, const std::string& data,
                          const std::string& etag, bool honour_range = true) {
  if (const std::string* match = request.headers.find("If-Match"); match && *match != etag) {
    return error_response(412, "PreconditionFailed");
  }
  if (request.method == "HEAD") {
    HttpResponse r = respond(200, "", {{"ETag", etag}, {"Content-Type", "binary/octet-stream"}});
    r.head_content_length = data.size();
    return r;
  }
  const std::string* range = request.headers.find("Range");
  if (!range || !honour_range) return respond(200, data, {{"ETag", etag}});
  std::uint64_t first = 0, last = 0;
  std::string_view spec = *range;
  spec.remove_prefix(6);  // "bytes="
  auto dash = spec.find('-');
  std::from_chars(spec.data(), spec.data() + dash, first);
  std::from_chars(spec.data() + dash + 1, spec.data() + spec.size(), last);
  if (first >= data.size()) return error_response(416, "InvalidRange");
  last = std::min<std::uint64_t>(last, data.size() - 1);
  return respond(206, data.substr(first, last - first + 1),
                 {{"ETag", etag},
                  {"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                        "/" + std::to_string(data.size())}});
}

// Records every request and answers with `on_request` (called on the server's thread, unlocked),
// after `delay` when that is set (without blocking the server), counting the requests it holds.
class ScriptedS3 : public HttpHandler {
 public:
  explicit ScriptedS3(asio::io_context& io) : io_(io) {}

  std::function<HttpResponse(const HttpRequest&)> on_request;
  std::chrono::milliseconds delay{0};
  std::atomic<int> most_in_flight{0};

  HttpRequestPlan plan(const HttpRequestHead&) override { return {64 * MiB, nullptr}; }
  HttpResponse reject_oversized(const HttpRequestHead&, const HttpRequestPlan&) override { return respond(413); }
  void handle(HttpRequest request, HttpResponder responder) override {
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
    }
    HttpResponse response = on_request ? on_request(request) : respond(200);
    if (delay.count() == 0) return responder(std::move(response));
    most_in_flight = std::max(most_in_flight.load(), ++in_flight_);
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([this, timer, responder = std::move(responder),
                       response = std::move(response)](boost::system::error_code) mutable {
      --in_flight_;
      responder(std::move(response));
    });
  }
  std::vector<HttpRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<HttpRequest> requests_with(std::string_view method) {
    std::vector<HttpRequest> out;
    for (auto& r : requests()) {
      if (r.method == method) out.push_back(r);
    }
    return out;
  }

 private:
  asio::io_context& io_;
  int in_flight_ = 0;  // server thread only
  std::mutex mutex_;
  std::vector<HttpRequest> requests_;
};

class S3ClientTest : public testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.address = "127.0.0.1";
    server_ = std::make_unique<HttpServer>(io_, handler, options);
    thread_ = std::thread([this] { io_.run(); });
    dir = std::filesystem::temp_directory_path() /
          ("stratus-s3-client-test-" + std::to_string(::getpid()) + "-" +
           testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }

  void TearDown() override {
    client_.reset();
    io_.stop();
    thread_.join();
    server_.reset();
    std::filesystem::remove_all(dir);
  }

  S3ClientOptions options() {
    S3ClientOptions o;
    o.endpoint = Endpoint::parse("http://127.0.0.1:" + std::to_string(server_->port()));
    o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    o.region = "eu-west-1";
    o.retry.base_delay = 1ms;
    o.retry.max_delay = 5ms;
    o.call_deadline = 10s;
    return o;
  }

  S3Client& client(std::optional<S3ClientOptions> o = std::nullopt) {
    client_ = std::make_unique<S3Client>(o ? *o : options());
    return *client_;
  }

  std::vector<std::string> leftovers() {
    std::vector<std::string> names;
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  asio::io_context io_;  // the server's
  ScriptedS3 handler{io_};
  std::filesystem::path dir;

 private:
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::unique_ptr<S3Client> client_;
};

// An S3 stand-in that stores what it is given (single and multipart puts) and serves it back.
struct MiniStore {
  std::mutex mutex;
  std::map<std::string, std::string> objects;  // target path -> bytes
  std::map<int, std::string> parts;
  std::function<std::optional<HttpResponse>(const HttpRequest&)> intercept;

  HttpResponse operator()(const HttpRequest& request) {
    if (intercept) {
      if (auto r = intercept(request)) return *r;
    }
    std::string path(split_target(request.target).path);
    if (request.method == "POST" && has_query_param(request, "uploads")) {
      return respond(200,
                     "<InitiateMultipartUploadResult><UploadId>UP1</UploadId>"
                     "</InitiateMultipartUploadResult>");
    }
    if (request.method == "GET" && has_query_param(request, "list-type")) {
      return respond(200, "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
    }
    if (request.method == "PUT" && has_query_param(request, "partNumber")) {
      std::lock_guard lock(mutex);
      parts[std::stoi(query_param(request, "partNumber"))] = request.body;
      return respond(200, "", {{"ETag", quoted(s3::md5_hex(request.body))}});
    }
    if (request.method == "POST" && has_query_param(request, "uploadId")) {
      std::lock_guard lock(mutex);
      std::string whole;
      std::vector<std::string> digests;
      for (auto& [number, data] : parts) {
        whole += data;
        digests.push_back(s3::md5(data));
      }
      objects[path] = whole;
      return respond(200, "<CompleteMultipartUploadResult><ETag>&quot;" +
                              s3::multipart_etag(digests) +
                              "&quot;</ETag></CompleteMultipartUploadResult>");
    }
    if (request.method == "DELETE") return respond(204);
    if (request.method == "PUT") {
      std::lock_guard lock(mutex);
      objects[path] = request.body;
      return respond(200, "", {{"ETag", quoted(s3::md5_hex(request.body))}});
    }
    std::string data;
    {
      std::lock_guard lock(mutex);
      auto it = objects.find(path);
      if (it == objects.end()) return error_response(404, "NoSuchKey");
      data = it->second;
    }
    return serve_object(request, data, quoted(s3::md5_hex(data)));
  }
};

TEST_F(S3ClientTest, SignsRequestsSoThatSigV4VerificationAccepts) {
  std::vector<VerifyResult> verdicts;
  std::mutex mutex;
  MiniStore store;
  handler.on_request = [&](const HttpRequest& request) {
    auto verdict = verify(
        request, request.body,
        [](const std::string& id) -> std::optional<std::string> {
          if (id == "AKIDEXAMPLE") return std::string("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
          return std::nullopt;
        },
        std::chrono::system_clock::now());
    {
      std::lock_guard lock(mutex);
      verdicts.push_back(verdict);
    }
    return store(request);
  };
  S3Client& s3 = client();
  S3PutOptions put;
  put.content_type = "text/plain";
  put.metadata = {{"Origin", "unit test"}, {"run", "7"}};
  EXPECT_EQ(s3.put("bucket", "dir/a b+c.txt", "hello", put), quoted(s3::md5_hex("hello")));
  EXPECT_EQ(s3.get("bucket", "dir/a b+c.txt"), "hello");
  s3.list_page("bucket", "dir/", "/", "token/+=", 10);
  s3.remove("bucket", "dir/a b+c.txt");

  auto requests = handler.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (auto v : verdicts) EXPECT_EQ(v, VerifyResult::Ok) << to_string(v);

  const HttpRequest& put_request = requests[0];
  EXPECT_EQ(put_request.method, "PUT");
  EXPECT_EQ(put_request.target, "/bucket/dir/a%20b%2Bc.txt");
  EXPECT_EQ(put_request.body, "hello");
  EXPECT_EQ(put_request.headers.get("Content-MD5"), "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(put_request.headers.get("X-Amz-Content-Sha256"), sha256_hex("hello"));
  EXPECT_EQ(put_request.headers.get("Content-Type"), "text/plain");
  EXPECT_EQ(put_request.headers.get("x-amz-meta-Origin"), "unit test");
  EXPECT_EQ(put_request.headers.get("x-amz-meta-run"), "7");
  EXPECT_EQ(put_request.headers.get("Content-Length"), "5");
  auto auth = parse_authorization(put_request.headers.get("Authorization"));
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->region, "eu-west-1");
  EXPECT_EQ(auth->service, "s3");
  EXPECT_NE(auth->signed_headers.find("host"), std::string::npos);
  EXPECT_NE(auth->signed_headers.find("x-amz-content-sha256"), std::string::npos);
  EXPECT_NE(auth->signed_headers.find("content-md5"), std::string::npos);
  EXPECT_NE(auth->signed_headers.find("x-amz-meta-origin"), std::string::npos);

  const HttpRequest& get_request = requests[1];
  EXPECT_EQ(get_request.headers.get("Range"), "bytes=0-16777215");
  EXPECT_EQ(get_request.headers.get("X-Amz-Content-Sha256"), sha256_hex(""));

  const HttpRequest& list_request = requests[2];
  EXPECT_EQ(query_param(list_request, "list-type"), "2");
  EXPECT_EQ(query_param(list_request, "prefix"), "dir/");
  EXPECT_EQ(query_param(list_request, "delimiter"), "/");
  EXPECT_EQ(query_param(list_request, "continuation-token"), "token/+=");
  EXPECT_EQ(query_param(list_request, "max-keys"), "10");
  EXPECT_EQ(query_param(list_request, "encoding-type"), "url");
  EXPECT_EQ(split_target(list_request.target).path, "/bucket");

  EXPECT_EQ(requests[3].method, "DELETE");
}

// Signatures for requests as S3Client builds them, computed with botocore 1.43 (S3SigV4Auth,
// payload signing on) for the same method, URL, headers, body and time.
TEST(S3Signing, MatchesBotocore) {
  using namespace std::chrono;
  const auto when = sys_days{year{2026} / 11 / 21} + hours{1} + minutes{36} + seconds{22};
  const Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  const Endpoint endpoint = Endpoint::parse("http://127.0.0.1:9000");

  auto put = s3::locate(endpoint, S3AddressingStyle::Auto, "bucket", "dir/a b+c\xC3\xA9.txt");
  HttpRequest request;
  request.method = "PUT";
  request.target = put.target;
  EXPECT_EQ(request.target, "/bucket/dir/a%20b%2Bc%C3%A9.txt");
  request.headers.add("Host", put.endpoint.host_header());
  request.headers.add("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==");
  request.headers.add("Content-Type", "text/plain");
  request.headers.add("x-amz-meta-run", "7");
  request.headers.add("User-Agent", "stratus/0.1");
  request.body = "hello";
  sign_with_payload_hash(request, credentials, {"eu-west-1", "s3"}, when, sha256_hex("hello"));
  EXPECT_EQ(request.headers.get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/eu-west-1/s3/aws4_request, "
            "SignedHeaders=content-md5;content-type;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-meta-run, "
            "Signature=3b176421f5ec97228cbb1c8e91f08f0d8be8fe583a2d6ce4a17496d8237c041a");

  auto list = s3::locate(endpoint, S3AddressingStyle::Auto, "bucket", "",
                         s3::encode_query({{"list-type", "2"},
                                           {"prefix", "dir/"},
                                           {"continuation-token", "a+b/="},
                                           {"encoding-type", "url"}}));
  HttpRequest get;
  get.method = "GET";
  get.target = list.target;
  get.headers.add("Host", list.endpoint.host_header());
  sign_with_payload_hash(get, credentials, {"eu-west-1", "s3"}, when, sha256_hex(""));
  EXPECT_EQ(get.headers.get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/eu-west-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=89d9092106ef6cef1954e65de777d4462d0a1eee7c6d0ba8193bf348d873d8b9");
}

TEST_F(S3ClientTest, SessionTokensAreSentAndSigned) {
  MiniStore store;
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.credentials.session_token = "FwoGZXIvYXdzEJr//////////wEaDH";
  S3Client& s3 = client(o);
  s3.put("bucket", "k", "v");
  auto request = handler.requests().at(0);
  EXPECT_EQ(request.headers.get("X-Amz-Security-Token"), "FwoGZXIvYXdzEJr//////////wEaDH");
  EXPECT_NE(request.headers.get("Authorization").find("x-amz-security-token"), std::string::npos);
}

TEST_F(S3ClientTest, RefusesAnETagThatIsNotTheMd5OfTheBody) {
  handler.on_request = [](const HttpRequest&) {
    return respond(200, "", {{"ETag", "\"00000000000000000000000000000000\""}});
  };
  try {
    client().put("bucket", "k", "hello");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "ETagMismatch");
    EXPECT_EQ(e.status(), 200);
  }
}

TEST_F(S3ClientTest, DoesNotCheckETagsOfKmsEncryptedObjects) {
  handler.on_request = [](const HttpRequest&) {
    return respond(200, "",
                   {{"ETag", "\"a3e55e8b3cd6dd1ab4c6b4a3d4f1b2a0\""},
                    {"x-amz-server-side-encryption", "aws:kms"}});
  };
  EXPECT_EQ(client().put("bucket", "k", "hello"), "\"a3e55e8b3cd6dd1ab4c6b4a3d4f1b2a0\"");
}

TEST_F(S3ClientTest, TurnsErrorDocumentsIntoS3Errors) {
  handler.on_request = [](const HttpRequest& request) {
    if (request.target.find("nobucket") != std::string::npos) {
      return error_response(404, "NoSuchBucket", "The specified bucket does not exist");
    }
    return error_response(404, "NoSuchKey", "The specified key does not exist.");
  };
  S3Client& s3 = client();
  try {
    s3.get("bucket", "missing");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.code(), "NoSuchKey");
    EXPECT_EQ(e.request_id(), "REQ123");
    EXPECT_EQ(e.server_message(), "The specified key does not exist.");
    EXPECT_TRUE(e.not_found());
    EXPECT_NE(std::string(e.what()).find("s3://bucket/missing"), std::string::npos) << e.what();
  }
  try {
    s3.put("nobucket", "k", "v");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "NoSuchBucket");
  }
  EXPECT_THROW(s3.get_range("bucket", "missing", 0, 10), S3Error);
  EXPECT_THROW(s3.list("nobucket", ""), S3Error);
}

TEST_F(S3ClientTest, HeadErrorsHaveNoBodySoTheStatusSpeaks) {
  handler.on_request = [](const HttpRequest& request) {
    if (request.target == "/bucket/secret" || request.target == "/forbidden") return respond(403);
    return respond(404);
  };
  S3Client& s3 = client();
  try {
    s3.head("bucket", "missing");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 404);
    EXPECT_EQ(e.code(), "NotFound");
  }
  EXPECT_FALSE(s3.head_if_exists("bucket", "missing").has_value());
  EXPECT_FALSE(s3.bucket_exists("bucket"));
  try {
    s3.head_if_exists("bucket", "secret");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "Http403");
  }
  EXPECT_THROW(s3.bucket_exists("forbidden"), S3Error);
}

TEST_F(S3ClientTest, HeadReadsSizeTypeAndMetadata) {
  handler.on_request = [](const HttpRequest&) {
    HttpResponse r = respond(200, "",
                             {{"ETag", "\"abc\""},
                              {"Content-Type", "application/x-tensor"},
                              {"Last-Modified", "Wed, 12 Oct 2009 17:50:00 GMT"},
                              {"x-amz-meta-Epoch", "12"},
                              {"X-Amz-Meta-worker", "a b"}});
    r.head_content_length = 20000000000ull;
    return r;
  };
  S3Head h = client().head("bucket", "model");
  EXPECT_EQ(h.size, 20000000000ull);
  EXPECT_EQ(h.etag, "\"abc\"");
  EXPECT_EQ(h.content_type, "application/x-tensor");
  EXPECT_EQ(h.last_modified, "Wed, 12 Oct 2009 17:50:00 GMT");
  EXPECT_EQ(h.metadata, (std::map<std::string, std::string>{{"epoch", "12"}, {"worker", "a b"}}));
}

TEST_F(S3ClientTest, RetriesSlowDownAndReSigns) {
  std::atomic<int> calls{0};
  handler.on_request = [&](const HttpRequest& request) {
    if (++calls <= 2) {
      HttpResponse r = error_response(503, "SlowDown", "Please reduce your request rate.");
      r.headers.add("Retry-After", "0");
      return r;
    }
    return respond(200, "", {{"ETag", quoted(s3::md5_hex(request.body))}});
  };
  EXPECT_NO_THROW(client().put("bucket", "k", "v"));
  auto requests = handler.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (auto& r : requests) EXPECT_FALSE(r.headers.get("Authorization").empty());
}

TEST_F(S3ClientTest, GivesUpAfterTheRetryBudget) {
  handler.on_request = [](const HttpRequest&) { return error_response(500, "InternalError"); };
  S3ClientOptions o = options();
  o.retry.max_attempts = 3;
  try {
    client(o).get_range("bucket", "k", 0, 1);
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "InternalError");
    EXPECT_EQ(e.status(), 500);
  }
  EXPECT_EQ(handler.requests().size(), 3u);
}

TEST_F(S3ClientTest, TransportErrorsHaveNoStatus) {
  S3ClientOptions o = options();
  o.endpoint = Endpoint::parse("http://127.0.0.1:1");
  o.retry.max_attempts = 2;
  o.call_deadline = 2s;
  try {
    client(o).get("bucket", "k");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_EQ(e.code(), "");
    EXPECT_TRUE(e.transport_error()) << e.what();
    EXPECT_NE(std::string(e.what()).find("GetObject s3://bucket/k"), std::string::npos);
  }
}

TEST_F(S3ClientTest, UploadsPartsInParallelAndCompletesInOrder) {
  MiniStore store;
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.part_size = 5 * MiB;
  o.max_parallel_parts = 3;
  S3Client& s3 = client(o);
  handler.delay = 200ms;  // long enough for the client to fill its window of parts
  std::string body = random_bytes(27 * MiB + 12345, 1);  // 6 parts, the last one short
  std::string etag = s3.put("bucket", "big.bin", body, {"application/octet-stream", {{"k", "v"}}});

  std::vector<std::string> digests;
  for (std::size_t offset = 0; offset < body.size(); offset += 5 * MiB) {
    digests.push_back(s3::md5(body.substr(offset, 5 * MiB)));
  }
  EXPECT_EQ(etag, quoted(s3::multipart_etag(digests)));
  EXPECT_EQ(store.objects["/bucket/big.bin"], body);
  EXPECT_GE(handler.most_in_flight.load(), 2);  // in parallel...
  EXPECT_LE(handler.most_in_flight.load(), 3);  // ...but never more than max_parallel_parts

  auto posts = handler.requests_with("POST");
  ASSERT_EQ(posts.size(), 2u);
  // Content-Type and metadata go with CreateMultipartUpload, not with the parts.
  EXPECT_EQ(posts[0].target, "/bucket/big.bin?uploads");
  EXPECT_EQ(posts[0].headers.get("Content-Type"), "application/octet-stream");
  EXPECT_EQ(posts[0].headers.get("x-amz-meta-k"), "v");
  EXPECT_EQ(query_param(posts[1], "uploadId"), "UP1");
  std::vector<std::string> etags;
  for (auto& d : digests) etags.push_back(quoted(to_hex(d)));
  EXPECT_EQ(posts[1].body, s3::complete_multipart_upload_body(etags));

  auto parts = handler.requests_with("PUT");
  ASSERT_EQ(parts.size(), 6u);
  std::set<std::string> numbers;
  for (auto& part : parts) {
    numbers.insert(query_param(part, "partNumber"));
    EXPECT_EQ(query_param(part, "uploadId"), "UP1");
    EXPECT_EQ(part.headers.get("Content-MD5"), base64_encode(s3::md5(part.body)));
    EXPECT_EQ(part.headers.get("X-Amz-Content-Sha256"), sha256_hex(part.body));
    EXPECT_FALSE(part.headers.find("Content-Type"));
  }
  EXPECT_EQ(numbers, (std::set<std::string>{"1", "2", "3", "4", "5", "6"}));
  EXPECT_TRUE(handler.requests_with("DELETE").empty());
}

TEST_F(S3ClientTest, PutFileReadsPartsFromTheFile) {
  MiniStore store;
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.multipart_threshold = 8 * MiB;
  o.part_size = 5 * MiB;
  S3Client& s3 = client(o);
  std::string small = random_bytes(100, 2);
  std::string large = random_bytes(11 * MiB, 3);
  write_file(dir / "small", small);
  write_file(dir / "large", large);
  EXPECT_EQ(s3.put_file("bucket", "small", dir / "small"), quoted(s3::md5_hex(small)));
  s3.put_file("bucket", "large", dir / "large");
  EXPECT_EQ(store.objects["/bucket/small"], small);
  EXPECT_EQ(store.objects["/bucket/large"], large);
  EXPECT_EQ(handler.requests_with("PUT").size(), 1u + 3u);
  write_file(dir / "empty", "");
  EXPECT_EQ(s3.put_file("bucket", "empty", dir / "empty"), quoted(s3::md5_hex("")));
  EXPECT_THROW(s3.put_file("bucket", "k", dir / "does-not-exist"), std::system_error);
}

TEST_F(S3ClientTest, AnErrorInsideA200CompleteResponseFailsAndAborts) {
  MiniStore store;
  store.intercept = [](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.method == "POST" && has_query_param(request, "uploadId")) {
      // S3 has already sent 200 (and whitespace) when assembling the object fails.
      return respond(200,
                     "  \n<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>"
                     "We encountered an internal error.</Message></Error>");
    }
    return std::nullopt;
  };
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.retry.max_attempts = 2;
  try {
    client(o).put("bucket", "k", random_bytes(6 * MiB, 4));
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "InternalError");
    EXPECT_EQ(e.status(), 200);
  }
  EXPECT_EQ(handler.requests_with("POST").size(), 1u + 2u);  // create, complete twice
  auto deletes = handler.requests_with("DELETE");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].target, "/bucket/k?uploadId=UP1");
}

TEST_F(S3ClientTest, AFailingPartAbortsTheUpload) {
  MiniStore store;
  store.intercept = [](const HttpRequest& request) -> std::optional<HttpResponse> {
    if (request.method == "PUT" && query_param(request, "partNumber") == "2") {
      return error_response(400, "BadDigest", "The Content-MD5 you specified did not match.");
    }
    return std::nullopt;
  };
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.part_size = 5 * MiB;
  try {
    client(o).put("bucket", "k", random_bytes(16 * MiB, 5));
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "BadDigest");
    EXPECT_NE(std::string(e.what()).find("UploadPart 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(handler.requests_with("POST").size(), 1u);  // never completed
  EXPECT_EQ(handler.requests_with("DELETE").size(), 1u);
}

TEST_F(S3ClientTest, AReaderThatThrowsAbortsTheUpload) {
  MiniStore store;
  handler.on_request = std::ref(store);
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.part_size = 5 * MiB;
  std::atomic<int> reads{0};
  auto reader = [&](std::uint64_t offset, char* data, std::size_t length) {
    ++reads;
    if (offset >= 10 * MiB) throw std::runtime_error("disk on fire");
    std::memset(data, 'x', length);
  };
  try {
    client(o).put_parts("bucket", "k", 40 * MiB, reader);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "disk on fire");
  }
  EXPECT_LE(reads.load(), 4);  // stopped at the failure rather than reading everything
  EXPECT_EQ(handler.requests_with("POST").size(), 1u);
  EXPECT_EQ(handler.requests_with("DELETE").size(), 1u);
}

TEST_F(S3ClientTest, GetToFileFetchesRangesPinnedToTheETagAndRenames) {
  std::string data = random_bytes(3 * MiB + 5, 6);
  std::string etag = quoted(s3::md5_hex(data));
  // What the directory looks like while the last range is being served.
  std::vector<std::string> files_during;
  std::string contents_during;
  handler.on_request = [&](const HttpRequest& request) {
    if (request.headers.get("Range").rfind("bytes=3145728-", 0) == 0) {
      files_during = leftovers();
      contents_during = read_file(dir / "out.bin");
    }
    return serve_object(request, data, etag);
  };
  S3ClientOptions o = options();
  o.part_size = MiB;
  o.max_parallel_parts = 2;
  write_file(dir / "out.bin", "old contents");
  client(o).get_to_file("bucket", "obj", dir / "out.bin");
  EXPECT_EQ(read_file(dir / "out.bin"), data);
  EXPECT_EQ(leftovers(), std::vector<std::string>{"out.bin"});
  ASSERT_EQ(files_during.size(), 2u);
  EXPECT_EQ(files_during[0].rfind(".out.bin.stratus-", 0), 0u) << files_during[0];
  EXPECT_EQ(files_during[1], "out.bin");
  EXPECT_EQ(contents_during, "old contents");  // replaced only once complete

  auto requests = handler.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].headers.get("Range"), "bytes=0-1048575");
  EXPECT_FALSE(requests[0].headers.find("If-Match"));
  std::set<std::string> ranges;
  for (std::size_t i = 1; i < requests.size(); ++i) {
    ranges.insert(requests[i].headers.get("Range"));
    EXPECT_EQ(requests[i].headers.get("If-Match"), etag);
  }
  EXPECT_EQ(ranges, (std::set<std::string>{"bytes=1048576-2097151", "bytes=2097152-3145727",
                                           "bytes=3145728-3145732"}));
}

TEST_F(S3ClientTest, AFailedDownloadLeavesTheOldFileAndNoTemporaryFile) {
  std::string data = random_bytes(4 * MiB, 7);
  std::string etag = quoted(s3::md5_hex(data));
  handler.on_request = [&](const HttpRequest& request) {
    if (request.headers.get("Range").rfind("bytes=2097152-", 0) == 0) {
      return error_response(500, "InternalError");
    }
    return serve_object(request, data, etag);
  };
  S3ClientOptions o = options();
  o.part_size = MiB;
  o.retry.max_attempts = 2;
  write_file(dir / "out.bin", "old contents");
  try {
    client(o).get_to_file("bucket", "obj", dir / "out.bin");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "InternalError");
  }
  EXPECT_EQ(read_file(dir / "out.bin"), "old contents");
  EXPECT_EQ(leftovers(), std::vector<std::string>{"out.bin"});

  // A missing object does not create the file at all.
  handler.on_request = [](const HttpRequest&) { return error_response(404, "NoSuchKey"); };
  EXPECT_THROW(client(o).get_to_file("bucket", "missing", dir / "new.bin"), S3Error);
  EXPECT_EQ(leftovers(), std::vector<std::string>{"out.bin"});
}

TEST_F(S3ClientTest, AnObjectReplacedMidDownloadFailsInsteadOfMixingVersions) {
  std::string v1 = random_bytes(3 * MiB, 8);
  std::string v2 = random_bytes(3 * MiB, 9);
  std::atomic<int> calls{0};
  handler.on_request = [&](const HttpRequest& request) {
    const std::string& current = ++calls == 1 ? v1 : v2;  // replaced after the first range
    return serve_object(request, current, quoted(s3::md5_hex(current)));
  };
  S3ClientOptions o = options();
  o.part_size = MiB;
  try {
    client(o).get_to_file("bucket", "obj", dir / "out.bin");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 412);
    EXPECT_EQ(e.code(), "PreconditionFailed");
  }
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(S3ClientTest, EmptyObjects) {
  // S3 answers a range on an empty object with 416 InvalidRange.
  handler.on_request = [](const HttpRequest& request) {
    return serve_object(request, "", quoted(s3::md5_hex("")));
  };
  S3Client& s3 = client();
  EXPECT_EQ(s3.get("bucket", "empty"), "");
  s3.get_to_file("bucket", "empty", dir / "empty");
  EXPECT_TRUE(std::filesystem::exists(dir / "empty"));
  EXPECT_EQ(std::filesystem::file_size(dir / "empty"), 0u);
  EXPECT_EQ(s3.get_range("bucket", "empty", 0, 0), "");  // no request at all
  EXPECT_EQ(handler.requests().size(), 2u);
  try {
    s3.get_range("bucket", "empty", 0, 1);
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "InvalidRange");
    EXPECT_EQ(e.status(), 416);
  }
}

TEST_F(S3ClientTest, RangeReads) {
  std::string data = "0123456789";
  handler.on_request = [&](const HttpRequest& request) {
    return serve_object(request, data, quoted(s3::md5_hex(data)));
  };
  S3Client& s3 = client();
  EXPECT_EQ(s3.get_range("bucket", "k", 0, 3), "012");
  EXPECT_EQ(s3.get_range("bucket", "k", 7, 3), "789");
  EXPECT_EQ(s3.get_range("bucket", "k", 8, 100), "89");  // cut short by the end
  EXPECT_THROW(s3.get_range("bucket", "k", 10, 1), S3Error);
}

TEST_F(S3ClientTest, ObjectsLargerThanTheDefaultResponseLimit) {
  // HttpClient's default limit is 16 MiB; responses are sized per call.
  std::string data = random_bytes(40 * MiB + 3, 10);
  std::string etag = quoted(s3::md5_hex(data));
  handler.on_request = [&](const HttpRequest& request) {
    return serve_object(request, data, etag);
  };
  S3ClientOptions o = options();
  o.part_size = 32 * MiB;
  S3Client& s3 = client(o);
  EXPECT_EQ(s3.get("bucket", "big"), data);
  EXPECT_EQ(s3.get_range("bucket", "big", 1, 20 * MiB), data.substr(1, 20 * MiB));
}

TEST_F(S3ClientTest, AServerThatIgnoresRangeStillWorks) {
  std::string data = random_bytes(3 * MiB, 11);
  std::string etag = quoted(s3::md5_hex(data));
  handler.on_request = [&](const HttpRequest& request) {
    return serve_object(request, data, etag, /*honour_range=*/false);
  };
  S3ClientOptions o = options();
  o.part_size = MiB;  // the first "range" comes back whole and over its limit: HEAD, then GET
  S3Client& s3 = client(o);
  EXPECT_EQ(s3.get("bucket", "k"), data);
  // A range read cannot take the whole object instead: it fails rather than buffer it.
  EXPECT_THROW(s3.get_range("bucket", "k", MiB, 10), S3Error);
  o.part_size = 8 * MiB;  // fits: one request
  EXPECT_EQ(client(o).get("bucket", "k"), data);
}

TEST_F(S3ClientTest, ListFollowsContinuationTokens) {
  handler.on_request = [](const HttpRequest& request) {
    if (!has_query_param(request, "continuation-token")) {
      return respond(200,
                     "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true"
                     "</IsTruncated><Contents><Key>p%2Fa</Key><Size>1</Size></Contents>"
                     "<NextContinuationToken>next+page/=</NextContinuationToken>"
                     "</ListBucketResult>");
    }
    EXPECT_EQ(query_param(request, "continuation-token"), "next+page/=");
    return respond(200,
                   "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false"
                   "</IsTruncated><Contents><Key>p%2Fb+c</Key><Size>22</Size></Contents>"
                   "</ListBucketResult>");
  };
  auto objects = client().list("bucket", "p/");
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].key, "p/a");
  EXPECT_EQ(objects[1].key, "p/b c");
  EXPECT_EQ(objects[1].size, 22u);
  for (auto& r : handler.requests()) EXPECT_EQ(query_param(r, "prefix"), "p/");
}

TEST_F(S3ClientTest, AListingThatNeverEndsIsRefused) {
  handler.on_request = [](const HttpRequest&) {
    return respond(200, "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>");
  };
  try {
    client().list("bucket", "");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "MalformedResponse");
  }
}

TEST_F(S3ClientTest, CreateBucketOutsideUsEast1NamesTheRegion) {
  std::atomic<int> calls{0};
  handler.on_request = [&](const HttpRequest&) {
    int n = ++calls;
    if (n == 1) return respond(200);
    if (n == 2) return error_response(409, "BucketAlreadyOwnedByYou");
    return error_response(409, "BucketAlreadyExists");
  };
  S3Client& s3 = client();
  s3.create_bucket("my-bucket");
  s3.create_bucket("my-bucket");
  try {
    s3.create_bucket("my-bucket");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "BucketAlreadyExists");
  }
  auto request = handler.requests().at(0);
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.target, "/my-bucket");
  EXPECT_EQ(request.body, s3::create_bucket_body("eu-west-1"));
}

TEST_F(S3ClientTest, RefusesBadArgumentsBeforeSending) {
  handler.on_request = [](const HttpRequest&) { return respond(200); };
  S3Client& s3 = client();
  EXPECT_THROW(s3.put("bucket", "", "x"), std::invalid_argument);
  EXPECT_THROW(s3.get("bucket", ""), std::invalid_argument);
  EXPECT_THROW(s3.put("bucket", std::string(1025, 'k'), "x"), std::invalid_argument);
  EXPECT_THROW(s3.put("bad/bucket", "k", "x"), std::invalid_argument);
  S3PutOptions bad_value;
  bad_value.metadata["name"] = "caf\xC3\xA9";
  EXPECT_THROW(s3.put("bucket", "k", "x", bad_value), std::invalid_argument);
  S3PutOptions bad_name;
  bad_name.metadata["a b"] = "v";
  EXPECT_THROW(s3.put("bucket", "k", "x", bad_name), std::invalid_argument);
  EXPECT_TRUE(handler.requests().empty());
}

TEST_F(S3ClientTest, OneClientServesManyThreads) {
  MiniStore store;
  handler.on_request = std::ref(store);
  S3Client& s3 = client();
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string key(1, 't');
        key += std::to_string(t);
        key += '/';
        key += std::to_string(i);
        std::string value = random_bytes(1000 + i, static_cast<unsigned>(t * 100 + i));
        s3.put("bucket", key, value);
        if (s3.get("bucket", key) == value) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 160);
}

class ScopedEnvironment {
 public:
  ScopedEnvironment(std::initializer_list<std::pair<const char*, const char*>> values) {
    for (auto [name, value] : values) {
      const char* old = std::getenv(name);
      saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
      if (value) {
        ::setenv(name, value, 1);
      } else {
        ::unsetenv(name);
      }
    }
  }
  ~ScopedEnvironment() {
    for (auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(S3ClientOptionsTest, FromEnvironmentUsesTheS3EndpointVariable) {
  ScopedEnvironment env({{"AWS_ACCESS_KEY_ID", "AK"},
                         {"AWS_SECRET_ACCESS_KEY", "SK"},
                         {"AWS_SESSION_TOKEN", nullptr},
                         {"AWS_REGION", "eu-central-1"},
                         {"AWS_ENDPOINT_URL", "http://127.0.0.1:1111"},
                         {"AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2222/base"},
                         {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", nullptr},
                         {"AWS_CA_BUNDLE", "/etc/company-ca.pem"}});
  S3ClientOptions o = S3ClientOptions::from_environment();
  EXPECT_EQ(o.region, "eu-central-1");
  EXPECT_EQ(o.credentials.access_key_id, "AK");
  EXPECT_EQ(o.credentials.secret_access_key, "SK");
  EXPECT_EQ(o.endpoint.origin(), "http://127.0.0.1:2222");
  EXPECT_EQ(o.endpoint.path, "/base");
  EXPECT_EQ(o.ca_file, "/etc/company-ca.pem");
  auto loc = s3::locate(o.endpoint, o.addressing, "bucket", "k");
  EXPECT_EQ(loc.target, "/base/bucket/k");

  ScopedEnvironment aws({{"AWS_ENDPOINT_URL", nullptr}, {"AWS_ENDPOINT_URL_S3", nullptr}});
  o = S3ClientOptions::from_environment();
  EXPECT_EQ(o.endpoint.origin(), "https://s3.eu-central-1.amazonaws.com:443");
  loc = s3::locate(o.endpoint, o.addressing, "bucket", "k");
  EXPECT_EQ(loc.endpoint.host, "bucket.s3.eu-central-1.amazonaws.com");
  EXPECT_EQ(loc.target, "/k");
}

}  // namespace
}  // namespace stratus::aws
