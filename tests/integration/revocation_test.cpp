// Revocation that bites, against the real broker: a rotated token closes the
// agent connection that registered with the old one (4003) and its request is
// requeued; a removed space closes its agent's registration; a deleted or
// disabled user loses sessions, API keys and open event streams at once; a
// revoked key ends the streams it opened. The same from the admin CLI run
// against the running broker, within a second or two.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

namespace {

std::string api_key_for(itest_broker& t, const std::string& user) {
    auto admin = t.signed_in("admin");
    auto r = admin.post_json("/api/admin/apikeys", "{\"username\":\"" + user + "\"}");
    REQUIRE(r.status == 201);
    return r.json().str("/key");
}

http_client bearer(itest_broker& t, const std::string& key) {
    auto c = t.broker.client();
    c.set_bearer(key);
    return c;
}

// An open event stream of `id` that has delivered its first event.
std::unique_ptr<sse_reader> watching(const http_client& c, const std::string& id) {
    auto w = std::make_unique<sse_reader>(c, "/api/requests/" + id + "/events");
    REQUIRE(w->wait_status(5s) == 200);
    REQUIRE(w->next(5s));
    return w;
}

// The stream ended with a `revoked` event.
void check_revoked(sse_reader& w) {
    INFO("events: " << w.seen_names() << "\n" << w.raw_body());
    auto e = w.wait_for("revoked", 3s);
    REQUIRE(e);
    CHECK(e->json().str("/error/code") == "unauthorized");
    CHECK(w.wait_ended(3s));
}

} // namespace

TEST_CASE("rotating a space's token closes the agent that registered with the old one and requeues its request",
          "[revocation]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "in flight at the rotation");
    REQUIRE(agent->expect_request());
    REQUIRE(t.wait_status(alice, id, "dispatched"));

    auto r = admin.post_json("/api/admin/spaces/echo/token", "{}");
    REQUIRE(r.status == 200);
    const std::string new_token = r.json().str("/token");
    REQUIRE(new_token.size() >= 32);
    const auto code = agent->wait_closed(3s);
    REQUIRE(code);
    CHECK(*code == tether::protocol::close_revoked);
    CHECK(t.wait_status(alice, id, "queued"));

    auto stale = t.broker.agent();
    REQUIRE(stale->connect());
    auto refused = stale->register_spaces({agent_client::space("echo", t.echo_token)});
    REQUIRE(refused);
    CHECK(refused->spaces.at(0).error->code == "bad_token");

    auto fresh = t.broker.agent();
    REQUIRE(fresh->connect());
    REQUIRE(fresh->register_space("echo", new_token));
    auto again = fresh->expect_request();
    INFO(fresh->last_error());
    REQUIRE(again);
    CHECK(again->id() == id);
}

TEST_CASE("rotating a token or removing a space from the admin CLI closes the running broker's agent in seconds",
          "[revocation]") {
    broker_setup s;
    s.more_spaces = {{"other", {}}};
    itest_broker t(s);
    auto alice = t.signed_in("alice");

    SECTION("space token") {
        auto agent = t.echo_agent();
        auto run = t.broker.admin({"space", "token", "echo"});
        REQUIRE(run.status.code == 0);
        const auto code = agent->wait_closed(2500ms);
        INFO(t.broker.stderr_tail());
        REQUIRE(code);
        CHECK(*code == tether::protocol::close_revoked);
    }
    SECTION("space delete") {
        auto agent = t.echo_agent();
        const std::string id = t.submit(alice, "its space goes away");
        REQUIRE(agent->expect_request());
        auto run = t.broker.admin({"space", "delete", "echo"});
        REQUIRE(run.status.code == 0);
        const auto code = agent->wait_closed(2500ms);
        REQUIRE(code);
        CHECK(*code == tether::protocol::close_revoked);
        CHECK(t.wait_status(alice, id, "failed"));
        CHECK(t.request_status(alice, id).str("/error/code") == "space_removed");
    }
    SECTION("a connection that serves two spaces keeps the other one") {
        auto agent = t.broker.agent();
        REQUIRE(agent->connect());
        auto reg = agent->register_spaces(
            {agent_client::space("echo", t.echo_token), agent_client::space("other", t.tokens["other"])});
        REQUIRE(reg);
        REQUIRE(t.broker.admin({"space", "token", "echo"}).status.code == 0);
        auto notice = agent->expect_error(2500ms);
        INFO(agent->last_error());
        REQUIRE(notice);
        CHECK(notice->code == "token_rotated");
        CHECK_FALSE(agent->is_closed());
        CHECK(t.space_connected(alice, "echo") == std::optional<bool>(false));
        CHECK(t.space_connected(alice, "other") == std::optional<bool>(true));
        const std::string id = t.submit(alice, "for the other space", "other");
        auto req = agent->expect_request();
        REQUIRE(req);
        CHECK(req->id() == id);
    }
}

TEST_CASE("deleting a user ends its sessions, API keys and open event streams at once, and its requests",
          "[revocation]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto alice = t.signed_in("alice");
    const std::string key = api_key_for(t, "alice");
    auto program = bearer(t, key);
    const std::string id = t.submit(alice, "queued, no agent");
    auto by_cookie = watching(alice, id);
    auto by_key = watching(program, id);
    // Bob's stream is not touched.
    auto bob = t.signed_in("bob");
    const std::string bobs = t.submit(bob, "bob's");
    auto bob_watch = watching(bob, bobs);

    REQUIRE(admin.del("/api/admin/users/alice").status == 200);
    check_revoked(*by_cookie);
    check_revoked(*by_key);
    CHECK(alice.get("/api/me").status == 401);
    CHECK(program.get("/api/me").status == 401);
    CHECK(program.get("/v1/models").status == 401);
    // Its request ends (an admin can still read it).
    CHECK(eventually([&] { return t.request_status(admin, id).str("/status") == "cancelled"; }, 3s));
    CHECK_FALSE(bob_watch->wait_ended(300ms));
    CHECK(t.request_status(bob, bobs).str("/status") == "queued");
}

TEST_CASE("disabling a user from the admin CLI ends its streams in seconds and enabling brings its keys back",
          "[revocation]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string key = api_key_for(t, "alice");
    auto program = bearer(t, key);
    const std::string id = t.submit(alice, "queued");
    auto w = watching(alice, id);

    auto off = t.broker.admin({"user", "disable", "alice"});
    INFO(off.out << off.err);
    REQUIRE(off.status.code == 0);
    check_revoked(*w);
    CHECK(program.get("/api/me").status == 401);
    CHECK(alice.get("/api/me").status == 401);
    auto login = t.broker.client().login("alice", alice_password);
    CHECK(login.status == 403);
    CHECK(login.json().str("/error/code") == "account_disabled");

    REQUIRE(t.broker.admin({"user", "enable", "alice"}).status.code == 0);
    CHECK(eventually([&] { return program.get("/api/me").status == 200; }, 3s));
    CHECK(t.broker.client().login("alice", alice_password).status == 200);
}

TEST_CASE("revoking an API key ends the streams it opened and no others", "[revocation]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto alice = t.signed_in("alice");
    const std::string key = api_key_for(t, "alice");
    auto program = bearer(t, key);
    const std::string id = t.submit(alice, "queued");
    auto by_key = watching(program, id);
    auto by_cookie = watching(alice, id);

    auto keys = admin.get("/api/admin/apikeys?user=alice").json();
    const auto key_id = keys.integer("/api_keys/0/id");
    REQUIRE(key_id);
    REQUIRE(admin.del("/api/admin/apikeys/" + std::to_string(*key_id)).status == 200);
    check_revoked(*by_key);
    CHECK_FALSE(by_cookie->wait_ended(300ms));
    CHECK(alice.get("/api/me").status == 200);
}
