// The front door decides a request's service once, from its head, and carries that decision (and the
// service's own plan) to body_sink, reject_oversized and handle.

#include <gtest/gtest.h>

#include "stratus/emulator/front_door.hpp"

namespace stratus::emulator {
namespace {

// Counts what the front door asks of it and checks that its own route comes back.
class CountingService : public HttpHandler {
 public:
  explicit CountingService(std::uint64_t limit) : limit_(limit) {}

  HttpRequestPlan plan(const HttpRequestHead& head) override {
    ++plans;
    return {limit_, carry_route(head.target)};
  }
  HttpResponse reject_oversized(const HttpRequestHead&, const HttpRequestPlan& plan) override {
    seen_route = carried_route<std::string>(plan.route) ? *carried_route<std::string>(plan.route) : "";
    return HttpResponse{413, {}, ""};
  }
  std::shared_ptr<HttpBodySink> body_sink(const HttpRequestHead&, const HttpRequestPlan& plan) override {
    seen_route = carried_route<std::string>(plan.route) ? *carried_route<std::string>(plan.route) : "";
    return nullptr;
  }
  void handle(HttpRequest request, HttpResponder respond) override {
    ++handled;
    seen_route = carried_route<std::string>(request.route) ? *carried_route<std::string>(request.route) : "";
    respond(HttpResponse{200, {}, ""});
  }

  int plans = 0;
  int handled = 0;
  std::string seen_route;

 private:
  std::uint64_t limit_;
};

HttpRequestHead head_for(std::string method, std::string target) {
  HttpRequestHead head;
  head.method = std::move(method);
  head.target = std::move(target);
  return head;
}

TEST(FrontDoor, PlansOnceAndCarriesTheServicesRouteToHandle) {
  CountingService lambda(6291456);
  CountingService s3(4096);
  FrontDoor door(lambda, s3);

  HttpRequestHead head = head_for("POST", "/2015-03-31/functions/f/invocations");
  HttpRequestPlan plan = door.plan(head);
  EXPECT_EQ(plan.body_limit, 6291456u);
  door.body_sink(head, plan);
  EXPECT_EQ(lambda.seen_route, head.target);

  HttpRequest request;
  static_cast<HttpRequestHead&>(request) = head;
  request.route = plan.route;
  int answered = 0;
  door.handle(std::move(request), [&](HttpResponse) { ++answered; });
  EXPECT_EQ(answered, 1);
  EXPECT_EQ(lambda.plans, 1);  // body_sink and handle reused the plan
  EXPECT_EQ(lambda.handled, 1);
  EXPECT_EQ(lambda.seen_route, "/2015-03-31/functions/f/invocations");
  EXPECT_EQ(s3.plans, 0);
}

TEST(FrontDoor, AnUnsignedBucketPathGoesToS3WithItsOwnLimitAndRoute) {
  CountingService lambda(6291456);
  CountingService s3(4096);
  FrontDoor door(lambda, s3);

  HttpRequestHead head = head_for("PUT", "/bucket/key");
  HttpRequestPlan plan = door.plan(head);
  EXPECT_EQ(plan.body_limit, 4096u);
  EXPECT_EQ(door.reject_oversized(head, plan).status, 413);
  EXPECT_EQ(s3.seen_route, "/bucket/key");
  EXPECT_EQ(s3.plans, 1);
  EXPECT_EQ(lambda.plans, 0);
}

TEST(FrontDoor, ARequestHandedOverWithoutAPlanIsRoutedThen) {
  CountingService lambda(1);
  CountingService s3(1);
  FrontDoor door(lambda, s3);

  HttpRequest request;
  static_cast<HttpRequestHead&>(request) = head_for("GET", "/healthz");
  door.handle(std::move(request), [](HttpResponse) {});
  EXPECT_EQ(lambda.plans, 1);
  EXPECT_EQ(lambda.handled, 1);
  EXPECT_EQ(lambda.seen_route, "/healthz");
}

TEST(FrontDoor, AS3SignatureOutranksALambdaLookingPath) {
  HttpRequestHead head = head_for("GET", "/2015-03-31/functions");
  head.headers.add("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKID/20261121/us-east-1/s3/aws4_request, SignedHeaders=host, "
                   "Signature=00");
  EXPECT_EQ(service_for(head), Service::S3);
  EXPECT_EQ(service_for(head_for("GET", "/2015-03-31/functions")), Service::Lambda);
}

}  // namespace
}  // namespace stratus::emulator
