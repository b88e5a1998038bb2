// The S3 endpoint's plumbing (limits, sinks, signatures, dispatch, errors) and its bucket-level
// operations. Object operations are in s3_objects.cpp.

#include "stratus/emulator/s3/s3_api.hpp"

#include <spdlog/spdlog.h>

#include "stratus/common/base64.hpp"
#include "stratus/common/carried_route.hpp"
#include "stratus/common/request_id.hpp"
#include "stratus/common/sigv4.hpp"
#include "stratus/emulator/faults/fault_injector.hpp"
#include "stratus/emulator/s3/object_upload.hpp"
#include "stratus/emulator/s3/s3_names.hpp"
#include "stratus/emulator/s3/s3_response.hpp"
#include "stratus/emulator/s3/s3_xml.hpp"

namespace stratus::emulator::s3 {

namespace {

bool is_object_upload(S3Operation op) { return op == S3Operation::PutObject || op == S3Operation::UploadPart; }

S3Route route_for(const HttpRequestHead& head) {
  return route_s3(head.method, head.target, head.headers.find("x-amz-copy-source") != nullptr);
}

// The route plan() carried, or (for a request handed over directly) one decided now into `storage`.
const S3Route& route_of(const HttpRequestHead& head, const std::shared_ptr<const HttpRoute>& carried,
                        std::optional<S3Route>& storage) {
  return carried_route_or(carried, storage, [&] { return route_for(head); });
}

std::uint64_t body_limit_for(const S3Route& route) {
  if (is_object_upload(route.operation)) {
    // aws-chunked framing adds a line per chunk; 1% more than the payload limit is generous.
    return kMaxPutBytes + kMaxPutBytes / 100 + (1 << 20);
  }
  return kMaxXmlRequestBytes;
}

std::string resource_of(const S3Route& route) {
  if (route.bucket.empty()) return "/";
  return "/" + route.bucket + (route.key.empty() ? "" : "/" + route.key);
}

}  // namespace

S3Api::S3Api(const EmulatorConfig& config, ObjectStore& store, Metering& metering)
    : config_(config), store_(store), metering_(metering) {}

HttpRequestPlan S3Api::plan(const HttpRequestHead& head) {
  S3Route route = route_for(head);
  const std::uint64_t limit = body_limit_for(route);
  return {limit, carry_route(std::move(route))};
}

HttpResponse S3Api::reject_oversized(const HttpRequestHead& head, const HttpRequestPlan& plan) {
  std::optional<S3Route> storage;
  const S3Route& route = route_of(head, plan.route, storage);
  spdlog::info("s3 {} {} refused: body over {} bytes", head.method, head.target, body_limit_for(route));
  S3Exception error = is_object_upload(route.operation)
                          ? S3Exception(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
                          : S3Exception(S3ErrorCode::MaxMessageLengthExceeded, "Your request was too big.");
  return error_response(error, resource_of(route), make_request_id(), head.method == "HEAD");
}

std::shared_ptr<HttpBodySink> S3Api::body_sink(const HttpRequestHead& head, const HttpRequestPlan& plan) {
  std::optional<S3Route> storage;
  const S3Route& route = route_of(head, plan.route, storage);
  if (!is_object_upload(route.operation)) return nullptr;
  return open_upload(head, route);
}

std::shared_ptr<ObjectUploadSink> S3Api::open_upload(const HttpRequestHead& head, const S3Route& route) {
  // Whatever is wrong with the request is decided now, before gigabytes arrive; the body is then
  // swallowed and the error answered once it has (so the connection stays usable).
  try {
    check_signature(head, nullptr);
    require_bucket(route.bucket);
    require_valid_key(route.key);
    UploadExpectations expect = upload_expectations(head);
    std::unique_ptr<TempFile> file;
    if (route.operation == S3Operation::UploadPart) {
      auto upload_id = route.query.find("uploadId");
      file = store_.create_part_temp(route.bucket, upload_id == route.query.end() ? "" : upload_id->second);
    } else {
      file = store_.create_temp(route.bucket);
    }
    return std::make_shared<ObjectUploadSink>(std::move(file), std::move(expect), kMaxPutBytes,
                                              upload_pipeline());
  } catch (const S3Exception& e) {
    return std::make_shared<ObjectUploadSink>(e);
  } catch (const ObjectStoreError& e) {
    return std::make_shared<ObjectUploadSink>(s3_error_for(e));
  } catch (const std::exception& e) {
    return std::make_shared<ObjectUploadSink>(
        S3Exception(S3ErrorCode::InternalError, std::string("Could not start the upload: ") + e.what()));
  }
}

UploadPipeline S3Api::upload_pipeline() {
  UploadPipeline pipeline{&store_.io(), store_.disk_executor()};
  // MD5 and the page-cache copy cost about the same per byte here (bench/RESULTS.md, "S3 PUT
  // pipeline"): side by side, a piece takes the longer of the two instead of their sum.
  pipeline.hash_and_write_apart = true;
  pipeline.flush_early = store_.fsyncs();
  return pipeline;
}

UploadResult S3Api::finish_upload(const S3Route& route, HttpRequest& request) {
  // The server asks for a sink only when there is a body: an empty PUT gets its sink here.
  if (!request.body_sink) request.body_sink = open_upload(request, route);
  return static_cast<ObjectUploadSink&>(*request.body_sink).finish(request.body_complete);
}

void S3Api::check_signature(const HttpRequestHead& head, const std::string* buffered_body) const {
  if (!config_.sigv4.enabled) return;
  if (!head.headers.find("Authorization")) {
    throw S3Exception(S3ErrorCode::AccessDenied, "Access Denied: the request is not signed.");
  }
  std::string payload = head.headers.get("x-amz-content-sha256");
  if (payload.empty()) {
    throw S3Exception(S3ErrorCode::InvalidRequest, "Missing required header for this request: x-amz-content-sha256");
  }
  auto lookup = [this](const std::string& key) { return config_.sigv4.secret_for(key); };
  // The signature covers x-amz-content-sha256; whether the body matches it is checked separately
  // (here for buffered bodies, by the upload sink for streamed ones).
  auto result = aws::verify(head, std::string_view(), lookup, std::chrono::system_clock::now());
  switch (result) {
    case aws::VerifyResult::Ok: break;
    case aws::VerifyResult::UnknownKey:
      throw S3Exception(S3ErrorCode::InvalidAccessKeyId,
                        "The AWS Access Key Id you provided does not exist in our records.");
    case aws::VerifyResult::Expired:
      throw S3Exception(S3ErrorCode::RequestTimeTooSkewed,
                        "The difference between the request time and the current time is too large.");
    case aws::VerifyResult::Missing:
    case aws::VerifyResult::Malformed:
      throw S3Exception(S3ErrorCode::AuthorizationHeaderMalformed, "The authorization header is malformed.");
    case aws::VerifyResult::Mismatch:
      throw S3Exception(S3ErrorCode::SignatureDoesNotMatch,
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your key and signing method.");
  }
  if (buffered_body && payload.size() == 64 && aws::sha256_hex(*buffered_body) != payload) {
    throw S3Exception(S3ErrorCode::XAmzContentSHA256Mismatch,
                      "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
}

void S3Api::require_bucket(const std::string& bucket) const {
  if (auto problem = bucket_name_problem(bucket)) {
    throw S3Exception(S3ErrorCode::InvalidBucketName, "The specified bucket is not valid: " + *problem);
  }
  if (!store_.find_bucket(bucket)) {
    throw S3Exception(S3ErrorCode::NoSuchBucket, "The specified bucket does not exist");
  }
}

HttpResponse S3Api::error_response(const S3Exception& error, const std::string& resource,
                                   const std::string& request_id, bool head_request) {
  const S3ErrorInfo& info = s3_error_info(error.code);
  HttpResponse response;
  response.status = info.status;
  response.headers.add("x-amz-request-id", request_id);
  response.headers.add("x-amz-id-2", request_id);
  if (head_request) {
    // S3 answers HEAD errors with the status alone; clients map 404 to NotFound themselves.
    response.head_content_length = 0;
    return response;
  }
  response.headers.add("Content-Type", "application/xml");
  response.body = s3_error_xml(error.code, error.what(), resource, request_id, error.details);
  if (error.code == S3ErrorCode::SlowDown || error.code == S3ErrorCode::ServiceUnavailable) {
    response.headers.add("Retry-After", "1");
  }
  return response;
}

void S3Api::handle(HttpRequest request, HttpResponder respond) {
  if (faults_ && faults_->active()) {
    std::optional<S3Route> storage;
    const std::shared_ptr<const HttpRoute> carried = request.route;
    const S3Route& route = route_of(request, carried, storage);
    const std::string request_id = make_request_id();
    const std::string& bucket = route.bucket;
    auto fault = faults_->decide({FaultKind::S3SlowDown, FaultKind::S3InternalError, FaultKind::S3Latency}, bucket,
                                 request_id, route.key);
    std::optional<S3Exception> injected;
    if (fault && fault->kind == FaultKind::S3SlowDown) {
      injected.emplace(S3ErrorCode::SlowDown, "Please reduce your request rate. (injected fault)");
    } else if (fault && fault->kind == FaultKind::S3InternalError) {
      injected.emplace(S3ErrorCode::InternalError,
                       "We encountered an internal error. Please try again. (injected fault)");
    }
    if (injected) {
      std::string bucket_metered = bucket.empty() || bucket_name_problem(bucket) ? "" : bucket;
      metering_.record_s3(bucket_metered, is_s3_write_class(route.operation), 0, 0);
      return respond(error_response(*injected, resource_of(route), request_id, request.method == "HEAD"));
    }
    if (fault) {  // S3Latency
      auto held = std::make_shared<HttpRequest>(std::move(request));
      faults_->after(fault->rule.latency_ms, [this, held, respond, request_id]() mutable {
        handle_now(std::move(*held), std::move(respond), request_id);
      });
      return;
    }
  }
  handle_now(std::move(request), std::move(respond));
}

void S3Api::handle_now(HttpRequest request, HttpResponder respond, std::string given_id) {
  const std::string request_id = given_id.empty() ? make_request_id() : std::move(given_id);
  std::optional<S3Route> storage;
  const std::shared_ptr<const HttpRoute> carried = request.route;  // keeps the route alive
  const S3Route& route = route_of(request, carried, storage);
  const bool head = request.method == "HEAD";
  const std::string resource = resource_of(route);
  std::uint64_t bytes_in = request.body_sink ? 0 : request.body.size();
  if (auto* sink = dynamic_cast<ObjectUploadSink*>(request.body_sink.get())) bytes_in = sink->bytes_received();
  // Requests are metered under their bucket once the name is one S3 would accept.
  std::string metered_bucket = route.bucket.empty() || bucket_name_problem(route.bucket) ? "" : route.bucket;
  const S3Operation op = route.operation;
  const char* op_name = s3_operation_name(op);
  // The request counts towards the S3 time of the environment whose key signed it (time model).
  auto attribute = [this, key = access_key_of(request.headers.get("Authorization")),
                    started = std::chrono::steady_clock::now(), op, bytes_in](std::uint64_t bytes_out) {
    if (key.empty()) return;
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    metering_.s3_attribution().record(key, is_s3_write_class(op), bytes_in + bytes_out, ms);
  };

  auto fail = [this, resource, request_id, head, op_name, metered_bucket, op, bytes_in,
               attribute](const HttpResponder& reply, const S3Exception& e) {
    auto level = s3_error_info(e.code).status >= 500 ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level, "s3 {} {} refused: {} {}", op_name, resource, s3_error_info(e.code).code, e.what());
    metering_.record_s3(metered_bucket, is_s3_write_class(op), bytes_in, 0);
    attribute(0);
    reply(error_response(e, resource, request_id, head));
  };
  // Operations that answer later (after disk work) report through this.
  HttpResponder later = [this, respond, fail, metered_bucket, op, bytes_in, op_name, resource,
                         attribute](HttpResponse r) {
    if (r.status >= 300) return respond(std::move(r));
    spdlog::debug("s3 {} {} -> {}", op_name, resource, r.status);
    metering_.record_s3(metered_bucket, is_s3_write_class(op), bytes_in, 0);
    attribute(0);
    respond(std::move(r));
  };

  try {
    if (op == S3Operation::Invalid) throw S3Exception(S3ErrorCode::InvalidRequest, "Invalid request: " + route.detail);
    if (op == S3Operation::NotImplemented) {
      throw S3Exception(S3ErrorCode::NotImplemented, "A header or query you provided implies functionality that is "
                                                     "not implemented: " + route.detail);
    }
    if (op == S3Operation::MethodNotAllowed) {
      throw S3Exception(S3ErrorCode::MethodNotAllowed, "The specified method is not allowed against this resource.");
    }
    // Uploads had theirs checked when their sink was opened (which also checks the payload hash).
    if (!is_object_upload(op)) check_signature(request, &request.body);

    std::uint64_t bytes_out = 0;
    HttpResponse response;
    switch (op) {
      case S3Operation::PutObject:
        return put_object(route, request, request_id, later);
      case S3Operation::UploadPart:
        return upload_part(route, request, request_id, later);
      case S3Operation::CopyObject:
        return copy_object(route, request, request_id, later);
      case S3Operation::CompleteMultipartUpload:
        return complete_upload(route, request, request_id, later);
      case S3Operation::UploadPartCopy:
        throw S3Exception(S3ErrorCode::NotImplemented, "UploadPartCopy is not implemented by this emulator.");
      case S3Operation::ListBuckets: response = list_buckets(request_id); break;
      case S3Operation::CreateBucket: response = create_bucket(route, request, request_id); break;
      case S3Operation::HeadBucket: response = head_bucket(route, request_id); break;
      case S3Operation::DeleteBucket: response = delete_bucket(route, request_id); break;
      case S3Operation::GetBucketLocation: response = bucket_location(route, request_id); break;
      case S3Operation::ListObjectsV2: response = list_objects(route, true, request_id); break;
      case S3Operation::ListObjects: response = list_objects(route, false, request_id); break;
      case S3Operation::ListMultipartUploads: response = list_uploads(route, request_id); break;
      case S3Operation::DeleteObjects: response = delete_objects(route, request, request_id); break;
      case S3Operation::GetObject: response = get_object(route, request, false, request_id, bytes_out); break;
      case S3Operation::HeadObject: response = get_object(route, request, true, request_id, bytes_out); break;
      case S3Operation::DeleteObject: response = delete_object(route, request_id); break;
      case S3Operation::CreateMultipartUpload: response = create_upload(route, request, request_id); break;
      case S3Operation::AbortMultipartUpload: response = abort_upload(route, request_id); break;
      case S3Operation::ListParts: response = list_parts(route, request_id); break;
      default: throw S3Exception(S3ErrorCode::NotImplemented, "Not implemented.");
    }
    if (!response.headers.find("x-amz-request-id")) {
      response.headers.add("x-amz-request-id", request_id);
      response.headers.add("x-amz-id-2", request_id);
    }
    if (op == S3Operation::CreateBucket || op == S3Operation::DeleteBucket || op == S3Operation::DeleteObjects) {
      spdlog::info("s3 {} {} -> {}", op_name, resource, response.status);
    } else {
      spdlog::debug("s3 {} {} -> {}", op_name, resource, response.status);
    }
    metering_.record_s3(metered_bucket, is_s3_write_class(op), bytes_in, bytes_out);
    attribute(bytes_out);
    respond(std::move(response));
  } catch (const S3Exception& e) {
    fail(respond, e);
  } catch (const ObjectStoreError& e) {
    fail(respond, s3_error_for(e));
  } catch (const std::exception& e) {
    spdlog::error("s3 {} {} failed: {}", op_name, resource, e.what());
    fail(respond, S3Exception(S3ErrorCode::InternalError, std::string("Internal error: ") + e.what()));
  }
}

HttpResponse S3Api::list_buckets(const std::string&) {
  XmlWriter xml;
  xml.open_s3("ListAllMyBucketsResult");
  xml.open("Owner");
  xml.element("ID", config_.account_id);
  xml.element("DisplayName", "stratus");
  xml.close();
  xml.open("Buckets");
  for (const auto& b : store_.list_buckets()) {
    xml.open("Bucket");
    xml.element("Name", b.name);
    xml.element("CreationDate", iso8601(b.created_ms));
    xml.close();
  }
  xml.close();
  xml.close();
  return xml_response(200, xml.finish());
}

HttpResponse S3Api::create_bucket(const S3Route& route, const HttpRequest& request, const std::string&) {
  if (auto problem = bucket_name_problem(route.bucket)) {
    throw S3Exception(S3ErrorCode::InvalidBucketName, "The specified bucket is not valid: " + *problem);
  }
  std::string region = config_.region;
  if (auto location = parse_create_bucket_configuration(request.body)) {
    if (!location->empty()) region = *location;
  }
  store_.create_bucket(route.bucket, region);
  HttpResponse response;
  response.headers.add("Location", "/" + route.bucket);
  return response;
}

HttpResponse S3Api::head_bucket(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  HttpResponse response;
  response.headers.add("x-amz-bucket-region", store_.find_bucket(route.bucket)->region);
  response.head_content_length = 0;
  return response;
}

HttpResponse S3Api::delete_bucket(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  store_.delete_bucket(route.bucket);
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse S3Api::bucket_location(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  const std::string& region = store_.find_bucket(route.bucket)->region;
  // us-east-1 is reported as an empty constraint, as S3 does.
  return xml_response(200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"" +
                               std::string(kS3XmlNamespace) + "\">" +
                               xml_escape(region == "us-east-1" ? "" : region) + "</LocationConstraint>");
}

HttpResponse S3Api::list_objects(const S3Route& route, bool v2, const std::string&) {
  require_bucket(route.bucket);
  auto param = [&](const char* name) {
    auto it = route.query.find(name);
    return it == route.query.end() ? std::string() : it->second;
  };
  ListRequest list;
  list.prefix = param("prefix");
  list.delimiter = param("delimiter");
  std::string max_keys = param("max-keys");
  if (!max_keys.empty()) {
    long long n = -1;
    try {
      std::size_t used = 0;
      n = std::stoll(max_keys, &used);
      if (used != max_keys.size()) n = -1;
    } catch (const std::exception&) {
    }
    if (n < 0) throw S3Exception(S3ErrorCode::InvalidArgument, "Provided max-keys not an integer or within integer range");
    list.max_keys = static_cast<std::size_t>(std::min<long long>(n, 1000));
  }
  const bool url_encoding = param("encoding-type") == "url";
  if (!param("encoding-type").empty() && !url_encoding) {
    throw S3Exception(S3ErrorCode::InvalidArgument, "Invalid Encoding Method specified in Request");
  }
  std::string token = param("continuation-token");
  if (v2) {
    if (route.query.count("continuation-token")) {
      auto decoded = base64_decode(token);
      if (!decoded || decoded->rfind("k:", 0) != 0) {
        throw S3Exception(S3ErrorCode::InvalidArgument, "The continuation token provided is incorrect");
      }
      list.start_after = decoded->substr(2);
    } else {
      list.start_after = param("start-after");
    }
  } else {
    list.start_after = param("marker");
  }
  ListResult result = store_.list(route.bucket, list);
  auto enc = [url_encoding](const std::string& s) { return url_encoding ? aws::uri_encode(s, true) : s; };

  XmlWriter xml;
  xml.open_s3("ListBucketResult");
  xml.element("Name", route.bucket);
  xml.element("Prefix", enc(list.prefix));
  if (v2) {
    if (route.query.count("continuation-token")) xml.element("ContinuationToken", token);
    if (route.query.count("start-after")) xml.element("StartAfter", enc(param("start-after")));
    xml.element("KeyCount", std::to_string(result.objects.size() + result.common_prefixes.size()));
  } else {
    xml.element("Marker", enc(list.start_after));
  }
  xml.element("MaxKeys", std::to_string(list.max_keys));
  if (!list.delimiter.empty()) xml.element("Delimiter", enc(list.delimiter));
  if (url_encoding) xml.element("EncodingType", "url");
  xml.element("IsTruncated", result.truncated ? "true" : "false");
  if (result.truncated) {
    if (v2) {
      xml.element("NextContinuationToken", base64_encode("k:" + result.last_key));
    } else if (!list.delimiter.empty()) {
      xml.element("NextMarker", enc(result.last_key));
    }
  }
  const bool owner = !v2 || param("fetch-owner") == "true";
  for (const auto& object : result.objects) {
    xml.open("Contents");
    xml.element("Key", enc(object.key));
    xml.element("LastModified", iso8601(object.last_modified_ms));
    xml.element("ETag", quoted_etag(object.etag));
    xml.element("Size", std::to_string(object.size));
    if (owner) {
      xml.open("Owner");
      xml.element("ID", config_.account_id);
      xml.element("DisplayName", "stratus");
      xml.close();
    }
    xml.element("StorageClass", "STANDARD");
    xml.close();
  }
  for (const auto& prefix : result.common_prefixes) {
    xml.open("CommonPrefixes");
    xml.element("Prefix", enc(prefix));
    xml.close();
  }
  xml.close();
  return xml_response(200, xml.finish());
}

HttpResponse S3Api::list_uploads(const S3Route& route, const std::string&) {
  require_bucket(route.bucket);
  XmlWriter xml;
  xml.open_s3("ListMultipartUploadsResult");
  xml.element("Bucket", route.bucket);
  xml.element("KeyMarker", "");
  xml.element("UploadIdMarker", "");
  xml.element("MaxUploads", "1000");
  xml.element("IsTruncated", "false");
  for (const auto& upload : store_.list_uploads(route.bucket)) {
    xml.open("Upload");
    xml.element("Key", upload.key);
    xml.element("UploadId", upload.id);
    xml.element("Initiated", iso8601(upload.created_ms));
    xml.element("StorageClass", "STANDARD");
    xml.close();
  }
  xml.close();
  return xml_response(200, xml.finish());
}

HttpResponse S3Api::delete_objects(const S3Route& route, const HttpRequest& request, const std::string&) {
  require_bucket(route.bucket);
  DeleteObjectsRequest parsed;
  try {
    parsed = parse_delete_objects(request.body);
  } catch (const S3XmlError& e) {
    throw S3Exception(S3ErrorCode::MalformedXML, std::string("The XML you provided was not well-formed or did not "
                                                             "validate against our published schema: ") + e.what());
  }
  XmlWriter xml;
  xml.open_s3("DeleteResult");
  for (const auto& object : parsed.objects) {
    if (auto problem = object_key_problem(object.key)) {
      xml.open("Error");
      xml.element("Key", object.key);
      xml.element("Code", "InvalidArgument");
      xml.element("Message", *problem);
      xml.close();
      continue;
    }
    store_.delete_object(route.bucket, object.key);
    if (!parsed.quiet) {
      xml.open("Deleted");
      xml.element("Key", object.key);
      xml.close();
    }
  }
  xml.close();
  return xml_response(200, xml.finish());
}

}  // namespace stratus::emulator::s3
