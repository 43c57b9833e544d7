#pragma once
// Byte-pair encoding as the Hugging Face tokenizers library does it: a word
// starts as one symbol per character (with continuing_subword_prefix and
// end_of_word_suffix, byte_fallback to <0xXX> tokens, unk fused or not), then
// the pair with the lowest merge rank is merged, leftmost first on ties, until
// none is left. A priority queue makes that O(n log n) in the word's length,
// since a Metaspace-normalized text can be one very long word.

#include "text/model.hpp"
#include "text/string_table.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace tether::agent::text {

struct bpe_options {
    std::optional<std::string> unk_token;
    std::optional<std::string> continuing_subword_prefix;
    std::optional<std::string> end_of_word_suffix;
    bool fuse_unk = false;
    bool byte_fallback = false;
    bool ignore_merges = false;
};

class bpe final : public model {
  public:
    // `vocab`: (token, id); `merges`: (left, right) in rank order. Throws
    // std::invalid_argument naming a merge whose parts or result are not in
    // the vocabulary (make_bpe adds the JSON path).
    bpe(std::vector<std::pair<std::string, token_id>> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
        bpe_options options);

    void tokenize(std::string_view word, std::vector<token_id>& out) const override;
    std::optional<token_id> token_to_id(std::string_view token) const override { return vocab_.find(token); }
    std::optional<std::string_view> id_to_token(token_id id) const override;
    std::size_t vocab_size() const override { return vocab_.size(); }
    std::size_t id_bound() const override { return vocab_r_.size(); }

  private:
    struct merge_entry {
        std::uint32_t rank;
        token_id new_id;
    };
    static std::uint64_t pair_key(token_id a, token_id b) { return (std::uint64_t{a} << 32) | b; }
    const merge_entry* find_merge(token_id a, token_id b) const;
    void merge_word(std::string_view word, std::vector<token_id>& out) const;

    string_table vocab_;
    std::vector<std::string> vocab_r_;
    std::vector<bool> has_id_;
    std::unordered_map<std::uint64_t, merge_entry> merges_;
    bpe_options options_;
    std::optional<token_id> unk_id_;
    token_id byte_ids_[256]{};
    bool has_byte_[256]{};

    // Words already encoded (the reference keeps such a cache too): most
    // words of a text repeat. Bounded; never evicts, like the reference's.
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return hash_bytes(s); }
    };
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<token_id>, text_hash, std::equal_to<>> cache_;
};

std::unique_ptr<model> make_bpe(const json_view& j, const model_limits& limits);

} // namespace tether::agent::text
