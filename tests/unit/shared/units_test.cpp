#include "tether/shared/units.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace std::chrono_literals;

TEST_CASE("sizes accept plain bytes and binary and decimal units", "[units]") {
    CHECK(parse_size("1048576") == 1048576U);
    CHECK(parse_size("0") == 0U);
    CHECK(parse_size("64KiB") == 64U * 1024);
    CHECK(parse_size("1MiB") == 1U << 20);
    CHECK(parse_size("2GiB") == 2ULL << 30);
    CHECK(parse_size("5KB") == 5000U);
    CHECK(parse_size("3MB") == 3'000'000U);
    CHECK(parse_size("10B") == 10U);
}

TEST_CASE("sizes reject garbage and overflow", "[units]") {
    for (const char* bad :
         {"", "MiB", "-1", "1.5MiB", "1 MiB", "12x", "0x10", "18446744073709551616", "17179869184GiB", " 1"}) {
        INFO(bad);
        CHECK_FALSE(parse_size(bad));
    }
}

TEST_CASE("durations accept seconds by default and ms, s, m, h", "[units]") {
    CHECK(parse_duration("15") == 15000ms);
    CHECK(parse_duration("1.5") == 1500ms);
    CHECK(parse_duration("500ms") == 500ms);
    CHECK(parse_duration("2s") == 2000ms);
    CHECK(parse_duration("3m") == 180000ms);
    CHECK(parse_duration("1h") == 3600000ms);
    CHECK(parse_duration("30d") == 2592000000ms);
    CHECK(parse_duration("1w") == 604800000ms);
    CHECK(parse_duration("0.5d") == 43200000ms);
    CHECK(parse_duration("0") == 0ms);
}

TEST_CASE("durations reject garbage, negatives and non-finite values", "[units]") {
    for (const char* bad : {"", "s", "-1", "-1s", "5 s", "5x", "inf", "nan", "1e400", "1e20h"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration(bad));
    }
}

TEST_CASE("host:port parses names, IPv4 and bracketed IPv6", "[units]") {
    const auto a = parse_host_port("127.0.0.1:8080");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 8080);
    const auto b = parse_host_port("[::1]:80");
    REQUIRE(b);
    CHECK(b->host == "::1");
    CHECK(b->port == 80);
    const auto c = parse_host_port("localhost:0");
    REQUIRE(c);
    CHECK(c->host == "localhost");
    CHECK(c->port == 0);
    CHECK(parse_host_port("h:65535")->port == 65535);
}

TEST_CASE("host:port rejects bad input", "[units]") {
    for (const char* bad : {"", "localhost", ":80", "host:", "host:65536", "host:-1", "host:8o", "host:80 ", "[::1]",
                            "[::1]80", "[]:80", "::1:80", "[::1:80", "host:+80"}) {
        INFO(bad);
        CHECK_FALSE(parse_host_port(bad));
    }
}
