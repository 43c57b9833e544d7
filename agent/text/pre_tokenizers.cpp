#include "text/pre_tokenizers.hpp"

#include "text/byte_level_alphabet.hpp"
#include "text/unicode.hpp"

namespace tether::agent::text {
namespace {

constexpr std::size_t max_sequence = 64;
constexpr std::size_t max_pattern = 4096;

// GPT-2's pattern, which ByteLevel uses when use_regex is set.
constexpr const char* gpt2_pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const regex& gpt2_regex() {
    static const regex re(gpt2_pattern);
    return re;
}

class byte_level final : public pre_tokenizer {
  public:
    byte_level(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
    void pre_tokenize(std::vector<piece>& pieces) const override {
        transform_pieces(pieces, [&](const piece& in, std::vector<piece>& out) {
            piece p = in;
            if (add_prefix_space_ && (p.text.empty() || p.text.front() != ' ')) p.text.insert(0, " ");
            const std::size_t first = out.size();
            if (use_regex_) split_piece(p, gpt2_regex().split_spans(p.text), split_behavior::isolated, out);
            else out.push_back(std::move(p));
            for (std::size_t i = first; i < out.size(); ++i) out[i].text = byte_level_encode(out[i].text);
        });
    }

  private:
    bool add_prefix_space_, use_regex_;
};

class split final : public pre_tokenizer {
  public:
    split(std::string pattern, split_behavior behavior, bool invert)
        : re_(pattern), behavior_(behavior), invert_(invert) {}
    void pre_tokenize(std::vector<piece>& pieces) const override {
        transform_pieces(pieces, [&](const piece& p, std::vector<piece>& out) {
            auto spans = re_.split_spans(p.text);
            if (invert_) invert_spans(spans);
            split_piece(p, spans, behavior_, out);
        });
    }

  private:
    regex re_;
    split_behavior behavior_;
    bool invert_;
};

enum class prepend_scheme { first, never, always };

class metaspace final : public pre_tokenizer {
  public:
    metaspace(std::string replacement, prepend_scheme scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
    void pre_tokenize(std::vector<piece>& pieces) const override {
        transform_pieces(pieces, [&](const piece& in, std::vector<piece>& out) {
            piece p;
            p.at_origin = in.at_origin;
            p.text.reserve(in.text.size() + replacement_.size() * 4);
            for (const char c : in.text) {
                if (c == ' ') p.text += replacement_;
                else p.text += c;
            }
            const bool starts = p.text.compare(0, replacement_.size(), replacement_) == 0;
            if (!starts && (scheme_ == prepend_scheme::always || (scheme_ == prepend_scheme::first && p.at_origin)))
                p.text.insert(0, replacement_);
            if (!split_) {
                out.push_back(std::move(p));
                return;
            }
            const char32_t r = to_code_points(replacement_).front();
            split_piece(p, char_spans(p.text, [r](char32_t c) { return c == r; }), split_behavior::merged_with_next,
                        out);
        });
    }

  private:
    std::string replacement_;
    prepend_scheme scheme_;
    bool split_;
};

class char_splitter final : public pre_tokenizer {
  public:
    char_splitter(bool (*pred)(char32_t), split_behavior behavior) : pred_(pred), behavior_(behavior) {}
    void pre_tokenize(std::vector<piece>& pieces) const override {
        transform_pieces(pieces, [&](const piece& p, std::vector<piece>& out) {
            split_piece(p, char_spans(p.text, pred_), behavior_, out);
        });
    }

  private:
    bool (*pred_)(char32_t);
    split_behavior behavior_;
};

bool is_punc(char32_t c) {
    return is_ascii_punctuation(c) || is_punctuation(c);
}

class bert final : public pre_tokenizer {
  public:
    void pre_tokenize(std::vector<piece>& pieces) const override {
        char_splitter(is_whitespace, split_behavior::removed).pre_tokenize(pieces);
        char_splitter(is_punc, split_behavior::isolated).pre_tokenize(pieces);
    }
};

// `\w+|[^\w\s]+` with the matches kept and the rest (whitespace) removed.
class whitespace final : public pre_tokenizer {
  public:
    void pre_tokenize(std::vector<piece>& pieces) const override {
        transform_pieces(pieces, [&](const piece& p, std::vector<piece>& out) {
            std::vector<span> spans;
            const std::string& t = p.text;
            std::size_t i = 0;
            std::size_t gap = 0;
            auto classify = [](char32_t c) { return is_word_char(c) ? 1 : is_whitespace(c) ? 0 : 2; };
            while (i < t.size()) {
                std::size_t n = 0;
                const int k = classify(decode_at(t, i, n));
                if (k == 0) {
                    i += n;
                    continue;
                }
                std::size_t j = i + n;
                while (j < t.size()) {
                    std::size_t m = 0;
                    if (classify(decode_at(t, j, m)) != k) break;
                    j += m;
                }
                if (gap < i) spans.push_back({gap, i, true}); // the whitespace between: removed
                spans.push_back({i, j, false});
                gap = j;
                i = j;
            }
            if (gap < t.size()) spans.push_back({gap, t.size(), true});
            if (spans.empty()) spans.push_back({0, t.size(), true});
            split_piece(p, spans, split_behavior::removed, out);
        });
    }
};

class sequence final : public pre_tokenizer {
  public:
    explicit sequence(std::vector<std::unique_ptr<pre_tokenizer>> parts) : parts_(std::move(parts)) {}
    void pre_tokenize(std::vector<piece>& pieces) const override {
        for (const auto& p : parts_) p->pre_tokenize(pieces);
    }

  private:
    std::vector<std::unique_ptr<pre_tokenizer>> parts_;
};

prepend_scheme read_scheme(const json_view& j) {
    const std::string s = j.as_string();
    if (s == "first") return prepend_scheme::first;
    if (s == "never") return prepend_scheme::never;
    if (s == "always") return prepend_scheme::always;
    j.fail("expected \"first\", \"never\" or \"always\", got \"" + s + "\"");
}

} // namespace

split_behavior read_split_behavior(const json_view& j) {
    const std::string s = j.as_string();
    if (s == "Removed") return split_behavior::removed;
    if (s == "Isolated") return split_behavior::isolated;
    if (s == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (s == "MergedWithNext") return split_behavior::merged_with_next;
    if (s == "Contiguous") return split_behavior::contiguous;
    j.fail("unknown split behavior \"" + s + "\"");
}

std::unique_ptr<pre_tokenizer> make_pre_tokenizer(const json_view& j) {
    if (j.is_null()) return nullptr;
    const std::string type = j.type();
    if (type == "ByteLevel") return std::make_unique<byte_level>(j.bool_or("add_prefix_space", true), j.bool_or("use_regex", true));
    if (type == "Split") {
        const auto pat = j.required("pattern");
        std::string pattern;
        if (auto s = pat.member("String")) pattern = regex::escape(s->as_string());
        else if (auto r = pat.member("Regex")) pattern = r->as_string();
        else pat.fail("expected {\"String\": …} or {\"Regex\": …}");
        if (pattern.size() > max_pattern) pat.fail("pattern longer than " + std::to_string(max_pattern) + " bytes");
        try {
            return std::make_unique<split>(pattern, read_split_behavior(j.required("behavior")), j.bool_or("invert", false));
        } catch (const regex_error& e) {
            pat.fail(std::string("the regex does not compile: ") + e.what());
        }
    }
    if (type == "Metaspace") {
        std::string replacement = j.string_or("replacement", "\xE2\x96\x81");
        if (count_code_points(replacement) != 1) j.required("replacement").fail("must be one character");
        prepend_scheme scheme = prepend_scheme::always;
        if (auto s = j.member("prepend_scheme")) scheme = read_scheme(*s);
        if (auto a = j.member("add_prefix_space"); a && !a->as_bool()) {
            // The older serialization: add_prefix_space false means "never".
            if (j.member("prepend_scheme") && scheme != prepend_scheme::never)
                a->fail("add_prefix_space false does not match prepend_scheme");
            scheme = prepend_scheme::never;
        }
        return std::make_unique<metaspace>(std::move(replacement), scheme, j.bool_or("split", true));
    }
    if (type == "BertPreTokenizer") return std::make_unique<bert>();
    if (type == "Whitespace") return std::make_unique<whitespace>();
    if (type == "WhitespaceSplit") return std::make_unique<char_splitter>(is_whitespace, split_behavior::removed);
    if (type == "Digits") {
        const bool individual = j.bool_or("individual_digits", false);
        return std::make_unique<char_splitter>(is_numeric,
                                               individual ? split_behavior::isolated : split_behavior::contiguous);
    }
    if (type == "Punctuation") {
        split_behavior b = split_behavior::isolated;
        if (auto m = j.member("behavior")) b = read_split_behavior(*m);
        return std::make_unique<char_splitter>(is_punc, b);
    }
    if (type == "Sequence") {
        std::vector<std::unique_ptr<pre_tokenizer>> parts;
        j.required("pretokenizers").for_each(max_sequence, [&](std::size_t, const json_view& item) {
            if (auto p = make_pre_tokenizer(item)) parts.push_back(std::move(p));
        });
        return std::make_unique<sequence>(std::move(parts));
    }
    j.required("type").fail("unsupported pre-tokenizer \"" + type + "\"");
}

} // namespace tether::agent::text
