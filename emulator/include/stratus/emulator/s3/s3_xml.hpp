#pragma once
// S3's XML: a small writer for response bodies and the parsers for the request bodies the emulator
// accepts (CompleteMultipartUpload, Delete, CreateBucketConfiguration).
//
// Parsing uses Boost.PropertyTree's XML parser (its bundled RapidXML, called directly because
// read_xml() does not turn on closing-tag validation) after a bounded pre-scan that enforces what
// that parser does not: size, nesting (it recurses per level) and node-count bounds, no DTDs, only
// well-formed entity and numeric character references of XML characters (it would copy "&bogus;"
// verbatim and wrap "&#x10000000000000041;" around to 'A'), no raw control characters, UTF-8, and
// XML 1.0 line-end normalisation. Numeric character references (&#13; &#x0D; &#x1F600;) work and
// decode to UTF-8; text is never trimmed except where a field is documented as trimmed.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "stratus/common/checksum.hpp"
#include "stratus/common/xml_escape.hpp"

namespace stratus::emulator::s3 {

inline constexpr std::string_view kS3XmlNamespace = "http://s3.amazonaws.com/doc/2006-03-01/";

using stratus::xml_escape;  // stratus/common/xml_escape.hpp

// Builds a response document. The constructor writes the prolog
// <?xml version="1.0" encoding="UTF-8"?>. Element names come from code and must be XML names
// (std::invalid_argument otherwise); text is escaped.
class XmlWriter {
 public:
  XmlWriter();
  XmlWriter& open(std::string_view name);  // <name>
  // <name xmlns="http://s3.amazonaws.com/doc/2006-03-01/">, for the root of a response.
  XmlWriter& open_s3(std::string_view name);
  XmlWriter& close();  // closes the innermost open element
  XmlWriter& element(std::string_view name, std::string_view text);  // <name>text</name>
  // A literal would otherwise pick the bool overload (pointer-to-bool beats string_view).
  XmlWriter& element(std::string_view name, const char* text) {
    return element(name, std::string_view(text));
  }
  // Integers in decimal, bool as "true"/"false".
  template <std::integral T>
  XmlWriter& element(std::string_view name, T value) {
    if constexpr (std::is_same_v<T, bool>) {
      return element(name, std::string_view(value ? "true" : "false"));
    } else {
      return element(name, std::string_view(std::to_string(value)));
    }
  }
  std::size_t depth() const { return open_.size(); }
  std::string finish();  // closes whatever is still open and returns the document

 private:
  std::string out_;
  std::vector<std::string> open_;
};

// Thrown for a request body that is not well-formed or does not match S3's schema: answer
// MalformedXML with what() as the message.
class S3XmlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::size_t kMaxXmlBodyBytes = 8 * 1024 * 1024;
inline constexpr std::size_t kMaxXmlDepth = 32;
inline constexpr std::size_t kMaxCompletedParts = 10000;  // S3's part-number range is 1..10000
inline constexpr std::size_t kMaxDeleteObjects = 1000;    // S3's DeleteObjects limit

struct CompletedPart {
  int part_number = 0;  // syntax-checked only: range and order are the handler's to judge
  std::string etag;     // as sent, quotes kept (surrounding whitespace trimmed)
  std::map<ChecksumAlgorithm, std::string> checksums;  // ChecksumCRC32 etc., base64 as sent
};
// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"..."</ETag>...</Part>...
// At most kMaxCompletedParts parts; none is allowed (the handler decides). Unknown elements are
// ignored so newer SDK fields do not break uploads.
std::vector<CompletedPart> parse_complete_multipart_upload(std::string_view body);

struct ObjectToDelete {
  std::string key;         // exactly as sent (not trimmed): keys may begin or end with spaces
  std::string version_id;  // empty when absent
};
struct DeleteObjectsRequest {
  bool quiet = false;
  std::vector<ObjectToDelete> objects;  // 1..kMaxDeleteObjects, in request order
};
// <Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>v</VersionId></Object>...</Delete>
DeleteObjectsRequest parse_delete_objects(std::string_view body);

// <CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>...
// nullopt for an empty body, no LocationConstraint, or an empty one (all mean us-east-1).
std::optional<std::string> parse_create_bucket_configuration(std::string_view body);

}  // namespace stratus::emulator::s3
