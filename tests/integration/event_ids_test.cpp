// SSE event ids that stay meaningful across broker restarts: a watcher that
// reconnects with Last-Event-ID after a restart gets what it missed and
// nothing twice, and a finished request replays its terminal event under the
// same id whatever the restarts in between.
#include "integration/itest_broker.hpp"

#include <charconv>

using namespace tether::itest;

namespace {

std::uint64_t id_of(const sse_event& e) {
    std::uint64_t v = 0;
    std::from_chars(e.id.data(), e.id.data() + e.id.size(), v);
    return v;
}

} // namespace

TEST_CASE("after a restart, Last-Event-ID gets what was missed: never an event twice, never a gap", "[sse][restart]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string id = t.submit(alice, "survives two restarts");

    std::uint64_t last_seen = 0;
    {
        auto agent = t.echo_agent();
        auto req = agent->expect_request();
        REQUIRE(req);
        REQUIRE(agent->send_processing(id));
        REQUIRE(agent->send_delta(id, 1, "par"));
        sse_reader w(alice, "/api/requests/" + id + "/events");
        REQUIRE(w.wait_status(5s) == 200);
        auto d = w.wait_for("delta", 5s);
        INFO(w.seen_names());
        REQUIRE(d);
        last_seen = id_of(*d);
        REQUIRE(last_seen > 0);
        for (const auto& e : w.seen())
            CHECK(id_of(e) <= last_seen);
        REQUIRE(t.broker.stop().exited);
    }
    t.broker.restart();
    auto again = t.signed_in("alice");

    // The watcher comes back: the dispatch it saw was lost with the broker,
    // so it hears `requeued` (and the position), all above what it had.
    sse_reader w2(again, "/api/requests/" + id + "/events", std::to_string(last_seen));
    REQUIRE(w2.wait_status(5s) == 200);
    auto first = w2.next(5s);
    REQUIRE(first);
    CHECK(first->event == "requeued");
    auto agent = t.echo_agent();
    auto req = agent->expect_request();
    REQUIRE(req);
    REQUIRE(agent->send_delta(id, 1, "partial, again"));
    REQUIRE(agent->send_completed(id, "partial, again"));
    auto done = w2.wait_for("completed", 5s);
    INFO(w2.seen_names());
    REQUIRE(done);
    CHECK(w2.wait_ended(5s));
    std::uint64_t prev = last_seen;
    for (const auto& e : w2.seen()) {
        INFO(e.event << " " << e.id);
        CHECK(id_of(e) > prev); // strictly increasing, and above everything seen before the restart
        prev = id_of(e);
    }
    const std::uint64_t terminal = id_of(*done);

    // Up to date: nothing more, the stream just ends.
    sse_reader w3(again, "/api/requests/" + id + "/events", std::to_string(terminal));
    REQUIRE(w3.wait_status(5s) == 200);
    CHECK(w3.wait_ended(5s));
    CHECK(w3.seen().empty());

    // Another restart: the finished request replays its terminal event to a
    // watcher that missed it, under the id it had.
    agent.reset();
    REQUIRE(t.broker.stop().exited);
    t.broker.restart();
    auto third = t.signed_in("alice");
    sse_reader w4(third, "/api/requests/" + id + "/events", std::to_string(last_seen));
    REQUIRE(w4.wait_status(5s) == 200);
    REQUIRE(w4.wait_ended(5s));
    const auto replay = w4.seen();
    REQUIRE(replay.size() == 1);
    CHECK(replay[0].event == "completed");
    CHECK(id_of(replay[0]) == terminal);
    sse_reader w5(third, "/api/requests/" + id + "/events", std::to_string(terminal));
    REQUIRE(w5.wait_status(5s) == 200);
    CHECK(w5.wait_ended(5s));
    CHECK(w5.seen().empty());
}
