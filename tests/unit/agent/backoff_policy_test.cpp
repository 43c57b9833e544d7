// Reconnect backoff: exponential ceiling with full jitter, capped, reset by a
// connection that lasted a minute. The random source is injected.

#include "net/backoff_policy.hpp"

#include <catch2/catch.hpp>

using namespace tether::agent;
using namespace std::chrono_literals;

TEST_CASE("backoff ceiling starts at half a second and doubles up to the 30 s cap") {
    backoff_policy p({}, [] { return 1.0; });
    std::vector<long> got;
    for (int i = 0; i < 9; ++i)
        got.push_back(static_cast<long>(p.next_delay().count()));
    CHECK(got == std::vector<long>{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000});
}

TEST_CASE("full jitter draws anywhere from zero up to the current ceiling") {
    double r = 0.0;
    backoff_policy p({}, [&r] { return r; });
    r = 0.0;
    CHECK(p.next_delay() == 0ms); // ceiling 500
    r = 0.5;
    CHECK(p.next_delay() == 500ms); // half of 1000
    r = 0.25;
    CHECK(p.next_delay() == 500ms); // a quarter of 2000
    r = 7.0;                        // a broken source is clamped into [0, 1]
    CHECK(p.next_delay() == 4000ms);
    r = -1.0;
    CHECK(p.next_delay() == 0ms);
}

TEST_CASE("the default random source stays within the ceiling") {
    backoff_policy p;
    for (int i = 0; i < 200; ++i) {
        const auto ceiling = p.current_ceiling();
        const auto d = p.next_delay();
        CHECK(d >= 0ms);
        CHECK(d <= ceiling);
    }
}

TEST_CASE("a connection that lasted a minute resets the backoff, a shorter one does not") {
    backoff_policy p({}, [] { return 1.0; });
    for (int i = 0; i < 5; ++i)
        p.next_delay();
    CHECK(p.current_ceiling() == 16000ms);
    p.connection_ended(59s);
    CHECK(p.current_ceiling() == 16000ms);
    CHECK(p.next_delay() == 16000ms);
    p.connection_ended(60s);
    CHECK(p.current_ceiling() == 500ms);
    CHECK(p.next_delay() == 500ms);
}

TEST_CASE("backoff settings are honoured") {
    backoff_settings s;
    s.initial = 100ms;
    s.cap = 250ms;
    s.stable_after = 5s;
    backoff_policy p(s, [] { return 1.0; });
    CHECK(p.next_delay() == 100ms);
    CHECK(p.next_delay() == 200ms);
    CHECK(p.next_delay() == 250ms);
    p.connection_ended(5s);
    CHECK(p.next_delay() == 100ms);
}
