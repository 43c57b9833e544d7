#include "text/jinja/python_text.hpp"

#include "text/unicode.hpp"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tether::agent::text::jinja {

// Python's str.isspace (what strip() and split() use).
bool py_space(char32_t c) {
    return is_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

std::u32string cps(std::string_view s) { return to_code_points(s); }
std::string utf8(const std::u32string& s) {
    std::string out;
    for (const char32_t c : s) append_utf8(out, c);
    return out;
}

// A copy: callers pass temporaries (a.get(…) returns by value).
std::string need_string(const call_args& a, const value& v, const char* what) {
    if (!v.is_string()) a.fail(std::string(what) + " expects a string, got " + v.type_name());
    return v.as_string();
}

std::int64_t need_int(const call_args& a, const value& v, const char* what) {
    if (v.is_int() || v.is_bool()) return v.as_int();
    if (v.is_float() && v.as_double() == std::floor(v.as_double())) return static_cast<std::int64_t>(v.as_double());
    a.fail(std::string(what) + " expects an integer, got " + v.type_name());
}


namespace {

std::string titlecase(char32_t c) {
    icu::UnicodeString u(static_cast<UChar32>(c));
    u.toTitle(nullptr, icu::Locale::getRoot(), U_TITLECASE_NO_LOWERCASE | U_TITLECASE_NO_BREAK_ADJUSTMENT);
    std::string t;
    u.toUTF8String(t);
    return t;
}

} // namespace

// Python's str.title(): a cased character after an uncased one starts a word.
std::string py_title(std::string_view s) {
    std::string out;
    bool prev_cased = false;
    for (const char32_t c : cps(s)) {
        const auto ch = static_cast<UChar32>(c);
        const bool cased = u_isupper(ch) || u_islower(ch) || u_istitle(ch);
        out += prev_cased ? py_lower(to_utf8(c)) : titlecase(c);
        prev_cased = cased;
    }
    return out;
}

std::string py_capitalize(std::string_view s) {
    if (s.empty()) return {};
    std::size_t n = 0;
    const char32_t first = decode_at(s, 0, n);
    return titlecase(first) + py_lower(s.substr(n));
}

// Jinja's |title: split on runs of [-\s({\[<] and capitalize each part.
std::string jinja_title(std::string_view s) {
    std::u32string in = cps(s);
    std::string out;
    std::u32string word;
    auto sep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_space(c); };
    auto flush = [&] {
        if (word.empty()) return;
        std::string w = utf8(word);
        std::size_t n = 0;
        decode_at(w, 0, n);
        out += py_upper(w.substr(0, n)) + py_lower(w.substr(n));
        word.clear();
    };
    for (const char32_t c : in) {
        if (sep(c)) {
            flush();
            append_utf8(out, c);
        } else {
            word.push_back(c);
        }
    }
    flush();
    return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, std::int64_t count) {
    std::string out;
    if (count == 0) return std::string(s);
    if (old.empty()) {
        // Inserted before every character and at the end, `count` times at most.
        std::int64_t done = 0;
        for (std::size_t i = 0; i < s.size();) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            const std::size_t n = utf8_length(static_cast<unsigned char>(s[i]));
            out.append(s.substr(i, n));
            i += n;
        }
        if (count < 0 || done < count) out += repl;
        return out;
    }
    std::size_t pos = 0;
    std::int64_t done = 0;
    while (count < 0 || done < count) {
        const std::size_t at = s.find(old, pos);
        if (at == std::string_view::npos) break;
        out.append(s.substr(pos, at - pos));
        out += repl;
        pos = at + old.size();
        ++done;
    }
    out.append(s.substr(pos));
    return out;
}

value py_split(const call_args& a, std::string_view s, const value& sep_v, std::int64_t maxsplit, bool from_right) {
    std::vector<std::string> parts;
    if (sep_v.is_none() || sep_v.is_undefined()) {
        // Runs of whitespace; no empty strings.
        std::u32string in = cps(s);
        std::vector<std::u32string> words;
        std::size_t i = 0;
        std::int64_t splits = 0;
        if (!from_right) {
            while (i < in.size()) {
                while (i < in.size() && py_space(in[i])) ++i;
                if (i >= in.size()) break;
                if (maxsplit >= 0 && splits == maxsplit) {
                    // The rest as it is, trailing whitespace included.
                    words.push_back(in.substr(i));
                    break;
                }
                std::size_t j = i;
                while (j < in.size() && !py_space(in[j])) ++j;
                words.push_back(in.substr(i, j - i));
                ++splits;
                i = j;
            }
        } else {
            std::size_t end = in.size();
            while (end > 0) {
                while (end > 0 && py_space(in[end - 1])) --end;
                if (end == 0) break;
                if (maxsplit >= 0 && splits == maxsplit) {
                    words.push_back(in.substr(0, end)); // leading whitespace included
                    break;
                }
                std::size_t b = end;
                while (b > 0 && !py_space(in[b - 1])) --b;
                words.push_back(in.substr(b, end - b));
                ++splits;
                end = b;
            }
            std::reverse(words.begin(), words.end());
        }
        std::vector<value> out;
        for (const auto& w : words) out.emplace_back(utf8(w));
        return value::list(std::move(out));
    }
    const std::string sep = need_string(a, sep_v, "split");
    if (sep.empty()) a.fail("empty separator");
    std::vector<value> out;
    if (!from_right) {
        std::size_t pos = 0;
        std::int64_t splits = 0;
        while (maxsplit < 0 || splits < maxsplit) {
            const std::size_t at = s.find(sep, pos);
            if (at == std::string_view::npos) break;
            out.emplace_back(std::string(s.substr(pos, at - pos)));
            pos = at + sep.size();
            ++splits;
        }
        out.emplace_back(std::string(s.substr(pos)));
    } else {
        std::size_t end = s.size();
        std::int64_t splits = 0;
        std::vector<value> rev;
        while (maxsplit < 0 || splits < maxsplit) {
            if (end < sep.size()) break;
            const std::size_t at = s.rfind(sep, end - sep.size());
            if (at == std::string_view::npos) break;
            rev.emplace_back(std::string(s.substr(at + sep.size(), end - at - sep.size())));
            end = at;
            ++splits;
        }
        rev.emplace_back(std::string(s.substr(0, end)));
        out.assign(rev.rbegin(), rev.rend());
    }
    return value::list(std::move(out));
}

std::string html_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}


std::string py_upper(std::string_view s) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
        std::string out(s);
        for (auto& c : out)
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
        return out;
    }
    auto u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
    u.toUpper(icu::Locale::getRoot());
    std::string out;
    u.toUTF8String(out);
    return out;
}

std::string py_lower(std::string_view s) {
    bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
        std::string out(s);
        for (auto& c : out)
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        return out;
    }
    auto u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
    u.toLower(icu::Locale::getRoot());
    std::string out;
    u.toUTF8String(out);
    return out;
}

std::string py_strip(std::string_view s, const value& chars, char which) {
    std::u32string in = cps(s);
    std::u32string set;
    const bool whitespace = chars.is_none() || chars.is_undefined();
    if (!whitespace) set = cps(chars.str());
    auto strip_it = [&](char32_t c) { return whitespace ? py_space(c) : set.find(c) != std::u32string::npos; };
    std::size_t b = 0, e = in.size();
    if (which != 'r')
        while (b < e && strip_it(in[b])) ++b;
    if (which != 'l')
        while (e > b && strip_it(in[e - 1])) --e;
    return utf8(in.substr(b, e - b));
}

std::string py_percent_format(std::string_view fmt, const value& args) {
    std::vector<value> list = args.type() == kind::tuple ? args.items() : std::vector<value>{args};
    std::size_t next = 0;
    std::string out;
    for (std::size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) throw template_error("incomplete format");
        const char spec = fmt[i];
        if (spec == '%') {
            out += '%';
            continue;
        }
        if (next >= list.size()) throw template_error("not enough arguments for format string");
        const value& v = list[next++];
        switch (spec) {
        case 's': out += v.str(); break;
        case 'r': out += v.repr(); break;
        case 'd':
        case 'i':
            if (!v.is_number()) throw template_error("%d format: a real number is required, not " + v.type_name());
            out += std::to_string(v.is_float() ? static_cast<std::int64_t>(std::trunc(v.as_double())) : v.as_int());
            break;
        case 'f': {
            if (!v.is_number()) throw template_error("%f format: a real number is required");
            char buf[64];
            std::snprintf(buf, sizeof buf, "%f", v.as_double());
            out += buf;
            break;
        }
        case 'x': {
            if (!v.is_int()) throw template_error("%x format: an integer is required");
            char buf[32];
            std::snprintf(buf, sizeof buf, "%llx", static_cast<long long>(v.as_int()));
            out += buf;
            break;
        }
        default: throw template_error(std::string("unsupported format character '") + spec + "'");
        }
    }
    if (next < list.size()) throw template_error("not all arguments converted during string formatting");
    return out;
}

} // namespace tether::agent::text::jinja
