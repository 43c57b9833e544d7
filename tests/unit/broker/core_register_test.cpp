// broker_core: agent registration, one connection per space, takeover, capacity.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;

namespace {
std::string error_code(const protocol::registered_frame& reply, std::size_t i) {
    REQUIRE(reply.spaces.size() > i);
    REQUIRE(reply.spaces[i].error.has_value());
    return reply.spaces[i].error->code;
}
} // namespace

TEST_CASE("an agent with the right token is accepted for its space", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    const auto reply = t.connect(1, {"s"});
    REQUIRE(reply.spaces.size() == 1);
    CHECK(reply.spaces[0].space == "s");
    CHECK(reply.spaces[0].ok);
    CHECK(reply.heartbeat_s == protocol::default_heartbeat_s);
    CHECK(broker_core::accepted_any(reply));
    CHECK(t.core.view_space("s")->connected);
}

TEST_CASE("registering an unknown space is refused with unknown_space", "[core][register]") {
    core_fixture t;
    const auto reply = t.connect(1, {"ghost"});
    CHECK(error_code(reply, 0) == "unknown_space");
    CHECK_FALSE(broker_core::accepted_any(reply));
}

TEST_CASE("a wrong token is refused with bad_token", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    auto frame = core_fixture::reg_frame({"s"});
    frame.spaces[0].token = "guess";
    const auto reply = t.core.register_agent(1, frame);
    CHECK(error_code(reply, 0) == "bad_token");
    CHECK_FALSE(t.core.view_space("s")->connected);
}

TEST_CASE("a space without an issued token refuses every token", "[core][register]") {
    core_fixture t;
    space_config c;
    c.name = "s";
    t.core.set_space(c);
    auto frame = core_fixture::reg_frame({"s"});
    frame.spaces[0].token = "";
    CHECK(error_code(t.core.register_agent(1, frame), 0) == "bad_token");
}

TEST_CASE("a second agent for a served space is refused with space_taken and the first keeps it", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 1, "first");
    const auto reply = t.connect(2, {"s"}, 1, "second");
    CHECK(error_code(reply, 0) == "space_taken");
    const uuid a = t.submit("s");
    CHECK(t.core.holder_of(a) == agent_conn_id{1});
    CHECK(t.fx.closes.empty());
}

TEST_CASE("a register frame with another protocol version is refused with bad_protocol", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    auto frame = core_fixture::reg_frame({"s"});
    frame.protocol = 2;
    const auto reply = t.core.register_agent(1, frame);
    CHECK(error_code(reply, 0) == "bad_protocol");
    CHECK(t.core.list_agents().empty());
}

TEST_CASE("a registration that accepted nothing leaves no agent behind", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    auto frame = core_fixture::reg_frame({"s", "ghost"});
    frame.spaces[0].token = "wrong";
    const auto reply = t.core.register_agent(7, frame);
    CHECK_FALSE(broker_core::accepted_any(reply));
    CHECK(t.core.list_agents().empty());
}

TEST_CASE("some spaces of one registration may be accepted and others refused", "[core][register]") {
    core_fixture t;
    t.add_space("good");
    const auto reply = t.connect(1, {"good", "ghost"});
    CHECK(reply.spaces[0].ok);
    CHECK(error_code(reply, 1) == "unknown_space");
    CHECK(broker_core::accepted_any(reply));
}

TEST_CASE("the same agent instance on a new connection takes the space over and the old one is closed",
          "[core][register]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 1, "same");
    const auto reply = t.connect(2, {"s"}, 1, "same");
    CHECK(reply.spaces[0].ok);
    REQUIRE(t.fx.closes.size() == 1);
    CHECK(t.fx.closes[0].conn == 1);
    const auto agents = t.core.list_agents();
    REQUIRE(agents.size() == 1);
    CHECK(agents[0].conn == 2);
    t.core.agent_lost(1); // the server reports the close later: nothing changes
    CHECK(t.core.view_space("s")->connected);
}

TEST_CASE("a takeover puts the old connection's requests back at the front and sends them to the new one",
          "[core][register]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 1, "same");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    t.connect(2, {"s"}, 1, "same");
    CHECK(t.fx.sent_ids(2) == std::vector<uuid>{a});
    CHECK(t.core.holder_of(a) == agent_conn_id{2});
    CHECK(t.core.find(a)->attempts == 2); // the lost dispatch counts as an attempt
    CHECK(t.core.position(b) == 1u);
    const auto types = t.fx.types_of(a);
    CHECK(std::find(types.begin(), types.end(), "requeued") != types.end());
}

TEST_CASE("capacity bounds the requests in flight on a connection", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 2);
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b});
    CHECK(t.state(c) == request_state::queued);
    t.complete(1, b);
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b, c});
    CHECK(t.core.view_space("s")->in_flight == 2);
}

TEST_CASE("an announced capacity is clamped between 1 and the configured maximum", "[core][register]") {
    core_limits limits;
    limits.max_capacity = 4;
    core_fixture t(limits);
    t.add_space("big");
    t.add_space("zero");
    t.connect(1, {"big"}, 1000);
    t.connect(2, {"zero"}, 0, "other");
    CHECK(t.core.view_space("big")->capacity == 4);
    CHECK(t.core.view_space("zero")->capacity == 1);
}

TEST_CASE("one connection may serve several spaces", "[core][register]") {
    core_fixture t;
    t.add_space("x");
    t.add_space("y");
    t.connect(1, {"x", "y"});
    const uuid a = t.submit("x");
    const uuid b = t.submit("y");
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b});
    const auto agents = t.core.list_agents();
    REQUIRE(agents.size() == 1);
    CHECK(agents[0].spaces == std::vector<std::string>{"x", "y"});
    CHECK(agents[0].in_flight == 2);
    CHECK(agents[0].agent.instance == "inst-1");
    CHECK(agents[0].connected_since == t.clock.now());
}

TEST_CASE("requests queued before an agent registers are dispatched when it does", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    CHECK(t.fx.requests.empty());
    t.connect(1, {"s"});
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a});
    CHECK(t.core.find(a)->attempts == 1);
    CHECK(t.fx.last_persisted(a)->state == request_state::dispatched);
}

TEST_CASE("with a reply callback the answer goes out before queued requests are dispatched", "[core][register]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    t.fx.order.clear();
    bool ok = false;
    t.core.register_agent(1, core_fixture::reg_frame({"s"}), [&](const protocol::registered_frame& reply) {
        ok = broker_core::accepted_any(reply);
        t.fx.order.emplace_back("reply");
    });
    CHECK(ok);
    REQUIRE(t.fx.order.size() >= 2);
    CHECK(t.fx.order[0] == "reply");
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a});
}

TEST_CASE("the core reports every space added, changed and removed", "[core][spaces]") {
    // core_host keeps a copy for the API threads from these reports.
    core_fixture t;
    t.add_space("s", 120, 5);
    REQUIRE(t.fx.spaces.count("s") == 1);
    REQUIRE(t.fx.spaces["s"].has_value());
    CHECK(t.fx.spaces["s"]->queue_limit == 5);
    t.add_space("s", 120, 9);
    CHECK(t.fx.spaces["s"]->queue_limit == 9);
    CHECK(t.fx.spaces["s"] == *t.core.find_space("s"));
    REQUIRE(t.core.remove_space("s"));
    REQUIRE(t.fx.spaces.count("s") == 1);
    CHECK_FALSE(t.fx.spaces["s"].has_value());
    CHECK_FALSE(t.core.remove_space("s"));
}
