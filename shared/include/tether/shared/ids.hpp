#pragma once
// Identifiers: request ids are random (v4) UUIDs, carried as text in JSON and
// as 16 raw bytes in blob headers. Also random opaque tokens for secrets.
// Pure value code: no I/O besides the OS random source.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether {

struct uuid {
    std::array<std::uint8_t, 16> bytes{};

    // A fresh random version-4 UUID (OpenSSL's CSPRNG).
    static uuid random();
    // Parses the canonical 8-4-4-4-12 hex form (either case); nullopt otherwise.
    static std::optional<uuid> parse(std::string_view text);
    // The canonical lower-case form.
    std::string to_string() const;
    bool is_nil() const;

    friend bool operator==(const uuid&, const uuid&) = default;
    friend auto operator<=>(const uuid&, const uuid&) = default;
};

struct uuid_hash {
    std::size_t operator()(const uuid& id) const noexcept;
};

// `n` random bytes from the CSPRNG, hex-encoded (2n characters).
std::string random_hex(std::size_t n);

} // namespace tether
