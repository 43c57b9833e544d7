// broker_core: per-space FIFO queues, positions, limits.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;

TEST_CASE("requests to one space are dispatched in the order they were submitted", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    t.connect(1, {"s"});
    t.complete(1, a);
    t.complete(1, b);
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b, c});
}

TEST_CASE("submit answers the request's 1-based place in the queue", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    request_record r;
    r.space = "s";
    CHECK(t.core.submit(r).position == 1);
    r.id = {};
    CHECK(t.core.submit(r).position == 2);
    CHECK(t.core.queue_length("s") == 2);
}

TEST_CASE("positions go down as the queue moves and watchers see each one", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    CHECK(t.core.position(c) == 3u);
    t.connect(1, {"s"}); // a leaves the queue
    CHECK(t.core.position(b) == 1u);
    CHECK(t.core.position(c) == 2u);
    t.complete(1, a); // b leaves the queue
    CHECK(t.core.position(c) == 1u);
    std::vector<std::string> positions;
    for (const auto& e : t.fx.events_of(c)) {
        REQUIRE(e.type == "queued");
        positions.push_back(e.data_json);
    }
    CHECK(positions == std::vector<std::string>{R"({"position":3})", R"({"position":2})", R"({"position":1})"});
}

TEST_CASE("a dispatched request has no queue position", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    CHECK(t.state(a) == request_state::dispatched);
    CHECK_FALSE(t.core.position(a).has_value());
}

TEST_CASE("a space at its queue limit refuses with queue_full and a retry-after guess", "[core][queue]") {
    core_fixture t;
    t.add_space("s", 120, 2);
    t.submit("s");
    t.submit("s");
    request_record r;
    r.space = "s";
    const auto out = t.core.submit(r);
    CHECK(out.status == submit_status::queue_full);
    CHECK(out.retry_after_s >= 1);
    CHECK(out.retry_after_s <= 120);
    CHECK(t.core.queue_length("s") == 2);
    CHECK(t.core.counters().rejected_queue_full == 1);
    CHECK(t.fx.persisted.size() == 2); // the refused one was never stored
}

TEST_CASE("submitting to an unknown space is refused and nothing is stored", "[core][queue]") {
    core_fixture t;
    request_record r;
    r.space = "nope";
    CHECK(t.core.submit(r).status == submit_status::unknown_space);
    CHECK(t.fx.persisted.empty());
    CHECK(t.fx.events.empty());
}

TEST_CASE("submit sets created and the deadline from the space timeout and persists before publishing",
          "[core][queue]") {
    core_fixture t;
    t.add_space("s", 30);
    const uuid a = t.submit("s");
    const request_record* r = t.core.find(a);
    REQUIRE(r != nullptr);
    CHECK(r->created == t.clock.now());
    CHECK(r->deadline == t.clock.now() + std::chrono::seconds{30});
    CHECK(r->state == request_state::queued);
    CHECK(t.fx.order == std::vector<std::string>{"persist", "publish:queued"});
}

TEST_CASE("a submitted id that is already known is refused as a duplicate", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    request_record again;
    again.id = a;
    again.space = "s";
    CHECK(t.core.submit(again).status == submit_status::duplicate_id);
    CHECK(t.core.queue_length("s") == 1);
}

TEST_CASE("removing a space fails its queued requests with space_removed", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    CHECK(t.core.remove_space("s"));
    CHECK(t.core.find_space("s") == nullptr);
    CHECK(t.state(a) == request_state::failed);
    CHECK(t.core.find(a)->error.code == "space_removed");
    CHECK(t.fx.last_persisted(a)->state == request_state::failed);
    CHECK_FALSE(t.core.remove_space("s"));
}

TEST_CASE("removing a space cancels its requests held by an agent", "[core][queue]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.core.remove_space("s");
    CHECK(t.state(a) == request_state::failed);
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].id == a);
    // It served only that space: its connection goes too (core_revocation_test).
    CHECK(t.core.list_agents().empty());
}

TEST_CASE("the space list shows the agent, the queue length and the timeout", "[core][queue]") {
    core_fixture t;
    t.add_space("b", 60);
    t.add_space("a");
    t.submit("b");
    t.submit("b");
    t.connect(1, {"a"}, 3);
    const auto spaces = t.core.list_spaces();
    REQUIRE(spaces.size() == 2);
    CHECK(spaces[0].config.name == "a");
    CHECK(spaces[0].connected);
    CHECK(spaces[0].agent_name == "gpu-box");
    CHECK(spaces[0].agent_version == "0.1.0");
    CHECK(spaces[0].capacity == 3);
    CHECK(spaces[1].config.name == "b");
    CHECK_FALSE(spaces[1].connected);
    CHECK(spaces[1].queue_length == 2);
    CHECK(spaces[1].config.timeout_s == 60);
}

TEST_CASE("a new space timeout applies to requests submitted afterwards", "[core][queue]") {
    core_fixture t;
    t.add_space("s", 100);
    const uuid a = t.submit("s");
    t.add_space("s", 10);
    const uuid b = t.submit("s");
    CHECK(t.core.find(a)->deadline - t.core.find(a)->created == std::chrono::seconds{100});
    CHECK(t.core.find(b)->deadline - t.core.find(b)->created == std::chrono::seconds{10});
    CHECK(t.core.position(b) == 2u);
}
