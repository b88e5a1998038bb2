#include "stratus/common/xml_escape.hpp"

namespace stratus {

std::string xml_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default: {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
          out += "&#x";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 15]);
          out.push_back(';');
        } else {
          out.push_back(c);
        }
      }
    }
  }
  return out;
}

}  // namespace stratus
