#include "stratus/emulator/s3/s3_xml.hpp"

#include <boost/property_tree/detail/rapidxml.hpp>
#include <memory>

#include "stratus/common/hex.hpp"
#include "stratus/emulator/s3/s3_names.hpp"

namespace stratus::emulator::s3 {
namespace {

namespace rx = boost::property_tree::detail::rapidxml;
using Node = rx::xml_node<char>;

bool is_xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim_xml_space(std::string_view s) {
  while (!s.empty() && is_xml_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_xml_space(s.back())) s.remove_suffix(1);
  return s;
}

// Element names this writer emits come from code; a wrong one is a bug, caught loudly.
void check_name(std::string_view name) {
  auto ok = [](char c, bool first) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_') return true;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
  };
  bool valid = !name.empty();
  for (std::size_t i = 0; valid && i < name.size(); ++i) valid = ok(name[i], i == 0);
  if (!valid)
    throw std::invalid_argument("XmlWriter: invalid element name '" + std::string(name) + "'");
}

// Whether a code point may appear in an XML 1.0 document.
bool is_xml_char(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

bool starts_with(std::string_view s, std::size_t at, std::string_view prefix) {
  return s.substr(at, prefix.size()) == prefix;
}

// Enough for the largest valid request (10,000 parts with every checksum is ~170,000 tags).
constexpr std::size_t kMaxXmlMarkup = 200000;

// Validates the reference starting at text[at] == '&' and returns its length. Only the five
// predefined entities and numeric character references of XML characters are accepted; the
// parser would copy anything else verbatim instead of refusing it.
std::size_t check_reference(std::string_view text, std::size_t at) {
  static constexpr std::string_view kNamed[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
  for (auto named : kNamed) {
    if (starts_with(text, at, named)) return named.size();
  }
  std::size_t i = at + 1;
  if (i < text.size() && text[i] == '#') {
    ++i;
    bool hex = i < text.size() && text[i] == 'x';  // XML allows only a lower-case x
    if (hex) ++i;
    std::size_t digits_start = i;
    std::uint32_t cp = 0;
    while (i < text.size() && i - digits_start < 8) {
      char c = text[i];
      unsigned d;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (hex && c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (hex && c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        break;
      }
      cp = cp * (hex ? 16 : 10) + d;
      ++i;
    }
    if (i > digits_start && i < text.size() && text[i] == ';' && is_xml_char(cp)) {
      return i + 1 - at;
    }
    throw S3XmlError("invalid character reference at byte " + std::to_string(at));
  }
  throw S3XmlError("invalid or undeclared entity reference at byte " + std::to_string(at));
}

// One bounded pass over the normalised document (not a parser: the parser runs after it). It
// keeps recursion depth, node count, DTDs, stray references and control characters away from the
// parser.
void prescan(std::string_view s) {
  std::size_t depth = 0;
  std::size_t markup = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      throw S3XmlError(std::string("control character 0x") + byte_hex(u) +
                       " at byte " + std::to_string(i) + " is not allowed in XML 1.0");
    }
    if (c == '&') {
      i += check_reference(s, i) - 1;
      continue;
    }
    if (c != '<') continue;
    // Every node the parser allocates (~100 bytes each) follows some markup; bounding markup bounds
    // its memory to a few tens of MB whatever the body holds.
    if (++markup > kMaxXmlMarkup) {
      throw S3XmlError("more than " + std::to_string(kMaxXmlMarkup) + " tags in an XML body");
    }

    if (starts_with(s, i, "<!--")) {
      auto end = s.find("-->", i + 4);
      if (end == std::string_view::npos) throw S3XmlError("unterminated comment");
      i = end + 2;
      continue;
    }
    if (starts_with(s, i, "<![CDATA[")) {
      auto end = s.find("]]>", i + 9);
      if (end == std::string_view::npos) throw S3XmlError("unterminated CDATA section");
      i = end + 2;
      continue;
    }
    if (starts_with(s, i, "<?")) {
      auto end = s.find("?>", i + 2);
      if (end == std::string_view::npos) throw S3XmlError("unterminated processing instruction");
      i = end + 1;
      continue;
    }
    if (starts_with(s, i, "<!")) {
      throw S3XmlError("DOCTYPE and other declarations are not accepted");
    }
    if (starts_with(s, i, "</")) {
      if (depth > 0) --depth;
      auto end = s.find('>', i);
      if (end == std::string_view::npos) throw S3XmlError("unterminated end tag");
      i = end;
      continue;
    }
    // A start tag (or an empty-element tag): find its '>' outside quoted attribute values, whose
    // references are checked like text's.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      char d = s[j];
      if (quote != 0) {
        if (d == quote) {
          quote = 0;
        } else if (d == '&') {
          j += check_reference(s, j) - 1;
        } else if (d == '<') {
          throw S3XmlError("'<' in an attribute value at byte " + std::to_string(j));
        }
      } else if (d == '"' || d == '\'') {
        quote = d;
      } else if (d == '>') {
        break;
      } else if (d == '<') {
        throw S3XmlError("'<' inside a tag at byte " + std::to_string(j));
      }
    }
    if (j >= s.size()) throw S3XmlError("unterminated start tag");
    if (s[j - 1] != '/' && ++depth > kMaxXmlDepth) {
      throw S3XmlError("elements nested deeper than " + std::to_string(kMaxXmlDepth));
    }
    i = j;
  }
}

// A parsed document. (Boost's copy of RapidXML keeps whitespace-only text unless told to trim, so
// a key of " " survives; trimming is never asked for.)
class Document {
 public:
  explicit Document(std::string_view body) {
    if (body.size() > kMaxXmlBodyBytes) {
      throw S3XmlError("XML body larger than " + std::to_string(kMaxXmlBodyBytes) + " bytes");
    }
    if (body.find('\0') != std::string_view::npos) throw S3XmlError("NUL byte in XML body");
    if (!is_valid_utf8(body)) throw S3XmlError("XML body is not valid UTF-8");
    // XML 1.0 section 2.11: CRLF and lone CR become LF before parsing (a CR in a key must be sent
    // as &#13;, as the S3 guide says). The parser needs a mutable, NUL-terminated copy anyway.
    buffer_.reserve(body.size() + 1);
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\r') {
        buffer_.push_back('\n');
        if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
      } else {
        buffer_.push_back(body[i]);
      }
    }
    prescan(std::string_view(buffer_.data(), buffer_.size()));
    buffer_.push_back('\0');

    // The document object holds a 64 KiB node pool: keep it off the (possibly small) stack.
    doc_ = std::make_unique<rx::xml_document<char>>();
    try {
      doc_->parse<rx::parse_validate_closing_tags | rx::parse_no_string_terminators>(
          buffer_.data());
    } catch (const rx::parse_error& e) {
      auto at = static_cast<std::size_t>(e.where<char>() - buffer_.data());
      throw S3XmlError(std::string("malformed XML: ") + e.what() + " at byte " +
                       std::to_string(at));
    }
  }

  // The single root element, which must be called `name`.
  const Node& root(std::string_view name) const {
    const Node* found = nullptr;
    for (const Node* n = doc_->first_node(); n != nullptr; n = n->next_sibling()) {
      if (n->type() != rx::node_element) continue;
      if (found != nullptr) throw S3XmlError("more than one root element");
      found = n;
    }
    if (found == nullptr) throw S3XmlError("no root element");
    if (name_of(*found) != name) {
      throw S3XmlError("expected <" + std::string(name) + "> as the root element, not <" +
                       std::string(name_of(*found)) + ">");
    }
    return *found;
  }

  static std::string_view name_of(const Node& n) { return {n.name(), n.name_size()}; }

  // The text of a leaf element, exactly as sent (references decoded).
  std::string text(const Node& element) const {
    std::string out;
    for (const Node* c = element.first_node(); c != nullptr; c = c->next_sibling()) {
      if (c->type() == rx::node_data || c->type() == rx::node_cdata) {
        out.append(c->value(), c->value_size());
      } else if (c->type() == rx::node_element) {
        throw S3XmlError("unexpected element <" + std::string(name_of(*c)) + "> inside <" +
                         std::string(name_of(element)) + ">");
      }
    }
    return out;
  }

 private:
  std::vector<char> buffer_;
  std::unique_ptr<rx::xml_document<char>> doc_;
};

// Element children of `parent`, in order.
template <typename F>
void for_each_element(const Node& parent, F&& f) {
  for (const Node* c = parent.first_node(); c != nullptr; c = c->next_sibling()) {
    if (c->type() == rx::node_element) f(*c);
  }
}

int parse_part_number(std::string_view text) {
  std::string_view t = trim_xml_space(text);
  if (t.empty() || t.size() > 10) {
    throw S3XmlError("PartNumber '" + std::string(t.substr(0, 20)) + "' is not an integer");
  }
  long long value = 0;
  for (char c : t) {
    if (c < '0' || c > '9') {
      throw S3XmlError("PartNumber '" + std::string(t) + "' is not an integer");
    }
    value = value * 10 + (c - '0');
  }
  if (value > 2147483647LL) throw S3XmlError("PartNumber '" + std::string(t) + "' is too large");
  return static_cast<int>(value);
}

void once(bool& seen, const Node& element) {
  if (seen) {
    throw S3XmlError("<" + std::string(Document::name_of(element)) + "> given more than once");
  }
  seen = true;
}

}  // namespace

// --- writing -------------------------------------------------------------------------------------


XmlWriter::XmlWriter() : out_(R"(<?xml version="1.0" encoding="UTF-8"?>)") {}

XmlWriter& XmlWriter::open(std::string_view name) {
  check_name(name);
  out_ += '<';
  out_ += name;
  out_ += '>';
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::open_s3(std::string_view name) {
  check_name(name);
  out_ += '<';
  out_ += name;
  out_ += R"( xmlns=")";
  out_ += kS3XmlNamespace;
  out_ += R"(">)";
  open_.emplace_back(name);
  return *this;
}

XmlWriter& XmlWriter::close() {
  if (open_.empty()) throw std::logic_error("XmlWriter::close with no open element");
  out_ += "</";
  out_ += open_.back();
  out_ += '>';
  open_.pop_back();
  return *this;
}

XmlWriter& XmlWriter::element(std::string_view name, std::string_view text) {
  check_name(name);
  out_ += '<';
  out_ += name;
  out_ += '>';
  out_ += xml_escape(text);
  out_ += "</";
  out_ += name;
  out_ += '>';
  return *this;
}

std::string XmlWriter::finish() {
  while (!open_.empty()) close();
  return std::move(out_);
}

// --- parsing -------------------------------------------------------------------------------------

std::vector<CompletedPart> parse_complete_multipart_upload(std::string_view body) {
  Document doc(body);
  const Node& root = doc.root("CompleteMultipartUpload");
  std::vector<CompletedPart> parts;
  for_each_element(root, [&](const Node& part) {
    if (Document::name_of(part) != "Part") return;  // unknown elements: ignored
    if (parts.size() == kMaxCompletedParts) {
      throw S3XmlError("more than " + std::to_string(kMaxCompletedParts) + " parts");
    }
    CompletedPart out;
    bool have_number = false, have_etag = false;
    for_each_element(part, [&](const Node& field) {
      std::string_view name = Document::name_of(field);
      if (name == "PartNumber") {
        once(have_number, field);
        out.part_number = parse_part_number(doc.text(field));
      } else if (name == "ETag") {
        once(have_etag, field);
        out.etag = std::string(trim_xml_space(doc.text(field)));
      } else if (name.substr(0, 8) == "Checksum") {
        auto algorithm = checksum_algorithm_from_name(name.substr(8));
        if (!algorithm || checksum_xml_element(*algorithm) != name) return;  // e.g. ChecksumType
        std::string value(trim_xml_space(doc.text(field)));
        if (!out.checksums.emplace(*algorithm, std::move(value)).second) {
          throw S3XmlError("<" + std::string(name) + "> given more than once");
        }
      }
    });
    if (!have_number) throw S3XmlError("a <Part> without <PartNumber>");
    if (!have_etag) throw S3XmlError("a <Part> without <ETag>");
    parts.push_back(std::move(out));
  });
  return parts;
}

DeleteObjectsRequest parse_delete_objects(std::string_view body) {
  Document doc(body);
  const Node& root = doc.root("Delete");
  DeleteObjectsRequest request;
  bool have_quiet = false;
  for_each_element(root, [&](const Node& child) {
    std::string_view name = Document::name_of(child);
    if (name == "Quiet") {
      once(have_quiet, child);
      std::string value(trim_xml_space(doc.text(child)));
      for (auto& c : value) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
      if (value == "true" || value == "1") {
        request.quiet = true;
      } else if (value == "false" || value == "0") {
        request.quiet = false;
      } else {
        throw S3XmlError("<Quiet> must be true or false");
      }
    } else if (name == "Object") {
      if (request.objects.size() == kMaxDeleteObjects) {
        throw S3XmlError("more than " + std::to_string(kMaxDeleteObjects) + " objects to delete");
      }
      ObjectToDelete object;
      bool have_key = false, have_version = false;
      for_each_element(child, [&](const Node& field) {
        std::string_view field_name = Document::name_of(field);
        if (field_name == "Key") {
          once(have_key, field);
          object.key = doc.text(field);
        } else if (field_name == "VersionId") {
          once(have_version, field);
          object.version_id = std::string(trim_xml_space(doc.text(field)));
        }
      });
      if (!have_key) throw S3XmlError("an <Object> without <Key>");
      request.objects.push_back(std::move(object));
    }
  });
  if (request.objects.empty()) throw S3XmlError("<Delete> names no <Object>");
  return request;
}

std::optional<std::string> parse_create_bucket_configuration(std::string_view body) {
  if (trim_xml_space(body).empty()) return std::nullopt;
  Document doc(body);
  const Node& root = doc.root("CreateBucketConfiguration");
  std::optional<std::string> location;
  bool have_location = false;
  for_each_element(root, [&](const Node& child) {
    if (Document::name_of(child) != "LocationConstraint") return;
    once(have_location, child);
    std::string value(trim_xml_space(doc.text(child)));
    if (!value.empty()) location = std::move(value);
  });
  return location;
}

}  // namespace stratus::emulator::s3
