#include "text/pieces.hpp"

#include "text/unicode.hpp"

namespace tether::agent::text {

void split_piece(const piece& p, const std::vector<span>& spans, split_behavior behavior, std::vector<piece>& out) {
    // (begin, end) of the sub-pieces to keep, merged per the behavior.
    struct cut {
        std::size_t begin, end;
    };
    std::vector<cut> cuts;
    cuts.reserve(spans.size());
    switch (behavior) {
    case split_behavior::isolated:
        for (const auto& s : spans) cuts.push_back({s.begin, s.end});
        break;
    case split_behavior::removed:
        for (const auto& s : spans)
            if (!s.matched) cuts.push_back({s.begin, s.end});
        break;
    case split_behavior::contiguous: {
        bool previous = false;
        for (const auto& s : spans) {
            if (s.matched == previous && !cuts.empty()) cuts.back().end = s.end;
            else cuts.push_back({s.begin, s.end});
            previous = s.matched;
        }
        break;
    }
    case split_behavior::merged_with_previous: {
        bool previous = false;
        for (const auto& s : spans) {
            if (s.matched && !previous && !cuts.empty()) cuts.back().end = s.end;
            else cuts.push_back({s.begin, s.end});
            previous = s.matched;
        }
        break;
    }
    case split_behavior::merged_with_next: {
        bool previous = false;
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->matched && !previous && !cuts.empty()) cuts.back().begin = it->begin;
            else cuts.push_back({it->begin, it->end});
            previous = it->matched;
        }
        std::reverse(cuts.begin(), cuts.end());
        break;
    }
    }
    for (const auto& c : cuts) {
        if (c.end <= c.begin) continue;
        piece sub;
        sub.text = p.text.substr(c.begin, c.end - c.begin);
        sub.at_origin = p.at_origin && c.begin == 0;
        out.push_back(std::move(sub));
    }
}

std::vector<span> char_spans(std::string_view text, const std::function<bool(char32_t)>& pred) {
    std::vector<span> out;
    if (text.empty()) {
        out.push_back({0, 0, false});
        return out;
    }
    std::size_t last = 0;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = 0;
        const char32_t c = decode_at(text, i, n);
        if (pred(c)) {
            if (last < i) out.push_back({last, i, false});
            out.push_back({i, i + n, true});
            last = i + n;
        }
        i += n;
    }
    if (last < text.size()) out.push_back({last, text.size(), false});
    return out;
}

void invert_spans(std::vector<span>& spans) {
    for (auto& s : spans) s.matched = !s.matched;
}

void transform_pieces(std::vector<piece>& pieces, const std::function<void(const piece&, std::vector<piece>&)>& f) {
    std::vector<piece> out;
    out.reserve(pieces.size() + 8);
    for (auto& p : pieces) {
        if (p.token) {
            out.push_back(std::move(p));
            continue;
        }
        const std::size_t before = out.size();
        f(p, out);
        // Empty results vanish, as in the reference's PreTokenizedString::split.
        std::size_t keep = before;
        for (std::size_t i = before; i < out.size(); ++i) {
            if (out[i].text.empty() && !out[i].token) continue;
            if (keep != i) out[keep] = std::move(out[i]);
            ++keep;
        }
        out.resize(keep);
    }
    pieces = std::move(out);
}

} // namespace tether::agent::text
