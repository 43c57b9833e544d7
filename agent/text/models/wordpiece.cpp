#include "text/models/wordpiece.hpp"

#include "text/unicode.hpp"

namespace tether::agent::text {
namespace {
constexpr token_id max_id = 16'000'000;
} // namespace

void vocabulary::load(const json_view& vocab, const model_limits& limits) {
    std::vector<std::pair<std::string, token_id>> entries;
    vocab.for_each_member(limits.max_vocab, [&](std::string_view key, const json_view& id) {
        if (key.size() > limits.max_token_bytes)
            id.fail("token longer than " + std::to_string(limits.max_token_bytes) + " bytes");
        entries.emplace_back(std::string(key), static_cast<token_id>(id.as_uint(max_id)));
    });
    table_.reserve(entries.size());
    token_id top = 0;
    for (const auto& [k, id] : entries) {
        table_.insert(k, id);
        top = std::max(top, id);
    }
    by_id_.resize(entries.empty() ? 0 : top + 1);
    has_.assign(by_id_.size(), false);
    for (auto& [k, id] : entries) {
        by_id_[id] = std::move(k);
        has_[id] = true;
    }
}

std::optional<std::string_view> vocabulary::token(token_id id) const {
    if (id >= by_id_.size() || !has_[id]) return std::nullopt;
    return by_id_[id];
}

wordpiece::wordpiece(vocabulary vocab, std::string unk, std::string prefix, std::size_t max_chars)
    : vocab_(std::move(vocab)), unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {}

token_id wordpiece::unk_id() const {
    auto id = vocab_.find(unk_);
    if (!id) throw text_error("WordPiece: the unk_token \"" + unk_ + "\" is not in the vocabulary");
    return *id;
}

void wordpiece::tokenize(std::string_view word, std::vector<token_id>& out) const {
    if (count_code_points(word) > max_chars_) {
        out.push_back(unk_id());
        return;
    }
    const std::size_t first = out.size();
    std::string candidate;
    std::size_t start = 0;
    while (start < word.size()) {
        std::size_t end = word.size();
        std::optional<token_id> found;
        while (start < end) {
            candidate.clear();
            if (start > 0) candidate = prefix_;
            candidate.append(word.substr(start, end - start));
            if (auto id = vocab_.find(candidate)) {
                found = id;
                break;
            }
            // Drop the last character of the candidate.
            std::size_t k = end - 1;
            while (k > start && (static_cast<unsigned char>(word[k]) & 0xC0) == 0x80) --k;
            end = k;
        }
        if (!found) {
            out.resize(first);
            out.push_back(unk_id());
            return;
        }
        out.push_back(*found);
        start = end;
    }
}

wordlevel::wordlevel(vocabulary vocab, std::string unk) : vocab_(std::move(vocab)), unk_(std::move(unk)) {}

void wordlevel::tokenize(std::string_view word, std::vector<token_id>& out) const {
    if (auto id = vocab_.find(word)) {
        out.push_back(*id);
        return;
    }
    auto unk = vocab_.find(unk_);
    if (!unk) throw text_error("WordLevel: \"" + std::string(word) + "\" is not in the vocabulary and neither is the unk_token");
    out.push_back(*unk);
}

std::unique_ptr<model> make_wordpiece(const json_view& j, const model_limits& limits) {
    vocabulary v;
    v.load(j.required("vocab"), limits);
    std::size_t max_chars = 100;
    if (auto m = j.member("max_input_chars_per_word")) max_chars = static_cast<std::size_t>(m->as_uint(1'000'000));
    return std::make_unique<wordpiece>(std::move(v), j.string_or("unk_token", "[UNK]"),
                                       j.string_or("continuing_subword_prefix", "##"), max_chars);
}

std::unique_ptr<model> make_wordlevel(const json_view& j, const model_limits& limits) {
    vocabulary v;
    v.load(j.required("vocab"), limits);
    return std::make_unique<wordlevel>(std::move(v), j.string_or("unk_token", "<unk>"));
}

} // namespace tether::agent::text
