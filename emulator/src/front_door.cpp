#include "stratus/emulator/front_door.hpp"

#include <array>

#include "stratus/common/sigv4.hpp"

namespace stratus::emulator {

namespace {

// The first path segments of Lambda's APIs (by API version) and of the emulator's own endpoints.
bool is_lambda_path(std::string_view path) {
  static constexpr std::array<std::string_view, 11> prefixes = {
      "/2015-03-31/", "/2014-11-13/", "/2016-08-19/", "/2017-03-31/", "/2017-10-31/",
      "/2018-10-31/", "/2019-09-25/", "/2019-09-30/", "/2020-04-22/", "/2021-10-31/",
      "/2024-08-31/"};
  for (auto p : prefixes) {
    if (path.substr(0, p.size()) == p) return true;
  }
  if (path.substr(0, 12) == "/lambda-url/") return true;  // function URLs, path form
  return path == "/healthz" || path == "/metrics" || path.substr(0, 9) == "/stratus/";
}

// "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/s3/aws4_request, ..." -> "s3". Presigned
// URLs carry the same scope in X-Amz-Credential (percent-encoded slashes).
std::string_view scope_service(std::string_view credential, std::string_view slash) {
  // key / date / region / service / aws4_request
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    pos = credential.find(slash, pos);
    if (pos == std::string_view::npos) return {};
    pos += slash.size();
  }
  auto end = credential.find(slash, pos);
  if (end == std::string_view::npos) return {};
  return credential.substr(pos, end - pos);
}

}  // namespace

Service service_for(const HttpRequestHead& head) {
  // Function URLs, host form (<url-id>.lambda-url.<region>.localhost): Lambda whatever the path.
  const std::string* host = head.headers.find("Host");
  if (host && host->find(".lambda-url.") != std::string::npos) return Service::Lambda;
  if (const std::string* auth = head.headers.find("Authorization")) {
    auto credential = auth->find("Credential=");
    if (credential != std::string::npos) {
      auto service = scope_service(std::string_view(*auth).substr(credential + 11), "/");
      if (service == "s3") return Service::S3;
      if (service == "lambda") return Service::Lambda;
    }
  }
  SplitTarget target = split_target(head.target);
  auto credential = target.query.find("X-Amz-Credential=");
  if (credential != std::string_view::npos) {
    auto service = scope_service(target.query.substr(credential + 17), "%2F");
    if (service == "s3") return Service::S3;
    if (service == "lambda") return Service::Lambda;
  }
  return is_lambda_path(target.path) ? Service::Lambda : Service::S3;
}

HttpRequestPlan FrontDoor::plan(const HttpRequestHead& head) {
  HttpHandler* service = service_for(head) == Service::S3 ? &s3_ : &lambda_;
  HttpRequestPlan inner = service->plan(head);
  const std::uint64_t limit = inner.body_limit;
  return {limit, carry_route(Choice{service, std::move(inner)})};
}

FrontDoor::Choice FrontDoor::choice_for(const HttpRequestHead& head, const std::shared_ptr<const HttpRoute>& route) {
  if (const Choice* carried = carried_route<Choice>(route)) return *carried;
  // A request that did not come through plan() (called directly): decide now.
  HttpHandler* service = service_for(head) == Service::S3 ? &s3_ : &lambda_;
  return {service, service->plan(head)};
}

HttpResponse FrontDoor::reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) {
  Choice choice = choice_for(head, plan.route);
  return choice.service->reject_oversized(head, choice.plan);
}

std::shared_ptr<HttpBodySink> FrontDoor::body_sink(const HttpRequestHead& head, const HttpRequestPlan& plan) {
  Choice choice = choice_for(head, plan.route);
  return choice.service->body_sink(head, choice.plan);
}

void FrontDoor::handle(HttpRequest request, HttpResponder respond) {
  Choice choice = choice_for(request, request.route);
  request.route = std::move(choice.plan.route);
  choice.service->handle(std::move(request), std::move(respond));
}

}  // namespace stratus::emulator
