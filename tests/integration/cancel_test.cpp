// Cancellation by the submitting user: a queued request leaves the queue, a
// dispatched one gets cancel (reason user) sent to its agent; watchers see
// cancelled either way.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

TEST_CASE("a cancelled queued request leaves the queue and never reaches an agent", "[cancel]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string a = t.submit(alice, "cancel me");
    const std::string b = t.submit(alice, "keep me");
    auto before = t.request_status(alice, b).integer("/position");
    REQUIRE(before);
    sse_reader sse(alice, "/api/requests/" + a + "/events");

    auto r = alice.del("/api/requests/" + a);
    INFO(r.describe());
    CHECK(r.status / 100 == 2);
    auto cancelled = sse.wait_for("cancelled", 5s);
    INFO("events: " << sse.seen_names());
    CHECK(cancelled);
    CHECK(t.request_status(alice, a).str("/status") == "cancelled");
    auto after = t.request_status(alice, b).integer("/position");
    REQUIRE(after);
    CHECK(*after < *before);

    auto agent = t.echo_agent();
    auto got = agent->expect_request();
    REQUIRE(got);
    CHECK(got->id() == b);
}

TEST_CASE("cancelling a dispatched request sends cancel with reason user to its agent", "[cancel]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "stop halfway");
    sse_reader sse(alice, "/api/requests/" + id + "/events");
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_processing(id));
    REQUIRE(agent->send_delta(id, 1, "half"));
    REQUIRE(sse.wait_for("delta", 5s));

    auto r = alice.del("/api/requests/" + id);
    INFO(r.describe());
    CHECK(r.status / 100 == 2);
    auto cancel = agent->expect_cancel(5s);
    INFO(agent->last_error());
    REQUIRE(cancel);
    CHECK(cancel->request_id == id);
    CHECK(cancel->reason == "user");
    CHECK(sse.wait_for("cancelled", 5s));
    CHECK(t.request_status(alice, id).str("/status") == "cancelled");

    // What the agent still sends is dropped; the request stays cancelled.
    agent->send_completed(id, "too late");
    const std::string next = t.submit(alice, "after");
    auto req = agent->expect_request();
    REQUIRE(req);
    CHECK(req->id() == next);
    CHECK(t.request_status(alice, id).str("/status") == "cancelled");
}

TEST_CASE("an admin may cancel another user's request", "[cancel][users]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto admin = t.signed_in("admin");
    const std::string id = t.submit(alice, "admin will stop this");
    auto r = admin.del("/api/requests/" + id);
    INFO(r.describe());
    CHECK(r.status / 100 == 2);
    CHECK(t.wait_status(alice, id, "cancelled", 5s));
}

TEST_CASE("a finished request cannot be cancelled into another terminal state", "[cancel]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "quick");
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_completed(id, "done"));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));
    auto r = alice.del("/api/requests/" + id);
    INFO(r.describe());
    CHECK(r.status < 500);
    CHECK(t.request_status(alice, id).str("/status") == "completed");
}
