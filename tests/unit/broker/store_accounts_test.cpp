// Users, sessions and API keys: behaviour and that secrets are kept only as hashes.
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;

TEST_CASE("a user signs in with the right password and not with a wrong one", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "correct horse", false) == store_status::ok);
    const auto ok = s->verify_login("alice", "correct horse");
    REQUIRE(ok);
    CHECK(ok->name == "alice");
    CHECK_FALSE(ok->admin);
    CHECK(ok->created == clock.now());
    CHECK_FALSE(s->verify_login("alice", "wrong"));
    CHECK_FALSE(s->verify_login("alice", ""));
    CHECK_FALSE(s->verify_login("nobody", "correct horse"));
    CHECK(s->get_user("alice")->password_hash.find("correct horse") == std::string::npos);
}

TEST_CASE("user names are validated and unique", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    CHECK(s->add_user("bob.smith-2_x", "pw", true) == store_status::ok);
    CHECK(s->add_user("bob.smith-2_x", "other", false) == store_status::already_exists);
    CHECK(s->add_user("", "pw", false) == store_status::invalid);
    CHECK(s->add_user("has space", "pw", false) == store_status::invalid);
    CHECK(s->add_user(std::string(65, 'a'), "pw", false) == store_status::invalid);
    CHECK(s->add_user("empty-password", "", false) == store_status::invalid);
    CHECK(s->add_user(std::string(64, 'a'), "pw", false) == store_status::ok);
    const auto users = s->list_users();
    REQUIRE(users.size() == 2);
    CHECK(users[0].name == std::string(64, 'a'));
    CHECK(users[1].admin);
}

TEST_CASE("a changed password works, the old one does not, and sessions end", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "old", false) == store_status::ok);
    const auto session = s->create_session("alice");
    REQUIRE(session.ok());
    REQUIRE(s->set_password("alice", "new") == store_status::ok);
    CHECK(s->verify_login("alice", "new"));
    CHECK_FALSE(s->verify_login("alice", "old"));
    CHECK_FALSE(s->find_session_user(session.secret));
    CHECK(s->set_password("ghost", "x") == store_status::not_found);
    CHECK(s->set_admin("alice", true) == store_status::ok);
    CHECK(s->get_user("alice")->admin);
}

TEST_CASE("a session finds its user until it expires", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "pw", false) == store_status::ok);
    const auto session = s->create_session("alice");
    REQUIRE(session.ok());
    CHECK(session.secret.size() == 64);
    const auto user = s->find_session_user(session.secret);
    REQUIRE(user);
    CHECK(user->name == "alice");
    CHECK_FALSE(s->find_session_user("not-a-token"));
    CHECK_FALSE(s->find_session_user(""));

    clock.advance(std::chrono::hours(24 * 7) - std::chrono::seconds(1));
    CHECK(s->find_session_user(session.secret));
    clock.advance(std::chrono::seconds(1));
    CHECK_FALSE(s->find_session_user(session.secret));
    CHECK(s->delete_expired_sessions() == 1);
    CHECK(s->delete_expired_sessions() == 0);
}

TEST_CASE("a deleted session no longer signs in, and unknown users get none", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "pw", false) == store_status::ok);
    const auto a = s->create_session("alice");
    const auto b = s->create_session("alice");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a.secret != b.secret);
    CHECK(s->delete_session(a.secret) == store_status::ok);
    CHECK_FALSE(s->find_session_user(a.secret));
    CHECK(s->find_session_user(b.secret));
    CHECK(s->delete_session(a.secret) == store_status::not_found);
    CHECK(s->create_session("ghost").status == store_status::not_found);
}

TEST_CASE("an API key finds its user until it is revoked", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "pw", false) == store_status::ok);
    REQUIRE(s->add_user("bob", "pw", false) == store_status::ok);
    const auto key = s->create_api_key("alice");
    REQUIRE(key.ok());
    CHECK(key.secret.rfind("tk_", 0) == 0);
    CHECK(key.secret.size() == 3 + 48);
    const auto other = s->create_api_key("bob");
    REQUIRE(other.ok());

    const auto user = s->find_api_key_user(key.secret);
    REQUIRE(user);
    CHECK(user->name == "alice");
    CHECK_FALSE(s->find_api_key_user("tk_0000"));
    CHECK_FALSE(s->find_api_key_user(key.secret.substr(3))); // without the scheme it is not a key

    const auto listed = s->list_api_keys("alice");
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].username == "alice");
    CHECK(listed[0].prefix == key.secret.substr(0, 11));
    CHECK(s->list_all_api_keys().size() == 2);

    const auto bobs = s->list_api_keys("bob");
    REQUIRE(bobs.size() == 1);
    CHECK(s->revoke_user_api_key("alice", bobs[0].id) == store_status::not_found); // not hers
    CHECK(s->find_api_key_user(other.secret));
    CHECK(s->revoke_api_key(listed[0].id) == store_status::ok);
    CHECK_FALSE(s->find_api_key_user(key.secret));
    CHECK(s->find_api_key_user(other.secret));
    CHECK(s->revoke_api_key(listed[0].id) == store_status::not_found);
    CHECK(s->create_api_key("ghost").status == store_status::not_found);
}

TEST_CASE("deleting a user ends their sessions and keys", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    REQUIRE(s->add_user("alice", "pw", false) == store_status::ok);
    const auto session = s->create_session("alice");
    const auto key = s->create_api_key("alice");
    REQUIRE(s->delete_user("alice") == store_status::ok);
    CHECK_FALSE(s->get_user("alice"));
    CHECK_FALSE(s->find_session_user(session.secret));
    CHECK_FALSE(s->find_api_key_user(key.secret));
    CHECK(s->list_api_keys("alice").empty());
    CHECK(s->delete_user("alice") == store_status::not_found);
    // The name is free again, and the old secrets do not come back with it.
    REQUIRE(s->add_user("alice", "pw2", false) == store_status::ok);
    CHECK_FALSE(s->find_session_user(session.secret));
}

TEST_CASE("session tokens, API keys and passwords never reach the database in clear", "[store][accounts]") {
    temp_dir dir;
    manual_clock clock;
    const std::string password = "a-very-distinctive-password";
    std::string session;
    std::string key;
    {
        auto s = open_test_store(dir.path(), clock);
        REQUIRE(s->add_user("alice", password, false) == store_status::ok);
        session = s->create_session("alice").secret;
        key = s->create_api_key("alice").secret;
        REQUIRE(session.size() == 64);
        REQUIRE(key.size() == 51);
        const auto raw = raw_database_bytes(dir.path());
        CHECK(raw.find(session) == std::string::npos);
        CHECK(raw.find(key) == std::string::npos);
        CHECK(raw.find(password) == std::string::npos);
        CHECK(raw.find(hash_token(session)) != std::string::npos); // what is kept instead
    }
    const auto raw = raw_database_bytes(dir.path()); // after the WAL is checkpointed on close
    CHECK(raw.find(session) == std::string::npos);
    CHECK(raw.find(key) == std::string::npos);
    CHECK(raw.find(password) == std::string::npos);
}
