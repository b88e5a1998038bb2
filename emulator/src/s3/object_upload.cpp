#include "stratus/emulator/s3/object_upload.hpp"

#include <algorithm>
#include <cctype>

#include "stratus/common/base64.hpp"
#include "stratus/common/sigv4.hpp"

namespace stratus::emulator::s3 {

namespace {

bool is_hex_digest(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

UploadExpectations upload_expectations(const HttpRequestHead& head) {
  UploadExpectations e;
  std::string sha = head.headers.get("x-amz-content-sha256");
  std::string encoding = lower(head.headers.get("Content-Encoding"));
  e.aws_chunked = encoding.find("aws-chunked") != std::string::npos || sha.rfind("STREAMING-", 0) == 0;
  if (is_hex_digest(sha)) e.payload_sha256 = lower(sha);
  if (const std::string* decoded = head.headers.find("x-amz-decoded-content-length")) {
    try {
      std::size_t used = 0;
      e.decoded_length = std::stoull(*decoded, &used);
      if (used != decoded->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw S3Exception(S3ErrorCode::InvalidArgument, "x-amz-decoded-content-length is not a number");
    }
  }
  if (const std::string* md5 = head.headers.find("Content-MD5")) {
    auto raw = base64_decode(*md5);
    if (!raw || raw->size() != 16) {
      throw S3Exception(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified was invalid.");
    }
    e.content_md5 = *md5;
  }
  // A checksum value in a header, or announced for the trailer.
  for (const auto& field : head.headers.fields()) {
    if (auto alg = checksum_algorithm_from_header(field.name)) {
      e.checksum = alg;
      e.checksum_value = field.value;
    }
  }
  std::string trailer = lower(head.headers.get("x-amz-trailer"));
  if (!trailer.empty()) {
    auto alg = checksum_algorithm_from_header(trailer);
    if (!alg) throw S3Exception(S3ErrorCode::InvalidRequest, "Unsupported x-amz-trailer: " + trailer);
    if (!e.aws_chunked) {
      throw S3Exception(S3ErrorCode::InvalidRequest, "x-amz-trailer requires Content-Encoding: aws-chunked");
    }
    e.checksum = alg;
    e.checksum_value.clear();
    e.checksum_in_trailer = true;
  }
  if (!e.checksum) {
    std::string named = head.headers.get("x-amz-sdk-checksum-algorithm");
    if (named.empty()) named = head.headers.get("x-amz-checksum-algorithm");
    if (!named.empty()) {
      auto alg = checksum_algorithm_from_name(named);
      if (!alg) throw S3Exception(S3ErrorCode::InvalidRequest, "Unsupported checksum algorithm: " + named);
      e.checksum = alg;
    }
  }
  return e;
}

ObjectUploadSink::ObjectUploadSink(std::unique_ptr<TempFile> file, UploadExpectations expectations,
                                   std::uint64_t max_bytes)
    : file_(std::move(file)), expect_(std::move(expectations)), max_bytes_(max_bytes) {
  if (expect_.aws_chunked) {
    AwsChunkedDecoder::Limits limits;
    limits.max_decoded = max_bytes_;
    decoder_.emplace(limits);
  }
  if (expect_.checksum) checksum_.emplace(*expect_.checksum);
  if (!expect_.payload_sha256.empty()) sha256_.emplace(ChecksumAlgorithm::sha256);
}

ObjectUploadSink::ObjectUploadSink(S3Exception failure) : failure_(std::move(failure)) {}

bool ObjectUploadSink::write(std::string_view piece) {
  received_ += piece.size();
  if (failure_) return true;  // swallow: the answer is already decided
  try {
    if (decoder_) {
      bool ok = decoder_->feed(piece, [this](std::string_view data) { consume(data); });
      if (!ok) {
        failure_.emplace(S3ErrorCode::InvalidRequest, "Malformed aws-chunked body: " + decoder_->error());
        return false;
      }
    } else {
      consume(piece);
    }
  } catch (const S3Exception& e) {
    failure_.emplace(e);
    return false;
  } catch (const std::exception& e) {
    failure_.emplace(S3ErrorCode::InternalError, std::string("Could not store the object: ") + e.what());
    return false;
  }
  return true;
}

void ObjectUploadSink::consume(std::string_view data) {
  if (data.empty()) return;
  if (size_ + data.size() > max_bytes_) {
    throw S3Exception(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size");
  }
  md5_.update(data.data(), data.size());
  if (checksum_) checksum_->update(data.data(), data.size());
  if (sha256_) sha256_->update(data.data(), data.size());
  file_->append(data);
  size_ += data.size();
}

UploadResult ObjectUploadSink::finish(bool body_complete) {
  if (failure_) throw *failure_;
  if (!body_complete) {
    throw S3Exception(S3ErrorCode::IncompleteBody, "You did not provide the number of bytes specified by the Content-Length HTTP header.");
  }
  std::string checksum_value = expect_.checksum_value;
  if (decoder_) {
    if (!decoder_->end_of_input()) {
      throw S3Exception(S3ErrorCode::IncompleteBody, "The aws-chunked body is incomplete: " + decoder_->error());
    }
    if (expect_.checksum_in_trailer) {
      std::string wanted(checksum_header_name(*expect_.checksum));
      for (const auto& [name, value] : decoder_->trailers()) {
        if (name == wanted) checksum_value = value;
      }
      if (checksum_value.empty()) {
        throw S3Exception(S3ErrorCode::InvalidRequest, "The trailer " + wanted + " announced in x-amz-trailer is missing.");
      }
    }
  }
  if (expect_.decoded_length && *expect_.decoded_length != size_) {
    throw S3Exception(S3ErrorCode::IncompleteBody,
                      "x-amz-decoded-content-length says " + std::to_string(*expect_.decoded_length) +
                          " bytes but the body decoded to " + std::to_string(size_));
  }
  UploadResult result;
  result.size = size_;
  std::string md5_raw = md5_.digest();
  result.md5_hex = aws::to_hex(md5_raw);
  if (!expect_.content_md5.empty() && base64_decode(expect_.content_md5) != md5_raw) {
    throw S3Exception(S3ErrorCode::BadDigest, "The Content-MD5 you specified did not match what we received.");
  }
  if (sha256_ && aws::to_hex(sha256_->digest()) != expect_.payload_sha256) {
    throw S3Exception(S3ErrorCode::XAmzContentSHA256Mismatch,
                      "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  if (checksum_) {
    std::string computed = checksum_->digest_base64();
    if (!checksum_value.empty() && checksum_value != computed) {
      throw S3Exception(S3ErrorCode::BadDigest,
                        "The " + std::string(checksum_algorithm_name(*expect_.checksum)) +
                            " you specified did not match the calculated checksum.");
    }
    result.checksum = expect_.checksum;
    result.checksum_value = computed;
  }
  result.file = std::move(file_);
  return result;
}

}  // namespace stratus::emulator::s3
