// S3Client end to end against a real S3 server process: the command line in
// STRATUS_TEST_S3_SERVER_COMMAND, with `{port}` replaced by a free loopback port and `{data_dir}`
// by a fresh empty directory, e.g.
//   STRATUS_TEST_S3_SERVER_COMMAND='moto_server -H 127.0.0.1 -p {port}'
//   STRATUS_TEST_S3_SERVER_COMMAND='stratus-emulator --port {port} --data-dir {data_dir}'
// The server is started once for all tests, its process group is stopped at the end. Without the
// variable every test fails (it does not skip): ctest sets it, see CMakeLists.txt.
//
// STRATUS_TEST_S3_SERVER_TLS=1 says the server speaks HTTPS (e.g. `moto_server -s`); its
// certificate is then not verified.
//
// STRATUS_S3_THROUGHPUT_MB=<n> makes Throughput.PutFileAndGetToFile move an n MB file each way
// and print MB/s (it is disabled by default: --gtest_also_run_disabled_tests).

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "stratus/common/http_client.hpp"
#include "stratus/common/s3_client.hpp"
#include "stratus/common/s3_wire.hpp"

extern char** environ;

namespace stratus::aws {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr std::uint64_t MiB = 1 << 20;
constexpr const char* kServerVariable = "STRATUS_TEST_S3_SERVER_COMMAND";

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Splits a command line on whitespace; single and double quotes group, as in a shell.
std::vector<std::string> split_command(const std::string& command) {
  std::vector<std::string> args;
  std::string current;
  bool in_word = false;
  char quote = 0;
  for (char c : command) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        current += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) args.push_back(std::move(current));
      current.clear();
      in_word = false;
    } else {
      current += c;
      in_word = true;
    }
  }
  if (in_word) args.push_back(std::move(current));
  return args;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

std::string tail_of(const std::filesystem::path& file, std::size_t bytes = 3000) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

// The S3 server process: started in its own process group, stopped with it.
class S3Server {
 public:
  static S3Server& instance() {
    static S3Server server;
    return server;
  }

  // Empty when the server runs; otherwise why not.
  const std::string& problem() const { return problem_; }
  const Endpoint& endpoint() const { return endpoint_; }

  void stop() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      auto end = Clock::now() + 10s;
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > end) {
          ::kill(-pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      ::kill(-pid_, SIGKILL);  // whatever else the command started
      pid_ = -1;
    }
    if (!work_dir_.empty()) {  // also when the server never started
      std::error_code ec;
      std::filesystem::remove_all(work_dir_, ec);
      work_dir_.clear();
    }
  }

 private:
  S3Server() {
    const char* command = std::getenv(kServerVariable);
    if (!command || !*command) {
      problem_ = std::string(kServerVariable) +
                 " is not set: these tests need a real S3 server command line with a {port} "
                 "placeholder, e.g. " +
                 kServerVariable + "='moto_server -H 127.0.0.1 -p {port}' (ctest sets it)";
      return;
    }
    try {
      start(command);
    } catch (const std::exception& e) {
      problem_ = e.what();
      stop();
    }
  }
  ~S3Server() { stop(); }

  void start(std::string command) {
    work_dir_ =
        std::filesystem::temp_directory_path() / ("stratus-s3-e2e-" + std::to_string(::getpid()));
    std::filesystem::remove_all(work_dir_);
    std::filesystem::create_directories(work_dir_ / "data");
    std::uint16_t port = free_port();
    replace_all(command, "{port}", std::to_string(port));
    replace_all(command, "{data_dir}", (work_dir_ / "data").string());
    std::vector<std::string> args = split_command(command);
    if (args.empty()) throw std::runtime_error(std::string(kServerVariable) + " is empty");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::filesystem::path log = work_dir_ / "server.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    int rc = ::posix_spawnp(&pid_, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start '" + command + "': " + std::strerror(rc));
    }
    const char* tls = std::getenv("STRATUS_TEST_S3_SERVER_TLS");
    bool https = tls && std::string(tls) == "1";
    endpoint_ = Endpoint::parse((https ? "https://127.0.0.1:" : "http://127.0.0.1:") +
                                std::to_string(port));

    // Ready once it answers HTTP at all.
    auto end = Clock::now() + 60s;
    while (true) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("'" + command + "' exited (status " + std::to_string(status) +
                                 ") before answering; its output:\n" + tail_of(log));
      }
      HttpRequest probe;
      probe.method = "GET";
      probe.target = "/";
      ClientOptions quiet;
      quiet.retry.max_attempts = 1;
      quiet.verify_tls = false;
      CallOptions call;
      call.deadline = 1s;
      if (http_request_blocking(endpoint_, probe, call, quiet).status != 0) return;
      if (Clock::now() > end) {
        throw std::runtime_error("'" + command + "' did not answer on port " +
                                 std::to_string(port) + " within 60 s; its output:\n" +
                                 tail_of(log));
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  pid_t pid_ = -1;
  std::filesystem::path work_dir_;
  Endpoint endpoint_;
  std::string problem_;
};

class StopServerAtExit : public testing::Environment {
 public:
  void TearDown() override { S3Server::instance().stop(); }
};
const auto* const kStopServer = testing::AddGlobalTestEnvironment(new StopServerAtExit);

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

class S3EndToEnd : public testing::Test {
 protected:
  void SetUp() override {
    const std::string& problem = S3Server::instance().problem();
    if (!problem.empty()) FAIL() << problem;
    s3 = std::make_unique<S3Client>(options());
    // Bucket names: lower case, at most 63 characters.
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    bucket = "e2e-";
    for (char c : name) {
      if (std::isupper(static_cast<unsigned char>(c))) {
        bucket += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (std::isalnum(static_cast<unsigned char>(c))) {
        bucket += c;
      }
    }
    bucket = bucket.substr(0, 50) + "-" + std::to_string(::getpid());
    s3->create_bucket(bucket);
    dir = std::filesystem::temp_directory_path() / (bucket + "-files");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  static S3ClientOptions options() {
    S3ClientOptions o;
    o.endpoint = S3Server::instance().endpoint();
    o.credentials = {"test", "test", ""};
    o.region = "us-east-1";
    o.call_deadline = 120s;
    o.verify_tls = !o.endpoint.tls();  // a test server's certificate is its own
    return o;
  }

  std::vector<std::string> files_in_dir() {
    std::vector<std::string> names;
    for (auto& entry : std::filesystem::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::unique_ptr<S3Client> s3;
  std::string bucket;
  std::filesystem::path dir;
};

TEST_F(S3EndToEnd, Buckets) {
  EXPECT_TRUE(s3->bucket_exists(bucket));
  EXPECT_NO_THROW(s3->create_bucket(bucket));  // already ours: fine
  std::string other = bucket + "-x";
  EXPECT_FALSE(s3->bucket_exists(other));
  s3->create_bucket(other);
  EXPECT_TRUE(s3->bucket_exists(other));
}

TEST_F(S3EndToEnd, PutGetHeadRoundTrip) {
  std::string body = "hello, stratus";
  S3PutOptions put;
  put.content_type = "text/plain";
  put.metadata = {{"epoch", "3"}, {"Worker-Id", "w-17"}};
  std::string etag = s3->put(bucket, "models/epoch-3.txt", body, put);
  EXPECT_EQ(etag, quoted(s3::md5_hex(body)));
  EXPECT_EQ(s3->get(bucket, "models/epoch-3.txt"), body);

  S3Head head = s3->head(bucket, "models/epoch-3.txt");
  EXPECT_EQ(head.size, body.size());
  EXPECT_EQ(head.etag, etag);
  EXPECT_EQ(head.content_type, "text/plain");
  EXPECT_FALSE(head.last_modified.empty());
  EXPECT_EQ(head.metadata,
            (std::map<std::string, std::string>{{"epoch", "3"}, {"worker-id", "w-17"}}));
  auto maybe = s3->head_if_exists(bucket, "models/epoch-3.txt");
  ASSERT_TRUE(maybe.has_value());
  EXPECT_EQ(maybe->size, body.size());

  // Overwrite, then an empty object.
  s3->put(bucket, "models/epoch-3.txt", "v2");
  EXPECT_EQ(s3->get(bucket, "models/epoch-3.txt"), "v2");
  EXPECT_EQ(s3->put(bucket, "empty", ""), quoted(s3::md5_hex("")));
  EXPECT_EQ(s3->get(bucket, "empty"), "");
  EXPECT_EQ(s3->head(bucket, "empty").size, 0u);
}

TEST_F(S3EndToEnd, RangeReads) {
  std::string body = random_bytes(100000, 1);
  s3->put(bucket, "blob", body);
  EXPECT_EQ(s3->get_range(bucket, "blob", 0, 1), body.substr(0, 1));
  EXPECT_EQ(s3->get_range(bucket, "blob", 12345, 5000), body.substr(12345, 5000));
  EXPECT_EQ(s3->get_range(bucket, "blob", 99990, 10), body.substr(99990));
  EXPECT_EQ(s3->get_range(bucket, "blob", 99990, 1000), body.substr(99990));  // cut at the end
  EXPECT_EQ(s3->get_range(bucket, "blob", 5, 0), "");
  try {
    s3->get_range(bucket, "blob", 100000, 1);
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.status(), 416);
    EXPECT_EQ(e.code(), "InvalidRange");
  }
}

TEST_F(S3EndToEnd, KeysThatNeedEncoding) {
  std::vector<std::string> keys = {
      "dir/a b.txt",        "dir/plus+sign",          "dir/percent%2Fslash", "dir/caf\xC3\xA9",
      "dir/amp&eq=q?h#",    "dir/tilde~star*paren()", "dir/quote'\"<>",      "dir/semi;colon:at@",
      "dir/comma,dollar$!", "dir/ends-with-space ",   "dir/[brackets]{}",    "dir/back\\slash",
  };
  for (std::size_t i = 0; i < keys.size(); ++i) {
    s3->put(bucket, keys[i], "value " + std::to_string(i));
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(s3->get(bucket, keys[i]), "value " + std::to_string(i)) << keys[i];
    EXPECT_EQ(s3->head(bucket, keys[i]).size, ("value " + std::to_string(i)).size()) << keys[i];
  }
  std::set<std::string> listed;
  for (auto& object : s3->list(bucket, "dir/")) listed.insert(object.key);
  EXPECT_EQ(listed, std::set<std::string>(keys.begin(), keys.end()));
  for (auto& key : keys) s3->remove(bucket, key);
  EXPECT_TRUE(s3->list(bucket, "dir/").empty());
}

TEST_F(S3EndToEnd, ListsMoreThanOnePage) {
  constexpr int kKeys = 1100;
  std::vector<std::thread> threads;
  std::atomic<int> next{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kKeys; i = next++) {
        char key[64];
        std::snprintf(key, sizeof key, "shards/%02d/part-%05d", i % 7, i);
        s3->put(bucket, key, std::to_string(i));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  s3->put(bucket, "other/x", "x");

  std::vector<S3ObjectInfo> all = s3->list(bucket, "shards/");
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kKeys));
  EXPECT_TRUE(
      std::is_sorted(all.begin(), all.end(), [](auto& a, auto& b) { return a.key < b.key; }));
  std::set<std::string> unique;
  for (auto& object : all) {
    unique.insert(object.key);
    EXPECT_FALSE(object.etag.empty());
    EXPECT_FALSE(object.last_modified.empty());
    EXPECT_GT(object.size, 0u);
  }
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(s3->list(bucket, "").size(), static_cast<std::size_t>(kKeys) + 1);

  S3ListPage first = s3->list_page(bucket, "shards/", "", "");
  EXPECT_EQ(first.objects.size(), 1000u);
  EXPECT_TRUE(first.truncated);
  ASSERT_FALSE(first.next_continuation_token.empty());
  S3ListPage second = s3->list_page(bucket, "shards/", "", first.next_continuation_token);
  EXPECT_EQ(second.objects.size(), 100u);
  EXPECT_FALSE(second.truncated);
  EXPECT_GT(second.objects.front().key, first.objects.back().key);

  S3ListPage small = s3->list_page(bucket, "shards/", "", "", 10);
  EXPECT_EQ(small.objects.size(), 10u);
  EXPECT_TRUE(small.truncated);

  S3ListPage folders = s3->list_page(bucket, "", "/", "");
  EXPECT_TRUE(folders.objects.empty());
  EXPECT_EQ(folders.common_prefixes, (std::vector<std::string>{"other/", "shards/"}));
  S3ListPage shard_folders = s3->list_page(bucket, "shards/", "/", "");
  EXPECT_EQ(shard_folders.common_prefixes.size(), 7u);
  EXPECT_EQ(shard_folders.common_prefixes.front(), "shards/00/");
}

TEST_F(S3EndToEnd, MultipartUploadOfAFileAndParallelDownload) {
  // ~50 MB: three 16 MiB parts sent in parallel, the last one short.
  std::string data = random_bytes(50'000'000, 2);
  write_file(dir / "dataset.bin", data);
  std::string etag = s3->put_file(bucket, "datasets/big.bin", dir / "dataset.bin",
                                  {"application/octet-stream", {{"rows", "50000"}}});
  std::vector<std::string> digests;
  for (std::size_t offset = 0; offset < data.size(); offset += 16 * MiB) {
    digests.push_back(s3::md5(std::string_view(data).substr(offset, 16 * MiB)));
  }
  EXPECT_EQ(etag, quoted(s3::multipart_etag(digests)));
  EXPECT_EQ(etag.substr(etag.size() - 3), "-3\"");

  S3Head head = s3->head(bucket, "datasets/big.bin");
  EXPECT_EQ(head.size, data.size());
  EXPECT_EQ(head.etag, etag);
  EXPECT_EQ(head.metadata.at("rows"), "50000");
  EXPECT_TRUE(s3->list_multipart_uploads(bucket).empty());

  s3->get_to_file(bucket, "datasets/big.bin", dir / "copy.bin");
  EXPECT_TRUE(read_file(dir / "copy.bin") == data);
  EXPECT_EQ(files_in_dir(), (std::vector<std::string>{"copy.bin", "dataset.bin"}));
  EXPECT_TRUE(s3->get(bucket, "datasets/big.bin") == data);  // bigger than 16 MiB, in memory
  EXPECT_EQ(s3->get_range(bucket, "datasets/big.bin", 16 * MiB - 10, 20),
            data.substr(16 * MiB - 10, 20));
}

TEST_F(S3EndToEnd, SmallPartsAndOddSizes) {
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.part_size = 5 * MiB;
  o.max_parallel_parts = 8;
  S3Client small(o);
  for (std::size_t size : {5 * MiB, 5 * MiB + 1, 15 * MiB - 1, 23 * MiB + 7}) {
    std::string data = random_bytes(size, static_cast<unsigned>(size));
    std::string key = "odd/" + std::to_string(size);
    std::string etag = small.put(bucket, key, data);
    std::size_t parts = (size + 5 * MiB - 1) / (5 * MiB);
    EXPECT_EQ(etag.substr(etag.find('-')), "-" + std::to_string(parts) + "\"") << size;
    EXPECT_TRUE(small.get(bucket, key) == data) << size;
    small.get_to_file(bucket, key, dir / "odd.bin");
    EXPECT_TRUE(read_file(dir / "odd.bin") == data) << size;
  }
}

TEST_F(S3EndToEnd, AnAbandonedMultipartUploadIsAborted) {
  S3ClientOptions o = options();
  o.multipart_threshold = 5 * MiB;
  o.part_size = 5 * MiB;
  S3Client client(o);
  auto reader = [](std::uint64_t offset, char* data, std::size_t length) {
    if (offset >= 10 * MiB) throw std::runtime_error("source went away");
    std::memset(data, 'z', length);
  };
  EXPECT_THROW(client.put_parts(bucket, "abandoned", 30 * MiB, reader), std::runtime_error);
  EXPECT_TRUE(client.list_multipart_uploads(bucket).empty());
  EXPECT_FALSE(client.head_if_exists(bucket, "abandoned").has_value());
}

TEST_F(S3EndToEnd, GetToFileReplacesAtomicallyAndNeverLeavesPartialFiles) {
  s3->put(bucket, "small", "small object");
  write_file(dir / "target", "previous contents");
  s3->get_to_file(bucket, "small", dir / "target");
  EXPECT_EQ(read_file(dir / "target"), "small object");

  s3->put(bucket, "empty", "");
  s3->get_to_file(bucket, "empty", dir / "empty");
  EXPECT_EQ(read_file(dir / "empty"), "");

  try {
    s3->get_to_file(bucket, "missing", dir / "target");
    FAIL() << "no error";
  } catch (const S3Error& e) {
    EXPECT_EQ(e.code(), "NoSuchKey");
  }
  EXPECT_EQ(read_file(dir / "target"), "small object");
  EXPECT_EQ(files_in_dir(), (std::vector<std::string>{"empty", "target"}));
  EXPECT_THROW(s3->get_to_file(bucket, "small", dir / "no-such-dir" / "f"), std::system_error);
}

TEST_F(S3EndToEnd, Errors) {
  auto expect_error = [](auto&& action, int status, const std::string& code) {
    try {
      action();
      ADD_FAILURE() << "no error, expected " << code;
    } catch (const S3Error& e) {
      EXPECT_EQ(e.status(), status) << e.what();
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  std::string nobucket = bucket + "-missing";
  expect_error([&] { s3->get(bucket, "missing"); }, 404, "NoSuchKey");
  expect_error([&] { s3->get_range(bucket, "missing", 0, 10); }, 404, "NoSuchKey");
  expect_error([&] { s3->head(bucket, "missing"); }, 404, "NotFound");
  expect_error([&] { s3->get(nobucket, "k"); }, 404, "NoSuchBucket");
  expect_error([&] { s3->put(nobucket, "k", "v"); }, 404, "NoSuchBucket");
  expect_error([&] { s3->list(nobucket, ""); }, 404, "NoSuchBucket");
  EXPECT_FALSE(s3->head_if_exists(bucket, "missing").has_value());

  s3->put(bucket, "doomed", "x");
  s3->remove(bucket, "doomed");
  expect_error([&] { s3->get(bucket, "doomed"); }, 404, "NoSuchKey");
  EXPECT_NO_THROW(s3->remove(bucket, "doomed"));  // deleting what is gone succeeds
}

TEST_F(S3EndToEnd, OneClientManyThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        std::string key = "threads/" + std::to_string(t) + "-" + std::to_string(i);
        std::string value =
            random_bytes(10000 + static_cast<std::size_t>(i), static_cast<unsigned>(t * 100 + i));
        s3->put(bucket, key, value);
        if (s3->get(bucket, key) == value) ++good;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(good.load(), 90);
}

TEST_F(S3EndToEnd, FromEnvironmentReachesTheServerPathStyle) {
  const Endpoint& ep = S3Server::instance().endpoint();
  std::string url = ep.origin();
  ::setenv("AWS_ENDPOINT_URL_S3", url.c_str(), 1);
  ::setenv("AWS_ACCESS_KEY_ID", "test", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "test", 1);
  ::setenv("AWS_REGION", "us-east-1", 1);
  S3ClientOptions o = S3ClientOptions::from_environment();
  ::unsetenv("AWS_ENDPOINT_URL_S3");
  EXPECT_EQ(o.endpoint.origin(), ep.origin());
  o.verify_tls = options().verify_tls;
  S3Client client(o);
  client.put(bucket, "env/key", "via the environment");
  EXPECT_EQ(client.get(bucket, "env/key"), "via the environment");
}

TEST_F(S3EndToEnd, DISABLED_Throughput) {
  const char* mb_text = std::getenv("STRATUS_S3_THROUGHPUT_MB");
  std::size_t mb = mb_text ? std::strtoul(mb_text, nullptr, 10) : 256;
  std::string data = random_bytes(mb * 1000 * 1000, 3);
  write_file(dir / "up.bin", data);
  data.clear();
  data.shrink_to_fit();
  auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  // This process only (the server is a child: RUSAGE_CHILDREN would count it).
  auto cpu_seconds = [] {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto s = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(usage.ru_utime) + s(usage.ru_stime);
  };
  auto t0 = Clock::now();
  double cpu0 = cpu_seconds();
  s3->put_file(bucket, "throughput.bin", dir / "up.bin");
  double put_s = seconds_since(t0);
  double put_cpu = cpu_seconds() - cpu0;
  t0 = Clock::now();
  cpu0 = cpu_seconds();
  s3->get_to_file(bucket, "throughput.bin", dir / "down.bin");
  double get_s = seconds_since(t0);
  double get_cpu = cpu_seconds() - cpu0;
  EXPECT_EQ(std::filesystem::file_size(dir / "down.bin"), mb * 1000 * 1000);
  std::printf("put_file %zu MB: %.2f s, %.1f MB/s (client CPU %.2f s)\n", mb, put_s,
              static_cast<double>(mb) / put_s, put_cpu);
  std::printf("get_to_file %zu MB: %.2f s, %.1f MB/s (client CPU %.2f s)\n", mb, get_s,
              static_cast<double>(mb) / get_s, get_cpu);
}

}  // namespace
}  // namespace stratus::aws
