// The 24-byte blob frame header: byte layout checked against literal bytes.
#include "tether/protocol/blob_header.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace tether::protocol;
using namespace std::string_literals;

namespace {
blob_header sample() {
    blob_header h;
    for (std::uint8_t i = 0; i < 16; ++i)
        h.request_id[i] = static_cast<std::uint8_t>(0xA0 + i);
    h.blob = 0x01020304U;
    h.flags = blob_flag_last;
    return h;
}
} // namespace

TEST_CASE("the header puts the id first, then blob and flags big-endian", "[blob]") {
    const auto bytes = encode_blob_header(sample());
    const std::string expected = "\xA0\xA1\xA2\xA3\xA4\xA5\xA6\xA7\xA8\xA9\xAA\xAB\xAC\xAD\xAE\xAF"
                                 "\x01\x02\x03\x04"
                                 "\x00\x00\x00\x01"s;
    REQUIRE(expected.size() == blob_header_size);
    CHECK(std::string(bytes.data(), bytes.size()) == expected);
}

TEST_CASE("a high blob number and all flags are encoded byte by byte", "[blob]") {
    blob_header h;
    h.blob = 0xFFFFFFFEU;
    h.flags = 0x80000001U;
    const auto bytes = encode_blob_header(h);
    CHECK(std::string(bytes.data() + 16, 8) == "\xFF\xFF\xFF\xFE\x80\x00\x00\x01"s);
    CHECK(std::string(bytes.data(), 16) == std::string(16, '\0'));
}

TEST_CASE("a frame is the header followed by the data and parses back", "[blob]") {
    const auto frame = encode_blob_frame(sample(), "payload\0bytes"s);
    REQUIRE(frame.size() == blob_header_size + 13);
    CHECK(frame.substr(blob_header_size) == "payload\0bytes"s);
    const auto h = parse_blob_header(frame);
    REQUIRE(h);
    CHECK(*h == sample());
    CHECK(h->last());
}

TEST_CASE("parsing reads literal big-endian bytes", "[blob]") {
    const std::string frame = std::string(16, '\x11') + "\x00\x00\x01\x00"s + "\x00\x00\x00\x00"s;
    const auto h = parse_blob_header(frame);
    REQUIRE(h);
    CHECK(h->blob == 256U);
    CHECK(h->flags == 0U);
    CHECK_FALSE(h->last());
    CHECK(h->request_id[15] == 0x11);
}

TEST_CASE("a frame shorter than 24 bytes has no header", "[blob]") {
    CHECK_FALSE(parse_blob_header(""));
    for (std::size_t n = 1; n < blob_header_size; ++n)
        CHECK_FALSE(parse_blob_header(std::string(n, '\x01')));
    CHECK(parse_blob_header(std::string(blob_header_size, '\x01')));
}

TEST_CASE("only bit 0 of the flags means last", "[blob]") {
    blob_header h;
    h.flags = 0xFFFFFFFEU;
    CHECK_FALSE(h.last());
    h.flags = 1;
    CHECK(h.last());
}
