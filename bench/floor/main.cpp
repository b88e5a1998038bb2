// stratus-http-floor: the raw loopback HTTP round trip that invoke latency is reported against.
// It is the project's own stratus::HttpServer (the same one the emulator's front and runtime API
// use) answering every POST at once with the request body, so the difference between an invoke
// and this floor is the emulator's own work plus the hop to the function and back.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <CLI/CLI.hpp>

#include "stratus/common/http_server.hpp"

namespace {

class EchoHandler : public stratus::HttpHandler {
 public:
  stratus::HttpRequestPlan plan(const stratus::HttpRequestHead&) override { return {64ull << 20, nullptr}; }

  stratus::HttpResponse reject_oversized(const stratus::HttpRequestHead&, const stratus::HttpRequestPlan&) override {
    return stratus::HttpResponse{413, {}, "{}"};
  }

  void handle(stratus::HttpRequest request, stratus::HttpResponder respond) override {
    stratus::HttpResponse response;
    if (request.method != "POST") {
      response.status = 405;
    } else {
      response.headers.add("Content-Type", "application/json");
      response.body = std::move(request.body);
    }
    respond(std::move(response));
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stratus-http-floor: loopback HTTP server that echoes every POST body"};
  int port = 0;
  std::string endpoint_file;
  app.add_option("-p,--port", port, "TCP port on 127.0.0.1 (0 picks a free one)")->check(CLI::Range(0, 65535));
  app.add_option("--endpoint-file", endpoint_file, "write http://127.0.0.1:PORT here once listening");
  CLI11_PARSE(app, argc, argv);

  try {
    boost::asio::io_context io(1);
    EchoHandler handler;
    stratus::HttpServerOptions options;
    options.address = "127.0.0.1";
    options.port = static_cast<std::uint16_t>(port);
    options.server_name = "stratus-floor";
    stratus::HttpServer server(io, handler, options);
    std::string url = "http://127.0.0.1:" + std::to_string(server.port());
    if (!endpoint_file.empty()) {
      // Written under a temporary name and renamed, so a reader never sees half a URL.
      std::string tmp = endpoint_file + ".tmp";
      std::ofstream(tmp) << url << "\n";
      std::filesystem::rename(tmp, endpoint_file);
    }
    std::printf("listening on %s\n", url.c_str());
    std::fflush(stdout);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) {
      server.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "stratus-http-floor: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
