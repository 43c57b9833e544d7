// The SSE stream of a request: every event has an id, a reconnect with
// Last-Event-ID resumes after it, and a finished request still serves its
// terminal event.
#include "integration/itest_broker.hpp"

using namespace tether::itest;

namespace {

// Drives one request to completion with two deltas; returns its id.
std::string finished_request(itest_broker& t, http_client& alice, agent_client& agent) {
    const std::string id = t.submit(alice, "stream me");
    auto req = agent.expect_request();
    REQUIRE(req);
    REQUIRE(agent.send_processing(id));
    REQUIRE(agent.send_delta(id, 1, "a"));
    REQUIRE(agent.send_delta(id, 2, "b"));
    REQUIRE(agent.send_completed(id, "ab"));
    REQUIRE(t.wait_status(alice, id, "completed", 5s));
    return id;
}

} // namespace

TEST_CASE("every SSE event carries an id and the ids increase", "[sse]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "ids please");
    sse_reader sse(alice, "/api/requests/" + id + "/events");
    REQUIRE(sse.wait_for("queued", 5s));
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_processing(id));
    REQUIRE(agent->send_delta(id, 1, "x"));
    REQUIRE(agent->send_completed(id, "x"));
    REQUIRE(sse.wait_for("completed", 5s));

    auto events = sse.seen();
    INFO("events: " << sse.seen_names() << "\nraw:\n" << sse.raw_body());
    REQUIRE(events.size() >= 4);
    long long last = -1;
    for (const auto& e : events) {
        INFO("event " << e.event << " id '" << e.id << "'");
        CHECK(e.has_id);
        CHECK(e.has_data);
        CHECK(!e.id.empty());
        long long n = -1;
        try {
            n = std::stoll(e.id);
        } catch (...) {
            n = -1;
        }
        CHECK(n > last); // numeric and increasing (the broker's own format)
        last = n;
    }
}

TEST_CASE("reattaching with Last-Event-ID gets only the events after it", "[sse]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "resume me");
    REQUIRE(agent->expect_request());
    REQUIRE(agent->send_processing(id));
    REQUIRE(agent->send_delta(id, 1, "a"));

    std::vector<sse_event> before;
    {
        sse_reader first(alice, "/api/requests/" + id + "/events");
        auto d1 = first.wait_for("delta", 5s);
        INFO("first connection: " << first.seen_names());
        REQUIRE(d1);
        REQUIRE(d1->json().integer("/seq") == 1);
        before = first.seen();
    } // the watcher goes away mid-stream

    REQUIRE(agent->send_delta(id, 2, "b"));
    sse_reader resumed(alice, "/api/requests/" + id + "/events", before.back().id);
    REQUIRE(resumed.wait_status(5s) == 200);
    auto d2 = resumed.wait_for("delta", 5s);
    INFO("resumed after id " << before.back().id << ": " << resumed.seen_names() << "\nraw:\n" << resumed.raw_body());
    REQUIRE(d2);
    CHECK(d2->json().integer("/seq") == 2);
    CHECK(d2->json().str("/text") == "b");
    REQUIRE(agent->send_completed(id, "ab"));
    REQUIRE(resumed.wait_for("completed", 5s));
    // Nothing the first connection already had is sent again.
    for (const auto& e : resumed.seen()) {
        for (const auto& old : before) {
            CHECK(e.id != old.id);
        }
        CHECK(e.event != "queued");
    }
}

TEST_CASE("a finished request's terminal event is still served to a late watcher", "[sse]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = finished_request(t, alice, *agent);

    sse_reader late(alice, "/api/requests/" + id + "/events");
    auto done = late.wait_for("completed", 5s);
    INFO("events: " << late.seen_names() << "\nraw:\n" << late.raw_body());
    REQUIRE(done);
    auto d = done->json();
    CHECK((d.str("/result/output") == "ab" || d.str("/output") == "ab"));
}
