// broker_core: what revocation and disk trouble ask of the core — a rotated
// token or a removed space takes the registration away, a removed or disabled
// user's requests end, a request the store could not write is withdrawn
// without a trace, retention's removals are forgotten, and event ids of a
// later broker start are above those of an earlier one.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;

namespace {

void rotate(core_fixture& t, const std::string& name, const std::string& new_token) {
    space_config c = *t.core.find_space(name);
    c.token_hash = hash_token(new_token);
    t.core.set_space(c);
}

} // namespace

TEST_CASE("rotating a space's token closes the connection that registered with the old one and requeues its work",
          "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid held = t.submit("s");
    const uuid waiting = t.submit("s");
    REQUIRE(t.state(held) == request_state::dispatched);

    rotate(t, "s", "a-new-token");

    REQUIRE(t.fx.closes.size() == 1);
    CHECK(t.fx.closes[0].conn == 1);
    CHECK(t.fx.closes[0].code == protocol::close_revoked);
    CHECK_THAT(t.fx.closes[0].reason, Catch::Contains("rotated"));
    CHECK_FALSE(t.core.view_space("s")->connected);
    // The held request is back at the front, as for a lost agent.
    CHECK(t.state(held) == request_state::queued);
    CHECK(t.core.position(held) == std::optional<std::size_t>(1));
    CHECK(t.core.position(waiting) == std::optional<std::size_t>(2));
    CHECK(t.fx.types_of(held).back() == "queued");
    // The old token no longer registers; the new one does, and gets the work.
    CHECK_FALSE(broker_core::accepted_any(t.connect(2, {"s"})));
    auto frame = core_fixture::reg_frame({"s"});
    frame.spaces[0].token = "a-new-token";
    REQUIRE(broker_core::accepted_any(t.core.register_agent(3, frame)));
    CHECK(t.fx.sent_ids(3) == std::vector<uuid>{held});
    CHECK(t.core.find(held)->attempts == 2);
    // The closed connection's later loss report changes nothing.
    t.core.agent_lost(1);
    CHECK(t.core.view_space("s")->connected);
}

TEST_CASE("setting a space with the same token keeps its agent", "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    space_config c = *t.core.find_space("s");
    c.description = "now with a description";
    t.core.set_space(c);
    CHECK(t.fx.closes.empty());
    CHECK(t.core.view_space("s")->connected);
}

TEST_CASE("a connection serving several spaces loses only the rotated one and hears why", "[core][revocation]") {
    core_fixture t;
    t.add_space("a");
    t.add_space("b");
    t.connect(1, {"a", "b"});
    const uuid on_a = t.submit("a");
    const uuid on_b = t.submit("b");

    rotate(t, "a", "fresh");

    CHECK(t.fx.closes.empty());
    REQUIRE(t.fx.notices.size() == 1);
    CHECK(t.fx.notices[0].conn == 1);
    CHECK(t.fx.notices[0].code == "token_rotated");
    // Its work on "a" is taken back (and cancelled there); "b" goes on.
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].id == on_a);
    CHECK(t.state(on_a) == request_state::queued);
    CHECK(t.state(on_b) == request_state::dispatched);
    CHECK_FALSE(t.core.view_space("a")->connected);
    CHECK(t.core.view_space("b")->connected);
    // New requests of "a" wait for an agent with the new token.
    const uuid later = t.submit("a");
    CHECK(t.state(later) == request_state::queued);
    CHECK(t.fx.sent_ids(1).size() == 2);
}

TEST_CASE("removing a space closes a connection that served only it, and fails its requests", "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid held = t.submit("s");
    const uuid waiting = t.submit("s");
    REQUIRE(t.core.remove_space("s"));
    CHECK(t.state(held) == request_state::failed);
    CHECK(t.state(waiting) == request_state::failed);
    CHECK(t.core.find(held)->error.code == "space_removed");
    REQUIRE(t.fx.closes.size() == 1);
    CHECK(t.fx.closes[0].code == protocol::close_revoked);
    CHECK(t.core.list_agents().empty());
}

TEST_CASE("sync_spaces adds, changes and removes spaces to match the store's list", "[core][revocation]") {
    core_fixture t;
    t.add_space("keep");
    t.add_space("drop");
    t.connect(1, {"keep"});
    const uuid doomed = t.submit("drop");

    space_config keep = *t.core.find_space("keep");
    keep.timeout_s = 30;
    space_config added;
    added.name = "added";
    added.token_hash = hash_token(token_for("added"));
    t.core.sync_spaces({keep, added});

    CHECK(t.core.find_space("keep")->timeout_s == 30);
    CHECK(t.core.find_space("added") != nullptr);
    CHECK(t.core.find_space("drop") == nullptr);
    CHECK(t.state(doomed) == request_state::failed);
    CHECK(t.core.view_space("keep")->connected); // same token: untouched
    CHECK(t.fx.closes.empty());
}

TEST_CASE("the requests of a removed user are cancelled wherever they are", "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid running = t.submit("s");
    const uuid waiting = t.submit("s");
    request_record other;
    other.space = "s";
    other.username = "bob";
    other.prompt = "x";
    REQUIRE(t.core.submit(other).status == submit_status::ok);

    CHECK(t.core.users_with_live_requests() == std::set<std::string>{"alice", "bob"});
    CHECK(t.core.cancel_requests_of("alice", "the account was removed") == 2);
    CHECK(t.state(running) == request_state::cancelled);
    CHECK(t.state(waiting) == request_state::cancelled);
    CHECK_THAT(t.core.find(running)->error.message, Catch::Contains("the account was removed"));
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].id == running);
    CHECK(t.fx.cancels[0].reason == "user_revoked");
    CHECK(t.core.users_with_live_requests() == std::set<std::string>{"bob"});
    // Bob's request took the freed slot.
    CHECK(t.core.view_space("s")->in_flight == 1);
}

TEST_CASE("a withdrawn request leaves no trace: out of the queue, cancelled at its agent, forgotten",
          "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid held = t.submit("s");
    const uuid queued = t.submit("s");
    const uuid behind = t.submit("s");
    const std::size_t events_before = t.fx.events.size();

    CHECK(t.core.withdraw(queued));
    CHECK(t.core.find(queued) == nullptr);
    CHECK(t.core.position(behind) == std::optional<std::size_t>(1));

    CHECK(t.core.withdraw(held));
    CHECK(t.core.find(held) == nullptr);
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].id == held);
    CHECK(t.fx.cancels[0].reason == "store_failed");
    // Nothing published for them: no terminal event, no persisted end.
    for (std::size_t i = events_before; i < t.fx.events.size(); ++i) {
        CHECK(t.fx.events[i].request_id != held);
        CHECK(t.fx.events[i].request_id != queued);
    }
    CHECK(t.fx.last_persisted(held)->state == request_state::dispatched);
    // The freed slot went to the next one; a second withdraw is refused.
    CHECK(t.state(behind) == request_state::dispatched);
    CHECK_FALSE(t.core.withdraw(held));
    CHECK(t.core.next_deadline().has_value()); // only `behind` is left
}

TEST_CASE("forget drops finished requests that retention removed, and keeps live ones", "[core][revocation]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid done = t.submit("s");
    t.complete(1, done);
    const uuid live = t.submit("s");
    t.core.forget({done, live});
    CHECK(t.core.find(done) == nullptr);
    CHECK(t.core.find(live) != nullptr);
}

TEST_CASE("event ids of a later broker start are above every id of an earlier one", "[core][events]") {
    core_limits first_start;
    first_start.event_epoch = 1;
    core_fixture a(first_start);
    a.add_space("s");
    a.connect(1, {"s"});
    const uuid id = a.submit("s");
    a.delta(1, id, 1, "hel");
    a.complete(1, id, "hello");
    const auto first = a.core.events_since(id, 0);
    REQUIRE(!first.empty());
    CHECK(first.front().id == (std::uint64_t{1} << 32) + 1);
    // The terminal event's id is what the record is persisted with.
    CHECK(a.fx.last_persisted(id)->last_event_id == first.back().id);

    // The same request reloaded by the next start (it had been dispatched).
    core_limits second_start;
    second_start.event_epoch = 2;
    core_fixture b(second_start);
    b.add_space("s");
    request_record r = *a.fx.last_persisted(id);
    r.state = request_state::dispatched;
    b.core.recover({r});
    const auto replay = b.core.events_since(id, first.back().id);
    REQUIRE(!replay.empty());
    CHECK(replay.front().type == "requeued");
    for (const auto& e : replay)
        CHECK(e.id > first.back().id);
}
