// json_writer: escaping of every control character, UTF-8 passed through or
// repaired, commas, numbers.
#include "tether/protocol/codec.hpp"
#include "tether/protocol/json_writer.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

using namespace tether::protocol;
using namespace std::string_literals;

TEST_CASE("every control character 0x00-0x1F is escaped", "[json_writer]") {
    const char* expected[32] = {"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
                                "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
                                "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
                                "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
    for (int c = 0; c < 32; ++c) {
        INFO(c);
        CHECK(json_string(std::string(1, static_cast<char>(c))) == "\"" + std::string(expected[c]) + "\"");
    }
}

TEST_CASE("quotes and backslashes are escaped, other ASCII is not", "[json_writer]") {
    CHECK(json_string(R"(a"b\c)") == R"("a\"b\\c")");
    CHECK(json_string("/ <script> \x7f ~") == "\"/ <script> \x7f ~\"");
    CHECK(json_string("") == "\"\"");
}

TEST_CASE("valid 2, 3 and 4 byte UTF-8 passes through unchanged", "[json_writer]") {
    const std::string two = "\xC3\xA9";          // é
    const std::string three = "\xE2\x82\xAC";    // €
    const std::string four = "\xF0\x9F\x98\x80"; // 😀
    const std::string edges = "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80"
                              "\xF4\x8F\xBF\xBF"; // U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF
    for (const auto& s : {two, three, four, edges})
        CHECK(json_string(s) == "\"" + s + "\"");
}

TEST_CASE("each invalid UTF-8 sequence becomes one U+FFFD", "[json_writer]") {
    CHECK(json_string("\x80") == R"("\ufffd")"); // lone continuation
    CHECK(json_string("a\xFF"
                      "b") == R"("a\ufffdb")");                                // never valid
    CHECK(json_string("\xC0\xAF") == R"("\ufffd\ufffd")");                     // overlong '/': C0 is never valid
    CHECK(json_string("\xE0\x80\xAF") == R"("\ufffd\ufffd\ufffd")");           // overlong 3-byte
    CHECK(json_string("\xED\xA0\x80") == R"("\ufffd\ufffd\ufffd")");           // UTF-16 surrogate D800
    CHECK(json_string("\xF4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")"); // > U+10FFFF
    CHECK(json_string("\xF5\x80") == R"("\ufffd\ufffd")");
    CHECK(json_string("\xE2\x82") == R"("\ufffd")");   // truncated at the end
    CHECK(json_string("\xE2\x82x") == R"("\ufffdx")"); // truncated in the middle
    CHECK(json_string("\xF0\x9F\x98") == R"("\ufffd")");
    CHECK(json_string("\xC3") == R"("\ufffd")");
    CHECK(json_string("ok\xC3\xA9\xC3") == "\"ok\xC3\xA9\\ufffd\"");
}

TEST_CASE("whatever bytes go in, the output is valid JSON that reads back", "[json_writer]") {
    std::string all;
    for (int i = 0; i < 256; ++i)
        all.push_back(static_cast<char>(i));
    const auto text = json_string(all + all);
    const auto back = canonical_json(text);
    REQUIRE(back.ok());
    // The reader turns each \ufffd escape into the character itself; that form is stable.
    CHECK(back.value().size() > 256);
    CHECK(canonical_json(back.value()).value() == back.value());
}

TEST_CASE("the writer places commas and colons", "[json_writer]") {
    json_writer w;
    w.begin_object()
        .key("a")
        .value(1)
        .key("b")
        .begin_array()
        .value("x")
        .value(true)
        .null()
        .begin_object()
        .end_object()
        .begin_array()
        .end_array()
        .end_array()
        .key("c")
        .raw(R"({"d":[]})")
        .key("e")
        .value(false)
        .end_object();
    CHECK(w.str() == R"({"a":1,"b":["x",true,null,{},[]],"c":{"d":[]},"e":false})");
    CHECK(w.take() == R"({"a":1,"b":["x",true,null,{},[]],"c":{"d":[]},"e":false})");
}

TEST_CASE("integers are written exactly at their limits", "[json_writer]") {
    json_writer w;
    w.begin_array()
        .value(std::numeric_limits<std::int64_t>::min())
        .value(std::numeric_limits<std::uint64_t>::max())
        .value(-1)
        .value(7U)
        .end_array();
    CHECK(w.str() == "[-9223372036854775808,18446744073709551615,-1,7]");
}

TEST_CASE("doubles round-trip and non-finite ones become null", "[json_writer]") {
    json_writer w;
    w.begin_array()
        .value(0.1)
        .value(0.95)
        .value(1e300)
        .value(812.0)
        .value(std::numeric_limits<double>::quiet_NaN())
        .value(std::numeric_limits<double>::infinity())
        .value(-std::numeric_limits<double>::infinity())
        .end_array();
    CHECK(w.str() == "[0.1,0.95,1e+300,812,null,null,null]");
    CHECK(canonical_json(w.str()).ok());
    for (double d : {0.1, 1.0 / 3.0, 5e-324, 1.7976931348623157e308, -2.5e-7}) {
        json_writer one;
        one.value(d);
        CHECK(std::strtod(one.str().c_str(), nullptr) == d);
    }
}

TEST_CASE("keys are escaped like values", "[json_writer]") {
    json_writer w;
    w.begin_object().key("a\"\n\xFF").value("v").end_object();
    CHECK(w.str() == R"({"a\"\n\ufffd":"v"})");
}

TEST_CASE("append_json_string appends to what is already there", "[json_writer]") {
    std::string out = "x=";
    append_json_string(out, "y");
    CHECK(out == "x=\"y\"");
}
