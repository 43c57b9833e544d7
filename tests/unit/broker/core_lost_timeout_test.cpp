// broker_core: agent loss (requeue, attempts), deadlines, late results.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;
using namespace std::chrono_literals;

TEST_CASE("a lost agent's requests go back to the front of the queue with their original deadlines", "[core][lost]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 2);
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    const auto deadline_a = t.core.find(a)->deadline;
    t.clock.advance(5s);
    t.core.agent_lost(1);
    CHECK(t.core.position(a) == 1u);
    CHECK(t.core.position(b) == 2u);
    CHECK(t.core.position(c) == 3u);
    CHECK(t.core.find(a)->deadline == deadline_a);
    CHECK(t.fx.last_persisted(a)->state == request_state::queued);
    CHECK_FALSE(t.core.view_space("s")->connected);
    CHECK(t.core.counters().requeued == 2);
}

TEST_CASE("watchers of a requeued request see requeued and then its new position", "[core][lost]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.delta(1, a, 1, "partial");
    t.core.agent_lost(1);
    const auto events = t.fx.events_of(a);
    REQUIRE(events.size() >= 2);
    CHECK(events[events.size() - 2].type == "requeued");
    CHECK(events[events.size() - 2].data_json == R"({"attempts":1})");
    CHECK(events.back().type == "queued");
    CHECK(events.back().data_json == R"({"position":1})");
    CHECK(t.core.find(a)->output_text.empty()); // the next attempt starts over
}

TEST_CASE("after the last attempt an agent loss fails the request with agent_lost", "[core][lost]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    for (agent_conn_id conn = 1; conn <= 3; ++conn) {
        t.connect(conn, {"s"}, 1, "inst-" + std::to_string(conn));
        CHECK(t.core.holder_of(a) == conn);
        t.core.agent_lost(conn);
    }
    CHECK(t.state(a) == request_state::failed);
    CHECK(t.core.find(a)->error.code == "agent_lost");
    CHECK(t.core.find(a)->attempts == 3);
    CHECK(t.terminal_events(a) == 1);
    CHECK(t.core.queue_length("s") == 0);
}

TEST_CASE("a lost agent that is reported twice changes nothing the second time", "[core][lost]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    t.submit("s");
    t.core.agent_lost(1);
    const auto events = t.fx.events.size();
    t.core.agent_lost(1);
    t.core.agent_lost(42);
    CHECK(t.fx.events.size() == events);
}

TEST_CASE("a request past its deadline becomes timeout and its agent gets cancel", "[core][timeout]") {
    core_fixture t;
    t.add_space("s", 10);
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    t.clock.advance(9s);
    t.core.tick();
    CHECK(t.state(a) == request_state::dispatched);
    t.clock.advance(1s);
    t.core.tick();
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.state(b) == request_state::timeout);
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].conn == 1);
    CHECK(t.fx.cancels[0].id == a);
    CHECK(t.fx.cancels[0].reason == "timeout");
    CHECK(t.core.find(a)->error.code == "timeout");
    CHECK(t.fx.last_persisted(a)->state == request_state::timeout);
    CHECK(t.core.view_space("s")->in_flight == 0);
}

TEST_CASE("a timed-out request frees its slot for the next one", "[core][timeout]") {
    core_fixture t;
    t.add_space("s", 10);
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.clock.advance(5s);
    const uuid b = t.submit("s");
    t.clock.advance(5s);
    t.core.tick();
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b});
}

TEST_CASE("without an agent requests wait until their deadline and then time out", "[core][timeout]") {
    core_fixture t;
    t.add_space("s", 120);
    const uuid a = t.submit("s");
    t.clock.advance(119s);
    t.core.tick();
    CHECK(t.state(a) == request_state::queued);
    t.clock.advance(1s);
    t.core.tick();
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.core.queue_length("s") == 0);
    CHECK(t.fx.cancels.empty());
}

TEST_CASE("next_deadline is the earliest deadline among unfinished requests", "[core][timeout]") {
    core_fixture t;
    t.add_space("slow", 100);
    t.add_space("fast", 10);
    CHECK_FALSE(t.core.next_deadline().has_value());
    const auto start = t.clock.now();
    t.submit("slow");
    const uuid f = t.submit("fast");
    CHECK(t.core.next_deadline() == start + 10s);
    t.core.cancel(f);
    CHECK(t.core.next_deadline() == start + 100s);
}

TEST_CASE("a result arriving after the timeout is dropped and counted as late", "[core][timeout]") {
    core_fixture t;
    t.add_space("s", 10);
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.clock.advance(10s);
    t.core.tick();
    t.complete(1, a);
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.core.counters().results_late == 1);
    CHECK(t.terminal_events(a) == 1);
}

TEST_CASE("an expired request at the front is not dispatched when an agent arrives", "[core][timeout]") {
    core_fixture t;
    t.add_space("s", 10);
    const uuid a = t.submit("s");
    t.clock.advance(11s); // no tick yet
    t.connect(1, {"s"});
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.fx.requests.empty());
}

TEST_CASE("a lost agent's request whose deadline passed becomes timeout instead of requeued", "[core][lost]") {
    core_fixture t;
    t.add_space("s", 10);
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.clock.advance(10s);
    t.core.agent_lost(1);
    CHECK(t.state(a) == request_state::timeout);
    CHECK(t.fx.cancels.empty()); // the agent is gone; nobody to tell
}
