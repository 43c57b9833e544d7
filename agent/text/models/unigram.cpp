#include "text/models/unigram.hpp"

#include "text/unicode.hpp"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

namespace tether::agent::text {
namespace {
constexpr double unk_penalty = 10.0;
constexpr std::uint32_t none = std::numeric_limits<std::uint32_t>::max();
} // namespace

unigram::unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<std::size_t> unk_id,
                 bool byte_fallback)
    : vocab_(std::move(vocab)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    if (unk_id_) {
        if (vocab_.empty()) throw std::invalid_argument("the vocabulary is empty but an unk_id is set");
        if (*unk_id_ >= vocab_.size()) throw std::invalid_argument("unk_id is not an id of the vocabulary");
    }
    min_score_ = std::numeric_limits<double>::infinity();
    ids_.reserve(vocab_.size());
    terminal_.push_back(false); // the root
    edges_.reserve(vocab_.size() * 4);
    for (std::size_t id = 0; id < vocab_.size(); ++id) {
        const auto& [piece, score] = vocab_[id];
        ids_.insert(piece, static_cast<token_id>(id));
        min_score_ = std::min(min_score_, score);
        std::uint32_t node = 0;
        for (const char ch : piece) {
            const auto key = (std::uint64_t{node} << 8) | static_cast<unsigned char>(ch);
            auto it = edges_.find(key);
            if (it == edges_.end()) {
                const auto next = static_cast<std::uint32_t>(terminal_.size());
                terminal_.push_back(false);
                it = edges_.emplace(key, next).first;
            }
            node = it->second;
        }
        if (!piece.empty()) terminal_[node] = true;
    }
}

std::uint32_t unigram::child(std::uint32_t node, unsigned char b) const {
    auto it = edges_.find((std::uint64_t{node} << 8) | b);
    return it == edges_.end() ? none : it->second;
}

std::optional<std::string_view> unigram::id_to_token(token_id id) const {
    if (id >= vocab_.size()) return std::nullopt;
    return vocab_[id].first;
}

// The reference's encode_optimized: best path ending at each byte position.
void unigram::segment(std::string_view word, std::vector<std::string_view>& pieces) const {
    struct best {
        std::size_t id = 0;
        double score = 0;
        std::size_t starts_at = 0;
        bool set = false;
    };
    const std::size_t size = word.size();
    const double unk_score = min_score_ - unk_penalty;
    std::vector<best> ends_at(size + 1);
    for (std::size_t start = 0; start < size;) {
        const double till_here = ends_at[start].score;
        const std::size_t mblen = utf8_length(static_cast<unsigned char>(word[start]));
        bool single = false;
        std::uint32_t node = 0;
        for (std::size_t k = start; k < size; ++k) {
            node = child(node, static_cast<unsigned char>(word[k]));
            if (node == none) break;
            if (!terminal_[node]) continue;
            const std::size_t end = k + 1;
            const auto id = *ids_.find(word.substr(start, end - start));
            const double candidate = vocab_[id].second + till_here;
            auto& target = ends_at[end];
            if (!target.set || candidate > target.score) target = {id, candidate, start, true};
            if (end - start == mblen) single = true;
        }
        if (!single) {
            if (!unk_id_) throw text_error("Unigram: an unknown character and no unk_id in the model");
            auto& target = ends_at[start + mblen];
            const double candidate = unk_score + till_here;
            if (!target.set || candidate > target.score) target = {*unk_id_, candidate, start, true};
        }
        start += mblen;
    }
    // Walk back; runs of unknowns are fused into one piece.
    std::vector<std::string_view> reversed;
    std::size_t end = size;
    std::size_t unk_run_end = 0;
    bool in_unk = false;
    while (end > 0) {
        const auto& node = ends_at[end];
        const std::size_t start = node.starts_at;
        if (unk_id_ && node.id == *unk_id_) {
            if (!in_unk) unk_run_end = end;
            in_unk = true;
        } else {
            if (in_unk) reversed.push_back(word.substr(end, unk_run_end - end));
            in_unk = false;
            reversed.push_back(word.substr(start, end - start));
        }
        end = start;
    }
    if (in_unk) reversed.push_back(word.substr(0, unk_run_end));
    pieces.assign(reversed.rbegin(), reversed.rend());
}

void unigram::tokenize(std::string_view word, std::vector<token_id>& out) const {
    if (word.empty()) return;
    std::vector<std::string_view> pieces;
    segment(word, pieces);
    for (const auto p : pieces) {
        if (auto id = ids_.find(p)) {
            out.push_back(*id);
            continue;
        }
        if (byte_fallback_) {
            std::vector<token_id> bytes;
            bool all = true;
            for (const char b : p) {
                auto id = ids_.find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(b)));
                if (!id) {
                    all = false;
                    break;
                }
                bytes.push_back(*id);
            }
            if (all) {
                out.insert(out.end(), bytes.begin(), bytes.end());
                continue;
            }
        }
        if (!unk_id_) throw text_error("Unigram: an unknown piece and no unk_id in the model");
        out.push_back(static_cast<token_id>(*unk_id_));
    }
}

std::unique_ptr<model> make_unigram(const json_view& j, const model_limits& limits) {
    std::vector<std::pair<std::string, double>> vocab;
    const auto v = j.required("vocab");
    v.for_each(limits.max_vocab, [&](std::size_t, const json_view& item) {
        if (!item.is_array() || item.array_size() != 2) item.fail("expected [piece, score]");
        std::string piece;
        double score = 0;
        item.for_each(2, [&](std::size_t k, const json_view& part) {
            if (k == 0) piece = part.as_string();
            else score = part.as_double();
        });
        if (piece.size() > limits.max_token_bytes)
            item.fail("piece longer than " + std::to_string(limits.max_token_bytes) + " bytes");
        vocab.emplace_back(std::move(piece), score);
    });
    std::optional<std::size_t> unk;
    if (auto u = j.member("unk_id")) unk = static_cast<std::size_t>(u->as_uint(limits.max_vocab));
    try {
        return std::make_unique<unigram>(std::move(vocab), unk, j.bool_or("byte_fallback", false));
    } catch (const std::invalid_argument& e) {
        v.fail(e.what());
    }
}

} // namespace tether::agent::text
