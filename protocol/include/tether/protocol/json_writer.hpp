#pragma once
// A small, allocation-friendly JSON text builder used by the encoders and by
// the broker's HTTP API. Strings are always escaped correctly: quotes,
// backslashes and every control character; invalid UTF-8 becomes U+FFFD, so
// the output is valid JSON whatever bytes went in.

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::protocol {

// Appends `s` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);
std::string json_string(std::string_view s);

// Streaming builder: handles commas; the caller keeps objects/arrays balanced.
class json_writer {
public:
    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    json_writer& key(std::string_view k);
    json_writer& value(std::string_view s);
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    json_writer& value(const std::string& s) { return value(std::string_view(s)); }
    json_writer& value(bool b);
    json_writer& value(std::int64_t n);
    json_writer& value(std::uint64_t n);
    json_writer& value(int n) { return value(static_cast<std::int64_t>(n)); }
    json_writer& value(unsigned n) { return value(static_cast<std::uint64_t>(n)); }
    json_writer& value(double d); // non-finite numbers are written as null
    json_writer& value(float f);  // the shortest text that reads back as the same float
    json_writer& null();
    // Inserts already-valid JSON text (e.g. from canonical_json) as a value.
    json_writer& raw(std::string_view json);

    const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }

private:
    void comma();
    std::string out_;
    bool need_comma_ = false;
};

} // namespace tether::protocol
