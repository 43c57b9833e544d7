#include "core/rate_limiter.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace std::chrono_literals;

namespace {
rate_limit_config config_of(std::initializer_list<std::string_view> flags) {
    rate_limit_config c;
    std::string error;
    for (auto f : flags) {
        INFO(f);
        REQUIRE(parse_rate_limit(f, c, error));
    }
    return c;
}
} // namespace

TEST_CASE("a bucket lets a burst through, then refuses until a token flows back in", "[rate_limiter]") {
    manual_clock clock;
    token_bucket b(bucket_rate{2, 3}, clock.now()); // 2/s, burst 3
    for (int i = 0; i < 3; ++i) {
        REQUIRE(b.wait_for_token(clock.now()) == 0ms);
        b.take();
    }
    CHECK(b.wait_for_token(clock.now()) == 500ms);
    clock.advance(499ms);
    CHECK(b.wait_for_token(clock.now()) == 1ms);
    clock.advance(1ms);
    CHECK(b.wait_for_token(clock.now()) == 0ms);
}

TEST_CASE("a bucket never holds more than its burst however long it was idle", "[rate_limiter]") {
    manual_clock clock;
    token_bucket b(bucket_rate{1, 2}, clock.now());
    clock.advance(1h);
    CHECK(b.full(clock.now()));
    b.take();
    b.take();
    CHECK(b.wait_for_token(clock.now()) == 1000ms);
}

TEST_CASE("a clock that steps back mints no tokens", "[rate_limiter]") {
    manual_clock clock;
    token_bucket b(bucket_rate{1, 1}, clock.now());
    b.take();
    clock.advance(-10s);
    CHECK(b.wait_for_token(clock.now()).count() > 0);
    clock.advance(10s);
    CHECK(b.wait_for_token(clock.now()) == 1000ms);
}

TEST_CASE("429 comes past the per-key limit and not before", "[rate_limiter]") {
    manual_clock clock;
    rate_limiter limiter(clock, config_of({"key=1/5"}));
    for (int i = 0; i < 5; ++i) {
        INFO("request " << i);
        CHECK(limiter.admit("echo", "alice", "key-a").allowed);
    }
    auto refused = limiter.admit("echo", "alice", "key-a");
    CHECK_FALSE(refused.allowed);
    CHECK(refused.limited_by == "api_key");
    CHECK(refused.retry_after == 1000ms);
    CHECK(retry_after_seconds(refused.retry_after) == 1);
    // Another key of the same user has its own bucket; so does a browser session.
    CHECK(limiter.admit("echo", "alice", "key-b").allowed);
    CHECK(limiter.admit("echo", "alice", std::nullopt).allowed);
    clock.advance(1s);
    CHECK(limiter.admit("echo", "alice", "key-a").allowed);
    CHECK_FALSE(limiter.admit("echo", "alice", "key-a").allowed);
    CHECK(limiter.refused() == 2);
}

TEST_CASE("the per-user limit covers all of a user's keys together", "[rate_limiter]") {
    manual_clock clock;
    rate_limiter limiter(clock, config_of({"key=10/10,user=0.5/2"}));
    CHECK(limiter.admit("echo", "bob", "k1").allowed);
    CHECK(limiter.admit("echo", "bob", "k2").allowed);
    auto refused = limiter.admit("echo", "bob", std::nullopt);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.limited_by == "user");
    CHECK(refused.retry_after == 2000ms);
    CHECK(retry_after_seconds(refused.retry_after) == 2);
    CHECK(limiter.admit("echo", "carol", "k3").allowed);
}

TEST_CASE("a refusal by one bucket takes no token from the other", "[rate_limiter]") {
    manual_clock clock;
    rate_limiter limiter(clock, config_of({"key=1/1,user=1/3"}));
    CHECK(limiter.admit("echo", "bob", "k1").allowed);
    // k1 is empty: refused, and bob's user bucket keeps its two tokens.
    CHECK_FALSE(limiter.admit("echo", "bob", "k1").allowed);
    CHECK_FALSE(limiter.admit("echo", "bob", "k1").allowed);
    CHECK(limiter.admit("echo", "bob", "k2").allowed);
    CHECK(limiter.admit("echo", "bob", "k3").allowed);
    CHECK_FALSE(limiter.admit("echo", "bob", "k4").allowed);
}

TEST_CASE("limits are set per space, with defaults for the others", "[rate_limiter]") {
    manual_clock clock;
    auto config = config_of({"user=100", "slow:user=1/1"});
    CHECK(config.for_space("slow").per_user == bucket_rate{1, 1});
    CHECK(config.for_space("fast").per_user == bucket_rate{100, 100});
    rate_limiter limiter(clock, config);
    CHECK(limiter.admit("slow", "alice", std::nullopt).allowed);
    CHECK_FALSE(limiter.admit("slow", "alice", std::nullopt).allowed);
    for (int i = 0; i < 50; ++i) REQUIRE(limiter.admit("fast", "alice", std::nullopt).allowed);
}

TEST_CASE("without configured limits every request is admitted and no bucket is kept", "[rate_limiter]") {
    manual_clock clock;
    rate_limiter limiter(clock, rate_limit_config{});
    for (int i = 0; i < 100; ++i) REQUIRE(limiter.admit("echo", "alice", "k").allowed);
    CHECK(limiter.bucket_count() == 0);
}

TEST_CASE("buckets that refilled are forgotten when the table is full", "[rate_limiter]") {
    manual_clock clock;
    rate_limiter limiter(clock, config_of({"user=1/1"}), 4);
    for (int i = 0; i < 4; ++i) REQUIRE(limiter.admit("echo", "user" + std::to_string(i), std::nullopt).allowed);
    CHECK(limiter.bucket_count() == 4);
    clock.advance(2s);
    CHECK(limiter.admit("echo", "newcomer", std::nullopt).allowed);
    CHECK(limiter.bucket_count() == 1);
    // An empty bucket is never forgotten: user0 is still limited right after.
    CHECK(limiter.admit("echo", "user0", std::nullopt).allowed);
    CHECK_FALSE(limiter.admit("echo", "user0", std::nullopt).allowed);
}

TEST_CASE("rate limit flags are parsed strictly", "[rate_limiter]") {
    rate_limit_config c;
    std::string error;
    CHECK(parse_rate_limit("key=5/10", c, error));
    CHECK(c.defaults.per_key == bucket_rate{5, 10});
    CHECK(parse_rate_limit("gpu:user=0.5", c, error));
    CHECK(c.spaces.at("gpu").per_user == bucket_rate{0.5, 1});
    CHECK(c.spaces.at("gpu").per_key == bucket_rate{5, 10}); // inherited from the defaults
    for (auto bad : {"", "key", "key=", "key=abc", "key=-1", "key=1/0", "key=1e3", "hour=5", ":key=1", "gpu:"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(parse_rate_limit(bad, c, error));
        CHECK_FALSE(error.empty());
    }
}
