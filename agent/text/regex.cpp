#include "text/regex.hpp"

#include "text/unicode.hpp"

#include <oniguruma.h>

#include <mutex>

namespace tether::agent::text {
namespace {

// Backtracking steps one search may take; far beyond any real pre-tokenizer
// pattern on a 1 MB text, well below "hangs the agent".
constexpr unsigned long retry_limit = 50'000'000;

void init_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        OnigEncoding encodings[] = {ONIG_ENCODING_UTF8};
        onig_initialize(encodings, 1);
    });
}

std::string onig_message(int code, OnigErrorInfo* info) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(buf, code, info);
    return reinterpret_cast<const char*>(buf);
}

struct region_deleter {
    void operator()(OnigRegion* r) const { onig_region_free(r, 1); }
};
struct param_deleter {
    void operator()(OnigMatchParam* p) const { onig_free_match_param(p); }
};

} // namespace

struct regex::impl {
    OnigRegex re = nullptr;
    ~impl() {
        if (re) onig_free(re);
    }
};

regex::regex(std::string_view pattern) : impl_(std::make_unique<impl>()), pattern_(pattern) {
    init_once();
    if (!is_valid_utf8(pattern)) throw regex_error("the pattern is not valid UTF-8");
    OnigErrorInfo info{};
    const auto* p = reinterpret_cast<const OnigUChar*>(pattern_.data());
    const int rc = onig_new(&impl_->re, p, p + pattern_.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                            ONIG_SYNTAX_RUBY, &info);
    if (rc != ONIG_NORMAL) {
        impl_->re = nullptr;
        throw regex_error(onig_message(rc, &info));
    }
}

regex::~regex() = default;
regex::regex(regex&&) noexcept = default;
regex& regex::operator=(regex&&) noexcept = default;

std::vector<std::pair<std::size_t, std::size_t>> regex::find_all(std::string_view text) const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::unique_ptr<OnigRegion, region_deleter> region(onig_region_new());
    std::unique_ptr<OnigMatchParam, param_deleter> param(onig_new_match_param());
    onig_initialize_match_param(param.get());
    onig_set_retry_limit_in_match_of_match_param(param.get(), retry_limit);
    onig_set_retry_limit_in_search_of_match_param(param.get(), retry_limit);
    const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
    const auto* end = begin + text.size();
    // The onig crate's FindMatches, step for step: after a match the search
    // resumes at its end; an empty match moves the start one character on,
    // and the first empty match after a non-empty one is not reported.
    std::size_t last_end = 0;
    bool skip_next_empty = false;
    while (last_end <= text.size()) {
        const int r = onig_search_with_param(impl_->re, begin, end, begin + last_end, end, region.get(),
                                             ONIG_OPTION_NONE, param.get());
        if (r == ONIG_MISMATCH) break;
        if (r < 0) throw regex_error("regex search stopped: " + onig_message(r, nullptr));
        const auto s = static_cast<std::size_t>(region->beg[0]);
        const auto e = static_cast<std::size_t>(region->end[0]);
        last_end = e;
        if (e == s) {
            last_end += e < text.size() ? utf8_length(static_cast<unsigned char>(text[e])) : 1;
            if (skip_next_empty) {
                skip_next_empty = false;
                continue;
            }
        } else {
            skip_next_empty = true;
        }
        out.emplace_back(s, e);
    }
    return out;
}

std::vector<span> regex::split_spans(std::string_view text) const {
    std::vector<span> out;
    if (text.empty()) {
        out.push_back({0, 0, false});
        return out;
    }
    std::size_t prev = 0;
    for (const auto& [s, e] : find_all(text)) {
        if (prev != s) out.push_back({prev, s, false});
        out.push_back({s, e, true});
        prev = e;
    }
    if (prev != text.size()) out.push_back({prev, text.size(), false});
    return out;
}

bool regex::matches_at_start(std::string_view text) const {
    std::unique_ptr<OnigRegion, region_deleter> region(onig_region_new());
    const auto* begin = reinterpret_cast<const OnigUChar*>(text.data());
    const int r = onig_match(impl_->re, begin, begin + text.size(), begin, region.get(), ONIG_OPTION_NONE);
    return r >= 0;
}

std::string regex::escape(std::string_view literal) {
    std::string out;
    out.reserve(literal.size() * 2);
    for (const char c : literal) {
        switch (c) {
        case '\\': case '.': case '+': case '*': case '?': case '(': case ')': case '|': case '[': case ']':
        case '{': case '}': case '^': case '$': case '#': case '&': case '-': case '~':
            out += '\\';
            break;
        default:
            break;
        }
        out += c;
    }
    return out;
}

} // namespace tether::agent::text
