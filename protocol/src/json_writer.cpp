#include "tether/protocol/json_writer.hpp"

#include <fmt/format.h>

#include <cmath>

namespace tether::protocol {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes
// there are not one. `consumed` is set to how many bytes form the maximal
// invalid subpart, so that each broken sequence becomes exactly one U+FFFD
// (the Unicode "substitution of maximal subparts" practice).
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& consumed) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    std::size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 == 0xE0) {
        need = 2;
        lo = 0xA0; // no overlongs
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
        need = 2;
    } else if (b0 == 0xED) {
        need = 2;
        hi = 0x9F; // no UTF-16 surrogates
    } else if (b0 == 0xF0) {
        need = 3;
        lo = 0x90; // no overlongs
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
        need = 3;
    } else if (b0 == 0xF4) {
        need = 3;
        hi = 0x8F; // nothing past U+10FFFF
    } else {
        consumed = 1; // stray continuation byte, C0/C1 overlong lead, or F5..FF
        return 0;
    }
    std::size_t k = 1;
    for (; k <= need; ++k) {
        if (i + k >= s.size()) break;
        const unsigned char b = byte(i + k);
        const unsigned char min = k == 1 ? lo : 0x80;
        const unsigned char max = k == 1 ? hi : 0xBF;
        if (b < min || b > max) break;
    }
    if (k == need + 1) return need + 1;
    consumed = k; // the lead byte and the continuation bytes that were still plausible
    return 0;
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    std::size_t i = 0;
    std::size_t run = 0; // start of the pending run of bytes copied unchanged
    const auto flush = [&](std::size_t end) { out.append(s.data() + run, end - run); };
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        if (c >= 0x80) {
            std::size_t consumed = 0;
            const std::size_t len = utf8_sequence(s, i, consumed);
            if (len != 0) {
                i += len;
                continue;
            }
            flush(i);
            out.append("\\ufffd");
            i += consumed;
            run = i;
            continue;
        }
        flush(i);
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        case '\b':
            out.append("\\b");
            break;
        case '\f':
            out.append("\\f");
            break;
        default:
            out.append("\\u00");
            out.push_back(hex_digits[c >> 4]);
            out.push_back(hex_digits[c & 0x0F]);
        }
        ++i;
        run = i;
    }
    flush(i);
    out.push_back('"');
}

std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

void json_writer::comma() {
    if (need_comma_) out_.push_back(',');
}

json_writer& json_writer::begin_object() {
    comma();
    out_.push_back('{');
    need_comma_ = false;
    return *this;
}

json_writer& json_writer::end_object() {
    out_.push_back('}');
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::begin_array() {
    comma();
    out_.push_back('[');
    need_comma_ = false;
    return *this;
}

json_writer& json_writer::end_array() {
    out_.push_back(']');
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::key(std::string_view k) {
    comma();
    append_json_string(out_, k);
    out_.push_back(':');
    need_comma_ = false; // the value that follows takes no comma
    return *this;
}

json_writer& json_writer::value(std::string_view s) {
    comma();
    append_json_string(out_, s);
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::value(bool b) {
    comma();
    out_.append(b ? "true" : "false");
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::value(std::int64_t n) {
    comma();
    fmt::format_to(std::back_inserter(out_), "{}", n);
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::value(std::uint64_t n) {
    comma();
    fmt::format_to(std::back_inserter(out_), "{}", n);
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::value(double d) {
    if (!std::isfinite(d)) return null(); // JSON has no NaN or infinity
    comma();
    // fmt's "{}" is the shortest text that reads back as the same double.
    fmt::format_to(std::back_inserter(out_), "{}", d);
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::value(float f) {
    if (!std::isfinite(f)) return null();
    comma();
    fmt::format_to(std::back_inserter(out_), "{}", f);
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::null() {
    comma();
    out_.append("null");
    need_comma_ = true;
    return *this;
}

json_writer& json_writer::raw(std::string_view json) {
    comma();
    out_.append(json);
    need_comma_ = true;
    return *this;
}

} // namespace tether::protocol
