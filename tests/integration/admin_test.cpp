// The admin API through the real broker: only admins get in; spaces made and
// tokens rotated over HTTP take effect for agents at once.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

TEST_CASE("admin endpoints refuse anonymous callers with 401 and plain users with 403", "[admin]") {
    itest_broker t;
    auto anon = t.broker.client();
    auto alice = t.signed_in("alice");
    for (const std::string path : {"/api/admin/spaces", "/api/admin/users", "/api/admin/agents"}) {
        INFO(path);
        CHECK(anon.get(path).status == 401);
        CHECK(alice.get(path).status == 403);
    }
    auto create = alice.post_json("/api/admin/spaces", R"({"name":"sneaky"})");
    CHECK(create.status == 403);
    CHECK(t.broker.client().post_json("/api/admin/users", R"({"name":"x","password":"y"})").status == 401);
}

TEST_CASE("a space created through the admin API serves an agent with the token it returned", "[admin]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto r = admin.post_json("/api/admin/spaces", R"({"name":"fresh","features":["prompt"],"description":"made live"})");
    INFO(r.describe());
    REQUIRE(r.status == 201);
    const std::string token = r.json().str("/token");
    REQUIRE(!token.empty());

    auto agent = t.broker.agent();
    REQUIRE(agent->connect());
    REQUIRE(agent->register_space("fresh", token));
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "to the new space", "fresh");
    auto req = agent->expect_request();
    INFO(agent->last_error());
    REQUIRE(req);
    CHECK(req->id() == id);
    CHECK(req->frame.space == "fresh");

    auto dup = admin.post_json("/api/admin/spaces", R"({"name":"fresh"})");
    CHECK(dup.status == 409);
    auto bad = admin.post_json("/api/admin/spaces", R"({"name":"no spaces allowed"})");
    CHECK(bad.status == 400);
}

TEST_CASE("a rotated space token refuses the old one and accepts the new one", "[admin]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto r = admin.post("/api/admin/spaces/echo/token", "", "application/json");
    INFO(r.describe());
    REQUIRE(r.status / 100 == 2);
    const std::string fresh = r.json().str("/token");
    REQUIRE(!fresh.empty());
    CHECK(fresh != t.echo_token);

    auto old_agent = t.broker.agent();
    REQUIRE(old_agent->connect());
    auto reg = old_agent->register_spaces({agent_client::space("echo", t.echo_token)});
    REQUIRE(reg);
    REQUIRE(reg->spaces.size() == 1);
    CHECK_FALSE(reg->spaces[0].ok);

    auto new_agent = t.broker.agent();
    REQUIRE(new_agent->connect());
    CHECK(new_agent->register_space("echo", fresh));
}

TEST_CASE("the admin agent list shows a connected agent and its spaces", "[admin]") {
    itest_broker t;
    auto admin = t.signed_in("admin");
    auto agent = t.echo_agent();
    auto r = admin.get("/api/admin/agents");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.body.find("itest-agent") != std::string::npos);
    CHECK(r.body.find("echo") != std::string::npos);
}
