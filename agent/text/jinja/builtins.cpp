#include "text/jinja/builtins.hpp"

#include "text/jinja/parser.hpp"
#include "text/unicode.hpp"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

namespace tether::agent::text::jinja {
namespace {

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

void check_size(runtime& rt, const call_args& a, std::size_t n) {
    if (n > rt.options().limits.max_collection) a.fail("the result would be too large");
}

std::string titlecase(char32_t c) {
    icu::UnicodeString u(static_cast<UChar32>(c));
    u.toTitle(nullptr, icu::Locale::getRoot(), U_TITLECASE_NO_LOWERCASE | U_TITLECASE_NO_BREAK_ADJUSTMENT);
    std::string t;
    u.toUTF8String(t);
    return t;
}

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

// make_attrgetter: "a.b.0" walks getitem, integer parts as integers.
value attribute_path(runtime& rt, const value& item, const value& attribute) {
    if (!attribute.is_string()) return get_item(rt, item, attribute);
    value cur = item;
    std::string_view rest = attribute.as_string();
    while (true) {
        const auto dot = rest.find('.');
        const std::string_view part = rest.substr(0, dot);
        bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits) cur = get_item(rt, cur, value(static_cast<std::int64_t>(std::stoll(std::string(part)))));
        else cur = get_item(rt, cur, value(std::string(part)));
        if (dot == std::string_view::npos) break;
        rest = rest.substr(dot + 1);
    }
    return cur;
}

value ignore_case(const value& v) {
    return v.is_string() ? value(py_lower(v.as_string())) : v;
}

std::vector<value> items_of(const value& v) {
    std::vector<value> out;
    for (const auto& [k, val] : v.entries().items) out.push_back(value::tuple({k, val}));
    return out;
}

// select / reject / selectattr / rejectattr
value select_items(runtime& rt, const value& seq, call_args& args, bool keep_when, bool by_attribute) {
    std::vector<value> out;
    if (!seq.truthy()) return value::iterator({}, "generator");
    const auto items = iterate(seq);
    rt.spend(items.size());
    std::size_t off = 0;
    value attr;
    if (by_attribute) {
        if (args.positional.empty()) args.fail("missing the attribute name");
        attr = args.positional[0];
        off = 1;
    }
    std::optional<std::string> test_name;
    call_args test_args;
    test_args.line = args.line;
    test_args.column = args.column;
    if (args.positional.size() > off) {
        test_name = need_string(args, args.positional[off], "the test name");
        if (!known_test(*test_name)) args.fail("no test named '" + *test_name + "'");
        test_args.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(off + 1), args.positional.end());
        test_args.keyword = args.keyword;
    }
    for (const auto& item : items) {
        const value subject = by_attribute ? attribute_path(rt, item, attr) : item;
        const bool passed = test_name ? rt.test(*test_name, subject, test_args) : subject.truthy();
        if (passed == keep_when) out.push_back(item);
    }
    return value::iterator(std::move(out), "generator");
}

std::string strftime_value(std::chrono::system_clock::time_point now, std::string_view format) {
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    if (format.size() > 256) throw template_error("strftime_now: format too long");
    char buf[1024];
    const std::size_t n = std::strftime(buf, sizeof buf, std::string(format).c_str(), &tm);
    return std::string(buf, n);
}

value range_value(runtime& rt, call_args& a) {
    std::int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) {
        stop = need_int(a, a.positional[0], "range");
    } else if (a.positional.size() >= 2) {
        start = need_int(a, a.positional[0], "range");
        stop = need_int(a, a.positional[1], "range");
        if (a.positional.size() >= 3) step = need_int(a, a.positional[2], "range");
    } else {
        a.fail("range expected at least 1 argument");
    }
    if (step == 0) a.fail("range() arg 3 must not be zero");
    std::vector<value> out;
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        out.emplace_back(i);
        check_size(rt, a, out.size());
    }
    return value::list(std::move(out));
}

value to_int(const value& v, const value& fallback, std::int64_t base) {
    if (v.is_int() || v.is_bool()) return value(v.as_int());
    if (v.is_float()) {
        if (!std::isfinite(v.as_double())) return fallback;
        return value(static_cast<std::int64_t>(std::trunc(v.as_double())));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.as_string(), value::none(), 'b');
        s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
        try {
            std::size_t used = 0;
            int b = static_cast<int>(base);
            std::string digits = s;
            if (b == 16 && (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0)) digits = s.substr(2);
            if (b == 8 && (s.rfind("0o", 0) == 0 || s.rfind("0O", 0) == 0)) digits = s.substr(2);
            if (b == 2 && (s.rfind("0b", 0) == 0 || s.rfind("0B", 0) == 0)) digits = s.substr(2);
            const long long i = std::stoll(digits, &used, b);
            if (used == digits.size()) return value(static_cast<std::int64_t>(i));
        } catch (const std::exception&) {
        }
        try {
            std::size_t used = 0;
            const double d = std::stod(s, &used);
            if (used == s.size() && std::isfinite(d)) return value(static_cast<std::int64_t>(std::trunc(d)));
        } catch (const std::exception&) {
        }
    }
    return fallback;
}

} // namespace

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

std::vector<value> iterate(const value& v) {
    switch (v.type()) {
    case kind::list:
    case kind::tuple: return v.items();
    case kind::dict: {
        std::vector<value> keys;
        for (const auto& [k, val] : v.entries().items) keys.push_back(k);
        return keys;
    }
    case kind::string: {
        std::vector<value> chars;
        const std::string& s = v.as_string();
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t n = utf8_length(static_cast<unsigned char>(s[i]));
            chars.emplace_back(s.substr(i, n));
            i += n;
        }
        return chars;
    }
    case kind::undefined: return {};
    default: throw template_error("'" + v.type_name() + "' object is not iterable");
    }
}

value get_item(runtime& rt, const value& object, const value& key) {
    switch (object.type()) {
    case kind::undefined:
        throw template_error("'" + (object.undefined_name().empty() ? std::string("value") : object.undefined_name()) +
                             "' is undefined");
    case kind::list:
    case kind::tuple:
    case kind::string: {
        // An iterator is not subscriptable: Jinja2 then gives undefined.
        if (object.is_iterator()) return value::undefined();
        if (key.is_int() || key.is_bool()) {
            const auto& s = object.as_string();
            const std::int64_t n = object.is_string() ? static_cast<std::int64_t>(count_code_points(s))
                                                      : static_cast<std::int64_t>(object.items().size());
            std::int64_t i = key.as_int();
            if (i < 0) i += n;
            if (i < 0 || i >= n) return value::undefined();
            if (object.is_string()) return value(to_utf8(cps(s)[static_cast<std::size_t>(i)]));
            return object.items()[static_cast<std::size_t>(i)];
        }
        break;
    }
    case kind::dict:
        if (const value* v = object.entries().find(key)) return *v;
        break;
    case kind::ns:
        if (key.is_string())
            if (const value* v = object.entries().find(key)) return *v;
        break;
    default:
        break;
    }
    // Jinja falls back to the attribute of that name.
    if (key.is_string()) return get_attribute(rt, object, key.as_string());
    return value::undefined();
}

value get_attribute(runtime& rt, const value& object, std::string_view name) {
    switch (object.type()) {
    case kind::undefined:
        throw template_error("'" + (object.undefined_name().empty() ? std::string("value") : object.undefined_name()) +
                             "' is undefined");
    case kind::ns:
        if (const value* v = object.entries().find(name)) return *v;
        return value::undefined(std::string(name));
    case kind::dict: {
        value m = method_of(rt, object, name);
        if (!m.is_undefined()) return m;
        if (const value* v = object.entries().find(name)) return *v;
        return value::undefined(std::string(name));
    }
    default: {
        value m = method_of(rt, object, name);
        if (!m.is_undefined()) return m;
        return value::undefined(std::string(name));
    }
    }
}

value method_of(runtime& rt, const value& object, std::string_view name) {
    (void)rt;
    const std::string n(name);
    auto bind = [&](native_fn fn) { return value::function(n, std::move(fn)); };
    if (object.is_string()) {
        const std::string s = object.as_string();
        if (n == "strip" || n == "lstrip" || n == "rstrip") {
            const char which = n == "strip" ? 'b' : n == "lstrip" ? 'l' : 'r';
            return bind([s, which](call_args& a) { return value(py_strip(s, a.get(0, "chars", value::none()), which)); });
        }
        if (n == "upper") return bind([s](call_args&) { return value(py_upper(s)); });
        if (n == "lower") return bind([s](call_args&) { return value(py_lower(s)); });
        if (n == "title") return bind([s](call_args&) { return value(py_title(s)); });
        if (n == "capitalize") return bind([s](call_args&) { return value(py_capitalize(s)); });
        if (n == "startswith" || n == "endswith") {
            const bool start = n == "startswith";
            return bind([s, start](call_args& a) {
                const value what = a.get(0, "prefix");
                std::vector<value> options = what.type() == kind::tuple ? what.items() : std::vector<value>{what};
                for (const auto& o : options) {
                    const std::string p = need_string(a, o, start ? "startswith" : "endswith");
                    if (start ? s.rfind(p, 0) == 0 : (s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0))
                        return value(true);
                }
                return value(false);
            });
        }
        if (n == "split" || n == "rsplit") {
            const bool right = n == "rsplit";
            return bind([s, right](call_args& a) {
                const value maxsplit = a.get(1, "maxsplit", value(std::int64_t{-1}));
                return py_split(a, s, a.get(0, "sep", value::none()), need_int(a, maxsplit, "split"), right);
            });
        }
        if (n == "splitlines") {
            return bind([s](call_args&) {
                std::vector<value> out;
                std::size_t start = 0;
                for (std::size_t i = 0; i < s.size(); ++i) {
                    if (s[i] == '\n' || s[i] == '\r') {
                        out.emplace_back(s.substr(start, i - start));
                        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                        start = i + 1;
                    }
                }
                if (start < s.size()) out.emplace_back(s.substr(start));
                return value::list(std::move(out));
            });
        }
        if (n == "replace") {
            return bind([s](call_args& a) {
                // Positional only, as in the Python transformers commonly runs on (3.11).
                if (!a.keyword.empty()) a.fail("str.replace() takes no keyword arguments");
                const std::string old = need_string(a, a.get(0, "old"), "replace");
                const std::string repl = need_string(a, a.get(1, "new"), "replace");
                return value(py_replace(s, old, repl, need_int(a, a.get(2, "count", value(std::int64_t{-1})), "replace")));
            });
        }
        if (n == "find" || n == "rfind" || n == "index" || n == "rindex" || n == "count") {
            return bind([s, n](call_args& a) {
                const std::string sub = need_string(a, a.get(0, "sub"), n.c_str());
                if (n == "count") {
                    if (sub.empty()) return value(static_cast<std::int64_t>(count_code_points(s) + 1));
                    std::int64_t c = 0;
                    for (std::size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++c;
                    return value(c);
                }
                const std::size_t at = (n == "find" || n == "index") ? s.find(sub) : s.rfind(sub);
                if (at == std::string::npos) {
                    if (n == "index" || n == "rindex") a.fail("substring not found");
                    return value(std::int64_t{-1});
                }
                return value(static_cast<std::int64_t>(count_code_points(std::string_view(s).substr(0, at))));
            });
        }
        if (n == "join") {
            return bind([s](call_args& a) {
                std::string out;
                bool first = true;
                for (const auto& item : iterate(a.get(0, "iterable"))) {
                    if (!item.is_string()) a.fail("sequence item: expected str instance, " + item.type_name() + " found");
                    if (!first) out += s;
                    out += item.as_string();
                    first = false;
                }
                return value(std::move(out));
            });
        }
        if (n == "isdigit" || n == "isalpha" || n == "isalnum" || n == "isspace" || n == "isupper" || n == "islower" ||
            n == "isnumeric" || n == "isdecimal") {
            return bind([s, n](call_args&) {
                const auto chars = cps(s);
                if (chars.empty()) return value(false);
                if (n == "isupper" || n == "islower") {
                    bool cased = false;
                    for (const char32_t c : chars) {
                        const auto ch = static_cast<UChar32>(c);
                        if (u_isupper(ch) || u_istitle(ch)) {
                            if (n == "islower") return value(false);
                            cased = true;
                        } else if (u_islower(ch)) {
                            if (n == "isupper") return value(false);
                            cased = true;
                        }
                    }
                    return value(cased);
                }
                for (const char32_t c : chars) {
                    const auto ch = static_cast<UChar32>(c);
                    bool ok = false;
                    if (n == "isdigit" || n == "isdecimal") ok = u_isdigit(ch) != 0;
                    else if (n == "isnumeric") ok = is_numeric(c);
                    else if (n == "isalpha") ok = u_isalpha(ch) != 0;
                    else if (n == "isalnum") ok = u_isalnum(ch) != 0;
                    else ok = py_space(c);
                    if (!ok) return value(false);
                }
                return value(true);
            });
        }
        if (n == "format") return bind([](call_args& a) -> value { a.fail("str.format is not supported in chat templates: use ~ or the format filter"); });
        return value::undefined(n);
    }
    if (object.type() == kind::dict) {
        const value self = object;
        if (n == "items") return bind([self](call_args&) { return value::iterator(items_of(self), "dict_items"); });
        if (n == "keys") return bind([self](call_args&) { return value::iterator(iterate(self), "dict_keys"); });
        if (n == "values")
            return bind([self](call_args&) {
                std::vector<value> out;
                for (const auto& [k, v] : self.entries().items) out.push_back(v);
                return value::iterator(std::move(out), "dict_values");
            });
        if (n == "get")
            return bind([self](call_args& a) {
                if (const value* v = self.entries().find(a.get(0, "key"))) return *v;
                return a.get(1, "default", value::none());
            });
        if (n == "copy" || n == "update" || n == "pop" || n == "popitem" || n == "setdefault" || n == "clear")
            return bind([n](call_args& a) -> value { a.fail("access to attribute '" + n + "' of 'dict' object is unsafe"); });
        return value::undefined(n);
    }
    if (object.is_list()) {
        const value self = object;
        if (n == "index")
            return bind([self](call_args& a) {
                const auto& items = self.items();
                const value x = a.get(0, "value");
                for (std::size_t i = 0; i < items.size(); ++i)
                    if (items[i] == x) return value(static_cast<std::int64_t>(i));
                a.fail(x.repr() + " is not in list");
            });
        if (n == "count")
            return bind([self](call_args& a) {
                const value x = a.get(0, "value");
                return value(static_cast<std::int64_t>(std::count(self.items().begin(), self.items().end(), x)));
            });
        if (n == "append" || n == "extend" || n == "pop" || n == "insert" || n == "remove" || n == "sort" ||
            n == "reverse" || n == "clear")
            return bind([n, t = self.type_name()](call_args& a) -> value {
                a.fail("access to attribute '" + n + "' of '" + t + "' object is unsafe");
            });
        return value::undefined(n);
    }
    return value::undefined(n);
}

value global_function(runtime& rt, std::string_view name) {
    const std::string n(name);
    if (n == "range") return value::function(n, [&rt](call_args& a) { return range_value(rt, a); });
    if (n == "namespace" || n == "dict") {
        const bool ns = n == "namespace";
        return value::function(n, [ns](call_args& a) {
            value v = ns ? value::make_namespace() : value::make_dict();
            for (const auto& p : a.positional) {
                if (!p.is_dict()) a.fail(std::string(ns ? "namespace" : "dict") + "() takes a mapping");
                for (const auto& [k, val] : p.entries().items) v.entries().set(k, val);
            }
            for (const auto& [k, val] : a.keyword) v.entries().set(value(k), val);
            return v;
        });
    }
    if (n == "raise_exception")
        return value::function(n, [](call_args& a) -> value {
            throw template_raised(a.get(0, "message").str(), a.line, a.column);
        });
    if (n == "strftime_now")
        return value::function(n, [&rt](call_args& a) {
            return value(strftime_value(rt.options().now, need_string(a, a.get(0, "format"), "strftime_now")));
        });
    return value::undefined(n);
}

bool known_test(std::string_view n) {
    static const std::set<std::string_view> tests{
        "defined", "undefined", "none",  "boolean", "true",  "false", "integer", "float", "number", "string",
        "mapping", "iterable",  "sequence", "callable", "sameas", "escaped", "in", "eq", "equalto", "==",
        "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "odd", "even",
        "divisibleby", "lower", "upper", "filter", "test"};
    return tests.contains(n);
}

bool apply_test(runtime& rt, std::string_view n, const value& v, call_args& a) {
    (void)rt;
    auto arg = [&] { return a.get(0, "value"); };
    if (n == "defined") return !v.is_undefined();
    if (n == "undefined") return v.is_undefined();
    if (n == "none") return v.is_none();
    if (n == "boolean") return v.is_bool();
    if (n == "true") return v.is_bool() && v.as_bool();
    if (n == "false") return v.is_bool() && !v.as_bool();
    if (n == "integer") return v.is_int();
    if (n == "float") return v.is_float();
    if (n == "number") return v.is_number();
    if (n == "string") return v.is_string();
    if (n == "mapping") return v.type() == kind::dict;
    if (n == "iterable")
        return v.is_string() || v.is_list() || v.type() == kind::dict || v.is_undefined();
    if (n == "sequence") return v.is_string() || (v.is_list() && !v.is_iterator()) || v.type() == kind::dict;
    if (n == "callable") return v.is_callable();
    if (n == "sameas") {
        const value o = arg();
        if (v.is_list() && o.is_list()) return &v.items() == &o.items();
        if (v.is_dict() && o.is_dict()) return &v.entries() == &o.entries();
        return v.type() == o.type() && v == o;
    }
    if (n == "escaped") return false;
    if (n == "in") return contains(arg(), v);
    if (n == "eq" || n == "equalto" || n == "==") return v == arg();
    if (n == "ne" || n == "!=") return !(v == arg());
    if (n == "lt" || n == "lessthan" || n == "<") return less_than(v, arg());
    if (n == "le" || n == "<=") return less_than(v, arg()) || v == arg();
    if (n == "gt" || n == "greaterthan" || n == ">") return less_than(arg(), v);
    if (n == "ge" || n == ">=") return less_than(arg(), v) || v == arg();
    if (n == "odd" || n == "even") {
        const std::int64_t i = need_int(a, v, n == "odd" ? "odd" : "even");
        return n == "odd" ? (i % 2 != 0) : (i % 2 == 0);
    }
    if (n == "divisibleby") {
        const std::int64_t d = need_int(a, arg(), "divisibleby");
        if (d == 0) a.fail("integer modulo by zero");
        return need_int(a, v, "divisibleby") % d == 0;
    }
    if (n == "lower") return v.is_string() && py_lower(v.as_string()) == v.as_string();
    if (n == "upper") return v.is_string() && py_upper(v.as_string()) == v.as_string();
    if (n == "filter") return arg().is_string() && known_filter(arg().as_string());
    if (n == "test") return arg().is_string() && known_test(arg().as_string());
    a.fail("no test named '" + std::string(n) + "'");
}

bool known_filter(std::string_view n) {
    static const std::set<std::string_view> filters{
        "abs",    "attr",      "batch",  "capitalize", "center", "count",   "d",        "default", "dictsort",
        "e",      "escape",    "first",  "float",      "forceescape", "format", "indent", "int",   "items",
        "join",   "last",      "length", "list",       "lower",  "map",     "max",      "min",     "reject",
        "rejectattr", "replace", "reverse", "round",   "safe",   "select",  "selectattr", "slice", "sort",
        "string", "sum",       "title",  "tojson",     "trim",   "truncate", "unique",  "upper",   "wordcount"};
    return filters.contains(n);
}

value apply_filter(runtime& rt, std::string_view n, const value& v, call_args& a) {
    auto need_str_operand = [&]() -> std::string { return v.str(); };
    if (n == "trim") return value(py_strip(need_str_operand(), a.get(0, "chars", value::none()), 'b'));
    if (n == "upper") return value(py_upper(v.str()));
    if (n == "lower") return value(py_lower(v.str()));
    if (n == "capitalize") return value(py_capitalize(v.str()));
    if (n == "title") return value(jinja_title(v.str()));
    if (n == "string") return value(v.str());
    if (n == "safe" || n == "escape" || n == "e" || n == "forceescape")
        return n == "safe" ? (v.is_string() ? v : value(v.str())) : value(html_escape(v.str()));
    if (n == "length" || n == "count") {
        auto len = length_of(v);
        if (!len) a.fail("object of type '" + v.type_name() + "' has no len()");
        return value(static_cast<std::int64_t>(*len));
    }
    if (n == "default" || n == "d") {
        const value fallback = a.get(0, "default_value", value(std::string()));
        const bool boolean = a.get(1, "boolean", value(false)).truthy();
        if (v.is_undefined() || (boolean && !v.truthy())) return fallback;
        return v;
    }
    if (n == "tojson") {
        std::optional<int> indent;
        const value ind = a.get(1, "indent", value::none());
        if (!ind.is_none() && !ind.is_undefined()) indent = static_cast<int>(need_int(a, ind, "tojson indent"));
        const bool sort = a.get(3, "sort_keys", value(false)).truthy();
        const value ea = a.get(0, "ensure_ascii", value(false));
        std::optional<std::pair<std::string, std::string>> seps;
        const value sv = a.get(2, "separators", value::none());
        if (sv.is_list() && sv.items().size() == 2) seps = std::make_pair(sv.items()[0].str(), sv.items()[1].str());
        std::string out = to_json(v, indent, sort, seps);
        if (ea.truthy()) {
            // ensure_ascii: every non-ASCII character as \uXXXX (surrogate pairs above U+FFFF).
            std::string ascii;
            for (std::size_t i = 0; i < out.size();) {
                std::size_t k = 0;
                const char32_t c = decode_at(out, i, k);
                char buf[16];
                if (c < 0x80) ascii += static_cast<char>(c);
                else if (c < 0x10000) {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    ascii += buf;
                } else {
                    const char32_t u = c - 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (u >> 10)),
                                  static_cast<unsigned>(0xDC00 + (u & 0x3FF)));
                    ascii += buf;
                }
                i += k;
            }
            out = std::move(ascii);
        }
        return value(std::move(out));
    }
    if (n == "items") {
        if (v.is_undefined()) return value::iterator({}, "generator");
        if (v.type() != kind::dict) a.fail("Can only get item pairs from a mapping.");
        return value::iterator(items_of(v), "generator");
    }
    if (n == "list") {
        auto items = iterate(v);
        rt.spend(items.size());
        return value::list(std::move(items));
    }
    if (n == "first") {
        auto items = iterate(v);
        return items.empty() ? value::undefined("first") : items.front();
    }
    if (n == "last") {
        if (v.is_iterator() && !v.is_dict_view()) a.fail("'" + v.type_name() + "' object is not reversible");
        auto items = iterate(v);
        return items.empty() ? value::undefined("last") : items.back();
    }
    if (n == "reverse") {
        if (v.is_string()) {
            auto c = cps(v.as_string());
            std::reverse(c.begin(), c.end());
            return value(utf8(c));
        }
        // reversed() where it works (an iterator), else a reversed list.
        const bool reversible = v.is_dict() || (v.is_list() && (!v.is_iterator() || v.is_dict_view()));
        auto items = iterate(v);
        std::reverse(items.begin(), items.end());
        if (!reversible) return value::list(std::move(items));
        const std::string type = v.type() == kind::tuple ? "reversed"
                                 : v.is_dict_view()      ? v.type_name().substr(0, 5) + "reverse" + v.type_name().substr(5) + "iterator"
                                 : v.is_dict()           ? "dict_reversekeyiterator"
                                                         : "list_reverseiterator";
        return value::iterator(std::move(items), type);
    }
    if (n == "join") {
        const std::string sep = a.get(0, "d", value(std::string())).str();
        const value attr = a.get(1, "attribute", value::none());
        std::string out;
        bool first = true;
        const auto items = iterate(v);
        rt.spend(items.size());
        for (const auto& item : items) {
            if (!first) out += sep;
            out += (attr.is_none() ? item : attribute_path(rt, item, attr)).str();
            first = false;
            if (out.size() > rt.options().limits.max_output) a.fail("the joined text is too large");
        }
        return value(std::move(out));
    }
    if (n == "map") {
        const auto items = iterate(v);
        rt.spend(items.size());
        std::vector<value> out;
        if (a.positional.empty()) {
            const value attr = a.get(99, "attribute");
            if (attr.is_undefined()) a.fail("map requires a filter argument");
            const value fallback = a.get(99, "default", value::none());
            for (const auto& item : items) {
                value x = attribute_path(rt, item, attr);
                if (x.is_undefined() && !fallback.is_none()) x = fallback;
                out.push_back(std::move(x));
            }
        } else {
            const std::string fname = need_string(a, a.positional[0], "map");
            if (!known_filter(fname)) a.fail("no filter named '" + fname + "'");
            call_args rest = a;
            rest.positional.erase(rest.positional.begin());
            for (const auto& item : items) out.push_back(rt.filter(fname, item, rest));
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "select") return select_items(rt, v, a, true, false);
    if (n == "reject") return select_items(rt, v, a, false, false);
    if (n == "selectattr") return select_items(rt, v, a, true, true);
    if (n == "rejectattr") return select_items(rt, v, a, false, true);
    if (n == "attr") return get_attribute(rt, v, need_string(a, a.get(0, "name"), "attr"));
    if (n == "replace") {
        const value count = a.get(2, "count", value::none());
        return value(py_replace(v.str(), a.get(0, "old").str(), a.get(1, "new").str(),
                                count.is_none() ? -1 : need_int(a, count, "replace")));
    }
    if (n == "int") return to_int(v, a.get(0, "default", value(std::int64_t{0})), need_int(a, a.get(1, "base", value(std::int64_t{10})), "int"));
    if (n == "float") {
        if (v.is_number()) return value(v.as_double());
        if (v.is_string()) {
            try {
                std::size_t used = 0;
                const std::string s = py_strip(v.as_string(), value::none(), 'b');
                const double d = std::stod(s, &used);
                if (used == s.size()) return value(d);
            } catch (const std::exception&) {
            }
        }
        return a.get(0, "default", value(0.0));
    }
    if (n == "abs") {
        if (v.is_int() || v.is_bool()) return value(v.as_int() < 0 ? -v.as_int() : v.as_int());
        if (v.is_float()) return value(std::fabs(v.as_double()));
        a.fail("bad operand type for abs(): '" + v.type_name() + "'");
    }
    if (n == "round") {
        const std::int64_t precision = need_int(a, a.get(0, "precision", value(std::int64_t{0})), "round");
        const std::string method = a.get(1, "method", value("common")).str();
        if (!v.is_number()) a.fail("round expects a number");
        const double scale = std::pow(10.0, static_cast<double>(precision));
        const double x = v.as_double() * scale;
        double r = 0;
        if (method == "common") r = std::nearbyint(x);
        else if (method == "ceil") r = std::ceil(x);
        else if (method == "floor") r = std::floor(x);
        else a.fail("method must be common, ceil or floor");
        return value(r / scale);
    }
    if (n == "sum") {
        const value attr = a.get(0, "attribute", value::none());
        value total = a.get(1, "start", value(std::int64_t{0}));
        for (const auto& item : iterate(v)) {
            const value x = attr.is_none() ? item : attribute_path(rt, item, attr);
            if (!x.is_number() || !total.is_number()) a.fail("sum: unsupported operand types");
            if (x.is_float() || total.is_float()) total = value(total.as_double() + x.as_double());
            else total = value(total.as_int() + x.as_int());
        }
        return total;
    }
    if (n == "min" || n == "max") {
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const value attr = a.get(1, "attribute", value::none());
        const auto items = iterate(v);
        if (items.empty()) return value::undefined(std::string(n));
        std::size_t best = 0;
        auto key = [&](const value& x) {
            value k = attr.is_none() ? x : attribute_path(rt, x, attr);
            return cs ? k : ignore_case(k);
        };
        for (std::size_t i = 1; i < items.size(); ++i) {
            const bool better = n == "min" ? less_than(key(items[i]), key(items[best])) : less_than(key(items[best]), key(items[i]));
            if (better) best = i;
        }
        return items[best];
    }
    if (n == "unique") {
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const value attr = a.get(1, "attribute", value::none());
        std::vector<value> out;
        std::vector<value> seen;
        for (const auto& item : iterate(v)) {
            value k = attr.is_none() ? item : attribute_path(rt, item, attr);
            if (!cs) k = ignore_case(k);
            if (std::find(seen.begin(), seen.end(), k) != seen.end()) continue;
            seen.push_back(k);
            out.push_back(item);
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "sort") {
        const bool reverse = a.get(0, "reverse", value(false)).truthy();
        const bool cs = a.get(1, "case_sensitive", value(false)).truthy();
        const value attr = a.get(2, "attribute", value::none());
        // Keys as Jinja2 makes them: a list of one value per attribute
        // ("age,name" gives two), compared as Python compares lists: equal
        // elements are skipped, so [None] and [None] do not need a `<`.
        std::vector<value> paths;
        if (attr.is_string()) {
            const std::string& spec = attr.as_string();
            for (std::size_t start = 0;;) {
                const auto comma = spec.find(',', start);
                paths.emplace_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        } else {
            paths.push_back(attr);
        }
        const auto items = iterate(v);
        rt.spend(items.size());
        std::vector<std::pair<std::vector<value>, std::size_t>> keyed;
        keyed.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            std::vector<value> k;
            for (const auto& p : paths) {
                value x = p.is_none() ? items[i] : attribute_path(rt, items[i], p);
                k.push_back(cs ? std::move(x) : ignore_case(x));
            }
            keyed.emplace_back(std::move(k), i);
        }
        auto list_less = [](const std::vector<value>& x, const std::vector<value>& y) {
            for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
                if (!(x[i] == y[i])) return less_than(x[i], y[i]);
            return x.size() < y.size();
        };
        std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
            return reverse ? list_less(y.first, x.first) : list_less(x.first, y.first);
        });
        std::vector<value> out;
        out.reserve(keyed.size());
        for (const auto& [k, i] : keyed) out.push_back(items[i]);
        return value::list(std::move(out));
    }
    if (n == "dictsort") {
        if (v.type() != kind::dict) a.fail("dictsort expects a mapping");
        const bool cs = a.get(0, "case_sensitive", value(false)).truthy();
        const std::string by = a.get(1, "by", value("key")).str();
        const bool reverse = a.get(2, "reverse", value(false)).truthy();
        if (by != "key" && by != "value") a.fail("You can only sort by either \"key\" or \"value\"");
        auto items = items_of(v);
        const std::size_t pos = by == "key" ? 0 : 1;
        std::stable_sort(items.begin(), items.end(), [&](const value& x, const value& y) {
            value kx = x.items()[pos], ky = y.items()[pos];
            if (!cs) {
                kx = ignore_case(kx);
                ky = ignore_case(ky);
            }
            return reverse ? less_than(ky, kx) : less_than(kx, ky);
        });
        return value::list(std::move(items));
    }
    if (n == "indent") {
        const value width = a.get(0, "width", value(std::int64_t{4}));
        const std::string indention = width.is_string() ? width.as_string()
                                                        : std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, need_int(a, width, "indent"))), ' ');
        const bool first = a.get(1, "first", value(false)).truthy();
        const bool blank = a.get(2, "blank", value(false)).truthy();
        std::string s = v.str() + "\n";
        // splitlines() on the text (with the added newline, as the reference does).
        std::vector<std::string> lines;
        std::size_t start = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\n' || s[i] == '\r') {
                lines.push_back(s.substr(start, i - start));
                if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                start = i + 1;
            }
        }
        std::string rv;
        if (blank) {
            for (std::size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + indention : "") + lines[i];
        } else {
            rv = lines.empty() ? "" : lines[0];
            for (std::size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? lines[i] : indention + lines[i]);
        }
        if (first) rv = indention + rv;
        return value(std::move(rv));
    }
    if (n == "center") {
        const std::int64_t width = need_int(a, a.get(0, "width", value(std::int64_t{80})), "center");
        const std::string s = v.str();
        const auto len = static_cast<std::int64_t>(count_code_points(s));
        if (width <= len) return value(s);
        const std::int64_t pad = width - len;
        const std::int64_t left = pad / 2 + (pad & width & 1);
        return value(std::string(static_cast<std::size_t>(left), ' ') + s + std::string(static_cast<std::size_t>(pad - left), ' '));
    }
    if (n == "wordcount") {
        std::int64_t count = 0;
        bool in_word = false;
        for (const char32_t c : cps(v.str())) {
            const bool w = is_word_char(c);
            if (w && !in_word) ++count;
            in_word = w;
        }
        return value(count);
    }
    if (n == "truncate") {
        const std::int64_t length = need_int(a, a.get(0, "length", value(std::int64_t{255})), "truncate");
        const bool killwords = a.get(1, "killwords", value(false)).truthy();
        const std::string end = a.get(2, "end", value("...")).str();
        const std::int64_t leeway = need_int(a, a.get(3, "leeway", value(std::int64_t{5})), "truncate");
        auto c = cps(v.str());
        const auto end_len = static_cast<std::int64_t>(count_code_points(end));
        if (static_cast<std::int64_t>(c.size()) <= length + leeway) return value(v.str());
        const std::size_t cut = static_cast<std::size_t>(std::max<std::int64_t>(0, length - end_len));
        if (killwords) return value(utf8(c.substr(0, cut)) + end);
        std::u32string head = c.substr(0, cut);
        const auto sp = head.rfind(U' ');
        if (sp != std::u32string::npos) head = head.substr(0, sp);
        return value(utf8(head) + end);
    }
    if (n == "format") {
        if (!a.keyword.empty() && !a.positional.empty()) a.fail("can't handle positional and keyword arguments at the same time");
        return value(py_percent_format(v.str(), value::tuple(a.positional)));
    }
    if (n == "batch") {
        const std::int64_t count = need_int(a, a.get(0, "linecount"), "batch");
        if (count <= 0) a.fail("batch size must be positive");
        const value fill = a.get(1, "fill_with", value::none());
        std::vector<value> out, cur;
        for (const auto& item : iterate(v)) {
            cur.push_back(item);
            if (static_cast<std::int64_t>(cur.size()) == count) {
                out.push_back(value::list(std::move(cur)));
                cur.clear();
            }
        }
        if (!cur.empty()) {
            if (!fill.is_none())
                while (static_cast<std::int64_t>(cur.size()) < count) cur.push_back(fill);
            out.push_back(value::list(std::move(cur)));
        }
        return value::iterator(std::move(out), "generator");
    }
    if (n == "slice") {
        const std::int64_t slices = need_int(a, a.get(0, "slices"), "slice");
        if (slices <= 0) a.fail("slice count must be positive");
        const auto items = iterate(v);
        const auto len = static_cast<std::int64_t>(items.size());
        const std::int64_t per = len / slices, extra = len % slices;
        std::vector<value> out;
        std::int64_t offset = 0;
        for (std::int64_t i = 0; i < slices; ++i) {
            const std::int64_t start = offset + i * per;
            if (i < extra) ++offset;
            const std::int64_t end = offset + (i + 1) * per;
            out.push_back(value::list(std::vector<value>(items.begin() + start, items.begin() + end)));
        }
        return value::iterator(std::move(out), "generator");
    }
    a.fail("no filter named '" + std::string(n) + "'");
}

} // namespace tether::agent::text::jinja
