// Space configurations and their agent tokens.
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

namespace {
space_config make_space(std::string name) {
    space_config c;
    c.name = std::move(name);
    c.description = "demo";
    c.features = feature_prompt | feature_audio;
    c.timeout_s = 60;
    c.queue_limit = 5;
    return c;
}
} // namespace

TEST_CASE("a new space stores its settings and only the hash of the token it returns", "[store][spaces]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    auto config = make_space("MySpace");
    config.token_hash = "ignored";
    const auto created = s->add_space(config);
    REQUIRE(created.ok());
    CHECK(created.secret.size() == 64);
    const auto got = s->get_space("MySpace");
    REQUIRE(got);
    CHECK(got->description == "demo");
    CHECK(got->features == (feature_prompt | feature_audio));
    CHECK(got->timeout_s == 60);
    CHECK(got->queue_limit == 5);
    CHECK(got->token_hash == hash_token(created.secret));
    CHECK(raw_database_bytes(dir.path()).find(created.secret) == std::string::npos);
}

TEST_CASE("a space name is unique and settings are validated", "[store][spaces]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_space(make_space("A")).ok());
    CHECK(s->add_space(make_space("A")).status == store_status::already_exists);
    CHECK(s->add_space(make_space("bad/name")).status == store_status::invalid);
    auto zero_timeout = make_space("B");
    zero_timeout.timeout_s = 0;
    CHECK(s->add_space(zero_timeout).status == store_status::invalid);
    auto unknown_feature = make_space("C");
    unknown_feature.features = 1U << 7;
    CHECK(s->add_space(unknown_feature).status == store_status::invalid);
    auto no_queue = make_space("D");
    no_queue.queue_limit = 0;
    CHECK(s->add_space(no_queue).status == store_status::invalid);
    CHECK(s->list_spaces().size() == 1);
}

TEST_CASE("updating a space changes its settings but keeps its token", "[store][spaces]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto created = s->add_space(make_space("A"));
    REQUIRE(created.ok());
    auto changed = make_space("A");
    changed.description = "changed";
    changed.features = feature_file;
    changed.timeout_s = 300;
    changed.queue_limit = 1000;
    REQUIRE(s->update_space(changed) == store_status::ok);
    const auto got = s->get_space("A");
    REQUIRE(got);
    CHECK(got->description == "changed");
    CHECK(got->features == feature_file);
    CHECK(got->timeout_s == 300);
    CHECK(got->queue_limit == 1000);
    CHECK(got->token_hash == hash_token(created.secret));
    CHECK(s->update_space(make_space("Missing")) == store_status::not_found);
}

TEST_CASE("rotating a space token replaces the stored hash", "[store][spaces]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto created = s->add_space(make_space("A"));
    const auto rotated = s->rotate_space_token("A");
    REQUIRE(rotated.ok());
    CHECK(rotated.secret != created.secret);
    CHECK(s->get_space("A")->token_hash == hash_token(rotated.secret));
    CHECK(s->rotate_space_token("Missing").status == store_status::not_found);
    REQUIRE(s->set_space_token_hash("A", hash_token("chosen")) == store_status::ok);
    CHECK(s->get_space("A")->token_hash == hash_token("chosen"));
}

TEST_CASE("spaces list by name and a deleted space is gone", "[store][spaces]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    for (const char* name : {"zeta", "Alpha", "mid"})
        REQUIRE(s->add_space(make_space(name)).ok());
    const auto all = s->list_spaces();
    REQUIRE(all.size() == 3);
    CHECK(all[0].name == "Alpha");
    CHECK(all[1].name == "mid");
    CHECK(all[2].name == "zeta");
    CHECK(s->delete_space("mid") == store_status::ok);
    CHECK_FALSE(s->get_space("mid"));
    CHECK(s->delete_space("mid") == store_status::not_found);
    CHECK(s->list_spaces().size() == 2);
}
