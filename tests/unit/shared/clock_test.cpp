#include "tether/shared/clock.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace std::chrono_literals;

TEST_CASE("rfc3339 formats UTC with milliseconds", "[clock]") {
    CHECK(format_rfc3339(from_unix_ms(0)) == "1970-01-01T00:00:00.000Z");
    CHECK(format_rfc3339(from_unix_ms(1'795'867'320'123)) == "2026-11-28T12:02:00.123Z");
    CHECK(format_rfc3339(from_unix_ms(-1)) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("rfc3339 format and parse round-trip to the millisecond", "[clock]") {
    for (std::int64_t ms : {0LL, 1LL, 999LL, 1'700'000'000'000LL, 1'795'867'320'123LL, 4'102'444'799'999LL}) {
        const auto t = from_unix_ms(ms);
        const auto back = parse_rfc3339(format_rfc3339(t));
        REQUIRE(back);
        CHECK(to_unix_ms(*back) == ms);
    }
}

TEST_CASE("rfc3339 parse accepts optional fractions of any length", "[clock]") {
    CHECK(to_unix_ms(*parse_rfc3339("2026-11-22T12:02:00Z")) % 1000 == 0);
    CHECK(to_unix_ms(*parse_rfc3339("2026-11-22T12:02:00.5Z")) % 1000 == 500);
    CHECK(to_unix_ms(*parse_rfc3339("2026-11-22T12:02:00.123456Z")) % 1000 == 123);
    CHECK(parse_rfc3339("2024-02-29T00:00:00z"));
}

TEST_CASE("rfc3339 parse rejects garbage and impossible dates", "[clock]") {
    for (const char* bad :
         {"", "garbage", "2026-11-22", "2026-11-22T12:02:00", "2026-11-22 12:02:00Z", "2026-11-22T12:02:00+01:00",
          "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
          "2026-04-31T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T12:60:00Z", "2026-11-22T12:02:00.Z",
          "2026-11-22T12:02:00ZZ", "2026-1-22T12:02:00Z", "+026-11-22T12:02:00Z"}) {
        INFO(bad);
        CHECK_FALSE(parse_rfc3339(bad));
    }
}

TEST_CASE("manual_clock moves only when told", "[clock]") {
    manual_clock c;
    const auto start = c.now();
    CHECK(c.now() == start);
    c.advance(1500ms);
    CHECK(c.now() - start == 1500ms);
    c.set(from_unix_ms(42));
    CHECK(to_unix_ms(c.now()) == 42);
}
