#include "text/byte_level_alphabet.hpp"

#include "text/unicode.hpp"

#include <array>

namespace tether::agent::text {
namespace {

struct alphabet {
    std::array<char32_t, 256> to_char{};
    std::array<std::string, 256> spelled{}; // UTF-8 of to_char
    std::array<int, 512> to_byte{};         // code point (< 512) -> byte, or -1

    alphabet() {
        to_byte.fill(-1);
        std::array<bool, 256> printable{};
        for (int b = '!'; b <= '~'; ++b) printable[static_cast<std::size_t>(b)] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) printable[static_cast<std::size_t>(b)] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) printable[static_cast<std::size_t>(b)] = true;
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const auto i = static_cast<std::size_t>(b);
            to_char[i] = printable[i] ? static_cast<char32_t>(b) : next++;
            spelled[i] = to_utf8(to_char[i]);
            to_byte[to_char[i]] = b;
        }
    }
};

const alphabet& table() {
    static const alphabet a;
    return a;
}

} // namespace

std::string byte_level_encode(std::string_view bytes) {
    const auto& t = table();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char b : bytes) out += t.spelled[static_cast<unsigned char>(b)];
    return out;
}

std::optional<std::string> byte_level_decode(std::string_view token) {
    const auto& t = table();
    std::string out;
    out.reserve(token.size());
    for (std::size_t i = 0; i < token.size();) {
        std::size_t n = 0;
        const char32_t c = decode_at(token, i, n);
        if (c >= 512 || t.to_byte[c] < 0) return std::nullopt;
        out += static_cast<char>(t.to_byte[c]);
        i += n;
    }
    return out;
}

} // namespace tether::agent::text
