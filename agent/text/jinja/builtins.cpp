#include "text/jinja/builtins.hpp"

#include "text/jinja/builtins_support.hpp"
#include "text/jinja/parser.hpp"
#include "text/jinja/python_text.hpp"
#include "text/unicode.hpp"

#include <unicode/uchar.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

namespace tether::agent::text::jinja {

void check_size(runtime& rt, const call_args& a, std::size_t n) {
    if (n > rt.options().limits.max_collection) a.fail("the result would be too large");
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

} // namespace tether::agent::text::jinja
