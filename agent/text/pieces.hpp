#pragma once
// The text between the tokenizer's stages: a list of pieces, each either an
// added token already decided, or text still to normalize, pre-tokenize and
// give to the model. Splitting a piece by a pattern follows the Hugging Face
// SplitDelimiterBehavior rules exactly. Plain values; no I/O.

#include "text/regex.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

using token_id = std::uint32_t;

struct piece {
    std::string text;
    // The piece's first character comes from the very start of the input
    // (Metaspace's prepend_scheme "first" asks this).
    bool at_origin = false;
    std::optional<token_id> token; // an added token: the model never sees it
};

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// The sub-pieces of `p` for matches `spans` (which cover p.text in order).
// Empty sub-pieces are dropped, as the reference does.
void split_piece(const piece& p, const std::vector<span>& spans, split_behavior behavior, std::vector<piece>& out);

// Spans for "each character for which `pred` holds is a match".
std::vector<span> char_spans(std::string_view text, const std::function<bool(char32_t)>& pred);
// The same spans with matched flipped (Split's `invert`).
void invert_spans(std::vector<span>& spans);

// Applies `f` to every piece that is not an added token, replacing it by
// what `f` appends to the output vector.
void transform_pieces(std::vector<piece>& pieces, const std::function<void(const piece&, std::vector<piece>&)>& f);

} // namespace tether::agent::text
