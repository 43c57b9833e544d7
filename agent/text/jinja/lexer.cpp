#include "text/jinja/lexer.hpp"

#include "text/jinja/value.hpp"
#include "text/unicode.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace tether::agent::text::jinja {
namespace {

// Python's str.isspace, which Jinja's \s and rstrip() use.
bool py_space(char32_t c) {
    return is_whitespace(c) || (c >= 0x1C && c <= 0x1F);
}

std::string normalize_newlines(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            out += '\n';
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
        } else {
            out += s[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back(); // keep_trailing_newline = False
    return out;
}

std::string rstrip_py(std::string_view s) {
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t k = end - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        std::size_t n = 0;
        if (!py_space(decode_at(s, k, n))) break;
        end = k;
    }
    return std::string(s.substr(0, end));
}

bool all_space(std::string_view s) {
    if (s.empty()) return false; // \s+ needs one
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = 0;
        if (!py_space(decode_at(s, i, n))) return false;
        i += n;
    }
    return true;
}

std::size_t skip_space(std::string_view s, std::size_t i) {
    while (i < s.size()) {
        std::size_t n = 0;
        if (!py_space(decode_at(s, i, n))) break;
        i += n;
    }
    return i;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class lexer {
  public:
    lexer(std::string_view source, const lexer_options& o) : src_(normalize_newlines(source)), opt_(o) {
        line_starts_.push_back(0);
        for (std::size_t i = 0; i < src_.size(); ++i)
            if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }

    std::vector<token> run() {
        while (pos_ < src_.size()) root();
        push(tok::eof, "", pos_);
        return std::move(out_);
    }

  private:
    [[noreturn]] void fail(const std::string& message, std::size_t at) const {
        const auto [line, column] = where(at);
        throw template_error(message, line, column);
    }

    std::pair<int, int> where(std::size_t at) const {
        at = std::min(at, src_.size());
        const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at) - 1;
        const std::size_t line_start = *it;
        const int line = static_cast<int>(it - line_starts_.begin()) + 1;
        return {line, static_cast<int>(count_code_points(std::string_view(src_).substr(line_start, at - line_start))) + 1};
    }

    void push(tok type, std::string text, std::size_t at) {
        const auto [line, column] = where(at);
        out_.push_back({type, std::move(text), line, column});
    }

    // Text up to the next tag, with Jinja's whitespace control applied.
    void root() {
        std::size_t tag = pos_;
        while (true) {
            tag = src_.find('{', tag);
            if (tag == std::string::npos || tag + 1 >= src_.size()) {
                std::string rest = src_.substr(pos_);
                if (!rest.empty()) push(tok::data, rest, pos_);
                line_starting_ = !rest.empty() && rest.back() == '\n';
                pos_ = src_.size();
                return;
            }
            const char c = src_[tag + 1];
            if (c == '{' || c == '%' || c == '#') break;
            ++tag;
        }
        const char kind = src_[tag + 1];
        char sign = 0;
        if (tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')) sign = src_[tag + 2];
        std::string text = src_.substr(pos_, tag - pos_);
        apply_lstrip(text, sign, kind == '{');
        if (!text.empty()) push(tok::data, text, pos_);
        line_starting_ = false;
        pos_ = tag + 2 + (sign ? 1 : 0);
        if (kind == '#') return comment(tag);
        if (kind == '%' && raw_block(tag)) return;
        tag_body(kind == '%' ? tok::block_begin : tok::variable_begin, tag);
    }

    void apply_lstrip(std::string& text, char sign, bool variable) {
        if (sign == '-') {
            text = rstrip_py(text);
        } else if (sign != '+' && opt_.lstrip_blocks && !variable) {
            const std::size_t nl = text.rfind('\n');
            const std::size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
            if ((l_pos > 0 || line_starting_) && all_space(std::string_view(text).substr(l_pos))) text.resize(l_pos);
        }
    }

    // After the end tag of a block or comment: `-` eats all whitespace that
    // follows, trim_blocks one newline, `+` nothing.
    std::size_t after_end(std::size_t at, std::size_t tag_len, char sign, bool trims) {
        std::size_t end = at + tag_len;
        if (sign == '-') end = skip_space(src_, end);
        else if (sign != '+' && trims && opt_.trim_blocks && end < src_.size() && src_[end] == '\n') ++end;
        return end;
    }

    void comment(std::size_t tag) {
        const std::size_t close = src_.find("#}", pos_);
        if (close == std::string::npos) fail("Missing end of comment tag", tag);
        char sign = 0;
        if (close > pos_ && (src_[close - 1] == '-' || src_[close - 1] == '+')) sign = src_[close - 1];
        pos_ = after_end(close, 2, sign, true);
        line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
    }

    // {% raw %} … {% endraw %}: the text between is data, untouched.
    bool raw_block(std::size_t tag) {
        std::size_t i = skip_space(src_, pos_);
        if (src_.compare(i, 3, "raw") != 0) return false;
        i = skip_space(src_, i + 3);
        char sign = 0;
        if (i < src_.size() && src_[i] == '-') {
            sign = '-';
            ++i;
        }
        if (src_.compare(i, 2, "%}") != 0) return false;
        std::size_t body = i + 2;
        if (sign == '-') body = skip_space(src_, body);
        // Find {%[-+]? endraw [-+]?%}
        for (std::size_t k = src_.find("{%", body); k != std::string::npos; k = src_.find("{%", k + 1)) {
            std::size_t j = k + 2;
            char open_sign = 0;
            if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) open_sign = src_[j++];
            j = skip_space(src_, j);
            if (src_.compare(j, 6, "endraw") != 0) continue;
            j = skip_space(src_, j + 6);
            char close_sign = 0;
            if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) close_sign = src_[j++];
            if (src_.compare(j, 2, "%}") != 0) continue;
            std::string text = src_.substr(body, k - body);
            apply_lstrip(text, open_sign, false);
            if (!text.empty()) push(tok::data, text, body);
            pos_ = after_end(j, 2, close_sign, true);
            line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
            return true;
        }
        fail("Missing end of raw directive", tag);
    }

    void tag_body(tok begin, std::size_t tag) {
        push(begin, begin == tok::block_begin ? "{%" : "{{", tag);
        const bool block = begin == tok::block_begin;
        std::vector<char> balance;
        while (true) {
            pos_ = skip_space(src_, pos_);
            if (pos_ >= src_.size()) fail(block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", tag);
            if (balance.empty() && end_tag(block)) return;
            const std::size_t at = pos_;
            const char c = src_[pos_];
            if (std::isdigit(static_cast<unsigned char>(c))) {
                number();
                continue;
            }
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
                std::size_t e = pos_;
                while (e < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_' ||
                                           static_cast<unsigned char>(src_[e]) >= 0x80))
                    ++e;
                push(tok::name, src_.substr(pos_, e - pos_), at);
                pos_ = e;
                continue;
            }
            if (c == '\'' || c == '"') {
                string_literal();
                continue;
            }
            static const char* const ops[] = {"**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                              "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
            bool found = false;
            for (const char* op : ops) {
                const std::size_t n = std::char_traits<char>::length(op);
                if (src_.compare(pos_, n, op) != 0) continue;
                const std::string o(op);
                if (o == "{" || o == "(" || o == "[") {
                    balance.push_back(o == "{" ? '}' : o == "(" ? ')' : ']');
                } else if (o == "}" || o == ")" || o == "]") {
                    if (balance.empty()) fail("unexpected '" + o + "'", at);
                    if (balance.back() != o[0]) fail("unexpected '" + o + "', expected '" + std::string(1, balance.back()) + "'", at);
                    balance.pop_back();
                }
                push(tok::op, o, at);
                pos_ += n;
                found = true;
                break;
            }
            if (!found) fail("unexpected char '" + std::string(1, c) + "'", at);
        }
    }

    bool end_tag(bool block) {
        const std::size_t at = pos_;
        if (block) {
            if (src_.compare(pos_, 3, "+%}") == 0) {
                pos_ += 3;
            } else if (src_.compare(pos_, 3, "-%}") == 0) {
                pos_ = after_end(pos_ + 1, 2, '-', true);
            } else if (src_.compare(pos_, 2, "%}") == 0) {
                pos_ = after_end(pos_, 2, 0, true);
            } else {
                return false;
            }
            push(tok::block_end, "%}", at);
        } else {
            if (src_.compare(pos_, 3, "-}}") == 0) {
                pos_ = skip_space(src_, pos_ + 3);
            } else if (src_.compare(pos_, 2, "}}") == 0) {
                pos_ += 2;
            } else {
                return false;
            }
            push(tok::variable_end, "}}", at);
        }
        line_starting_ = pos_ > 0 && src_[pos_ - 1] == '\n';
        return true;
    }

    void number() {
        const std::size_t at = pos_;
        auto digits = [&](std::size_t i) {
            // (\d+_)*\d+
            const std::size_t start = i;
            while (i < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[i])) ||
                                       (src_[i] == '_' && i + 1 < src_.size() &&
                                        std::isdigit(static_cast<unsigned char>(src_[i + 1])) && i > start)))
                ++i;
            return i;
        };
        const bool after_dot = at > 0 && src_[at - 1] == '.';
        std::size_t i = digits(pos_);
        std::size_t float_end = 0;
        if (!after_dot) {
            std::size_t j = i;
            bool frac = false;
            if (j + 1 < src_.size() && src_[j] == '.' && std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
                j = digits(j + 1);
                frac = true;
            }
            if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
                std::size_t k = j + 1;
                if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
                if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) float_end = digits(k);
            }
            if (!float_end && frac) float_end = j;
        }
        if (float_end) {
            std::string t = src_.substr(pos_, float_end - pos_);
            t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
            push(tok::floating, t, at);
            pos_ = float_end;
            return;
        }
        // Integers: 0x…, 0o…, 0b…, decimal, or zeros.
        if (src_[pos_] == '0' && pos_ + 1 < src_.size() && std::strchr("xXoObB", src_[pos_ + 1]) != nullptr) {
            const char base = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[pos_ + 1])));
            std::size_t k = pos_ + 2;
            const std::size_t start = k;
            while (k < src_.size() && (src_[k] == '_' || std::isxdigit(static_cast<unsigned char>(src_[k])))) ++k;
            std::string t = src_.substr(start, k - start);
            t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
            if (t.empty()) fail("invalid number", at);
            const int radix = base == 'x' ? 16 : base == 'o' ? 8 : 2;
            std::int64_t v = 0;
            for (const char ch : t) {
                const int d = hex_value(ch);
                if (d < 0 || d >= radix) fail("invalid number", at);
                if (v > (std::numeric_limits<std::int64_t>::max() - d) / radix) fail("the integer is too large", at);
                v = v * radix + d;
            }
            push(tok::integer, std::to_string(v), at);
            pos_ = k;
            return;
        }
        std::size_t k = pos_;
        if (src_[k] == '0') {
            ++k;
            while (k + 1 < src_.size() && src_[k] == '_' && src_[k + 1] == '0') k += 2;
            while (k < src_.size() && src_[k] == '0') ++k;
        } else {
            k = digits(pos_);
        }
        std::string t = src_.substr(pos_, k - pos_);
        t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
        push(tok::integer, t, at);
        pos_ = k;
    }

    void string_literal() {
        const std::size_t at = pos_;
        const char quote = src_[pos_++];
        std::string raw;
        while (true) {
            if (pos_ >= src_.size()) fail("unexpected end of string", at);
            const char c = src_[pos_];
            if (c == quote) {
                ++pos_;
                break;
            }
            if (c == '\\') {
                if (pos_ + 1 >= src_.size()) fail("unexpected end of string", at);
                raw += c;
                raw += src_[pos_ + 1];
                pos_ += 2;
                continue;
            }
            raw += c;
            ++pos_;
        }
        push(tok::string, unescape(raw, at), at);
    }

    // Python's "unicode-escape" decoding, applied to the literal's body.
    std::string unescape(const std::string& s, std::size_t at) const {
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] != '\\' || i + 1 >= s.size()) {
                out += s[i];
                continue;
            }
            const char e = s[++i];
            auto hex_escape = [&](std::size_t n) {
                std::uint32_t v = 0;
                for (std::size_t k = 1; k <= n; ++k) {
                    if (i + k >= s.size()) fail("truncated \\x, \\u or \\U escape in string", at);
                    const int d = hex_value(s[i + k]);
                    if (d < 0) fail("truncated \\x, \\u or \\U escape in string", at);
                    v = v * 16 + static_cast<std::uint32_t>(d);
                }
                i += n;
                if (v > 0x10FFFF) fail("illegal Unicode character in string", at);
                if (v >= 0xD800 && v <= 0xDFFF) v = 0xFFFD; // a lone surrogate has no UTF-8
                append_utf8(out, v);
            };
            switch (e) {
            case '\n': break; // line continuation
            case '\\': out += '\\'; break;
            case '\'': out += '\''; break;
            case '"': out += '"'; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x': hex_escape(2); break;
            case 'u': hex_escape(4); break;
            case 'U': hex_escape(8); break;
            case 'N': fail("\\N{…} escapes are not supported in template strings", at);
            default:
                if (e >= '0' && e <= '7') {
                    std::uint32_t v = static_cast<std::uint32_t>(e - '0');
                    for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
                        v = v * 8 + static_cast<std::uint32_t>(s[++i] - '0');
                    append_utf8(out, v);
                } else {
                    out += '\\'; // unknown escapes stay as written
                    out += e;
                }
            }
        }
        return out;
    }

    std::string src_;
    lexer_options opt_;
    std::size_t pos_ = 0;
    bool line_starting_ = true;
    std::vector<std::size_t> line_starts_;
    std::vector<token> out_;
};

} // namespace

std::vector<token> lex(std::string_view source, const lexer_options& options) {
    return lexer(source, options).run();
}

} // namespace tether::agent::text::jinja
