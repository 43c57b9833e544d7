#include "text/decoders.hpp"

#include <algorithm>

#include "text/byte_level_alphabet.hpp"
#include "text/regex.hpp"
#include "text/unicode.hpp"

#include <optional>

namespace tether::agent::text {
namespace {

constexpr std::size_t max_sequence = 64;

class byte_level final : public decoder {
  public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const auto& t : tokens) {
            if (auto b = byte_level_decode(t)) bytes += *b;
            else bytes += t; // a token outside the alphabet keeps its own bytes
        }
        tokens.assign(1, to_valid_utf8(bytes));
    }
};

class metaspace final : public decoder {
  public:
    metaspace(std::string replacement, bool prepend) : replacement_(std::move(replacement)), prepend_(prepend) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string out;
            const auto& t = tokens[i];
            for (std::size_t k = 0; k < t.size();) {
                if (t.compare(k, replacement_.size(), replacement_) == 0) {
                    if (!(i == 0 && prepend_)) out += ' ';
                    k += replacement_.size();
                } else {
                    out += t[k];
                    ++k;
                }
            }
            tokens[i] = std::move(out);
        }
    }

  private:
    std::string replacement_;
    bool prepend_; // prepend_scheme is not "never": the first token's leading one goes
};

std::optional<unsigned> byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    const int hi = hex(t[3]);
    const int lo = hex(t[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned>(hi * 16 + lo);
}

class byte_fallback final : public decoder {
  public:
    bool groups_byte_tokens() const override { return true; }
    bool reaches_as_byte(const std::string& token) const override { return byte_token(token).has_value(); }
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (is_valid_utf8(pending)) {
                out.push_back(pending);
            } else {
                // One replacement character per byte, as the reference does.
                for (std::size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
            }
            pending.clear();
        };
        for (auto& t : tokens) {
            if (auto b = byte_token(t)) {
                pending += static_cast<char>(*b);
                continue;
            }
            flush();
            out.push_back(std::move(t));
        }
        flush();
        tokens = std::move(out);
    }
};

class fuse final : public decoder {
  public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

class strip final : public decoder {
  public:
    strip(char32_t content, std::size_t start, std::size_t stop) : content_(content), start_(start), stop_(stop) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (auto& t : tokens) {
            const auto chars = to_code_points(t);
            std::size_t start_cut = 0;
            for (std::size_t i = 0; i < chars.size() && i < start_; ++i) {
                if (chars[i] != content_) break;
                start_cut = i + 1;
            }
            std::size_t stop_cut = chars.size();
            for (std::size_t i = 0; i < stop_ && i < chars.size(); ++i) {
                const std::size_t index = chars.size() - i - 1;
                if (chars[index] != content_) break;
                stop_cut = index;
            }
            std::string out;
            for (std::size_t i = start_cut; i < stop_cut; ++i) append_utf8(out, chars[i]);
            t = std::move(out);
        }
    }

  private:
    char32_t content_;
    std::size_t start_, stop_;
};

class replace final : public decoder {
  public:
    replace(std::string pattern, std::string content) : re_(pattern), content_(std::move(content)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (auto& t : tokens) {
            std::string out;
            for (const auto& s : re_.split_spans(t)) {
                if (s.matched) out += content_;
                else out.append(t, s.begin, s.end - s.begin);
            }
            t = std::move(out);
        }
    }

  private:
    regex re_;
    std::string content_;
};

// str::replace as Rust does it; an empty `from` matches at every character
// boundary, start and end included.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    if (from.empty()) {
        out += to;
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t n = utf8_length(static_cast<unsigned char>(s[i]));
            out.append(s, i, n);
            out += to;
            i += n;
        }
        s = std::move(out);
        return;
    }
    std::size_t pos = 0;
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, pos)) {
        out.append(s, pos, at - pos);
        out += to;
        pos = at + from.size();
    }
    out.append(s, pos, std::string::npos);
    s = std::move(out);
}

void wordpiece_cleanup(std::string& s) {
    replace_all(s, " .", ".");
    replace_all(s, " ?", "?");
    replace_all(s, " !", "!");
    replace_all(s, " ,", ",");
    replace_all(s, " ' ", "'");
    replace_all(s, " n't", "n't");
    replace_all(s, " 'm", "'m");
    replace_all(s, " do not", " don't");
    replace_all(s, " 's", "'s");
    replace_all(s, " 've", "'ve");
    replace_all(s, " 're", "'re");
}

class wordpiece final : public decoder {
  public:
    wordpiece(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            auto& t = tokens[i];
            if (i != 0) {
                if (t.compare(0, prefix_.size(), prefix_) == 0) t.erase(0, prefix_.size());
                else t = " " + t;
            }
            if (cleanup_) wordpiece_cleanup(t);
        }
    }

  private:
    std::string prefix_;
    bool cleanup_;
};

class bpe_decoder final : public decoder {
  public:
    explicit bpe_decoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i) replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }

  private:
    std::string suffix_;
};

class ctc final : public decoder {
  public:
    ctc(std::string pad, std::string delimiter, bool cleanup)
        : pad_(std::move(pad)), delimiter_(std::move(delimiter)), cleanup_(cleanup) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0 && tokens[i] == tokens[i - 1]) continue; // dedup runs
            std::string t = tokens[i];
            replace_all(t, pad_, "");
            if (cleanup_) {
                wordpiece_cleanup(t);
                replace_all(t, delimiter_, " ");
            }
            if (!t.empty()) out.push_back(std::move(t));
        }
        tokens = std::move(out);
    }

  private:
    std::string pad_, delimiter_;
    bool cleanup_;
};

class sequence final : public decoder {
  public:
    explicit sequence(std::vector<std::unique_ptr<decoder>> parts) : parts_(std::move(parts)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& d : parts_) d->decode_chain(tokens);
    }
    bool groups_byte_tokens() const override {
        return std::any_of(parts_.begin(), parts_.end(), [](const auto& d) { return d->groups_byte_tokens(); });
    }
    // Follows the token through the steps before the grouping one, as the
    // first token and as a later one (Metaspace treats them differently).
    bool reaches_as_byte(const std::string& token) const override {
        for (const bool first : {true, false}) {
            std::vector<std::string> cur = first ? std::vector<std::string>{token} : std::vector<std::string>{"a", token};
            for (const auto& d : parts_) {
                if (cur.size() != (first ? 1U : 2U)) break;
                if (d->groups_byte_tokens()) {
                    if (d->reaches_as_byte(cur.back())) return true;
                    break;
                }
                d->decode_chain(cur);
            }
        }
        return false;
    }

  private:
    std::vector<std::unique_ptr<decoder>> parts_;
};

} // namespace

bool decoder::reaches_as_byte(const std::string&) const {
    return false;
}

std::string decoder::decode(std::vector<std::string> tokens) const {
    decode_chain(tokens);
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
}

std::unique_ptr<decoder> make_decoder(const json_view& j) {
    if (j.is_null()) return nullptr;
    const std::string type = j.type();
    if (type == "ByteLevel") return std::make_unique<byte_level>();
    if (type == "Metaspace") {
        std::string replacement = j.string_or("replacement", "\xE2\x96\x81");
        bool prepend = true;
        if (auto s = j.member("prepend_scheme")) prepend = s->as_string() != "never";
        if (auto a = j.member("add_prefix_space"); a && !a->as_bool()) prepend = false;
        return std::make_unique<metaspace>(std::move(replacement), prepend);
    }
    if (type == "ByteFallback") return std::make_unique<byte_fallback>();
    if (type == "Fuse") return std::make_unique<fuse>();
    if (type == "Strip") {
        const std::string content = j.required("content").as_string();
        const auto cps = to_code_points(content);
        if (cps.size() != 1) j.required("content").fail("must be one character");
        return std::make_unique<strip>(cps[0], static_cast<std::size_t>(j.required("start").as_uint(1 << 20)),
                                       static_cast<std::size_t>(j.required("stop").as_uint(1 << 20)));
    }
    if (type == "Replace") {
        const auto pat = j.required("pattern");
        std::string pattern;
        if (auto s = pat.member("String")) pattern = regex::escape(s->as_string());
        else if (auto r = pat.member("Regex")) pattern = r->as_string();
        else pat.fail("expected {\"String\": …} or {\"Regex\": …}");
        try {
            return std::make_unique<replace>(pattern, j.required("content").as_string());
        } catch (const regex_error& e) {
            pat.fail(std::string("the regex does not compile: ") + e.what());
        }
    }
    if (type == "WordPiece") return std::make_unique<wordpiece>(j.string_or("prefix", "##"), j.bool_or("cleanup", true));
    if (type == "BPEDecoder") return std::make_unique<bpe_decoder>(j.string_or("suffix", "</w>"));
    if (type == "CTC")
        return std::make_unique<ctc>(j.string_or("pad_token", "<pad>"), j.string_or("word_delimiter_token", "|"),
                                     j.bool_or("cleanup", true));
    if (type == "Sequence") {
        std::vector<std::unique_ptr<decoder>> parts;
        j.required("decoders").for_each(max_sequence, [&](std::size_t, const json_view& item) {
            if (auto d = make_decoder(item)) parts.push_back(std::move(d));
        });
        return std::make_unique<sequence>(std::move(parts));
    }
    j.required("type").fail("unsupported decoder \"" + type + "\"");
}

} // namespace tether::agent::text
