#pragma once
// The 24-byte header of a binary blob frame: the request id's 16 raw UUID
// bytes, the blob number (u32 big-endian) and flags (u32 big-endian; bit 0 =
// last chunk of this blob). At most 1 MiB of data follows the header.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tether::protocol {

inline constexpr std::size_t blob_header_size = 24;
inline constexpr std::uint32_t blob_flag_last = 1U;

struct blob_header {
    std::array<std::uint8_t, 16> request_id{}; // raw UUID bytes (tether::uuid::bytes)
    std::uint32_t blob = 0;
    std::uint32_t flags = 0;
    bool last() const { return (flags & blob_flag_last) != 0; }
    friend bool operator==(const blob_header&, const blob_header&) = default;
};

std::array<char, blob_header_size> encode_blob_header(const blob_header& h);
// A whole binary frame: header followed by `data`.
std::string encode_blob_frame(const blob_header& h, std::string_view data);
// nullopt when `frame` is shorter than the header. The data is frame.substr(blob_header_size).
std::optional<blob_header> parse_blob_header(std::string_view frame);

} // namespace tether::protocol
