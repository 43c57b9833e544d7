// The OpenAI-compatible API through the real broker: one model per space,
// streamed chat completions as chat.completion.chunk frames ending with
// [DONE], unknown models. (Plain completions, rate limits and metrics are in
// openai_api_test.cpp.)
#include "integration/itest_broker.hpp"

using namespace tether::itest;

namespace {

broker_setup two_spaces() {
    broker_setup s;
    s.with_bob = false;
    s.more_spaces = {{"other", space_options{}}};
    return s;
}

http_client with_key(itest_broker& t) {
    // API keys are made by the admin CLI while the broker is stopped.
    auto st = t.broker.stop();
    REQUIRE(st.exited);
    const std::string key = t.broker.add_api_key("alice");
    t.broker.restart();
    http_client c = t.broker.client();
    c.set_bearer(key);
    return c;
}

} // namespace

TEST_CASE("GET /v1/models lists one model per space", "[openai]") {
    itest_broker t(two_spaces());
    auto c = with_key(t);
    auto r = c.get("/v1/models");
    INFO(r.describe());
    REQUIRE(r.status == 200);
    auto doc = r.json();
    CHECK(doc.str("/object") == "list");
    REQUIRE(doc.array_size("/data") == std::optional<std::size_t>(2));
    CHECK(r.body.find("\"echo\"") != std::string::npos);
    CHECK(r.body.find("\"other\"") != std::string::npos);
}

TEST_CASE("a streamed chat completion sends chunks and ends with [DONE]", "[openai]") {
    itest_broker t(two_spaces());
    auto c = with_key(t);
    auto agent = t.echo_agent();
    sse_reader sse(c, "/v1/chat/completions", {},
                   R"({"model":"echo","stream":true,"messages":[{"role":"user","content":"stream it"}]})");
    auto req = agent->expect_request(10s);
    REQUIRE(req);
    REQUIRE(agent->send_processing(req->id()));
    REQUIRE(agent->send_delta(req->id(), 1, "Hel"));
    REQUIRE(agent->send_delta(req->id(), 2, "lo"));
    REQUIRE(agent->send_completed(req->id(), "Hello"));

    std::string text;
    bool done = false;
    while (!done) {
        auto e = sse.next(10s);
        INFO("raw:\n" << sse.raw_body());
        REQUIRE(e);
        if (e->data == "[DONE]") {
            done = true;
            break;
        }
        auto chunk = e->json();
        REQUIRE(chunk.ok());
        CHECK(chunk.str("/object") == "chat.completion.chunk");
        text += chunk.str("/choices/0/delta/content");
    }
    CHECK(text == "Hello");
    CHECK(sse.content_type().rfind("text/event-stream", 0) == 0);
}

TEST_CASE("a chat completion for an unknown model is refused with 404", "[openai]") {
    itest_broker t(two_spaces());
    auto c = with_key(t);
    auto r = c.post_json("/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
    INFO(r.describe());
    CHECK(r.status == 404);
    CHECK(r.json().has("/error/message"));
    auto anon = t.broker.client();
    CHECK(anon.get("/v1/models").status == 401);
}
