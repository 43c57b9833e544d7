#pragma once
// The normalizer stage of a tokenizer.json: each component a small class,
// composed by make_normalizer from the JSON; an unsupported component or
// option is refused at load, naming its JSON path. Components keep the
// piece's at_origin flag true only while its first character still comes
// from the start of the input.

#include "text/json_view.hpp"
#include "text/pieces.hpp"

#include <memory>

namespace tether::agent::text {

class normalizer {
  public:
    virtual ~normalizer() = default;
    virtual void normalize(piece& p) const = 0;
};

// nullptr for a null or absent normalizer.
std::unique_ptr<normalizer> make_normalizer(const json_view& j);

} // namespace tether::agent::text
