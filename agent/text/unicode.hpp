#pragma once
// UTF-8 and Unicode helpers for the tokenizers: decoding and encoding code
// points, the lossy UTF-8 repair that Rust's String::from_utf8_lossy does
// (each maximal invalid subpart becomes one U+FFFD), the character classes the
// Hugging Face tokenizers test with Rust's char methods, case mapping and the
// four normalization forms (ICU). Pure functions; no I/O.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tether::agent::text {

// The code point at `s[i]` and its length in bytes. `s` should be valid
// UTF-8 (every string inside the pipeline is; inputs go through
// to_valid_utf8 first); a sequence cut off by the end reads as U+FFFD of one
// byte rather than past it.
inline char32_t decode_at(std::string_view s, std::size_t i, std::size_t& len) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        len = 1;
        return b0;
    }
    if (i + (b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4) > s.size()) {
        len = 1;
        return 0xFFFD;
    }
    if (b0 < 0xE0) {
        len = 2;
        return (char32_t(b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
    }
    if (b0 < 0xF0) {
        len = 3;
        return (char32_t(b0 & 0x0F) << 12) | (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
               (static_cast<unsigned char>(s[i + 2]) & 0x3F);
    }
    len = 4;
    return (char32_t(b0 & 0x07) << 18) | (char32_t(static_cast<unsigned char>(s[i + 1]) & 0x3F) << 12) |
           (char32_t(static_cast<unsigned char>(s[i + 2]) & 0x3F) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3F);
}

// Bytes of the UTF-8 sequence a lead byte starts (1 for anything else).
inline std::size_t utf8_length(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t c);
std::string to_utf8(char32_t c);
// Code points of valid UTF-8.
std::u32string to_code_points(std::string_view s);
std::size_t count_code_points(std::string_view s);

// True when `s` is valid UTF-8 (no surrogates, no overlongs, at most U+10FFFF).
bool is_valid_utf8(std::string_view s);
// Where the first byte that is not part of valid UTF-8 is; npos if none.
std::size_t first_invalid_utf8(std::string_view s);
// `s` with every maximal invalid subpart replaced by U+FFFD, as
// String::from_utf8_lossy does; `s` itself when it is valid.
std::string to_valid_utf8(std::string_view s);
// Length of the longest prefix of `s` that ends on a character boundary and
// holds no incomplete sequence at its end (for streaming: what can go out now).
std::size_t complete_utf8_prefix(std::string_view s);

// Character classes as Rust's char methods define them (Unicode properties).
bool is_whitespace(char32_t c);         // White_Space
bool is_alphabetic(char32_t c);         // Alphabetic
bool is_numeric(char32_t c);            // General_Category Nd, Nl or No
bool is_punctuation(char32_t c);        // P*
bool is_ascii_punctuation(char32_t c);  // !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
bool is_other(char32_t c);              // Cc, Cf, Co (as the reference: not Cn)
bool is_mark(char32_t c);               // M* (Mn, Mc, Me)
bool is_mark_nonspacing(char32_t c);    // Mn
bool is_word_char(char32_t c);          // the regex crate's \w (Unicode)

// Full lowercase of one character, as char::to_lowercase (no context).
void append_lowercase(std::string& out, char32_t c);

enum class normal_form { nfc, nfd, nfkc, nfkd };
// The normalization form of valid UTF-8 `s`.
std::string normalize(std::string_view s, normal_form form);

// Extended grapheme clusters of valid UTF-8 `s`, as byte offsets of their
// starts (the Precompiled normalizer works cluster by cluster).
std::vector<std::size_t> grapheme_starts(std::string_view s);

} // namespace tether::agent::text
