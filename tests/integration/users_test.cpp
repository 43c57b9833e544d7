// Who sees what: a user only their own requests, an admin all of them; the
// space list; and the seed system's paths kept for old clients.
#include "integration/itest_broker.hpp"

#include "testkit/multipart_body.hpp"

using namespace tether::itest;

TEST_CASE("a user's history holds only their own requests and an admin sees everyone's", "[users]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto bob = t.signed_in("bob");
    auto admin = t.signed_in("admin");
    const std::string a = t.submit(alice, "alice's secret prompt");
    const std::string b = t.submit(bob, "bob's prompt");

    auto alice_list = alice.get("/api/requests");
    REQUIRE(alice_list.status == 200);
    CHECK(alice_list.body.find(a) != std::string::npos);
    CHECK(alice_list.body.find(b) == std::string::npos);
    auto bob_list = bob.get("/api/requests");
    REQUIRE(bob_list.status == 200);
    CHECK(bob_list.body.find(b) != std::string::npos);
    CHECK(bob_list.body.find(a) == std::string::npos);
    CHECK(bob.get("/api/requests/" + a).status == 404);

    auto as_admin = admin.get("/api/requests/" + a);
    INFO(as_admin.describe());
    CHECK(as_admin.status == 200);
    CHECK(as_admin.json().str("/status") == "queued");
    auto events = sse_reader(admin, "/api/requests/" + b + "/events").wait_status(5s);
    CHECK(events == 200);
}

TEST_CASE("the space list shows whether an agent is connected and the queue length", "[users]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    CHECK(t.space_connected(alice) == std::optional<bool>(false));
    t.submit(alice, "waiting");
    auto list = alice.get("/api/spaces").json();
    INFO(list.text());
    CHECK(list.text().find("\"queue_length\":1") != std::string::npos);
    CHECK(list.text().find("\"timeout_s\":120") != std::string::npos);
    auto agent = t.echo_agent();
    CHECK(eventually([&] { return t.space_connected(alice) == std::optional<bool>(true); }, 5s));
}

TEST_CASE("the seed paths submit a form prompt and report its status", "[users][seed]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    multipart_body form;
    form.field("prompt", "from the old page");
    const std::string body = form.finish();
    auto r = alice.post("/websockets/submit/echo", body, form.content_type());
    INFO(r.describe());
    REQUIRE(r.status / 100 == 2);
    const std::string id = r.json().str("/request_id");
    REQUIRE(tether::uuid::parse(id).has_value());

    auto req = agent->expect_request();
    REQUIRE(req);
    CHECK(req->id() == id);
    CHECK(req->frame.prompt == std::optional<std::string>("from the old page"));
    REQUIRE(agent->send_completed(id, "old answer"));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));

    auto s = alice.get("/websockets/status?request_id=" + id);
    INFO(s.describe());
    CHECK(s.status == 200);
    CHECK(s.body.find("completed") != std::string::npos);
    CHECK(s.body.find("old answer") != std::string::npos);

    // The seed path accepts a urlencoded form too.
    auto u = alice.post("/websockets/submit/echo", "prompt=url+encoded%21", "application/x-www-form-urlencoded");
    INFO(u.describe());
    CHECK(u.status / 100 == 2);
}
