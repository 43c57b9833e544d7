// libFuzzer target for the broker's streaming multipart/form-data parser.
// Input: [chunking seed][boundary choice][body]. The body is parsed twice,
// once in a single feed and once cut at points the seed picks, and both runs
// must agree on every part, every byte and the outcome. Also checked: no
// more part bytes out than body bytes in, no part body holding the
// delimiter, callbacks in begin/data/end order, at most 64 parts, part
// headers within 16 KiB, and boundary_of() keeping its 1..70 character
// promise. Aborts otherwise.
#include "net/multipart_parser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using tether::broker::net::multipart_parser;
using tether::broker::net::multipart_part_header;

namespace {

constexpr std::size_t max_parts = 64;               // multipart_parser.cpp's limits
constexpr std::size_t max_header_block = 16 * 1024;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "multipart_fuzz: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)), detail.data());
    std::abort();
}

// Boundaries of every length class: short, typical, browser-like, the longest
// allowed, and one made of the delimiter's own dashes.
const std::array<std::string, 5> boundaries = {
    "XyZ",
    "a",
    "----WebKitFormBoundary7MA4YWxkTrZu0gW",
    std::string(70, 'b'),
    "--",
};

struct part {
    multipart_part_header header;
    std::string body;
    bool ended = false;
};

struct outcome {
    std::vector<part> parts;
    bool ok = true;
    bool done = false;
    std::string error;
    std::size_t data_bytes = 0;
};

bool same_header(const multipart_part_header& a, const multipart_part_header& b) {
    return a.name == b.name && a.filename == b.filename && a.content_type == b.content_type;
}

// Cut points from a tiny xorshift generator; seed 0 means one feed.
std::vector<std::size_t> chunk_sizes(std::uint8_t seed, std::size_t total) {
    std::vector<std::size_t> sizes;
    if (seed == 0) {
        sizes.push_back(total);
        return sizes;
    }
    std::uint32_t x = 0x9E3779B9U ^ seed;
    const std::size_t max_chunk = 1 + (seed % 8 == 0 ? 1 : seed % 97); // seed % 8 == 0: byte by byte
    for (std::size_t done = 0; done < total;) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const std::size_t n = std::min<std::size_t>(total - done, 1 + x % max_chunk);
        sizes.push_back(n);
        done += n;
    }
    return sizes;
}

outcome parse(const std::string& boundary, std::string_view body, const std::vector<std::size_t>& sizes) {
    outcome out;
    bool in_part = false;
    const std::string delimiter = "\r\n--" + boundary;
    multipart_parser p(boundary, {
                                     [&](const multipart_part_header& h) {
                                         if (in_part) fail("part begins inside a part");
                                         if (h.name.empty()) fail("part without a name accepted");
                                         if (h.name.size() + h.filename.value_or("").size() + h.content_type.size() >
                                             max_header_block)
                                             fail("part header over the 16 KiB limit");
                                         in_part = true;
                                         out.parts.push_back({h, {}, false});
                                         if (out.parts.size() > max_parts) fail("more than 64 parts");
                                         return true;
                                     },
                                     [&](std::string_view data) {
                                         if (!in_part) fail("data outside a part");
                                         if (data.empty()) fail("empty data callback");
                                         out.parts.back().body.append(data);
                                         out.data_bytes += data.size();
                                         return true;
                                     },
                                     [&]() {
                                         if (!in_part) fail("part ends outside a part");
                                         in_part = false;
                                         out.parts.back().ended = true;
                                         return true;
                                     },
                                 });
    std::size_t at = 0;
    for (const std::size_t n : sizes) {
        if (!p.feed(body.substr(at, n))) {
            out.ok = false;
            if (p.error().empty()) fail("failure without an error message");
            out.error = p.error();
            if (p.feed("more")) fail("a failed parser accepted more bytes");
            break;
        }
        at += n;
        if (p.done() && at < body.size() && !p.feed(body.substr(at))) fail("the epilogue was refused");
        if (p.done()) break;
    }
    out.done = p.done();
    if (out.done && in_part) fail("done inside a part");
    if (out.done && !out.ok) fail("done and failed");
    if (out.data_bytes > body.size()) fail("more part bytes out than body bytes in");
    for (const auto& pt : out.parts)
        if (pt.body.find(delimiter) != std::string::npos) fail("a part body holds the delimiter", pt.body);
    return out;
}

void compare(const outcome& whole, const outcome& cut, std::string_view body) {
    if (whole.ok != cut.ok) fail("the outcome depends on the chunking", body);
    if (!whole.ok) {
        if (whole.error != cut.error) fail("the error depends on the chunking", whole.error + " / " + cut.error);
        return; // what was delivered before the failure may differ by a chunk
    }
    if (whole.done != cut.done) fail("done depends on the chunking", body);
    if (whole.data_bytes != cut.data_bytes) fail("the byte count depends on the chunking", body);
    if (whole.parts.size() != cut.parts.size()) fail("the part count depends on the chunking", body);
    for (std::size_t i = 0; i < whole.parts.size(); ++i) {
        const auto& a = whole.parts[i];
        const auto& b = cut.parts[i];
        if (!same_header(a.header, b.header)) fail("a part header depends on the chunking", body);
        if (a.ended != b.ended) fail("a part end depends on the chunking", body);
        // An unfinished last part holds back the same delimiter-sized tail either way.
        if (a.body != b.body) fail("a part body depends on the chunking", body);
    }
}

void check_boundary_of(std::string_view text) {
    const auto b = multipart_parser::boundary_of(text);
    if (b && (b->empty() || b->size() > 70)) fail("boundary_of returned a boundary of a bad length", *b);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_boundary_of(input);
    if (size < 2) return 0;
    const std::uint8_t seed = data[0];
    const std::string& boundary = boundaries[data[1] % boundaries.size()];
    const std::string_view body = input.substr(2);

    const outcome whole = parse(boundary, body, {body.size()});
    const outcome cut = parse(boundary, body, chunk_sizes(seed, body.size()));
    compare(whole, cut, body);
    return 0;
}
