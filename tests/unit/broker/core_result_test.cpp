// broker_core: results from agents, streaming, completion, failure, drain.
#include "core_test_support.hpp"

#include <catch2/catch.hpp>

using namespace tether;
using namespace tether::broker;
using namespace tether::broker::test;
using protocol::result_status;

TEST_CASE("a request walks through processing and streaming to completed", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.result(1, a, result_status::processing);
    CHECK(t.state(a) == request_state::processing);
    CHECK(t.core.find(a)->started_at == t.clock.now());
    t.delta(1, a, 1, "Hel");
    CHECK(t.state(a) == request_state::streaming);
    t.delta(1, a, 2, "lo");
    t.complete(1, a, "Hello");
    CHECK(t.state(a) == request_state::completed);
    CHECK(t.fx.types_of(a) == std::vector<std::string>{"queued", "processing", "delta", "delta", "completed"});
    const request_record* stored = t.fx.last_persisted(a);
    REQUIRE(stored != nullptr);
    CHECK(stored->state == request_state::completed);
    CHECK(stored->output_text == "Hello");
    CHECK(stored->inference_ms == 12.5);
    CHECK(stored->finished_at == t.clock.now());
}

TEST_CASE("deltas are appended to the output and published with their seq", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.delta(1, a, 1, "Hel");
    t.delta(1, a, 2, "lo \"you\"");
    CHECK(t.core.find(a)->output_text == "Hello \"you\"");
    const auto events = t.fx.events_of(a);
    REQUIRE(events.size() == 4); // queued, processing, delta, delta
    CHECK(events[2].data_json == R"({"seq":1,"text":"Hel"})");
    CHECK(events[3].data_json == R"({"seq":2,"text":"lo \"you\""})");
}

TEST_CASE("the completed event carries the agent's result and the inference time", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.complete(1, a, "Hi");
    const auto events = t.fx.events_of(a);
    CHECK(events.back().type == "completed");
    CHECK(events.back().data_json == R"({"result":{"output":"Hi"},"inference_ms":12.5})");
}

TEST_CASE("completion attaches the stored output files and frees the slot for the next request", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    const uuid b = t.submit("s");
    stored_file f;
    f.blob = 1;
    f.name = "out.wav";
    f.mime = "audio/wav";
    f.size = 4410;
    f.path = "/data/blobs/x";
    t.complete(1, a, "ok", {f});
    CHECK(t.core.find(a)->outputs == std::vector<stored_file>{f});
    CHECK(t.fx.last_persisted(a)->outputs == std::vector<stored_file>{f});
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a, b});
}

TEST_CASE("an agent's failure ends the request failed with the agent's error", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.fail(1, a, "model_error");
    CHECK(t.state(a) == request_state::failed);
    CHECK(t.core.find(a)->error.code == "model_error");
    CHECK(t.fx.events_of(a).back().data_json == R"({"error":{"code":"model_error","message":"it broke"}})");
    CHECK(t.core.counters().failed == 1);
}

TEST_CASE("a drained agent gets no new requests while its in-flight ones finish", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.core.agent_drain(1);
    const uuid b = t.submit("s");
    t.complete(1, a);
    CHECK(t.state(a) == request_state::completed);
    CHECK(t.state(b) == request_state::queued);
    CHECK(t.fx.sent_ids(1) == std::vector<uuid>{a});
    CHECK(t.core.view_space("s")->draining);
}

TEST_CASE("another agent may take over the space of a draining one", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"}, 1, "old");
    const uuid a = t.submit("s");
    t.core.agent_drain(1);
    const uuid b = t.submit("s");
    const auto reply = t.connect(2, {"s"}, 1, "new");
    CHECK(reply.spaces[0].ok);
    CHECK(t.fx.sent_ids(2) == std::vector<uuid>{b});
    t.complete(1, a); // the draining connection still finishes its own
    CHECK(t.state(a) == request_state::completed);
    CHECK(t.fx.closes.empty());
}

TEST_CASE("streamed output past the limit fails the request and cancels it at the agent", "[core][result]") {
    core_limits limits;
    limits.max_output_bytes = 8;
    core_fixture t(limits);
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.delta(1, a, 1, "12345");
    t.delta(1, a, 2, "67890");
    CHECK(t.state(a) == request_state::failed);
    CHECK(t.core.find(a)->error.code == "output_too_large");
    REQUIRE(t.fx.cancels.size() == 1);
    CHECK(t.fx.cancels[0].id == a);
    CHECK(t.core.view_space("s")->in_flight == 0);
}

TEST_CASE("a result from a connection that does not hold the request is ignored and counted", "[core][result]") {
    core_fixture t;
    t.add_space("x");
    t.add_space("y");
    t.connect(1, {"x"}, 1, "one");
    t.connect(2, {"y"}, 1, "two");
    const uuid a = t.submit("x");
    t.complete(2, a);
    CHECK(t.state(a) == request_state::dispatched);
    CHECK(t.core.counters().results_wrong_agent == 1);
}

TEST_CASE("a result for an id the core does not know is counted and changes nothing", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    protocol::inference_result_frame f;
    f.request_id = "not-a-uuid";
    t.core.on_result(1, f);
    f.request_id = uuid::random().to_string();
    t.core.on_result(1, f);
    CHECK(t.core.counters().results_unknown == 2);
    CHECK(t.fx.events.empty());
}

TEST_CASE("a repeated processing result does not publish a second processing event", "[core][result]") {
    core_fixture t;
    t.add_space("s");
    t.connect(1, {"s"});
    const uuid a = t.submit("s");
    t.result(1, a, result_status::processing);
    t.result(1, a, result_status::processing);
    CHECK(t.fx.types_of(a) == std::vector<std::string>{"queued", "processing"});
}
