#include "text/normalizers.hpp"

#include "text/byte_level_alphabet.hpp"
#include "text/precompiled_charsmap.hpp"
#include "text/unicode.hpp"

#include "tether/shared/base64.hpp"

#include <optional>
#include <vector>

namespace tether::agent::text {
namespace {

constexpr std::size_t max_sequence = 64;
constexpr std::size_t max_pattern = 4096;

// Applies `keep` to each character; the first one dropped at the start ends at_origin.
template <class Keep, class Map>
void filter_map(piece& p, Keep&& keep, Map&& map) {
    std::string out;
    out.reserve(p.text.size());
    bool first = true;
    for (std::size_t i = 0; i < p.text.size();) {
        std::size_t n = 0;
        const char32_t c = decode_at(p.text, i, n);
        i += n;
        if (!keep(c)) {
            if (first) p.at_origin = false;
            continue;
        }
        first = false;
        append_utf8(out, map(c));
    }
    p.text = std::move(out);
}

class unicode_form final : public normalizer {
  public:
    explicit unicode_form(normal_form f) : form_(f) {}
    void normalize(piece& p) const override { p.text = text::normalize(p.text, form_); }

  private:
    normal_form form_;
};

class lowercase final : public normalizer {
  public:
    void normalize(piece& p) const override {
        std::string out;
        out.reserve(p.text.size());
        for (std::size_t i = 0; i < p.text.size();) {
            std::size_t n = 0;
            append_lowercase(out, decode_at(p.text, i, n));
            i += n;
        }
        p.text = std::move(out);
    }
};

class prepend final : public normalizer {
  public:
    explicit prepend(std::string s) : s_(std::move(s)) {}
    void normalize(piece& p) const override {
        if (!p.text.empty()) p.text.insert(0, s_);
    }

  private:
    std::string s_;
};

class replace final : public normalizer {
  public:
    replace(std::string literal, std::optional<std::string> pattern, std::string content)
        : literal_(std::move(literal)), content_(std::move(content)) {
        // An empty literal matches everywhere, as its (empty) regex does.
        if (pattern) re_.emplace(*pattern);
        else if (literal_.empty()) re_.emplace("");
    }
    void normalize(piece& p) const override {
        std::string out;
        out.reserve(p.text.size());
        if (!re_) {
            std::size_t from = 0;
            for (std::size_t at = p.text.find(literal_); at != std::string::npos;
                 at = p.text.find(literal_, from)) {
                if (at == 0 && content_.empty()) p.at_origin = false;
                out.append(p.text, from, at - from);
                out += content_;
                from = at + literal_.size();
            }
            out.append(p.text, from, std::string::npos);
        } else {
            for (const auto& s : re_->split_spans(p.text)) {
                if (!s.matched) {
                    out.append(p.text, s.begin, s.end - s.begin);
                    continue;
                }
                if (s.begin == 0 && s.end > 0 && content_.empty()) p.at_origin = false;
                out += content_;
            }
        }
        p.text = std::move(out);
    }

  private:
    std::string literal_;
    std::optional<regex> re_;
    std::string content_;
};

class strip final : public normalizer {
  public:
    strip(bool left, bool right) : left_(left), right_(right) {}
    void normalize(piece& p) const override {
        std::size_t begin = 0;
        std::size_t end = p.text.size();
        if (left_) {
            while (begin < end) {
                std::size_t n = 0;
                if (!is_whitespace(decode_at(p.text, begin, n))) break;
                begin += n;
            }
        }
        if (right_) {
            while (end > begin) {
                std::size_t k = end - 1;
                while (k > begin && (static_cast<unsigned char>(p.text[k]) & 0xC0) == 0x80) --k;
                std::size_t n = 0;
                if (!is_whitespace(decode_at(p.text, k, n))) break;
                end = k;
            }
        }
        if (begin > 0) p.at_origin = false;
        p.text = p.text.substr(begin, end - begin);
    }

  private:
    bool left_, right_;
};

class strip_accents final : public normalizer {
  public:
    void normalize(piece& p) const override {
        filter_map(p, [](char32_t c) { return !is_mark(c); }, [](char32_t c) { return c; });
    }
};

bool is_bert_whitespace(char32_t c) {
    return c == '\t' || c == '\n' || c == '\r' || is_whitespace(c);
}
bool is_bert_control(char32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return is_other(c);
}
bool is_chinese_char(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

class bert final : public normalizer {
  public:
    bert(bool clean, bool chinese, bool strip_accents, bool lower)
        : clean_(clean), chinese_(chinese), strip_accents_(strip_accents), lower_(lower) {}
    void normalize(piece& p) const override {
        if (clean_) {
            filter_map(
                p, [](char32_t c) { return !(c == 0 || c == 0xFFFD || is_bert_control(c)); },
                [](char32_t c) { return is_bert_whitespace(c) ? U' ' : c; });
        }
        if (chinese_) {
            std::string out;
            out.reserve(p.text.size() + 16);
            for (std::size_t i = 0; i < p.text.size();) {
                std::size_t n = 0;
                const char32_t c = decode_at(p.text, i, n);
                if (is_chinese_char(c)) {
                    out += ' ';
                    out.append(p.text, i, n);
                    out += ' ';
                } else {
                    out.append(p.text, i, n);
                }
                i += n;
            }
            p.text = std::move(out);
        }
        if (strip_accents_) {
            p.text = text::normalize(p.text, normal_form::nfd);
            filter_map(p, [](char32_t c) { return !is_mark_nonspacing(c); }, [](char32_t c) { return c; });
        }
        if (lower_) lowercase().normalize(p);
    }

  private:
    bool clean_, chinese_, strip_accents_, lower_;
};

class nmt final : public normalizer {
  public:
    void normalize(piece& p) const override {
        filter_map(
            p,
            [](char32_t c) {
                return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
                         c == 0x8F || c == 0x9F);
            },
            [](char32_t c) -> char32_t {
                switch (c) {
                case 0x09: case 0x0A: case 0x0C: case 0x0D: case 0x1680: case 0x2028: case 0x2029: case 0x2581:
                case 0xFEFF: case 0xFFFD:
                    return U' ';
                default:
                    return (c >= 0x200B && c <= 0x200F) ? U' ' : c;
                }
            });
    }
};

class precompiled final : public normalizer {
  public:
    explicit precompiled(precompiled_charsmap map) : map_(std::move(map)) {}
    // Grapheme by grapheme: a cluster shorter than 6 bytes is looked up
    // whole, otherwise (or when it has no rule) character by character.
    void normalize(piece& p) const override {
        if (p.text.empty()) return;
        const auto starts = grapheme_starts(p.text);
        std::string out;
        out.reserve(p.text.size());
        bool modified = false;
        bool first_output = true;
        for (std::size_t g = 0; g < starts.size(); ++g) {
            const std::size_t b = starts[g];
            const std::size_t e = g + 1 < starts.size() ? starts[g + 1] : p.text.size();
            const std::string_view cluster(p.text.data() + b, e - b);
            if (cluster.size() < 6) {
                if (auto norm = map_.transform(cluster)) {
                    modified = true;
                    if (first_output && norm->empty()) p.at_origin = false;
                    first_output = first_output && norm->empty();
                    out += *norm;
                    continue;
                }
            }
            for (std::size_t i = 0; i < cluster.size();) {
                const std::size_t n = utf8_length(static_cast<unsigned char>(cluster[i]));
                const std::string_view ch = cluster.substr(i, n);
                if (auto norm = map_.transform(ch)) {
                    modified = true;
                    if (first_output && norm->empty()) p.at_origin = false;
                    first_output = first_output && norm->empty();
                    out += *norm;
                } else {
                    first_output = false;
                    out += ch;
                }
                i += n;
            }
        }
        if (modified) p.text = std::move(out);
    }

  private:
    precompiled_charsmap map_;
};

class byte_level final : public normalizer {
  public:
    void normalize(piece& p) const override { p.text = byte_level_encode(p.text); }
};

class sequence final : public normalizer {
  public:
    explicit sequence(std::vector<std::unique_ptr<normalizer>> parts) : parts_(std::move(parts)) {}
    void normalize(piece& p) const override {
        for (const auto& n : parts_) n->normalize(p);
    }

  private:
    std::vector<std::unique_ptr<normalizer>> parts_;
};

// {"String": "…"} or {"Regex": "…"}: (literal, regex).
std::pair<std::string, std::optional<std::string>> read_pattern(const json_view& j) {
    if (auto s = j.member("String")) return {s->as_string(), std::nullopt};
    if (auto r = j.member("Regex")) {
        auto pattern = r->as_string();
        if (pattern.size() > max_pattern) r->fail("regex longer than " + std::to_string(max_pattern) + " bytes");
        return {{}, std::move(pattern)};
    }
    j.fail("expected {\"String\": …} or {\"Regex\": …}");
}

} // namespace

std::unique_ptr<normalizer> make_normalizer(const json_view& j) {
    if (j.is_null()) return nullptr;
    const std::string type = j.type();
    if (type == "NFC") return std::make_unique<unicode_form>(normal_form::nfc);
    if (type == "NFD") return std::make_unique<unicode_form>(normal_form::nfd);
    if (type == "NFKC") return std::make_unique<unicode_form>(normal_form::nfkc);
    if (type == "NFKD") return std::make_unique<unicode_form>(normal_form::nfkd);
    if (type == "Lowercase") return std::make_unique<lowercase>();
    if (type == "StripAccents") return std::make_unique<strip_accents>();
    if (type == "Nmt") return std::make_unique<nmt>();
    if (type == "ByteLevel") return std::make_unique<byte_level>();
    if (type == "Prepend") return std::make_unique<prepend>(j.required("prepend").as_string());
    if (type == "Strip")
        return std::make_unique<strip>(j.required("strip_left").as_bool(), j.required("strip_right").as_bool());
    if (type == "Replace") {
        auto [literal, pattern] = read_pattern(j.required("pattern"));
        try {
            return std::make_unique<replace>(std::move(literal), std::move(pattern), j.required("content").as_string());
        } catch (const regex_error& e) {
            j.required("pattern").fail(std::string("the regex does not compile: ") + e.what());
        }
    }
    if (type == "BertNormalizer") {
        const bool lower = j.bool_or("lowercase", true);
        bool accents = lower;
        if (auto s = j.member("strip_accents")) accents = s->as_bool();
        return std::make_unique<bert>(j.bool_or("clean_text", true), j.bool_or("handle_chinese_chars", true), accents,
                                      lower);
    }
    if (type == "Precompiled") {
        const auto field = j.required("precompiled_charsmap");
        auto bytes = base64_decode(field.as_string());
        if (!bytes) field.fail("not valid base64");
        try {
            return std::make_unique<precompiled>(precompiled_charsmap(*bytes));
        } catch (const std::invalid_argument& e) {
            field.fail(e.what());
        }
    }
    if (type == "Sequence") {
        std::vector<std::unique_ptr<normalizer>> parts;
        j.required("normalizers").for_each(max_sequence, [&](std::size_t, const json_view& item) {
            if (auto n = make_normalizer(item)) parts.push_back(std::move(n));
        });
        return std::make_unique<sequence>(std::move(parts));
    }
    j.required("type").fail("unsupported normalizer \"" + type + "\"");
}

} // namespace tether::agent::text
