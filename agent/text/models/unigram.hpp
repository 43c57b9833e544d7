#pragma once
// Unigram (SentencePiece; T5, XLM-R, ALBERT…): the segmentation of a word
// with the highest total log-probability (Viterbi over a byte trie of the
// vocabulary), an unknown character scored min_score - 10 as <unk>, runs of
// unknowns fused into one, and byte_fallback to <0xXX> tokens when asked.

#include "text/model.hpp"
#include "text/string_table.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace tether::agent::text {

class unigram final : public model {
  public:
    // `vocab`: (piece, score) in id order. Throws std::invalid_argument for
    // an empty vocabulary with an unk id, or an unk id out of range.
    unigram(std::vector<std::pair<std::string, double>> vocab, std::optional<std::size_t> unk_id, bool byte_fallback);

    void tokenize(std::string_view word, std::vector<token_id>& out) const override;
    std::optional<token_id> token_to_id(std::string_view t) const override { return ids_.find(t); }
    std::optional<std::string_view> id_to_token(token_id id) const override;
    std::size_t vocab_size() const override { return vocab_.size(); }

  private:
    // Byte trie: child of (node, byte), and whether a node ends a piece.
    std::uint32_t child(std::uint32_t node, unsigned char b) const;
    void segment(std::string_view word, std::vector<std::string_view>& pieces) const;

    std::vector<std::pair<std::string, double>> vocab_;
    string_table ids_;
    std::unordered_map<std::uint64_t, std::uint32_t> edges_;
    std::vector<bool> terminal_;
    double min_score_ = 0;
    std::optional<std::size_t> unk_id_;
    bool byte_fallback_ = false;
};

std::unique_ptr<model> make_unigram(const json_view& j, const model_limits& limits);

} // namespace tether::agent::text
