#pragma once
// The S3 endpoint: path-style requests on the emulator's port, answered in S3's wire format (XML
// bodies, XML errors, S3's headers). Object bodies stream to and from disk (object_upload.hpp,
// HttpFileBody); every refusal goes through one function that builds S3's XML error.

#include <string>

#include "stratus/common/http_server.hpp"
#include "stratus/emulator/config.hpp"
#include "stratus/emulator/metering.hpp"
#include "stratus/emulator/s3/object_store.hpp"
#include "stratus/emulator/s3/object_upload.hpp"
#include "stratus/emulator/s3/s3_error.hpp"
#include "stratus/emulator/s3/s3_router.hpp"

namespace stratus::emulator {
class FaultInjector;
}

namespace stratus::emulator::s3 {

// Request bodies that are XML documents (DeleteObjects, CompleteMultipartUpload, CreateBucket).
inline constexpr std::uint64_t kMaxXmlRequestBytes = 4 * 1024 * 1024;

class S3Api : public HttpHandler {
 public:
  S3Api(const EmulatorConfig& config, ObjectStore& store, Metering& metering);

  // The route is decided here, once, and carried (HttpRequest::route) to the calls that follow.
  HttpRequestPlan plan(const HttpRequestHead& head) override;
  HttpResponse reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  std::shared_ptr<HttpBodySink> body_sink(const HttpRequestHead& head, const HttpRequestPlan& plan) override;
  void handle(HttpRequest request, HttpResponder respond) override;
  // Fault injection: added latency, 503 SlowDown, 500 InternalError; may stay null.
  void set_faults(stratus::emulator::FaultInjector* faults) { faults_ = faults; }

  // Builds S3's XML error response (no body for HEAD requests, as S3 does).
  static HttpResponse error_response(const S3Exception& error, const std::string& resource,
                                     const std::string& request_id, bool head_request);

 private:
  // Throws S3Exception unless the request is signed by an accepted key (when SigV4 is on).
  void check_signature(const HttpRequestHead& head, const std::string* buffered_body) const;
  // Throws unless the bucket name is valid and the bucket exists.
  void require_bucket(const std::string& bucket) const;
  // The sink for a PutObject/UploadPart body. Everything that can be decided from the head is
  // decided here; a refusal becomes a sink that swallows the body and reports it from finish().
  std::shared_ptr<ObjectUploadSink> open_upload(const HttpRequestHead& head, const S3Route& route);
  // Where uploads hash and write their pieces: the store's disk pool.
  UploadPipeline upload_pipeline();
  // The checked upload of a PutObject/UploadPart (a body-less one gets its sink now).
  UploadResult finish_upload(const S3Route& route, HttpRequest& request);

  HttpResponse list_buckets(const std::string& request_id);
  HttpResponse create_bucket(const S3Route& route, const HttpRequest& request, const std::string& request_id);
  HttpResponse head_bucket(const S3Route& route, const std::string& request_id);
  HttpResponse delete_bucket(const S3Route& route, const std::string& request_id);
  HttpResponse bucket_location(const S3Route& route, const std::string& request_id);
  HttpResponse list_objects(const S3Route& route, bool v2, const std::string& request_id);
  HttpResponse list_uploads(const S3Route& route, const std::string& request_id);
  HttpResponse delete_objects(const S3Route& route, const HttpRequest& request, const std::string& request_id);

  void put_object(const S3Route& route, HttpRequest& request, const std::string& request_id, HttpResponder respond);
  void copy_object(const S3Route& route, const HttpRequest& request, const std::string& request_id,
                   HttpResponder respond);
  HttpResponse get_object(const S3Route& route, const HttpRequest& request, bool head, const std::string& request_id,
                          std::uint64_t& bytes_out);
  HttpResponse delete_object(const S3Route& route, const std::string& request_id);

  HttpResponse create_upload(const S3Route& route, const HttpRequest& request, const std::string& request_id);
  void upload_part(const S3Route& route, HttpRequest& request, const std::string& request_id, HttpResponder respond);
  void complete_upload(const S3Route& route, const HttpRequest& request, const std::string& request_id,
                       HttpResponder respond);
  HttpResponse abort_upload(const S3Route& route, const std::string& request_id);
  HttpResponse list_parts(const S3Route& route, const std::string& request_id);

  const EmulatorConfig& config_;
  ObjectStore& store_;
  Metering& metering_;
  stratus::emulator::FaultInjector* faults_ = nullptr;
  // `request_id` empty: a new one. A delayed request keeps the id its fault was recorded under.
  void handle_now(HttpRequest request, HttpResponder respond, std::string request_id = {});
};

}  // namespace stratus::emulator::s3
