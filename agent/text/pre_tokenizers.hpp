#pragma once
// The pre-tokenizer stage of a tokenizer.json: splits the normalized pieces
// into words for the model (ByteLevel, Split, Metaspace, BertPreTokenizer,
// Whitespace, WhitespaceSplit, Digits, Punctuation, Sequence), composed by
// make_pre_tokenizer; anything else is refused at load, naming its JSON path.

#include "text/json_view.hpp"
#include "text/pieces.hpp"

#include <memory>
#include <vector>

namespace tether::agent::text {

class pre_tokenizer {
  public:
    virtual ~pre_tokenizer() = default;
    // Splits (and may rewrite) every piece that is not an added token.
    virtual void pre_tokenize(std::vector<piece>& pieces) const = 0;
};

std::unique_ptr<pre_tokenizer> make_pre_tokenizer(const json_view& j);

// "Isolated", "Removed", … as in the JSON.
split_behavior read_split_behavior(const json_view& j);

} // namespace tether::agent::text
