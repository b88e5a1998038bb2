#include "stratus/emulator/s3/object_upload.hpp"

#include <algorithm>
#include <fcntl.h>

#include <atomic>
#include <cctype>

#include <boost/asio/post.hpp>

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
                                   std::uint64_t max_bytes, std::optional<UploadPipeline> pipeline)
    : file_(std::move(file)), expect_(std::move(expectations)), max_bytes_(max_bytes), pipeline_(std::move(pipeline)) {

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
  return process(piece);
}

void ObjectUploadSink::write_async(HttpBodyPiece piece, bool last, Ready ready) {
  if (!pipeline_) return HttpBodySink::write_async(std::move(piece), last, std::move(ready));
  received_ += piece.size;
  buffer_capacity_ = std::max(buffer_capacity_, piece.capacity);
  if (worker_failed_) {
    // Stop at once; the pieces still out are drained before anyone looks at the failure.
    spare_buffers_.push_back(std::move(piece.bytes));
    waiting_ = std::move(ready);
    waiting_for_drain_ = true;
    if (in_flight_ == 0) piece_done(nullptr, false);
    return;
  }
  if (in_flight_ == 0 && piece.size <= kInlinePieceBytes) {
    bool ok = piece.size == 0 || process(std::string_view(piece.bytes.get(), piece.size));
    return ready(ok, std::move(piece.bytes));
  }
  ++in_flight_;
  // Made on the first piece that leaves the io thread: a small object never needs them.
  if (!strand_) strand_.emplace(boost::asio::make_strand(pipeline_->workers));
  if (pipeline_->hash_and_write_apart && !decoder_) {
    if (!write_strand_) write_strand_.emplace(boost::asio::make_strand(pipeline_->workers));
    send_apart(std::move(piece));
  } else {
    boost::asio::post(*strand_, [self = shared_from_this(), piece = std::move(piece)]() mutable {
      bool ok = self->process(std::string_view(piece.bytes.get(), piece.size));
      auto* sink = self.get();
      // The sink (and with it the temporary file) is only ever let go on the io thread.
      boost::asio::post(*sink->pipeline_->io, [self = std::move(self), buffer = std::move(piece.bytes), ok]() mutable {
        self->piece_done(std::move(buffer), ok);
      });
    });
  }
  if (!last && in_flight_ < kMaxPiecesInFlight) return ready(true, spare_buffer());
  waiting_ = std::move(ready);
  waiting_for_drain_ = last;
}

namespace {

// A piece hashed on one strand and written on another; whichever finishes second reports it, and
// takes the piece's hold on the sink along to the io thread (so the sink is let go only there).
struct PieceApart {
  PieceApart(HttpBodyPiece p, std::shared_ptr<ObjectUploadSink> s) : piece(std::move(p)), sink(std::move(s)) {}
  HttpBodyPiece piece;
  std::shared_ptr<ObjectUploadSink> sink;
  std::atomic<int> left{2};
  bool hashed = false;
  bool written = false;
};

}  // namespace

template <class Work>
bool ObjectUploadSink::guarded(std::optional<S3Exception>& failure, Work&& work) {
  if (failure) return true;  // reported already
  try {
    work();
  } catch (const S3Exception& e) {
    failure.emplace(e);
    return false;
  } catch (const std::exception& e) {
    failure.emplace(S3ErrorCode::InternalError, std::string("Could not store the object: ") + e.what());
    return false;
  }
  return true;
}

void ObjectUploadSink::send_apart(HttpBodyPiece piece) {
  auto shared = std::make_shared<PieceApart>(std::move(piece), shared_from_this());
  auto one_done = [io = pipeline_->io](std::shared_ptr<PieceApart> p) {
    if (p->left.fetch_sub(1) != 1) return;
    auto sink = std::move(p->sink);
    boost::asio::post(*io, [sink = std::move(sink), p = std::move(p)]() mutable {
      sink->piece_done(std::move(p->piece.bytes), p->hashed && p->written);
    });
  };
  boost::asio::post(*strand_, [this, p = shared, one_done]() mutable {
    std::string_view data(p->piece.bytes.get(), p->piece.size);
    p->hashed = guarded(hash_failure_, [&] { hash(data); });
    one_done(std::move(p));
  });
  boost::asio::post(*write_strand_, [this, p = std::move(shared), one_done]() mutable {
    std::string_view data(p->piece.bytes.get(), p->piece.size);
    p->written = guarded(write_failure_, [&] { store(data); });
    one_done(std::move(p));
  });
}

void ObjectUploadSink::piece_done(std::unique_ptr<char[]> buffer, bool ok) {
  if (buffer) {
    --in_flight_;
    spare_buffers_.push_back(std::move(buffer));
  }
  if (!ok) worker_failed_ = true;
  if (!waiting_) return;
  const bool drain = waiting_for_drain_ || worker_failed_;
  if (drain ? in_flight_ > 0 : in_flight_ >= kMaxPiecesInFlight) return;
  Ready ready = std::move(waiting_);
  waiting_ = nullptr;
  ready(!worker_failed_, spare_buffer());
}

std::unique_ptr<char[]> ObjectUploadSink::spare_buffer() {
  if (spare_buffers_.empty()) return std::make_unique_for_overwrite<char[]>(buffer_capacity_);
  auto buffer = std::move(spare_buffers_.back());
  spare_buffers_.pop_back();
  return buffer;
}

bool ObjectUploadSink::process(std::string_view piece) {
  return guarded(failure_, [&] {
    if (!decoder_) return consume(piece);
    if (!decoder_->feed(piece, [this](std::string_view data) { consume(data); })) {
      throw S3Exception(S3ErrorCode::InvalidRequest, "Malformed aws-chunked body: " + decoder_->error());
    }
  });
}

void ObjectUploadSink::consume(std::string_view data) {
  hash(data);
  store(data);
}

void ObjectUploadSink::hash(std::string_view data) {
  if (data.empty()) return;
  if (size_ + data.size() > max_bytes_) {
    throw S3Exception(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size");
  }
  md5_.update(data.data(), data.size());
  if (checksum_) checksum_->update(data.data(), data.size());
  if (sha256_) sha256_->update(data.data(), data.size());
  size_ += data.size();
}

void ObjectUploadSink::store(std::string_view data) {
  if (data.empty()) return;
  file_->append(data);
  written_ += data.size();
  // With fsync on, the final flush then waits only for the tail: the rest is on its way already.
  if (pipeline_ && pipeline_->flush_early && written_ - flush_started_ >= kFlushEarlyBytes) {
    ::sync_file_range(file_->fd(), static_cast<off_t>(flush_started_), static_cast<off_t>(written_ - flush_started_),
                      SYNC_FILE_RANGE_WRITE);
    flush_started_ = written_;
  }
}

UploadResult ObjectUploadSink::finish(bool body_complete) {
  if (failure_) throw *failure_;
  if (hash_failure_) throw *hash_failure_;
  if (write_failure_) throw *write_failure_;
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
