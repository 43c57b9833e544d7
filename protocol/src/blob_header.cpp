#include "tether/protocol/blob_header.hpp"

#include <algorithm>

namespace tether::protocol {
namespace {

void put_u32_be(char* out, std::uint32_t v) {
    out[0] = static_cast<char>((v >> 24) & 0xFF);
    out[1] = static_cast<char>((v >> 16) & 0xFF);
    out[2] = static_cast<char>((v >> 8) & 0xFF);
    out[3] = static_cast<char>(v & 0xFF);
}

std::uint32_t get_u32_be(const char* in) {
    const auto b = [&](int k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k])); };
    return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

} // namespace

std::array<char, blob_header_size> encode_blob_header(const blob_header& h) {
    std::array<char, blob_header_size> out{};
    std::transform(h.request_id.begin(), h.request_id.end(), out.begin(),
                   [](std::uint8_t b) { return static_cast<char>(b); });
    put_u32_be(out.data() + 16, h.blob);
    put_u32_be(out.data() + 20, h.flags);
    return out;
}

std::string encode_blob_frame(const blob_header& h, std::string_view data) {
    const auto header = encode_blob_header(h);
    std::string out;
    out.reserve(blob_header_size + data.size());
    out.append(header.data(), header.size());
    out.append(data);
    return out;
}

std::optional<blob_header> parse_blob_header(std::string_view frame) {
    if (frame.size() < blob_header_size) return std::nullopt;
    blob_header h;
    std::transform(frame.begin(), frame.begin() + 16, h.request_id.begin(),
                   [](char c) { return static_cast<std::uint8_t>(c); });
    h.blob = get_u32_be(frame.data() + 16);
    h.flags = get_u32_be(frame.data() + 20);
    return h;
}

} // namespace tether::protocol
