#pragma once
// Streaming text for generation: token ids arrive one at a time and users
// want text as it forms. incremental_decoder turns ids into deltas whose
// concatenation is exactly tokenizer::decode of all the ids, never splitting
// a UTF-8 sequence (stop strings are tether::stop_matcher, shared/). No I/O,
// no threads.

#include "text/tokenizer.hpp"

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

// Decodes a short window of the latest ids rather than everything: text is
// released once the window's decoding extends what was released before and
// does not end in an incomplete character (U+FFFD), so a byte-level token
// holding half of a character and decoders that treat the first token
// specially (Metaspace, Strip) come out as a whole decode would. A run of
// byte-fallback tokens is held until it ends: the reference turns the whole
// run into U+FFFDs if any byte of it is bad. Copyable: a copy continues
// independently.
class incremental_decoder {
  public:
    incremental_decoder(const tokenizer& tok, bool skip_special_tokens);

    // Adds one id; returns the text it completes (often empty).
    std::string push(token_id id);
    // Everything still held, as decode would end it (an incomplete
    // character becomes U+FFFD). The decoder stays usable.
    std::string finish();

    // Bytes released so far by push and finish.
    std::size_t released_bytes() const { return released_; }

  private:
    static constexpr std::size_t settle = 4; // ids that decide any one character
    std::string decode_window(std::size_t to) const;
    std::string release(std::size_t upto, const std::string& before, const std::string& text);

    const tokenizer* tok_;
    bool skip_special_;
    // The latest ids: those before read_ were released and give the context
    // the next ones are decoded in; older ids are forgotten.
    std::vector<token_id> window_;
    std::size_t read_ = 0;
    std::size_t released_ = 0;
    bool in_byte_run_ = false;
};

} // namespace tether::agent::text
