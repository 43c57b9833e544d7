// An agent connection that goes away mid-request: its requests go back to the
// front of the queue with their deadlines, watchers see requeued, and after
// three losses a request fails with agent_lost.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

TEST_CASE("a request whose agent closes mid-request is requeued and a new agent gets it", "[agent-lost]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "survive this");
    sse_reader sse(alice, "/api/requests/" + id + "/events");

    auto first = t.echo_agent();
    auto got = first->expect_request();
    REQUIRE(got);
    REQUIRE(first->send_processing(id));
    REQUIRE(sse.wait_for("processing", 5s));
    first->close(1000);
    REQUIRE(t.wait_disconnected(alice));

    auto requeued = sse.wait_for("requeued", 5s);
    INFO("events: " << sse.seen_names() << "\nstderr:\n" << t.broker.stderr_tail());
    REQUIRE(requeued);

    auto second = t.echo_agent();
    auto again = second->expect_request();
    INFO(second->last_error());
    REQUIRE(again);
    CHECK(again->id() == id);
    CHECK(again->frame.prompt == std::optional<std::string>("survive this"));
    CHECK(again->frame.deadline == got->frame.deadline); // original deadline kept
    REQUIRE(second->send_completed(id, "made it"));
    CHECK(sse.wait_for("completed", 5s));
}

TEST_CASE("a requeued request goes back to the front of the queue", "[agent-lost]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string a = t.submit(alice, "a");
    const std::string b = t.submit(alice, "b");

    auto first = t.echo_agent();
    auto got = first->expect_request();
    REQUIRE(got);
    REQUIRE(got->id() == a);
    first->drop(); // no close frame: the TCP connection just goes away
    REQUIRE(t.wait_disconnected(alice));

    auto second = t.echo_agent();
    auto again = second->expect_request();
    INFO(second->last_error() << "\nstderr:\n" << t.broker.stderr_tail());
    REQUIRE(again);
    CHECK(again->id() == a);
    REQUIRE(second->send_completed(a, "A"));
    auto then = second->expect_request();
    REQUIRE(then);
    CHECK(then->id() == b);
}

TEST_CASE("a request whose agent is lost three times fails with agent_lost", "[agent-lost]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "cursed");
    sse_reader sse(alice, "/api/requests/" + id + "/events");

    for (int attempt = 1; attempt <= 3; ++attempt) {
        auto agent = t.echo_agent();
        auto got = agent->expect_request();
        INFO("attempt " << attempt << ": " << agent->last_error() << "\nevents: " << sse.seen_names());
        REQUIRE(got);
        CHECK(got->id() == id);
        agent->drop();
        REQUIRE(t.wait_disconnected(alice));
    }
    auto failed = sse.wait_for("failed", 5s);
    INFO("events: " << sse.seen_names() << "\nstderr:\n" << t.broker.stderr_tail());
    REQUIRE(failed);
    CHECK(failed->json().str("/error/code") == "agent_lost");
    auto status = t.request_status(alice, id);
    CHECK(status.str("/status") == "failed");
    CHECK(status.str("/error/code") == "agent_lost");

    // A fourth agent does not get it again.
    auto fourth = t.echo_agent();
    const std::string fresh = t.submit(alice, "fresh");
    auto next = fourth->expect_request();
    REQUIRE(next);
    CHECK(next->id() == fresh);
}
