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

// Picks the service once per request, from its head, and carries that choice (with the service's
// own plan) to the calls that follow.
class FrontDoor : public HttpHandler {
 public:
  FrontDoor(HttpHandler& lambda, HttpHandler& s3) : lambda_(lambda), s3_(s3) {}

  HttpRequestPlan plan(const HttpRequestHead& head) override;
  HttpResponse reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  std::shared_ptr<HttpBodySink> body_sink(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  void handle(HttpRequest request, HttpResponder respond) override;

 private:
  // The service chosen for a request and the plan that service made for it.
  struct Choice {
    HttpHandler* service;
    HttpRequestPlan plan;
  };
  Choice choice_for(const HttpRequestHead& head, const std::shared_ptr<const HttpRoute>& route);

  HttpHandler& lambda_;
  HttpHandler& s3_;
};

}  // namespace stratus::emulator
