#pragma once
// The model stage of a tokenizer: turns one pre-tokenized word into ids.
// BPE, WordPiece, WordLevel and Unigram implement it (text/models/); the
// tokenizer sees them only through this interface. Thread-safe after load.

#include "text/json_view.hpp"
#include "text/pieces.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace tether::agent::text {

class model {
  public:
    virtual ~model() = default;
    // Appends the ids of `word` (valid UTF-8, not empty) to `out`. Throws
    // text_error when the word cannot be encoded (an unknown character and
    // no unk token to stand for it, where the reference fails too).
    virtual void tokenize(std::string_view word, std::vector<token_id>& out) const = 0;
    virtual std::optional<token_id> token_to_id(std::string_view token) const = 0;
    virtual std::optional<std::string_view> id_to_token(token_id id) const = 0;
    // Entries in the vocabulary (what the reference's get_vocab_size says).
    virtual std::size_t vocab_size() const = 0;
    // One past the highest id (ids need not be dense: a vocabulary may skip some).
    virtual std::size_t id_bound() const { return vocab_size(); }
};

// Limits on what a tokenizer.json may hold, checked while loading.
struct model_limits {
    std::size_t max_vocab = 2'000'000;
    std::size_t max_merges = 2'000'000;
    std::size_t max_token_bytes = 4096;
};

std::unique_ptr<model> make_model(const json_view& j, const model_limits& limits = {});

} // namespace tether::agent::text
