// The text coalescer: at most one delta per interval, never a delta that ends
// inside a UTF-8 sequence. Time points are passed in; nothing sleeps.

#include "backends/model/text_coalescer.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tether::agent;
using namespace std::chrono_literals;
using tp = text_coalescer::clock::time_point;

namespace {

// True when `s` is whole UTF-8 sequences (by lead-byte structure).
bool whole_utf8(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        const std::size_t n = b < 0x80             ? 1
                              : (b & 0xE0) == 0xC0 ? 2
                              : (b & 0xF0) == 0xE0 ? 3
                              : (b & 0xF8) == 0xF0 ? 4
                                                   : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

} // namespace

TEST_CASE("the first push leaves at once", "[coalescer]") {
    text_coalescer c(10ms);
    const tp t0{};
    CHECK(c.push("Hello", t0) == std::optional<std::string>("Hello"));
    CHECK(c.flush().empty());
}

TEST_CASE("pushes within the interval are held and leave together with the first push after it", "[coalescer]") {
    text_coalescer c(10ms);
    const tp t0{};
    CHECK(c.push("In", t0) == std::optional<std::string>("In"));
    CHECK_FALSE(c.push(" the", t0 + 3ms));
    CHECK_FALSE(c.push(" beg", t0 + 9ms));
    CHECK(c.push("inning", t0 + 10ms) == std::optional<std::string>(" the beginning"));
    // The interval now counts from the last delta, not from the first push.
    CHECK_FALSE(c.push(" God", t0 + 19ms));
    CHECK(c.push(" created", t0 + 25ms) == std::optional<std::string>(" God created"));
    CHECK_FALSE(c.push(" the", t0 + 26ms));
    CHECK(c.flush() == " the");
    CHECK(c.text() == "In the beginning God created the");
}

TEST_CASE("an interval of zero lets every push leave", "[coalescer]") {
    text_coalescer c(0ms);
    const tp t0{};
    CHECK(c.push("a", t0) == std::optional<std::string>("a"));
    CHECK(c.push("b", t0) == std::optional<std::string>("b"));
}

TEST_CASE("2-, 3- and 4-byte UTF-8 characters split across pushes are never split in a delta", "[coalescer]") {
    const std::string chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}; // é € 😀
    for (const auto& ch : chars) {
        INFO("a " << ch.size() << "-byte character");
        text_coalescer c(10ms);
        tp now{};
        const std::string input = "a" + ch + "b" + ch + ch;
        std::vector<std::string> deltas;
        for (const char byte : input) {
            now += 1s; // every push is past the interval: only UTF-8 can hold bytes back
            if (auto d = c.push(std::string_view(&byte, 1), now)) deltas.push_back(*d);
        }
        std::string joined;
        for (const auto& d : deltas) {
            CHECK_FALSE(d.empty());
            CHECK(whole_utf8(d));
            joined += d;
        }
        joined += c.flush();
        CHECK(joined == input);
        CHECK(deltas.back() == ch);
    }
}

TEST_CASE("a delta stops before an unfinished character and the rest follows whole", "[coalescer]") {
    text_coalescer c(10ms);
    const tp t0{};
    CHECK(c.push("x\xE2\x82", t0) == std::optional<std::string>("x"));
    CHECK(c.push("\xAC!", t0 + 20ms) == std::optional<std::string>("\xE2\x82\xAC!"));
    // Held for the interval and for UTF-8 at once: both release together.
    CHECK_FALSE(c.push("\xF0\x9F", t0 + 21ms));
    CHECK_FALSE(c.push("\x98", t0 + 40ms)); // interval passed, but the character is still unfinished
    CHECK(c.push("\x80", t0 + 41ms) == std::optional<std::string>("\xF0\x9F\x98\x80"));
}

TEST_CASE("flush returns the held tail, an unfinished character included, and text() is everything", "[coalescer]") {
    text_coalescer c(10ms);
    const tp t0{};
    CHECK(c.push("ab", t0) == std::optional<std::string>("ab"));
    CHECK_FALSE(c.push("\xF0\x9F", t0 + 1s));
    CHECK(c.flush() == "\xF0\x9F");
    CHECK(c.flush().empty());
    CHECK(c.text() == "ab\xF0\x9F");
}

TEST_CASE("invalid bytes and stray continuation bytes are not held back", "[coalescer]") {
    text_coalescer c(0ms);
    const tp t0{};
    CHECK(c.push("\xFF", t0) == std::optional<std::string>("\xFF"));
    CHECK(c.push("\x80", t0) == std::optional<std::string>("\x80"));
    CHECK(c.push("\xC3\xA9\x80", t0) == std::optional<std::string>("\xC3\xA9\x80"));
    CHECK(c.push("\x80\x80\x80", t0) == std::optional<std::string>("\x80\x80\x80"));
    CHECK(c.flush().empty());
}
