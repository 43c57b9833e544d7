#include "text/added_vocabulary.hpp"

#include "text/unicode.hpp"

#include <algorithm>

namespace tether::agent::text {
namespace {

// The character ending at byte `end` of `s` (end > 0).
char32_t char_before(std::string_view s, std::size_t end) {
    std::size_t k = end - 1;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    std::size_t n = 0;
    return decode_at(s, k, n);
}

} // namespace

void added_vocabulary::trie::insert(std::string_view s, token_id id) {
    std::uint32_t node = 0;
    for (const char ch : s) {
        const auto key = (std::uint64_t{node} << 8) | static_cast<unsigned char>(ch);
        auto it = edges.find(key);
        if (it == edges.end()) {
            const auto next = static_cast<std::uint32_t>(ends.size());
            ends.emplace_back(std::nullopt);
            it = edges.emplace(key, next).first;
        }
        node = it->second;
    }
    ends[node] = id;
    first_byte[static_cast<unsigned char>(s.front())] = true;
}

std::optional<std::pair<std::size_t, token_id>> added_vocabulary::trie::longest_at(std::string_view text,
                                                                                    std::size_t at) const {
    std::optional<std::pair<std::size_t, token_id>> best;
    std::uint32_t node = 0;
    for (std::size_t k = at; k < text.size(); ++k) {
        auto it = edges.find((std::uint64_t{node} << 8) | static_cast<unsigned char>(text[k]));
        if (it == edges.end()) break;
        node = it->second;
        if (ends[node]) best = std::make_pair(k + 1, *ends[node]);
    }
    return best;
}

void added_vocabulary::add(const std::vector<added_token>& tokens, const model& m, const normalizer* n) {
    token_id next = static_cast<token_id>(m.vocab_size());
    if (auto top = max_id(); top && (*top >= m.vocab_size() || m.vocab_size() == 0)) next = *top + 1;
    for (const auto& t : tokens) {
        if (t.content.empty()) continue;
        if (auto it = by_content_.find(t.content); it != by_content_.end()) {
            const auto& have = by_id_.at(it->second);
            if (have.content == t.content && have.single_word == t.single_word && have.lstrip == t.lstrip &&
                have.rstrip == t.rstrip && have.normalized == t.normalized && have.special == t.special)
                continue;
        }
        token_id id = 0;
        if (auto known = find(t.content)) id = *known;
        else if (auto in_model = m.token_to_id(t.content)) id = *in_model;
        else id = next++;
        if (t.normalized && n != nullptr) {
            piece p{t.content, true, std::nullopt};
            n->normalize(p);
            if (p.text != t.content) normalized_form_[id] = p.text;
        }
        by_content_[t.content] = id;
        if (t.special) special_.insert(t.content);
        by_id_[id] = t;
    }
    rebuild();
}

void added_vocabulary::rebuild() {
    raw_ = trie{};
    normalized_ = trie{};
    for (const auto& [id, t] : by_id_) {
        if (t.normalized) {
            auto it = normalized_form_.find(id);
            const std::string& pattern = it != normalized_form_.end() ? it->second : t.content;
            if (!pattern.empty()) normalized_.insert(pattern, id);
        } else {
            raw_.insert(t.content, id);
        }
    }
}

std::optional<token_id> added_vocabulary::find(std::string_view content) const {
    auto it = by_content_.find(std::string(content));
    if (it == by_content_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> added_vocabulary::text_of(token_id id) const {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::nullopt;
    if (auto n = normalized_form_.find(id); n != normalized_form_.end()) return n->second;
    return it->second.content;
}

bool added_vocabulary::is_special(token_id id) const {
    auto it = by_id_.find(id);
    return it != by_id_.end() && it->second.special;
}

const added_token* added_vocabulary::token(token_id id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second;
}

std::optional<token_id> added_vocabulary::max_id() const {
    std::optional<token_id> top;
    for (const auto& [id, t] : by_id_) top = std::max(top.value_or(0), id);
    return top;
}

// The reference's find_matches + split_with_indices for one piece.
void added_vocabulary::split(const piece& p, const trie& t, std::vector<piece>& out) const {
    const std::string& s = p.text;
    if (t.empty() || s.empty()) {
        out.push_back(p);
        return;
    }
    std::size_t start_offset = 0;
    auto emit = [&](std::size_t b, std::size_t e, std::optional<token_id> id) {
        if (e <= b) return;
        piece sub;
        sub.text = s.substr(b, e - b);
        sub.at_origin = p.at_origin && b == 0;
        sub.token = id;
        out.push_back(std::move(sub));
    };
    std::size_t pos = 0;
    while (pos < s.size()) {
        if (!t.first_byte[static_cast<unsigned char>(s[pos])]) {
            ++pos;
            continue;
        }
        auto m = t.longest_at(s, pos);
        if (!m) {
            ++pos;
            continue;
        }
        std::size_t start = pos;
        std::size_t stop = m->first;
        const token_id id = m->second;
        pos = stop; // the search goes on after this match, whether it is kept or not
        const added_token& tok = by_id_.at(id);
        if (tok.single_word) {
            const bool start_space = start == 0 || !is_word_char(char_before(s, start));
            std::size_t n = 0;
            const bool stop_space = stop == s.size() || !is_word_char(decode_at(s, stop, n));
            if (!start_space || !stop_space) continue;
        }
        if (tok.lstrip) {
            std::size_t b = start;
            while (b > 0) {
                std::size_t k = b - 1;
                while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                std::size_t n = 0;
                if (!is_whitespace(decode_at(s, k, n))) break;
                b = k;
            }
            start = std::max(b, start_offset);
        }
        if (tok.rstrip) {
            while (stop < s.size()) {
                std::size_t n = 0;
                if (!is_whitespace(decode_at(s, stop, n))) break;
                stop += n;
            }
        }
        if (start_offset < start) emit(start_offset, start, std::nullopt);
        emit(start, stop, id);
        start_offset = stop;
    }
    if (start_offset < s.size()) emit(start_offset, s.size(), std::nullopt);
}

std::vector<piece> added_vocabulary::extract_and_normalize(std::string_view text, const normalizer* n) const {
    std::vector<piece> pieces;
    split(piece{std::string(text), true, std::nullopt}, raw_, pieces);
    std::vector<piece> out;
    out.reserve(pieces.size());
    for (auto& p : pieces) {
        if (p.token) {
            out.push_back(std::move(p));
            continue;
        }
        if (n != nullptr) n->normalize(p);
        if (p.text.empty()) continue;
        split(p, normalized_, out);
    }
    return out;
}

} // namespace tether::agent::text
