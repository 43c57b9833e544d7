// Deadlines against the real broker: created + space timeout covers waiting
// and running; at the deadline the request becomes timeout, its agent gets
// cancel, and a late result changes nothing.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

namespace {
broker_setup two_second_space() {
    broker_setup s;
    s.echo.timeout_s = 2;
    s.with_bob = false;
    return s;
}
} // namespace

TEST_CASE("a request with no agent waits in the queue and becomes timeout at its deadline", "[timeout]") {
    itest_broker t(two_second_space());
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "anyone there?");
    sse_reader sse(alice, "/api/requests/" + id + "/events");

    auto queued = sse.wait_for("queued", 3s);
    REQUIRE(queued);
    CHECK(t.request_status(alice, id).str("/status") == "queued");

    auto timeout = sse.wait_for("timeout", 8s);
    INFO("events: " << sse.seen_names() << "\nstderr:\n" << t.broker.stderr_tail());
    REQUIRE(timeout);
    CHECK(t.request_status(alice, id).str("/status") == "timeout");
}

TEST_CASE("an agent holding a request at its deadline gets cancel with reason timeout", "[timeout]") {
    itest_broker t(two_second_space());
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "slow one");

    auto req = agent->expect_request();
    REQUIRE(req);
    REQUIRE(agent->send_processing(id));

    auto cancel = agent->expect_cancel(8s);
    INFO(agent->last_error());
    REQUIRE(cancel);
    CHECK(cancel->request_id == id);
    CHECK(cancel->reason == "timeout");
    CHECK(t.wait_status(alice, id, "timeout", 3s));
}

TEST_CASE("a result that arrives after the deadline is dropped", "[timeout]") {
    itest_broker t(two_second_space());
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "too late");

    REQUIRE(agent->expect_request());
    REQUIRE(agent->expect_cancel(8s));
    REQUIRE(t.wait_status(alice, id, "timeout", 3s));

    REQUIRE(agent->send_delta(id, 1, "late"));
    REQUIRE(agent->send_completed(id, "late answer"));
    // The connection stays usable: a new request still arrives, and the old
    // one is still timeout once the broker has handled the late frames (they
    // come before the new request on the same connection).
    const std::string next = t.submit(alice, "next");
    auto req = agent->expect_request();
    INFO(agent->last_error());
    REQUIRE(req);
    CHECK(req->id() == next);
    auto status = t.request_status(alice, id);
    INFO(status.text());
    CHECK(status.str("/status") == "timeout");
    CHECK(status.text().find("late answer") == std::string::npos);
    // ...and counted.
    auto metrics = t.broker.client().get("/metrics");
    INFO(metrics.body);
    CHECK(metrics.body.find("tether_results_dropped_total{reason=\"late\"} 0") == std::string::npos);
    CHECK(metrics.body.find("tether_results_dropped_total{reason=\"late\"}") != std::string::npos);
}
