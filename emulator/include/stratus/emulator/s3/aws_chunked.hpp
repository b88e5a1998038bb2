#pragma once
// Streaming decoder for `Content-Encoding: aws-chunked` request bodies (S3 SigV4 streaming uploads,
// signed or unsigned, with or without trailing headers):
//
//   hex-size[;chunk-signature=<64 hex>]\r\n <data> \r\n  ...  0[;chunk-signature=...]\r\n
//   [name:value\r\n]...  \r\n
//
// Strict about framing (CRLF after every chunk's data, hex sizes, sizes that fit, nothing after the
// end), lenient only where real clients differ (each leniency is named in aws_chunked.cpp):
//   - the AWS SDK for JavaScript v3 ends a body without a checksum with "0\r\n" and nothing else:
//     accepted by end_of_input();
//   - minio-go ends each trailer field with a bare "\n" before the CRLF ("name:v\n\r\n"): accepted;
//   - whitespace around the trailer ':' and an empty chunk extension ("5;\r\n"): accepted;
//   - other chunk extensions are skipped (only chunk-signature is interpreted).
// Non-final chunks smaller than 8 KiB (which S3 refuses with InvalidChunkSizeError for signed
// streaming) are accepted.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stratus::emulator::s3 {

class AwsChunkedDecoder {
 public:
  struct Limits {
    std::size_t max_line = 4096;  // one chunk-size line or trailer line, CRLF excluded
    std::size_t max_trailer_bytes = 16 * 1024;  // the whole trailer section, CRLFs included
    std::uint64_t max_decoded = UINT64_MAX;     // decoded payload bytes
    std::size_t max_signatures = 4096;  // chunk-signature values kept (see chunk_signatures)
  };

  AwsChunkedDecoder();
  explicit AwsChunkedDecoder(Limits limits);

  // Feeds the next piece of the encoded body (any split, down to 1 byte). Decoded payload bytes are
  // passed to on_data as they are found, one call per run of chunk data present in `encoded` (no
  // copying, no per-byte calls). Returns false once the input is malformed (and for every later
  // call); error() says what and at which encoded offset. Bytes after the end are an error. An
  // exception thrown by on_data propagates; do not feed the decoder again after that.
  bool feed(std::string_view encoded, const std::function<void(std::string_view)>& on_data);

  // Call once when the body has ended. True when the encoding is complete: finished(), or the body
  // stopped at a line boundary inside the trailer section (after "0\r\n", or after a complete
  // trailer line) -- the only ending real clients omit. Otherwise false, and error() says
  // "truncated".
  bool end_of_input();

  bool finished() const { return state_ == State::done; }  // final chunk and trailers fully read
  bool failed() const { return state_ == State::failed; }
  const std::string& error() const { return error_; }
  std::uint64_t decoded_size() const { return decoded_; }
  std::uint64_t encoded_offset() const { return offset_; }  // encoded bytes consumed so far
  std::uint64_t chunk_count() const { return chunks_; }  // chunk headers read, final one included

  // Trailer fields in the order sent; names lower-cased, values trimmed of spaces and tabs.
  const std::vector<std::pair<std::string, std::string>>& trailers() const { return trailers_; }
  // The value of the first trailer called `lower_case_name`, if any.
  std::optional<std::string_view> trailer(std::string_view lower_case_name) const;

  // chunk-signature values in order (lower-cased), at most Limits::max_signatures of them; the
  // count of those not kept is signatures_dropped(). Empty for unsigned streaming.
  const std::vector<std::string>& chunk_signatures() const { return signatures_; }
  std::uint64_t signatures_dropped() const { return signatures_dropped_; }

 private:
  enum class State { size_line, data, data_cr, data_lf, trailer_line, done, failed };

  bool fail(std::string what, std::uint64_t at);
  // Appends input up to the end of the current line to line_. Returns the bytes used; sets
  // `complete` once line_ holds a whole line (CRLF stripped).
  std::size_t take_line(std::string_view in, bool lf_allowed_inside, bool& complete);
  bool parse_size_line();
  bool parse_trailer_line();

  Limits limits_;
  State state_ = State::size_line;
  std::string line_;              // the line being read, without its CRLF once complete
  std::uint64_t line_start_ = 0;  // encoded offset of line_'s first byte
  std::uint64_t remaining_ = 0;   // data bytes left in the current chunk
  std::uint64_t offset_ = 0;
  std::uint64_t decoded_ = 0;
  std::uint64_t chunks_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string error_;
  std::vector<std::pair<std::string, std::string>> trailers_;
  std::vector<std::string> signatures_;
  std::uint64_t signatures_dropped_ = 0;
};

}  // namespace stratus::emulator::s3
