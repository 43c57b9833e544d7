#pragma once
// GPT-2's byte-level alphabet: each of the 256 byte values stands for one
// printable character (the bytes_to_unicode table), so that any byte string
// can be spelled with vocabulary tokens. Used by the ByteLevel normalizer,
// pre-tokenizer and decoder.

#include <optional>
#include <string>
#include <string_view>

namespace tether::agent::text {

// The byte-level spelling of `bytes` (two UTF-8 bytes at most per input byte).
std::string byte_level_encode(std::string_view bytes);
// The bytes a byte-level token spells; nullopt when a character is not in the
// alphabet (the decoder then keeps the token's own bytes).
std::optional<std::string> byte_level_decode(std::string_view token);

} // namespace tether::agent::text
