// broker_core: the per-request event log (SSE replay), watched positions,
// retention, and the rule that each request ends exactly once.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;
using namespace std::chrono_literals;

TEST_CASE("events carry ids 1, 2, 3 per request and events_since replays what followed", "[core][events]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.delta(1, a, 1, "a");
    t.delta(1, a, 2, "b");
    const auto published = t.fx.events_of(a);
    for (std::size_t i = 0; i < published.size(); ++i) {
        CHECK(published[i].id == i + 1);
    }
    CHECK(t.core.events_since(a, 0) == published);
    const auto tail = t.core.events_since(a, 3);
    REQUIRE(tail.size() == 1);
    CHECK(tail[0].data_json == R"({"seq":2,"text":"b"})");
    CHECK(t.core.events_since(a, 99).empty());
    CHECK(t.core.events_since(uuid::random(), 0).empty());
}

TEST_CASE("once completed, replay gives the completed event with the whole result instead of the deltas",
          "[core][events]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.delta(1, a, 1, "a");
    t.delta(1, a, 2, "b");
    t.complete(1, a, "ab");
    const auto log = t.core.events_since(a, 0);
    std::vector<std::string> types;
    types.reserve(log.size());
    for (const auto& e : log) {
        types.push_back(e.type);
    }
    CHECK(types == std::vector<std::string>{"queued", "processing", "completed"});
    CHECK(log.back().id == 5);
    CHECK(log.back().data_json.find("\"output\":\"ab\"") != std::string::npos);
    CHECK(t.core.events_since(a, 3).size() == 1); // a watcher that saw "a" gets the result
}

TEST_CASE("the replay log keeps only the latest queue position", "[core][events]") {
    core_fixture t;
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    t.core.cancel(a);
    t.core.cancel(b);
    const auto log = t.core.events_since(c, 0);
    REQUIRE(log.size() == 1);
    CHECK(log[0].data_json == R"({"position":1})");
    CHECK(log[0].id == 3);
}

TEST_CASE("a long stream merges old deltas in the log but replay still gives the whole text", "[core][events]") {
    core_limits limits;
    limits.max_events_per_request = 10;
    core_fixture t(limits);
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    std::string expected;
    for (std::uint64_t i = 1; i <= 100; ++i) {
        const std::string piece = std::to_string(i) + ",";
        expected += piece;
        t.delta(1, a, i, piece);
    }
    const auto log = t.core.events_since(a, 0);
    CHECK(log.size() <= 10);
    std::string replayed;
    for (const auto& e : log) {
        if (e.type == "delta") {
            // {"seq":N,"text":"…"}: the text holds no characters needing escapes here.
            const auto start = e.data_json.find("\"text\":\"") + 8;
            replayed += e.data_json.substr(start, e.data_json.size() - start - 2);
        }
    }
    CHECK(replayed == expected);
    CHECK(log.back().id == t.fx.events_of(a).back().id); // the merged piece ends at the latest id
    // A merged piece says which deltas it covers, so a watcher that had some
    // of them can replace them instead of showing them twice.
    const auto merged = std::find_if(log.begin(), log.end(), [](const request_event& e) {
        return e.type == "delta" && e.data_json.find("\"first_seq\":1,") != std::string::npos;
    });
    REQUIRE(merged != log.end());
    CHECK(merged->data_json.starts_with("{\"seq\":"));
}

TEST_CASE("with watched-only positions only watched requests hear that they moved", "[core][events]") {
    core_limits limits;
    limits.positions_for_watched_only = true;
    core_fixture t(limits);
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    t.core.watch(c);
    t.core.cancel(a);
    CHECK(t.fx.events_of(b).size() == 1); // only its first position
    CHECK(t.fx.events_of(c).back().data_json == R"({"position":2})");
    t.core.watch(b); // catches up at once
    CHECK(t.fx.events_of(b).back().data_json == R"({"position":1})");
    t.core.unwatch(c);
    t.core.cancel(b);
    CHECK(t.fx.events_of(c).back().data_json == R"({"position":2})");
    CHECK(t.core.position(c) == 1u);
}

TEST_CASE("finished requests past retain_finished are forgotten, oldest first", "[core][events]") {
    core_limits limits;
    limits.retain_finished = 2;
    core_fixture t(limits);
    t.add_space("s");
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    const uuid c = t.submit("s");
    const uuid d = t.submit("s");
    for (const uuid& id : {a, b, c}) {
        t.core.cancel(id);
    }
    CHECK(t.core.find(a) == nullptr);
    CHECK(t.core.find(b) != nullptr);
    CHECK(t.core.find(c) != nullptr);
    CHECK(t.core.find(d) != nullptr); // live requests are always kept
    CHECK(t.core.cancel(a) == cancel_outcome::not_found);
}

TEST_CASE("every request ends with exactly one terminal event, persisted, whatever happens after", "[core][events]") {
    core_fixture t;
    t.add_space("s", 30);
    t.connect(1, {"s"}, 2);
    const uuid done = t.submit("s");
    const uuid broke = t.submit("s");
    const uuid cancelled = t.submit("s");
    const uuid late = t.submit("s");
    t.complete(1, done);
    t.fail(1, broke, "model_error");
    t.core.cancel(cancelled);
    t.clock.advance(31s);
    t.core.tick();
    // Everything that can still arrive afterwards.
    t.complete(1, done);
    t.complete(1, broke);
    t.complete(1, cancelled);
    t.complete(1, late);
    t.core.cancel(done);
    t.core.tick();
    t.core.agent_lost(1);
    for (const uuid& id : {done, broke, cancelled, late}) {
        CHECK(t.terminal_events(id) == 1);
        REQUIRE(t.core.find(id) != nullptr);
        CHECK(is_terminal(t.core.find(id)->state));
        CHECK(t.fx.last_persisted(id)->state == t.core.find(id)->state);
    }
    CHECK(t.state(late) == request_state::timeout);
    const auto& n = t.core.counters();
    CHECK(n.completed + n.failed + n.cancelled + n.timed_out == n.submitted);
}
