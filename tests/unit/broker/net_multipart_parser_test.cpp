// The streaming multipart/form-data parser: parts come out whole whatever the
// chunking, malformed bodies are refused, the boundary is read from the header.
#include "net/multipart_parser.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using tether::broker::net::multipart_parser;
using tether::broker::net::multipart_part_header;

namespace {

struct collected {
    std::vector<multipart_part_header> headers;
    std::vector<std::string> bodies;
    int ended = 0;
};

multipart_parser make(collected& c, const std::string& boundary = "XyZ") {
    return multipart_parser(boundary, {
                                          [&c](const multipart_part_header& h) {
                                              c.headers.push_back(h);
                                              c.bodies.emplace_back();
                                              return true;
                                          },
                                          [&c](std::string_view d) {
                                              c.bodies.back().append(d);
                                              return true;
                                          },
                                          [&c]() {
                                              ++c.ended;
                                              return true;
                                          },
                                      });
}

const std::string body = "preamble\r\n--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
                         "hello\r\nworld\r\n"
                         "--XyZ\r\n"
                         "Content-Disposition: form-data; name=\"audio\"; filename=\"a \\\"b\\\".wav\"\r\n"
                         "Content-Type: audio/wav\r\n\r\n"
                         "RIFF\r\n--XyNOT a boundary\r\n"
                         "--XyZ--\r\nepilogue";

} // namespace

TEST_CASE("a multipart body yields its parts whatever the chunk sizes", "[net][multipart]") {
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{7}, body.size()}) {
        collected c;
        auto p = make(c);
        for (std::size_t i = 0; i < body.size(); i += step)
            REQUIRE(p.feed(std::string_view(body).substr(i, step)));
        INFO("step " << step);
        CHECK(p.done());
        REQUIRE(c.headers.size() == 2);
        CHECK(c.ended == 2);
        CHECK(c.headers[0].name == "prompt");
        CHECK_FALSE(c.headers[0].filename.has_value());
        CHECK(c.bodies[0] == "hello\r\nworld");
        CHECK(c.headers[1].name == "audio");
        CHECK(c.headers[1].filename == std::optional<std::string>("a \"b\".wav"));
        CHECK(c.headers[1].content_type == "audio/wav");
        CHECK(c.bodies[1] == "RIFF\r\n--XyNOT a boundary");
    }
}

TEST_CASE("a multipart body cut before its closing boundary is not done", "[net][multipart]") {
    collected c;
    auto p = make(c);
    REQUIRE(p.feed(std::string_view(body).substr(0, body.size() / 2)));
    CHECK_FALSE(p.done());
}

TEST_CASE("a part without a field name is refused", "[net][multipart]") {
    collected c;
    auto p = make(c);
    CHECK_FALSE(p.feed("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--"));
    CHECK_FALSE(p.error().empty());
}

TEST_CASE("garbage after a boundary is refused", "[net][multipart]") {
    collected c;
    auto p = make(c);
    CHECK_FALSE(p.feed("--XyZjunk"));
}

TEST_CASE("endless part headers are refused rather than buffered", "[net][multipart]") {
    collected c;
    auto p = make(c);
    REQUIRE(p.feed("--XyZ\r\n"));
    std::string junk(64 * 1024, 'h');
    CHECK_FALSE(p.feed(junk));
}

TEST_CASE("the boundary is read from a multipart/form-data content type only", "[net][multipart]") {
    CHECK(multipart_parser::boundary_of("multipart/form-data; boundary=abc") == std::optional<std::string>("abc"));
    CHECK(multipart_parser::boundary_of("Multipart/Form-Data; charset=x; boundary=\"a b\"") ==
          std::optional<std::string>("a b"));
    CHECK_FALSE(multipart_parser::boundary_of("application/json").has_value());
    CHECK_FALSE(multipart_parser::boundary_of("multipart/form-data").has_value());
    CHECK_FALSE(multipart_parser::boundary_of("multipart/form-data; boundary=" + std::string(71, 'x')).has_value());
}

TEST_CASE("part headers over the limit are refused even when they arrive in one piece", "[net][multipart]") {
    // Found by multipart_fuzz: only a header block cut across feeds was bounded.
    const std::string head = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ";
    const std::string tail = "\r\n\r\nbody\r\n--XyZ--";
    const std::string big = head + std::string(20000, 'p') + tail;
    collected whole;
    auto p = make(whole);
    CHECK_FALSE(p.feed(big));
    CHECK(p.error() == "multipart part headers too large");
    collected cut;
    auto q = make(cut);
    bool ok = true;
    for (std::size_t i = 0; i < big.size() && ok; i += 1000) ok = q.feed(std::string_view(big).substr(i, 1000));
    CHECK_FALSE(ok);
    CHECK(q.error() == "multipart part headers too large");

    // Just under the limit is fine either way.
    const std::string fits = head + std::string(16 * 1024 - (head.size() - 7) - 2, 'p') + tail;
    collected c;
    auto r = make(c);
    CHECK(r.feed(fits));
    CHECK(r.done());
}
