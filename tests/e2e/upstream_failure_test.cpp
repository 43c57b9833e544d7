// --upstream against an upstream written here, for what real servers do
// wrong: answer late, fail with a 500, reset the connection mid-stream,
// stream forever, send too much, be down when the agent starts. Each request
// goes through the real broker and tether-agent; the upstream records what
// it received and whether the client closed on it.
#include "e2e/upstream_support.hpp"
#include "testkit/test_upstream.hpp"

#include <atomic>
#include <chrono>

using namespace tether::itest;
using namespace tether::testkit;
using tether::e2e::relay;
using tether::e2e::relay_options;

namespace {

using steady = std::chrono::steady_clock;

// A chunk of a chat answer, or of a text completion's (`text` for /completions).
std::string sse_chunk(const std::string& content, bool text = false) {
    if (text) return "data: {\"choices\":[{\"index\":0,\"text\":" + json_quote(content) + "}]}\n\n";
    return "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":" + json_quote(content) + "}}]}\n\n";
}
const std::string sse_last =
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n"
    "data: [DONE]\n\n";

// An OpenAI-compatible upstream whose behaviour the prompt picks.
void openai_upstream(const upstream_request& req, upstream_conn& c) {
    if (req.method == "GET" && req.target == "/v1/models") {
        c.send(http_answer(200, "application/json", R"({"object":"list","data":[{"id":"m1","object":"model"}]})"));
        return;
    }
    const std::string& b = req.body;
    const bool text = req.target == "/v1/completions";
    auto says = [&](const char* word) { return b.find(word) != std::string::npos; };
    if (says("answer-500")) {
        c.send(http_answer(500, "application/json", R"({"error":{"message":"CUDA out of memory","type":"server_error"}})"));
    } else if (says("answer-400")) {
        c.send(http_answer(400, "application/json", R"({"object":"error","message":"temperature must be at most 2"})"));
    } else if (says("reset-mid-stream")) {
        c.chunked_head(200, "text/event-stream");
        c.chunk(sse_chunk("partial ", text));
        c.chunk(sse_chunk("answer", text));
        c.pause(std::chrono::milliseconds(300));
        c.reset();
    } else if (says("endless")) {
        c.chunked_head(200, "text/event-stream");
        while (c.chunk(sse_chunk("more ", text)) && c.pause(std::chrono::milliseconds(50))) {
        }
    } else if (says("oversized")) {
        // 3 MiB in 64 KiB pieces, so the upstream is still writing when the
        // agent gives up (one send could sit whole in the socket buffers).
        c.chunked_head(200, "application/json");
        for (int i = 0; i < 48 && c.chunk(std::string(64U << 10, 'x')) && c.pause(std::chrono::milliseconds(20)); ++i) {
        }
    } else {
        if (says("slow-first-byte")) c.pause(std::chrono::milliseconds(2500));
        c.chunked_head(200, "text/event-stream");
        c.chunk(sse_chunk("Hello", text));
        c.chunk(sse_chunk(", world", text));
        c.chunk(sse_last);
        c.end();
    }
}

std::string openai_url(const test_upstream& up, const std::string& settings = "") {
    return "openai+http://127.0.0.1:" + std::to_string(up.port()) + "/v1" + settings;
}

} // namespace

TEST_CASE("a slow first byte is waited for, and the stream's text, usage and finish_reason come through",
          "[e2e][upstream]") {
    test_upstream up(openai_upstream);
    relay r(openai_url(up));
    CHECK(r.agent.logged("lists 1 model(s) [m1]; asking for 'm1'"));
    const auto start = steady::now();
    auto res = r.chat("slow-first-byte please");
    INFO(res.describe() << "\nagent log:\n" << r.agent.log());
    REQUIRE(res.status == 200);
    CHECK(steady::now() - start >= std::chrono::milliseconds(2500));
    CHECK(res.json().str("/choices/0/message/content") == "Hello, world");
    CHECK(res.json().str("/choices/0/finish_reason") == "stop");
    CHECK(res.json().integer("/usage/completion_tokens") == 2);
    auto reqs = up.requests();
    REQUIRE(reqs.size() >= 2);
    CHECK(reqs.back().target == "/v1/chat/completions");
    CHECK(reqs.back().body.find("\"model\":\"m1\"") != std::string::npos);
}

TEST_CASE("an upstream's 500 fails the request with its status and message, a 400 is the client's",
          "[e2e][upstream]") {
    test_upstream up(openai_upstream);
    relay r(openai_url(up));
    auto res = r.chat("answer-500");
    INFO(res.describe());
    CHECK(res.status == 502);
    CHECK(res.json().str("/error/code") == "upstream_error");
    CHECK(res.body.find("500") != std::string::npos);
    CHECK(res.body.find("CUDA out of memory") != std::string::npos);
    auto bad = r.chat("answer-400");
    INFO(bad.describe());
    CHECK(bad.status == 400);
    CHECK(bad.body.find("temperature must be at most 2") != std::string::npos);
    // The agent keeps serving.
    auto ok = r.chat("fine now");
    CHECK(ok.status == 200);
}

TEST_CASE("a connection reset mid-stream fails the request after the deltas already sent", "[e2e][upstream]") {
    test_upstream up(openai_upstream);
    relay r(openai_url(up));
    auto alice = r.t.signed_in("alice");
    const std::string id = r.t.submit(alice, "reset-mid-stream", "relay");
    sse_reader events(alice, "/api/requests/" + id + "/events");
    auto failed = events.wait_for("failed", 20s);
    INFO(events.seen_names() << "\nagent log:\n" << r.agent.log());
    REQUIRE(failed);
    CHECK(failed->json().str("/error/code") == "upstream_error");
    CHECK(failed->json().str("/error/message").find("reset") != std::string::npos);
    std::string streamed;
    for (const auto& e : events.seen())
        if (e.event == "delta") streamed += e.json().str("/text");
    CHECK(streamed == "partial answer");
    CHECK(r.chat("after the reset").status == 200);
}

TEST_CASE("an SSE stream that never ends is cut before the deadline and the upstream sees the close",
          "[e2e][upstream]") {
    test_upstream up(openai_upstream);
    relay_options o;
    o.timeout_s = 3;
    relay r(openai_url(up), o);
    auto alice = r.t.signed_in("alice");
    const auto start = steady::now();
    const std::string id = r.t.submit(alice, "endless", "relay");
    REQUIRE(tether::testkit::eventually(
        [&] {
            const auto s = r.t.request_status(alice, id).str("/status");
            return s == "failed" || s == "timeout";
        },
        15s));
    const auto took = steady::now() - start;
    auto st = r.t.request_status(alice, id);
    INFO(st.text() << "\nagent log:\n" << r.agent.log());
    CHECK(took < 8s);
    CHECK(st.str("/status") == "failed"); // the agent's own timeout, a moment before the broker's
    CHECK(st.str("/error/code") == "upstream_timeout");
    CHECK(tether::testkit::eventually([&] { return up.client_closes() >= 1; }, 5s));
    // Through /v1 the same request is a 504.
    auto res = r.chat("endless again");
    INFO(res.describe());
    CHECK(res.status == 504);
}

TEST_CASE("an answer larger than max_body is refused, not buffered", "[e2e][upstream]") {
    test_upstream up(openai_upstream);
    relay r(openai_url(up, "#max_body=1MiB"));
    auto res = r.chat("oversized");
    INFO(res.describe());
    CHECK(res.status == 502);
    CHECK(res.body.find("larger than the limit") != std::string::npos);
    CHECK(tether::testkit::eventually([&] { return up.client_closes() >= 1; }, 5s));
}

TEST_CASE("an upstream down at start fails requests at once, is retried, and serves when it comes up",
          "[e2e][upstream]") {
    const auto port = tether::testkit::free_port();
    relay r("openai+http://127.0.0.1:" + std::to_string(port) + "/v1#model=m1");
    CHECK(r.agent.logged("the upstream is not reachable"));
    const auto start = steady::now();
    auto res = r.chat("anyone there?");
    INFO(res.describe() << "\nagent log:\n" << r.agent.log());
    CHECK(res.status == 502);
    CHECK(res.json().str("/error/code") == "upstream_unavailable");
    CHECK(steady::now() - start < 2s);
    CHECK(r.agent.running());

    test_upstream up(openai_upstream, port);
    REQUIRE(r.agent.wait_logged("the upstream answers again", 20s));
    auto later = r.chat("now?");
    INFO(later.describe() << "\nagent log:\n" << r.agent.log());
    CHECK(later.status == 200);
    CHECK(later.json().str("/choices/0/message/content") == "Hello, world");
}
