#pragma once
// The decoder stage of a tokenizer.json: turns the token strings of a list of
// ids back into text (ByteLevel, Metaspace, ByteFallback, Fuse, Strip,
// Replace, WordPiece, BPEDecoder, CTC, Sequence), each step a chain over the
// list as in the reference; the final text is the join of what is left.

#include "text/json_view.hpp"

#include <memory>
#include <string>
#include <vector>

namespace tether::agent::text {

class decoder {
  public:
    virtual ~decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
    std::string decode(std::vector<std::string> tokens) const;
    // ByteFallback is in the chain: a run of <0xXX> tokens becomes text only
    // as a whole (valid UTF-8, or one U+FFFD per byte), so a stream must hold it.
    virtual bool groups_byte_tokens() const { return false; }
    // `token`, alone, arrives at the ByteFallback step as a byte token (the
    // steps before it, such as Replace, may make one of another string).
    virtual bool reaches_as_byte(const std::string& token) const;
};

std::unique_ptr<decoder> make_decoder(const json_view& j);

} // namespace tether::agent::text
