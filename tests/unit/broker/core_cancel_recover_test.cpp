// broker_core: cancel and recovery after a broker restart.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;
using namespace std::chrono_literals;

TEST_CASE("cancelling a queued request takes it out of the queue and moves the others up", "[core][cancel]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    CHECK(t.core.cancel(b) == cancel_outcome::ok);
    CHECK(t.state(b) == request_state::cancelled);
    CHECK(t.core.position(a) == 1u);
    CHECK(t.core.position(c) == 2u);
    CHECK(t.fx.events_of(c).back().data_json == R"({"position":2})");
    CHECK(t.fx.events_of(a).size() == 1); // a did not move
    CHECK(t.fx.last_persisted(b)->state == request_state::cancelled);
    CHECK(t.fx.cancels.empty());
}

TEST_CASE("cancelling a dispatched request sends cancel to its agent and frees the slot", "[core][cancel]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    CHECK(t.core.cancel(a) == cancel_outcome::ok);
    CHECK(t.state(a) == request_state::cancelled);
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].conn == 1);
    CHECK(t.fx.cancels[0].reason == "user");
    CHECK(t.fx.events_of(a).back().data_json == R"({"error":{"code":"cancelled","message":"cancelled by the user"}})");
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b});
}

TEST_CASE("cancelling a finished request answers already_finished", "[core][cancel]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.complete(1, a);
    CHECK(t.core.cancel(a) == cancel_outcome::already_finished);
    CHECK(t.state(a) == request_state::completed);
    CHECK(t.core.cancel(a) == cancel_outcome::already_finished);
}

TEST_CASE("cancelling an unknown request answers not_found", "[core][cancel]") {
    core_fixture t;
    CHECK(t.core.cancel(uuid::random()) == cancel_outcome::not_found);
}

namespace {
request_record stored(const std::string& space, request_state state, tether::time_point created,
                      std::chrono::seconds timeout = 120s) {
    request_record r;
    r.id = uuid::random();
    r.space = space;
    r.state = state;
    r.created = created;
    r.deadline = created + timeout;
    if (state != request_state::queued) {
        r.attempts = 1;
        r.dispatched_at = created;
    }
    return r;
}
} // namespace

TEST_CASE("recovery puts interrupted requests first and queued ones after, each in created order", "[core][recover]") {
    core_fixture t;
    t.add_space("s");
    const auto now = t.clock.now();
    const auto q2 = stored("s", request_state::queued, now - 2s);
    const auto q1 = stored("s", request_state::queued, now - 9s);
    const auto d = stored("s", request_state::dispatched, now - 3s);
    const auto p = stored("s", request_state::streaming, now - 4s);
    t.core.recover({q2, d, q1, p});
    CHECK(t.core.position(p.id) == 1u);
    CHECK(t.core.position(d.id) == 2u);
    CHECK(t.core.position(q1.id) == 3u);
    CHECK(t.core.position(q2.id) == 4u);
    CHECK(t.fx.last_persisted(d.id)->state == request_state::queued);
    CHECK(t.fx.types_of(d.id) == std::vector<std::string>{"requeued", "queued"});
    t.connect(1, {"s"});
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{p.id});
    CHECK(t.core.find(p.id)->attempts == 2);
}

TEST_CASE("recovery times out requests whose deadline passed while the broker was down", "[core][recover]") {
    core_fixture t;
    t.add_space("s");
    const auto now = t.clock.now();
    const auto old = stored("s", request_state::queued, now - 200s);
    const auto fresh = stored("s", request_state::queued, now - 1s);
    t.core.recover({old, fresh});
    CHECK(t.state(old.id) == request_state::timeout);
    CHECK(t.fx.last_persisted(old.id)->state == request_state::timeout);
    CHECK(t.core.position(fresh.id) == 1u);
    CHECK(t.core.next_deadline() == fresh.deadline);
}

TEST_CASE("recovery fails requests of spaces that no longer exist", "[core][recover]") {
    core_fixture t;
    const auto r = stored("gone", request_state::queued, t.clock.now());
    t.core.recover({r});
    CHECK(t.state(r.id) == request_state::failed);
    CHECK(t.core.find(r.id)->error.code == "space_removed");
    CHECK(t.fx.last_persisted(r.id)->state == request_state::failed);
}

TEST_CASE("recovered requests keep their deadlines and time out on them", "[core][recover]") {
    core_fixture t;
    t.add_space("s");
    const auto r = stored("s", request_state::processing, t.clock.now() - 100s);
    t.core.recover({r});
    t.clock.advance(20s);
    t.core.tick();
    CHECK(t.state(r.id) == request_state::timeout);
}
