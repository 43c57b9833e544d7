#include "text/precompiled_charsmap.hpp"

#include "text/unicode.hpp"

#include <cstring>
#include <stdexcept>

namespace tether::agent::text {
namespace {

// The fields of one darts-clone unit.
bool has_leaf(std::uint32_t u) { return ((u >> 8) & 1U) == 1U; }
std::uint32_t value_of(std::uint32_t u) { return u & ((1U << 31) - 1); }
std::uint32_t label_of(std::uint32_t u) { return u & ((1U << 31) | 0xFFU); }
std::uint32_t offset_of(std::uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

} // namespace

precompiled_charsmap::precompiled_charsmap(std::string_view bytes) {
    if (bytes.size() < 4) throw std::invalid_argument("the precompiled_charsmap is shorter than its header");
    std::uint32_t trie_bytes = 0;
    std::memcpy(&trie_bytes, bytes.data(), 4); // little-endian, as written by SentencePiece (x86 hosts)
    if (trie_bytes % 4 != 0 || trie_bytes > bytes.size() - 4)
        throw std::invalid_argument("the precompiled_charsmap's trie size does not fit the data");
    array_.resize(trie_bytes / 4);
    if (!array_.empty()) std::memcpy(array_.data(), bytes.data() + 4, trie_bytes);
    normalized_ = std::string(bytes.substr(4 + trie_bytes));
    if (!is_valid_utf8(normalized_))
        throw std::invalid_argument("the precompiled_charsmap's replacement strings are not UTF-8");
    if (array_.empty()) throw std::invalid_argument("the precompiled_charsmap has an empty trie");
}

std::optional<std::string_view> precompiled_charsmap::transform(std::string_view chunk) const {
    std::size_t node = 0;
    std::uint32_t unit = array_[node];
    node ^= offset_of(unit);
    for (const char ch : chunk) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == 0) break;
        node ^= c;
        if (node >= array_.size()) return std::nullopt;
        unit = array_[node];
        if (label_of(unit) != c) return std::nullopt;
        node ^= offset_of(unit);
        if (node >= array_.size()) return std::nullopt;
        if (has_leaf(unit)) {
            // The first (shortest) prefix with a value decides.
            const std::size_t at = value_of(array_[node]);
            if (at > normalized_.size()) return std::nullopt;
            std::size_t end = at;
            while (end < normalized_.size() && normalized_[end] != '\0') ++end;
            const std::string_view out(normalized_.data() + at, end - at);
            // A value that does not start on a character boundary would make
            // broken UTF-8: treat it as no rule.
            if (!out.empty() && (static_cast<unsigned char>(out.front()) & 0xC0) == 0x80) return std::nullopt;
            return out;
        }
    }
    return std::nullopt;
}

} // namespace tether::agent::text
