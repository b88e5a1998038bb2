// Fuzzes the S3 wire components: the aws-chunked decoder, the S3 XML parsers (and the writer they
// must agree with), parse_range, bucket/key validation and the checksums.
//
// Every input is used whole by each check:
//   - as an aws-chunked body, decoded in one piece and again cut at split points drawn from the
//     input itself: both runs must agree on success, error, data and trailers;
//   - as a payload: encoded by a small reference encoder (chunk sizes and trailers drawn from the
//     input), decoded at drawn split points, and compared with the original (the happy path that
//     random bytes rarely reach);
//   - as an XML body for DeleteObjects, CompleteMultipartUpload and CreateBucketConfiguration; a
//     parsed DeleteObjects is written back with XmlWriter and must parse to the same request;
//   - as material for CompleteMultipartUpload and Delete documents written with XmlWriter, which
//     must parse back to what was written;
//   - as a Range header against object sizes drawn from the input;
//   - as a bucket name and an object key;
//   - as checksum input, fed in drawn pieces versus at once.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "stratus/common/checksum.hpp"
#include "stratus/emulator/s3/aws_chunked.hpp"
#include "stratus/emulator/s3/s3_names.hpp"
#include "stratus/emulator/s3/s3_xml.hpp"

namespace {

namespace s3 = stratus::emulator::s3;

// A deterministic stream of numbers drawn from the input (FNV-1a seed, then xorshift), so a
// crashing input replays exactly.
class Draw {
 public:
  explicit Draw(std::string_view input) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : input) h = (h ^ c) * 1099511628211ull;
    state_ = h | 1;
  }
  std::uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

std::vector<std::size_t> draw_cuts(Draw& draw, std::size_t size) {
  std::vector<std::size_t> cuts;
  std::size_t count = draw.below(8);
  for (std::size_t i = 0; i < count; ++i) cuts.push_back(draw.below(size + 1));
  if (draw.below(4) == 0) {  // sometimes byte by byte over a stretch
    std::size_t start = draw.below(size + 1);
    for (std::size_t i = start; i < size && i < start + 64; ++i) cuts.push_back(i);
  }
  std::sort(cuts.begin(), cuts.end());
  return cuts;
}

struct DecodeResult {
  bool ok;
  bool finished;
  bool complete;
  std::string error;
  std::string data;
  std::vector<std::pair<std::string, std::string>> trailers;
  std::vector<std::string> signatures;
  std::uint64_t decoded;
};

// Small limits, so inputs of a few hundred bytes reach every limit and their interplay.
s3::AwsChunkedDecoder::Limits small_limits() {
  s3::AwsChunkedDecoder::Limits limits;
  limits.max_line = 48;
  limits.max_trailer_bytes = 96;
  limits.max_decoded = 200;
  limits.max_signatures = 2;
  return limits;
}

DecodeResult decode(std::string_view encoded, const std::vector<std::size_t>& cuts,
                    s3::AwsChunkedDecoder::Limits limits) {
  s3::AwsChunkedDecoder d(limits);
  DecodeResult r;
  r.ok = true;
  std::size_t at = 0;
  auto sink = [&](std::string_view piece) {
    FUZZ_CHECK(!piece.empty());  // never called without data
    r.data.append(piece);
  };
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : encoded.size();
    bool fed = d.feed(encoded.substr(at, end - at), sink);
    FUZZ_CHECK(fed == !d.failed());
    if (!fed) r.ok = false;
    at = end;
  }
  r.finished = d.finished();
  r.complete = d.end_of_input();
  r.error = d.error();
  r.trailers = d.trailers();
  r.signatures = d.chunk_signatures();
  r.decoded = d.decoded_size();
  FUZZ_CHECK(r.decoded == r.data.size());
  FUZZ_CHECK(d.encoded_offset() <= encoded.size());
  FUZZ_CHECK(r.data.size() <= encoded.size());
  FUZZ_CHECK(r.signatures.size() <= limits.max_signatures);
  if (r.complete) {
    FUZZ_CHECK(r.ok && r.error.empty() && d.finished());
  } else {
    FUZZ_CHECK(!r.error.empty());
  }
  for (const auto& [name, value] : r.trailers) {
    FUZZ_CHECK(!name.empty());
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z') && c != ':' && c != ' ');
    FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.back() != ' '));
  }
  return r;
}

void check_decoder_agrees_on_splits(std::string_view input, Draw& draw) {
  DecodeResult whole = decode(input, {}, small_limits());
  DecodeResult split = decode(input, draw_cuts(draw, input.size()), small_limits());
  FUZZ_CHECK(whole.ok == split.ok);
  FUZZ_CHECK(whole.complete == split.complete);
  FUZZ_CHECK_MSG(whole.error == split.error, "'%s' vs '%s'", whole.error.c_str(),
                 split.error.c_str());
  FUZZ_CHECK(whole.data == split.data);
  FUZZ_CHECK(whole.trailers == split.trailers);
  FUZZ_CHECK(whole.signatures == split.signatures);
}

std::string hex(std::size_t n, bool upper) {
  static const char* lower_digits = "0123456789abcdef";
  static const char* upper_digits = "0123456789ABCDEF";
  const char* digits = upper ? upper_digits : lower_digits;
  std::string out;
  do {
    out.insert(out.begin(), digits[n & 15]);
    n >>= 4;
  } while (n != 0);
  return out;
}

// The reference encoder: what real clients send, in the variants the decoder must accept.
void check_round_trip(std::string_view payload, Draw& draw) {
  const bool signed_chunks = draw.below(2) == 0;
  const bool upper = draw.below(4) == 0;
  const std::string signature(64, "0123456789abcdef"[draw.below(16)]);
  auto header = [&](std::size_t n) {
    std::string h = hex(n, upper);
    if (signed_chunks) h += ";chunk-signature=" + signature;
    return h + "\r\n";
  };
  std::string encoded;
  std::size_t at = 0;
  while (at < payload.size()) {
    std::size_t n = std::min(payload.size() - at, 1 + draw.below(64));
    encoded += header(n);
    encoded.append(payload.substr(at, n));
    encoded += "\r\n";
    at += n;
  }
  encoded += header(0);
  std::vector<std::pair<std::string, std::string>> trailers;
  std::size_t trailer_count = draw.below(3);
  const bool minio_style = draw.below(4) == 0;
  for (std::size_t i = 0; i < trailer_count; ++i) {
    std::string value = stratus::Checksum(stratus::ChecksumAlgorithm::crc32).digest_base64();
    std::string name = i == 0 ? "x-amz-checksum-crc32" : "x-amz-meta-" + std::to_string(i);
    encoded += name + ":" + value + (minio_style ? "\n\r\n" : "\r\n");
    trailers.emplace_back(name, value);
  }
  const bool js_style_ending = trailer_count == 0 && draw.below(4) == 0;  // "0\r\n" and stop
  if (!js_style_ending) encoded += "\r\n";

  DecodeResult r = decode(encoded, draw_cuts(draw, encoded.size()), {});
  FUZZ_CHECK_MSG(r.complete, "%s", r.error.c_str());
  FUZZ_CHECK(r.data == payload);
  FUZZ_CHECK(r.trailers == trailers);
}

void check_xml(std::string_view input) {
  try {
    s3::DeleteObjectsRequest request = s3::parse_delete_objects(input);
    FUZZ_CHECK(!request.objects.empty() && request.objects.size() <= s3::kMaxDeleteObjects);
    s3::XmlWriter xml;
    xml.open_s3("Delete");
    if (request.quiet) xml.element("Quiet", true);
    for (const auto& object : request.objects) {
      FUZZ_CHECK(stratus::emulator::s3::is_valid_utf8(object.key));
      FUZZ_CHECK(object.key.find('\0') == std::string::npos);
      xml.open("Object").element("Key", object.key);
      if (!object.version_id.empty()) xml.element("VersionId", object.version_id);
      xml.close();
    }
    // What we write, we read back identically.
    s3::DeleteObjectsRequest again = s3::parse_delete_objects(xml.finish());
    FUZZ_CHECK(again.quiet == request.quiet);
    FUZZ_CHECK(again.objects.size() == request.objects.size());
    for (std::size_t i = 0; i < again.objects.size(); ++i) {
      FUZZ_CHECK(again.objects[i].key == request.objects[i].key);
      FUZZ_CHECK(again.objects[i].version_id == request.objects[i].version_id);
    }
  } catch (const s3::S3XmlError&) {
  }
  try {
    auto parts = s3::parse_complete_multipart_upload(input);
    FUZZ_CHECK(parts.size() <= s3::kMaxCompletedParts);
    for (const auto& part : parts) FUZZ_CHECK(part.part_number >= 0);
  } catch (const s3::S3XmlError&) {
  }
  try {
    auto location = s3::parse_create_bucket_configuration(input);
    if (location) FUZZ_CHECK(!location->empty());
  } catch (const s3::S3XmlError&) {
  }
}

// Characters any XML 1.0 document can carry (escaped or not); C0 controls other than TAB/LF/CR
// cannot appear even as references.
std::string xml_safe_slice(std::string_view input, Draw& draw, std::size_t max) {
  std::size_t start = draw.below(input.size() + 1);
  std::string out(input.substr(start, draw.below(max + 1)));
  for (auto& c : out) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u >= 0x80) c = '?';
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Structured documents built from the input with XmlWriter must parse back to what was written
// (random bytes rarely form a valid CompleteMultipartUpload on their own).
void check_xml_round_trips(std::string_view input, Draw& draw) {
  static constexpr stratus::ChecksumAlgorithm kAlgorithms[] = {
      stratus::ChecksumAlgorithm::crc32, stratus::ChecksumAlgorithm::crc32c,
      stratus::ChecksumAlgorithm::crc64nvme, stratus::ChecksumAlgorithm::sha1,
      stratus::ChecksumAlgorithm::sha256};
  std::vector<s3::CompletedPart> parts(draw.below(6));
  s3::XmlWriter complete;
  complete.open_s3("CompleteMultipartUpload");
  for (auto& part : parts) {
    part.part_number = static_cast<int>(draw.below(20000));
    part.etag = std::string(trim(xml_safe_slice(input, draw, 40)));
    complete.open("Part").element("ETag", part.etag).element("PartNumber", part.part_number);
    for (auto algorithm : kAlgorithms) {
      if (draw.below(3) != 0) continue;
      std::string value(trim(xml_safe_slice(input, draw, 48)));
      complete.element(stratus::checksum_xml_element(algorithm), value);
      part.checksums[algorithm] = value;
    }
    if (draw.below(4) == 0) complete.element("Future", xml_safe_slice(input, draw, 10));
    complete.close();
  }
  auto parsed = s3::parse_complete_multipart_upload(complete.finish());
  FUZZ_CHECK(parsed.size() == parts.size());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    FUZZ_CHECK(parsed[i].part_number == parts[i].part_number);
    FUZZ_CHECK(parsed[i].etag == parts[i].etag);
    FUZZ_CHECK(parsed[i].checksums == parts[i].checksums);
  }

  std::vector<s3::ObjectToDelete> objects(1 + draw.below(5));
  s3::XmlWriter del;
  del.open_s3("Delete");
  const bool quiet = draw.below(2) == 0;
  if (quiet || draw.below(2) == 0) del.element("Quiet", quiet);
  for (auto& object : objects) {
    object.key = xml_safe_slice(input, draw, 64);
    // A literal CR reaches the parser as LF (XML line-end normalisation); xml_escape sends it as
    // &#13;, which survives.
    del.open("Object").element("Key", object.key);
    if (draw.below(2) == 0) {
      object.version_id = std::string(trim(xml_safe_slice(input, draw, 20)));
      del.element("VersionId", object.version_id);
    }
    del.close();
  }
  auto request = s3::parse_delete_objects(del.finish());
  FUZZ_CHECK(request.quiet == quiet);
  FUZZ_CHECK(request.objects.size() == objects.size());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    FUZZ_CHECK(request.objects[i].key == objects[i].key);
    FUZZ_CHECK(request.objects[i].version_id == objects[i].version_id);
  }
}

void check_range(std::string_view input, Draw& draw) {
  std::string_view header = input.substr(0, input.find('\n'));
  const std::uint64_t sizes[] = {0, 1, 2, 100, draw.next() % 1000000, draw.next(), UINT64_MAX};
  for (std::uint64_t size : sizes) {
    s3::ByteRange r{7, 7};
    s3::RangeOutcome outcome = s3::parse_range(header, size, r);
    s3::ByteRange again{7, 7};
    FUZZ_CHECK(s3::parse_range(header, size, again) == outcome);
    if (outcome == s3::RangeOutcome::partial) {
      FUZZ_CHECK(size > 0);
      FUZZ_CHECK(r.length >= 1);
      FUZZ_CHECK(r.offset <= size - 1);
      FUZZ_CHECK(r.length <= size - r.offset);
      FUZZ_CHECK(r.offset == again.offset && r.length == again.length);
    } else {
      FUZZ_CHECK(r.offset == 7 && r.length == 7);
    }
  }
}

void check_names(std::string_view input) {
  if (!s3::bucket_name_problem(input)) {
    FUZZ_CHECK(input.size() >= 3 && input.size() <= 63);
    for (char c : input) {
      FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-');
    }
    FUZZ_CHECK(input.find("..") == std::string_view::npos);
  }
  if (!s3::object_key_problem(input)) {
    FUZZ_CHECK(!input.empty() && input.size() <= 1024);
    FUZZ_CHECK(s3::is_valid_utf8(input));
  }
}

void check_checksums(std::string_view input, Draw& draw) {
  for (auto algorithm :
       {stratus::ChecksumAlgorithm::crc32, stratus::ChecksumAlgorithm::crc32c,
        stratus::ChecksumAlgorithm::crc64nvme, stratus::ChecksumAlgorithm::sha256}) {
    stratus::Checksum whole(algorithm);
    whole.update(input);
    stratus::Checksum pieces(algorithm);
    std::size_t at = 0;
    for (std::size_t cut : draw_cuts(draw, input.size())) {
      pieces.update(input.substr(at, cut - at));
      at = cut;
    }
    pieces.update(input.substr(at));
    FUZZ_CHECK(whole.digest() == pieces.digest());
    FUZZ_CHECK(whole.digest().size() == stratus::checksum_digest_size(algorithm));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Draw draw(input);
  check_decoder_agrees_on_splits(input, draw);
  check_round_trip(input, draw);
  check_xml(input);
  check_xml_round_trips(input, draw);
  check_range(input, draw);
  check_names(input);
  check_checksums(input, draw);
  return 0;
}
