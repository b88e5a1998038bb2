#include "stratus/emulator/s3/aws_chunked.hpp"

#include <algorithm>
#include <cstring>

#include "stratus/common/hex.hpp"

namespace stratus::emulator::s3 {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

unsigned hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  return static_cast<unsigned>(c - 'A' + 10);
}

// RFC 9110 token characters: what a header or chunk-extension name may consist of.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

bool is_ctl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7F;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// A short, printable excerpt of hostile input for an error message.
std::string excerpt(std::string_view s) {
  static constexpr std::size_t kMax = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7F && u != '\\' && u != '\'') {
      out.push_back(static_cast<char>(u));
    } else {
      out.append("\\x").append(byte_hex(u));
    }
  }
  if (s.size() > kMax) out += "...";
  out += "'";
  return out;
}

}  // namespace

AwsChunkedDecoder::AwsChunkedDecoder() : AwsChunkedDecoder(Limits{}) {}

AwsChunkedDecoder::AwsChunkedDecoder(Limits limits) : limits_(limits) {}

bool AwsChunkedDecoder::fail(std::string what, std::uint64_t at) {
  if (state_ != State::failed) {
    state_ = State::failed;
    error_ = "aws-chunked: " + std::move(what) + " at encoded offset " + std::to_string(at);
  }
  return false;
}

std::optional<std::string_view> AwsChunkedDecoder::trailer(std::string_view lower_case_name) const {
  for (const auto& [name, value] : trailers_) {
    if (name == lower_case_name) return std::string_view(value);
  }
  return std::nullopt;
}

std::size_t AwsChunkedDecoder::take_line(std::string_view in, bool lf_allowed_inside,
                                         bool& complete) {
  complete = false;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const void* hit = std::memchr(in.data() + pos, '\n', in.size() - pos);
    std::size_t end =
        hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - in.data()) : in.size();
    // One byte of slack for the '\r' that ends the line and is stripped below.
    if (line_.size() + (end - pos) > limits_.max_line + 1) {
      fail("line longer than " + std::to_string(limits_.max_line) + " bytes", line_start_);
      return pos;
    }
    line_.append(in.data() + pos, end - pos);
    pos = end;
    if (hit == nullptr) break;
    ++pos;  // the '\n'
    if (!line_.empty() && line_.back() == '\r') {
      line_.pop_back();
      complete = true;
      return pos;
    }
    // A bare LF. Leniency: minio-go ends each trailer field with "\n" before the CRLF
    // ("name:value\n\r\n"), so inside the trailer section it separates fields; anywhere else the
    // framing is broken.
    if (!lf_allowed_inside) {
      fail("line ends in a bare LF instead of CRLF", line_start_);
      return pos;
    }
    if (line_.size() + 1 > limits_.max_line) {
      fail("line longer than " + std::to_string(limits_.max_line) + " bytes", line_start_);
      return pos;
    }
    line_.push_back('\n');
  }
  return pos;
}

bool AwsChunkedDecoder::parse_size_line() {
  std::string_view s = line_;
  std::size_t i = 0;
  std::uint64_t size = 0;
  while (i < s.size() && is_hex(s[i])) {
    if (size > (UINT64_MAX >> 4)) {
      return fail("chunk size " + excerpt(s.substr(0, i + 1)) + " overflows 64 bits", line_start_);
    }
    size = size * 16 + hex_value(s[i]);
    ++i;
  }
  if (i == 0) return fail("chunk size is not hexadecimal: " + excerpt(s), line_start_);

  // Chunk extensions: *( BWS ";" BWS [name [BWS "=" BWS value]] ) BWS. Only chunk-signature means
  // anything; an empty extension ("5;") is accepted because minio-go's unsigned encoder has written
  // one.
  bool have_signature = false;
  auto skip_blanks = [&] {
    while (i < s.size() && is_blank(s[i])) ++i;
  };
  skip_blanks();
  while (i < s.size()) {
    if (s[i] != ';') {
      return fail("malformed chunk header " + excerpt(s), line_start_ + i);
    }
    ++i;
    skip_blanks();
    std::size_t name_start = i;
    while (i < s.size() && is_tchar(s[i])) ++i;
    std::string_view name = s.substr(name_start, i - name_start);
    skip_blanks();
    std::optional<std::string_view> value;
    if (i < s.size() && s[i] == '=') {
      ++i;
      skip_blanks();
      std::size_t value_start = i;
      while (i < s.size() && s[i] != ';' && !is_ctl(s[i])) ++i;
      value = trim_blanks(s.substr(value_start, i - value_start));
      if (name.empty() || value->empty()) {
        return fail("malformed chunk extension in " + excerpt(s), line_start_ + name_start);
      }
    }
    if (iequals(name, "chunk-signature")) {
      if (have_signature) return fail("two chunk-signature extensions", line_start_ + name_start);
      have_signature = true;
      if (!value || value->size() != 64 || !std::all_of(value->begin(), value->end(), is_hex)) {
        return fail("chunk-signature is not 64 hex digits", line_start_ + name_start);
      }
      if (signatures_.size() < limits_.max_signatures) {
        std::string sig(*value);
        std::transform(sig.begin(), sig.end(), sig.begin(), lower);
        signatures_.push_back(std::move(sig));
      } else {
        ++signatures_dropped_;
      }
    }
    skip_blanks();
  }

  ++chunks_;
  if (size == 0) {
    state_ = State::trailer_line;
    return true;
  }
  if (size > limits_.max_decoded - decoded_) {
    return fail(
        "decoded body would exceed the limit of " + std::to_string(limits_.max_decoded) + " bytes",
        line_start_);
  }
  remaining_ = size;
  state_ = State::data;
  return true;
}

bool AwsChunkedDecoder::parse_trailer_line() {
  if (line_.empty()) {
    state_ = State::done;
    return true;
  }
  std::string_view rest = line_;
  while (!rest.empty()) {
    auto lf = rest.find('\n');
    std::string_view field = trim_blanks(rest.substr(0, lf));
    rest = lf == std::string_view::npos ? std::string_view{} : rest.substr(lf + 1);
    if (field.empty()) continue;
    auto colon = field.find(':');
    if (colon == std::string_view::npos) {
      return fail("trailer without ':' " + excerpt(field), line_start_);
    }
    // Leniency: S3 accepts blanks on either side of the ':'.
    std::string_view name = trim_blanks(field.substr(0, colon));
    std::string_view value = trim_blanks(field.substr(colon + 1));
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
      return fail("invalid trailer name " + excerpt(name), line_start_);
    }
    if (std::any_of(value.begin(), value.end(), [](char c) { return is_ctl(c) && c != '\t'; })) {
      return fail("control character in trailer value " + excerpt(value), line_start_);
    }
    std::string lowered(name);
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), lower);
    trailers_.emplace_back(std::move(lowered), std::string(value));
  }
  return true;
}

bool AwsChunkedDecoder::feed(std::string_view in,
                             const std::function<void(std::string_view)>& on_data) {
  while (!in.empty()) {
    switch (state_) {
      case State::size_line:
      case State::trailer_line: {
        const bool trailer = state_ == State::trailer_line;
        // The trailer budget is offered one byte past its end, so the first limit crossed in byte
        // order (line length or trailer size) is the one reported, however the body was split.
        std::string_view window = in;
        if (trailer) window = in.substr(0, limits_.max_trailer_bytes - trailer_bytes_ + 1);
        bool complete = false;
        std::size_t used = take_line(window, trailer, complete);
        if (failed()) return false;
        offset_ += used;
        in.remove_prefix(used);
        if (trailer) {
          trailer_bytes_ += used;
          if (trailer_bytes_ > limits_.max_trailer_bytes) {
            return fail("trailer section longer than " + std::to_string(limits_.max_trailer_bytes) +
                            " bytes",
                        line_start_);
          }
        }
        if (!complete) break;  // the rest of the line is in a later piece
        if (!(trailer ? parse_trailer_line() : parse_size_line())) return false;
        line_.clear();
        line_start_ = offset_;
        break;
      }
      case State::data: {
        // Hand over all of this chunk's data that this piece holds, in one call.
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
        std::string_view piece = in.substr(0, n);
        remaining_ -= n;
        decoded_ += n;
        offset_ += n;
        in.remove_prefix(n);
        if (remaining_ == 0) state_ = State::data_cr;
        on_data(piece);
        break;
      }
      case State::data_cr:
        if (in.front() != '\r') return fail("expected CRLF after chunk data", offset_);
        ++offset_;
        in.remove_prefix(1);
        state_ = State::data_lf;
        break;
      case State::data_lf:
        if (in.front() != '\n') return fail("expected CRLF after chunk data", offset_);
        ++offset_;
        in.remove_prefix(1);
        state_ = State::size_line;
        line_start_ = offset_;
        break;
      case State::done:
        return fail("data after the end of the body", offset_);
      case State::failed:
        return false;
    }
  }
  return !failed();
}

bool AwsChunkedDecoder::end_of_input() {
  switch (state_) {
    case State::done:
      return true;
    case State::failed:
      return false;
    case State::trailer_line:
      // Leniency: the AWS SDK for JavaScript v3 sends "0\r\n" and stops when it has no checksum to
      // trail. Stopping after a complete trailer line loses nothing either.
      if (line_.empty()) {
        state_ = State::done;
        return true;
      }
      return fail("truncated inside a trailer line", offset_);
    case State::size_line:
      return fail(line_.empty() ? "truncated before the final zero-size chunk"
                                : "truncated inside a chunk header",
                  offset_);
    case State::data:
      return fail("truncated: " + std::to_string(remaining_) + " bytes of chunk data missing",
                  offset_);
    case State::data_cr:
    case State::data_lf:
      return fail("truncated: CRLF after chunk data missing", offset_);
  }
  return false;
}

}  // namespace stratus::emulator::s3
