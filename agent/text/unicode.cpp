#include "text/unicode.hpp"

#include <unicode/brkiter.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>

#include <memory>
#include <mutex>
#include <stdexcept>

namespace tether::agent::text {

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

std::string to_utf8(char32_t c) {
    std::string s;
    append_utf8(s, c);
    return s;
}

std::u32string to_code_points(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        std::size_t n = 0;
        out.push_back(decode_at(s, i, n));
        i += n;
    }
    return out;
}

std::size_t count_code_points(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

namespace {

// Length of the valid sequence at s[i], or 0 with `bad` set to the length of
// the maximal invalid subpart (at least 1), per Unicode's "U+FFFD substitution
// of maximal subparts" (what Rust's from_utf8_lossy does).
std::size_t valid_sequence(std::string_view s, std::size_t i, std::size_t& bad) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    bad = 1;
    if (b0 < 0x80) return 1;
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF; // range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F; // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0; // a continuation byte or an invalid lead: one byte
    }
    for (std::size_t k = 1; k <= need; ++k) {
        if (i + k >= s.size()) {
            bad = k;
            return 0;
        }
        const auto b = static_cast<unsigned char>(s[i + k]);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) {
            bad = k;
            return 0;
        }
    }
    return need + 1;
}

} // namespace

std::size_t first_invalid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t n = valid_sequence(s, i, bad);
        if (n == 0) return i;
        i += n;
    }
    return std::string_view::npos;
}

bool is_valid_utf8(std::string_view s) {
    return first_invalid_utf8(s) == std::string_view::npos;
}

std::string to_valid_utf8(std::string_view s) {
    if (is_valid_utf8(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 8);
    for (std::size_t i = 0; i < s.size();) {
        std::size_t bad = 0;
        const std::size_t n = valid_sequence(s, i, bad);
        if (n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            i += bad;
        }
    }
    return out;
}

std::size_t complete_utf8_prefix(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence is unfinished.
    const std::size_t n = s.size();
    for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
        const auto b = static_cast<unsigned char>(s[n - back]);
        if ((b & 0xC0) == 0x80) continue; // continuation: keep looking for its lead
        if (b >= 0xC0) {
            const std::size_t need = utf8_length(b);
            if (need > back) return n - back; // its sequence has not ended yet
        }
        return n;
    }
    return n;
}

bool is_whitespace(char32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE) != 0;
}

bool is_alphabetic(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC) != 0;
}

bool is_numeric(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9';
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0;
}

bool is_punctuation(char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}

bool is_ascii_punctuation(char32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
}

bool is_other(char32_t c) {
    // The reference's "other" is control, format and private use: surrogates
    // cannot occur and unassigned code points (U+10FFFF) count as ordinary.
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & (U_GC_CC_MASK | U_GC_CF_MASK | U_GC_CO_MASK)) != 0;
}

bool is_mark(char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_M_MASK) != 0;
}

bool is_mark_nonspacing(char32_t c) {
    return u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK;
}

bool is_word_char(char32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    const auto ch = static_cast<UChar32>(c);
    const auto gc = U_GET_GC_MASK(ch);
    return u_hasBinaryProperty(ch, UCHAR_ALPHABETIC) != 0 || (gc & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0 ||
           u_hasBinaryProperty(ch, UCHAR_JOIN_CONTROL) != 0;
}

void append_lowercase(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        return;
    }
    // The only unconditional multi-character lowercase mapping (SpecialCasing).
    if (c == 0x130) {
        out += "i\xCC\x87";
        return;
    }
    append_utf8(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
}

namespace {

const icu::Normalizer2& normalizer_for(normal_form form) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = nullptr;
    switch (form) {
    case normal_form::nfc:
        n = icu::Normalizer2::getNFCInstance(status);
        break;
    case normal_form::nfd:
        n = icu::Normalizer2::getNFDInstance(status);
        break;
    case normal_form::nfkc:
        n = icu::Normalizer2::getNFKCInstance(status);
        break;
    case normal_form::nfkd:
        n = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status) || n == nullptr) throw std::runtime_error("ICU normalizer unavailable");
    return *n;
}

} // namespace

std::string normalize(std::string_view s, normal_form form) {
    const auto& n = normalizer_for(form);
    UErrorCode status = U_ZERO_ERROR;
    // Most text is already normalized: check first, in UTF-8, without copying.
    const auto src = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
    if (n.isNormalized(src, status) && U_SUCCESS(status)) return std::string(s);
    status = U_ZERO_ERROR;
    const icu::UnicodeString out = n.normalize(src, status);
    if (U_FAILURE(status)) throw std::runtime_error("ICU normalization failed");
    std::string utf8;
    out.toUTF8String(utf8);
    return utf8;
}

std::vector<std::size_t> grapheme_starts(std::string_view s) {
    std::vector<std::size_t> starts;
    if (s.empty()) return starts;
    UErrorCode status = U_ZERO_ERROR;
    // One break iterator, cloned per call (creating one from the locale data is slow).
    static std::once_flag once;
    static std::unique_ptr<icu::BreakIterator> prototype;
    std::call_once(once, [] {
        UErrorCode st = U_ZERO_ERROR;
        prototype.reset(icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), st));
        if (U_FAILURE(st)) prototype.reset();
    });
    if (!prototype) throw std::runtime_error("ICU break iterator unavailable");
    std::unique_ptr<icu::BreakIterator> it(prototype->clone());
    UText ut = UTEXT_INITIALIZER;
    utext_openUTF8(&ut, s.data(), static_cast<int64_t>(s.size()), &status);
    it->setText(&ut, status);
    if (U_FAILURE(status)) {
        utext_close(&ut);
        throw std::runtime_error("ICU break iterator failed");
    }
    for (int32_t p = it->first(); p != icu::BreakIterator::DONE; p = it->next()) {
        if (static_cast<std::size_t>(p) < s.size()) starts.push_back(static_cast<std::size_t>(p));
    }
    utext_close(&ut);
    return starts;
}

} // namespace tether::agent::text
