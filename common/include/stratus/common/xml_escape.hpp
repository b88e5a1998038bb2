#pragma once
// Escaping text for XML element content or a quoted attribute (S3 request and response bodies, on
// the client and the server side).

#include <string>
#include <string_view>

namespace stratus {

// & < > " ' as named entities; CR, LF, TAB and the other C0 controls (and DEL) as numeric
// references (&#13;), so a key survives an XML parser's line-end normalisation the way S3
// documents. (C0 controls other than TAB/LF/CR are not XML 1.0 characters even as references; S3
// keys may contain them, and clients that ask for encoding-type=url never see them.)
std::string xml_escape(std::string_view text);

}  // namespace stratus
