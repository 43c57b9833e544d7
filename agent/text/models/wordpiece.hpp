#pragma once
// WordPiece (BERT): greedy longest-match-first over a word, continuation
// pieces carrying a prefix ("##"); a word with no match, or longer than
// max_input_chars_per_word characters, is the unk token. WordLevel (whole
// words only, else unk) lives here too: it is WordPiece without the pieces.

#include "text/model.hpp"
#include "text/string_table.hpp"

#include <string>
#include <vector>

namespace tether::agent::text {

// The vocabulary both models share: string -> id, and back.
class vocabulary {
  public:
    void load(const json_view& vocab, const model_limits& limits);
    std::optional<token_id> find(std::string_view token) const { return table_.find(token); }
    std::optional<std::string_view> token(token_id id) const;
    std::size_t size() const { return table_.size(); }
    std::size_t id_bound() const { return by_id_.size(); }

  private:
    string_table table_;
    std::vector<std::string> by_id_;
    std::vector<bool> has_;
};

class wordpiece final : public model {
  public:
    wordpiece(vocabulary vocab, std::string unk, std::string prefix, std::size_t max_chars);
    void tokenize(std::string_view word, std::vector<token_id>& out) const override;
    std::optional<token_id> token_to_id(std::string_view t) const override { return vocab_.find(t); }
    std::optional<std::string_view> id_to_token(token_id id) const override { return vocab_.token(id); }
    std::size_t vocab_size() const override { return vocab_.size(); }
    std::size_t id_bound() const override { return vocab_.id_bound(); }

  private:
    token_id unk_id() const;
    vocabulary vocab_;
    std::string unk_;
    std::string prefix_;
    std::size_t max_chars_;
};

class wordlevel final : public model {
  public:
    wordlevel(vocabulary vocab, std::string unk);
    void tokenize(std::string_view word, std::vector<token_id>& out) const override;
    std::optional<token_id> token_to_id(std::string_view t) const override { return vocab_.find(t); }
    std::optional<std::string_view> id_to_token(token_id id) const override { return vocab_.token(id); }
    std::size_t vocab_size() const override { return vocab_.size(); }
    std::size_t id_bound() const override { return vocab_.id_bound(); }

  private:
    vocabulary vocab_;
    std::string unk_;
};

std::unique_ptr<model> make_wordpiece(const json_view& j, const model_limits& limits);
std::unique_ptr<model> make_wordlevel(const json_view& j, const model_limits& limits);

} // namespace tether::agent::text
