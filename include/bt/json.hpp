// JSON text output (RFC 8259): the one escaper and number formatter used by report.json,
// bt_bench --json and the safetensors header writer.
#pragma once

#include <string>

namespace bt {

// A JSON string literal, quotes included. The input is decoded as UTF-8 (RFC 3629: no
// overlong forms, no surrogates, at most U+10FFFF); every byte that does not start a valid
// sequence becomes U+FFFD, so no input can make the output invalid.
std::string json_string(const std::string& s);
// The shortest decimal that reads back as the same double; "null" for NaN and ±inf.
std::string json_number(double v);

// UTF-8 decoding and encoding with the rules above (shared with the XML writer of report.svg).
std::u32string decode_utf8(const std::string& s);
void append_utf8(std::string& out, char32_t cp);

}  // namespace bt
