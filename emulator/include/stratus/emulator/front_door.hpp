#pragma once
// The daemon's one port serves two APIs: requests go to S3 or to Lambda. A signed request says
// which service it was signed for (the credential scope of its Authorization header or presigned
// query); an unsigned one is Lambda's when its path starts with one of Lambda's API versions or
// the emulator's own endpoints, and S3's otherwise (S3 path-style: "/", "/bucket", "/bucket/key").

#include <string_view>

#include "stratus/common/http_server.hpp"

namespace stratus::emulator {

enum class Service { Lambda, S3 };

Service service_for(const HttpRequestHead& head);

class FrontDoor : public HttpHandler {
 public:
  FrontDoor(HttpHandler& lambda, HttpHandler& s3) : lambda_(lambda), s3_(s3) {}

  std::uint64_t body_limit(const HttpRequestHead& head) override { return pick(head).body_limit(head); }
  HttpResponse reject_oversized(const HttpRequestHead& head) override { return pick(head).reject_oversized(head); }
  std::shared_ptr<HttpBodySink> body_sink(const HttpRequestHead& head) override { return pick(head).body_sink(head); }
  void handle(HttpRequest request, HttpResponder respond) override {
    HttpHandler& target = pick(request);
    target.handle(std::move(request), std::move(respond));
  }

 private:
  HttpHandler& pick(const HttpRequestHead& head) { return service_for(head) == Service::S3 ? s3_ : lambda_; }

  HttpHandler& lambda_;
  HttpHandler& s3_;
};

}  // namespace stratus::emulator
