// The admin subcommands' logic: output, exit codes and messages.
#include "app/admin_commands.hpp"
#include "store_test_support.hpp"

#include <catch2/catch.hpp>

#include <sstream>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::store_test;
namespace admin = tether::broker::admin;

namespace {
std::size_t occurrences(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1))
        ++n;
    return n;
}
std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}
} // namespace

TEST_CASE("space add prints the agent token once and the stored hash matches it", "[store][admin]") {
    temp_dir dir;
    std::ostringstream out, err;
    admin::space_add_options o;
    o.name = "MySpace";
    o.features = "prompt,audio";
    o.timeout = "2m";
    o.queue_limit = "50";
    o.description = "a demo";
    REQUIRE(admin::space_add(o, dir.path(), out, err) == admin::exit_ok);
    const std::string token = trim(out.str());
    CHECK(token.size() == 64);
    CHECK(occurrences(out.str() + err.str(), token) == 1);

    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto space = s->get_space("MySpace");
    REQUIRE(space);
    CHECK(space->token_hash == hash_token(token));
    CHECK(space->timeout_s == 120);
    CHECK(space->queue_limit == 50);
    CHECK(space->features == (feature_prompt | feature_audio));
    CHECK(space->description == "a demo");
}

TEST_CASE("adding a space that exists fails with exit 1", "[store][admin]") {
    temp_dir dir;
    std::ostringstream out, err;
    admin::space_add_options o;
    o.name = "MySpace";
    REQUIRE(admin::space_add(o, dir.path(), out, err) == admin::exit_ok);
    std::ostringstream out2, err2;
    CHECK(admin::space_add(o, dir.path(), out2, err2) == admin::exit_failure);
    CHECK(out2.str().empty());
    CHECK_THAT(err2.str(), Catch::Contains("already exists"));
}

TEST_CASE("bad names and values exit 2 with a message saying what is wrong", "[store][admin]") {
    temp_dir dir;
    auto attempt = [&](admin::space_add_options o, const std::string& expected) {
        std::ostringstream out, err;
        CHECK(admin::space_add(o, dir.path(), out, err) == admin::exit_usage);
        CHECK(out.str().empty());
        CHECK_THAT(err.str(), Catch::Contains(expected));
    };
    admin::space_add_options base;
    base.name = "ok";
    auto bad_name = base;
    bad_name.name = "no spaces allowed";
    attempt(bad_name, "bad space name");
    auto bad_feature = base;
    bad_feature.features = "prompt,telepathy";
    attempt(bad_feature, "--features");
    auto bad_timeout = base;
    bad_timeout.timeout = "0";
    attempt(bad_timeout, "--timeout");
    auto fractional = base;
    fractional.timeout = "1.5";
    attempt(fractional, "--timeout");
    auto bad_limit = base;
    bad_limit.queue_limit = "10x";
    attempt(bad_limit, "--queue-limit");

    std::ostringstream out, err;
    CHECK(admin::user_add({"bad name!", false, "pw"}, dir.path(), out, err) == admin::exit_usage);
    CHECK(admin::apikey_revoke("abc", dir.path(), out, err) == admin::exit_usage);
    CHECK(admin::space_token("../etc", dir.path(), out, err) == admin::exit_usage);
}

TEST_CASE("space token rotates: the new token is printed once and the old one stops matching", "[store][admin]") {
    temp_dir dir;
    std::ostringstream out1, err1, out2, err2, out3, err3;
    admin::space_add_options o;
    o.name = "S";
    REQUIRE(admin::space_add(o, dir.path(), out1, err1) == admin::exit_ok);
    REQUIRE(admin::space_token("S", dir.path(), out2, err2) == admin::exit_ok);
    const auto old_token = trim(out1.str());
    const auto new_token = trim(out2.str());
    CHECK(new_token.size() == 64);
    CHECK(new_token != old_token);
    CHECK(occurrences(out2.str() + err2.str(), new_token) == 1);
    manual_clock clock;
    {
        auto s = open_test_store(dir.path(), clock);
        CHECK(s->get_space("S")->token_hash == hash_token(new_token));
    }
    CHECK(admin::space_token("Missing", dir.path(), out3, err3) == admin::exit_failure);
    CHECK_THAT(err3.str(), Catch::Contains("not found"));
}

TEST_CASE("user add with a given password lets that user sign in and a duplicate exits 1", "[store][admin]") {
    temp_dir dir;
    std::ostringstream out, err;
    REQUIRE(admin::user_add({"alice", true, std::string("pw-from-env")}, dir.path(), out, err) == admin::exit_ok);
    CHECK_THAT(out.str(), Catch::Contains("alice"));
    CHECK(out.str().find("pw-from-env") == std::string::npos);
    std::ostringstream out2, err2;
    CHECK(admin::user_add({"alice", false, std::string("x")}, dir.path(), out2, err2) == admin::exit_failure);
    CHECK_THAT(err2.str(), Catch::Contains("already exists"));
    std::ostringstream out3, err3;
    CHECK(admin::user_add({"bob", false, std::string("")}, dir.path(), out3, err3) == admin::exit_usage);

    manual_clock clock;
    auto s = open_test_store(dir.path(), clock);
    const auto alice = s->verify_login("alice", "pw-from-env");
    REQUIRE(alice);
    CHECK(alice->admin);
}

TEST_CASE("apikey add prints a key once that identifies the user, and list and revoke work", "[store][admin]") {
    temp_dir dir;
    std::ostringstream o, e;
    REQUIRE(admin::user_add({"alice", false, std::string("pw")}, dir.path(), o, e) == admin::exit_ok);
    std::ostringstream out, err;
    REQUIRE(admin::apikey_add("alice", dir.path(), out, err) == admin::exit_ok);
    const auto key = trim(out.str());
    CHECK(key.rfind("tk_", 0) == 0);
    CHECK(occurrences(out.str() + err.str(), key) == 1);
    manual_clock clock;
    {
        auto s = open_test_store(dir.path(), clock);
        REQUIRE(s->find_api_key_user(key));
    }
    std::ostringstream list_out, list_err;
    REQUIRE(admin::apikey_list(std::nullopt, dir.path(), list_out, list_err) == admin::exit_ok);
    CHECK_THAT(list_out.str(), Catch::Contains(key.substr(0, 11)));
    CHECK(list_out.str().find(key) == std::string::npos); // only the prefix is listed
    std::ostringstream r_out, r_err;
    REQUIRE(admin::apikey_revoke("1", dir.path(), r_out, r_err) == admin::exit_ok);
    {
        auto s = open_test_store(dir.path(), clock);
        CHECK_FALSE(s->find_api_key_user(key));
    }
    std::ostringstream n_out, n_err;
    CHECK(admin::apikey_add("ghost", dir.path(), n_out, n_err) == admin::exit_failure);
    CHECK(admin::apikey_revoke("1", dir.path(), n_out, n_err) == admin::exit_failure);
}

TEST_CASE("lists show what was added and deletes remove it", "[store][admin]") {
    temp_dir dir;
    std::ostringstream o, e;
    admin::space_add_options sp;
    sp.name = "Listed";
    sp.description = "shown in the list";
    REQUIRE(admin::space_add(sp, dir.path(), o, e) == admin::exit_ok);
    REQUIRE(admin::user_add({"carol", false, std::string("pw")}, dir.path(), o, e) == admin::exit_ok);

    std::ostringstream spaces, users, err;
    REQUIRE(admin::space_list(dir.path(), spaces, err) == admin::exit_ok);
    CHECK_THAT(spaces.str(), Catch::Contains("Listed") && Catch::Contains("shown in the list"));
    REQUIRE(admin::user_list(dir.path(), users, err) == admin::exit_ok);
    CHECK_THAT(users.str(), Catch::Contains("carol"));

    admin::space_edit_options edit;
    edit.name = "Listed";
    edit.queue_limit = "7";
    REQUIRE(admin::space_edit(edit, dir.path(), o, e) == admin::exit_ok);
    REQUIRE(admin::space_delete("Listed", dir.path(), o, e) == admin::exit_ok);
    REQUIRE(admin::user_delete("carol", dir.path(), o, e) == admin::exit_ok);
    std::ostringstream after_spaces, after_users, err2;
    CHECK(admin::space_delete("Listed", dir.path(), o, err2) == admin::exit_failure);
    REQUIRE(admin::space_list(dir.path(), after_spaces, err2) == admin::exit_ok);
    REQUIRE(admin::user_list(dir.path(), after_users, err2) == admin::exit_ok);
    CHECK(after_spaces.str().find("Listed") == std::string::npos);
    CHECK(after_users.str().find("carol") == std::string::npos);
}

TEST_CASE("an unusable data directory fails with exit 1 and says why", "[store][admin]") {
    temp_dir dir;
    std::ofstream(dir.path() / "file") << "x";
    std::ostringstream out, err;
    CHECK(admin::space_list(dir.path() / "file", out, err) == admin::exit_failure);
    CHECK_THAT(err.str(), Catch::Contains("error:"));
}
