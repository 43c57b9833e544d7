// The request life cycle end to end against the real broker: submit over
// HTTP, dispatch to an agent over WebSocket, results back over SSE and GET.
#include "integration/itest_broker.hpp"

using namespace tether::itest;
namespace protocol = tether::protocol;

namespace {

// A completed event / status carries the agent's result; accept it at
// /result/output (nested) or /output (flat).
std::string output_of(const json_doc& d) {
    if (auto s = d.string("/result/output")) {
        return *s;
    }
    return d.str("/output");
}

} // namespace

TEST_CASE("a JSON submission is queued with a position and reaches the agent with its payload", "[lifecycle]") {
    itest_broker t;
    auto alice = t.signed_in("alice");

    auto r = alice.post_json("/api/spaces/echo/requests", R"({"prompt":"hello there","params":{"max_tokens":8}})");
    INFO(r.describe());
    REQUIRE(r.status == 202);
    auto body = r.json();
    CHECK(body.str("/status") == "queued");
    CHECK(body.integer("/position").has_value());
    const std::string id = body.str("/request_id");
    CHECK(tether::uuid::parse(id).has_value());

    auto agent = t.echo_agent();
    auto req = agent->expect_request();
    INFO(agent->last_error());
    REQUIRE(req);
    CHECK(req->id() == id);
    CHECK(req->frame.space == "echo");
    CHECK(req->frame.username == "alice");
    CHECK(req->frame.prompt == std::optional<std::string>("hello there"));
    auto params = json_doc::parse(req->frame.params_json);
    CHECK(params.integer("/max_tokens") == 8);
    CHECK(tether::parse_rfc3339(req->frame.deadline).has_value());
}

TEST_CASE("processing, deltas and completed reach the SSE stream in order and the result is kept", "[lifecycle]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "say hello");

    sse_reader sse(alice, "/api/requests/" + id + "/events");
    REQUIRE(sse.wait_status(5s) == 200);
    CHECK(sse.content_type().rfind("text/event-stream", 0) == 0);

    auto req = agent->expect_request();
    REQUIRE(req);
    REQUIRE(agent->send_processing(id));
    auto processing = sse.wait_for("processing", 5s);
    INFO("events so far: " << sse.seen_names());
    REQUIRE(processing);

    REQUIRE(agent->send_delta(id, 1, "Hel"));
    REQUIRE(agent->send_delta(id, 2, "lo"));
    REQUIRE(agent->send_completed(id, "Hello"));

    auto d1 = sse.next(5s);
    auto d2 = sse.next(5s);
    auto done = sse.next(5s);
    INFO("events: " << sse.seen_names() << "\nraw:\n" << sse.raw_body());
    REQUIRE(d1);
    REQUIRE(d2);
    REQUIRE(done);
    CHECK(d1->event == "delta");
    CHECK(d1->json().integer("/seq") == 1);
    CHECK(d1->json().str("/text") == "Hel");
    CHECK(d2->event == "delta");
    CHECK(d2->json().integer("/seq") == 2);
    CHECK(d2->json().str("/text") == "lo");
    CHECK(done->event == "completed");
    CHECK(output_of(done->json()) == "Hello");

    // The first event of the stream is the current state (queued, or later ones
    // if the agent was quicker than the watcher), and nothing follows the end.
    auto all = sse.seen();
    REQUIRE(!all.empty());
    CHECK((all.front().event == "queued" || all.front().event == "processing"));
    CHECK(all.back().event == "completed");

    auto status = t.request_status(alice, id);
    INFO(status.text());
    CHECK(status.str("/status") == "completed");
    CHECK(output_of(status) == "Hello");
    CHECK(!status.str("/created").empty());
    CHECK(!status.str("/started_at").empty());
    CHECK(!status.str("/finished_at").empty());
}

TEST_CASE("a failed result ends the request as failed with the agent's error", "[lifecycle]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    auto agent = t.echo_agent();
    const std::string id = t.submit(alice, "break please");
    sse_reader sse(alice, "/api/requests/" + id + "/events");

    auto req = agent->expect_request();
    REQUIRE(req);
    REQUIRE(agent->send_processing(id));
    REQUIRE(agent->send_failed(id, "model_error", "out of memory"));

    auto failed = sse.wait_for("failed", 5s);
    INFO("events: " << sse.seen_names());
    REQUIRE(failed);
    CHECK(failed->json().str("/error/code") == "model_error");

    auto status = t.request_status(alice, id);
    INFO(status.text());
    CHECK(status.str("/status") == "failed");
    CHECK(status.str("/error/code") == "model_error");
    CHECK(status.str("/error/message") == "out of memory");
}

TEST_CASE("queue positions go down as earlier requests complete", "[lifecycle][queue]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string first = t.submit(alice, "one");
    const std::string second = t.submit(alice, "two");
    const std::string third = t.submit(alice, "three");

    auto p1 = t.request_status(alice, first).integer("/position");
    auto p2 = t.request_status(alice, second).integer("/position");
    auto p3 = t.request_status(alice, third).integer("/position");
    REQUIRE(p1);
    REQUIRE(p2);
    REQUIRE(p3);
    CHECK(*p1 < *p2);
    CHECK(*p2 < *p3);

    sse_reader sse(alice, "/api/requests/" + third + "/events");
    auto initial = sse.wait_for("queued", 5s);
    REQUIRE(initial);
    CHECK(initial->json().integer("/position") == p3);

    auto agent = t.echo_agent(1);
    auto got = agent->expect_request();
    REQUIRE(got);
    CHECK(got->id() == first); // FIFO
    REQUIRE(agent->send_completed(first, "done"));

    auto next = agent->expect_request();
    REQUIRE(next);
    CHECK(next->id() == second);

    // The third moved up: a new queued event with a smaller position, and GET agrees.
    auto moved = sse.wait_for("queued", 5s);
    INFO("events: " << sse.seen_names());
    REQUIRE(moved);
    CHECK(moved->json().integer("/position") < p3);
    auto now = t.request_status(alice, third).integer("/position");
    REQUIRE(now);
    CHECK(*now < *p3);
}

TEST_CASE("an agent with capacity 2 gets two requests in flight at once", "[lifecycle][queue]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string a = t.submit(alice, "a");
    const std::string b = t.submit(alice, "b");
    const std::string c = t.submit(alice, "c");

    auto agent = t.echo_agent(2);
    auto r1 = agent->expect_request();
    auto r2 = agent->expect_request();
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(r1->id() == a);
    CHECK(r2->id() == b);
    // The third waits for a free slot...
    CHECK(t.request_status(alice, c).str("/status") == "queued");
    REQUIRE(agent->send_completed(b, "B"));
    // ...and gets it when one frees.
    auto r3 = agent->expect_request();
    REQUIRE(r3);
    CHECK(r3->id() == c);
}

TEST_CASE("GET /api/requests lists the caller's requests", "[lifecycle]") {
    itest_broker t;
    auto alice = t.signed_in("alice");
    const std::string a = t.submit(alice, "first");
    const std::string b = t.submit(alice, "second");
    auto r = alice.get("/api/requests");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    CHECK(r.body.find(a) != std::string::npos);
    CHECK(r.body.find(b) != std::string::npos);
}
