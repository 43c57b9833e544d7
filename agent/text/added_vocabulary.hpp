#pragma once
// Added tokens (special tokens such as <|endoftext|>, and extra words): found
// in the text before anything else, leftmost-longest, honouring single_word,
// lstrip and rstrip; those marked `normalized` are looked for in the
// normalized text, the others in the raw input. Ids are assigned the way the
// reference assigns them (the model's id when the content is in its
// vocabulary, else the next free one), whatever ids the JSON lists.

#include "text/model.hpp"
#include "text/normalizers.hpp"
#include "text/pieces.hpp"

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tether::agent::text {

struct added_token {
    std::string content;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
    bool special = false;
};

class added_vocabulary {
  public:
    // Adds the tokens in order (as the reference's add_tokens at load).
    void add(const std::vector<added_token>& tokens, const model& m, const normalizer* n);

    // The input split into added tokens and normalized text pieces.
    std::vector<piece> extract_and_normalize(std::string_view text, const normalizer* n) const;

    std::optional<token_id> find(std::string_view content) const;
    // The token's text for decoding (its normalized form when it has one).
    std::optional<std::string> text_of(token_id id) const;
    bool is_special_text(std::string_view content) const { return special_.contains(std::string(content)); }
    bool is_special(token_id id) const;
    const added_token* token(token_id id) const;
    std::size_t size() const { return by_id_.size(); }
    std::optional<token_id> max_id() const;

  private:
    struct trie {
        std::unordered_map<std::uint64_t, std::uint32_t> edges; // (node << 8 | byte) -> child
        std::vector<std::optional<token_id>> ends{std::nullopt}; // per node
        bool first_byte[256]{};
        bool empty() const { return ends.size() == 1; }
        void insert(std::string_view s, token_id id);
        // The longest pattern starting at `at`: (end, id).
        std::optional<std::pair<std::size_t, token_id>> longest_at(std::string_view text, std::size_t at) const;
    };
    void rebuild();
    void split(const piece& p, const trie& t, std::vector<piece>& out) const;

    std::unordered_map<std::string, token_id> by_content_;
    std::unordered_map<token_id, added_token> by_id_;
    std::unordered_map<token_id, std::string> normalized_form_;
    std::unordered_set<std::string> special_;
    trie raw_;
    trie normalized_;
};

} // namespace tether::agent::text
