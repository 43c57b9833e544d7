// credential_cache: who a key belongs to, remembered briefly and never wrongly.
#include "store/credential_cache.hpp"
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

namespace {
user_record user(const std::string& name) {
    user_record u;
    u.name = name;
    return u;
}
} // namespace

TEST_CASE("a cached credential is returned until its time is up", "[store][credentials]") {
    credential_cache cache(std::chrono::seconds(1), 100);
    manual_clock clock;
    cache.put("kabc", user("alice"), clock.now(), cache.epoch());
    REQUIRE(cache.find("kabc", clock.now()));
    CHECK(cache.find("kabc", clock.now())->name == "alice");
    CHECK_FALSE(cache.find("kother", clock.now()));
    clock.advance(std::chrono::milliseconds(999));
    CHECK(cache.find("kabc", clock.now()));
    clock.advance(std::chrono::milliseconds(1));
    CHECK_FALSE(cache.find("kabc", clock.now()));
}

TEST_CASE("an answer read before a change is not cached after it", "[store][credentials]") {
    credential_cache cache(std::chrono::seconds(1), 100);
    manual_clock clock;
    const auto before = cache.epoch(); // a lookup starts reading the store...
    cache.invalidate();                // ...a revocation commits meanwhile...
    cache.put("kabc", user("alice"), clock.now(), before); // ...the old answer must not stick
    CHECK_FALSE(cache.find("kabc", clock.now()));
    CHECK(cache.size() == 0);

    cache.put("kabc", user("alice"), clock.now(), cache.epoch());
    REQUIRE(cache.find("kabc", clock.now()));
    cache.invalidate();
    CHECK_FALSE(cache.find("kabc", clock.now()));
}

TEST_CASE("the credential cache never holds more than its capacity", "[store][credentials]") {
    credential_cache cache(std::chrono::seconds(1), 3);
    manual_clock clock;
    for (int i = 0; i < 10; ++i) {
        cache.put("k" + std::to_string(i), user("u"), clock.now(), cache.epoch());
        CHECK(cache.size() <= 3);
    }
    CHECK(cache.find("k9", clock.now())); // the newest is always there
}

TEST_CASE("a key revoked by another process stops working within a second", "[store][credentials]") {
    // The admin CLI (`tether-broker apikey revoke`) opens the same data
    // directory while the broker runs: the broker learns of it only when its
    // cached entry expires.
    temp_dir dir;
    manual_clock clock;
    auto broker = open_test_store(dir.path(), clock);
    REQUIRE(broker->add_user("alice", "pw", false) == store_status::ok);
    const auto key = broker->create_api_key("alice");
    REQUIRE(key.ok());
    REQUIRE(broker->find_api_key_user(key.secret)); // now cached

    auto cli = open_test_store(dir.path(), clock);
    const auto keys = cli->list_api_keys("alice");
    REQUIRE(keys.size() == 1);
    REQUIRE(cli->revoke_api_key(keys[0].id) == store_status::ok);
    CHECK_FALSE(cli->find_api_key_user(key.secret)); // the CLI's own view at once

    clock.advance(std::chrono::seconds(1));
    CHECK_FALSE(broker->find_api_key_user(key.secret));
}
