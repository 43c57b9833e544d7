#include "text/models/bpe.hpp"

#include "text/unicode.hpp"

#include <fmt/format.h>

#include <queue>
#include <stdexcept>

namespace tether::agent::text {
namespace {

constexpr std::size_t cache_capacity = 10'000;
constexpr std::size_t cache_max_word = 256; // bytes, as the reference's MAX_LENGTH
constexpr token_id max_id = 16'000'000;

struct symbol {
    token_id id;
    std::int32_t prev;
    std::int32_t next;
    std::uint32_t len; // bytes of the word it covers; 0 once merged away
};

struct candidate {
    std::uint32_t rank;
    std::uint32_t pos;
    token_id new_id;
    // std::priority_queue pops the largest: invert so the lowest rank, then
    // the leftmost position, comes first.
    bool operator<(const candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
};

} // namespace

bpe::bpe(std::vector<std::pair<std::string, token_id>> vocab,
         const std::vector<std::pair<std::string, std::string>>& merges, bpe_options options)
    : options_(std::move(options)) {
    vocab_.reserve(vocab.size());
    token_id top = 0;
    for (const auto& [tok, id] : vocab) {
        if (id > max_id) throw std::invalid_argument(fmt::format("token id {} is larger than {}", id, max_id));
        vocab_.insert(tok, id);
        top = std::max(top, id);
    }
    vocab_r_.resize(vocab.empty() ? 0 : top + 1);
    has_id_.assign(vocab_r_.size(), false);
    for (auto& [tok, id] : vocab) {
        vocab_r_[id] = std::move(tok);
        has_id_[id] = true;
    }
    if (options_.unk_token) unk_id_ = vocab_.find(*options_.unk_token);
    for (int b = 0; b < 256; ++b) {
        if (auto id = vocab_.find(fmt::format("<0x{:02X}>", b))) {
            byte_ids_[b] = *id;
            has_byte_[b] = true;
        }
    }
    const std::size_t prefix_len = options_.continuing_subword_prefix ? options_.continuing_subword_prefix->size() : 0;
    merges_.reserve(merges.size() * 2);
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [a, b] = merges[rank];
        const auto a_id = vocab_.find(a);
        const auto b_id = vocab_.find(b);
        if (!a_id || !b_id)
            throw std::invalid_argument(fmt::format("merge {} (\"{} {}\"): \"{}\" is not in the vocabulary", rank,
                                                    a, b, !a_id ? a : b));
        std::string merged = a;
        merged.append(b, std::min(prefix_len, b.size()), std::string::npos);
        const auto new_id = vocab_.find(merged);
        if (!new_id)
            throw std::invalid_argument(
                fmt::format("merge {} (\"{} {}\"): the merged token \"{}\" is not in the vocabulary", rank, a, b, merged));
        // A repeated pair takes its later rank, as the reference's map insert does.
        merges_.insert_or_assign(pair_key(*a_id, *b_id), merge_entry{static_cast<std::uint32_t>(rank), *new_id});
    }
}

std::optional<std::string_view> bpe::id_to_token(token_id id) const {
    if (id >= vocab_r_.size() || !has_id_[id]) return std::nullopt;
    return vocab_r_[id];
}

const bpe::merge_entry* bpe::find_merge(token_id a, token_id b) const {
    auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
}

void bpe::tokenize(std::string_view word, std::vector<token_id>& out) const {
    if (word.empty()) return;
    if (options_.ignore_merges) {
        if (auto id = vocab_.find(word)) {
            out.push_back(*id);
            return;
        }
    }
    const bool cacheable = word.size() < cache_max_word;
    if (cacheable) {
        std::lock_guard lock(cache_mu_);
        if (auto it = cache_.find(word); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    merge_word(word, out);
    if (cacheable) {
        std::lock_guard lock(cache_mu_);
        if (cache_.size() < cache_capacity)
            cache_.emplace(std::string(word), std::vector<token_id>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
    }
}

void bpe::merge_word(std::string_view word, std::vector<token_id>& out) const {
    std::vector<symbol> symbols;
    symbols.reserve(word.size());
    auto add = [&](token_id id, std::uint32_t len) {
        const auto n = static_cast<std::int32_t>(symbols.size());
        if (n > 0) symbols.back().next = n;
        symbols.push_back({id, n - 1, -1, len});
    };
    // The pending unk and the bytes it covers.
    bool unk = false;
    token_id unk_tok = 0;
    std::uint32_t unk_len = 0;
    std::string s;
    for (std::size_t i = 0; i < word.size();) {
        const std::size_t n = utf8_length(static_cast<unsigned char>(word[i]));
        const bool is_first = i == 0;
        const bool is_last = i + n >= word.size();
        s.assign(word.substr(i, n));
        if (!is_first && options_.continuing_subword_prefix) s.insert(0, *options_.continuing_subword_prefix);
        if (is_last && options_.end_of_word_suffix) s += *options_.end_of_word_suffix;
        i += n;
        if (auto id = vocab_.find(s)) {
            if (unk) {
                add(unk_tok, unk_len);
                unk = false;
            }
            add(*id, static_cast<std::uint32_t>(n));
            continue;
        }
        if (options_.byte_fallback) {
            // Every byte must have its <0xXX> token; the pending unk (if any)
            // stays pending, exactly as in the reference.
            bool all = true;
            for (const char b : s) all = all && has_byte_[static_cast<unsigned char>(b)];
            if (all) {
                for (const char b : s) add(byte_ids_[static_cast<unsigned char>(b)], 1);
                continue;
            }
        }
        if (options_.unk_token) {
            if (!unk_id_) throw text_error("the unk_token \"" + *options_.unk_token + "\" is not in the vocabulary");
            if (unk && options_.fuse_unk) {
                unk_len += static_cast<std::uint32_t>(n);
            } else {
                if (unk) add(unk_tok, unk_len);
                unk = true;
                unk_tok = *unk_id_;
                unk_len = static_cast<std::uint32_t>(n);
            }
        }
    }
    if (unk) add(unk_tok, unk_len);

    std::priority_queue<candidate> queue;
    for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
        if (const auto* m = find_merge(symbols[k].id, symbols[k + 1].id))
            queue.push({m->rank, static_cast<std::uint32_t>(k), m->new_id});
    }
    while (!queue.empty()) {
        const candidate top = queue.top();
        queue.pop();
        symbol& cur = symbols[top.pos];
        if (cur.len == 0 || cur.next == -1) continue;
        const auto next_pos = static_cast<std::size_t>(cur.next);
        const symbol right = symbols[next_pos];
        // An entry for a pair that has since changed is stale.
        const auto* m = find_merge(cur.id, right.id);
        if (m == nullptr || m->new_id != top.new_id) continue;
        cur.id = top.new_id;
        cur.len += right.len;
        cur.next = right.next;
        symbols[next_pos].len = 0;
        if (right.next > -1 && static_cast<std::size_t>(right.next) < symbols.size())
            symbols[static_cast<std::size_t>(right.next)].prev = static_cast<std::int32_t>(top.pos);
        if (cur.prev >= 0) {
            const symbol& prev = symbols[static_cast<std::size_t>(cur.prev)];
            if (const auto* pm = find_merge(prev.id, cur.id))
                queue.push({pm->rank, static_cast<std::uint32_t>(cur.prev), pm->new_id});
        }
        if (cur.next >= 0 && static_cast<std::size_t>(cur.next) < symbols.size()) {
            const symbol& nx = symbols[static_cast<std::size_t>(cur.next)];
            if (const auto* nm = find_merge(cur.id, nx.id)) queue.push({nm->rank, top.pos, nm->new_id});
        }
    }
    for (const auto& sym : symbols)
        if (sym.len != 0) out.push_back(sym.id);
}

std::unique_ptr<model> make_bpe(const json_view& j, const model_limits& limits) {
    bpe_options o;
    if (auto d = j.member("dropout"); d && d->as_double() != 0.0)
        d->fail("BPE dropout (random merges) is not supported for inference; set it to null");
    o.unk_token = j.optional_string("unk_token");
    o.continuing_subword_prefix = j.optional_string("continuing_subword_prefix");
    o.end_of_word_suffix = j.optional_string("end_of_word_suffix");
    o.fuse_unk = j.bool_or("fuse_unk", false);
    o.byte_fallback = j.bool_or("byte_fallback", false);
    o.ignore_merges = j.bool_or("ignore_merges", false);

    std::vector<std::pair<std::string, token_id>> vocab;
    const auto v = j.required("vocab");
    v.for_each_member(limits.max_vocab, [&](std::string_view key, const json_view& id) {
        if (key.size() > limits.max_token_bytes) id.fail("token longer than " + std::to_string(limits.max_token_bytes) + " bytes");
        vocab.emplace_back(std::string(key), static_cast<token_id>(id.as_uint(max_id)));
    });
    std::vector<std::pair<std::string, std::string>> merges;
    const auto m = j.required("merges");
    m.for_each(limits.max_merges, [&](std::size_t, const json_view& item) {
        if (item.is_string()) {
            // "a b": exactly one space, as the reference requires.
            const std::string line = item.as_string();
            if (line.rfind("#version", 0) == 0) return;
            const auto sp = line.find(' ');
            if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
                item.fail("a merge must be two tokens separated by one space");
            merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
        } else if (item.is_array()) {
            if (item.array_size() != 2) item.fail("a merge must be a pair [left, right]");
            std::string parts[2];
            item.for_each(2, [&](std::size_t k, const json_view& part) { parts[k] = part.as_string(); });
            merges.emplace_back(std::move(parts[0]), std::move(parts[1]));
        } else {
            item.fail("a merge must be \"left right\" or [left, right]");
        }
    });
    try {
        return std::make_unique<bpe>(std::move(vocab), merges, std::move(o));
    } catch (const std::invalid_argument& e) {
        m.fail(e.what());
    }
}

} // namespace tether::agent::text
